"""devices.yaml's schema, parsed once into frozen typed objects; errors name file:line and the
key. Shared: the box runs what it parses, the center validates a file before it pushes it, with
this one code path. Each check kind's section is its own module (hcc_common/check_kinds/)."""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
from collections.abc import Callable, Collection
from collections.abc import Mapping as TMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hcc_common import wire
from hcc_common.calendar import CALENDAR_KEYS, OpeningHours, parse_center_calendar
from hcc_common.check_kinds import SCHEMAS
from hcc_common.check_kinds.base import KindSchema, SectionInput
from hcc_common.check_kinds.snmp import secret_keys
from hcc_common.config_words import localize
from hcc_common.mqtt_settings import MqttSettings, parse_mqtt
from hcc_common.secret_values import secret
from hcc_common.yamlconf import (
    ANY_KEYS,
    ConfigError,
    Node,
    attempt,
    collect_errors,
    each_error,
    load_yaml,
    note,
    raise_collected,
)

# The operator's deadbands (metric name patterns, first match wins) come before the vocabulary's
# (hcc_common/readings.py: each reading kind's default). An undeclared reading, a text or a
# state with no band is news on any change.
DEFAULT_DEADBANDS: TMapping[str, float] = {}
# A full report of every device this often even when nothing moved (agent.refresh): a reading
# can creep within its deadband, and a controller that lost its state gets it back.
REFRESH_S = 1800.0
# By exception, one heartbeat per cycle confirms the devices checked in it (agent.heartbeat's
# default then; the default poll interval)
CYCLE_S = 30.0

DEVICE_TYPES = ("printer", "wifi_ap", "charger", "ups", "reading_device", "kiosk", "robot",
                "network", "other")
DEFAULT_REPORT = "changes"  # report by exception; `report: all` sends every result


@dataclass(frozen=True)
class Center:
    id: str
    name: str
    timezone: str
    hours: OpeningHours = field(default_factory=OpeningHours)


# How long a fault must last before it is reported: a quiet minute is not a fault.
DEFAULT_HOLDS: dict[str, float] = {"charger.no_power_draw": 600.0, "ap.no_clients": 900.0}


@dataclass(frozen=True)
class DeviceThresholds:
    """Where a reading becomes a fault, per device (`thresholds:`); the decoders judge by it."""

    supply_warning_pct: float = 20.0
    supply_critical_pct: float = 5.0
    min_power_w: float = 1.0
    max_power_w: float = 2000.0
    max_temperature_c: float = 70.0


@dataclass(frozen=True)
class TrapSettings:
    port: int = 162
    community: str = field(default="public", repr=False)
    bind: str = "0.0.0.0"


@dataclass(frozen=True, kw_only=True)
class Device:
    id: str
    name: str
    type: str
    host: str | None
    interval: float
    timeout: float
    profile: str
    # check kind -> its settings, as that kind's parser made them (hcc_common/check_kinds/), in
    # the registry's order; read one typed with `SCHEMA.of(device.checks)`
    checks: TMapping[str, object] = field(default_factory=dict)
    outlets: tuple[int, ...] = ()
    thresholds: DeviceThresholds = field(default_factory=DeviceThresholds)
    line: int = 0

    @property
    def check_kinds(self) -> tuple[str, ...]:
        return tuple(self.checks)


