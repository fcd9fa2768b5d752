"""Signing in as each role in headless Chromium against a real uvicorn with the live feed (issue
27): the sign-in page in vi and en on a phone and a desktop, a viewer sees no buttons, a
technician of center A acts on A and gets 404 for B (page, API, SSE, report), the desk and the
admin see everything, the audit page names who acted, sign-out ends the session."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web import chromium, csp_violations, emulate, sign_in

from conftest import wait_until
from controller import accounts
from controller.auth_config import AuthSettings
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import AlertFeed, StorePerThread
from controller.state import AlertKey, DeviceInfo, OpenAlert, order_of
from controller.store import Store
from hcc_common import wire
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

PASSWORD = "mật-khẩu-thật-dài-2026"
ROLES = {"viewer-a": ("viewer", ["ba-dinh"]), "tech-a": ("technician", ["ba-dinh"]),
         "desk-1": ("desk", []), "admin-1": ("admin", [])}


class Site:
    def __init__(self, url: str, store: Store) -> None:
        self.url, self.store = url, store

    def alert_of(self, center: str) -> int:
        return next(a.id for a in self.store.alerts() if a.center == center)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import uvicorn

    from controller.api import create_app

    tmp = tmp_path_factory.mktemp("auth-web")
    db = tmp / "hcc.db"
    store = Store(db)
    now = time.time()
    store.write([
        DeviceInfo(center="ba-dinh", agent="pi-1", device="printer-1", name="Máy in quầy 1",
                   type="printer", status="critical", last_seen=now, agent_ts=now,
                   consecutive_failures=0, metrics={},
                   faults=(wire.FaultReport("printer.jammed", "critical", {}),),
                   order=order_of(1, 1)),
        DeviceInfo(center="tay-ho", agent="pi-2", device="ap-1", name="Wi-Fi Tây Hồ",
                   type="wifi_ap", status="warning", last_seen=now, agent_ts=now,
                   consecutive_failures=0, metrics={}, faults=(), order=order_of(1, 1)),
        OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="printer-1",
                               code="printer.jammed"), severity="critical",
                  device_name="Máy in quầy 1", params={}, at=now - 60),
        OpenAlert(key=AlertKey(center="tay-ho", agent="pi-2", device="ap-1",
                               code="ap.no_clients"), severity="warning",
                  device_name="Wi-Fi Tây Hồ", params={}, at=now - 30)])
    for name, (role, centers) in ROLES.items():
        accounts.add_account(store.db, name=name, role=role, centers=centers, groups=[],
                             password=PASSWORD, now=now)
    port = free_port()
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                           centers=(CenterInfo(id="ba-dinh", name="Ba Đình", hours=OpeningHours()),
                                    CenterInfo(id="tay-ho", name="Tây Hồ", hours=OpeningHours())),
                           http=HttpSettings(listen_host="127.0.0.1", listen_port=port), auth=AuthSettings())
    feed = AlertFeed(StorePerThread(db))
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, StorePerThread(db), feed),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))

    async def serve() -> None:  # the feed in the server's loop, as hcc-controller run does
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        await server.serve()
        stop.set()
        await task

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    wait_tcp(port, 15)
    yield Site(f"http://127.0.0.1:{port}", store)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    with chromium(tmp_path) as driver:
        yield driver


def js(driver: object, script: str) -> object:
    return driver.execute_script(script)  # type: ignore[attr-defined]


def dashboard(driver: object, site: Site, lang: str) -> str:
    js(driver, f"localStorage.setItem('hcc-lang', '{lang}')")
    driver.get(site.url + "/")  # type: ignore[attr-defined]
    wait_until(lambda: js(driver, "return document.querySelectorAll("
                                  "'#alerts tbody tr[data-alert-id]').length") >= 1, 20,
               "the dashboard's alerts")
    return str(js(driver, "return document.body.innerText"))


def status_in_page(driver: object, path: str) -> int:
    """What this browser's session gets for `path` (its cookie goes along)."""
    return int(driver.execute_async_script(  # type: ignore[attr-defined]
        "fetch(arguments[0]).then(r => arguments[1](r.status))", path))


