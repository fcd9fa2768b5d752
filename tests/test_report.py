"""Reports from a known month: availability in opening hours (holiday skipped), MTTA/MTTR, pages
through a counter reset, toner use and forecast, Wi-Fi — checked against hand-computed numbers,
on SQLite and PostgreSQL; and the pure parts (coverage, steps, forecast) on small fixtures."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from web import ARTIFACTS

from controller import history_store, reporting
from controller.config import CenterInfo, ControllerConfig, ReportSettings
from controller.history import Sample, coverage, rollup_hour, tracked_values
from controller.report import forecast, month_period
from controller.report_render import render_csv, render_html
from controller.state import AlertKey, DeviceInfo, OpenAlert, Reading, ResolveAlert
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings

TZ = ZoneInfo("Asia/Ho_Chi_Minh")

STEP = 300.0  # one reading every 5 minutes, day and night
HOLIDAY = date(2026, 11, 20)
# 08:00-12:00 and 13:00-17:00 on weekdays: 8 hours a day
WEEKLY = {d: ((time(8, 0), time(12, 0)), (time(13, 0), time(17, 0))) for d in range(5)}
HOURS = OpeningHours(WEEKLY, frozenset({HOLIDAY}), "Asia/Ho_Chi_Minh")


def at(day: int, hh: int, mm: int = 0, month: int = 11) -> float:
    return datetime(2026, month, day, hh, mm, tzinfo=TZ).timestamp()


# The printer's outages: (from, to, status). Open-hours overlap by hand:
#   Tue 10th 09:00-11:00 unreachable: 2 h (all open)
#   Sat 14th all day critical: 0 (closed)
#   Fri 20th 10:00-15:00 unreachable: 0 (the holiday)
#   Mon 23rd 11:30-13:30 unreachable: 11:30-12:00 + 13:00-13:30 = 1 h
OUTAGES = [(at(10, 9), at(10, 11), "unreachable"), (at(14, 0), at(15, 0), "critical"),
           (at(20, 10), at(20, 15), "unreachable"), (at(23, 11, 30), at(23, 13, 30), "unreachable")]
RESET_AT = at(16, 0)        # the printer's board is replaced: its page counter starts again at 0
CARTRIDGE_AT = at(10, 0)    # a new black cartridge: 71 % -> 100 %


def printer_reading(ts: float, pages: int) -> Reading:
    status = next((s for a, b, s in OUTAGES if a <= ts < b), "ok")
    days = (ts - at(1, 0)) / 86400
    black = 80 - days if ts < CARTRIDGE_AT else 100 - (ts - CARTRIDGE_AT) / 86400
    metrics = {} if status == "unreachable" else {
        "page_count": pages, "supply.1.pct": black, "supply.2.pct": 60 - 1.5 * days,
        "supply.1.name": "Black", "supply.2.name": "Cyan"}
    return Reading(center="p1", agent="pi-1", device="prn1", type="printer", ts=ts, status=status,
                   metrics=metrics)


def ap_reading(ts: float) -> Reading:
    local = datetime.fromtimestamp(ts, TZ)
    busy = HOURS.is_open_ts(ts) and local.weekday() != 4  # Fridays: nobody uses the Wi-Fi
    return Reading(center="p1", agent="pi-1", device="ap1", type="wifi_ap", ts=ts, status="ok",
                   metrics={"wifi_clients": 5 if busy else 0})


def build_month(store: Store) -> None:
    readings = []
    pages = 10_000
    ts = at(1, 0)
    while ts < at(1, 0, month=12):
        r = printer_reading(ts, pages)
        if ts >= RESET_AT and pages >= 10_000:
            pages = 0  # the new board's counter
            r = printer_reading(ts, pages)
        if r.status != "unreachable" and HOURS.is_open_ts(ts):
            pages += 10  # ten pages per five open minutes, while it answers
            r = printer_reading(ts, pages)
        readings.append(r)
        readings.append(ap_reading(ts))
        # the box's Wi-Fi probe: 20 Mbit/s in opening hours, 2 at night (backups running)
        readings.append(Reading(center="p1", agent="pi-1", device="probe", type="network", ts=ts, status="ok",
                                metrics={"wifi_probe_download_mbps": 20.0 if HOURS.is_open_ts(ts)
                                 else 2.0}))
        ts += STEP
    for i in range(0, len(readings), 2000):
        store.write(readings[i:i + 2000])
    now = at(1, 0, month=12)
    store.write([DeviceInfo(center="p1", agent="pi-1", device="prn1", name="Máy in quầy 2",
                            type="printer", status="ok", last_seen=now, agent_ts=now,
                            consecutive_failures=0,
                            metrics={"model": "HP LaserJet M404dn", "supply.1.name": "Black",
                             "supply.2.name": "Cyan"}, faults=()),
                 DeviceInfo(center="p1", agent="pi-1", device="ap1", name="Wi-Fi sảnh",
                            type="wifi_ap", status="ok", last_seen=now, agent_ts=now,
                            consecutive_failures=0, metrics={}, faults=())])
    # alerts: (device, code, opened, acked after s, resolved after s)
    for device, code, opened, ack_s, fix_s in [
            ("prn1", "device.unreachable", at(10, 9), 600, 7200),
            ("prn1", "device.unreachable", at(23, 11, 30), 1200, 7200),
            ("prn1", "printer.jammed", at(5, 10), 1800, 2700),
            ("prn1", "printer.jammed", at(28, 10, month=10), 60, 60)]:  # October: not counted
        key = AlertKey(center="p1", agent="pi-1", device=device, code=code)
        store.write([OpenAlert(key=key, severity="critical", device_name="Máy in quầy 2", params={},
                               at=opened)])
        alert = store.alerts(center="p1")[0]
        store.ack(alert.id, "Lan", "đang tới", opened + ack_s)
        store.write([ResolveAlert(key, opened + fix_s, "cleared")])


def config(db: str) -> ControllerConfig:
    return ControllerConfig(broker=BrokerSettings("127.0.0.1", 1883), db=db,
                            centers=(CenterInfo(id="p1", name="Phường 1", hours=HOURS),),
                            reports=ReportSettings(lead_days=7, order_within_days=7))


def test_known_month_report_matches_hand_computed_numbers(target: str) -> None:
    store = Store(target)
    build_month(store)
    period = month_period("2026-11", "Asia/Ho_Chi_Minh")
    report = reporting.gather(store, config(target), period, now=at(3, 9, month=12))

    # Opening time: 21 weekdays in November 2026, less the holiday: 20 x 8 h
    prn = next(a for a in report.devices if a.key == "prn1")
    assert prn.open_s == pytest.approx(160 * 3600)
    assert prn.down_s == pytest.approx(3 * 3600)           # 2 h + 1 h, by hand above
    assert prn.nodata_s == pytest.approx(0)
    assert prn.ratio == pytest.approx(157 / 160)
    ap = next(a for a in report.devices if a.key == "ap1")
    assert ap.ratio == pytest.approx(1.0)
    assert report.city.ratio == pytest.approx((157 + 160 + 160) / 480)
    assert {t.type: t.ratio for t in report.by_type} == pytest.approx(
        {"printer": 157 / 160, "wifi_ap": 1.0, "network": 1.0})

    inc = report.city_incidents
    assert inc.count == 3                                   # October's jam is not November's
    assert inc.mtta_s == pytest.approx((600 + 1200 + 1800) / 3)
    assert inc.mttr_s == pytest.approx((7200 + 7200 + 2700) / 3)
    assert inc.top[0] == ("device.unreachable", 2)
    assert report.model_faults[0].model == "HP LaserJet M404dn"

    # 96 open five-minute steps a day x 20 days, less 24 + 12 while unreachable, x 10 pages;
    # the counter reset on the 16th adds nothing and takes nothing away
    assert report.pages[0].pages == (96 * 20 - 36) * 10 == 18_840
    assert report.pages_by_center == {"p1": 18_840}

    supplies = {s.supply: s for s in report.supplies}
    black, cyan = supplies["supply.1.pct"], supplies["supply.2.pct"]
    assert black.supply_name == "Black" and black.replaced == 1
    assert black.used_pct == pytest.approx(9 + 21, abs=0.05)  # 80->71, then 100->79
    # since the new cartridge: exactly 1 %/day; the last hour's average is 79.02 %
    assert black.forecast.rate_per_day == pytest.approx(1.0, abs=0.001)
    assert black.forecast.days_left == pytest.approx(79.0, abs=0.1)
    assert black.forecast.confidence == "high"
    assert cyan.forecast.rate_per_day == pytest.approx(1.5, abs=0.001)
    assert cyan.forecast.days_left == pytest.approx(15.03 / 1.5, abs=0.1)  # 10 days
    assert cyan.forecast.empty_on == date(2026, 12, 11)
    assert cyan.order_by == date(2026, 12, 4)              # 7 days of delivery before empty
    assert [s.supply for s in report.order] == ["supply.2.pct"]  # black lasts 79 days

    wifi = report.wifi[0]
    # 20 open days x 8 clock hours; Fridays (6th, 13th, 27th: the 20th is a holiday) idle
    assert wifi.open_hours == 160 and wifi.idle_open_hours == 24
    assert wifi.peak == 5
    assert wifi.probe_mbps == 20.0  # what users got while the hall was open, not at night
    assert wifi.average == pytest.approx((136 * 5) / 160, abs=0.05)

    page = render_html(report, "vi")
    assert "98,13 %" in page and "Đặt mực cho các máy in này trong 7 ngày" in page
    assert "Máy in quầy 2" in page and "18.840" in page  # as Vietnamese write numbers
    english = render_html(report, "en")
    assert "98.13 %" in english and "18,840" in english
    assert "Order supplies for these printers within 7 days" in english
    rows = list(csv.reader(io.StringIO(render_csv(report, "en"))))
    order_at = rows.index(["# order_within_days"])
    assert rows[order_at + 2][4:6] == ["supply.2.pct", "Cyan"]
    by_device = rows.index(["# availability_by_device"])
    assert rows[by_device + 1][-1] == "availability"
    assert {r[2]: r[-1] for r in rows[by_device + 2:by_device + 5]} == {
        "prn1": f"{157 / 160:.5f}", "ap1": "1.00000", "probe": "1.00000"}


def test_history_keeps_raw_days_and_hourly_rows_and_prunes(target: str) -> None:
    store = Store(target)
    store.write([Reading(center="c", agent="a", device="d", type="printer", ts=at(1, 8) + i * 60, status="ok",
                         metrics={"page_count": 100 + i, "sys_descr": "x"}) for i in range(180)])
    store.write([Reading(center="c", agent="a", device="d", type="printer", ts=at(1, 8) + i * 60, status="ok",
                         metrics={"page_count": 100 + i}) for i in range(3)])  # redelivered: no new rows
    counts = history_store.row_counts(store.db)
    # 08:00, 09:00, 10:00, and 11:00, where the 10:59 reading still speaks for 2.5 intervals
    assert counts["history_raw"] == 180 and counts["history_dirty"] == 4
    assert history_store.rollup_all(store.db) == 4
    rows = list(history_store.hourly(store.db, at(1, 0), at(2, 0)))
    assert [r.rollup.metrics["page_count"].rise for r in rows[:3]] == [59, 60, 60]
    assert rows[3].rollup.metrics == {} and rows[3].rollup.runs[0].end == at(1, 10, 59) + 150
    assert rows[1].rollup.metrics["page_count"].min == 160
    assert "sys_descr" not in rows[0].rollup.metrics  # text is no history
    raw_gone, hourly_gone = history_store.prune(store.db, at(1, 8) + 7 * 86400 + 3 * 3600,
                                                raw_keep_s=7 * 86400, hourly_keep_s=400 * 86400)
    assert raw_gone == 180 and hourly_gone == 0
    assert len(list(history_store.hourly(store.db, at(1, 0), at(2, 0)))) == 4
    _, hourly_gone = history_store.prune(store.db, at(1, 8) + 401 * 86400, 7 * 86400,
                                         400 * 86400)
    assert hourly_gone == 4


def test_upkeep_rolls_up_the_hours_that_are_over_and_leaves_the_current_one(
        tmp_path: Path) -> None:
    """The background roll-up takes each device-hour once it is over (and its last reading's
    reach into the next hour too); the hour going on waits for a reader (a report or a chart),
    instead of being rolled up again at every pass as its samples come in."""
    store = Store(tmp_path / "s.db")
    store.write([Reading(center="c", agent="a", device="d", type="printer", ts=at(2, 9) + i * 300,
                         status="ok", metrics={"page_count": 10 * i}) for i in range(24)])  # 09:00 to 10:55
    dirty = history_store.row_counts(store.db)["history_dirty"]
    assert dirty == 3  # 09:00, 10:00, and 11:00 (10:55 still speaks for it)
    assert history_store.rollup_all(store.db, settled_at=at(2, 10, 10)) == 0  # 09:00 + 15 min
    assert history_store.rollup_all(store.db, settled_at=at(2, 10, 15)) == 1  # 09:00 settled
    assert history_store.row_counts(store.db)["history_dirty"] == 2
    assert history_store.rollup_all(store.db) == 2  # a reader: everything


def test_late_replay_rolls_an_hour_up_again(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.write([Reading(center="c", agent="a", device="d", type="printer", ts=at(2, 9) + i * 300,
                         status="ok", metrics={"page_count": 10 * i}) for i in range(12)])
    history_store.rollup_all(store.db)
    # the box was cut off for a while: readings of 09:xx arrive after 09:00 was rolled up
    store.write([Reading(center="c", agent="a", device="d", type="printer",
                         ts=at(2, 9) + i * 300 + 150, status="unreachable", metrics={})
                 for i in range(6, 12)])
    history_store.rollup_all(store.db)
    row = next(history_store.hourly(store.db, at(2, 0), at(3, 0)))
    down = sum(r.end - r.start for r in row.rollup.runs if not r.up)
    assert down == pytest.approx(6 * 150)


# -- the pure parts ----------------------------------------------------------------------
def test_coverage_gives_no_data_when_readings_stop() -> None:
    s = [Sample(0, "ok", {}), Sample(60, "unreachable", {}), Sample(120, "ok", {})]
    runs = coverage(s, None, 0, 3600, valid_s=300)
    assert [(r.start, r.end, r.up) for r in runs] == [(0, 60, True), (60, 120, False),
                                                      (120, 420, True)]


def test_counter_glitch_and_reset_are_new_baselines_not_pages() -> None:
    s = [Sample(i * 60.0, "ok", {"page_count": v})
         for i, v in enumerate([500, 510, 0, 520, 530, 3, 8])]
    r = rollup_hour(0, s, None, 300)
    # 500->510 (+10), 510->0 (reset: 0), 0->520 (a jump no printer makes: 0), 520->530 (+10),
    # 530->3 (reset: 0), 3->8 (+5)
    assert r.metrics["page_count"].rise == 25


def test_tracked_values_keep_zero_and_drop_text_and_bools() -> None:
    assert tracked_values({"wifi_clients": 0, "supply.1.pct": 12.5, "supply.1.name": "K",
                           "outlet.3.power_w": 7, "uptime_s": 5, "page_count": True}) == {
        "wifi_clients": 0.0, "supply.1.pct": 12.5, "outlet.3.power_w": 7.0}


def test_forecast_confidence_and_no_forecast_cases() -> None:
    day = 86400.0
    flat = [(i * 3600.0, 50.0) for i in range(24 * 10)]
    assert forecast(flat, 10 * day, "UTC").days_left is None
    short = [(0.0, 50.0), (3600.0, 49.0)]
    assert forecast(short, 3600.0, "UTC").confidence == "none"
    noisy = [(i * 3600.0, 80 - i / 24 + (3 if i % 2 else -3)) for i in range(24 * 6)]
    f = forecast(noisy, 6 * day, "UTC")
    assert f.confidence in ("low", "medium") and f.days_left is not None
    refilled = [(i * 3600.0, 30 - i / 24) for i in range(24 * 5)] + \
        [((120 + i) * 3600.0, 90 - 2 * i / 24) for i in range(24 * 15)]
    g = forecast(refilled, 20 * day, "UTC")
    assert g.rate_per_day == pytest.approx(2.0, abs=0.001) and g.basis_days == pytest.approx(15, abs=0.1)


def test_month_period_in_city_time() -> None:
    p = month_period("2026-11", "Asia/Ho_Chi_Minh")
    assert p.start == at(1, 0) and p.end == at(1, 0, month=12)
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_period("11/2026", "Asia/Ho_Chi_Minh")


def test_monthly_report_is_due_on_the_first_after_its_hour() -> None:
    s = ReportSettings(monthly_email=("mail",))
    assert reporting.due_month(at(30, 23), s, None) is None
    assert reporting.due_month(at(1, 6, 59, month=12), s, None) is None
    assert reporting.due_month(at(1, 7, 0, month=12), s, None) == "2026-11"
    assert reporting.due_month(at(2, 3, month=12), s, "2026-10") == "2026-11"
    assert reporting.due_month(at(2, 3, month=12), s, "2026-11") is None
    assert reporting.due_month(at(9, 3, month=12), s, "2026-10") is None  # made by hand now


@pytest.mark.integration
def test_pdf_pages_look_like_the_report(tmp_path: Path) -> None:
    if reporting.chromium() is None or shutil.which("pdftoppm") is None:
        pytest.skip("needs Debian chromium and poppler-utils (pdftoppm)")
    store = Store(tmp_path / "s.db")
    build_month(store)
    period = month_period("2026-11", "Asia/Ho_Chi_Minh")
    report = reporting.gather(store, config(str(tmp_path / "s.db")), period,
                              now=at(3, 9, month=12))
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(reporting.render(report, "pdf", "vi"))
    assert pdf.read_bytes().startswith(b"%PDF")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf),
                    str(ARTIFACTS / "report-pdf")], check=True)  # kept, to look at
    subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page*.pgm"))
    assert 1 <= len(pages) <= 8
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "Báo cáo thiết bị các trung tâm" in text and "98,13 %" in text
    assert "Đặt mực cho các máy in này trong 7 ngày" in text
    for page in pages:
        width, height, pixels = read_pgm(page)
        # every page printed, not blank: a share of its pixels carry ink
        dark = sum(1 for px in pixels if px < 128)
        assert dark > width * height * 0.003, page.name


def read_pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary PGM (P5) as pdftoppm -gray writes it: width, height, one byte per pixel."""
    data = path.read_bytes()
    fields = data.split(maxsplit=4)
    assert fields[0] == b"P5" and fields[3] == b"255"
    width, height = int(fields[1]), int(fields[2])
    return width, height, fields[4][-width * height:]


