"""Citizens' reports: the pure checks (phone, note, nonce, photo, the notification cap), the
amenities in controller.yaml, and the phone page and its alerts over real HTTP (uvicorn on
loopback), the limits with bounded loops, the SMS reply through the gateway fake."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from citizen_site import OPEN311_KEY, Site, post_report, start

from controller import citizen
from controller import config as config_mod
from controller.state import AlertKey, OpenAlert
from hcc_common.yamlconf import ConfigError


# -- pure --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "want"), [
    ("0912345678", "0912345678"), ("0912 345 678", "0912345678"), ("0912.345.678", "0912345678"),
    ("+84 912 345 678", "0912345678"), ("84912345678", "0912345678"), ("", None),
    ("(038) 123-4567", "0381234567")])
def test_vietnamese_mobile_numbers(text: str, want: str | None) -> None:
    assert citizen.normalize_phone(text) == want


@pytest.mark.parametrize("text", ["12345", "0212345678", "09123456789", "+1 415 555 0100",
                                  "0912345678; rm -rf /", "０９１２３４５６７８"])
def test_not_a_vietnamese_mobile_number(text: str) -> None:
    with pytest.raises(ValueError):
        citizen.normalize_phone(text)


def test_a_note_is_plain_bounded_text() -> None:
    assert citizen.clean_note("  hết\u202e nước\n\nở  sảnh\x00 ", 100) == "hết nước ở sảnh"
    assert citizen.clean_note("<b>x</b>", 100) == "<b>x</b>"  # kept as text, shown escaped
    with pytest.raises(ValueError):
        citizen.clean_note("x" * 101, 100)


def test_a_nonce_is_bound_to_its_page_and_time() -> None:
    key = b"k" * 32
    n = citizen.make_nonce(key, "tok-a", 1000.0)
    assert citizen.nonce_ok(key, "tok-a", n, 1001.0)
    assert not citizen.nonce_ok(key, "tok-b", n, 1001.0)  # another amenity's page
    assert not citizen.nonce_ok(b"j" * 32, "tok-a", n, 1001.0)  # another controller's key
    assert not citizen.nonce_ok(key, "tok-a", n, 1000.0 + citizen.NONCE_VALID_S + 1)
    assert not citizen.nonce_ok(key, "tok-a", n[:-1] + ("0" if n[-1] != "0" else "1"), 1001.0)
    assert not citizen.nonce_ok(key, "tok-a", "garbage", 1001.0)
    assert citizen.make_nonce(key, "tok-a", 1000.0) != n  # two pages in one second: two nonces


def jpeg_with_exif(size: tuple[int, int] = (2400, 1200)) -> bytes:
    from PIL import Image

    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "SecretPhone 12"  # Model
    exif[0x8825] = {2: (10.0, 46.0, 36.0), 4: (106.0, 42.0, 3.0)}  # GPS
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_a_photo_is_re_encoded_without_its_metadata() -> None:
    from PIL import Image

    raw = jpeg_with_exif()
    assert b"SecretPhone" in raw
    clean = citizen.strip_photo(raw, 5_000_000)
    assert b"SecretPhone" not in clean and b"Exif" not in clean
    with Image.open(io.BytesIO(clean)) as img:
        assert img.format == "JPEG"
        assert not img.getexif()
        assert max(img.size) == citizen.PHOTO_MAX_SIDE
    with pytest.raises(ValueError):
        citizen.strip_photo(b"<svg onload=alert(1)>", 5_000_000)
    with pytest.raises(ValueError):
        citizen.strip_photo(raw, len(raw) - 1)
    bomb = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(bomb, "PNG")  # 50 megapixels in a few kB
    assert len(bomb.getvalue()) < 100_000
    with pytest.raises(ValueError, match="megapixels"):
        citizen.strip_photo(bomb.getvalue(), 5_000_000)


def alert_row(alert_id: int, center: str = "q1", source: str = "citizen") -> citizen.AlertRow:
    return citizen.AlertRow(id=alert_id, center=center, agent="citizen", device="water",
                            code="citizen.out_of_water", subject="", severity="warning",
                            state="firing", device_name="Nước", params={}, opened_at=0.0,
                            acked_at=None, acked_by=None, ack_note=None, resolved_at=None,
                            resolved_by=None, resolve_note=None, labels={"source": source})


def test_the_notification_cap_holds_a_flood_per_center_and_hour() -> None:
    cap = citizen.NotifyCap(per_hour=3)
    now = 1000.0
    allowed = [cap.allow("opened", alert_row(i), now + i) for i in range(1, 21)]  # bounded
    assert allowed == [True] * 3 + [False] * 17
    assert cap.allow("opened", alert_row(100, center="q3"), now)  # another center: its own cap
    assert cap.allow("opened", alert_row(101, source="rules"), now)  # sensors' alerts: no cap
    assert cap.allow("resolved", alert_row(1), now + 30)  # its opening was told
    assert not cap.allow("resolved", alert_row(10), now + 30)  # its opening was held back
    assert cap.allow("opened", alert_row(200), now + citizen.HOUR_S + 5)  # an hour later
    for i in range(300, 300 + citizen.NotifyCap.KEPT + 50):  # bounded memory
        cap.allow("opened", alert_row(i), now + citizen.HOUR_S + 10)
    assert len(cap.held) <= citizen.NotifyCap.KEPT


# -- controller.yaml ---------------------------------------------------------------------------
def test_amenities_parse_into_typed_objects(tmp_path: Path) -> None:
    gen = start(tmp_path)
    site = next(gen)
    try:
        q1 = site.config.centers[0]
        assert q1.location == (10.7769, 106.7009)
        names = {a.id: a for a in q1.amenities}
        assert names["water-lobby"].kind.problems[0] == "out_of_water"
        assert names["printer-2"].device == "printer-2" and names["printer-2"].networked
        assert not names["braille-3"].networked
        assert site.config.citizen.reply_via == "sms-gw"
    finally:
        gen.close()


@pytest.mark.parametrize(("amenities", "want"), [
    ("[{id: w, type: kettle, name: N}]", "unknown amenity type 'kettle'"),
    ("[{id: w, type: water, name: N}, {id: w, type: water, name: M}]", "listed twice"),
    ("[{id: 'a b', type: water, name: N}]", "not a valid amenity id"),
    ("[{id: w, type: water}]", "required key is missing"),
    ("[{id: w, type: water, name: N, colour: red}]", "colour"),
])
def test_amenity_errors_name_file_line_and_key(tmp_path: Path, amenities: str, want: str
                                               ) -> None:
    path = tmp_path / "controller.yaml"
    path.write_text(f"centers:\n  - id: q1\n    amenities: {amenities}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        config_mod.load(path)
    assert want in str(exc.value)
    assert f"{path}:3" in str(exc.value)


def test_reply_via_must_be_an_sms_receiver(tmp_path: Path) -> None:
    path = tmp_path / "controller.yaml"
    path.write_text("citizen:\n  reply_via: nobody\n", encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        config_mod.load(path)
    assert f"{path}:2" in str(exc.value) and "citizen.reply_via" in str(exc.value)


# -- over HTTP -------------------------------------------------------------------------------
@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from start(tmp_path)


def citizen_alerts(site: Site) -> list[dict[str, object]]:
    return [a for a in httpx.get(f"{site.url}/api/v1/alerts", timeout=30).json()
            if a["labels"].get("source") == "citizen"]


def test_the_page_is_small_accessible_and_fitted_to_the_amenity(site: Site) -> None:
    r = httpx.get(f"{site.url}/r/{site.token('q1', 'printer-2')}", timeout=30)
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert len(r.content) < 8000  # a slow phone line
    assert '<html lang="vi">' in page and '<span lang="en">' in page
    assert "<fieldset><legend>" in page and 'for="note"' in page and 'id="note"' in page
    for problem in ("out_of_paper", "paper_jam", "tray_full"):
        assert f'value="{problem}"' in page
    assert 'value="out_of_water"' not in page  # a printer has no water
    assert "<script" not in page and " on" not in page.replace(" only", "")  # no handlers
    assert "http" not in page.split("<body>")[1]  # nothing loaded from elsewhere
    css = httpx.get(f"{site.url}/r/static/citizen.css", timeout=30)
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_tokens_are_random_per_amenity_kept_and_rotatable(site: Site) -> None:
    a, b = site.token("q1", "water-lobby"), site.token("q1", "braille-3")
    assert a != b and len(a) >= 20
    assert site.token("q1", "water-lobby") == a  # kept in the database
    new = citizen.token_for(site.store, "q1", "water-lobby", rotate=True)
    assert new != a
    assert httpx.get(f"{site.url}/r/{a}", timeout=30).status_code == 404  # the old label
    assert httpx.get(f"{site.url}/r/{new}", timeout=30).status_code == 200
    for guess in ("x" * 22, "../../etc/passwd", "' OR 1=1 --"):
        assert httpx.get(f"{site.url}/r/{guess}", timeout=30).status_code == 404


def test_reports_merge_into_one_alert_with_a_count_and_the_phone_only_for_the_desk(
        site: Site) -> None:
    token = site.token("q1", "water-lobby")
    r = post_report(site, token, "out_of_water", phone="0912 345 678",
                    note="<img src=x onerror=alert(1)>", photo=jpeg_with_exif((800, 600)))
    assert r.status_code == 200, r.text
    assert "Cảm ơn" in r.text
    [alert] = citizen_alerts(site)
    assert alert["code"] == "citizen.out_of_water" and alert["agent"] == "citizen"
    assert alert["params"] == {"reports": 1}
    assert "onerror" not in str(alert)  # the note is not in the alert's text
    assert post_report(site, token, "dirty").status_code == 200
    [alert] = citizen_alerts(site)
    assert alert["params"] == {"reports": 2}
    assert "2 lượt báo" in str(alert["message"])
    url = f"{site.url}/api/v1/alerts/{alert['id']}/citizen-reports"
    desk = httpx.get(url, headers=site.desk(), timeout=30).json()
    assert [d["phone"] for d in desk] == ["0912345678", None]
    assert desk[0]["note"] == "<img src=x onerror=alert(1)>" and desk[0]["photo"]
    anyone = httpx.get(url, timeout=30).json()
    assert [d["phone"] for d in anyone] == [None, None]
    photo_url = f"{site.url}/api/v1/citizen-reports/{desk[0]['id']}/photo"
    assert httpx.get(photo_url, timeout=30).status_code == 401
    got = httpx.get(photo_url, headers=site.desk(), timeout=30)
    assert got.headers["content-type"] == "image/jpeg" and b"SecretPhone" not in got.content
    history = httpx.get(f"{site.url}/api/v1/alerts/{alert['id']}", timeout=30).json()["history"]
    assert [h["event"] for h in history] == ["opened", "reported"]


def test_a_report_on_a_device_with_an_open_alert_joins_it(site: Site) -> None:
    site.store.write([OpenAlert(key=AlertKey(center="q1", agent="pi-1", device="printer-2",
                                             code="printer.paper_jam"),
                                severity="warning", device_name="Máy in quầy 2", params={}, at=time.time())])
    r = post_report(site, site.token("q1", "printer-2"), "paper_jam")
    assert r.status_code == 200, r.text
    alerts = httpx.get(f"{site.url}/api/v1/alerts", timeout=30).json()
    assert [a["code"] for a in alerts] == ["printer.paper_jam"]  # no second alert
    reports = httpx.get(f"{site.url}/api/v1/alerts/{alerts[0]['id']}/citizen-reports",
                        timeout=30).json()
    assert [x["problem"] for x in reports] == ["paper_jam"]


def test_a_report_outside_opening_hours_is_marked(site: Site) -> None:
    r = post_report(site, site.token("q3", "water-1"), "out_of_water")
    assert r.status_code == 200 and "ngoài giờ" in r.text
    [alert] = citizen_alerts(site)
    assert alert["labels"]["off_hours"] == "yes"


def test_bad_input_gets_a_clear_error_and_keeps_nothing(site: Site) -> None:
    token = site.token("q1", "water-lobby")
    cases = [({"problem": "paper_jam"}, 422), ({"phone": "12345"}, 422),
             ({"note": "x" * 501}, 422)]
    for change, status in cases:
        fields = {"problem": "out_of_water", **change}
        r = post_report(site, token, fields.pop("problem"), **fields)
        assert r.status_code == status, (change, r.text)
        assert 'class="error" role="alert"' in r.text
    r = post_report(site, token, "out_of_water", photo=b"not an image")
    assert r.status_code == 422
    assert citizen_alerts(site) == []


def test_a_form_posts_once_and_only_from_its_own_page(site: Site) -> None:
    token = site.token("q1", "water-lobby")
    page = httpx.get(f"{site.url}/r/{token}", timeout=30).text
    nonce = page.split('name="nonce" value="')[1].split('"')[0]
    form = {"nonce": nonce, "problem": "out_of_water"}
    evil = httpx.post(f"{site.url}/r/{token}", data=form, timeout=30,
                      headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert httpx.post(f"{site.url}/r/{token}", data=form, timeout=30).status_code == 200
    again = httpx.post(f"{site.url}/r/{token}", data=form, timeout=30)
    assert again.status_code == 409  # a replayed form
    forged = httpx.post(f"{site.url}/r/{token}", data={**form, "nonce": "1.abc"}, timeout=30)
    assert forged.status_code == 400
    big = httpx.post(f"{site.url}/r/{token}", timeout=30, data=form,
                     files={"photo": ("p.jpg", b"\xff" * 2_100_000, "image/jpeg")})
    assert big.status_code == 413
    [alert] = citizen_alerts(site)
    assert alert["params"] == {"reports": 1}


def test_rate_limit_per_address(site: Site) -> None:
    limit = site.config.citizen.per_address_per_hour
    statuses = []
    for i in range(limit + 3):  # bounded
        amenity = ("water-lobby", "braille-3", "charger-1")[i % 3]
        problem = {"water-lobby": "out_of_water", "braille-3": "missing",
                   "charger-1": "no_charge"}[amenity]
        statuses.append(post_report(site, site.token("q1", amenity), problem).status_code)
    assert statuses == [200] * limit + [429] * 3
    total = sum(int(a["params"]["reports"]) for a in citizen_alerts(site))  # type: ignore[index]
    assert total == limit


def test_rate_limit_per_amenity_across_senders(site: Site) -> None:
    limit = site.config.citizen.per_amenity_per_hour
    statuses = []
    for i in range(limit + 3):  # bounded; a different person each time (Open311 account_id)
        r = httpx.post(f"{site.url}/open311/v2/requests.json", timeout=30, data={
            "api_key": OPEN311_KEY, "service_code": "signage", "address_id": "q1/braille-3",
            "account_id": f"person-{i}", "attribute[problem]": "missing"})
        statuses.append(r.status_code)
    assert statuses == [201] * limit + [429] * 3
    [alert] = citizen_alerts(site)
    assert alert["params"] == {"reports": limit}


def test_the_reporter_gets_an_sms_when_it_is_resolved(site: Site) -> None:
    token = site.token("q1", "charger-1")
    assert post_report(site, token, "no_charge", phone="+84 912 345 678").status_code == 200
    assert post_report(site, token, "no_charge").status_code == 200  # no number: no SMS
    [alert] = citizen_alerts(site)

    async def replies() -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            return await citizen.send_replies(site.stores, site.config, http)

    assert asyncio.run(replies()) == 0  # still open: nothing yet
    r = httpx.post(f"{site.url}/api/v1/alerts/{alert['id']}/resolve", headers=site.desk(),
                   json={"note": "đã thay ổ cắm"}, timeout=30)
    assert r.status_code == 200
    assert asyncio.run(replies()) == 1
    assert asyncio.run(replies()) == 0  # once
    assert site.sms.problems == []
    [sent] = site.sms.sent
    assert sent["Phone"] == "0912345678" and "Tram sac" in sent["Content"]
    desk = httpx.get(f"{site.url}/api/v1/alerts/{alert['id']}/citizen-reports",
                     headers=site.desk(), timeout=30).json()
    assert [d["reply"] for d in desk] == ["sent", "none"]


def test_a_failed_reply_is_recorded(site: Site) -> None:
    site.sms.fail_with = "104"
    token = site.token("q1", "charger-1")
    assert post_report(site, token, "no_charge", phone="0912345678").status_code == 200
    [alert] = citizen_alerts(site)
    httpx.post(f"{site.url}/api/v1/alerts/{alert['id']}/resolve", headers=site.desk(),
               json={"note": "ok"}, timeout=30)

    async def replies() -> int:
        async with httpx.AsyncClient(timeout=10) as http:
            return await citizen.send_replies(site.stores, site.config, http)

    assert asyncio.run(replies()) == 0
    [report] = httpx.get(f"{site.url}/api/v1/alerts/{alert['id']}/citizen-reports",
                         headers=site.desk(), timeout=30).json()
    assert report["reply"] == "failed" and "104" in report["reply_error"]


def test_the_notifier_caps_citizen_alerts_and_groups_them_per_center() -> None:
    from controller.config import NotifySettings, Receiver, Route
    from controller.feed import StorePerThread
    from controller.notify import Notifier
    from controller.store import AlertChange

    settings = NotifySettings(receivers=(Receiver(name="desk-chat", kind="telegram", settings=None),),
                              routes=(Route(receivers=("desk-chat",)),), group_wait_s=3600.0)

    async def flood() -> list[int]:
        notifier = Notifier(settings, StorePerThread(":memory:"), citizen_per_hour=4)
        for i in range(1, 51):  # bounded: 50 amenities reported at once
            notifier.on_change(AlertChange(event_id=i, event="opened", at=0.0, actor=None,
                                         note=None, alert=alert_row(i)), False)
        sensor = alert_row(99, source="rules")
        notifier.on_change(AlertChange(event_id=99, event="opened", at=0.0, actor=None,
                                       note=None, alert=sensor), False)
        [batch] = notifier.pending.values()  # one grouped message for the center
        ids = [a.id for _e, a in batch.changes]
        for task in list(notifier._tasks):
            task.cancel()
        return ids

    assert asyncio.run(flood()) == [1, 2, 3, 4, 99]


def test_the_store_side_on_sqlite_and_postgresql(target: str) -> None:
    """Tokens, merging, the limits and the reply claim, on both databases the store speaks."""
    from controller.amenities import Amenity, CitizenSettings
    from controller.config import CenterInfo
    from controller.store import Store
    from hcc_common.calendar import OpeningHours

    store = Store(target)
    water = Amenity(id="water-1", center="q1", type="water", name="Nước uống")
    center = CenterInfo(id="q1", name="Q1", hours=OpeningHours(), amenities=(water,))
    token = citizen.token_for(store, "q1", "water-1")
    assert citizen.token_for(store, "q1", "water-1") == token
    settings = CitizenSettings(per_address_per_hour=3, per_amenity_per_hour=100)
    now = time.time()
    taken = [citizen.submit(store, settings, citizen.Report(center=center, amenity=water,
                                                            problem="out_of_water",
                                                            phone="0912345678" if i == 0
                                                            else None, address="10.0.0.1"),
                            now + i) for i in range(3)]
    assert [t.joined for t in taken] == [False, True, True]
    assert len({t.alert.id for t in taken}) == 1 and taken[-1].alert.params == {"reports": 3}
    with pytest.raises(citizen.ReportRefused) as refused:
        citizen.submit(store, settings, citizen.Report(center=center, amenity=water, problem="dirty",
                                                       address="10.0.0.1"), now + 5)
    assert refused.value.status == 429
    assert citizen.use_nonce(store, "n-1", now) and not citizen.use_nonce(store, "n-1", now)
    store.resolve(taken[0].alert.id, "desk", "ok", now + 10)
    [(report_id, phone, name)] = citizen.due_replies(store)
    assert (phone, name) == ("0912345678", "Nước uống")
    assert citizen.claim_reply(store, report_id, now + 11)
    assert not citizen.claim_reply(store, report_id, now + 12)  # once, whoever is first
    citizen.reply_done(store, report_id, None, now + 13)
    assert citizen.due_replies(store) == []
    store.close()


def test_the_monthly_figures_pure() -> None:
    from controller.citizen_report import ReportRow, figures

    rows = [ReportRow(center="q1", amenity="w", amenity_type="water", problem="out_of_water",
                      at=0.0, alert_agent="citizen", resolved_at=600.0, off_hours=False),
            ReportRow(center="q1", amenity="w", amenity_type="water", problem="dirty", at=100.0,
                      alert_agent="citizen", resolved_at=600.0, off_hours=True),
            ReportRow(center="q3", amenity="p", amenity_type="printer", problem="paper_jam", at=0.0,
                      alert_agent="pi-1", resolved_at=None, off_hours=False)]
    f = figures(rows)
    assert f.reports == 3 and f.by_type == {"water": 2, "printer": 1}
    assert f.by_center == {"q1": 2, "q3": 1} and f.off_hours == 1 and f.resolved == 2
    assert f.median_to_resolution_s == 550.0
    assert f.unseen_by_sensors == {"out_of_water": 1, "dirty": 1}  # the printer's box saw it
    assert figures([]).median_to_resolution_s is None


def test_the_monthly_figures_over_http(site: Site) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    site.store.write([OpenAlert(key=AlertKey(center="q1", agent="pi-1", device="printer-2",
                                             code="printer.paper_jam"),
                                severity="warning", device_name="Máy in quầy 2", params={}, at=time.time())])
    assert post_report(site, site.token("q1", "printer-2"), "paper_jam").status_code == 200
    assert post_report(site, site.token("q1", "water-lobby"), "out_of_water").status_code == 200
    month = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%Y-%m")
    f = httpx.get(f"{site.url}/api/v1/citizen-figures", params={"month": month},
                  timeout=30).json()
    assert f["reports"] == 2 and f["by_type"] == {"printer": 1, "water": 1}
    assert f["unseen_by_sensors"] == {"out_of_water": 1}
    assert httpx.get(f"{site.url}/api/v1/citizen-figures", params={"month": "13/2026"},
                     timeout=30).status_code == 400


def test_the_staff_opening_checklist(site: Site) -> None:
    from typer.testing import CliRunner

    from controller.cli import app

    out = CliRunner().invoke(app, ["qr", "--center", "q1", "--staff-link", "--out", "-",
                                   "--config", str(site.path)])
    assert out.exit_code == 0, out.output
    link = out.output.strip()
    assert link.startswith(f"{site.url}/staff/")
    page = httpx.get(link, timeout=30)
    assert page.status_code == 200 and "Kiểm tra đầu ngày" in page.text
    assert "Nước uống – sảnh chờ" in page.text and "Máy in quầy 2" not in page.text  # networked
    r = httpx.post(link, data={"water-lobby": "ok", "braille-3": "missing",
                               "charger-1": "no_charge"}, timeout=30)
    assert r.status_code == 200 and "3" in r.text
    assert 'value="ok" checked' in r.text  # the day's answers shown again
    codes = sorted(a["code"] for a in citizen_alerts(site))
    assert codes == ["citizen.missing", "citizen.no_charge"]
    assert httpx.post(link, data={"water-lobby": "paper_jam"}, timeout=30).status_code == 422
    assert httpx.get(f"{site.url}/staff/{site.token('q1', 'water-lobby')}",
                     timeout=30).status_code == 404  # an amenity's code is no staff link


def test_the_form_key_made_by_two_controllers_at_once_is_one_key(target: str) -> None:
    """Two controllers on one database making the form key at the same moment: the second one's
    key must not replace the first's (the nonces the first one signed would stop verifying)."""
    import threading

    from controller.store import Store

    stores = [Store(target) for _ in range(6)]
    try:
        stores[0].db.execute("DELETE FROM channel_state WHERE channel='citizen-form'")
        start = threading.Barrier(len(stores))
        keys: list[bytes] = []

        def make(store: Store) -> None:
            start.wait(10)
            keys.append(citizen.form_key(store))

        threads = [threading.Thread(target=make, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(keys) == len(stores) and len(set(keys)) == 1
        assert citizen.form_key(stores[0]) == keys[0]  # and it is the one kept
        # the race made deterministic: one controller read "none" and stores its own too late
        late = stores[1].first_channel_state("citizen-form", {"key": "00" * 32}, time.time())
        assert bytes.fromhex(late["key"]) == keys[0]
    finally:
        for s in stores:
            s.close()


def test_qr_codes_rotate_only_for_the_desk_and_the_audit_trail_says_who(site: Site,
                                                                         tmp_path: Path) -> None:
    """Replacing a center's QR codes makes every printed label stop working: a technician of
    the center may print labels and get the staff link, not rotate; each act is audited."""
    from typer.testing import CliRunner

    from conftest import cli_account
    from controller import accounts
    from controller.cli import app

    cli_account(site.config.db, name="lan", role="technician", centers=("q1",))
    cli_account(site.config.db, name="khoa", role="technician", centers=("q3",))
    before = site.token("q1", "water-lobby")
    run = CliRunner()
    args = ["qr", "--center", "q1", "--staff-link", "--out", "-", "--config", str(site.path)]
    refused = run.invoke(app, ["--as", "lan", *args, "--rotate"])
    assert refused.exit_code == 1 and "không được đổi mã QR" in refused.output
    other = run.invoke(app, ["--as", "khoa", *args])
    assert other.exit_code == 1 and "không có trung tâm 'q1'" in other.output  # as if none
    shown = run.invoke(app, ["--as", "lan", *args])
    assert shown.exit_code == 0 and "/staff/" in shown.output
    assert site.token("q1", "water-lobby") == before
    rotated = run.invoke(app, [*args, "--rotate"])  # hcc-test ($HCC_AS): an admin
    assert rotated.exit_code == 0, rotated.output
    acts = [(r.account, r.action, r.center) for r in accounts.audit_rows(site.store.db)]
    assert ("lan", "staff_link", "q1") in acts and ("hcc-test", "staff_link_rotate", "q1") in acts
    assert not any(a == "khoa" for a, _x, _c in acts)  # a refusal changes nothing


def _center_with_checklist() -> object:
    from controller.amenities import Amenity
    from controller.config import CenterInfo
    from hcc_common.calendar import OpeningHours

    water = Amenity(id="water-1", center="q1", type="water", name="Nước uống")
    signs = Amenity(id="sign-1", center="q1", type="signage", name="Bảng chỉ dẫn")
    printer = Amenity(id="printer-2", center="q1", type="printer", name="Máy in quầy 2",
                      device="printer-2")  # networked: the box watches it, not the list
    return CenterInfo(id="q1", name="Q1", hours=OpeningHours(), amenities=(water, signs, printer))


def test_the_checklist_not_done_by_its_hour_is_a_gentle_warning_pure() -> None:
    from datetime import datetime
    from datetime import time as dt_time
    from zoneinfo import ZoneInfo

    from controller import checklist
    from controller.state import OpenAlert, ResolveAlert

    center = _center_with_checklist()
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    monday_8 = datetime(2026, 11, 30, 8, 0, tzinfo=tz).timestamp()
    monday_10 = datetime(2026, 11, 30, 10, 0, tzinfo=tz).timestamp()
    sunday_10 = datetime(2026, 11, 29, 10, 0, tzinfo=tz).timestamp()  # closed by default
    by = dt_time(9, 0)
    assert checklist.overdue(center, set(), monday_8, by) == ()  # not yet its hour
    assert [a.id for a in checklist.overdue(center, {"water-1"}, monday_10, by)] == ["sign-1"]
    assert checklist.overdue(center, {"water-1", "sign-1"}, monday_10, by) == ()
    assert checklist.overdue(center, set(), sunday_10, by) == ()  # the center is closed
    assert checklist.overdue(center, set(), monday_10, None) == ()  # switched off
    missing = checklist.overdue(center, set(), monday_10, by)
    [opened] = checklist.not_done_effects(center, missing, False, monday_10)
    assert isinstance(opened, OpenAlert) and opened.severity == "info"
    assert opened.params["missing"] == 2 and "Bảng chỉ dẫn" in str(opened.params["items"])
    assert checklist.not_done_effects(center, missing, True, monday_10) == []  # open already
    [closed] = checklist.not_done_effects(center, (), True, monday_10)
    assert isinstance(closed, ResolveAlert)
    assert checklist.not_done_effects(center, (), False, monday_10) == []


def test_checklist_rates_count_open_days_and_listed_items_only() -> None:
    from controller.citizen_report import checklist_rates

    items = {"q1": frozenset({"water-1", "sign-1"}), "q3": frozenset()}
    days = {"q1": ["2026-11-02", "2026-11-03", "2026-11-04"]}
    ticks = [("q1", "2026-11-02", "water-1"), ("q1", "2026-11-02", "sign-1"),
             ("q1", "2026-11-03", "water-1"), ("q1", "2026-11-03", "gone-amenity"),
             ("q1", "2026-11-01", "water-1")]  # a Sunday: closed, not counted
    [q1] = checklist_rates(items, days, ticks)
    assert (q1.items, q1.open_days, q1.complete_days, q1.ticked) == (2, 3, 1, 3)
    assert q1.rate == 0.5
    [none] = checklist_rates({"q1": frozenset({"a"})}, {"q1": []}, [])
    assert none.rate is None  # no open day: no rate, not 0 %


def test_the_warning_opens_and_closes_with_the_staffs_ticks(target: str) -> None:
    """On both databases: not done at 10:00 → an info alert on the desk; ticked → resolved."""
    from dataclasses import replace
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from controller import checklist
    from controller import config as config_mod
    from controller.amenities import CitizenSettings
    from controller.store import Store

    center = _center_with_checklist()
    config = replace(config_mod.load(None, env={}), centers=(center,))
    store = Store(target)
    try:
        store.db.execute("DELETE FROM staff_checks WHERE center='q1'")
        ten = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(hour=10, minute=0)
        while ten.weekday() > 4:  # a weekday: open by default
            ten -= timedelta(days=1)
        now = ten.timestamp()

        def warnings() -> list[object]:
            return [a for a in store.alerts(center="q1", device=checklist.NOT_DONE_DEVICE)]

        for a in warnings():
            store.resolve(a.id, "test", "clean start", now - 1)
        assert checklist.warn_not_done(store, config, now) == 1
        [warning] = warnings()
        assert warning.severity == "info" and warning.code == checklist.NOT_DONE_CODE
        assert checklist.warn_not_done(store, config, now + 60) == 0  # one warning, not more
        checklist.record(store, CitizenSettings(), center, {"water-1": "ok", "sign-1": "ok"},
                         now + 120)
        assert checklist.warn_not_done(store, config, now + 180) == 1
        assert warnings() == []
        assert store.alert(warning.id).state == "resolved"
    finally:
        store.close()


def test_the_monthly_report_has_the_citizens_part_and_the_checklist(site: Site) -> None:
    """Reports by amenity type and center, what no sensor saw, time to resolution and the
    checklist's completion rate, in the report's HTML and CSV as the city reads it."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from controller import checklist, reporting
    from controller.report import month_period

    assert post_report(site, site.token("q1", "water-lobby"), "out_of_water").status_code == 200
    assert post_report(site, site.token("q1", "printer-2"), "tray_full").status_code == 200
    center = site.config.centers[0]
    now = time.time()
    checklist.record(site.store, site.config.citizen, center,
                     {a.id: "ok" for a in checklist.items(center)}, now)
    month = datetime.now(ZoneInfo(site.config.reports.timezone)).strftime("%Y-%m")
    period = month_period(month, site.config.reports.timezone)
    html = reporting.make(site.store, site.config, period=period, center=None, fmt="html",
                          lang="vi").decode()
    part = html[html.index('id="citizens"'):]
    assert "Người dân phản ánh và kiểm tra đầu ngày" in html
    assert "Nước uống" in part and "Máy in" in part  # by amenity type, in Vietnamese
    assert "Người dân thấy mà cảm biến không thấy" in part and "Hết nước" in part
    assert "Kiểm tra đầu ngày của nhân viên" in part and "Trung tâm Quận 1" in part
    csv_text = reporting.make(site.store, site.config, period=period, center=None, fmt="csv",
                              lang="en").decode("utf-8-sig")
    rows = csv_text.split("# opening_checklist\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert rows[0] == "center,center_name,items,open_days,complete_days,checked_ratio"
    q1 = next(r for r in rows[1:] if r.startswith("q1,"))
    open_days, complete = (int(x) for x in q1.split(",")[3:5])
    assert complete == 1 and open_days >= 1  # today is ticked in full (the center opens daily)
    assert "# citizen_reports_by_type\namenity_type,reports\n" in csv_text


def test_a_technician_of_the_center_ticks_the_checklist_signed_in(site: Site,
                                                                  tmp_path: Path) -> None:
    """Once accounts exist the checklist needs no shared link: a technician of the center signs
    in, ticks it in Chromium (the session's CSRF token in the write), and the problems become
    reports; another center's technician gets 404, a viewer 403, nobody the sign-in page."""
    import contextlib

    from web import chromium, sign_in

    from conftest import wait_until
    from controller import accounts

    password = "mật-khẩu-thật-dài-2026"
    for name, role, centers in (("lan", "technician", ["q1"]), ("khoa", "technician", ["q3"]),
                                ("xem", "viewer", ["q1"])):
        if accounts.get_account(site.store.db, name) is None:
            accounts.add_account(site.store.db, name=name, role=role, centers=centers,
                                 groups=[], password=password, now=time.time())

    def session(name: str) -> httpx.Client:
        http = httpx.Client(base_url=site.url, timeout=30)
        assert http.post("/api/v1/session", json={"name": name, "password": password}
                         ).status_code == 200
        return http

    anonymous = httpx.get(f"{site.url}/centers/q1/checklist", timeout=30)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin")
    with contextlib.closing(session("khoa")) as other:
        assert other.get("/centers/q1/checklist").status_code == 404  # not their center
    with contextlib.closing(session("xem")) as viewer:
        assert viewer.get("/centers/q1/checklist").status_code == 403
    with contextlib.closing(session("lan")) as lan:  # a write without the session's CSRF token is refused
        assert lan.post("/api/v1/centers/q1/checklist", json={"water-lobby": "ok"}
                        ).status_code == 403
    with chromium(tmp_path) as driver:
        from selenium.webdriver.common.by import By

        sign_in(driver, site.url, "lan", password)
        driver.get(f"{site.url}/centers/q1/checklist")  # type: ignore[attr-defined]
        driver.find_element(  # type: ignore[attr-defined]
            By.CSS_SELECTOR, "input[name='water-lobby'][value='out_of_water']").click()
        driver.find_element(  # type: ignore[attr-defined]
            By.CSS_SELECTOR, "input[name='braille-3'][value='ok']").click()
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()  # type: ignore[attr-defined]
        wait_until(lambda: "Đã lưu 2 mục, 1 vấn đề" in driver.find_element(  # type: ignore[attr-defined]
            By.ID, "saved").text, 20, "the saved line")
    assert ("q1", "water-lobby", "citizen.out_of_water") in {
        (a["center"], a["device"], a["code"]) for a in citizen_alerts(site)}
    acts = [(r.account, r.action) for r in accounts.audit_rows(site.store.db)]
    assert ("lan", "checklist") in acts
