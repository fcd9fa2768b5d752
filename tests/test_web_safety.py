"""Markup from a box, an operator or a provider never runs on a page (issue 23.4): every field they
can set carries script payloads; headless Chromium loads every page (dashboard and alert desk,
device pages, the report page and the report file) and finds nothing ran and the text shown as
written; every page response has the strict Content-Security-Policy."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web import chromium, csp_violations, sign_in

from conftest import wait_until
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import AgentInfo, AlertKey, DeviceInfo, OpenAlert, Reading, order_of
from controller.store import Store
from hcc_common import wire
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

pytestmark = pytest.mark.integration

# Each payload sets its own number in window.__pwned, or opens a dialog, if it ever runs.
PAYLOAD = ('<img src=x onerror=window.__pwned=1>"><svg onload=window.__pwned=2>'
           "</script><script>window.__pwned=3</script>'><img src=x onerror=alert(4)>")
# Ids travel in URL paths: no slash in them.
ID_PAYLOAD = '<img src=x onerror=window.__pwned=5>"><svg onload=window.__pwned=6>'
TOKEN = "desk-token-0123456789abcdef"
DESK_PASSWORD = "mật-khẩu-bàn-trực-2026"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
POLICY = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
          "frame-ancestors 'none'")


def evil(where: str) -> str:
    """A payload that says where it was put: the page must show exactly this text."""
    if where.startswith("ack-by-"):  # a name: at most 100 characters
        return f"{where}{ID_PAYLOAD}"
    return f"{where}{PAYLOAD}"


BAD_CENTER = f"c{ID_PAYLOAD}"  # a box under a center the config does not name
DEVICES = ("prn", "ups", "ap", "pdu", f"d{ID_PAYLOAD}")


def fill(store: Store, now: float) -> None:
    """Every string a box can send, as the store would hold it had the wire let it through
    (strings where numbers belong too: the pages must hold whatever the contract says)."""
    printer = {"model": evil("model"), "page_count": evil("page_count"),
               "supply.1.name": evil("supply-name"), "supply.1.pct": evil("supply-pct"),
               "supply.1.state": evil("supply-state"), "tray.1.name": evil("tray-name"),
               "tray.1.pct": 40.0, f"other.{evil('other-key')}": evil("other-value"),
               "sys_descr": evil("sys-descr")}
    ups = {"runtime_min": evil("runtime"), "battery_charge_pct": evil("charge"),
           "load_pct": evil("load"), "battery_status": evil("battery-status"),
           "output_source": evil("output-source"), "replace_battery": evil("replace")}
    ap = {"wifi_clients": evil("wifi-clients"), "radio.r0.oper": evil("radio-oper"),
          f"radio.{ID_PAYLOAD}.oper": "up"}
    pdu = {"outlet.1.name": evil("outlet-name"), "outlet.1.state": evil("outlet-state"),
           "outlet.1.power_w": evil("outlet-power")}
    faults = (wire.FaultReport("printer.toner_low", "warning",
                               {"supply": evil("fault-supply"), "level": evil("fault-level")}),
              wire.FaultReport(f"x.{ID_PAYLOAD}", "critical", {"detail": evil("fault-detail")}))
    effects: list[object] = []
    for center in ("q1", BAD_CENTER):
        effects.append(AgentInfo(center=center, agent=f"pi{ID_PAYLOAD}", last_seen=now, inventory={
            "software": evil("software"), "model": evil("box-model"), "os": evil("os"),
            "config_version": evil("config-version"), "devices": evil("device-count"),
            # a box's report of its last software update (agent/updater.py)
            "update_version": evil("update-version"), "update_state": evil("update-state"),
            "update_reason": evil("update-reason")}))
        for device, kind, metrics in (("prn", "printer", printer), ("ups", "ups", ups),
                                      ("ap", "wifi_ap", ap), ("pdu", "charger", pdu),
                                      (f"d{ID_PAYLOAD}", f"t{ID_PAYLOAD}", printer)):
            effects.append(DeviceInfo(center=center, agent="pi-1", device=device,
                                      name=evil(f"name-{device[:3]}"), type=kind, status="warning",
                                      last_seen=now, agent_ts=now, consecutive_failures=0,
                                      metrics=metrics, faults=faults, order=order_of(1, 1)))
            effects.append(Reading(center=center, agent="pi-1", device=device, type=kind,
                                   ts=now - 600, status="ok",
                                   metrics={"supply.1.pct": 50.0, "wifi_clients": 3}))
            effects.append(OpenAlert(key=AlertKey(center=center, agent="pi-1", device=device,
                                                  code="printer.toner_low"),
                                     severity="warning", device_name=evil(f"alert-device-{device[:3]}"),
                                     params={"supply": evil("alert-supply"),
                                      "level": evil("alert-level")}, at=now - 300))
            effects.append(OpenAlert(key=AlertKey(center=center, agent="pi-1", device=device,
                                                  code=f"x.{ID_PAYLOAD}"), severity="critical",
                                     device_name=evil("alert-device-2"), params={}, at=now - 200))
    store.write(effects)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from controller.api import create_app

    tmp = tmp_path_factory.mktemp("safety")
    db = tmp / "c.db"
    store = Store(db)
    now = time.time()
    fill(store, now)
    from controller import accounts

    accounts.add_account(store.db, name="desk-safety", role="desk", centers=[], groups=[],
                         password=DESK_PASSWORD, now=now)
    # reads open (the explicit switch): every page is read here; the desk signs in to act
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1883), db=db,
                           centers=(CenterInfo(id="q1", name=evil("center-name"), hours=OpeningHours()),),
                           http=HttpSettings(listen_host="127.0.0.1", listen_port=free_port(),
                                             tokens={TOKEN: f"ops{ID_PAYLOAD}"}, read_open=True))
    assert cfg.http is not None
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, StorePerThread(db), None),
                                           host="127.0.0.1", port=cfg.http.listen_port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(cfg.http.listen_port, 15)
    url = f"http://127.0.0.1:{cfg.http.listen_port}"
    operator_acts(url, store)
    yield url
    server.should_exit = True
    thread.join(10)


def operator_acts(url: str, store: Store) -> None:
    """What an operator can write, through the API as the desk does; and what comes from a
    provider or a roster (a Telegram press acting as its mapped person, an escalation step)."""
    alerts = httpx.get(f"{url}/api/v1/alerts", params={"limit": 1000}, timeout=30).json()
    assert len(alerts) >= 10
    by_device: dict[tuple[str, str], list[int]] = {}
    for a in alerts:
        by_device.setdefault((a["center"], a["device"]), []).append(a["id"])
    for (_center, device), ids in by_device.items():
        tag = device[:3]
        r = httpx.post(f"{url}/api/v1/alerts/{ids[0]}/ack", headers=AUTH, timeout=30,
                       json={"note": evil(f"ack-note-{tag}"), "by": evil(f"ack-by-{tag}")})
        assert r.status_code == 200, r.text
        r = httpx.post(f"{url}/api/v1/alerts/{ids[0]}/resolve", headers=AUTH, timeout=30,
                       json={"note": evil(f"resolve-note-{tag}")})
        assert r.status_code == 200, r.text
        # a Telegram press: the actor is the chat's mapped person; an escalation step's note
        store.ack(ids[1], evil(f"telegram-actor-{tag}"), evil(f"telegram-note-{tag}"),
                  time.time())
        assert store.claim_escalation(ids[1], 1, time.time(), "oncall", evil(f"escalation-{tag}"))
    r = httpx.post(f"{url}/api/v1/silences", headers=AUTH, timeout=30,
                   json={"center": "q1", "device": "ap", "duration": "2h",
                         "reason": evil("silence-reason")})
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    with chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


def js(driver: object, script: str) -> object:
    return driver.execute_script(script)  # type: ignore[attr-defined]


def assert_nothing_ran(driver: object, page: str) -> str:
    """No dialog open, no payload ran, no element made of a payload; the page's text."""
    from selenium.common.exceptions import NoAlertPresentException

    try:
        dialog = driver.switch_to.alert  # type: ignore[attr-defined]
        text = dialog.text
        dialog.dismiss()
        pytest.fail(f"{page}: a payload opened a dialog ({text})")
    except NoAlertPresentException:
        pass
    assert js(driver, "return window.__pwned") is None, page
    injected = js(driver, "return document.querySelectorAll("
                          "'img[src=\"x\"], svg, script:not([src]), [onerror], [onload]').length")
    assert injected == 0, f"{page}: {injected} elements made of a payload"
    assert csp_violations(driver) == [], page  # the page itself works under its policy
    return str(js(driver, "return document.body.innerText"))


