"""The only module that talks to paho-mqtt: connect, will/birth, QoS 1 publish, subscribe, reconnect."""

from __future__ import annotations

import contextlib
import logging
import select
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from hcc_common.backoff import Backoff
from hcc_common.mqtt_settings import MAX_PACKET_BYTES
from hcc_common.net_failure import Cause, NetFailure, classify
from hcc_common.wire import Encoded

log = logging.getLogger("hcc.mqtt")

# Bounds paho's in-memory queue (it has no backpressure of its own).
MAX_QUEUED = 10_000
SUBSCRIBE_CHUNK = 500  # topic filters per SUBSCRIBE packet
PACKET_OVERHEAD = 64  # fixed header, packet id, properties of a PUBLISH, at most
CLOSE_WAIT_S = 2.0  # at a stop, for the broker to close its side after our DISCONNECT


@dataclass(frozen=True)
class BrokerSettings:
    host: str
    port: int
    tls: bool = False
    keepalive: int = 10
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class Incoming:
    topic: str
    payload: bytes
    received_at: float
    mid: int
    qos: int
    retain: bool = False


MessageHandler = Callable[[Incoming], None]


def _loop_thread_writes(_client: mqtt.Client, _userdata: Any, _sock: Any) -> None:
    """paho asks for the socket to be written: the loop thread does that on its next turn."""


# CONNACK reasons (MQTT 5 §3.2.2.2; v3.1.1's return codes 4 and 5) that mean our user name,
# password or certificate is not accepted: a setting to fix, not a network to check
_AUTH_REASONS = ("bad user name or password", "not authorized", "not authorised",
                 "bad authentication method", "banned")


def connack_failure(reason: str, target: str) -> NetFailure:
    """Pure: what a broker's refusal of our CONNECT means."""
    cause = Cause.AUTH if reason.lower() in _AUTH_REASONS else Cause.OTHER
    return NetFailure(cause, f"{target}: broker refused: {reason}")