@pytest.mark.parametrize("lang,width,height", [("vi", 390, 844), ("en", 1366, 900)])
def test_sign_in_page_in_both_languages_and_sizes(site: Site, browser: object, lang: str,
                                                  width: int, height: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(site.url + "/")  # type: ignore[attr-defined]
    assert js(browser, "return location.pathname") == "/signin"  # not signed in: sent there
    js(browser, f"localStorage.setItem('hcc-lang', '{lang}')")
    browser.get(site.url + "/signin")  # type: ignore[attr-defined]
    words = {"vi": ("Đăng nhập", "Mật khẩu", "Sai tên hoặc mật khẩu"),
             "en": ("Sign in", "Password", "Wrong name or password")}[lang]
    text = str(js(browser, "return document.body.innerText"))
    assert words[0] in text and words[1] in text
    m = emulate(browser, width, height, f"signin-{lang}-{width}.png", "#submit")
    assert m["page"] <= m["viewport"] and m["buttons"] == 1 and m["in_view"], m
    browser.find_element(By.ID, "name").send_keys("tech-a")  # type: ignore[attr-defined]
    browser.find_element(By.ID, "password").send_keys("sai-mật-khẩu-rồi", Keys.ENTER)  # type: ignore[attr-defined]
    wait_until(lambda: words[2] in str(js(browser, "return document.getElementById("
                                                   "'message').textContent")), 15,
               "the page saying the password is wrong")
    assert js(browser, "return location.pathname") == "/signin"
    assert js(browser, "return document.cookie") == ""  # the session cookie is HttpOnly
    assert csp_violations(browser) == []


@pytest.mark.parametrize("lang,width,height", [("vi", 390, 844), ("en", 1366, 900)])
def test_viewer_sees_no_buttons_and_only_their_center(site: Site, browser: object, lang: str,
                                                      width: int, height: int) -> None:
    sign_in(browser, site.url, "viewer-a", PASSWORD)
    text = dashboard(browser, site, lang)
    assert "Ba Đình" in text and "Tây Hồ" not in text and "Wi-Fi Tây Hồ" not in text
    assert js(browser, "return document.querySelectorAll('#alerts button').length") == 0
    assert "viewer-a · viewer" in text and {"vi": "Đăng xuất", "en": "Sign out"}[lang] in text
    m = emulate(browser, width, height, f"dashboard-viewer-{lang}-{width}.png", "#alerts button")
    assert m["page"] <= m["viewport"] and m["buttons"] == 0, m
    assert csp_violations(browser) == []


def test_technician_of_a_acts_on_a_and_b_does_not_exist(site: Site, browser: object) -> None:
    a, b = site.alert_of("ba-dinh"), site.alert_of("tay-ho")
    sign_in(browser, site.url, "tech-a", PASSWORD)
    text = dashboard(browser, site, "en")
    assert "Tây Hồ" not in text
    m = emulate(browser, 1366, 900, "dashboard-tech-1366.png", "#alerts button")
    assert m["buttons"] == 2 and m["in_view"], m  # ack and resolve on A's one alert
    js(browser, "const row = document.querySelector('#alerts tbody tr[data-alert-id]');"
                "row.querySelector('input.note').value = 'đang đến';"
                "row.querySelector('button.ack').click();")
    wait_until(lambda: site.store.alert(a).state == "acknowledged", 15, "the page's ack")
    assert site.store.alert(a).acked_by == "tech-a"
    # B, to this session: the page, the API, the report are all 404, as for nothing there
    for path in ("/devices/tay-ho/ap-1", "/api/v1/devices/tay-ho/ap-1", f"/api/v1/alerts/{b}",
                 "/reports?center=tay-ho", "/api/v1/report?format=csv&center=tay-ho"):
        assert status_in_page(browser, path) == 404, path
    assert status_in_page(browser, "/devices/ba-dinh/printer-1") == 200
    # a write from the page without the CSRF token is refused, with it allowed (403 for a
    # silence: A is theirs, silencing is not)
    no_csrf = browser.execute_async_script(  # type: ignore[attr-defined]
        f"fetch('/api/v1/alerts/{a}/resolve', {{method: 'POST', headers: {{'Content-Type': "
        "'application/json'}, body: '{}'}).then(r => arguments[0](r.status))")
    assert no_csrf == 403 and site.store.alert(a).state == "acknowledged"
    silence = browser.execute_async_script(  # type: ignore[attr-defined]
        "fetch('/api/v1/session').then(r => r.json()).then(me => fetch('/api/v1/silences', "
        "{method: 'POST', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': "
        "me.csrf}, body: JSON.stringify({center: 'ba-dinh', reason: 'x'})}))"
        ".then(r => arguments[0](r.status))")
    assert silence == 403
    # sign out: the session is over on the server too
    js(browser, "document.getElementById('signout').click()")
    wait_until(lambda: js(browser, "return location.pathname") == "/signin", 15, "signed out")
    assert status_in_page(browser, "/api/v1/alerts") == 401


def test_technicians_stream_carries_only_their_centers_changes(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        r = client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD})
        assert r.status_code == 200
        events: list[dict[str, object]] = []
        ready = threading.Event()

        def follow() -> None:
            with client.stream("GET", "/api/v1/stream") as stream:
                assert stream.status_code == 200
                for line in stream.iter_lines():
                    if line.startswith(":"):
                        ready.set()
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if events[-1]["alert"]["device"] == "printer-2":  # type: ignore[index]
                            return

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        assert ready.wait(15)
        time.sleep(0.5)  # the stream is registered with the feed before the changes
        now = time.time()
        # B's change first, then A's: the stream, in order, must skip B's
        site.store.write([OpenAlert(key=AlertKey(center="tay-ho", agent="pi-2", device="ap-2",
                                                 code="ap.no_clients"),
                                    severity="warning", device_name="Wi-Fi 2", params={}, at=now)])
        site.store.write([OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="printer-2",
                                                 code="printer.jammed"),
                                    severity="critical", device_name="Máy in quầy 2", params={}, at=now)])
        reader.join(30)
        assert not reader.is_alive()
    centers = [e["alert"]["center"] for e in events]  # type: ignore[index]
    assert centers and set(centers) == {"ba-dinh"}, centers


