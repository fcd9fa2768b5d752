"""What device history costs: ingest writes with and without the full-rate readings, bytes per
raw and per hourly row, and the roll-up's speed; SQLite (and PostgreSQL with --pg URL).

A simulated city hour: N devices (printers with four supplies and a page counter, access points
with a client count) each reporting every 30 s, written through Store.write in batches as the
ingest loop writes them. The baseline is the same batches with the history switched off (only
the devices' state rows), in the same run.

    bench/run history [--quick] [--devices N] [--pg postgresql://127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from controller import history_store
from controller.state import DeviceInfo, Effect, Reading
from controller.store import Store

INTERVAL_S = 30.0
BATCH = 500


def batches(devices: int, readings: bool, start: float, polls: int) -> list[list[Effect]]:
    out: list[list[Effect]] = []
    effects: list[Effect] = []
    for poll in range(polls):
        ts = start + poll * INTERVAL_S
        for d in range(devices):
            printer = d % 3 != 0
            metrics: dict[str, float | int | str] = (
                {"page_count": 100_000 + d * 7 + poll * 2, "supply.1.pct": 80 - poll * 0.01,
                 "supply.2.pct": 55.0, "supply.3.pct": 61.0, "supply.4.pct": 40.0,
                 "supply.1.name": "Black", "printer_status": "idle", "uptime_s": 9000 + poll}
                if printer else {"wifi_clients": d % 17, "uptime_s": 9000 + poll,
                                 "if.eth0.oper": "up"})
            center, dev = f"c{d // 30:04d}", f"d{d % 30:02d}"
            kind = "printer" if printer else "wifi_ap"
            effects.append(DeviceInfo(center=center, agent="pi-1", device=dev, name=dev, type=kind,
                                      status="ok", last_seen=ts, agent_ts=ts,
                                      consecutive_failures=0, metrics=metrics, faults=()))
            if readings:
                effects.append(Reading(center=center, agent="pi-1", device=dev, type=kind, ts=ts,
                                       status="ok", metrics=metrics))
            if len(effects) >= BATCH:
                out.append(effects)
                effects = []
    if effects:
        out.append(effects)
    return out


def run(target: str, devices: int, polls: int, readings: bool) -> float:
    store = Store(target)
    work = batches(devices, readings, 1_790_000_000.0, polls)
    t0 = time.perf_counter()
    for b in work:
        store.write(b)
    elapsed = time.perf_counter() - t0
    store.close()
    return devices * polls / elapsed


def compact(store: Store) -> None:
    """VACUUM, then fold the WAL into the file: only then does the file's size tell."""
    store.db.execute("VACUUM")
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="300 devices, 20 polls")
    ap.add_argument("--devices", type=int, default=3900)  # a city: 130 centers x 30 devices
    ap.add_argument("--polls", type=int, default=120)      # one hour at 30 s
    ap.add_argument("--pg", default=None, help="also on this PostgreSQL (a schema of its own)")
    args = ap.parse_args()
    devices, polls = (300, 20) if args.quick else (args.devices, args.polls)
    with tempfile.TemporaryDirectory(prefix="hcc-bench-history-") as tmp:
        base_db, hist_db = Path(tmp) / "base.db", Path(tmp) / "hist.db"
        baseline = run(str(base_db), devices, polls, readings=False)
        with_history = run(str(hist_db), devices, polls, readings=True)
        store = Store(hist_db)
        counts = history_store.row_counts(store.db)
        t0 = time.perf_counter()
        rolled = history_store.rollup_all(store.db)
        roll_s = time.perf_counter() - t0
        compact(store)
        size = os.path.getsize(hist_db)
        base = Store(base_db)
        compact(base)
        base.close()
        base_size = os.path.getsize(base_db)
        raw_bytes = (size - base_size) / max(1, counts["history_raw"])
        store.db.execute("DELETE FROM history_raw")
        compact(store)
        hourly_bytes = (os.path.getsize(hist_db) - base_size) / max(1, rolled)
        print(f"devices={devices} polls={polls} (every {INTERVAL_S:g} s)")
        print(f"ingest writes, SQLite: {baseline:,.0f} reports/s without history (baseline), "
              f"{with_history:,.0f} reports/s with it ({with_history / baseline:.2f}x)")
        print(f"raw rows: {counts['history_raw']:,}, ≈{raw_bytes:.0f} B each on disk with the "
              f"index; hourly rows: {rolled:,}, ≈{hourly_bytes:.0f} B each")
        print(f"roll-up: {rolled:,} device-hours in {roll_s:.2f} s "
              f"({rolled / roll_s:,.0f} device-hours/s)")
        if args.pg:
            import uuid

            import psycopg

            schema = f"hcc_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f"CREATE SCHEMA {schema}")
            url = f"{args.pg}{'&' if '?' in args.pg else '?'}options=-csearch_path%3D{schema}"
            try:
                pg_base = run(url, devices, polls // 2, readings=False)
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
                    conn.execute(f"CREATE SCHEMA {schema}")
                pg_hist = run(url, devices, polls // 2, readings=True)
                print(f"ingest writes, PostgreSQL: {pg_base:,.0f} reports/s baseline, "
                      f"{pg_hist:,.0f} with history ({pg_hist / pg_base:.2f}x)")
            finally:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f"DROP SCHEMA {schema} CASCADE")
        print(f"history_cost_ratio={with_history / baseline:.2f} raw_bytes_per_row={raw_bytes:.0f} "
              f"hourly_bytes_per_row={hourly_bytes:.0f} rollup_per_s={rolled / roll_s:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
