"""Report by exception: a result goes out on its own only when it is news (status, faults, a
reading past its deadband, a zero crossing, unreachable, or an old last report); otherwise the
next heartbeat confirms it in a line, and the controller applies that line as the device's last
result again: timers, failure counts and the history go on as before. Pure parts, the wire, the
controller, and a real agent and controller through a broker."""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.report_filter import Sent, deadband, is_news
from conftest import wait_until
from controller.state import Fleet, OpenAlert, Reading
from hcc_common import wire
from lab.procs import Mosquitto, SnmpSim
from stack import Stack

JAM = wire.FaultReport("printer.jammed", "critical", {})


def test_what_is_news() -> None:
    prev = Sent("ok", (), {"supply.1.pct": 50.0, "page_count": 1000, "wifi_clients": 3,
                           "printer_status": "idle", "uptime_s": 10}, at=1000.0)

    def news(status: str = "ok", faults: tuple[wire.FaultReport, ...] = (), now: float = 1030.0,
             **changes: object) -> bool:
        metrics = {**prev.metrics, **{k.replace("__", "."): v for k, v in changes.items()}}
        return is_news(prev, status, faults, metrics, now, refresh_s=600.0)  # type: ignore[arg-type]

    assert not news()                                    # nothing moved
    assert not news(uptime_s=40, supply__1__pct=49.5, page_count=1040)  # within deadbands
    assert news(supply__1__pct=48.5)                     # 1.5 points: past 1
    assert news(page_count=1051)
    assert news(printer_status="printing")               # a text: any change
    assert news(wifi_clients=0) and not news(wifi_clients=4)  # 0 is always news
    assert news(status="critical", faults=(JAM,))
    assert news(status="unreachable")                    # every failed poll counts
    assert news(now=1600.0)                              # a full report every refresh
    assert is_news(None, "ok", (), {}, 0.0, 600.0)       # the first report
    assert deadband("uptime_s", {"uptime_s": math.inf}) == math.inf
    # the box's own readings: an idle CPU's 0.0 is a reading, not a count reaching 0
    box = Sent("ok", (), {"cpu_percent": 3.5, "load1": 0.08, "outbox_count": 0}, at=1000.0)
    assert not is_news(box, "ok", (), {"cpu_percent": 0.0, "load1": 0.0, "outbox_count": 0},
                       1010.0, 600.0)
    assert is_news(box, "ok", (), {"cpu_percent": 40.0, "load1": 0.08, "outbox_count": 0},
                   1010.0, 600.0)
    assert is_news(box, "ok", (), {"cpu_percent": 3.5, "load1": 0.08, "outbox_count": 12},
                   1010.0, 600.0)  # a backlog starting is news, whatever outbox_*'s band


def test_deadbands_are_configured_like_thresholds(tmp_path: Path) -> None:
    from agent.config import load

    cfg = tmp_path / "devices.yaml"
    cfg.write_text("center: {id: c1}\nagent: {id: pi-1, report: changes, refresh: 5m, "
                   "deadbands: {page_count: 500, 'supply.*.pct': 5}}\nmqtt: {url: 'mqtt://x'}\n"
                   "devices: []\n")
    agent = load(cfg).agent
    assert agent.report == "changes" and agent.refresh_s == 300
    prev = Sent("ok", (), {"page_count": 1000, "supply.1.pct": 50.0}, 0.0)
    assert not is_news(prev, "ok", (), {"page_count": 1400, "supply.1.pct": 46.0}, 30.0, 300,
                       agent.deadbands)  # the operator's bands come first
    assert is_news(prev, "ok", (), {"page_count": 1400, "supply.1.pct": 46.0}, 30.0, 300)


