"""devices.yaml, parsed once into frozen typed objects; errors name file:line and the key."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping as TMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.report_filter import CYCLE_S, DEFAULT_DEADBANDS, REFRESH_S
from agent.snmpdecode.core import Thresholds as DeviceThresholds
from hcc_common import wire
from hcc_common.calendar import CALENDAR_KEYS, OpeningHours, parse_center_calendar
from hcc_common.mqtt_settings import MqttSettings, parse_mqtt
from hcc_common.secret_values import secret
from hcc_common.yamlconf import (
    ANY_KEYS,
    ConfigError,
    Mapping,
    Node,
    attempt,
    collect_errors,
    load_yaml,
    note,
    raise_collected,
)

DEVICE_TYPES = ("printer", "wifi_ap", "charger", "ups", "reading_device", "kiosk", "robot",
                "network", "other")
DEFAULT_CONFIG = "devices.yaml"
DEFAULT_REPORT = "changes"  # report by exception; `report: all` sends every result
# `hcc-agent run` exits with this on a config error (EX_CONFIG, sysexits.h): the unit's
# RestartPreventExitStatus, since restarting every 5 s cannot fix a file.
EXIT_CONFIG = 78
INSTALLED_CONFIG = Path("/etc/hcc-agent/devices.yaml")


def default_config_path(installed: Path = INSTALLED_CONFIG) -> Path:
    """An installed box's config when there is one, else devices.yaml here."""
    try:
        return installed if installed.exists() else Path(DEFAULT_CONFIG)
    except OSError:  # /etc/hcc-agent is root:hcc-agent 0750: there, but not this user's to read
        return installed  # loading it then says so, naming the file


@dataclass(frozen=True)
class Center:
    id: str
    name: str
    timezone: str
    hours: OpeningHours = field(default_factory=OpeningHours)


# How long a fault must last before it is reported: a quiet minute is not a fault.
DEFAULT_HOLDS: dict[str, float] = {"charger.no_power_draw": 600.0, "ap.no_clients": 900.0}