@pytest.mark.integration
def test_monthly_report_is_mailed_once_in_vietnamese(tmp_path: Path) -> None:
    from email import policy
    from email.parser import BytesParser

    from controller.channels.email import Settings as EmailSettings
    from controller.config import NotifySettings, Receiver
    from lab.procs import free_port
    from lab.receivers import SmtpReceiver

    smtp = SmtpReceiver()
    try:
        db = tmp_path / "s.db"
        store = Store(db)
        build_month(store)
        mail = Receiver(name="city", kind="email",
                        settings=EmailSettings(host="127.0.0.1", port=smtp.port, sender="hcc@city.vn",
                                               to=("mua-sam@city.vn",)))
        cfg = replace(config(str(db)), notify=NotifySettings(receivers=(mail,)),
                      reports=ReportSettings(monthly_email=("city",), monthly_format="html"))
        assert reporting.monthly_step(store, cfg, at(1, 6, month=12)) is None  # not yet 07:00
        assert reporting.monthly_step(store, cfg, at(1, 7, 5, month=12)) == "2026-11"
        # sent once: this controller later, or another one on the same database, sends nothing
        assert reporting.monthly_step(store, cfg, at(1, 7, 6, month=12)) is None
        assert reporting.monthly_step(Store(db), cfg, at(1, 8, month=12)) is None
        wait = [m for m in smtp.messages]
        assert len(wait) == 1
        msg = BytesParser(policy=policy.default).parsebytes(wait[0].as_bytes())
        assert msg["Subject"] == "[HCC] Báo cáo thiết bị các trung tâm — 2026-11"
        assert msg["To"] == "mua-sam@city.vn"
        body = msg.get_body(("plain",))
        assert body is not None and "Mực cần đặt: 1" in body.get_content()
        attachment = next(msg.iter_attachments())
        assert attachment.get_filename() == "hcc-report-2026-11.html"
        assert "98,13 %" in attachment.get_content()
    finally:
        smtp.stop()
    # the mail server is down: not sent, said so, tried again 15 minutes later
    db2 = tmp_path / "s2.db"
    store2 = Store(db2)
    dead = Receiver(name="city", kind="email",
                    settings=EmailSettings(host="127.0.0.1", port=free_port(), sender="hcc@city.vn",
                                           to=("x@city.vn",)))
    cfg2 = replace(config(str(db2)), notify=NotifySettings(receivers=(dead,)),
                   reports=ReportSettings(monthly_email=("city",), monthly_format="csv"))
    assert reporting.monthly_step(store2, cfg2, at(1, 7, 5, month=12)) is None
    runs = store2.report_runs()
    assert runs[0]["status"] == "failed" and "Connection refused" in runs[0]["last_error"]
    assert not store2.claim_report("2026-11", at(1, 7, 10, month=12), reporting.MONTHLY_RETRY_S)
    assert store2.claim_report("2026-11", at(1, 7, 21, month=12), reporting.MONTHLY_RETRY_S)


