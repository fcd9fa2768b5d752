"""The city's pages in headless Chromium, phone and desktop, Vietnamese and English: a device page
(readings drawn, history charts, reachability, alerts with who acted) and the report page (with
its PDF and CSV), served by the real API on a week of history."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from web import chromium, csp_violations, emulate, full_page_shot, sign_in

from conftest import wait_until
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import AlertKey, DeviceInfo, OpenAlert, Reading, ResolveAlert
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

pytestmark = pytest.mark.integration

STEP = 600.0
TOKEN = "desk-token-0123456789abcdef"
DESK_PASSWORD = "mật-khẩu-bàn-trực-2026"
DAYS = 8


def fill(store: Store, now: float) -> None:
    """A week of a printer, an access point and a PDU, ending now; one outage of the printer
    (20 hours ago, for two hours) and one alert about it, acknowledged and resolved with notes."""
    start = now - DAYS * 86400
    outage = (now - 20 * 3600, now - 18 * 3600)
    readings = []
    pages = 52_000
    ts = start
    while ts < now:
        age_days = (ts - start) / 86400
        down = outage[0] <= ts < outage[1]
        pages += 0 if down else 7
        readings.append(Reading(center="q1", agent="pi-1", device="prn2", type="printer", ts=ts,
                                status="unreachable" if down else "ok",
                                metrics={} if down else {"page_count": pages,
                                                 "supply.1.pct": 64 - 2 * age_days,
                                                 "supply.2.pct": 31 - 1.5 * age_days}))
        hour = time.gmtime(ts + 7 * 3600).tm_hour
        readings.append(Reading(center="q1", agent="pi-1", device="ap1", type="wifi_ap", ts=ts, status="ok",
                                metrics={"wifi_clients": 14 if 8 <= hour < 17 else 1}))
        readings.append(Reading(center="q1", agent="pi-1", device="pdu1", type="charger", ts=ts, status="ok",
                                metrics={"outlet.1.power_w": 35.0, "outlet.2.power_w": 0.0}))
        ts += STEP
    store.write(readings)
    store.write([
        DeviceInfo(center="q1", agent="pi-1", device="prn2", name="Máy in quầy 2", type="printer",
                   status="warning", last_seen=now, agent_ts=now, consecutive_failures=0,
                   metrics={"model": "HP LaserJet M404dn", "page_count": pages,
                    "supply.1.name": "Black Toner", "supply.1.pct": 48.0,
                    "supply.2.name": "Cyan Toner", "supply.2.pct": 7.0,
                    "tray.1.name": "Tray 2", "tray.1.pct": 60.0, "sys_descr": "HP"}, faults=()),
        DeviceInfo(
            center="q1", agent="pi-1", device="ap1", name="Wi-Fi sảnh", type="wifi_ap",
            status="ok", last_seen=now, agent_ts=now, consecutive_failures=0,
            metrics={"wifi_clients": 14, "radio.wifi0.oper": "up", "radio.wifi1.oper": "down"},
            faults=()),
        DeviceInfo(center="q1", agent="pi-1", device="pdu1", name="Trạm sạc điện thoại",
                   type="charger", status="ok", last_seen=now, agent_ts=now, consecutive_failures=0,
                   metrics={"outlet.1.name": "Sạc 1", "outlet.1.state": "on", "outlet.1.power_w": 35.0,
                    "outlet.2.name": "Sạc 2", "outlet.2.state": "off", "outlet.2.power_w": 0.0},
                   faults=())])
    key = AlertKey(center="q1", agent="pi-1", device="prn2", code="device.unreachable")
    store.write([OpenAlert(key=key, severity="critical", device_name="Máy in quầy 2", params={},
                           at=outage[0])])
    alert = store.alerts(center="q1")[0]
    store.ack(alert.id, "Lan (desk)", "đang tới", outage[0] + 600)
    store.resolve(alert.id, "Lan (desk)", "cắm lại dây mạng", outage[1])
    store.write([ResolveAlert(key, outage[1], "back")])
    # a fault that cleared by itself: the controller's own note in the history
    low = AlertKey(center="q1", agent="pi-1", device="prn2", code="printer.toner_low")
    store.write([OpenAlert(key=low, severity="warning", device_name="Máy in quầy 2", params={},
                           at=now - 3 * 3600)])
    store.write([ResolveAlert(low, now - 2 * 3600, "condition cleared")])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from controller.api import create_app

    tmp = tmp_path_factory.mktemp("pages")
    db = tmp / "c.db"
    store = Store(db)
    fill(store, time.time())
    from controller import accounts

    accounts.add_account(store.db, name="desk-q1", role="desk", centers=[], groups=[],
                         password=DESK_PASSWORD, now=time.time())
    # reads open (the explicit switch): these are the pages' tests; tests/test_auth*.py sign in
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1883), db=db,
                           centers=(CenterInfo(id="q1", name="Phường Quán Thánh", hours=OpeningHours()),),
                           http=HttpSettings(listen_host="127.0.0.1", listen_port=free_port(),
                                             tokens={TOKEN: "ops-desk"}, read_open=True))
    assert cfg.http is not None
    app = create_app(cfg, StorePerThread(db), None)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=cfg.http.listen_port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(cfg.http.listen_port, 15)
    yield f"http://127.0.0.1:{cfg.http.listen_port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


def open_page(driver: object, url: str, lang: str) -> None:
    driver.get(url)  # type: ignore[attr-defined]
    driver.execute_script(f"localStorage.setItem('hcc-lang', '{lang}')")  # type: ignore[attr-defined]
    driver.get(url)  # type: ignore[attr-defined]


def js(driver: object, script: str) -> object:
    return driver.execute_script(script)  # type: ignore[attr-defined]


def inked_canvases(driver: object) -> list[int]:
    """Per chart canvas, how many pixels carry something (a drawn line, not an empty frame)."""
    found = js(driver, """
        return [...document.querySelectorAll('.chart canvas')].map(c => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; });""")
    assert isinstance(found, list)
    return [int(x) for x in found]


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_device_page_draws_readings_history_and_alerts(site: str, browser: object,
                                                       lang: str) -> None:
    open_page(browser, f"{site}/devices/q1/prn2", lang)
    wait_until(lambda: js(browser, "return document.body.dataset.loaded") == "24h", 15,
               "the device page's charts")
    words = {"vi": ("Mực và vật tư", "Lịch sử", "đang tới", "cắm lại dây mạng", "Máy in"),
             "en": ("Toner and supplies", "History", "đang tới", "cắm lại dây mạng", "Printer")}
    text = str(js(browser, "return document.body.innerText"))
    for word in words[lang]:
        assert word in text, word
    assert "Lan (desk)" in text  # who acted
    # the controller's own note, in the reader's language ("condition cleared" said in English)
    cleared = {"vi": "sự cố đã hết", "en": "condition cleared"}
    assert cleared[lang] in text and cleared["en" if lang == "vi" else "vi"] not in text
    # supply bars drawn at their levels (48 % and 7 %: the low one red)
    bars = js(browser, "return [...document.querySelectorAll('#now .bar > span')]"
                       ".map(s => s.style.width)")
    assert bars[:2] == ["48%", "7%"]
    assert js(browser, "return document.querySelectorAll('#now .bar.low').length") == 1
    # charts: supplies and pages over 24 h, every reading; each has a line drawn
    charts = js(browser, "return [...document.querySelectorAll('.chart')].map(c => c.dataset.chart)")
    assert charts == ["supplies", "pages"]
    assert all(n > 500 for n in inked_canvases(browser))
    # the legend names the page counter in the reader's language (it said page_count)
    legend = "return [...document.querySelectorAll('.chart[data-chart=pages] .u-legend .u-label')]" \
             ".map(e => e.textContent)"
    assert js(browser, legend)[1:] == [{"vi": "Bộ đếm trang", "en": "Page counter"}[lang]]
    # the outage shows in the reachability timeline, in red
    assert js(browser, "return document.querySelectorAll('#reach span.down').length") >= 1
    for width, height in ((1366, 900), (390, 844)):
        m = emulate(browser, width, height, f"device-{lang}-{width}.png", "button[data-range]")
        assert m["page"] <= m["viewport"], m
        assert m["in_view"] and m["buttons"] == 3
    # 30 days: the hourly roll-up (pages per hour), and the page stays in the phone's width
    js(browser, "document.querySelector('button[data-range=\"30d\"]').click()")
    wait_until(lambda: js(browser, "return document.body.dataset.loaded") == "30d", 15,
               "the 30-day charts")
    assert js(browser, "return document.querySelectorAll('.chart').length") == 2
    assert js(browser, legend)[1:] == [{"vi": "Trang in mỗi giờ", "en": "Pages per hour"}[lang]]
    assert all(n > 500 for n in inked_canvases(browser))
    m = emulate(browser, 390, 844, f"device-{lang}-390-30d.png", "button[data-range]")
    assert m["page"] <= m["viewport"], m
    full_page_shot(browser, 390 if lang == "vi" else 1366, f"device-{lang}-full.png")
    assert csp_violations(browser) == []  # drawn under the strict policy: nothing blocked


def test_device_pages_of_an_ap_and_a_charger(site: str, browser: object) -> None:
    open_page(browser, f"{site}/devices/q1/ap1", "vi")
    wait_until(lambda: js(browser, "return document.body.dataset.loaded") == "24h", 15,
               "the device page's charts")
    assert js(browser, "return document.querySelector('#now .big').textContent") == "14"
    assert js(browser, "return [...document.querySelectorAll('#now .chip')].map(c => c.className)"
              ) == ["chip ok", "chip critical"]
    assert js(browser, "return [...document.querySelectorAll('.chart')].map(c => c.dataset.chart)"
              ) == ["clients"]
    open_page(browser, f"{site}/devices/q1/pdu1", "en")
    wait_until(lambda: js(browser, "return document.body.dataset.loaded") == "24h", 15,
               "the device page's charts")
    outlets = js(browser, "return [...document.querySelectorAll('.outlet')].map(o => o.className)")
    assert outlets == ["outlet on", "outlet off"]
    assert "35 W" in str(js(browser, "return document.querySelector('.outlets').innerText"))
    assert js(browser, "return [...document.querySelectorAll('.chart')].map(c => c.dataset.chart)"
              ) == ["power"]
    open_page(browser, f"{site}/devices/q1/nope", "en")
    wait_until(lambda: "No such device." in str(js(browser, "return document.body.innerText")),
               10, "the page saying there is no such device")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_page_phone_and_desktop_with_pdf_and_csv(site: str, browser: object,
                                                        lang: str) -> None:
    open_page(browser, f"{site}/reports?lang={lang}", lang)
    heading = {"vi": "Báo cáo thiết bị các trung tâm", "en": "Service-center hardware report"}
    text = str(js(browser, "return document.body.innerText"))
    assert heading[lang] in text and "Phường Quán Thánh" in text
    for section in ("order", "availability", "incidents", "pages", "toner", "wifi"):
        assert js(browser, f"return !!document.getElementById('{section}')"), section
    # the cyan toner (31 % falling 1.5 %/day, now near 19 %) must be ordered within 7 days
    order = str(js(browser, "return document.querySelector('.order').innerText"))
    assert "Máy in quầy 2" in order
    # device types by their names, not devices.yaml's words (printer, wifi_ap, charger)
    types = {"vi": ("Máy in", "Điểm phát Wi-Fi", "Trạm sạc điện thoại"),
             "en": ("Printer", "Wi-Fi access point", "Phone charger")}
    for name in types[lang]:
        assert name in text, name
    for word in ("wifi_ap", "\tcharger\t", "\tprinter\t"):
        assert word not in text, word
    # the month picker speaks the page's language, not the browser's ("December 2026")
    this_month = time.localtime()
    months = js(browser, "return [...document.querySelectorAll('select[name=month] option')]"
                         ".map(o => [o.value, o.textContent, o.selected])")
    chosen = [m for m in months if m[2]]  # type: ignore[index, union-attr]
    said = {"vi": f"Tháng {this_month.tm_mon}/{this_month.tm_year}",
            "en": time.strftime("%B %Y", this_month)}[lang]
    assert chosen == [[time.strftime("%Y-%m"), said, True]]
    for width, height in ((1366, 900), (390, 844)):
        m = emulate(browser, width, height, f"report-{lang}-{width}.png", ".toolbar button")
        assert m["page"] <= m["viewport"], m
        assert m["in_view"] and m["buttons"] == 1
    full_page_shot(browser, 1366, f"report-{lang}-full.png")
    assert csp_violations(browser) == []  # its inline stylesheet is allowed by its hash
    params = {"month": time.strftime("%Y-%m"), "format": "pdf", "lang": lang}
    # a PDF is a Chromium run: a token, even with reads open
    anonymous = httpx.get(f"{site}/api/v1/report", params=params, timeout=120)
    assert anonymous.status_code == 401
    pdf = httpx.get(f"{site}/api/v1/report", params=params, timeout=120,
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    # the page's PDF link goes with the session: signed out it says why, signed in it saves
    browser.delete_all_cookies()  # type: ignore[attr-defined]
    open_page(browser, f"{site}/reports?lang={lang}", lang)
    js(browser, "document.getElementById('pdf').click()")
    needs = {"vi": "Cần đăng nhập", "en": "needs signing in"}[lang]
    wait_until(lambda: needs in str(js(browser, "return document.getElementById("
                                                "'report-message').textContent")), 30,
               "the page saying a PDF needs signing in")
    sign_in(browser, site, "desk-q1", DESK_PASSWORD)
    open_page(browser, f"{site}/reports?lang={lang}", lang)
    js(browser, "window.__saved = null; const click = HTMLAnchorElement.prototype.click;"
                "HTMLAnchorElement.prototype.click = function () {"
                "  if (this.download) { window.__saved = [this.download, this.href]; return; }"
                "  return click.call(this); };"
                "document.getElementById('pdf').click()")
    wait_until(lambda: js(browser, "return window.__saved") is not None, 120,
               "the PDF fetched with the session")
    saved = js(browser, "return window.__saved")
    assert str(saved[0]).endswith(".pdf") and str(saved[1]).startswith("blob:")  # type: ignore[index]
    csv_text = httpx.get(f"{site}/api/v1/report", params={"month": time.strftime("%Y-%m"),
                                                           "format": "csv", "center": "q1"},
                         timeout=60).content.decode("utf-8-sig")
    assert csv_text.startswith("# availability_by_device\n")
    bad = httpx.get(f"{site}/api/v1/report", params={"month": "11/2026"}, timeout=30)
    assert bad.status_code == 400 and "YYYY-MM" in bad.text
    unknown = httpx.get(f"{site}/api/v1/report", params={"month": "2026-11", "center": "x"},
                        timeout=30)
    assert unknown.status_code == 400 and "unknown center" in unknown.text


def test_dashboard_device_chips_open_the_device_page(site: str, browser: object) -> None:
    open_page(browser, f"{site}/", "vi")
    wait_until(lambda: js(browser, "return document.querySelectorAll('#devices a.d').length") == 3,
               15, "the dashboard's device chips")
    hrefs = js(browser, "return [...document.querySelectorAll('#devices a.d')]"
                        ".map(a => a.getAttribute('href'))")
    assert "/devices/q1/prn2" in hrefs  # type: ignore[operator]
    assert js(browser, "return document.getElementById('reports').getAttribute('href')"
              ) == "/reports?lang=vi"
    js(browser, "document.querySelector('#devices a.d[href=\"/devices/q1/prn2\"]').click()")
    wait_until(lambda: js(browser, "return document.body.dataset.loaded") == "24h", 15,
               "the device page after a click")
    assert js(browser, "return document.getElementById('name').textContent") == "Máy in quầy 2"
