"""Device → agent → MQTT → controller → alert, with real mosquitto, snmpsim and processes."""

from __future__ import annotations

import calendar
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import BIN, json_lines, run_cli, wait_until
from paho.mqtt.enums import CallbackAPIVersion

from lab.procs import Mosquitto, Proc, SnmpSim, free_port, spawn

KEEPALIVE = 4


class Stack:
    """A controller and an agent as real processes against a private broker."""

    def __init__(self, tmp: Path, broker: Mosquitto, sim: SnmpSim) -> None:
        self.tmp, self.broker, self.sim = tmp, broker, sim
        self.db = tmp / "hcc.db"
        self.ctl_cfg = tmp / "controller.yaml"
        self.ctl_cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{self.db}"\n'
                                "rules: {unreachable_after: 2}\n")
        self.agent_cfg = tmp / "devices.yaml"
        self.agent_cfg.write_text(f"""\
center: {{id: ba-dinh, name: "Trung tâm PVHCC phường Ba Đình"}}
agent: {{id: pi-1, heartbeat: 2s, state_dir: "{tmp / 'agent-state'}"}}
mqtt: {{url: "{broker.url}", keepalive: {KEEPALIVE}}}
defaults: {{interval: 1s, timeout: 500ms}}
devices:
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 127.0.0.1
    snmp: {{port: {sim.port}, community: printer-laser, retries: 0}}
""")
        self.controller: Proc | None = None
        self.agent: Proc | None = None

    def start_controller(self) -> None:
        self.controller = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                               str(self.ctl_cfg)], self.tmp / "controller.log")
        wait_until(self.db.exists, 15, "the controller's database")

    def start_agent(self) -> None:
        self.agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config",
                                     str(self.agent_cfg)], self.tmp / "agent.log")

    def alerts(self) -> list[dict[str, object]]:
        out = run_cli("hcc-controller", "alerts", "--json", "--all", "--db", str(self.db))
        assert out.returncode == 0, out.stderr
        return json_lines(out.stdout)

    def open_alert(self, device: str | None, code: str) -> dict[str, object] | None:
        return next((a for a in self.alerts() if a["device"] == device and a["code"] == code
                     and a["state"] != "resolved"), None)

    def agents(self) -> list[dict[str, object]]:
        return json_lines(run_cli("hcc-controller", "agents", "--json", "--db", str(self.db)).stdout)

    def stop(self) -> None:
        for p in (self.agent, self.controller):
            if p is not None:
                p.stop()


@pytest.fixture
def stack(tmp_path: Path, broker: Mosquitto, private_snmp) -> Iterator[Stack]:
    s = Stack(tmp_path, broker, private_snmp("printer-laser"))
    s.start_controller()
    s.start_agent()
    yield s
    s.stop()
    for p in (s.controller, s.agent):
        if p is not None and "Traceback" in p.log():
            pytest.fail(f"{p.name} logged a traceback:\n{p.log()[-3000:]}")