def test_report_settings_name_an_email_receiver(tmp_path: Path) -> None:
    from controller.config import load
    from hcc_common.yamlconf import ConfigError

    path = tmp_path / "controller.yaml"
    path.write_text("notify:\n  receivers:\n    - {name: hook, webhook: {url: 'http://x'}}\n"
                    "reports:\n  monthly:\n    email: [hook]\n")
    with pytest.raises(ConfigError) as err:
        load(path)
    assert f"{path}:6" in str(err.value) and "'hook' is no email receiver" in str(err.value)
    path.write_text("reports:\n  lead_time: 10d\n  order_within: 14d\n  monthly:\n"
                    "    email: []\n    at: '06:30'\n")
    cfg = load(path)
    assert cfg.reports.lead_days == 10 and cfg.reports.order_within_days == 14
    assert cfg.reports.monthly_at == time(6, 30)
    path.write_text("history:\n  raw: 3d\n  hourly: 730d\n")
    assert load(path).history.raw_keep_s == 3 * 86400


@pytest.mark.integration
def test_report_cli_writes_csv_and_refuses_bad_periods(tmp_path: Path) -> None:
    from conftest import cli_account, run_cli

    db = tmp_path / "s.db"
    build_month(Store(db))
    cli_account(db)  # the CLI reads as an account (never anonymously)
    out = tmp_path / "r.csv"
    done = run_cli("hcc-controller", "report", "--db", str(db), "--month", "2026-11",
                   "--format", "csv", "--out", str(out), "--lang", "en")
    assert done.returncode == 0, done.stderr
    text = out.read_text(encoding="utf-8-sig")
    assert "# pages" in text and ",prn1," in text
    bad = run_cli("hcc-controller", "report", "--db", str(db), "--month", "2026-13",
                  "--out", str(out))
    assert bad.returncode == 2 and "viết YYYY-MM" in bad.stderr  # in Vietnamese by default
    both = run_cli("hcc-controller", "report", "--db", str(db), "--month", "2026-11",
                   "--from", "2026-11-01", "--to", "2026-11-07", "--out", str(out))
    assert both.returncode == 2 and "không ghi cả hai" in both.stderr
    week = run_cli("hcc-controller", "report", "--db", str(db), "--from", "2026-11-09",
                   "--to", "2026-11-15", "--format", "html", "--out", str(out))
    assert week.returncode == 0, week.stderr
    assert "2026-11-09 – 2026-11-15" in out.read_text()


def test_notifications_link_the_device_page(tmp_path: Path) -> None:
    from controller.channels import alertmanager, email, webhook
    from controller.channels.base import Outgoing

    store = Store(tmp_path / "s.db")
    key = AlertKey(center="ba-dinh", agent="pi-1", device="máy in 2", code="printer.jammed")
    store.write([OpenAlert(key=key, severity="critical", device_name="Máy in quầy 2", params={},
                           at=at(5, 10))])
    alert = store.alerts()[0]
    mail = email.Settings(host="127.0.0.1", port=25, sender="hcc@city.vn", to=("a@city.vn",))
    msg = Outgoing(kind="alerts", center="ba-dinh", changes=[("opened", alert)], public_url="https://hcc.city.vn/")
    page = "https://hcc.city.vn/devices/ba-dinh/m%C3%A1y%20in%202"
    assert webhook.body(msg)["alerts"][0]["page"] == page
    assert alertmanager.body(msg)[0]["generatorURL"] == page
    assert page in email.message(msg, mail, ["a@city.vn"]).get_content()
    assert webhook.body(Outgoing(kind="alerts", center="ba-dinh", changes=[("opened", alert)]))["alerts"][0][
        "page"] is None
