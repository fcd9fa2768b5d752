"""What the pages cost for a city and for a country: a fleet of CENTERS x 30 devices in SQLite,
served by the real API (uvicorn on loopback); the dashboard's first render, the alerts API's
p50/p99, a device page with 30 days of history, and (at 130 centers) the monthly report as HTML
and PDF.

    bench/run pages [--quick] [--centers 130,10000] [--devices 30]

The dashboard's first render is what its browser waits for: the page, then /api/v1/centers (one
page of centers, as app.js asks) and the open alerts, in parallel as app.js fetches them; with
Chromium, also the whole load and render (`--dump-dom`) less the same browser loading a blank
page in the same run (the baseline: the browser's own start). Figures are printed next to the
same requests on an empty controller in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from controller import history_store, reporting
from controller.api import create_app
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.report import month_period
from controller.state import AgentInfo, AlertKey, DeviceInfo, OpenAlert, Reading
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

TOKEN = "bench-token-0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}
TYPES = ("printer", "wifi_ap", "charger", "kiosk", "screen", "ups")


def load_fleet(db: Path, centers: int, devices: int, history_days: int,
               report_centers: int) -> None:
    """The fleet as ingest would have left it: a box per center, its devices, an open alert in
    one center of twenty; 30 days of hourly history for one device (the device page), and for
    every device of the first `report_centers` centers (the monthly report)."""
    store = Store(db)
    now = time.time()
    batch: list[object] = []

    def flush(force: bool = False) -> None:
        if len(batch) >= 20_000 or (force and batch):
            store.write(batch)  # type: ignore[arg-type]
            batch.clear()

    for c in range(centers):
        cid = f"c{c:05d}"
        batch.append(AgentInfo(cid, "pi-1", last_seen=now))
        for d in range(devices):
            kind = TYPES[d % len(TYPES)]
            metrics: dict[str, float | int | str] = (
                {"supply.1.pct": 50.0, "supply.1.name": "Black", "page_count": 10_000 + d}
                if kind == "printer" else {"wifi_clients": d % 17} if kind == "wifi_ap" else {})
            batch.append(DeviceInfo(cid, "pi-1", f"{kind}-{d}", f"Thiết bị {d}", kind, "ok",
                                    now, now, 0, metrics, ()))
        if c % 20 == 0:
            batch.append(OpenAlert(AlertKey(cid, "pi-1", "printer-0", "printer.jammed"),
                                   "critical", "Thiết bị 0", {}, now - 600))
        flush()
    flush(force=True)
    hours = [now - 3600 * h for h in range(history_days * 24)]
    for ts in hours:  # the device page's device, every hour for 30 days
        batch.append(Reading("c00000", "pi-1", "printer-0", "printer", ts, "ok",
                             {"page_count": 10_000 + int(ts // 3600) % 1000,
                              "supply.1.pct": 50.0}))
        flush()
    for c in range(report_centers):
        for d in range(devices):
            kind = TYPES[d % len(TYPES)]
            for ts in hours[::6]:  # four readings a day: what the hourly roll-up keeps
                batch.append(Reading(f"c{c:05d}", "pi-1", f"{kind}-{d}", kind, ts, "ok",
                                     {"page_count": 1000 + int(ts // 3600)}
                                     if kind == "printer" else {}))
            flush()
    flush(force=True)
    # as the upkeep loop leaves it every hour: what came in is rolled up (not the report's)
    history_store.rollup_all(store.db)
    store.close()


def serve(db: Path, centers: int) -> tuple[uvicorn.Server, str, ControllerConfig]:
    port = free_port()
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db, centers=tuple(
        CenterInfo(f"c{c:05d}", f"Trung tâm {c}", OpeningHours()) for c in range(centers)),
        http=HttpSettings("127.0.0.1", port, tokens={TOKEN: "bench"}, read_open=True))
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, StorePerThread(db), None),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    wait_tcp(port, 30)
    return server, f"http://127.0.0.1:{port}", cfg


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def dashboard(http: httpx.Client, url: str) -> tuple[float, int]:
    """(seconds, bytes) for the page and its two API reads (parallel, as app.js does)."""
    size = 0
    start = time.perf_counter()
    size += len(http.get(url + "/", headers=HEADERS).content)
    got: list[int] = []

    def get(path: str) -> None:
        r = http.get(url + path, headers=HEADERS)
        r.raise_for_status()
        got.append(len(r.content))

    reads = [threading.Thread(target=get, args=(p,)) for p in
             ("/api/v1/centers?limit=100", "/api/v1/alerts?state=open&limit=1000")]
    for t in reads:
        t.start()
    for t in reads:
        t.join()
    return time.perf_counter() - start, size + sum(got)


def chromium_render(url: str, tmp: Path) -> float | None:
    binary = reporting.chromium()
    if binary is None:
        return None

    def run(target: str) -> float:
        return timed(lambda: subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", f"--user-data-dir={tmp / 'chromium'}",
             "--virtual-time-budget=30000", "--dump-dom", target],
            capture_output=True, timeout=180, check=False))

    run("about:blank")  # the first start fills the profile
    blank = min(run("about:blank") for _ in range(2))
    page = min(run(url + "/") for _ in range(2))
    return max(0.0, page - blank)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def measure(centers: int, devices: int, report_centers: int, rounds: int, tmp: Path,
            pdf: bool) -> dict[str, float]:
    db = tmp / f"fleet-{centers}.db"
    started = time.perf_counter()
    load_fleet(db, centers, devices, 30, report_centers)
    loaded = time.perf_counter() - started
    server, url, cfg = serve(db, centers)
    out: dict[str, float] = {"load_s": loaded}
    try:
        with httpx.Client(timeout=120) as http:
            dashboard(http, url)  # warm: the first request imports and opens what it needs
            runs = [dashboard(http, url) for _ in range(5)]
            out["dashboard_s"] = statistics.median(r[0] for r in runs)
            out["dashboard_kb"] = runs[-1][1] / 1000
            api: list[float] = []
            for i in range(rounds):
                path = ("/api/v1/alerts?state=open&limit=100" if i % 2 else
                        f"/api/v1/alerts?center=c{(i * 37) % centers:05d}")
                start = time.perf_counter()
                http.get(url + path, headers=HEADERS).raise_for_status()
                api.append(time.perf_counter() - start)
            out["alerts_p50_ms"], out["alerts_p99_ms"] = (x * 1000 for x in percentiles(api))
            device = "/api/v1/devices/c00000/printer-0"
            out["device_page_s"] = statistics.median(timed(lambda: (
                http.get(url + device, headers=HEADERS).raise_for_status(),
                http.get(url + device + "/series?range=30d", headers=HEADERS)
                .raise_for_status())) for _ in range(5))
        render = chromium_render(url, tmp)
        if render is not None:
            out["dashboard_render_s"] = render
        if report_centers:
            month = time.strftime("%Y-%m")
            period = month_period(month, cfg.reports.timezone)
            report_cfg = ControllerConfig(cfg.broker, db, centers=cfg.centers[:report_centers],
                                          http=cfg.http)
            store = Store(db)
            out["report_html_s"] = timed(lambda: reporting.make(
                store, report_cfg, period=period, center=None, fmt="html", lang="vi"))
            if pdf and reporting.chromium() is not None:
                out["report_pdf_s"] = timed(lambda: reporting.make(
                    store, report_cfg, period=period, center=None, fmt="pdf", lang="vi"))
            store.close()
    finally:
        server.should_exit = True
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="130 and 1,000 centers, no PDF")
    parser.add_argument("--centers", default="130,10000")
    parser.add_argument("--devices", type=int, default=30)
    args = parser.parse_args()
    sizes = [130, 1000] if args.quick else [int(x) for x in args.centers.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="hcc-bench-pages-"))
    try:
        base = measure(1, 1, 0, 50, tmp, pdf=False)
        print(f"baseline, 1 center x 1 device: dashboard {base['dashboard_s']:.3f} s "
              f"({base['dashboard_kb']:.0f} kB), alerts p50 {base['alerts_p50_ms']:.1f} ms "
              f"p99 {base['alerts_p99_ms']:.1f} ms"
              + (f", render {base['dashboard_render_s']:.2f} s"
                 if "dashboard_render_s" in base else ""))
        figures: dict[int, dict[str, float]] = {}
        for n in sizes:
            f = figures[n] = measure(n, args.devices, 130 if n == 130 else 0, 400, tmp,
                                     pdf=not args.quick)
            print(f"{n} centers x {args.devices} devices (loaded in {f['load_s']:.0f} s): "
                  f"dashboard {f['dashboard_s']:.3f} s ({f['dashboard_kb']:.0f} kB)"
                  + (f", render {f['dashboard_render_s']:.2f} s"
                     if "dashboard_render_s" in f else "")
                  + f"; alerts p50 {f['alerts_p50_ms']:.1f} ms p99 {f['alerts_p99_ms']:.1f} ms;"
                  f" device page (30 days) {f['device_page_s']:.3f} s"
                  + (f"; monthly report HTML {f['report_html_s']:.1f} s"
                     if "report_html_s" in f else "")
                  + (f", PDF {f['report_pdf_s']:.1f} s" if "report_pdf_s" in f else ""))
        big = figures[max(sizes)]
        print(f"pages_dashboard_s={big['dashboard_s']:.3f} "
              f"pages_alerts_p99_ms={big['alerts_p99_ms']:.1f} centers={max(sizes)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
