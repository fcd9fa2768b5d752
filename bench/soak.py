"""Fleet soak: thousands of simulated agents (30 devices each, one report per device per
interval) published from one process into the controller; sustained ingest, alert latency
percentiles and the controller's memory growth.

    bench/run soak [--quick] [--agents N] [--minutes M]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from hcc_common import wire
from lab.procs import Mosquitto, spawn

BIN = Path(sys.executable).parent
DEVICES = 30
INTERVAL_S = 30.0


def rss_mb(pid: int) -> float:
    """The controller's resident memory, its MQTT process included."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 agents for 1 minute")
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()
    agents = 1000 if args.quick else args.agents
    seconds = 60.0 if args.quick else args.minutes * 60
    rate = agents * DEVICES / INTERVAL_S
    rng = random.Random(3)
    with tempfile.TemporaryDirectory(prefix="hcc-bench-soak-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker").start()
        db = work / "hcc.db"
        (work / "controller.yaml").write_text(
            f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\n'
            "alert_rules: [{name: all, fault: '*'}]\nrules: {heartbeat_misses: 1000}\n")
        ctl = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                   str(work / "controller.yaml"), "--log-level", "warning"],
                    work / "ctl.log")
        pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-fleet")
        pub.max_inflight_messages_set(2000)
        pub.max_queued_messages_set(200_000)
        try:
            while not db.exists():
                time.sleep(0.1)
            time.sleep(1.0)
            pub.connect("127.0.0.1", broker.port)
            pub.loop_start()
            seqs = [0] * agents
            faulty: dict[tuple[int, int], float] = {}  # (agent, device) -> when the fault began
            sent = 0
            start = time.monotonic()
            rss_start = rss_end = 0.0
            slot = 0
            print(f"{agents} agents x {DEVICES} devices every {INTERVAL_S:.0f} s = {rate:,.0f} "
                  f"msg/s for {seconds:.0f} s ...", flush=True)
            while time.monotonic() - start < seconds:
                tick = time.monotonic()
                # each 100 ms, the devices whose turn it is report (spread over the interval)
                per_tick = int(rate / 10)
                for _ in range(per_tick):
                    i = slot % (agents * DEVICES)
                    slot += 1
                    a, d = divmod(i, DEVICES)
                    seqs[a] += 1
                    now = time.time()
                    if (a, d) not in faulty and rng.random() < 1 / 3000:
                        faulty[(a, d)] = now
                    fault = (wire.FaultReport("printer.jammed", "critical", {}),) \
                        if (a, d) in faulty else ()
                    m = wire.encode(wire.Result(
                        f"c{a:05d}", "pi-1", f"d{d:02d}", 1, seqs[a], now, "printer", f"d{d:02d}",
                        "critical" if fault else "ok", {"uptime_s": seqs[a], "pages": 1000},
                        fault))
                    pub.publish(m.topic, m.payload, qos=1)
                    sent += 1
                # after one full interval every device has reported once: growth from here on
                # is what a long run would keep adding
                if rss_start == 0.0 and time.monotonic() - start > min(INTERVAL_S + 5, seconds / 2):
                    rss_start = rss_mb(ctl.popen.pid)
                time.sleep(max(0.0, 0.1 - (time.monotonic() - tick)))
            pub_s = time.monotonic() - start
            rss_end = rss_mb(ctl.popen.pid)
            # drain: how far behind is the controller when the publisher stops?
            behind_at_end = None
            deadline = time.monotonic() + 300
            received = 0
            while time.monotonic() < deadline:
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                    row = con.execute("SELECT value FROM stats WHERE name='received'").fetchone()
                    con.close()
                    received = int(row[0]) if row else 0
                except sqlite3.Error:
                    pass
                if behind_at_end is None:
                    behind_at_end = max(0, sent - received)
                if received >= sent:
                    break
                time.sleep(0.5)
            drain_s = time.monotonic() - start - pub_s
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            opened = {(int(r[0][1:]), int(r[1][1:])): float(r[2]) for r in con.execute(
                "SELECT center, device, MIN(opened_at) FROM alerts GROUP BY center, device")}
            con.close()
        finally:
            pub.loop_stop()
            ctl.stop()
            broker.stop()
    lat = sorted(opened[k] - t for k, t in faulty.items() if k in opened)
    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * (len(lat) - 1)))] if lat else float("nan")

    sustained = received / (pub_s + drain_s) if pub_s + drain_s else 0.0
    print(f"published {sent} in {pub_s:.0f} s ({sent / pub_s:,.0f}/s); the controller was "
          f"{behind_at_end} behind at the end and caught up {drain_s:.0f} s later")
    print(f"alerts: {len(lat)} of {len(faulty)} faults, latency p50 {p(0.5):.2f} s "
          f"p99 {p(0.99):.2f} s; controller RSS {rss_start:.0f} -> {rss_end:.0f} MB")
    print(f"soak_offered_msgs_s={rate:.0f} soak_published_msgs_s={sent / pub_s:.0f} "
          f"soak_ingest_msgs_s={sustained:.0f} alert_p50_s={p(0.5):.2f} alert_p99_s={p(0.99):.2f} "
          f"rss_growth_mb={rss_end - rss_start:.0f} agents={agents} seconds={seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