@dataclass(frozen=True)
class AgentSettings:
    id: str
    state_dir: Path
    heartbeat: float
    # after a pushed config changes the broker settings: how long to wait for a connection
    # before rolling back to the last good config
    config_confirm_s: float = 60.0
    # "changes" (the default): report by exception (unchanged results are confirmed in the
    # next heartbeat), with a full report every `refresh_s`; "all": every result in a message
    report: str = "changes"
    refresh_s: float = REFRESH_S
    # metric name pattern -> how far it may move before it is news; the operator's first, then
    # each reading's own (hcc_common/readings.py)
    deadbands: TMapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DEADBANDS))
    # the controller keys this box takes pushed configs from: files (PEM or ed25519:... lines,
    # read when the agent starts) or inline ed25519:<base64> keys. None: not given (the box
    # refuses pushed configs; in a pushed config: the local file's keys still hold)
    controller_keys: tuple[str, ...] | None = None
    # programs a pushed config may run (command checks, the Wi-Fi probe's tools): exact paths,
    # or directories ending in "/". Only the box's own file can set it (agent/command_policy.py)
    allow_commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: str
    center: Center
    agent: AgentSettings
    mqtt: MqttSettings
    devices: tuple[Device, ...]
    holds: TMapping[str, float] = field(default_factory=lambda: dict(DEFAULT_HOLDS))
    traps: TrapSettings | None = None

    def device(self, device_id: str) -> Device | None:
        return next((d for d in self.devices if d.id == device_id), None)


_TOP_KEYS = ("center", "agent", "mqtt", "defaults", "devices", "traps")
_THRESHOLD_KEYS = {"supply_warning": "supply_warning_pct", "supply_critical": "supply_critical_pct",
                   "min_power_w": "min_power_w", "max_power_w": "max_power_w",
                   "max_temperature_c": "max_temperature_c"}


Kinds = TMapping[str, KindSchema[Any]]
ProfileNames = Callable[[], Collection[str]]


@functools.cache
def shipped_profiles() -> tuple[str, ...]:
    """The SNMP profiles the box ships (agent/profiles/*.yaml, data of the same wheel): their
    file names, which are their ids (tests/test_check_registry.py holds the two equal). Read as
    data, not imported, so the center judges `profile:` as the box does without agent code."""
    spec = importlib.util.find_spec("agent")
    folders = list(spec.submodule_search_locations or ()) if spec is not None else []
    return tuple(sorted(p.stem for folder in folders for p in (Path(folder) / "profiles").glob(
        "*.yaml")))


def load(path: str | Path, *, environ: TMapping[str, str] | None = None,
         text: str | None = None, kinds: Kinds = SCHEMAS,
         profiles: ProfileNames = shipped_profiles) -> Config:
    """Read and validate devices.yaml. Raises ConfigError naming file:line and key, or
    ConfigErrors with every mistake of the file (each with its file:line and key). `kinds`: the
    check kinds a device may have (the registry); `profiles`: the SNMP profile names."""
    from hcc_common.filecheck import read_by_the_service_group

    with collect_errors() as errors, read_by_the_service_group():
        try:
            config = _load(path, os.environ if environ is None else environ, text,
                           _Schema(kinds, profiles))
        except _Incomplete:
            pass  # its reasons are noted already
        except ConfigError as exc:
            note(exc)
        raise_collected(errors)
    return config


def error_lines(exc: ConfigError, lang: str) -> list[str]:
    """Every mistake of a failed load, each on its line with file:line and key, in `lang`:
    what `hcc-agent validate` and `hcc-controller config push` print alike."""
    word = "lỗi" if lang == "vi" else "error"
    return [f"{word}: {localize(one, lang)}" for one in each_error(exc)]


class _Incomplete(ConfigError):
    """A section could not be read: the errors noted say why."""


@dataclass(frozen=True)
class _Schema:
    kinds: Kinds
    profiles: ProfileNames

    @property
    def device_keys(self) -> tuple[str, ...]:
        return ("id", "name", "type", "host", "interval", "timeout", "profile", *self.kinds,
                "outlets", "thresholds")


