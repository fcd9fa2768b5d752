"""Bytes on the wire per center per day: one center's box (30 devices read every 30 s, its
heartbeat every keepalive) publishing through a real mosquitto, counted by the broker itself
($SYS/broker/bytes/received: MQTT framing included), next to what Telegraf's MQTT output would
send for the same readings (JSON data format, one message per device reading, QoS 1).

The readings are real: the printer, AP and PDU captures in tests/fixtures/snmprec decoded by the
agent's own SNMP path, and HTTP kiosks' status and latency. One simulated hour is published and
scaled to a day.

    bench/run wire_bytes [--minutes N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hcc_common import wire
from lab.procs import Mosquitto

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "snmprec"
# a center's 30 devices: what a one-stop service center has
MIX = (("printer-laser", "printer", 4), ("ap-wifi", "wifi_ap", 6), ("pdu-switched", "charger", 2),
       ("pdu-metered", "charger", 2))
KIOSKS = 16  # HTTP kiosks, screens, the robot: status and latency
INTERVAL_S = 30.0
KEEPALIVE_S = 10.0


def device_readings() -> list[tuple[str, str, dict[str, Any]]]:
    """(device id, type, metrics) for the 30 devices, decoded from real captures."""
    from agent.checks.snmp import read_device
    from agent.profile_loader import SYSTEM_OIDS, choose, load_profiles, probes
    from agent.snmpdecode import DeviceContext, Sample, Thresholds
    from lab.snmprec import load, present, reading_for

    profiles = load_profiles()
    out = []
    for name, dtype, count in MIX:
        values = load(FIXTURES / f"{name}.snmprec")
        system = {k: values.get(o) for k, o in SYSTEM_OIDS.items()}
        prof = choose(profiles, dtype, system, present(probes(profiles), values))
        sample = Sample(reading_for(prof, values), DeviceContext(type=dtype,
                                                                 thresholds=Thresholds()),
                        values=prof.values)
        metrics, _ = read_device(prof, sample, dtype)
        out += [(f"{name}-{i}", dtype, dict(metrics)) for i in range(count)]
    out += [(f"kiosk-{i}", "kiosk", {"http_status": 200, "http_latency_ms": 41.7})
            for i in range(KIOSKS)]
    return out


def broker_bytes(broker: Mosquitto) -> int:
    """$SYS/broker/bytes/received, as the broker counts it (published every sys_interval)."""
    got: list[int] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bytes-reader")
    c.on_message = lambda _c, _u, m: got.append(int(m.payload))
    c.connect("127.0.0.1", broker.port)
    c.subscribe("$SYS/broker/bytes/received")
    c.loop_start()
    time.sleep(2.5)  # sys_interval 1: the last count is newer than everything sent before
    c.loop_stop()
    c.disconnect()
    if not got:
        raise SystemExit("the broker published no $SYS byte count (sys_interval?)")
    return got[-1]


def publish_all(broker: Mosquitto, messages: list[tuple[str, bytes]], client_id: str) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", broker.port, keepalive=int(KEEPALIVE_S))
    c.loop_start()
    infos = [c.publish(topic, payload, qos=1) for topic, payload in messages]
    for info in infos:
        info.wait_for_publish(30)
    c.loop_stop()
    c.disconnect()


def hcc_messages(devices: list[tuple[str, str, dict[str, Any]]], cycles: int
                 ) -> list[tuple[str, bytes]]:
    out = []
    seq = 0
    t0 = 1_790_000_000.0
    for cycle in range(cycles):
        ts = t0 + cycle * INTERVAL_S
        for device, dtype, metrics in devices:
            seq += 1
            e = wire.encode(wire.Result("phuong-1", "pi-1", device, 1, seq, ts, dtype, device,
                                        "ok", metrics))
            out.append((e.topic, e.payload))
        for beat in range(int(INTERVAL_S // KEEPALIVE_S)):
            seq += 1
            e = wire.encode(wire.Heartbeat("phuong-1", "pi-1", 1, seq, ts + beat * KEEPALIVE_S,
                                           KEEPALIVE_S))
            out.append((e.topic, e.payload))
    return out


def exception_messages(devices: list[tuple[str, str, dict[str, Any]]], cycles: int,
                       seed: int = 7) -> list[tuple[str, bytes]]:
    """agent.report: changes. Readings move as they do in a working hall (printers print a few
    pages a cycle, Wi-Fi clients come and go, latencies and power jitter); the agent's own
    filter decides what is news, and each heartbeat confirms the rest."""
    import random

    from agent.report_filter import Sent, is_news

    rng = random.Random(seed)
    out = []
    seq = 0
    t0 = 1_790_000_000.0
    live = {d: dict(m) for d, _t, m in devices}
    sent: dict[str, Sent] = {}
    unchanged: dict[str, tuple[float, wire.Status]] = {}
    for cycle in range(cycles):
        ts = t0 + cycle * INTERVAL_S
        for device, dtype, _ in devices:
            m = live[device]
            if "page_count" in m:
                m["page_count"] = int(m["page_count"]) + rng.randint(0, 6)
            if "wifi_clients" in m:
                m["wifi_clients"] = max(1, int(m["wifi_clients"]) + rng.choice((-1, 0, 1)))
            if "http_latency_ms" in m:
                m["http_latency_ms"] = round(40 + rng.uniform(-15, 15), 1)
            for k in [k for k in m if k.endswith("power_w")]:
                m[k] = round(float(m[k]) + rng.uniform(-1, 1), 1)
            if is_news(sent.get(device), "ok", (), m, ts, 600.0):
                seq += 1
                e = wire.encode(wire.Result("phuong-1", "pi-1", device, 1, seq, ts, dtype,
                                            device, "ok", dict(m)))
                out.append((e.topic, e.payload))
                sent[device] = Sent("ok", (), dict(m), ts)
                unchanged.pop(device, None)
            else:
                unchanged[device] = (ts, "ok")
        for beat in range(int(INTERVAL_S // KEEPALIVE_S)):
            seq += 1
            e = wire.encode(wire.Heartbeat("phuong-1", "pi-1", 1, seq, ts + beat * KEEPALIVE_S,
                                           KEEPALIVE_S, unchanged=unchanged))
            unchanged = {}
            out.append((e.topic, e.payload))
    return out


def telegraf_messages(devices: list[tuple[str, str, dict[str, Any]]], cycles: int
                      ) -> list[tuple[str, bytes]]:
    """Telegraf's mqtt output, data_format json: topic telegraf/<host>/<plugin>, one message per
    metric (a device's reading), {"fields", "name", "tags", "timestamp"}."""
    out = []
    for cycle in range(cycles):
        ts = 1_790_000_000 + int(cycle * INTERVAL_S)
        for device, dtype, metrics in devices:
            plugin = "http_response" if dtype == "kiosk" else "snmp"
            fields = {k: v for k, v in metrics.items() if isinstance(v, int | float | str)}
            body = {"fields": fields, "name": plugin,
                    "tags": {"agent_host": device, "host": "pi-1"}, "timestamp": ts}
            out.append((f"telegraf/pi-1/{plugin}", json.dumps(body).encode()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=int, default=60, help="simulated time to publish")
    args = ap.parse_args()
    cycles = int(args.minutes * 60 / INTERVAL_S)
    per_day = 86_400 / (args.minutes * 60)
    devices = device_readings()
    with tempfile.TemporaryDirectory(prefix="hcc-bench-bytes-") as tmp:
        broker = Mosquitto(Path(tmp) / "broker")
        broker.conf.write_text(broker.conf.read_text() + "sys_interval 1\n")
        broker.start()
        try:
            results: dict[str, tuple[int, int]] = {}
            for label, messages in (("hcc, agent.report: all (one message per result)",
                                     hcc_messages(devices, cycles)),
                                    ("hcc, agent.report: changes (by exception)",
                                     exception_messages(devices, cycles)),
                                    ("telegraf mqtt output (json)",
                                     telegraf_messages(devices, cycles))):
                before = broker_bytes(broker)
                publish_all(broker, messages, f"pub-{len(results)}")
                after = broker_bytes(broker)
                results[label] = (after - before, len(messages))
        finally:
            broker.stop()
    print(f"one center: {len(devices)} devices every {INTERVAL_S:g} s, heartbeat every "
          f"{KEEPALIVE_S:g} s; {args.minutes} simulated minutes, scaled to a day")
    for label, (nbytes, count) in results.items():
        print(f"{label}: {count * per_day:,.0f} messages/day, {nbytes * per_day / 1e6:.1f} MB/day "
              f"({nbytes / count:.0f} B per message with MQTT framing)")
    hcc, rbe, tg = (results[k][0] for k in results)
    print(f"hcc_all_mb_per_day={hcc * per_day / 1e6:.1f} "
          f"hcc_changes_mb_per_day={rbe * per_day / 1e6:.1f} "
          f"telegraf_mb_per_day={tg * per_day / 1e6:.1f} changes_vs_all={rbe / hcc:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