def shown_literally(text: str, wheres: list[str], page: str) -> None:
    missing = [w for w in wheres if evil(w) not in text]
    assert not missing, f"{page}: not shown as written: {missing}"


def test_dashboard_and_alert_desk_show_markup_as_text(site: str, browser: object) -> None:
    # the desk signed in (its session, not a token in the page, is what acts)
    sign_in(browser, site, "desk-safety", DESK_PASSWORD)
    js(browser, "localStorage.setItem('hcc-lang', 'en')")
    browser.get(f"{site}/")  # type: ignore[attr-defined]
    wait_until(lambda: js(browser, "return document.querySelectorAll('#devices a.d').length")
               == 2 * len(DEVICES), 20, "the dashboard's devices")
    wait_until(lambda: js(browser, "return document.querySelectorAll('#alerts tbody tr')"
                                   ".length") >= 10, 20, "the alert desk's rows")
    text = assert_nothing_ran(browser, "dashboard")
    shown_literally(text, ["center-name", "name-prn", "name-ups", "name-d<i", "escalation-prn",
                           "telegram-actor-d<i", "telegram-actor-ups", "alert-supply"],
                    "dashboard")
    assert BAD_CENTER in text  # an unknown center is shown by its id, as text
    # the hover titles carry the box's inventory
    titles = js(browser, "return [...document.querySelectorAll('.center')].map(c => c.title)"
                         ".join('\\n')")
    for where in ("box-model", "os", "config-version", "update-reason"):
        assert evil(where) in str(titles), where
    boxes = str(js(browser, "return [...document.querySelectorAll('.boxes')]"
                            ".map(b => b.textContent).join('\\n')"))
    assert evil("software") in boxes and evil("device-count") in boxes
    assert evil("update-version") in boxes
    # the device links stay on this site, their ids percent-encoded
    hrefs = js(browser, "return [...document.querySelectorAll('#devices a.d')]"
                        ".map(a => a.getAttribute('href'))")
    assert all(str(h).startswith("/devices/") and "<" not in str(h) for h in hrefs)  # type: ignore[union-attr]
    # acting from the desk with a payload as the note: still nothing runs
    js(browser, "const row = document.querySelector('#alerts tbody tr[data-alert-id]');"
                f"row.querySelector('input.note').value = {evil('desk-note')!r};"
                "row.querySelector('button.resolve').click();")
    time.sleep(1.0)
    assert_nothing_ran(browser, "dashboard after an ack")
    # the second wall: markup that did reach the page (a future escaping slip) does not run
    js(browser, "const d = document.createElement('div'); document.body.append(d);"
                "d.innerHTML = '<img src=x onerror=\"window.__pwned=9\">';")
    wait_until(lambda: any("script-src" in v for v in csp_violations(browser)), 5,
               "the policy refusing the handler")
    assert js(browser, "return window.__pwned") is None


