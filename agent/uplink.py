"""The box's MQTT link as one service, made from the broker settings; remade when a push changes them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from hcc_common import wire
from hcc_common.devices_config import Config
from hcc_common.mqtt_io import BrokerSettings, Incoming, MqttLink
from hcc_common.mqtt_settings import MqttSettings


@dataclass(frozen=True)
class UplinkHandlers:
    """What the link hands to the other services (on the event loop, never on paho's thread)."""

    on_message: Callable[[Incoming], None]
    on_published: Callable[[int], None]
    on_connected: Callable[[], None]


class Uplink:
    """The one MQTT connection the services publish through. paho calls back on its own
    thread: each callback hops onto the event loop. The birth is built on paho's thread."""

    def __init__(self, config: Config, broker_url: str | None, *, session: int,
                 birth: Callable[[], wire.Encoded], handlers: UplinkHandlers) -> None:
        self.broker_url = broker_url  # --broker: overrides the config's broker address
        self.session = session
        self.birth = birth
        self.handlers = handlers
        self._loop: asyncio.AbstractEventLoop | None = None
        self.link = self._make_link(config)

    def _make_link(self, config: Config) -> MqttLink:
        """The MQTT link for a config's broker settings (a pushed config may change them)."""
        self.confirm_by_controller = config.mqtt.confirm == "controller"
        settings = config.mqtt
        if self.broker_url is not None:
            from hcc_common.mqtt_settings import broker_from_url

            host_, port, tls = broker_from_url(self.broker_url)
            settings = replace(settings, host=host_, port=port, tls=tls)
        self.settings: MqttSettings = settings
        password = None
        if settings.password_file is not None:
            password = Path(settings.password_file).read_text().strip()
        c, a = config.center.id, config.agent.id
        from hcc_common.config_pull import pull_topic
        from hcc_common.release import update_topic

        subscriptions = [wire.config_topic(c, a), pull_topic(c, a), update_topic(c, a)]
        if self.confirm_by_controller:
            subscriptions.append(wire.ack_topic(c, a))
        return MqttLink(
            BrokerSettings(settings.host, settings.port, settings.tls, settings.keepalive,
                           settings.username, password, settings.ca_file),
            client_id=f"hcc-agent-{c}-{a}",
            will=wire.encode(wire.StateMessage(c, a, "offline", self.session, time.time())),
            birth=self.birth,
            subscriptions=subscriptions,
            on_message=self._from_network(self.handlers.on_message),
            on_published=self._from_network(self.handlers.on_published),
            on_connected=self._from_network(self.handlers.on_connected),
        )

    def _from_network(self, fn: Callable[..., None]) -> Callable[..., None]:
        """paho calls back on its own thread: hop onto the event loop."""
        def call(*args: object) -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(fn, *args)
        return call

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.link.start()

    async def replace(self, config: Config) -> None:
        """A config with other broker settings: the old connection closed, a new one opened."""
        old = self.link
        await asyncio.get_running_loop().run_in_executor(None, old.stop)
        self.link = self._make_link(config)
        self.link.start()

    @property
    def connected(self) -> bool:
        return self.link.connected

    def unacked(self) -> int:
        return self.link.unacked()

    def publish(self, msg: wire.Encoded) -> bool:
        return self.link.publish(msg)

    def publish_tracked(self, topic: str, payload: bytes, retain: bool) -> int | None:
        return self.link.publish_tracked(topic, payload, retain)

    def announce(self) -> None:
        """A fresh birth (retained): what the box runs and how it is, to the controller."""
        self.link.publish(self.birth())

    def stop(self, last_words: wire.Encoded | None = None) -> None:
        self.link.stop(last_words)