def epoch(iso: object) -> float:
    assert isinstance(iso, str)
    return float(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")))


def test_printer_unreachable_opens_then_resolves(stack: Stack) -> None:
    wait_until(lambda: any(a["agent"] == "pi-1" and a["received"] >= 2 for a in stack.agents()),
               20, "the agent's first results")
    assert stack.open_alert("printer-1", "device.unreachable") is None
    stack.sim.stop()
    alert = wait_until(lambda: stack.open_alert("printer-1", "device.unreachable"), 20,
                       "the unreachable alert")
    assert isinstance(alert, dict)
    assert alert["severity"] == "critical" and alert["center"] == "ba-dinh"
    assert alert["message"] == "Máy in quầy 1: không phản hồi"
    stack.sim.start()
    wait_until(lambda: stack.open_alert("printer-1", "device.unreachable") is None, 30,
               "the alert to resolve")
    (row,) = [a for a in stack.alerts() if a["code"] == "device.unreachable"]
    assert row["state"] == "resolved" and row["resolved_at"] is not None


def test_sigkill_agent_raises_offline_within_keepalive_then_restart_resolves(stack: Stack) -> None:
    wait_until(lambda: any(a["state"] == "online" for a in stack.agents()), 20, "agent online")
    assert stack.agent is not None
    killed_at = time.time()
    stack.agent.kill()
    alert = wait_until(lambda: stack.open_alert(None, "agent.offline"), 3 * KEEPALIVE,
                       "the agent-offline alert")
    assert isinstance(alert, dict)
    # opened_at is the controller's receive time (whole seconds): the bound of the issue.
    assert epoch(alert["opened_at"]) - killed_at <= 1.5 * KEEPALIVE
    stack.start_agent()
    wait_until(lambda: stack.open_alert(None, "agent.offline") is None, 20, "offline to resolve")
    offline = [a for a in stack.alerts() if a["code"] == "agent.offline"]
    assert len(offline) == 1 and offline[0]["state"] == "resolved"


def test_frozen_agent_is_detected_by_keepalive(stack: Stack) -> None:
    """SIGSTOP keeps the TCP connection open, as a box that lost power mid-air would."""
    wait_until(lambda: any(a["state"] == "online" for a in stack.agents()), 20, "agent online")
    assert stack.agent is not None
    stack.agent.popen.send_signal(signal.SIGSTOP)
    try:
        alert = wait_until(lambda: stack.open_alert(None, "agent.offline"), 4 * KEEPALIVE,
                           "offline via keepalive")
        assert isinstance(alert, dict) and alert["severity"] == "critical"
    finally:
        stack.agent.popen.send_signal(signal.SIGCONT)
    wait_until(lambda: stack.open_alert(None, "agent.offline") is None, 30, "reconnect resolves")


def _publish_raw(broker: Mosquitto, items: list[tuple[str, bytes]]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-raw")
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    for topic, payload in items:
        c.publish(topic, payload, qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def test_malformed_messages_are_counted_dropped_and_survived(stack: Stack) -> None:
    wait_until(lambda: stack.agents(), 20, "agent known")
    _publish_raw(stack.broker, [
        ("hcc/v1/ba-dinh/pi-1/result/printer-1", b"\xff\xfe not json"),
        ("hcc/v1/ba-dinh/pi-1/heartbeat", json.dumps({"v": 1, "kind": "heartbeat"}).encode()),
        ("hcc/v1/ba-dinh/pi-1/result/x", b"{" * 200_000),
        ("hcc/v1/other/pi-9/state", json.dumps({"v": 1, "kind": "state", "center": "ba-dinh",
                                                "agent": "pi-1", "state": "offline",
                                                "session": 99, "ts": 1}).encode()),
    ])

    def malformed() -> int:
        out = run_cli("hcc-controller", "stats", "--db", str(stack.db))
        return int(json.loads(out.stdout).get("malformed", 0)) if out.returncode == 0 else 0

    wait_until(lambda: malformed() >= 4, 15, "four malformed messages counted")
    assert malformed() == 4
    assert stack.controller is not None and stack.controller.popen.poll() is None
    log = stack.controller.log()
    assert "malformed message dropped" in log and "hcc/v1/other/pi-9/state" in log
    # The forged "offline" for another center never became an alert, and ingest goes on.
    assert stack.open_alert(None, "agent.offline") is None
    before = next(a["received"] for a in stack.agents() if a["agent"] == "pi-1")
    wait_until(lambda: next(a["received"] for a in stack.agents() if a["agent"] == "pi-1")
               > before, 15, "ingest to continue")


def test_agent_started_before_the_broker_connects_later(tmp_path: Path, private_snmp) -> None:
    broker = Mosquitto(tmp_path / "late-broker", port=free_port())
    s = Stack(tmp_path, broker, private_snmp("printer-laser"))
    try:
        s.start_agent()
        time.sleep(2.0)  # polling, broker still absent
        assert s.agent is not None and s.agent.popen.poll() is None
        broker.start()
        s.start_controller()
        wait_until(lambda: any(a["state"] == "online" for a in s.agents()), 90,
                   "the agent to reconnect with backoff")
        assert "broker unreachable" in s.agent.log()
    finally:
        s.stop()
        broker.stop()