AUTH_PROTOCOLS = ("none", "md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS = ("none", "des", "aes", "aes192", "aes256")


@dataclass(frozen=True)
class SnmpV3:
    user: str
    auth_protocol: str = "none"
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str = "none"
    priv_key: str | None = field(default=None, repr=False)
    context: str = ""

    @property
    def level(self) -> str:
        if self.auth_protocol == "none":
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv_protocol == "none" else "authPriv"


@dataclass(frozen=True)
class SnmpSettings:
    port: int
    version: str
    community: str = field(repr=False)
    retries: int
    v3: SnmpV3 | None = None


@dataclass(frozen=True)
class TrapSettings:
    port: int = 162
    community: str = field(default="public", repr=False)
    bind: str = "0.0.0.0"


@dataclass(frozen=True)
class TcpSettings:
    port: int


@dataclass(frozen=True)
class HttpSettings:
    url: str                 # full URL; built from host when only a path is given
    expect_status: int = 200
    body_contains: str | None = None
    verify_tls: bool = True
    cert_warn_days: int = 14
    ca_file: str | None = None       # the CA that signed the device's certificate (its own)
    slow_ms: float | None = None     # slower than this: device.slow
    json_field: str | None = None    # a health endpoint's JSON field ("status", "health.state")
    json_equals: str | None = None   # … and what it says when healthy ("ok")


@dataclass(frozen=True)
class PingSettings:
    count: int = 3


@dataclass(frozen=True)
class UsbSettings:
    vendor: str              # 4 hex digits, as lsusb shows them
    product: str
    sysfs_root: str = "/sys/bus/usb/devices"

    @property
    def usb_id(self) -> str:
        return f"{self.vendor}:{self.product}"


@dataclass(frozen=True)
class CommandSettings:
    argv: tuple[str, ...]


@dataclass(frozen=True)
class PlugSettings:
    port: int = 80
    switch: int = 0          # Shelly switch id / Tasmota relay number - 1


@dataclass(frozen=True)
class IppSettings:
    port: int = 631
    path: str = "/ipp/print"
    tls: bool = False


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """The client-view probe (`wifi_probe`) and the wired WAN check (`wan`): what to resolve,
    the phones' connectivity check, and the download to time."""

    dns_names: tuple[str, ...] = ("dichvucong.gov.vn", "google.com")
    check_url: str = "http://connectivitycheck.gstatic.com/generate_204"
    speed_url: str | None = None          # the controller's /api/v1/speedtest, or any URL
    speed_token: str | None = field(default=None, repr=False)
    speed_bytes: int = 2_000_000


@dataclass(frozen=True, kw_only=True)
class WifiProbeSettings(ProbeSettings):
    ssids: tuple[str, ...]                # the public SSID(s) citizens join
    interface: str = "wlan1"              # the box's second radio (never its management link)
    netns: str | None = "hcc-probe"       # the namespace the probe's radio lives in
    scan: tuple[str, ...] = ("iw", "dev", "{interface}", "scan")
    join: tuple[str, ...] = ("nmcli", "--wait", "20", "dev", "wifi", "connect", "{ssid}",
                             "ifname", "{interface}")
    leave: tuple[str, ...] = ("nmcli", "dev", "disconnect", "{interface}")
    join_parser: str = "nmcli"            # nmcli | wpa_cli | none (a wired stand-in: no join)
    dhcp_slow_s: float = 5.0


@dataclass(frozen=True, kw_only=True)
class WanSettings(ProbeSettings):
    interface: str = "eth0"
    netns: str | None = None              # where the wired port lives, if not the box's own


NETWORK_KINDS = ("snmp", "tcp", "http", "ping", "shelly", "tasmota", "ipp")
CHECK_KEYS = (*NETWORK_KINDS, "usb", "command", "wifi_probe", "wan")


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    type: str
    host: str | None
    interval: float
    timeout: float
    profile: str
    snmp: SnmpSettings | None = None
    tcp: TcpSettings | None = None
    http: HttpSettings | None = None
    ping: PingSettings | None = None
    usb: UsbSettings | None = None
    command: CommandSettings | None = None
    shelly: PlugSettings | None = None
    tasmota: PlugSettings | None = None
    ipp: IppSettings | None = None
    wifi_probe: WifiProbeSettings | None = None
    wan: WanSettings | None = None
    outlets: tuple[int, ...] = ()
    thresholds: DeviceThresholds = field(default_factory=DeviceThresholds)
    line: int = 0

    @property
    def check_kinds(self) -> tuple[str, ...]:
        return tuple(k for k in CHECK_KEYS if getattr(self, k) is not None)


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
_DEVICE_KEYS = ("id", "name", "type", "host", "interval", "timeout", "profile", *CHECK_KEYS,
                "outlets", "thresholds")
_THRESHOLD_KEYS = {"supply_warning": "supply_warning_pct", "supply_critical": "supply_critical_pct",
                   "min_power_w": "min_power_w", "max_power_w": "max_power_w",
                   "max_temperature_c": "max_temperature_c"}


def load(path: str | Path, *, environ: TMapping[str, str] | None = None,
         text: str | None = None) -> Config:
    """Read and validate devices.yaml. Raises ConfigError naming file:line and key, or
    ConfigErrors with every mistake of the file (each with its file:line and key)."""
    from hcc_common.filecheck import read_by_the_service_group

    with collect_errors() as errors, read_by_the_service_group():
        try:
            config = _load(path, os.environ if environ is None else environ, text)
        except _Incomplete:
            pass  # its reasons are noted already
        except ConfigError as exc:
            note(exc)
        raise_collected(errors)
    return config


class _Incomplete(ConfigError):
    """A section could not be read: the errors noted say why."""


def _load(path: str | Path, env: TMapping[str, str], text: str | None) -> Config:
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
        dev = attempt(lambda item=item: _device(item, interval, timeout, env), None)  # type: ignore[misc]
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


def _secret_keys(key: str) -> tuple[str, str, str]:
    return (key, f"{key}_file", f"{key}_env")


def _traps(node: Node | None, env: TMapping[str, str]) -> TrapSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("port", "bind", *_secret_keys("community")))
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