def _load(path: str | Path, env: TMapping[str, str], text: str | None, schema: _Schema
          ) -> Config:
    root = load_yaml(path, text).as_mapping(_TOP_KEYS)
    center = attempt(lambda: _center(root.require("center")), None)
    mqtt = attempt(lambda: parse_mqtt(root.require("mqtt")), None)
    agent = attempt(lambda: _agent(root.get("agent"), center or Center("x", "x", "UTC"), env,
                                   str(path), mqtt.keepalive if mqtt is not None else 10), None)
    defaults = root.get("defaults")
    interval, timeout = 30.0, 2.0
    holds = dict(DEFAULT_HOLDS)
    d = attempt(lambda: defaults.as_mapping(("interval", "timeout", "hold")), None) \
        if defaults is not None else None
    if d is not None:
        if (n := d.get("interval")) is not None:
            interval = n.as_duration(minimum=1.0)
        if (n := d.get("timeout")) is not None:
            timeout = n.as_duration(minimum=0.05)
        if (n := d.get("hold")) is not None:
            hm = n.as_mapping(tuple(DEFAULT_HOLDS))
            for code in hm:
                holds[code] = hm.require(code).as_duration()
    no_items: list[Node] = []
    items = attempt(lambda: root.require("devices").as_list(), no_items)
    devices: list[Device] = []
    seen: dict[str, int] = {}
    for item in items:
        # each device on its own: one wrong device does not hide the mistakes of the next
        dev = attempt(lambda item=item: _device(item, interval, timeout, env, schema), None)  # type: ignore[misc]
        if dev is None:
            continue
        if dev.id in seen:
            note(ConfigError(item.file, dev.line, f"{item.path}.id",
                             f"duplicate device id {dev.id!r} (first used on line {seen[dev.id]})"))
            continue
        seen[dev.id] = dev.line
        devices.append(dev)
    traps = attempt(lambda: _traps(root.get("traps"), env), None)
    if center is None or mqtt is None or agent is None:
        raise _Incomplete(str(path), 0, "", "incomplete")
    return Config(str(path), center, agent, mqtt, tuple(devices), holds, traps)


def _traps(node: Node | None, env: TMapping[str, str]) -> TrapSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("port", "bind", *secret_keys("community")))
    port = m.get("port")
    bind = m.get("bind")
    return TrapSettings(port.as_int(1, 65535) if port is not None else 162,
                        secret(m, "community", env, "public") or "public",
                        bind.as_str() if bind is not None else "0.0.0.0")


def _ident(node: Node) -> str:
    value = node.as_str()
    if not wire.valid_id(value):
        raise node.error(
            f"{value!r} is not a valid id: use lower-case letters, digits, '-', '_' or '.',"
            f" starting with a letter or digit (and not {', '.join(sorted(wire.RESERVED_IDS))})"
        )
    return value


def _center(node: Node) -> Center:
    m = node.as_mapping(("id", "name", *CALENDAR_KEYS))
    cid = _ident(m.require("id"))
    name_node = m.get("name")
    hours = parse_center_calendar(m)
    return Center(cid, name_node.as_str() if name_node is not None else cid, hours.timezone,
                  hours)


def _agent(node: Node | None, center: Center, env: TMapping[str, str], path: str,
           keepalive: int) -> AgentSettings:
    m = node.as_mapping(("id", "state_dir", "heartbeat", "config_confirm", "report", "refresh",
                         "deadbands", "controller_keys", "allow_commands")) \
        if node is not None else None
    agent_id: str | None = None
    state_dir: Path | None = None
    # One heartbeat per keepalive, as MQTT's own PINGREQ: the controller can then call a box
    # offline after 1.5 x keepalive of silence, the broker's rule, without waiting for the will.
    heartbeat = float(keepalive)
    confirm = 60.0
    # by exception unless told otherwise: an unchanged result is a line in the next heartbeat,
    # not a stored, synced and sent message of its own (an SD card's life; issue 26)
    report, refresh = DEFAULT_REPORT, REFRESH_S
    heartbeat_given = None
    deadbands = dict(DEFAULT_DEADBANDS)
    keys: tuple[str, ...] | None = None
    allow: tuple[str, ...] = ()
    if m is not None:
        if (n := m.get("controller_keys")) is not None:
            keys = _controller_keys(n)
        if (n := m.get("allow_commands")) is not None:
            allow = _allow_commands(n)
        if (n := m.get("deadbands")) is not None:
            dm = n.as_mapping(ANY_KEYS)
            mine = {k: dm.require(k).as_float() for k in dm}
            # the operator's patterns first (first match wins), then the defaults not overridden
            deadbands = {**mine, **{k: v for k, v in DEFAULT_DEADBANDS.items() if k not in mine}}
        if (n := m.get("report")) is not None:
            report = n.as_choice(("all", "changes"))
        if (n := m.get("refresh")) is not None:
            refresh = n.as_duration(minimum=30.0)
        if (n := m.get("id")) is not None:
            agent_id = _ident(n)
        if (n := m.get("state_dir")) is not None:
            state_dir = Path(n.as_str()).expanduser()
        if (n := m.get("heartbeat")) is not None:
            heartbeat_given = n.as_duration(minimum=1.0)
        if (n := m.get("config_confirm")) is not None:
            confirm = n.as_duration(minimum=1.0)
    if report == "changes":
        # By exception the heartbeat is the confirmation of a cycle (CYCLE_S, the default
        # poll interval): a broken connection is still seen after 1.5 x keepalive (the
        # will), a hung agent after 3 heartbeats.
        heartbeat = max(heartbeat, CYCLE_S)
    if heartbeat_given is not None:
        heartbeat = heartbeat_given
    if agent_id is None:
        agent_id = _hostname_id()
    if state_dir is None:
        state_dir = default_state_dir(center.id, agent_id, env)
    return AgentSettings(agent_id, state_dir, heartbeat, confirm, report, refresh, deadbands,
                         keys, allow)


