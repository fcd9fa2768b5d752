"""The MQTT broker settings both sides read (mqtt: in devices.yaml and controller.yaml), parsed once."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from hcc_common.yamlconf import ConfigError, Node
from hcc_common.yamlfields import Key, build, fields_of

# The largest MQTT packet the broker reads (its max_packet_size, in the config broker-config
# writes): topic, properties and payload. The contract's largest message, a pushed config
# (wire.MAX_CONFIG_BYTES of content, refused by the box past MAX_CONFIG_BYTES + 4 KiB), fits
# with room; reports are at most wire.MAX_PAYLOAD_BYTES. Past it the broker stops reading and
# drops the sender: one box's 200 MB publish no longer grows the broker and the controller.
MAX_PACKET_BYTES = 320 * 1024


@dataclass(frozen=True, kw_only=True)
class MqttSettings:
    host: str
    port: int
    tls: bool
    keepalive: int = 10
    username: str | None = None
    password_file: str | None = None
    ca_file: str | None = None
    # When a report may leave the outbox: once the controller confirms it has it ("controller",
    # survives a broker that loses its queue), or once the broker has it ("broker", for
    # controllers in a shared group, which each see part of the stream).
    confirm: str = "controller"

    @property
    def url(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


MQTT_KEYS = ("url", "keepalive", "username", "password_file", "ca_file", "confirm")
CONFIRM_MODES = ("controller", "broker")


def _confirm(node: Node) -> str:
    confirm = node.as_str()
    if confirm not in CONFIRM_MODES:
        raise node.error(f"must be one of {', '.join(CONFIRM_MODES)}, got {confirm!r}")
    return confirm


_MQTT = (
    Key("keepalive", lambda n: int(n.as_duration(minimum=2.0))),
    Key("username", Node.as_str),
    # the files are checked now (present, readable by the service): `run` would crash on them
    Key("password_file", lambda n: _named(n)),
    Key("ca_file", lambda n: _named(n)),
    Key("confirm", _confirm),
)


def parse_mqtt(node: Node) -> MqttSettings:
    m = node.as_mapping(MQTT_KEYS)
    host, port, tls = parse_broker_url(m.require("url"))
    return build(MqttSettings, fields_of(m, _MQTT), host=host, port=port, tls=tls)


def _named(node: Node | None) -> str | None:
    from hcc_common.filecheck import named_file
    from hcc_common.yamlconf import attempt

    if node is None:
        return None
    return attempt(lambda: named_file(node), None)


def parse_broker_url(node: Node) -> tuple[str, int, bool]:
    return broker_from_url(node.as_str(), node)


def broker_from_url(url: str, node: Node | None = None) -> tuple[str, int, bool]:
    """mqtt://host:port or mqtts://host:port -> (host, port, tls)."""

    def bad(reason: str) -> ConfigError:
        if node is not None:
            return node.error(reason)
        return ConfigError("--broker", 0, "url", reason)

    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts"):
        raise bad(f"broker URL must start with mqtt:// or mqtts://, got {url!r}")
    if not parts.hostname:
        raise bad(f"broker URL has no host: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise bad(f"broker URL has a bad port: {url!r}") from None
    tls = parts.scheme == "mqtts"
    return parts.hostname, port if port is not None else (8883 if tls else 1883), tls
