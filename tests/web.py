"""Headless Chromium for the page tests: a driver, a phone or desktop screen, screenshots kept
as artifacts, and the layout measured (page width against the viewport, buttons in view)."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ARTIFACTS = Path(os.environ.get("HCC_TEST_ARTIFACTS", "/tmp/hcc-test-artifacts"))


CSP_RECORDER = ("window.__csp = []; document.addEventListener('securitypolicyviolation', "
                "e => window.__csp.push(e.effectiveDirective + ' ' + e.blockedURI));")


def csp_violations(driver: object) -> list[str]:
    """What the page's Content-Security-Policy blocked since it loaded (a style attribute, an
    inline script): a page that works under its policy blocks nothing."""
    found = driver.execute_script("return window.__csp || []")  # type: ignore[attr-defined]
    return [str(x) for x in found]


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[object]:
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        pytest.skip("Debian chromium and chromium-driver are not installed")
    from selenium import webdriver

    os.environ["SE_OFFLINE"] = "true"  # never let Selenium try to download a browser
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or ""
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic",
                f"--user-data-dir={tmp_path / 'chromium'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts,
                              service=webdriver.ChromeService(shutil.which("chromedriver")))
    driver.set_page_load_timeout(30)
    # every page records what its Content-Security-Policy blocked (before any page script)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_RECORDER})
    try:
        yield driver
    finally:
        driver.quit()


def emulate(driver: object, width: int, height: int, shot: str,
            buttons: str = "button") -> dict[str, object]:
    """Emulate a width x height screen (a phone below 640 px: headless Chromium windows are at
    least 500 px wide, so the device metrics are set as DevTools does), keep a screenshot, and
    measure: the page's width against the viewport's, and whether the buttons matching
    `buttons` are all in view."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {  # type: ignore[attr-defined]
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 640})
    time.sleep(0.5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / shot))  # type: ignore[attr-defined]
    return driver.execute_script(  # type: ignore[attr-defined]
        "const vw = window.innerWidth;"
        "const buttons = [...document.querySelectorAll(arguments[0])];"
        "return {viewport: vw, page: document.documentElement.scrollWidth, buttons: buttons.length,"
        " width: window.innerWidth,"
        " in_view: buttons.every(b => { const r = b.getBoundingClientRect();"
        "   return r.width > 0 && r.left >= 0 && r.right <= vw; })};", buttons)


def full_page_shot(driver: object, width: int, shot: str) -> None:
    """A screenshot of the whole page at `width` (for docs: every section, not only the top)."""
    height = int(driver.execute_script(  # type: ignore[attr-defined]
        "return document.documentElement.scrollHeight"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {  # type: ignore[attr-defined]
        "width": width, "height": min(height, 6000), "deviceScaleFactor": 1,
        "mobile": width < 640})
    time.sleep(0.5)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / shot))  # type: ignore[attr-defined]


def sign_in(driver: object, url: str, name: str, password: str) -> None:
    """Sign in on the sign-in page as a person does (type, press Enter), back on the dashboard."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from conftest import wait_until

    driver.get(f"{url}/signin")  # type: ignore[attr-defined]
    driver.find_element(By.ID, "name").send_keys(name)  # type: ignore[attr-defined]
    driver.find_element(By.ID, "password").send_keys(password, Keys.ENTER)  # type: ignore[attr-defined]
    wait_until(lambda: driver.execute_script(  # type: ignore[attr-defined]
        "return location.pathname") != "/signin", 20, f"{name} signed in")
