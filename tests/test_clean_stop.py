"""A clean stop looks clean to the broker: on SIGTERM the controller's MQTT process and the agent
send DISCONNECT (the broker logs "Client <id> disconnected."), not a dropped socket that the
broker logs as a crash ("closed its connection", "out of memory", "protocol error"). Read from
the real broker's log, over plain TCP and over the generated TLS config."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest

import tls_center
from conftest import BIN, wait_until
from lab.procs import Mosquitto, Proc, spawn
from stack import Stack

pytestmark = pytest.mark.integration

CRASH_WORDS = ("closed its connection", "out of memory", "protocol error", "Socket error",
               "exceeded timeout", "Bad socket")


def stop_cleanly(proc: Proc) -> None:
    proc.popen.send_signal(signal.SIGTERM)
    assert proc.popen.wait(30) == 0, proc.log()[-2000:]


def assert_clean_goodbye(broker_log: str, client_id: str) -> None:
    lines = [line for line in broker_log.splitlines() if f"Client {client_id} " in line]
    assert any(re.search(rf"Client {re.escape(client_id)} disconnected\.$", line)
               for line in lines), lines
    bad = [line for line in lines if any(w.lower() in line.lower() for w in CRASH_WORDS)]
    assert bad == [], bad


def connected(log: Path, client_id: str) -> bool:
    return f"as {client_id} " in log.read_text(errors="replace")


def test_controller_and_agent_say_goodbye_on_sigterm(tmp_path: Path, broker: Mosquitto) -> None:
    stack = Stack(tmp_path, broker, "  []")
    stack.start_controller()
    stack.start_agent()
    log = broker.workdir / "mosquitto.log"
    assert stack.controller is not None and stack.agent is not None
    wait_until(lambda: connected(log, "hcc-controller") and connected(log, "hcc-agent-ba-dinh-pi-1"),
               30, "both connected")
    stop_cleanly(stack.agent)
    stop_cleanly(stack.controller)
    text = log.read_text(errors="replace")
    assert_clean_goodbye(text, "hcc-agent-ba-dinh-pi-1")
    assert_clean_goodbye(text, "hcc-controller")
    assert stack.tracebacks() == ""


def test_the_controller_says_goodbye_over_tls(tmp_path: Path) -> None:
    center = tls_center.start(tmp_path)
    log = tmp_path / "mosquitto.log"
    try:
        wait_until(lambda: connected(log, "hcc-controller"), 30, "the controller connected")
        stop_cleanly(center.procs[1])
    finally:
        center.stop()
    assert_clean_goodbye(log.read_text(errors="replace"), "hcc-controller")
    assert "Traceback" not in center.procs[1].log()


def test_an_agent_stopped_with_ctrl_c_says_goodbye_too(tmp_path: Path, broker: Mosquitto) -> None:
    stack = Stack(tmp_path, broker, "  []")
    agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(stack.agent_cfg)],
                  tmp_path / "agent.log")
    log = broker.workdir / "mosquitto.log"
    wait_until(lambda: connected(log, "hcc-agent-ba-dinh-pi-1"), 30, "the agent connected")
    agent.popen.send_signal(signal.SIGINT)
    assert agent.popen.wait(30) == 0, agent.log()[-2000:]
    assert_clean_goodbye(log.read_text(errors="replace"), "hcc-agent-ba-dinh-pi-1")