@pytest.mark.parametrize("center", ["q1", BAD_CENTER])
@pytest.mark.parametrize("device", DEVICES)
def test_device_pages_show_markup_as_text(site: str, browser: object, center: str,
                                          device: str) -> None:
    from urllib.parse import quote

    browser.get(f"{site}/devices/{quote(center, safe='')}/{quote(device, safe='')}")  # type: ignore[attr-defined]
    wait_until(lambda: js(browser, "return document.body.dataset.loaded") == "24h", 20,
               "the device page")
    text = assert_nothing_ran(browser, f"device page {device}")
    tag = device[:3]
    shown_literally(text, [f"name-{tag}", "fault-supply", f"ack-note-{tag}", f"ack-by-{tag}",
                           f"resolve-note-{tag}", f"telegram-actor-{tag}",
                           f"telegram-note-{tag}"], f"device page {device}")
    readings = {"prn": ["page_count", "supply-name", "supply-state", "tray-name", "other-value"],
                "ups": ["runtime", "battery-status", "output-source", "replace"],
                "ap": ["wifi-clients", "radio-oper"],
                "pdu": ["outlet-name", "outlet-power"]}.get(device, ["supply-name"])
    if device == "prn":  # the other readings fold away: open them to read them
        js(browser, "document.querySelectorAll('details').forEach(d => d.open = true)")
        text = str(js(browser, "return document.body.innerText"))
    shown_literally(text, readings, f"device page {device}")