def service_state_dirs(config_path: Path) -> list[Path]:
    """Where the service keeps its state for this config: the unit's StateDirectory= beside an
    installed /etc/hcc-agent/devices.yaml (ROOT/etc/hcc-agent -> ROOT/var/lib/hcc-agent, so an
    image or a test root too), unless the config sets agent.state_dir itself."""
    folder = config_path.parent
    if folder.parent.name != "etc":
        return []
    return [folder.parent.parent / "var" / "lib" / folder.name]


def default_state_dir(center: str, agent: str, env: TMapping[str, str]) -> Path:
    """systemd's $STATE_DIRECTORY, else a per-user directory keyed by center and agent."""
    systemd_dir = env.get("STATE_DIRECTORY")
    if systemd_dir:
        # systemd may pass several colon-separated directories; the first is ours.
        return Path(systemd_dir.split(":")[0])
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local" / "state")
    return Path(base) / "hcc-agent" / f"{center}-{agent}"


def _device(node: Node, interval: float, timeout: float, env: TMapping[str, str]) -> Device:
    m = node.as_mapping(_DEVICE_KEYS)
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
    sections = {k: m.get(k) for k in CHECK_KEYS}
    present = [k for k, v in sections.items() if v is not None]
    if not present:
        raise node.error(f"device {did!r} has no check: add one of {', '.join(CHECK_KEYS)}")
    needs_host = any(k in NETWORK_KINDS and not (k == "http" and _has_url(sections[k]))
                     for k in present)
    if host is None and host_node is None and not _host_misspelt(node) and needs_host:
        raise ConfigError(node.file, node.line, f"{node.path}.host",
                          f"device {did!r} needs a host (IP address or name) for its checks")
    return Device(
        id=did, name=name_node.as_str() if name_node is not None else did, type=dtype, host=host,
        interval=interval, timeout=timeout,
        profile=_profile_name(profile),
        # each check's section on its own: the mistakes of all of them in one pass
        snmp=attempt(lambda: _snmp(sections["snmp"], env), None),
        tcp=attempt(lambda: _tcp(sections["tcp"]), None),
        http=attempt(lambda: _http(sections["http"], host), None),
        ping=attempt(lambda: _ping(sections["ping"]), None),
        usb=attempt(lambda: _usb(sections["usb"]), None),
        command=attempt(lambda: _command(sections["command"]), None),
        shelly=attempt(lambda: _plug(sections["shelly"]), None),
        tasmota=attempt(lambda: _plug(sections["tasmota"]), None),
        ipp=attempt(lambda: _ipp(sections["ipp"]), None),
        wifi_probe=attempt(lambda: _wifi_probe(sections["wifi_probe"], env), None),
        wan=attempt(lambda: _wan(sections["wan"], env), None),
        outlets=outlets, thresholds=thresholds, line=node.line,
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


def _profile_name(node: Node | None) -> str:
    if node is None:
        return "auto"
    from agent.profile_loader import profile_ids

    return node.as_choice(("auto", *sorted(profile_ids())))


def _has_url(node: Node | None) -> bool:
    return node is not None and node.kind() == "mapping" and \
        node.as_mapping(_HTTP_KEYS).get("url") is not None


_HTTP_KEYS = ("url", "path", "port", "scheme", "expect_status", "body_contains", "verify_tls",
              "cert_warn_days", "ca_file", "slow", "json_field", "json_equals")


def _http(node: Node | None, host: str | None) -> HttpSettings | None:
    if node is None:
        return None
    m = node.as_mapping(_HTTP_KEYS)
    url_node = m.get("url")
    if url_node is not None:
        url = url_node.as_str()
        if not url.startswith(("http://", "https://")):
            raise url_node.error(f"URL must start with http:// or https://, got {url!r}")
    else:
        scheme = m.get("scheme")
        sch = scheme.as_choice(("http", "https")) if scheme is not None else "http"
        port = m.get("port")
        path = m.get("path")
        p = path.as_str() if path is not None else "/"
        if not p.startswith("/"):
            raise m.require("path").error("path must start with /")
        url = f"{sch}://{host}{':' + str(port.as_int(1, 65535)) if port is not None else ''}{p}"
    status = m.get("expect_status")
    body = m.get("body_contains")
    verify = m.get("verify_tls")
    warn = m.get("cert_warn_days")
    ca, slow, jf, je = m.get("ca_file"), m.get("slow"), m.get("json_field"), m.get("json_equals")
    return HttpSettings(
        url, status.as_int(100, 599) if status is not None else 200,
        body.as_str() if body is not None else None,
        verify.as_bool() if verify is not None else True,
        warn.as_int(0, 3650) if warn is not None else 14,
        ca_file=ca.as_str() if ca is not None else None,
        slow_ms=slow.as_duration(minimum=0.001) * 1000.0 if slow is not None else None,
        json_field=jf.as_str() if jf is not None else None,
        json_equals=je.as_str() if je is not None else None,
    )


def _ping(node: Node | None) -> PingSettings | None:
    if node is None:
        return None
    if node.kind() == "true/false" and node.as_bool():
        return PingSettings()
    m = node.as_mapping(("count",))
    count = m.get("count")
    return PingSettings(count.as_int(1, 20) if count is not None else 3)


def _usb(node: Node | None) -> UsbSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("vendor", "product", "sysfs_root"))

    def hex4(key: str) -> str:
        n = m.require(key)
        raw = n.as_str().lower()
        if len(raw) != 4 or any(c not in "0123456789abcdef" for c in raw):
            raise n.error(f"expected 4 hex digits as lsusb shows them (e.g. 04f9), got {raw!r}")
        return raw

    root = m.get("sysfs_root")
    return UsbSettings(hex4("vendor"), hex4("product"),
                       root.as_str() if root is not None else "/sys/bus/usb/devices")