def test_heartbeat_carries_the_unchanged_devices_and_the_wire_checks_them() -> None:
    hb = wire.Heartbeat("c1", "pi-1", 1, 9, 1790000000.25, 10.0,
                        unchanged={"printer-1": (1789999995.25, "ok"), "ap-1": (1789999997.25,
                                                                                "warning")})
    e = wire.encode(hb)
    # grouped by status, each device with its whole seconds before the heartbeat
    assert b'"unchanged":{"ok":{"printer-1":5},"warning":{"ap-1":3}}' in e.payload
    assert wire.decode(e.topic, e.payload) == hb
    # a check time between whole seconds comes back to the second
    odd = wire.encode(replace(hb, unchanged={"ap-1": (1789999997.9, "ok")}))
    assert wire.decode(odd.topic, odd.payload).unchanged == {"ap-1": (1789999998.25, "ok")}
    old = wire.encode(wire.Heartbeat("c1", "pi-1", 1, 10, 1790000000.0, 10.0))
    assert b"unchanged" not in old.payload  # older controllers see the same heartbeat
    # nothing to say, nothing sent: an empty host (as before) and no backlog
    assert b"host" not in old.payload and b"backlog" not in old.payload
    for bad, why in ((e.payload.replace(b'"warning"', b'"fine"'), "status"),
                     (e.payload.replace(b'"ap-1":3', b'"ap-1":-3'), "seconds before ts"),
                     (e.payload.replace(b'"ap-1":3', b'"ap-1":"3"'), "seconds before ts"),
                     (e.payload.replace(b'"ap-1":3', b'"ap 1":3'), "bad device id"),
                     (e.payload.replace(b'{"ap-1":3}', b'[3]'), "at most")):
        with pytest.raises(wire.WireError, match=why):
            wire.decode(e.topic, bad)


def test_a_heartbeat_without_host_readings_keeps_the_last_ones() -> None:
    fleet = Fleet()
    fleet.apply(wire.Heartbeat("c1", "pi-1", 1, 1, 1790000000.0, 10.0,
                               host={"cpu_percent": 12.0}), 1790000000.0)
    fleet.apply(wire.Heartbeat("c1", "pi-1", 1, 2, 1790000010.0, 10.0), 1790000010.0)
    assert fleet.agents[("c1", "pi-1")].host == {"cpu_percent": 12.0}
    fleet.apply(wire.Heartbeat("c1", "pi-1", 1, 3, 1790000020.0, 10.0,
                               host={"cpu_percent": 55.0}), 1790000020.0)
    assert fleet.agents[("c1", "pi-1")].host == {"cpu_percent": 55.0}


def test_controller_applies_a_confirmation_as_the_last_result_again() -> None:
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    fleet = Fleet()
    t0 = datetime(2026, 11, 30, 9, tzinfo=tz).timestamp()  # Monday morning: open
    first = wire.Result(center="c1", agent="pi-1", device="ap-1", session=1, seq=1, ts=t0,
                        device_type="wifi_ap", device_name="Wi-Fi sảnh", status="ok",
                        metrics={"wifi_clients": 0})
    out = fleet.apply(first, t0)
    assert [type(e).__name__ for e in out].count("Reading") == 1
    opened: list[str] = []
    readings = 0
    # nothing changes for 35 minutes: only heartbeats, each confirming the AP
    for i in range(1, 8):
        at = t0 + i * 300
        hb = wire.Heartbeat("c1", "pi-1", 1, 1 + i, at, 10.0, unchanged={"ap-1": (at, "ok")})
        effects = fleet.apply(hb, at)
        readings += sum(1 for e in effects if isinstance(e, Reading))
        opened += [e.key.code for e in effects if isinstance(e, OpenAlert)]
    assert readings == 7  # the history keeps one sample per check, as before
    assert opened == ["ap.no_clients"]  # the rule's 30 minutes ran on the confirmations
    assert fleet.devices[("c1", "pi-1", "ap-1")].agent_ts == t0 + 7 * 300


