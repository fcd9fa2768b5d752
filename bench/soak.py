"""Fleet soak: thousands of simulated agents (30 devices each, one report per device per
interval) published by a few processes into the controller; sustained ingest next to the load
actually offered, alert latency percentiles (broker has the faulty report -> the alert on the
controller's MQTT feed) and the controller's memory growth once every device has reported.

    bench/run soak [--quick] [--agents N] [--minutes M] [--publishers P]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion

from hcc_common import wire
from lab.procs import Mosquitto, spawn

BIN = Path(sys.executable).parent
DEVICES = 30
INTERVAL_S = 30.0
MAX_UNACKED = 2_000  # per publisher: beyond it, wait (paho has no backpressure of its own)


# One simulated report, formatted rather than built by wire.encode: the publisher is one Python
# process that must offer 10,000 msg/s and share the machine with the controller. check_templates()
# proves that both decode to exactly what wire.encode would have sent.
_BODY = (b'{"v":1,"kind":"result","center":"c%%05d","agent":"pi-1","device":"d%%02d","session":1,'
         b'"seq":%%d,"ts":%%.6f,"type":"printer","name":"d%%02d","status":"%s",'
         b'"metrics":{"uptime_s":%%d,"pages":1000},"faults":[%s]}')
HEALTHY = _BODY % (b"ok", b"")
FAULTY = _BODY % (b"critical", b'{"code":"printer.jammed","severity":"critical","params":{}}')


def check_templates() -> None:
    for template, status, faults in (
            (HEALTHY, "ok", ()),
            (FAULTY, "critical", (wire.FaultReport("printer.jammed", "critical", {}),))):
        expected = wire.Result("c00042", "pi-1", "d07", 1, 9, 1764230400.5, "printer", "d07",
                               status, {"uptime_s": 9, "pages": 1000}, faults)  # type: ignore[arg-type]
        got = wire.decode("hcc/v1/c00042/pi-1/result/d07", template % (42, 7, 9, 1764230400.5, 7, 9))
        assert got == expected, (got, expected)


def controller_received(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        row = con.execute("SELECT value FROM stats WHERE name='received'").fetchone()
        con.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def rss_mb(pid: int) -> float:
    """The controller's resident memory, its MQTT process included."""
    proc = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20


@dataclass
class PublisherReport:
    acked: int            # publishes the broker acknowledged: what the controller must receive
    late_s: float         # how far the publisher fell behind its schedule at worst
    faulty: dict[tuple[int, int], float]  # (agent, device) -> when its fault began

    def as_tuple(self) -> tuple[int, float, dict[tuple[int, int], float]]:
        # plain data across the process boundary (this module is __main__ in the parent)
        return (self.acked, self.late_s, self.faulty)