def _command(node: Node | None) -> CommandSettings | None:
    if node is None:
        return None
    if node.kind() == "list":
        argv = tuple(n.as_str() for n in node.as_list())
    else:
        import shlex

        try:
            argv = tuple(shlex.split(node.as_str()))
        except ValueError as exc:
            raise node.error(f"cannot split the command line: {exc}") from None
    if not argv:
        raise node.error("command is empty")
    return CommandSettings(argv)


def _plug(node: Node | None) -> PlugSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("port", "switch"))
    port = m.get("port")
    switch = m.get("switch")
    return PlugSettings(port.as_int(1, 65535) if port is not None else 80,
                        switch.as_int(0, 16) if switch is not None else 0)


_PROBE_KEYS = ("dns_names", "check_url", "speed_url", "speed_token", "speed_token_file",
               "speed_token_env", "speed_bytes")


def _probe_common(m: Mapping, env: TMapping[str, str]) -> dict[str, Any]:
    from hcc_common.secret_values import secret

    out: dict[str, Any] = {"speed_token": secret(m, "speed_token", env)}
    if (n := m.get("dns_names")) is not None:
        out["dns_names"] = tuple(x.as_str() for x in n.as_list())
    for key in ("check_url", "speed_url"):
        if (n := m.get(key)) is not None:
            url = n.as_str()
            if not url.startswith(("http://", "https://")):
                raise n.error("expected an http:// or https:// URL")
            out[key] = url
    if (n := m.get("speed_bytes")) is not None:
        out["speed_bytes"] = n.as_int(10_000, 50_000_000)
    return out


