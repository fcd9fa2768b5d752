"""The controller's MQTT process: batches up the pipe, acks down, and nothing lost when it dies."""

from __future__ import annotations

import os
import signal
import time

import pytest

from conftest import wait_until
from controller.receiver import LinkSettings, Received, ReceiverDied, ReceiverLink
from hcc_common.mqtt_io import BrokerSettings, MqttLink
from hcc_common.wire import Encoded
from lab.procs import Mosquitto


def _publish(broker: Mosquitto, n: int) -> None:
    pub = MqttLink(BrokerSettings("127.0.0.1", broker.port), "test-publisher")
    pub.start()
    wait_until(lambda: pub.connected, 10, "publisher connected")
    for i in range(n):
        assert pub.publish(Encoded(f"hcc/v1/c1/a1/result/d{i}", f"m{i}".encode(), retain=False))
    wait_until(lambda: pub.unacked() == 0, 20, "publisher's messages acknowledged")
    pub.stop()


def _receive(link: ReceiverLink, n: int) -> list[Received]:
    got: list[Received] = []
    deadline = time.monotonic() + 20
    while len(got) < n and time.monotonic() < deadline:
        got.extend(link.receive(0.2))
    return got


def test_unacked_messages_come_again_after_the_mqtt_process_dies(broker: Mosquitto) -> None:
    link = ReceiverLink(LinkSettings(BrokerSettings("127.0.0.1", broker.port), "test-ctl",
                                     ("hcc/v1/+/+/#",), 3600, "warning"))
    link.start()
    try:
        wait_until(lambda: link.receive(0.1) == [] and link.up_since < float("inf"), 20,
                   "the MQTT process connected and subscribed")
        _publish(broker, 30)
        got = _receive(link, 30)
        assert sorted(p for _t, p, *_ in got) == sorted(f"m{i}".encode() for i in range(30))
        assert all(qos == 1 and received_at > 0 for _t, _p, received_at, _m, qos, _r in got)
        link.ack([(mid, qos) for _t, p, _r, mid, qos, _ret in got if p in (b"m0", b"m1")])
        time.sleep(0.5)  # let the two acks reach the broker before the process is killed
        os.kill(link._proc.pid, signal.SIGKILL)
        with pytest.raises(ReceiverDied):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                link.receive(0.2)
        assert link.up_since == float("inf")  # not listening: nobody is silent meanwhile
        link.restart()
        again = _receive(link, 28)
        # exactly the 28 never acknowledged, no more
        assert sorted(p for _t, p, *_ in again) == sorted(f"m{i}".encode() for i in range(2, 30))
        assert link.receive(1.0) == []
    finally:
        link.stop()
