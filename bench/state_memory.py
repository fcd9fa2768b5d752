"""Controller memory per device, interval after interval, in one process without MQTT: does it level off?

The soak's memory figure includes the broker path; this one feeds the ingest loop's own handler
(decode, rules, state, SQLite store) with every device's report once per interval, and prints the
resident memory after each interval. A leak keeps growing; a working set levels off.

    bench/run state_memory [--quick] [--agents N] [--intervals K]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.procstat import status_mb
from bench.soak import DEVICES, FAULTY, HEALTHY, check_templates
from controller.config import load
from controller.service import build_ingest
from controller.state import Effect


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="2,000 agents, 3 intervals")
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--intervals", type=int, default=4)
    args = ap.parse_args()
    agents, intervals = (2000, 3) if args.quick else (args.agents, args.intervals)
    check_templates()
    baseline = status_mb()
    with tempfile.TemporaryDirectory(prefix="hcc-bench-memory-") as tmp:
        cfg = Path(tmp) / "controller.yaml"
        # the broker address is never used: handle() is called directly
        cfg.write_text(f'mqtt: {{url: "mqtt://127.0.0.1:1"}}\ndb: "{tmp}/hcc.db"\n'
                       "alert_rules: [{name: all, fault: '*'}]\n")
        ctl = build_ingest(load(cfg))
        empty = status_mb()
        seqs = [0] * agents
        after: list[int] = []
        for interval in range(intervals):
            started = time.perf_counter()
            batch: list[Effect] = []
            for a in range(agents):
                for d in range(DEVICES):
                    seqs[a] += 1
                    now = time.time()
                    # one device in 3,000 turns faulty each interval, as in the soak
                    template = FAULTY if (a * DEVICES + d) % 3000 == interval else HEALTHY
                    batch += ctl.handle(f"hcc/v1/c{a:05d}/pi-1/result/d{d:02d}",
                                        template % (a, d, seqs[a], now, d, seqs[a]), now)
                    if len(batch) >= 2000:
                        ctl.store.write(batch + ctl.write_behind.agents(ctl.fleet))
                        batch = []
            ctl.store.write(batch + ctl.write_behind.agents(ctl.fleet)
                            + ctl.write_behind.devices(ctl.fleet))
            after.append(status_mb())
            took = time.perf_counter() - started
            print(f"interval {interval + 1}: {agents * DEVICES} reports in {took:.0f} s "
                  f"({took / (agents * DEVICES) * 1e6:.0f} us each), RSS {after[-1]} MB", flush=True)
        ctl.store.close()
    devices = agents * DEVICES
    per_device_kb = (after[0] - empty) * 1024 / devices
    print(f"state_rss_mb={after[-1]} python_baseline_mb={baseline} empty_controller_mb={empty} "
          f"kb_per_device={per_device_kb:.2f} growth_after_second_interval_mb="
          f"{after[-1] - after[min(1, len(after) - 1)]} devices={devices} intervals={intervals}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
