"""A citizen's report end to end, as issue 29 asks: `hcc-controller qr` prints the labels' PDF
(headless Chromium), a QR decoder reads the label's URL from the rendered page, Chromium at
390×844 opens it, sends a report with a photo; the desk shows the alert; a second report merges
into it; it is resolved; the reporter's number gets the reply through the SMS gateway fake."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from citizen_site import Site, start
from test_citizen import jpeg_with_exif
from web import chromium, csp_violations, emulate

from conftest import wait_until
from controller import citizen


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from start(tmp_path)


def decode_labels(pdf: Path) -> dict[str, str]:
    """Every QR code on the PDF's pages, read from the pixels as a phone's camera would:
    {URL: the label's name under it}."""
    import pymupdf
    import zxingcpp
    from PIL import Image

    found: dict[str, str] = {}
    with pymupdf.open(pdf) as doc:
        for page in doc:
            pix = page.get_pixmap(dpi=200)
            img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
            words = page.get_text()
            for code in zxingcpp.read_barcodes(img):
                assert code.format == zxingcpp.BarcodeFormat.QRCode
                found[code.text] = words
    return found


def test_scan_a_label_report_merge_resolve_and_reply(site: Site, tmp_path: Path) -> None:
    if shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed")
    from typer.testing import CliRunner

    from controller.cli import app

    pdf = tmp_path / "labels.pdf"
    result = CliRunner().invoke(app, ["qr", "--center", "q1", "--out", str(pdf),
                                      "--config", str(site.path)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    labels = decode_labels(pdf)
    assert len(labels) == len(site.config.centers[0].amenities)  # one code per amenity
    water = next(url for url, words in labels.items() if "Nước uống – sảnh chờ" in words)
    assert "Thiết bị gặp sự cố? Quét mã để báo" in labels[water]
    assert water == f"{site.url}/r/{site.token('q1', 'water-lobby')}"

    photo = tmp_path / "photo.jpg"
    photo.write_bytes(jpeg_with_exif((1200, 900)))
    with chromium(tmp_path) as driver:
        from selenium.webdriver.common.by import By

        def report(problem: str, phone: str | None, with_photo: bool) -> str:
            driver.get(water)  # type: ignore[attr-defined]
            layout = emulate(driver, 390, 844, f"citizen-{problem}.png")
            assert layout["page"] == layout["viewport"]  # nothing sideways on a phone
            driver.find_element(By.CSS_SELECTOR,  # type: ignore[attr-defined]
                                f"input[name=problem][value={problem}]").click()
            if phone is not None:
                driver.find_element(By.ID, "phone").send_keys(phone)  # type: ignore[attr-defined]
            if with_photo:
                driver.find_element(By.ID, "photo").send_keys(str(photo))  # type: ignore[attr-defined]
            driver.find_element(By.CSS_SELECTOR,  # type: ignore[attr-defined]
                                "button[type=submit]").click()
            text = str(wait_until(lambda: "Cảm ơn" in driver.page_source  # type: ignore[attr-defined]
                                  and driver.page_source, 20, "the thanks page"))
            assert csp_violations(driver) == []
            return text

        report("out_of_water", "0912 345 678", with_photo=True)
        [alert] = [a for a in httpx.get(f"{site.url}/api/v1/alerts", timeout=30).json()
                   if a["device"] == "water-lobby"]
        [first] = httpx.get(f"{site.url}/api/v1/alerts/{alert['id']}/citizen-reports",
                            headers=site.desk(), timeout=30).json()
        assert first["photo"] and first["phone"] == "0912345678"

        driver.get(site.url + "/")  # type: ignore[attr-defined]
        wait_until(lambda: "người dân báo: hết nước (1 lượt báo)" in str(
            driver.execute_script("return document.body.innerText")),  # type: ignore[attr-defined]
            20, "the alert on the desk")

        report("dirty", None, with_photo=False)  # a second citizen: merged, counted
        driver.get(site.url + "/")  # type: ignore[attr-defined]
        wait_until(lambda: "(2 lượt báo)" in str(
            driver.execute_script("return document.body.innerText")),  # type: ignore[attr-defined]
            20, "the merged count on the desk")
        assert csp_violations(driver) == []

    alerts = [a for a in httpx.get(f"{site.url}/api/v1/alerts", timeout=30).json()
              if a["labels"].get("source") == "citizen"]
    assert [a["id"] for a in alerts] == [alert["id"]]
    httpx.post(f"{site.url}/api/v1/alerts/{alert['id']}/resolve", headers=site.desk(),
               json={"note": "đã thay bình nước"}, timeout=30).raise_for_status()

    async def replies() -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            return await citizen.send_replies(site.stores, site.config, http)

    assert asyncio.run(replies()) == 1
    assert site.sms.problems == []
    [sms] = site.sms.sent
    assert sms["Phone"] == "0912345678" and "Nuoc uong" in sms["Content"]