def _controller_keys(node: Node) -> tuple[str, ...]:
    from hcc_common.signing import KeyFormatError, parse_inline

    items = [node] if node.kind() != "list" else node.as_list()
    if not items:
        raise node.error("names no key: give the controller's key file (from `hcc-agent "
                         "enroll`) or an ed25519:<base64> key")
    out = []
    for item in items:
        text = item.as_str().strip()
        if text.startswith("ed25519:"):
            try:
                parse_inline(text)
            except KeyFormatError as exc:
                raise item.error(str(exc)) from None
        elif not text:
            raise item.error("empty: give a key file or an ed25519:<base64> key")
        else:
            text = str(Path(text).expanduser())
        out.append(text)
    return tuple(out)


def _allow_commands(node: Node) -> tuple[str, ...]:
    out = []
    for item in node.as_list():
        text = item.as_str()
        bare = text.rstrip("/")
        if not text.startswith("/") or not bare or os.path.normpath(bare) != bare:
            raise item.error(f"{text!r}: give a program's absolute path (/usr/lib/nagios/"
                             "plugins/check_disk) or a directory ending in / ")
        out.append(text)
    return tuple(out)


def _hostname_id() -> str:
    raw = socket.gethostname().split(".")[0].lower()
    cleaned = "".join(c if (c.isalnum() and c.isascii()) or c in "-_" else "-" for c in raw)
    cleaned = cleaned.strip("-_") or "agent"
    return cleaned[:63]