@pytest.mark.parametrize("name,lang,width,height", [("desk-1", "en", 1366, 900),
                                                   ("admin-1", "vi", 390, 844)])
def test_desk_and_admin_see_every_center(site: Site, browser: object, name: str, lang: str,
                                         width: int, height: int) -> None:
    sign_in(browser, site.url, name, PASSWORD)
    text = dashboard(browser, site, lang)
    assert "Ba Đình" in text and "Tây Hồ" in text
    m = emulate(browser, width, height, f"dashboard-{name}-{width}.png", "#alerts button")
    assert m["page"] <= m["viewport"] and m["buttons"] >= 2 and m["in_view"], m
    assert status_in_page(browser, "/devices/tay-ho/ap-1") == 200
    assert status_in_page(browser, "/admin/audit") == (200 if name == "admin-1" else 403)
    # the link to the audit page, for admins only
    assert js(browser, "return document.getElementById('audit').hidden") is (name != "admin-1")


def test_admin_audit_page_names_who_acted(site: Site, browser: object) -> None:
    with httpx.Client(base_url=site.url, timeout=30) as client:
        me = client.post("/api/v1/session", json={"name": "tech-a", "password": PASSWORD}).json()
        a = client.get("/api/v1/alerts").json()[0]["id"]
        assert client.post(f"/api/v1/alerts/{a}/resolve", json={"note": "xong"},
                           headers={"X-CSRF-Token": me["csrf"]}).status_code == 200
    sign_in(browser, site.url, "admin-1", PASSWORD)
    js(browser, "localStorage.setItem('hcc-lang', 'en')")
    browser.get(site.url + "/admin/audit")  # type: ignore[attr-defined]
    wait_until(lambda: js(browser, "return document.querySelectorAll("
                                   "'#audit tr[data-action=\"resolve\"]').length") >= 1, 15,
               "the audit rows")
    row = str(js(browser, "return document.querySelector('#audit tr[data-action=\"resolve\"]')"
                          ".innerText"))
    assert "tech-a" in row and "session" in row and "ba-dinh" in row
    assert csp_violations(browser) == []


def test_an_open_stream_ends_when_its_account_is_disabled(site: Site, tmp_path: Path) -> None:
    accounts.add_account(site.store.db, name="tech-gone", role="technician",
                         centers=["ba-dinh"], groups=[], password=PASSWORD, now=time.time())
    ended = threading.Event()
    with httpx.Client(base_url=site.url, timeout=60) as client:
        assert client.post("/api/v1/session", json={"name": "tech-gone", "password": PASSWORD}
                           ).status_code == 200
        started = threading.Event()

        def follow() -> None:
            with client.stream("GET", "/api/v1/stream") as stream:
                for _line in stream.iter_lines():
                    started.set()
            ended.set()

        threading.Thread(target=follow, daemon=True).start()
        assert started.wait(15)
        accounts.disable_account(site.store.db, "tech-gone", time.time())
        # at its next keepalive (15 s) the stream sees the session gone and closes
        assert ended.wait(45), "the stream of a disabled account still open"