class MqttLink:
    """A paho client run on its own thread, reconnecting with capped, jittered backoff for ever."""

    def __init__(
        self,
        settings: BrokerSettings,
        client_id: str,
        *,
        will: Encoded | None = None,
        birth: Callable[[], Encoded] | None = None,
        subscriptions: Sequence[str] = (),
        on_message: MessageHandler | None = None,
        persistent_session: bool = False,
        session_expiry_s: int = 7 * 86400,
        manual_ack: bool = False,
        on_published: Callable[[int], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._birth = birth
        self._subscriptions = dict.fromkeys(subscriptions)  # ordered, renewed on each connect
        self._subs_lock = threading.Lock()
        self._subs_sent = False  # this connection has the list: later changes go out at once
        self._handler = on_message
        self._persistent = persistent_session
        self._on_published = on_published
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._session_expiry = session_expiry_s
        self._stop = threading.Event()
        self._disconnect_timeout = 3.0
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = Backoff(initial=1.0, cap=60.0)
        self.dropped = 0
        # why the last attempt to reach the broker failed, until the next connect succeeds:
        # `hcc-agent status` says it in words (refused, TLS, a wrong password), not "offline"
        self.last_failure: NetFailure | None = None
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                        protocol=mqtt.MQTTv5)
        c.max_queued_messages_set(MAX_QUEUED)
        c.max_inflight_messages_set(100)
        if will is not None:
            c.will_set(will.topic, will.payload, qos=1, retain=will.retain)
        if settings.username is not None:
            c.username_pw_set(settings.username, settings.password)
        if settings.tls:
            c.tls_set_context(ssl.create_default_context(cafile=settings.ca_file))
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        if on_published is not None:
            c.on_publish = self._on_publish
        if on_message is not None:
            c.on_message = self._on_message
        # With manual acks the broker keeps a QoS 1 message until we have stored it.
        c.manual_ack_set(manual_ack)
        # One thread owns the socket. Without this, publish() and ack() from another thread
        # write to the socket themselves (paho does so whenever loop_start() is not used),
        # concurrently with our loop thread: over TLS that corrupts records ("decryption
        # failed or bad record mac") and crashed processes in libc. With a write callback set,
        # paho only queues the packet and wakes loop() through its socket pair, and the loop
        # thread writes it.
        c.on_socket_register_write = _loop_thread_writes
        c.on_socket_close = self._before_close
        self._client = c

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def unacked(self) -> int:
        """Messages handed to paho and not yet acknowledged by the broker."""
        return len(self._client._out_messages)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt", daemon=True)
        self._thread.start()

    def publish(self, msg: Encoded) -> bool:
        """Queue a message; paho sends it now or after the next reconnect. False if dropped."""
        if len(msg.payload) + len(msg.topic.encode()) + PACKET_OVERHEAD > MAX_PACKET_BYTES:
            # the broker would drop the connection, and paho send it again at each reconnect
            log.error("message over the broker's packet limit not sent",
                      extra={"topic": msg.topic[:200], "bytes": len(msg.payload),
                             "limit": MAX_PACKET_BYTES})
            self.dropped += 1
            return False
        info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
        if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
            self.dropped += 1
            return False
        return True

    def publish_tracked(self, topic: str, payload: bytes, retain: bool) -> int | None:
        """QoS 1 publish whose PUBACK is reported to on_published(mid); None if not accepted."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            return None
        return int(info.mid)

    def stop(self, last_words: Encoded | None = None, timeout: float = 3.0) -> None:
        """Graceful stop: say goodbye (the broker does not send the will on a clean disconnect),
        then DISCONNECT. The loop thread sends it: with the write callback set, paho only
        queues packets, so a disconnect() after that thread ended never left (the broker logged
        every clean stop as a dropped socket: "closed its connection", "out of memory")."""
        if last_words is not None and self.connected:
            info = self._client.publish(last_words.topic, last_words.payload, qos=1,
                                        retain=last_words.retain)
            deadline = time.monotonic() + timeout
            while not info.is_published() and time.monotonic() < deadline and self.connected:
                time.sleep(0.02)
        self._disconnect_timeout = timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout + 1.0)
        else:
            self._client.disconnect()

    def _say_goodbye(self) -> None:
        """On the loop thread, at a stop: DISCONNECT written, then the socket closed."""
        if not self._client.is_connected():
            return
        self._client.disconnect()  # queued; paho closes the socket once it has written it
        deadline = time.monotonic() + self._disconnect_timeout
        while self._client.socket() is not None and time.monotonic() < deadline:
            if self._client.loop(timeout=0.05) != mqtt.MQTT_ERR_SUCCESS:
                break

    def _before_close(self, _client: mqtt.Client, _userdata: Any, sock: Any) -> None:
        """paho closes the socket right after writing DISCONNECT. Closed with bytes unread, or
        while the broker still writes (a backlog, retained messages), the connection is reset,
        and the broker can meet the reset before the DISCONNECT and log a crash ("out of
        memory"). At a stop, wait (a bounded moment) for the broker to close its side: it does
        once it has read the DISCONNECT. What it sent meanwhile is not acknowledged, and comes
        again to the next session."""
        if not self._stop.is_set():
            return
        deadline = time.monotonic() + CLOSE_WAIT_S
        while time.monotonic() < deadline:
            pending = getattr(sock, "pending", lambda: 0)()
            if not pending and not select.select([sock], [], [], 0.05)[0]:
                continue
            try:
                if not sock.recv(65536):
                    return  # the broker closed: it has the DISCONNECT
            except (ssl.SSLWantReadError, BlockingIOError, InterruptedError):
                continue
            except (OSError, ValueError):
                return

    # -- network thread ---------------------------------------------------------------------
    def _connect(self) -> None:
        s = self._settings
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if self._persistent:
            props.SessionExpiryInterval = self._session_expiry
        self._client.connect(s.host, s.port, keepalive=s.keepalive,
                             clean_start=not self._persistent, properties=props)

    def _run(self) -> None:
        try:
            self._loop_until_stopped()
        finally:
            self._say_goodbye()

    def _loop_until_stopped(self) -> None:
        up = False
        while not self._stop.is_set():
            if not up:
                try:
                    self._connect()
                    up = True
                except (OSError, ssl.SSLError) as exc:
                    self.last_failure = classify(exc, f"{self._settings.host}:"
                                                      f"{self._settings.port}")
                    self._wait_backoff("broker unreachable", str(exc))
                    continue
                except Exception as exc:  # the link must outlive any surprise
                    log.exception("connecting failed")
                    self._wait_backoff("broker connect failed", repr(exc)[:200])
                    continue
            try:
                rc = self._client.loop(timeout=0.2)
            except Exception as exc:  # a bug in a callback must not end the link
                log.exception("MQTT loop failed; reconnecting")
                with contextlib.suppress(Exception):
                    self._client.disconnect()
                rc = mqtt.MQTT_ERR_UNKNOWN
                error = repr(exc)[:200]
            else:
                error = str(rc)
            if rc != mqtt.MQTT_ERR_SUCCESS:
                up = False
                with self._subs_lock:
                    self._subs_sent = False
                if self._connected.is_set() and self._on_disconnected is not None:
                    self._on_disconnected()
                self._connected.clear()
                self._wait_backoff("broker connection lost", error)

    def _wait_backoff(self, event: str, error: str) -> None:
        delay = self._backoff.next_delay()
        log.warning(event, extra={"broker": self._settings.url, "error": error,
                                  "retry_in_s": round(delay, 1)})
        self._stop.wait(delay)

    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any,
                    reason_code: Any, _props: Any) -> None:
        if reason_code.is_failure:
            log.error("broker refused connection", extra={"broker": self._settings.url,
                                                          "reason": str(reason_code)})
            self.last_failure = connack_failure(str(reason_code),
                                                f"{self._settings.host}:{self._settings.port}")
            return
        self.last_failure = None
        self._backoff.reset()
        with self._subs_lock:
            topics = list(self._subscriptions)
            self._subs_sent = True
        self._subscribe(topics)
        if self._birth is not None:
            birth = self._birth()
            client.publish(birth.topic, birth.payload, qos=1, retain=birth.retain)
        self._connected.set()
        log.info("connected", extra={"broker": self._settings.url,
                                     "session_present": bool(flags.session_present)})
        if self._on_connected is not None:
            self._on_connected()

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any,
                       reason_code: Any, _props: Any) -> None:
        with self._subs_lock:
            self._subs_sent = False
        self._connected.clear()
        if self._on_disconnected is not None:
            self._on_disconnected()

    def _on_publish(self, _client: mqtt.Client, _userdata: Any, mid: int, reason_code: Any,
                    _props: Any) -> None:
        assert self._on_published is not None
        if reason_code.is_failure:
            # Refused for good (e.g. not authorized by the broker's ACL): resending would only
            # be refused again, so it counts as done, loudly.
            log.error("broker refused a message", extra={"mid": mid, "reason": str(reason_code)})
        self._on_published(mid)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        assert self._handler is not None
        try:
            self._handler(Incoming(msg.topic, bytes(msg.payload), time.time(), msg.mid,
                                   msg.qos, bool(msg.retain)))
        except Exception:  # one message, whatever it holds, never ends the link
            log.exception("message handler failed", extra={"topic": msg.topic[:200]})

    def _subscribe(self, topics: Sequence[str]) -> None:
        # many filters per SUBSCRIBE packet: a controller may hold thousands of centers
        # noLocal: what this client publishes itself (the controller's acks, alerts and
        # configs under hcc/v1/...) does not come back to it
        options = SubscribeOptions(qos=1, noLocal=True)
        for i in range(0, len(topics), SUBSCRIBE_CHUNK):
            self._client.subscribe([(t, options) for t in topics[i:i + SUBSCRIBE_CHUNK]])

    def subscribe(self, topics: Sequence[str]) -> None:
        """Add subscriptions, now and after every reconnect."""
        with self._subs_lock:
            new = [t for t in topics if t not in self._subscriptions]
            self._subscriptions.update(dict.fromkeys(new))
            now = self._subs_sent
        if new and now:
            self._subscribe(new)

    def unsubscribe(self, topics: Sequence[str]) -> None:
        with self._subs_lock:
            gone = [t for t in topics if t in self._subscriptions]
            for t in gone:
                del self._subscriptions[t]
            now = self._subs_sent
        if gone and now:
            for i in range(0, len(gone), SUBSCRIBE_CHUNK):
                self._client.unsubscribe(gone[i:i + SUBSCRIBE_CHUNK])

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with manual_ack, once it is safely stored."""
        if qos > 0:
            self._client.ack(mid, qos)
