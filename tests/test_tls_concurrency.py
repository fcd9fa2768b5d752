"""One thread owns each paho socket: publishes and acks from other threads over TLS, at speed,
give no corrupted records, no disconnects, no duplicates (issue 11.2)."""

from __future__ import annotations

import getpass
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import wait_until
from controller.brokerconf import generate
from hcc_common.mqtt_io import BrokerSettings, Incoming, MqttLink
from lab.procs import free_port, spawn, wait_tcp

pytestmark = pytest.mark.integration

THREADS, PER_THREAD = 4, 1500


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    port = free_port()
    out = tmp_path / "broker"
    generate(out, [("ba-dinh", "pi-1")], ["127.0.0.1"], port, "127.0.0.1",
             run_as=getpass.getuser())
    proc = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                 tmp_path / "mosquitto.log")
    wait_tcp(port)
    yield out, port
    proc.stop()
    assert "bad record mac" not in proc.log() and "decryption failed" not in proc.log()


def settings(out: Path, port: int, user: str) -> BrokerSettings:
    password = (out / "credentials" / f"{user}.password").read_text().strip()
    return BrokerSettings("127.0.0.1", port, True, 10, user, password, str(out / "ca.crt"))


def test_publishes_and_acks_from_other_threads_over_tls(tls: tuple[Path, int]) -> None:
    out, port = tls
    got: queue.Queue[Incoming] = queue.Queue()
    drops = {"sub": 0, "pub": 0}

    def dropped(which: str) -> None:
        drops[which] += 1

    sub = MqttLink(settings(out, port, "hcc-controller"), "hcc-controller",
                   subscriptions=("hcc/v1/+/+/#",), on_message=got.put, manual_ack=True,
                   persistent_session=True, on_disconnected=lambda: dropped("sub"))
    pub = MqttLink(settings(out, port, "pi-1@ba-dinh"), "x",
                   on_published=lambda _mid: None, on_disconnected=lambda: dropped("pub"))
    sub.start()
    pub.start()
    try:
        wait_until(lambda: sub.connected and pub.connected, 15, "both connected")
        time.sleep(0.3)  # the subscription is in place
        seen: dict[bytes, int] = {}
        total = THREADS * PER_THREAD

        def acker() -> None:  # acks come from this thread, as the controller's ingest does
            deadline = time.monotonic() + 120
            while len(seen) < total and time.monotonic() < deadline:
                try:
                    m = got.get(timeout=0.5)
                except queue.Empty:
                    continue
                seen[m.payload] = seen.get(m.payload, 0) + 1
                sub.ack(m.mid, m.qos)

        def publisher(n: int) -> None:
            for i in range(PER_THREAD):
                while pub.publish_tracked(f"hcc/v1/ba-dinh/pi-1/result/d{n}",
                                          f"{n}-{i}-".encode() + b"x" * 300, False) is None:
                    time.sleep(0.01)  # paho's queue is full: wait, as the agent's sender does
                if i % 200 == 0:
                    time.sleep(0.01)

        ack_thread = threading.Thread(target=acker)
        ack_thread.start()
        threads = [threading.Thread(target=publisher, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        ack_thread.join(130)
        assert drops == {"sub": 0, "pub": 0}
        assert len(seen) == total, f"{len(seen)} of {total} arrived"
        assert max(seen.values()) == 1  # no duplicates: no reconnect, no resend
    finally:
        pub.stop()
        sub.stop()