def default_state_dir(center: str, agent: str, env: TMapping[str, str]) -> Path:
    """systemd's $STATE_DIRECTORY, else a per-user directory keyed by center and agent."""
    systemd_dir = env.get("STATE_DIRECTORY")
    if systemd_dir:
        # systemd may pass several colon-separated directories; the first is ours.
        return Path(systemd_dir.split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local" / "state")
    return Path(base) / "hcc-agent" / f"{center}-{agent}"


def _device(node: Node, interval: float, timeout: float, env: TMapping[str, str],
            schema: _Schema) -> Device:
    kinds = schema.kinds
    m = node.as_mapping(schema.device_keys)
    did = _ident(m.require("id"))
    name_node = m.get("name")
    dtype = m.require("type").as_choice(DEVICE_TYPES)
    host_node = m.get("host")
    host = attempt(lambda: _host(host_node), None) if host_node is not None else None
    if (n := m.get("interval")) is not None:
        interval = n.as_duration(minimum=1.0)
    if (n := m.get("timeout")) is not None:
        timeout = n.as_duration(minimum=0.05)
    if timeout >= interval:
        where = m.get("timeout") or node
        raise where.error(f"timeout ({timeout:g}s) must be shorter than the interval ({interval:g}s)")
    profile = m.get("profile")
    outlets: tuple[int, ...] = ()
    if (n := m.get("outlets")) is not None:
        outlets = tuple(item.as_int(1, 1024) for item in n.as_list())
    thresholds = DeviceThresholds()
    if (n := m.get("thresholds")) is not None:
        thresholds = attempt(lambda: _thresholds(n), thresholds)
    sections = {k: n for k in kinds if (n := m.get(k)) is not None}
    if not sections:
        raise node.error(f"device {did!r} has no check: add one of {', '.join(kinds)}")
    needs_host = any(kinds[k].needs_host(section) for k, section in sections.items())
    if host is None and host_node is None and not _host_misspelt(node) and needs_host:
        raise ConfigError(node.file, node.line, f"{node.path}.host",
                          f"device {did!r} needs a host (IP address or name) for its checks")
    profile_name = _profile_name(profile, schema.profiles)
    given = SectionInput(host=host, env=env)
    checks: dict[str, object] = {}
    for kind, section in sections.items():
        # each check's section on its own: the mistakes of all of them in one pass
        settings = attempt(lambda kind=kind, section=section:  # type: ignore[misc]
                           kinds[kind].parse(section, given), None)
        if settings is not None:
            checks[kind] = settings
    return Device(
        id=did, name=name_node.as_str() if name_node is not None else did, type=dtype, host=host,
        interval=interval, timeout=timeout,
        profile=profile_name,
        checks=checks, outlets=outlets, thresholds=thresholds, line=node.line,
    )


def _host_misspelt(node: Node) -> bool:
    """`hostname:` or `ip:` is said already (did you mean 'host'?): not a missing host too."""
    import yaml as _yaml

    from hcc_common.yamlconf import SYNONYMS

    raw = node.raw
    return isinstance(raw, _yaml.MappingNode) and any(
        "host" in SYNONYMS.get(str(k.value).lower(), ()) for k, _v in raw.value)


def _host(node: Node) -> str:
    """An IP address (v4 or v6) or a DNS name; what looks like an address must be one
    (10.0.0.500 polls nothing, for ever)."""
    import ipaddress
    import re

    value = node.as_str().strip()
    looks_v4 = re.fullmatch(r"[0-9.]+", value) is not None
    if looks_v4 or ":" in value:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise node.error(f"{value!r} is not an IP address (write e.g. 192.0.2.10)") from None
        return value
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(re.fullmatch(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)", label)
                                   for label in labels):
        raise node.error(f"{value!r} is not an IP address or a host name")
    return value


def _thresholds(node: Node) -> DeviceThresholds:
    """Thresholds in the order they mean: a supply warns before it is critical (warning above
    critical, since a level falls), the least power below the most."""
    tm = node.as_mapping(tuple(_THRESHOLD_KEYS))
    values = {k: tm.require(k).as_float() for k in tm}
    t = DeviceThresholds(**{_THRESHOLD_KEYS[k]: v for k, v in values.items()})
    for low, high, why in (
            ("supply_critical", "supply_warning",
             "supply_warning ({hi:g}%) must be above supply_critical ({lo:g}%): a supply warns "
             "before it runs out"),
            ("min_power_w", "max_power_w",
             "min_power_w ({lo:g}) must be below max_power_w ({hi:g})")):
        lo = getattr(t, _THRESHOLD_KEYS[low])
        hi = getattr(t, _THRESHOLD_KEYS[high])
        if lo >= hi:
            where = tm.get(high) or tm.get(low) or node
            raise where.error(why.format(lo=lo, hi=hi))
    for key in ("supply_warning", "supply_critical"):
        if (n := tm.get(key)) is not None and not 0 <= values[key] <= 100:
            raise n.error(f"a percentage from 0 to 100, got {values[key]:g}")
    return t


def _profile_name(node: Node | None, profiles: ProfileNames) -> str:
    if node is None:
        return "auto"
    return node.as_choice(("auto", *sorted(profiles())))
