"""Issue 26 (3): the running agent applies an edited devices.yaml (discover --write, or by hand)
without a restart: at once on SIGHUP (`systemctl reload hcc-agent`), else at its next heartbeat;
a file with a mistake is not applied and the running devices go on."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path

import pytest

from conftest import BIN, wait_until
from lab.procs import Mosquitto, spawn

pytestmark = pytest.mark.integration


def polled(state: Path) -> set[str]:
    try:
        status = json.loads((state / "status.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return set()
    return {d for d, st in status["devices"].items() if st.get("last_poll") is not None}


def test_an_edited_devices_yaml_is_applied_without_a_restart(tmp_path: Path,
                                                              broker: Mosquitto) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    state = tmp_path / "state"
    cfg = tmp_path / "devices.yaml"
    head = (f'center: {{id: phuong-1}}\nagent: {{id: pi-1, heartbeat: 1s, state_dir: "{state}"}}\n'
            f'mqtt: {{url: "mqtt://127.0.0.1:{broker.port}"}}\n')
    cfg.write_text(head + "devices: []\n")
    agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                  tmp_path / "agent.log")
    try:
        wait_until(lambda: (state / "status.json").exists(), 30, "the agent's first status")
        device = (f"  - {{id: door-1, type: other, host: 127.0.0.1, interval: 2s, timeout: 1s,"
                  f" tcp: {{port: {port}}}}}\n")
        cfg.write_text(head + "devices:\n" + device)
        agent.popen.send_signal(signal.SIGHUP)  # what `systemctl reload hcc-agent` sends
        wait_until(lambda: "door-1" in polled(state), 30, "door-1 polled after SIGHUP")
        # by hand, no signal: seen at a heartbeat
        cfg.write_text(head + "devices:\n" + device + device.replace("door-1", "door-2"))
        wait_until(lambda: "door-2" in polled(state), 30, "door-2 polled after an edit")
        pid = agent.popen.pid
        # a mistake: not applied, the agent goes on with what it has
        cfg.write_text(head + "devices:\n" + device + "  - {id: bad, type: other, hostname: x}\n")
        agent.popen.send_signal(signal.SIGHUP)
        wait_until(lambda: "devices.yaml not applied" in agent.log(), 30, "the error logged")
        assert agent.popen.poll() is None and agent.popen.pid == pid
        assert {"door-1", "door-2"} <= polled(state)
        assert "did you mean 'host'" in agent.log()
    finally:
        agent.stop()
        listener.close()
