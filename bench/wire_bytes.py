"""Bytes on the wire per center per day: one center's box (30 devices read every 30 s; the box's
own result and a heartbeat every keepalive, or once a cycle by exception) publishing through a
real mosquitto, counted by the broker itself ($SYS/broker/bytes/received: MQTT framing
included), next to what Telegraf's MQTT output would send for the same readings (JSON data
format, one message per device reading, QoS 1).

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
KEEPALIVE_S = 10.0  # the agent's default: one heartbeat per MQTT keepalive


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
        answering = present(probes(profiles, system.get("sys_object_id")), values)
        prof = choose(profiles, dtype, system, answering)
        sample = Sample(reading_for(prof, values), DeviceContext(type=dtype,
                                                                 thresholds=Thresholds()),
                        values=prof.values, clients=prof.clients)
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


def host_readings(rng: Any, uptime: int) -> dict[str, Any]:
    """What the box's own check reads (agent/checks/host.py) and the heartbeat adds."""
    return {"cpu_percent": round(rng.uniform(2, 30), 1),
            "memory_percent": round(36 + rng.uniform(-1, 1), 1),
            "load1": round(rng.uniform(0.05, 0.6), 2), "uptime_s": uptime,
            "disk_percent": 41.3, "throttled_flags": 0, "clock_synced": 1,
            "cpu_temp_c": round(48 + rng.uniform(-1.5, 1.5), 1)}


def box_messages(devices: list[tuple[str, str, dict[str, Any]]], cycles: int, report: str,
                 seed: int = 7) -> list[tuple[str, bytes]]:
    """What the agent publishes in `cycles` intervals (agent/device_poller.py and
    agent/heartbeat.py): each device's result every interval, and every keepalive the box's
    own result and a heartbeat with the host
    readings. `report: changes`: the agent's own filter (agent/report_filter.py) decides what is
    news; each heartbeat confirms the rest and carries host readings only when they moved.
    Readings move as in a working hall: printers print a few pages a cycle, Wi-Fi clients come
    and go, latencies, power and the box's load jitter. Timestamps as time.time() gives them."""
    import random

    from agent.report_filter import CYCLE_S, REFRESH_S, Sent, is_news

    rng = random.Random(seed)
    out = []
    seq = 0
    t0 = 1_790_000_000.0
    live = {d: dict(m) for d, _t, m in devices}
    sent: dict[str, Sent] = {}
    host_sent: Sent | None = None
    unchanged: dict[str, tuple[float, wire.Status]] = {}
    by_exception = report == "changes"

    def result(device: str, dtype: str, ts: float, metrics: dict[str, Any]) -> None:
        nonlocal seq
        seq += 1
        if by_exception and not is_news(sent.get(device), "ok", (), metrics, ts, REFRESH_S):
            unchanged[device] = (ts, "ok")
            return
        e = wire.encode(wire.Result(center="phuong-1", agent="pi-1", device=device, session=1,
                                    seq=seq, ts=ts, device_type=dtype, device_name=device,
                                    status="ok", metrics=dict(metrics)))
        out.append((e.topic, e.payload))
        sent[device] = Sent("ok", (), dict(metrics), ts)
        unchanged.pop(device, None)

    # the agent's heartbeat: every keepalive, or once a cycle by exception (hcc_common/devices_config.py)
    beat_s = max(KEEPALIVE_S, CYCLE_S) if by_exception else KEEPALIVE_S
    beats = max(1, int(INTERVAL_S // beat_s))
    for cycle in range(cycles):
        for beat in range(beats):
            at = t0 + cycle * INTERVAL_S + beat * beat_s
            # a third of the devices are polled in each keepalive, spread over it
            for i, (device, dtype, _) in enumerate(devices):
                if i % beats != beat:
                    continue
                m = live[device]
                if "page_count" in m:
                    m["page_count"] = int(m["page_count"]) + rng.randint(0, 6)
                if "wifi_clients" in m:
                    m["wifi_clients"] = max(1, int(m["wifi_clients"]) + rng.choice((-1, 0, 1)))
                if "http_latency_ms" in m:
                    m["http_latency_ms"] = round(40 + rng.uniform(-15, 15), 1)
                for k in [k for k in m if k.endswith("power_w")]:
                    m[k] = round(float(m[k]) + rng.uniform(-1, 1), 1)
                result(device, dtype, at + rng.uniform(0, beat_s), m)
            hb_at = at + beat_s - 0.01 * rng.random()
            host = host_readings(rng, int(hb_at - t0) + 86_400)
            result("pi-1", "box", hb_at, host)
            host = {**host, "outbox_count": 0, "outbox_oldest_s": 0.0, "outbox_bytes": 0,
                    "outbox_dropped": 0, "unbuffered": 0}
            if by_exception:
                if is_news(host_sent, "ok", (), host, hb_at, REFRESH_S):
                    host_sent = Sent("ok", (), host, hb_at)
                else:
                    host = {}
            seq += 1
            e = wire.encode(wire.Heartbeat("phuong-1", "pi-1", 1, seq, hb_at, beat_s,
                                           host, kept_from=(1, seq), unchanged=unchanged))
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
                                     box_messages(devices, cycles, "all")),
                                    ("hcc, agent.report: changes (by exception)",
                                     box_messages(devices, cycles, "changes")),
                                    ("telegraf mqtt output (json)",
                                     telegraf_messages(devices, cycles))):
                before = broker_bytes(broker)
                publish_all(broker, messages, f"pub-{len(results)}")
                after = broker_bytes(broker)
                results[label] = (after - before, len(messages))
        finally:
            broker.stop()
    print(f"one center: {len(devices)} devices every {INTERVAL_S:g} s, MQTT keepalive "
          f"{KEEPALIVE_S:g} s (a heartbeat each in `all`, one a cycle by exception); "
          f"{args.minutes} simulated minutes, scaled to a day")
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
