"""Controller ingest throughput, next to a bare paho subscriber draining the same stream.

Both hold a persistent session on one local mosquitto; a realistic stream (agents' results with
metrics and faults, heartbeats, correct seqs) is queued for both while they are away, then each
drains it alone: the figure is ingest speed, not the publisher's.

    bench/run ingest [--quick] [--messages N] [--agents A]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from bench.procstat import status_mb
from hcc_common import wire
from lab.procs import Mosquitto, spawn

BIN = Path(sys.executable).parent
DEVICES = [("printer-1", "printer"), ("printer-2", "printer"), ("ap-hall", "wifi_ap"),
           ("charger-1", "charger"), ("kiosk-1", "kiosk"), ("reader-1", "reading_device")]


def stream(agents: int, total: int, seed: int = 7) -> list[wire.Encoded]:
    rng = random.Random(seed)
    out: list[wire.Encoded] = []
    seqs = [0] * agents
    now = time.time()
    while len(out) < total:
        a = rng.randrange(agents)
        seqs[a] += 1
        center, agent = f"center-{a:05d}", "pi-1"
        if seqs[a] % 10 == 0:
            msg: wire.Message = wire.Heartbeat(center, agent, 1, seqs[a], now, 30.0, {
                "cpu_percent": 7.5, "memory_percent": 41.2, "disk_percent": 23.0,
                "outbox_count": 0}, backlog=0)
        else:
            dev, dtype = DEVICES[rng.randrange(len(DEVICES))]
            faults = (wire.FaultReport("printer.toner_low", "warning",
                                       {"supply": "Black", "level": 12}),) \
                if dtype == "printer" and rng.random() < 0.1 else ()
            metrics: dict[str, wire.MetricValue] = {
                "snmp_profile": dtype, "sys_descr": f"Simulated {dtype} 1.0",
                "uptime_s": 86400 + seqs[a], "interfaces_up": 2,
                **{f"supply.{i}.pct": float(rng.randrange(30, 100)) for i in range(1, 5)},
                "page_count": 10000 + seqs[a], "tcp_connect_ms": 1.3}
            msg = wire.Result(center=center, agent=agent, device=dev, session=1, seq=seqs[a],
                              ts=now, device_type=dtype, device_name=dev,
                              status="warning" if faults else "ok", metrics=metrics, faults=faults)
        out.append(wire.encode(msg))
    return out


def connect(port: int, client_id: str, on_message: Any = None) -> mqtt.Client:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    if on_message is not None:
        c.on_message = on_message
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    return c


def publish_all(port: int, messages: list[wire.Encoded]) -> float:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-publisher")
    c.max_inflight_messages_set(1000)
    c.connect("127.0.0.1", port)
    c.loop_start()
    start = time.perf_counter()
    infos = []
    for m in messages:
        infos.append(c.publish(m.topic, m.payload, qos=1))
        if len(infos) >= 2000:
            infos[0].wait_for_publish(30)
            infos = infos[-1000:]
    for info in infos:
        info.wait_for_publish(30)
    elapsed = time.perf_counter() - start
    c.loop_stop()
    c.disconnect()
    return elapsed


def baseline(port: int, total: int) -> float:
    """A bare paho subscriber (QoS 1), counting: the ceiling to compare against."""
    count = 0
    first = last = 0.0
    done = threading.Event()

    def on_message(_c: Any, _u: Any, _m: Any) -> None:
        nonlocal count, first, last
        count += 1
        if count == 1:
            first = time.perf_counter()
        if count >= total:
            last = time.perf_counter()
            done.set()

    c = connect(port, "bench-baseline", on_message)
    c.subscribe(wire.SUBSCRIBE_ALL_AGENTS, qos=1)
    c.loop_start()
    done.wait(600)
    c.loop_stop()
    c.disconnect()
    return total / (last - first) if last > first else 0.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="40,000 messages (under 2 minutes)")
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--agents", type=int, default=1000)
    args = ap.parse_args()
    total = 40_000 if args.quick else args.messages
    print(f"building a stream of {total} messages from {args.agents} agents ...", flush=True)
    messages = stream(args.agents, total)
    with tempfile.TemporaryDirectory(prefix="hcc-bench-ingest-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker").start()
        db = work / "hcc.db"
        cfg = work / "controller.yaml"
        cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\nclient_id: bench-controller\n')
        try:
            # register both persistent sessions, then leave: the broker queues for both
            ctl = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config", str(cfg)],
                        work / "controller.log")
            while not db.exists() or "connected" not in ctl.log():
                time.sleep(0.1)
            time.sleep(0.5)
            ctl.stop()
            c = connect(broker.port, "bench-baseline")
            c.loop_start()
            c.subscribe(wire.SUBSCRIBE_ALL_AGENTS, qos=1)
            time.sleep(0.5)
            c.loop_stop()
            c.disconnect()
            pub_s = publish_all(broker.port, messages)
            print(f"queued in {pub_s:.1f} s; draining with a bare paho subscriber ...", flush=True)
            base = baseline(broker.port, total)
            print(f"baseline: {base:,.0f} msg/s; draining with hcc-controller ...", flush=True)
            ctl = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config", str(cfg),
                                       "--log-level", "warning"], work / "controller2.log")
            proc = psutil.Process(ctl.popen.pid)
            first = last = 0.0
            received = 0
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                    row = con.execute("SELECT value FROM stats WHERE name='received'").fetchone()
                    con.close()
                except sqlite3.Error:
                    row = None
                received = int(row[0]) if row else 0
                now = time.perf_counter()
                if received > 0 and first == 0.0:
                    first = now
                if received >= total:
                    last = now
                    break
                time.sleep(0.05)
            # the controller and its MQTT process: both count
            procs = [proc, *proc.children(recursive=True)]
            cpu_s = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
            hwm = sum(status_mb(p.pid, "VmHWM") for p in procs)
            ctl.stop()
            con = sqlite3.connect(db)
            agents_rows = con.execute(
                "SELECT SUM(received), SUM(gaps), SUM(duplicates) FROM agents").fetchone()
            batches = con.execute("SELECT value FROM stats WHERE name='batches'").fetchone()[0]
            con.close()
        finally:
            broker.stop()
    rate = total / (last - first) if last > first else 0.0
    print(f"controller: {rate:,.0f} msg/s (rules, state and SQLite store on); "
          f"agents table: received={agents_rows[0]} gaps={agents_rows[1]} dup={agents_rows[2]}")
    print(f"ingest_msgs_s={rate:.0f} baseline_msgs_s={base:.0f} ratio={rate / base:.2f} "
          f"controller_cpu_s={cpu_s:.1f} controller_rss_mb={hwm} processes={len(procs)} "
          f"messages={total} agents={args.agents} batch_avg={total / max(1, batches):.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