@pytest.mark.integration
def test_a_real_agent_reports_by_exception_and_faults_still_come_at_once(
        tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    sim = SnmpSim(tmp_path / "sim", [Path(__file__).parent / "fixtures/snmprec/printer-laser.snmprec"
                                     ]).start()
    devices = f"""\
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 127.0.0.1
    snmp: {{port: {sim.port}, community: printer-laser, retries: 0}}"""
    s = Stack(tmp_path, broker, devices, keepalive=2, interval="1s")
    s.agent_cfg.write_text(s.agent_cfg.read_text().replace("agent: {id: pi-1,",
                                                           "agent: {id: pi-1, report: changes,"))
    kinds: list[str] = []
    lock = threading.Lock()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="watch")

    def on_message(_c: object, _u: object, m: mqtt.MQTTMessage) -> None:
        with lock:
            kinds.append(m.topic.split("/")[4])

    c.on_message = on_message
    c.connect("127.0.0.1", broker.port)
    c.subscribe("hcc/v1/+/+/+/#")
    c.loop_start()
    try:
        s.start_controller()
        s.start_agent()
        wait_until(lambda: s.agents() and s.agents()[0]["received"] >= 6, 30, "reports")
        time.sleep(8)
        with lock:
            results = kinds.count("result")
            beats = kinds.count("heartbeat")
        # one poll a second for ~10 s: a handful of results (the first, the box's, a page
        # counter on the move) instead of one per poll; the heartbeats confirm the rest
        assert beats >= 3 and results <= beats + 3, (results, beats)
        # the controller applied every confirmation: the printer's last check is the last
        # heartbeat's line, not its one full report (stored once a minute: read it live)
        db = sqlite3.connect(s.db)
        assert db.execute("SELECT COUNT(*) FROM history_raw WHERE device='printer-1'"
                          ).fetchone()[0] >= 1  # its full report; confirmations: 1 per 5 min
        assert results < 10 and s.agents()[0]["received"] >= beats
        assert not s.tracebacks(), s.tracebacks()
    finally:
        c.loop_stop()
        s.stop()
        sim.stop()
        broker.stop()


def test_confirmations_are_sampled_into_the_history_and_the_store() -> None:
    """A country's unchanged devices, confirmed every 30 s: a history sample per device per
    5 minutes (readings hold 2.5 gaps: up-time stays continuous), its "last checked" stored
    once a minute; in memory every confirmation counts. Changes are never sampled away."""
    from controller.state import CONFIRM_STORE_S, HISTORY_SAMPLE_S
    from controller.write_behind import WriteBehind

    fleet, wb = Fleet(), WriteBehind()
    t0 = 1_790_000_100.0  # not on a 5-minute boundary
    fleet.apply(wire.Result(center="c1", agent="pi-1", device="ap-1", session=1, seq=1, ts=t0,
                            device_type="wifi_ap", device_name="Wi-Fi", status="ok",
                            metrics={"wifi_clients": 4}), t0, changes=wb.changes)
    wb.devices(fleet)
    readings: list[float] = []
    stored: list[float] = []
    for i in range(1, 21):  # 10 minutes of confirmations
        at = t0 + 30 * i
        out = fleet.apply(wire.Heartbeat("c1", "pi-1", 1, 1 + i, at, 30.0,
                                         unchanged={"ap-1": (at, "ok")}), at, changes=wb.changes)
        readings += [e.ts for e in out if isinstance(e, Reading)]
        stored += [d.agent_ts for d in wb.devices(fleet)]
        assert fleet.devices[("c1", "pi-1", "ap-1")].agent_ts == at  # always current here
    assert len(readings) == 2 and all(t % HISTORY_SAMPLE_S < 30 for t in readings), readings
    assert len(stored) == 10 and all(t % CONFIRM_STORE_S < 30 for t in stored), stored
    # a change in between is a sample and stored at once, as before
    at = t0 + 630
    out = fleet.apply(wire.Result(center="c1", agent="pi-1", device="ap-1", session=1, seq=30,
                                  ts=at, device_type="wifi_ap", device_name="Wi-Fi", status="ok",
                                  metrics={"wifi_clients": 0}), at)
    assert [e.ts for e in out if isinstance(e, Reading)] == [at]