def publish_share(part: int, parts: int, agents: int, seconds: float, port: int,
                  out: Any) -> None:
    """One publisher process: the agents a with a % parts == part, each device once per
    interval, spread evenly; QoS 1, at most MAX_UNACKED in flight (no silent drops)."""
    rng = random.Random(3 + part)
    mine = list(range(part, agents, parts))
    acked = 0
    lock = threading.Lock()
    # A fault's clock starts when the broker has its report (PUBACK), so that time spent in
    # this publisher's own queue, on a machine it shares, is not counted against the controller.
    fault_mids: dict[int, tuple[int, int]] = {}
    faulty: dict[tuple[int, int], float] = {}
    ack_at = [0.0] * 65536  # by mid; MAX_UNACKED keeps a mid from being reused meanwhile

    def on_publish(_c: Any, _u: Any, mid: int, *_: Any) -> None:
        # paho calls this holding its own lock: never call paho while holding ours
        nonlocal acked
        now = time.time()
        with lock:
            acked += 1
            ack_at[mid] = now
            key = fault_mids.pop(mid, None)
            if key is not None:
                faulty[key] = now

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"soak-fleet-{part}")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)  # unbounded here; MAX_UNACKED below is the bound
    pub.on_publish = on_publish
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    seqs = dict.fromkeys(mine, 0)
    started_faults: set[tuple[int, int]] = set()
    slots = [(a, d) for a in mine for d in range(DEVICES)]
    rate = len(slots) / INTERVAL_S
    sent = 0
    late = 0.0
    start = time.monotonic()
    parent = os.getppid()
    while time.monotonic() - start < seconds and os.getppid() == parent:
        # the reports due by now, at `rate` per second
        elapsed = time.monotonic() - start
        due = int(elapsed * rate)
        # when behind, catch up for at most a second before looking at the clock again
        while sent < due and time.monotonic() - start < min(seconds, elapsed + 1.0):
            a, d = slots[sent % len(slots)]
            seqs[a] += 1
            now = time.time()
            first_fault = (a, d) not in started_faults and rng.random() < 1 / 3000
            if first_fault:
                started_faults.add((a, d))
            template = FAULTY if (a, d) in started_faults else HEALTHY
            info = pub.publish(f"hcc/v1/c{a:05d}/pi-1/result/d{d:02d}",
                               template % (a, d, seqs[a], now, d, seqs[a]), qos=1)
            if first_fault:
                with lock:
                    if info.is_published():  # its PUBACK came before publish() returned
                        faulty[(a, d)] = ack_at[info.mid]
                    else:
                        fault_mids[info.mid] = (a, d)
            sent += 1
            while sent - acked > MAX_UNACKED:
                time.sleep(0.001)
        late = max(late, (time.monotonic() - start) - sent / rate)
        time.sleep(0.01)
    deadline = time.monotonic() + 60
    while acked < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    pub.loop_stop()
    pub.disconnect()
    out.put(PublisherReport(acked, late, faulty).as_tuple())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 agents for 1 minute")
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--publishers", type=int, default=2,
                    help="publisher processes (one Python process cannot offer 10,000 msg/s)")
    args = ap.parse_args()
    agents = 1000 if args.quick else args.agents
    seconds = 60.0 if args.quick else args.minutes * 60
    rate = agents * DEVICES / INTERVAL_S
    check_templates()
    ctx = multiprocessing.get_context("spawn")
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
        try:
            while not db.exists():
                time.sleep(0.1)
            time.sleep(1.0)
            # An alert counts when it reaches the controller's MQTT alert feed: committed and
            # published, as the operations desk would see it.
            feed_seen: dict[tuple[int, int], float] = {}

            def on_alert(_c: Any, _u: Any, m: Any) -> None:
                change = json.loads(m.payload)
                alert = change["alert"]
                key = (int(alert["center"][1:]), int((alert["device"] or "d-1")[1:]))
                if change["event"] == "opened":
                    feed_seen.setdefault(key, time.time())

            feed = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="soak-feed")
            feed.on_message = on_alert
            feed.connect("127.0.0.1", broker.port)
            feed.subscribe(f"{wire.TOPIC_ROOT}/{wire.ALERTS_SEGMENT}/#", qos=1)
            feed.loop_start()
            print(f"{agents} agents x {DEVICES} devices every {INTERVAL_S:.0f} s = {rate:,.0f} "
                  f"msg/s for {seconds:.0f} s, from {args.publishers} publisher processes ...",
                  flush=True)
            results = ctx.Queue()
            pubs = [ctx.Process(target=publish_share, args=(k, args.publishers, agents, seconds,
                                                             broker.port, results), daemon=True)
                    for k in range(args.publishers)]
            start = time.monotonic()
            for proc in pubs:
                proc.start()
            # Once the controller has taken in one report of every device, its state is
            # complete: memory growth from then on is what a long run would keep adding.
            rss_start, full_at = 0.0, float("nan")
            samples: list[tuple[float, int]] = []  # (t, received)
            while time.monotonic() - start < seconds:
                time.sleep(5.0)
                received = controller_received(db)
                samples.append((time.monotonic() - start, received))
                if rss_start == 0.0 and received >= agents * DEVICES:
                    rss_start, full_at = rss_mb(ctl.popen.pid), time.monotonic() - start
            rss_end = rss_mb(ctl.popen.pid)
            reports = [PublisherReport(*results.get(timeout=120)) for _ in pubs]
            for proc in pubs:
                proc.join(10)
            pub_s = time.monotonic() - start
            acked = sum(r.acked for r in reports)
            faulty = {k: v for r in reports for k, v in r.faulty.items()}
            behind_at_end = max(0, acked - controller_received(db))
            deadline = time.monotonic() + 300
            received = 0
            while time.monotonic() < deadline:
                received = controller_received(db) or received
                if received >= acked:
                    break
                time.sleep(0.5)
            drain_s = time.monotonic() - start - pub_s
            time.sleep(2.0)  # the last alerts' feed messages
            feed.loop_stop()
            opened = dict(feed_seen)
        finally:
            ctl.stop()
            broker.stop()
    lat = sorted(opened[k] - t for k, t in faulty.items() if k in opened)

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * (len(lat) - 1)))] if lat else float("nan")

    # the controller's own pace over the run: received between the first and the last sample
    (t0, r0), (t1, r1) = samples[0], samples[-1]
    ingest = (r1 - r0) / (t1 - t0) if t1 > t0 else 0.0
    late = max(r.late_s for r in reports)
    print(f"publishers: {acked} reports acknowledged by the broker in {seconds:.0f} s "
          f"({acked / seconds:,.0f}/s; at worst {late:.1f} s behind schedule)")
    print(f"controller: {ingest:,.0f} msg/s over the run; {behind_at_end} behind when the "
          f"publishers stopped, all {received} in {drain_s:.0f} s later"
          if received >= acked else
          f"controller: {ingest:,.0f} msg/s over the run; {behind_at_end} behind when the "
          f"publishers stopped, still {acked - received} behind {drain_s:.0f} s later")
    print(f"alerts: {len(lat)} of {len(faulty)} faults, latency p50 {p(0.5):.2f} s "
          f"p99 {p(0.99):.2f} s; controller RSS {rss_start:.0f} MB once every device had "
          f"reported ({full_at:.0f} s in) -> {rss_end:.0f} MB at the end")
    print(f"soak_offered_msgs_s={rate:.0f} soak_published_msgs_s={acked / seconds:.0f} "
          f"soak_ingest_msgs_s={ingest:.0f} behind_at_end={behind_at_end} "
          f"alert_p50_s={p(0.5):.2f} alert_p99_s={p(0.99):.2f} "
          f"rss_growth_mb={rss_end - rss_start if rss_start else float('nan'):.0f} "
          f"rss_end_mb={rss_end:.0f} agents={agents} seconds={seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