def test_report_page_and_file_show_markup_as_text(site: str, browser: object) -> None:
    from urllib.parse import quote

    month = time.strftime("%Y-%m")
    pages = {"report page": f"{site}/reports?month={month}&lang=en",
             "report page of a center": f"{site}/reports?month={month}&lang=vi&center=q1",
             "report file": f"{site}/api/v1/report?month={month}&format=html"}
    for page, url in pages.items():
        browser.get(url)  # type: ignore[attr-defined]
        text = assert_nothing_ran(browser, page)
        shown_literally(text, ["center-name"], page)
        assert evil("name-prn") in text or page == "report page of a center", page
    # the month asked for comes back in the form: as a value, not as markup
    browser.get(f"{site}/reports?month={quote(ID_PAYLOAD)}")  # type: ignore[attr-defined]
    assert_nothing_ran(browser, "report page with a bad month")


def test_every_page_response_has_the_strict_policy(site: str) -> None:
    month = time.strftime("%Y-%m")
    for path in ("/", "/devices/q1/prn", f"/reports?month={month}",
                 f"/api/v1/report?month={month}&format=html", "/api/v1/alerts",
                 "/static/app.js", "/no-such-page", f"/reports?month={ID_PAYLOAD}"):
        r = httpx.get(site + path, timeout=60)
        policy = r.headers.get("content-security-policy", "")
        for directive in POLICY.split("; "):
            assert directive in policy.split("; "), (path, directive, policy)
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        assert r.headers.get("x-content-type-options") == "nosniff", path
        assert r.headers.get("referrer-policy") == "same-origin", path


def test_pages_have_no_inline_script_and_scripts_build_no_html() -> None:
    """The class, by construction: no inline <script> body or on… handler in the pages, no
    HTML parsing of strings in the page scripts."""
    web = Path(__file__).parent.parent / "controller" / "web"
    for page in web.glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), page.name
        assert not re.search(r"\son\w+\s*=", text, re.I), page.name
    for script in web.glob("*.js"):
        code = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                     "eval(", "new Function"):
            assert sink not in code.replace("(no innerHTML with data)", ""), (script.name, sink)


def test_every_route_answers_with_the_policy(tmp_path: Path) -> None:
    """Every GET route the app has (a future one too), whatever it answers."""
    from fastapi.routing import APIRoute
    from fastapi.testclient import TestClient

    from controller.api import create_app

    db = tmp_path / "r.db"
    Store(db)
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                           centers=(CenterInfo(id="q1", name="Q1", hours=OpeningHours()),),
                           http=HttpSettings(tokens={TOKEN: "ops"}))
    app = create_app(cfg, StorePerThread(db), None)
    client = TestClient(app, raise_server_exceptions=False)
    values = {"center": "q1", "device": "prn", "alert_id": "1", "silence_id": "1",
              "name": "app.js"}
    checked = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        path = route.path.format(**values)
        r = client.get(path, params={"month": time.strftime("%Y-%m")})
        policy = r.headers.get("content-security-policy", "")
        assert all(d in policy.split("; ") for d in POLICY.split("; ")), (path, policy)
        assert r.headers.get("x-content-type-options") == "nosniff", path
        checked.append(path)
    assert {"/", "/reports", "/devices/q1/prn", "/api/v1/report"} <= set(checked)