def _wifi_probe(node: Node | None, env: TMapping[str, str]) -> WifiProbeSettings | None:
    if node is None:
        return None
    m = node.as_mapping((*_PROBE_KEYS, "ssids", "interface", "netns", "scan", "join", "leave",
                         "join_parser", "dhcp_slow"))
    extra: dict[str, Any] = _probe_common(m, env)
    for key in ("interface", "netns"):
        if (n := m.get(key)) is not None:
            extra[key] = n.as_str()
    for key in ("scan", "join", "leave"):
        if (n := m.get(key)) is not None:
            extra[key] = tuple(x.as_str() for x in n.as_list())
    if (n := m.get("join_parser")) is not None:
        extra["join_parser"] = n.as_choice(("nmcli", "wpa_cli", "none"))
    if (n := m.get("dhcp_slow")) is not None:
        extra["dhcp_slow_s"] = n.as_duration(minimum=0.1)
    return WifiProbeSettings(ssids=tuple(x.as_str() for x in m.require("ssids").as_list()),
                             **extra)


def _wan(node: Node | None, env: TMapping[str, str]) -> WanSettings | None:
    if node is None:
        return None
    m = node.as_mapping((*_PROBE_KEYS, "interface", "netns"))
    extra = _probe_common(m, env)
    for key in ("interface", "netns"):
        if (n := m.get(key)) is not None:
            extra[key] = n.as_str()
    return WanSettings(**extra)


def _ipp(node: Node | None) -> IppSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("port", "path", "tls"))
    port = m.get("port")
    path = m.get("path")
    tls = m.get("tls")
    return IppSettings(port.as_int(1, 65535) if port is not None else 631,
                       path.as_str() if path is not None else "/ipp/print",
                       tls.as_bool() if tls is not None else False)


_SNMP_KEYS = ("port", "version", "retries", "user", "auth", "priv", "context",
              *_secret_keys("community"), *_secret_keys("auth_key"), *_secret_keys("priv_key"))


def _snmp(node: Node | None, env: TMapping[str, str]) -> SnmpSettings | None:
    if node is None:
        return None
    m = node.as_mapping(_SNMP_KEYS)
    port = m.get("port")
    version_node = m.get("version")
    version = version_node.as_choice(("1", "2c", "3")) if version_node is not None else "2c"
    retries = m.get("retries")
    v3 = None
    if version == "3":
        auth_node, priv_node, ctx_node = m.get("auth"), m.get("priv"), m.get("context")
        auth = auth_node.as_choice(AUTH_PROTOCOLS) if auth_node is not None else "none"
        priv = priv_node.as_choice(PRIV_PROTOCOLS) if priv_node is not None else "none"
        if auth == "none" and priv != "none":
            raise m.require("priv").error("privacy (priv) needs authentication (auth) too")
        auth_key = secret(m, "auth_key", env) if auth != "none" else None
        priv_key = secret(m, "priv_key", env) if priv != "none" else None
        for proto, key, name in ((auth, auth_key, "auth_key"), (priv, priv_key, "priv_key")):
            if proto != "none" and (key is None or len(key) < 8):
                raise m.node.error(f"snmp v3 with {name.split('_')[0]}: {proto} needs "
                                   f"{name} (or {name}_file / {name}_env) of 8+ characters")
        v3 = SnmpV3(m.require("user").as_str(), auth, auth_key, priv, priv_key,
                    ctx_node.as_str() if ctx_node is not None else "")
    return SnmpSettings(
        port=port.as_int(1, 65535) if port is not None else 161,
        version=version,
        community=secret(m, "community", env, "public") or "public",
        retries=retries.as_int(0, 5) if retries is not None else 1,
        v3=v3,
    )


def _tcp(node: Node | None) -> TcpSettings | None:
    if node is None:
        return None
    m: Mapping = node.as_mapping(("port",))
    return TcpSettings(port=m.require("port").as_int(1, 65535))
