"""The controller's MQTT connection in a child process, so paho's per-packet work runs beside the rules.

paho spends about as much CPU per QoS 1 message as decoding, rules and the store together, and
one Python process runs one thread at a time: with the socket in its own process the two halves
use two cores. The child only moves bytes: batches of received messages up a pipe, acks, alert
publishes and a stop request down. It acknowledges nothing on its own (manual acks), so what
the controller has not committed stays with the broker, whatever dies.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import multiprocessing
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any

from hcc_common import logs
from hcc_common.mqtt_io import BrokerSettings, Incoming, MqttLink
from hcc_common.wire import Encoded

log = logging.getLogger("hcc.receiver")

# (topic, payload, received_at, mid, qos, retain): a plain tuple pickles several times faster
# than a dataclass, and every message crosses the pipe.
Received = tuple[str, bytes, float, int, int, bool]

# In the same stream, in order: the connection came up (True) or went down (False), and when.
LinkEvent = tuple[str, bool, float]
LINK_EVENT = "<link>"

# The child sends what it has after this long even if the batch is small: latency bound.
GATHER_S = 0.002
CHUNK_MAX = 1000


class ReceiverDied(RuntimeError):
    """The child process is gone; its unacked messages are still the broker's."""


@dataclass(frozen=True)
class LinkSettings:
    broker: BrokerSettings
    client_id: str
    subscriptions: tuple[str, ...]
    session_expiry_s: int
    log_level: str
    # False with partitions: the subscriptions follow the leases, so a restarted controller
    # must not get back its old ones from the broker (the agents resend what it misses)
    persistent: bool = True


