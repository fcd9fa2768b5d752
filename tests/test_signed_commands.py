"""Configuration is code: only the controller's signature makes a box take a pushed config.

Real mosquitto, real agent processes. The broker here has no ACL at all, the worst case of an
ACL mistake: anyone on it may publish on a box's cmd/ topics, as a stolen box's password did
(issue 23, item 1). Every forged, replayed or over-reaching command is refused with a clear
log line, and the file its command check would create never appears."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import wait_until
from hcc_common import wire
from lab.procs import Mosquitto
from stack import Stack

pytestmark = pytest.mark.integration


def publish_retained(broker: Mosquitto, topic: str, payload: bytes) -> None:
    """What an attacker with a box's broker password does: a retained message on its cmd/."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="attacker", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def evil_config(stack: Stack, marker: Path, device: str = "evil") -> str:
    return stack.agent_cfg.read_text() + (
        f'  - {{id: {device}, type: other, command: ["/bin/sh", "-c", "id > {marker}"]}}\n')


def push_of(stack: Stack, content: str, center: str = "ba-dinh", agent: str = "pi-1",
            author: str = "attacker", issued: float | None = None) -> wire.ConfigPush:
    return wire.ConfigPush(center, agent, wire.config_version(content), content, author,
                           time.time())


def test_unsigned_retained_config_is_refused_even_after_a_wiped_state_dir(
        tmp_path: Path, broker: Mosquitto) -> None:
    marker = tmp_path / "pwned"
    s = Stack(tmp_path, broker, "  - {id: kiosk-1, type: kiosk, host: 127.0.0.1, "
                                "tcp: {port: 9}}")
    msg = wire.encode_config(push_of(s, evil_config(s, marker)))
    publish_retained(broker, msg.topic, msg.payload)
    for run in range(2):
        s.start_agent()
        assert s.agent is not None
        try:
            wait_until(lambda: "pushed config refused" in s.agent.log()  # type: ignore[union-attr]
                       or marker.exists(), 30, "the retained config seen")
            time.sleep(3.0)  # a check of the applied config would have run by now (interval 1s)
            assert not marker.exists(), "the attacker's command ran"
            assert "unsigned" in s.agent.log()
            assert "Traceback" not in s.agent.log()
        finally:
            s.agent.stop()
        # a wiped state dir forgets nothing that mattered: the refusal is not a memory
        shutil.rmtree(tmp_path / "agent-state", ignore_errors=True)
        (tmp_path / "agent.log").rename(tmp_path / f"agent-{run}.log")
