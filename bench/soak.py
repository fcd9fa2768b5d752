"""Fleet soak: 10,000 agents x 30 devices every 30 s, offered in full to a real controller.

A real mosquitto and a real controller process.

The agents speak the wire as `agent.report: changes` does (docs/protocol.md): each agent's
devices report once in full when it joins; then, once a cycle, the results that are news (a
share of readings moved past their deadbands, faults opening and clearing, each device's full
refresh every agent.refresh) and one heartbeat confirming every other device. Messages are
pre-encoded (byte templates, proven equal to wire.encode by check_templates) and published by
several processes, so that the generator is not the ceiling: its own CPU is printed.

Printed: the rates used; offered and ingested device results/s and messages/s; how far the
controller was behind when the publishers stopped; fault -> alert latency (the broker has the
faulty result -> the alert on the controller's MQTT feed) p50/p99; controller CPU and RSS (its
MQTT process included); broker CPU.

    bench/run soak [--quick] [--agents N] [--minutes M] [--publishers P]
                   [--change-share F] [--faults-per-min K] [--fault-s S] [--warmup S]
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

from agent.report_filter import REFRESH_S
from hcc_common import wire
from lab.procs import Mosquitto, spawn

BIN = Path(sys.executable).parent
DEVICES = 30
INTERVAL_S = 30.0
CATCH_UP_MAX_S = 300.0  # the controller's time to apply the joins before the window, at most
MAX_UNACKED = 2_000  # per publisher: beyond it, wait (paho has no backpressure of its own)
REFRESH_CYCLES = int(REFRESH_S / INTERVAL_S)  # a device's full report every this many cycles


# One device result and one heartbeat, formatted rather than built by wire.encode: pre-encoded
# so that the generator costs little beside the controller. check_templates() proves that each
# decodes to exactly what wire.encode would have sent.
_BODY = (b'{"v":1,"kind":"result","center":"c%%05d","agent":"pi-1","device":"d%%02d","session":1,'
         b'"seq":%%d,"ts":%%.6f,"type":"printer","name":"d%%02d","status":"%s",'
         b'"metrics":{"uptime_s":%%d,"pages":1000},"faults":[%s]}')
HEALTHY = _BODY % (b"ok", b"")
FAULTY = _BODY % (b"critical", b'{"code":"printer.jammed","severity":"critical","params":{}}')
HEARTBEAT = (b'{"v":1,"kind":"heartbeat","center":"c%05d","agent":"pi-1","session":1,'
             b'"seq":%d,"ts":%.6f,"interval_s":30.0,"kept_from":[1,%d],"unchanged":{%s}}')
# device d is checked this long before its agent's heartbeat (spread over the cycle)
AGE_S = [int(INTERVAL_S * (DEVICES - d) / DEVICES) for d in range(DEVICES)]
FRAGMENT = [b'"d%02d":%d' % (d, AGE_S[d]) for d in range(DEVICES)]


def unchanged_json(ok: list[int], critical: list[int]) -> bytes:
    groups = []
    if ok:
        groups.append(b'"ok":{' + b",".join(FRAGMENT[d] for d in ok) + b"}")
    if critical:
        groups.append(b'"critical":{' + b",".join(FRAGMENT[d] for d in critical) + b"}")
    return b",".join(groups)


def check_templates() -> None:
    for template, status, faults in (
            (HEALTHY, "ok", ()),
            (FAULTY, "critical", (wire.FaultReport("printer.jammed", "critical", {}),))):
        expected = wire.Result(
            center="c00042", agent="pi-1", device="d07", session=1, seq=9, ts=1764230400.5,
            device_type="printer", device_name="d07",
            status=status,  # type: ignore[arg-type]
            metrics={"uptime_s": 9, "pages": 1000}, faults=faults)
        got = wire.decode("hcc/v1/c00042/pi-1/result/d07", template % (42, 7, 9, 1764230400.5, 7, 9))
        assert got == expected, (got, expected)
        encoded = wire.encode(expected)
        assert wire.decode(encoded.topic, encoded.payload) == expected
    at = 1764230430.25
    beat = wire.Heartbeat("c00042", "pi-1", 1, 40, at, 30.0, kept_from=(1, 41), unchanged={
        **{f"d{d:02d}": (at - AGE_S[d], "ok") for d in (0, 1, 29)},
        "d05": (at - AGE_S[5], "critical")})
    got = wire.decode("hcc/v1/c00042/pi-1/heartbeat",
                      HEARTBEAT % (42, 40, at, 41, unchanged_json([0, 1, 29], [5])))
    assert got == beat, (got, beat)
    encoded = wire.encode(beat)
    assert wire.decode(encoded.topic, encoded.payload) == beat


def controller_stats(db: Path) -> dict[str, int]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        rows = con.execute("SELECT name, value FROM stats").fetchall()
        con.close()
    except sqlite3.Error:
        return {}
    return {str(k): int(v) for k, v in rows}


def family(pid: int) -> list[psutil.Process]:
    proc = psutil.Process(pid)
    return [proc, *proc.children(recursive=True)]


def rss_mb(pid: int) -> float:
    """The controller's resident memory, its MQTT process included."""
    return sum(p.memory_info().rss for p in family(pid)) / 2**20


def cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


@dataclass(frozen=True, kw_only=True)
class Load:
    agents: int
    publishers: int
    seconds: float          # from the first join to the end, at most
    warmup_s: float         # agents join over this long, each with a full report
    change_share: float     # of the device readings, moving past their deadbands each cycle
    faults_per_min: float   # faults opening per minute, fleet-wide (each clears after fault_s)
    fault_s: float


@dataclass
class PublisherReport:
    sent: int
    acked: int
    results: int          # device results offered: one per result, one per heartbeat line
    window_sent: int      # of them, in the measured window
    window_results: int
    late_s: float         # how far the publisher fell behind its schedule at worst
    cpu_s: float
    faulty: dict[tuple[int, int], float]  # (agent, device) -> when the broker had its fault

    def as_tuple(self) -> tuple[Any, ...]:
        # plain data across the process boundary (this module is __main__ in the parent)
        return (self.sent, self.acked, self.results, self.window_sent, self.window_results,
                self.late_s, self.cpu_s, self.faulty)


def publish_share(part: int, load: Load, port: int, t0: float, window: Any, stop: Any,
                  acked_total: Any, out: Any) -> None:
    """One publisher process: the agents a with a % publishers == part. Agent a joins at its
    own moment in the warm-up and emits once a cycle from then on, at its phase."""
    rng = random.Random(3 + part)
    mine = list(range(part, load.agents, load.publishers))
    acked = 0
    lock = threading.Lock()
    # A fault's clock starts when the broker has its report (PUBACK), so that time spent in
    # this publisher's own queue, on a machine it shares, is not counted against the controller.
    fault_mids: dict[int, tuple[int, int]] = {}
    faulty_at: dict[tuple[int, int], float] = {}
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
                faulty_at[key] = now

    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"soak-fleet-{part}")
    pub.max_inflight_messages_set(1000)
    pub.max_queued_messages_set(0)  # unbounded here; MAX_UNACKED below is the bound
    pub.on_publish = on_publish
    pub.connect("127.0.0.1", port)
    pub.loop_start()
    seq = dict.fromkeys(mine, 0)
    # (when, agent, cycle): each agent's next emit; joins spread over the warm-up
    join = {a: (a * 7919 % 100_003) / 100_003 * load.warmup_s for a in mine}
    schedule = sorted((join[a], a, 0) for a in mine)
    faulty: dict[tuple[int, int], float] = {}     # open faults -> when they clear (monotonic)
    ever_faulty: set[tuple[int, int]] = set()
    # per emit, the chance that one of this agent's devices jams
    p_fault = load.faults_per_min / 60.0 * INTERVAL_S / max(1, load.agents)
    sent = results = 0
    window_sent = window_results = 0
    late = 0.0
    parent = os.getppid()
    i = 0
    started_cpu = time.process_time()
    told = 0  # of `acked`, added to acked_total (shared with the parent)

    def send(topic: str, payload: bytes, fault_key: tuple[int, int] | None = None) -> None:
        nonlocal sent
        info = pub.publish(topic, payload, qos=1)
        sent += 1
        if fault_key is not None:
            with lock:
                if info.is_published():  # its PUBACK came before publish() returned
                    faulty_at[fault_key] = ack_at[info.mid]
                else:
                    fault_mids[info.mid] = fault_key
        while sent - acked > MAX_UNACKED:
            time.sleep(0.001)

    while i < len(schedule) and os.getppid() == parent and not stop.is_set():
        when, a, cycle = schedule[i]
        if when >= load.seconds:
            break
        delay = t0 + when - time.monotonic()
        if acked - told >= 500 or (delay > 0 and acked > told):
            with acked_total.get_lock():
                acked_total.value += acked - told
            told = acked
        if delay > 0:
            time.sleep(min(delay, 0.05))
            continue
        late = max(late, -delay)
        i += 1
        before = sent
        now = time.time()
        center = f"c{a:05d}"
        if cycle == 0:  # joining: every device in full
            for d in range(DEVICES):
                seq[a] += 1
                send(f"hcc/v1/{center}/pi-1/result/d{d:02d}",
                     HEALTHY % (a, d, seq[a], now - AGE_S[d], d, seq[a]))
            results += DEVICES
        else:
            ok: list[int] = []
            critical: list[int] = []
            jam = rng.random() < p_fault
            for d in range(DEVICES):
                key = (a, d)
                clears = faulty.get(key)
                news = (cycle + a + d) % REFRESH_CYCLES == 0 or rng.random() < load.change_share
                if jam and clears is None and key not in ever_faulty:
                    jam = False
                    faulty[key] = time.monotonic() + load.fault_s
                    ever_faulty.add(key)
                    seq[a] += 1
                    send(f"hcc/v1/{center}/pi-1/result/d{d:02d}",
                         FAULTY % (a, d, seq[a], now - AGE_S[d], d, seq[a]), key)
                elif clears is not None and time.monotonic() >= clears:
                    del faulty[key]
                    seq[a] += 1
                    send(f"hcc/v1/{center}/pi-1/result/d{d:02d}",
                         HEALTHY % (a, d, seq[a], now - AGE_S[d], d, seq[a]))
                elif news:
                    seq[a] += 1
                    send(f"hcc/v1/{center}/pi-1/result/d{d:02d}",
                         (FAULTY if clears is not None else HEALTHY)
                         % (a, d, seq[a], now - AGE_S[d], d, seq[a]))
                elif clears is not None:
                    critical.append(d)
                else:
                    ok.append(d)
            seq[a] += 1
            send(f"hcc/v1/{center}/pi-1/heartbeat",
                 HEARTBEAT % (a, seq[a], now, seq[a] + 1, unchanged_json(ok, critical)))
            results += DEVICES
        if window.is_set():
            window_sent += sent - before
            window_results += DEVICES
        # the next emit of this agent, in order (a sorted insert keeps the schedule sorted)
        nxt = (when + INTERVAL_S, a, cycle + 1)
        lo, hi = i, len(schedule)
        while lo < hi:
            mid = (lo + hi) // 2
            if schedule[mid] < nxt:
                lo = mid + 1
            else:
                hi = mid
        schedule.insert(lo, nxt)
        if i > 50_000:  # keep the list short: drop what is done
            del schedule[:i]
            i = 0
    deadline = time.monotonic() + 60
    while acked < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    pub.loop_stop()
    pub.disconnect()
    out.put(PublisherReport(sent, acked, results, window_sent, window_results, late,
                            time.process_time() - started_cpu, faulty_at).as_tuple())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 agents, 20 s warm-up, 1 minute")
    ap.add_argument("--agents", type=int, default=10_000)
    ap.add_argument("--minutes", type=float, default=5.0, help="measured, after the warm-up")
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--warmup", type=float, default=90.0,
                    help="seconds over which the agents join, each with a full report")
    ap.add_argument("--change-share", type=float, default=0.02,
                    help="share of device readings moving past their deadbands each cycle")
    ap.add_argument("--faults-per-min", type=float, default=60.0)
    ap.add_argument("--fault-s", type=float, default=120.0, help="how long a fault lasts")
    args = ap.parse_args()
    if args.quick:
        args.agents, args.minutes, args.warmup = 1000, 1.0, 20.0
    # The measured window starts a cycle after the last join (every agent in its steady
    # rhythm) and once the controller has applied every join's full report.
    settle_s = args.warmup + INTERVAL_S
    load = Load(agents=args.agents, publishers=args.publishers,
                seconds=settle_s + CATCH_UP_MAX_S + args.minutes * 60, warmup_s=args.warmup,
                change_share=args.change_share, faults_per_min=args.faults_per_min,
                fault_s=args.fault_s)
    devices = args.agents * DEVICES
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
            time.sleep(1.5)
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
            print(f"{args.agents:,} agents x {DEVICES} devices every {INTERVAL_S:.0f} s "
                  f"({devices / INTERVAL_S:,.0f} device results/s), by exception: "
                  f"{args.change_share:.0%} of readings move past their deadbands each cycle, "
                  f"a full report per device every {REFRESH_S / 60:.0f} min, "
                  f"{args.faults_per_min:g} faults/min opening (each clears after "
                  f"{args.fault_s:g} s); agents join over {args.warmup:g} s, then "
                  f"{args.minutes:g} min measured; {args.publishers} publisher processes",
                  flush=True)
            results = ctx.Queue()
            window, stop = ctx.Event(), ctx.Event()
            acked_total = ctx.Value("q", 0)
            t0 = time.monotonic() + 2.0  # every publisher connected before the first join
            wall_t0 = time.time() + 2.0
            pubs = [ctx.Process(target=publish_share,
                                args=(k, load, broker.port, t0, window, stop, acked_total,
                                      results),
                                daemon=True) for k in range(args.publishers)]
            for proc in pubs:
                proc.start()
            ctl_procs = family(ctl.popen.pid)
            assert broker.proc is not None
            broker_proc = psutil.Process(broker.proc.popen.pid)
            time.sleep(max(0.0, t0 + settle_s - time.monotonic()))
            # caught up: the controller has received what the broker had when the joins ended
            caught_up = time.monotonic()
            joined = acked_total.value
            while controller_stats(db).get("received", 0) < joined and \
                    time.monotonic() - caught_up < CATCH_UP_MAX_S:
                time.sleep(1.0)
            catch_up_s = time.monotonic() - caught_up
            # the measured window
            window.set()
            w_start, w_wall = time.monotonic(), time.time()
            s0 = controller_stats(db)
            c0, b0 = cpu_s(ctl_procs), cpu_s([broker_proc])
            rss_start = rss_mb(ctl.popen.pid)
            time.sleep(args.minutes * 60)
            stop.set()
            w_s = time.monotonic() - w_start
            total_s = time.monotonic() - t0
            s1 = controller_stats(db)
            c1, b1 = cpu_s(ctl_procs), cpu_s([broker_proc])
            reports = [PublisherReport(*results.get(timeout=180)) for _ in pubs]
            for proc in pubs:
                proc.join(10)
            rss_end = rss_mb(ctl.popen.pid)
            acked = sum(r.acked for r in reports)
            behind_at_end = max(0, acked - controller_stats(db).get("received", 0))
            deadline = time.monotonic() + 300
            received = 0
            while time.monotonic() < deadline:
                received = controller_stats(db).get("received", 0)
                if received >= acked:
                    break
                time.sleep(0.5)
            time.sleep(2.0)  # the last alerts' feed messages
            feed.loop_stop()
            opened = dict(feed_seen)
            known = 0
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                known = int(con.execute("SELECT COUNT(*) FROM devices").fetchone()[0])
            slow = [line for line in ctl.log().splitlines() if "ingest step slow" in line]
        finally:
            ctl.stop()
            broker.stop()
    every_fault = {k: v for r in reports for k, v in r.faulty.items()}
    # the goal is for the sustained load: faults that began in the window; those of the joins
    # (every box starting at once, full reports) are printed apart
    faulty = {k: t for k, t in every_fault.items() if t >= w_wall}
    lat = sorted(opened[k] - t for k, t in faulty.items() if k in opened)
    before = sorted(opened[k] - t for k, t in every_fault.items() if k in opened and t < w_wall)

    def p(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * (len(lat) - 1)))] if lat else float("nan")

    sent = sum(r.sent for r in reports)
    offered_results = sum(r.results for r in reports)
    ingest_msgs = (s1.get("received", 0) - s0.get("received", 0)) / w_s
    ingest_results = (s1.get("results", 0) - s0.get("results", 0)) / w_s
    late = max(r.late_s for r in reports)
    pub_cpu = sum(r.cpu_s for r in reports) / total_s * 100
    ctl_cpu = (c1 - c0) / w_s * 100
    broker_cpu = (b1 - b0) / w_s * 100
    offered_msgs = sum(r.window_sent for r in reports) / w_s
    offered_results_s = sum(r.window_results for r in reports) / w_s
    print(f"joins: the controller had everything the broker had when the joins ended "
          f"{catch_up_s:.0f} s later")
    print(f"offered in the window: {offered_results_s:,.0f} device results/s in "
          f"{offered_msgs:,.0f} msg/s ({sent:,} messages, {offered_results:,} device results "
          f"in the whole run, joins included); publishers at worst {late:.2f} s behind "
          f"schedule, their CPU {pub_cpu:.0f} % of a core")
    print(f"controller over the {w_s:.0f} s window: {ingest_results:,.0f} device results/s in "
          f"{ingest_msgs:,.0f} msg/s; {behind_at_end} messages behind when the publishers "
          f"stopped; {known:,} devices known; CPU {ctl_cpu:.0f} % of a core (MQTT process "
          f"included), RSS {rss_start:.0f} -> {rss_end:.0f} MB; broker CPU {broker_cpu:.0f} %")
    print(f"controller steps over 0.5 s (its log): {len(slow)}")
    for line in slow[-5:]:
        print("   ", line[:300])
    worst = sorted(((opened[k] - t, t) for k, t in every_fault.items() if k in opened),
                   reverse=True)[:5]
    print("slowest alerts (latency at time into the run): " + ", ".join(
        f"{d:.1f} s at {t - wall_t0:.0f} s" for d, t in worst))
    print(f"alerts: {len(lat)} of {len(faulty)} faults of the window on the feed, fault -> "
          f"alert p50 {p(0.5) * 1000:.0f} ms, p99 {p(0.99) * 1000:.0f} ms; during the joins "
          f"{len(before)} faults, worst {before[-1] if before else float('nan'):.1f} s")
    print(f"soak_offered_results_s={offered_results_s:.0f} "
          f"soak_ingested_results_s={ingest_results:.0f} "
          f"soak_offered_msgs_s={offered_msgs:.0f} soak_ingested_msgs_s={ingest_msgs:.0f} "
          f"behind_at_end={behind_at_end} alert_p50_ms={p(0.5) * 1000:.0f} "
          f"alert_p99_ms={p(0.99) * 1000:.0f} faults={len(faulty)} alerts={len(lat)} "
          f"controller_cpu_pct={ctl_cpu:.0f} controller_rss_mb={rss_end:.0f} "
          f"broker_cpu_pct={broker_cpu:.0f} publisher_cpu_pct={pub_cpu:.0f} "
          f"devices={known} agents={args.agents} window_s={w_s:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