class ReceiverLink:
    """Parent side: the same verbs as MqttLink (start, stop, ack, publish) plus receive()."""

    def __init__(self, settings: LinkSettings) -> None:
        self.settings = settings
        self._ctx = multiprocessing.get_context("spawn")  # no inherited threads or locks
        self._proc: Any = None
        self._conn: Connection | None = None
        self._send_lock = threading.Lock()  # ingest thread acks, event loop publishes alerts
        self._extra: dict[str, None] = {}  # subscribed after start (partitions' centers)
        # since when the broker connection is up, as of the messages received so far (inf: down)
        self.up_since = float("inf")

    def start(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        settings = self.settings
        if self._extra:  # a restarted MQTT process subscribes to what the old one had
            settings = replace(settings, subscriptions=(*settings.subscriptions, *self._extra))
        self._proc = self._ctx.Process(target=child_main, args=(child, settings),
                                       name="hcc-mqtt", daemon=True)
        with _light_main():
            self._proc.start()
        child.close()
        self._conn = parent

    def receive(self, timeout: float) -> list[Received]:
        """One batch of messages, or [] when none came within `timeout`."""
        conn = self._conn
        assert conn is not None
        try:
            if not conn.poll(timeout):
                return []
            batch: list[Received | LinkEvent] = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError) as exc:
            self.up_since = float("inf")
            raise ReceiverDied(f"MQTT process ended: {exc or 'pipe closed'}") from None
        messages: list[Received] = []
        for item in batch:
            if len(item) == 3:
                self.up_since = item[2] if item[1] else float("inf")
            else:
                messages.append(item)
        return messages

    def _send(self, command: tuple[object, ...]) -> None:
        conn = self._conn
        if conn is None:
            return
        data = pickle.dumps(command, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            with self._send_lock:
                conn.send_bytes(data)
        except OSError:
            # The child is gone: its messages stay unacked at the broker and come again.
            log.warning("MQTT process not reachable", extra={"command": str(command[0])})

    def ack(self, items: Sequence[tuple[int, int]]) -> None:
        """Acknowledge (mid, qos) pairs of committed messages."""
        if items:
            self._send(("ack", list(items)))

    def publish(self, msg: Encoded) -> None:
        self._send(("pub", msg.topic, msg.payload, msg.retain, msg.qos))

    def subscribe(self, topics: Sequence[str]) -> None:
        """Add subscriptions (kept across reconnects and restarts of the MQTT process)."""
        self._extra.update(dict.fromkeys(topics))
        if topics:
            self._send(("sub", list(topics)))

    def unsubscribe(self, topics: Sequence[str]) -> None:
        for t in topics:
            self._extra.pop(t, None)
        if topics:
            self._send(("unsub", list(topics)))

    def stop(self, timeout: float = 5.0) -> None:
        self._send(("stop",))
        if self._proc is not None:
            self._proc.join(timeout)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(1.0)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def restart(self) -> None:
        self.stop(timeout=1.0)
        self.start()


@contextlib.contextmanager
def _light_main() -> Iterator[None]:
    """A spawned child first imports the parent's __main__: for `hcc-controller` that is the
    whole CLI (typer, the web app, reports), some 50 MB the MQTT process never uses. Named
    after this module instead, the child imports only what it runs."""
    main = sys.modules["__main__"]
    saved = getattr(main, "__spec__", None)
    main.__spec__ = importlib.util.find_spec(__name__)
    try:
        yield
    finally:
        main.__spec__ = saved


# -- the child process --------------------------------------------------------------------------
class _Gatherer:
    """Collects messages from paho's thread and hands them up the pipe in batches."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        # deque: append (paho's thread) and popleft (ours) are atomic, so no message can land
        # in a batch that was already sent, as it could with a list swapped under the appender
        self.queue: deque[Received | LinkEvent] = deque()
        self.wake = threading.Event()

    def on_message(self, m: Incoming) -> None:
        self.queue.append((m.topic, m.payload, m.received_at, m.mid, m.qos, m.retain))
        self.wake.set()

    def link_event(self, up: bool) -> None:
        self.queue.append((LINK_EVENT, up, time.time()))
        self.wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.wake.wait(0.5)
            if not self.queue:
                continue
            time.sleep(GATHER_S)  # let a burst gather into one pipe write
            self.wake.clear()  # before taking: whatever comes after sets it again
            while self.queue:
                batch = [self.queue.popleft() for _ in range(min(len(self.queue), CHUNK_MAX))]
                try:
                    self.conn.send_bytes(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL))
                except OSError:
                    stop.set()  # the controller is gone
                    return


def child_main(conn: Connection, settings: LinkSettings) -> None:
    """Entry point of the MQTT process: runs until told to stop or the controller is gone."""
    # The controller ends this process (it drains and acks what it holds, then says stop, and
    # the link sends DISCONNECT). systemd's SIGTERM, or a terminal's Ctrl-C, reaches every
    # process of the service: taken here, it cut the socket mid-stream.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logs.setup(settings.log_level)
    gatherer = _Gatherer(conn)
    link = MqttLink(settings.broker, settings.client_id, subscriptions=settings.subscriptions,
                    on_message=gatherer.on_message,
                    session_expiry_s=settings.session_expiry_s, manual_ack=True,
                    persistent_session=settings.persistent,
                    on_connected=lambda: gatherer.link_event(True),
                    on_disconnected=lambda: gatherer.link_event(False))
    stop = threading.Event()
    sender = threading.Thread(target=gatherer.run, args=(stop,), name="gather", daemon=True)
    link.start()
    sender.start()
    try:
        while not stop.is_set():
            try:
                command = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                break  # the controller died: stop; the broker keeps what we did not ack
            verb = command[0]
            if verb == "ack":
                for mid, qos in command[1]:
                    link.ack(mid, qos)
            elif verb == "pub":
                _, topic, payload, retain, qos = command
                link.publish(Encoded(topic, payload, retain, qos))
            elif verb == "sub":
                link.subscribe(command[1])
            elif verb == "unsub":
                link.unsubscribe(command[1])
            elif verb == "stop":
                break
    finally:
        stop.set()
        link.stop()
        conn.close()
