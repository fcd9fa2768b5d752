"""What a PDF report costs, and what eight at once cost: a city of CENTERS x DEVICES printers,
one PDF over 400 days (seconds, summed RSS of every Chromium process), then eight concurrent
PDF requests to the real API (answers, most Chromium processes alive at once).

    .venv/bin/python -m bench.report_pdf [centers] [devices per center]
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from controller import pdf_queue, reporting
from controller.api import create_app
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.report import days_period
from controller.report_render import render_html
from controller.state import DeviceInfo, Reading
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

TOKEN = "bench-token-0123456789abcdef"


def chromium_processes() -> tuple[int, int]:
    """(processes, sessions) of the PDF runs alive now: every process whose session leader is
    a Chromium printing a report (other tests' browsers on this host do not count)."""
    leaders: dict[int, bool] = {}
    n = 0
    sessions = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = pdf_queue.proc_stat(entry.name)
        if fields is None:
            continue
        sid = int(fields[3])
        if sid not in leaders:
            try:
                cmd = Path(f"/proc/{sid}/cmdline").read_bytes()
            except OSError:
                cmd = b""
            leaders[sid] = b"hcc-report-" in cmd and b"--print-to-pdf" in cmd
        if leaders[sid]:
            n += 1
            sessions.add(sid)
    return n, len(sessions)


def main(centers: int, devices: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="hcc-bench-pdf-"))
    db = tmp / "c.db"
    store = Store(db)
    now = time.time()
    effects: list[object] = []
    for c in range(centers):
        for d in range(devices):
            effects.append(DeviceInfo(
                center=f"c{c}", agent="pi-1", device=f"prn{d}", name=f"Máy in quầy {d}",
                type="printer", status="ok", last_seen=now, agent_ts=now,
                consecutive_failures=0,
                metrics={"supply.1.pct": 50.0, "supply.1.name": "Black"}, faults=()))
            for h in range(3):
                effects.append(Reading(center=f"c{c}", agent="pi-1", device=f"prn{d}",
                                       type="printer", ts=now - 3600 * h, status="ok",
                                       metrics={"page_count": 1000 + h, "supply.1.pct": 50.0}))
    store.write(effects)  # type: ignore[arg-type]
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db, centers=tuple(
        CenterInfo(id=f"c{c}", name=f"Trung tâm {c}", hours=OpeningHours()) for c in range(centers)),
        http=HttpSettings(listen_host="127.0.0.1", listen_port=free_port(), tokens={TOKEN: "bench"}))
    today = time.gmtime(now)
    last = time.strftime("%Y-%m-%d", today)
    from datetime import date, timedelta

    first = (date.fromisoformat(last) - timedelta(days=399)).isoformat()
    period = days_period(date.fromisoformat(first), date.fromisoformat(last),
                         cfg.reports.timezone)
    report = reporting.gather(store, cfg, period)
    page = render_html(report, "vi")
    html = tmp / "page.html"
    html.write_text(page, encoding="utf-8")
    binary = reporting.chromium()
    assert binary is not None, "no Chromium"
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
           "--no-first-run", "--no-pdf-header-footer", f"--user-data-dir={tmp}/hcc-report-p",
           f"--print-to-pdf={tmp}/one.pdf", html.as_uri()]
    try:  # measured without the limit: what the run would take
        one = pdf_queue.run_bounded(cmd, stderr_path=tmp / "err", time_limit_s=600,
                                    memory_limit_bytes=64 << 30)
    except pdf_queue.LimitExceeded as exc:
        print(f"one PDF: {exc}")
        return
    print(f"one PDF, {centers * devices} devices, 400 days: HTML {len(page) / 1e6:.1f} MB, "
          f"{one.seconds:.1f} s, peak summed PSS {one.peak_memory_bytes / 2**20:.0f} MiB, "
          f"PDF {(tmp / 'one.pdf').stat().st_size / 1e6:.1f} MB")

    assert cfg.http is not None
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, StorePerThread(db), None),
                                           host="127.0.0.1", port=cfg.http.listen_port,
                                           log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_tcp(cfg.http.listen_port, 15)
    url = f"http://127.0.0.1:{cfg.http.listen_port}/api/v1/report"
    answers: list[int] = []
    most = (0, 0)
    stop = threading.Event()

    def watch() -> None:
        nonlocal most
        while not stop.is_set():
            now_alive = chromium_processes()
            most = (max(most[0], now_alive[0]), max(most[1], now_alive[1]))
            time.sleep(0.05)

    def ask() -> None:
        r = httpx.get(url, params={"from": first, "to": last, "format": "pdf"},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=600)
        answers.append(r.status_code)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    askers = [threading.Thread(target=ask) for _ in range(8)]
    for t in askers:
        t.start()
    for t in askers:
        t.join()
    stop.set()
    watcher.join()
    print(f"eight at once: answers {sorted(answers)}, at most {most[0]} Chromium processes "
          f"in {most[1]} run(s) alive at once, "
          f"{time.monotonic() - started:.1f} s in all")
    server.should_exit = True


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 130,
         int(sys.argv[2]) if len(sys.argv) > 2 else 20)
