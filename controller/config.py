"""controller.yaml, parsed once into frozen typed objects: each default on its field, each key in a table."""

from __future__ import annotations

import os
from collections.abc import Mapping as TMapping
from dataclasses import dataclass, field
from datetime import time as dtime
from pathlib import Path
from typing import Any

from controller.amenities import Amenity, CitizenSettings, parse_amenities, parse_citizen
from controller.auth_config import AuthSettings
from controller.auth_config import parse as parse_auth
from controller.channels.base import Person
from controller.oncall import Roster
from controller.partitions import PartitionSettings
from controller.policy import Rules
from controller.rules import Rule, default_rules, load_rules_file, parse_rules
from hcc_common import wire
from hcc_common.calendar import (
    CALENDAR_KEYS,
    DEFAULT_TIMEZONE,
    OpeningHours,
    parse_center_calendar,
    read_timezone,
)
from hcc_common.mqtt_io import BrokerSettings
from hcc_common.yamlconf import ANY_KEYS, ConfigError, Node, load_yaml
from hcc_common.yamlfields import (
    Key,
    build,
    choice,
    duration,
    fields_of,
    flag,
    key_names,
    number,
    section,
    text,
    whole,
)

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True, kw_only=True)
class CenterInfo:
    id: str
    name: str
    hours: OpeningHours
    # the center's boxes; None: admit the first rules.max_agents_per_center that report
    agents: frozenset[str] | None = None
    location: tuple[float, float] | None = None  # (lat, long): Open311 gives it to the city
    amenities: tuple[Amenity, ...] = ()  # what citizens can report on (QR labels)


@dataclass(frozen=True, kw_only=True)
class HttpSettings:
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    # token -> who holds it; write operations need one (acks record the holder)
    tokens: TMapping[str, str] = field(default_factory=dict, repr=False)
    # reads without signing in (a LAN-only dashboard): off unless said so (issue 27)
    read_open: bool = False
    public_url: str = ""
    # HTTPS (boxes enroll over it): the certificate and key files
    tls_cert: str | None = None
    tls_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class EnrollSettings:
    """What `hcc-agent enroll` hands a box: credentials from the broker's files, and where
    the broker is. `reload` makes the broker take a new password file (a command line)."""

    broker_dir: Path
    broker_url: str
    reload: tuple[str, ...] = ()
    code_valid_s: float = 4 * 3600.0


@dataclass(frozen=True, kw_only=True)
class SigningSettings:
    """The controller's Ed25519 key that signs every command to a box (controller/signing_key.py).
    `key_file` None: signing.key beside the database. During a key rotation, `also_sign_with`
    holds the old key(s), so boxes that do not know the new key yet still verify."""

    key_file: Path | None = None
    also_sign_with: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Receiver:
    """A named receiver: one channel (its `kind`, a key of controller.channels.REGISTRY) with
    its own settings; `severities` it takes (empty: all)."""

    name: str
    kind: str
    settings: Any
    severities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    receivers: tuple[str, ...]
    centers: tuple[str, ...] = ()
    severities: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class NotifySettings:
    receivers: tuple[Receiver, ...] = ()
    routes: tuple[Route, ...] = ()
    group_wait_s: float = 10.0        # alerts of one center within this window: one message
    remind_after_s: float = 1800.0    # a critical alert unacknowledged this long: remind, repeat
    max_attempts: int = 6
    people: TMapping[str, Person] = field(default_factory=dict)
    rosters: tuple[Roster, ...] = ()
    escalate_every_s: float = 5.0     # how often unacknowledged alerts are looked at


@dataclass(frozen=True)
class HistorySettings:
    """How long device history is kept: every reading, and the hourly roll-ups."""

    raw_keep_s: float = 7 * 86400.0
    hourly_keep_s: float = 400 * 86400.0


@dataclass(frozen=True, kw_only=True)
class ReportSettings:
    timezone: str = DEFAULT_TIMEZONE  # the city's: months start at its midnight
    lead_days: float = 7.0           # toner delivery time: order this long before empty
    order_within_days: float = 7.0   # the order list: what must be ordered within this
    monthly_email: tuple[str, ...] = ()  # email receivers (notify) of the monthly report
    monthly_day: int = 1
    monthly_at: dtime = dtime(7, 0)
    monthly_lang: str = "vi"
    monthly_format: str = "pdf"
    # each PDF's Chromium run (all its processes): stopped past these; one PDF at a time
    pdf_time_limit_s: float = 120.0
    pdf_memory_limit_mb: int = 4096


@dataclass(frozen=True, kw_only=True)
class ControllerConfig:
    broker: BrokerSettings
    db: Path | str  # an SQLite file, or a postgresql:// URL (several controllers share it)
    rules: Rules = field(default_factory=Rules)
    alert_rules: tuple[Rule, ...] = field(default_factory=default_rules)
    centers: tuple[CenterInfo, ...] = ()
    http: HttpSettings | None = None
    notify: NotifySettings = field(default_factory=NotifySettings)
    client_id: str = "hcc-controller"
    path: str | None = None
    # MQTT v5 shared subscription group: controllers in one group split the stream
    share_group: str | None = None
    # How long the broker keeps our session (and queues for it) while we are away. A member of
    # a shared group keeps receiving its share while away, so there it must be short.
    session_expiry_s: float = 7 * 86400.0
    # Publish acknowledgements (hcc/v1/ack/<center>/<agent>) that let agents delete reports.
    # Controllers of a shared group each see part of a stream, so there agents confirm by
    # the broker's PUBACK instead (agent mqtt.confirm: broker) and this is off.
    acks: bool = True
    # Ingest that has not stepped for this long is stuck: no watchdog ping, /healthz 503.
    ingest_stuck_after_s: float = 30.0
    # Each center's devices.yaml, as an operator keeps them (in git, say); None: beside the
    # database (SQLite) or in the state directory.
    config_dir: Path | None = None
    enroll: EnrollSettings | None = None
    history: HistorySettings = field(default_factory=HistorySettings)
    reports: ReportSettings = field(default_factory=ReportSettings)
    # Several controllers on one database, each center's stream to exactly one of them
    # (controller/partitions.py); None: this controller takes every center.
    partitions: PartitionSettings | None = None
    signing: SigningSettings = field(default_factory=SigningSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    citizen: CitizenSettings = field(default_factory=CitizenSettings)

    @property
    def signing_key(self) -> Path:
        """The file of the key that signs commands to boxes (made 0600 on first use)."""
        if self.signing.key_file is not None:
            return self.signing.key_file
        db = self.db if isinstance(self.db, Path) else default_db(os.environ)
        return db.parent / "signing.key"

    @property
    def configs(self) -> Path:
        if self.config_dir is not None:
            return self.config_dir
        if isinstance(self.db, Path):
            return self.db.parent / "configs"
        return default_db(os.environ).parent / "configs"

    @property
    def hours(self) -> dict[str, OpeningHours]:
        return {c.id: c.hours for c in self.centers}

    @property
    def known_agents(self) -> dict[str, frozenset[str]]:
        return {c.id: c.agents for c in self.centers if c.agents is not None}


# install.sh's places: a command run on the central host without --config uses the service's
# config and database (its StateDirectory=), as the docs' commands do
INSTALLED_CONFIG = Path("/etc/hcc-controller/controller.yaml")
INSTALLED_STATE = Path("/var/lib/hcc-controller")


def default_db(env: TMapping[str, str], installed: Path = INSTALLED_STATE) -> Path:
    state = env.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "hcc.db"
    if installed.is_dir():
        return installed / "hcc.db"
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local" / "state")
    return Path(base) / "hcc-controller" / "hcc.db"


def broker_from_url(url: str, where: str = "--broker") -> BrokerSettings:
    from hcc_common.mqtt_settings import broker_from_url as parse

    try:
        host, port, tls = parse(url)
    except ConfigError as exc:
        raise ConfigError(where, 0, "url", exc.reason) from None
    return BrokerSettings(host=host, port=port, tls=tls)


def parse_listen(text: str, node: Node | None = None) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    try:
        if not sep or not host:
            raise ValueError
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        reason = f"expected HOST:PORT such as 0.0.0.0:8080, got {text!r}"
        if node is not None:
            raise node.error(reason) from None
        raise ConfigError("--http", 0, "listen", reason) from None
    return host.strip("[]"), number


# a member of a shared group keeps receiving its share while away: its session is kept short
SHARED_SESSION_EXPIRY_S = 30.0

# controller.yaml's top-level keys that map straight onto a ControllerConfig field
_TOP_FIELDS = (
    Key("client_id", text),
    Key("share_group", text),
    Key("session_expiry", duration(1.0), "session_expiry_s"),
    Key("ingest_stuck_after", duration(1.0), "ingest_stuck_after_s"),
    Key("config_dir", lambda n: Path(n.as_str()).expanduser()),
)
_TOP = key_names(_TOP_FIELDS, "mqtt", "db", "rules", "alert_rules", "rules_file", "centers",
                 "http", "notify", "enroll", "history", "reports", "people", "oncall",
                 "partitions", "signing", "auth", "groups", "citizen")


def load(path: str | Path | None, env: TMapping[str, str] | None = None) -> ControllerConfig:
    environ = os.environ if env is None else env
    if path is None:
        return ControllerConfig(broker=broker_from_url(DEFAULT_BROKER), db=default_db(environ))
    root = load_yaml(path).as_mapping(_TOP)
    broker = _broker(root.get("mqtt"))
    db = _db(root.get("db"), environ)
    rules = section(root.get("rules"), Rules, _RULES)
    operator_rules: tuple[Rule, ...] = ()
    if (n := root.get("alert_rules")) is not None:
        operator_rules += parse_rules(n)
    if (n := root.get("rules_file")) is not None:
        operator_rules += load_rules_file(n.as_str())
    group = root.get("share_group")
    parts = _partitions(root.get("partitions"))
    if parts is not None and group is not None:
        raise group.error("share_group and partitions are two ways of sharing the stream: "
                          "keep one (partitions: each center to one controller)")
    given = fields_of(root, _TOP_FIELDS)
    if group is not None:
        # Controllers of a shared group each see part of a stream: agents confirm by the
        # broker's PUBACK (agent mqtt.confirm: broker), so no acknowledgements from here.
        given["acks"] = False
        given.setdefault("session_expiry_s", SHARED_SESSION_EXPIRY_S)
    centers = _centers(root.get("centers"))
    http = _http(root.get("http"), environ)
    notify = _notify(root.get("notify"), environ)  # once: reports and citizen check against it
    enroll = _enroll(root.get("enroll"))
    return build(
        ControllerConfig, given, broker=broker, db=db, rules=rules,
        alert_rules=operator_rules + default_rules(), centers=centers, http=http,
        notify=_with_oncall(notify, root.get("people"), root.get("oncall")),
        path=str(path), enroll=enroll,
        history=section(root.get("history"), HistorySettings, _HISTORY),
        reports=_reports(root.get("reports"), notify),
        partitions=parts,
        signing=_signing(root.get("signing"), enroll),
        auth=parse_auth(root.get("auth"), root.get("groups")),
        citizen=_citizen(root.get("citizen"), environ, notify))


def _broker(node: Node | None) -> BrokerSettings:
    if node is None:
        return broker_from_url(DEFAULT_BROKER)
    from hcc_common.mqtt_settings import MQTT_KEYS, parse_mqtt

    s = parse_mqtt(node)
    password = None
    if s.password_file is not None:
        try:
            password = Path(s.password_file).read_text().strip()
        except OSError as exc:
            mm = node.as_mapping(MQTT_KEYS)
            raise mm.require("password_file").error(
                f"cannot read password file: {exc.strerror}") from None
    return BrokerSettings(host=s.host, port=s.port, tls=s.tls, keepalive=s.keepalive,
                          username=s.username, password=password, ca_file=s.ca_file)


def _db(node: Node | None, env: TMapping[str, str]) -> Path | str:
    if node is None:
        return default_db(env)
    from controller.db import is_postgres

    text = node.as_str()
    return text if is_postgres(text) else Path(text).expanduser()


_RULES = (
    Key("unreachable_after", whole(1, 1000)),
    Key("heartbeat_misses", number),
    Key("clock_skew", duration(), "clock_skew_s"),
    Key("flap_opens", whole(2, 1000)),
    Key("flap_window", duration(), "flap_window_s"),
    Key("flap_hold", duration(), "flap_hold_s"),
    Key("max_agents_per_center", whole(1, 1000)),
    Key("max_devices_per_center", whole(1, 100_000)),
    Key("max_alerts_per_device", whole(1, 10_000)),
)


def _citizen(node: Node | None, env: TMapping[str, str], notify: NotifySettings) -> CitizenSettings:
    return parse_citizen(node, env, frozenset(r.name for r in notify.receivers if r.kind == "sms"))


def _paths(node: Node) -> tuple[Path, ...]:
    return tuple(Path(n.as_str()).expanduser() for n in node.as_list())


_SIGNING = (
    Key("key_file", lambda n: Path(n.as_str()).expanduser()),
    Key("also_sign_with", _paths),
)


def _signing(node: Node | None, enroll: EnrollSettings | None) -> SigningSettings:
    settings = section(node, SigningSettings, _SIGNING)
    if node is None or enroll is None or settings.key_file is None:
        return settings
    if settings.key_file.resolve().is_relative_to(enroll.broker_dir.resolve()):
        key = node.as_mapping(key_names(_SIGNING)).require("key_file")
        raise key.error("keep the signing key apart from the broker's files (enroll.broker_dir):"
                        " whoever reads those must not be able to sign commands to the boxes")
    return settings


_PARTITIONS = (
    Key("count", whole(1, 4096)),
    Key("lease", duration(3.0), "lease_s"),
)


def _partitions(node: Node | None) -> PartitionSettings | None:
    return section(node, PartitionSettings, _PARTITIONS) if node is not None else None


def _with_oncall(notify: NotifySettings, people: Node | None, oncall: Node | None
                 ) -> NotifySettings:
    from dataclasses import replace

    from controller.oncall import parse_people, parse_rosters

    found = parse_people(people) if people is not None else {}
    rosters = parse_rosters(oncall, found, [r.name for r in notify.receivers], SEVERITIES) \
        if oncall is not None else ()
    return replace(notify, people=found, rosters=rosters)


_HISTORY = (
    Key("raw", duration(3600.0), "raw_keep_s"),
    Key("hourly", duration(86400.0), "hourly_keep_s"),
)


def _days(node: Node) -> float:
    return node.as_duration() / 86400.0


def _time_of_day(node: Node) -> dtime:
    text = node.as_str()
    try:
        return dtime.fromisoformat(text)
    except ValueError:
        raise node.error(f"bad time {text!r}; write HH:MM, e.g. 07:00") from None


_REPORTS = (
    Key("timezone", read_timezone),
    Key("lead_time", _days, "lead_days"),
    Key("order_within", _days, "order_within_days"),
)
# reports.monthly: (email is checked against notify's receivers, by hand)
_MONTHLY = (
    Key("day", whole(1, 28), "monthly_day"),
    Key("at", _time_of_day, "monthly_at"),
    Key("lang", choice("vi", "en"), "monthly_lang"),
    Key("format", choice("pdf", "html", "csv"), "monthly_format"),
)
_PDF = (
    Key("time_limit", duration(5.0), "pdf_time_limit_s"),
    Key("memory_limit_mb", whole(256, 262144), "pdf_memory_limit_mb"),
)


def _reports(node: Node | None, notify: NotifySettings) -> ReportSettings:
    if node is None:
        return ReportSettings()
    m = node.as_mapping(key_names(_REPORTS, "monthly", "pdf"))
    given = fields_of(m, _REPORTS)
    if (mn := m.get("monthly")) is not None:
        mm = mn.as_mapping(key_names(_MONTHLY, "email"))
        emails = {r.name for r in notify.receivers if r.kind == "email"}
        names: list[str] = []
        for item in mm.require("email").as_list():
            name = item.as_str()
            if name not in emails:
                raise item.error(f"{name!r} is no email receiver under notify.receivers "
                                 f"(have: {', '.join(sorted(emails)) or 'none'})")
            names.append(name)
        given["monthly_email"] = tuple(names)
        given.update(fields_of(mm, _MONTHLY))
    if (pn := m.get("pdf")) is not None:
        given.update(fields_of(pn.as_mapping(key_names(_PDF)), _PDF))
    return build(ReportSettings, given)


def _agent_ids(node: Node) -> frozenset[str]:
    ids = []
    for a in node.as_list():
        aid = a.as_str()
        if not wire.valid_id(aid):
            raise a.error(f"{aid!r} is not a valid agent id")
        ids.append(aid)
    return frozenset(ids)


_CENTER = (Key("agents", _agent_ids),)


def _centers(node: Node | None) -> tuple[CenterInfo, ...]:
    if node is None:
        return ()
    out: list[CenterInfo] = []
    seen: set[str] = set()
    for item in node.as_list():
        m = item.as_mapping(key_names(_CENTER, "id", "name", *CALENDAR_KEYS, "lat", "long", "amenities"))
        cid = m.require("id").as_str()
        if not wire.valid_id(cid):
            raise m.require("id").error(f"{cid!r} is not a valid center id")
        if cid in seen:
            raise m.require("id").error(f"center {cid!r} listed twice")
        seen.add(cid)
        hours = parse_center_calendar(m)
        name = m.get("name")
        given = fields_of(m, _CENTER)
        lat, lon = m.get("lat"), m.get("long")
        if (lat is None) != (lon is None):
            raise (lat or lon or m.require("lat")).error("give both lat and long")
        if lat is not None and lon is not None:
            la, lo = lat.as_float(), lon.as_float()
            if not -90 <= la <= 90:
                raise lat.error("a latitude between -90 and 90")
            if not -180 <= lo <= 180:
                raise lon.error("a longitude between -180 and 180")
            given["location"] = (la, lo)
        if (am := m.get("amenities")) is not None:
            given["amenities"] = parse_amenities(am, cid)
        # a center without a name is called by its id
        out.append(build(CenterInfo, given, id=cid, name=name.as_str() if name is not None else cid,
                         hours=hours))
    return tuple(out)


def _env_tokens(node: Node, env: TMapping[str, str]) -> dict[str, str]:
    """inline {name: token}; a value "env:VAR" reads the token from the environment"""
    from hcc_common.secret_values import inline_or_env

    tm = node.as_mapping(ANY_KEYS)
    return {inline_or_env(tm.require(who), env): who for who in tm}


_HTTP = (
    Key("listen", lambda n: parse_listen(n.as_str(), n), ("listen_host", "listen_port")),
    Key("read_open", flag),
    Key("public_url", text),
    Key("tls_cert", text),
    Key("tls_key", text),
)


def _http(node: Node | None, env: TMapping[str, str]) -> HttpSettings | None:
    if node is None:
        return None
    m = node.as_mapping(key_names(_HTTP, "tokens", "tokens_file"))
    given = fields_of(m, _HTTP)
    inline, listed = m.get("tokens"), m.get("tokens_file")
    if inline is not None or listed is not None:
        tokens = _env_tokens(inline, env) if inline is not None else {}
        if listed is not None:
            tokens.update(read_tokens(listed))
        given["tokens"] = tokens
    cert, key = m.get("tls_cert"), m.get("tls_key")
    if (cert is None) != (key is None):
        raise (cert or key or m.require("tls_cert")).error("give both tls_cert and tls_key")
    return build(HttpSettings, given)


_ENROLL = (
    Key("reload", lambda n: tuple(n.as_str().split())),
    Key("code_valid", duration(60.0), "code_valid_s"),
)


def _enroll(node: Node | None) -> EnrollSettings | None:
    if node is None:
        return None
    m = node.as_mapping(key_names(_ENROLL, "broker_url", "broker_dir"))
    url = m.require("broker_url")
    broker_from_url(url.as_str(), "enroll.broker_url")
    return build(EnrollSettings, fields_of(m, _ENROLL), broker_url=url.as_str(),
                 broker_dir=Path(m.require("broker_dir").as_str()).expanduser())


def read_tokens(node: Node) -> dict[str, str]:
    """A file of `name: token` lines (for example `ops-desk: 3f9c…`); # starts a comment."""
    path = Path(node.as_str())
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise node.error(f"cannot read {path}: {exc.strerror}") from None
    tokens: dict[str, str] = {}
    for i, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        who, sep, token = text.partition(":")
        if not sep or not who.strip() or len(token.strip()) < 16:
            # never echo the line: it may hold a token
            raise ConfigError(str(path), i, "token", "expected 'name: token' with a token of "
                              "16+ characters")
        tokens[token.strip()] = who.strip()
    return tokens


_NOTIFY = (
    Key("group_wait", duration(), "group_wait_s"),
    Key("remind_after", duration(60.0), "remind_after_s"),
    Key("max_attempts", whole(1, 20)),
    Key("escalate_every", duration(0.5), "escalate_every_s"),
)


def _severities(node: Node) -> tuple[str, ...]:
    return tuple(x.as_choice(SEVERITIES) for x in node.as_list())


def _names(node: Node) -> tuple[str, ...]:
    return tuple(x.as_str() for x in node.as_list())


_ROUTE = (
    Key("centers", _names),
    Key("severities", _severities),
)


def _notify(node: Node | None, env: TMapping[str, str]) -> NotifySettings:
    if node is None:
        return NotifySettings()
    m = node.as_mapping(key_names(_NOTIFY, "receivers", "routes"))
    receivers: list[Receiver] = []
    names: set[str] = set()
    from controller.channels import REGISTRY

    if (n := m.get("receivers")) is not None:
        for item in n.as_list():
            rm = item.as_mapping(("name", "severities", *REGISTRY))
            name = rm.require("name").as_str()
            if name in names:
                raise rm.require("name").error(f"receiver {name!r} defined twice")
            names.add(name)
            kinds = [k for k in REGISTRY if rm.get(k) is not None]
            if len(kinds) != 1:
                raise item.error(f"receiver {name!r} needs exactly one of "
                                 f"{', '.join(REGISTRY)}")
            spec = REGISTRY[kinds[0]]
            sev = rm.get("severities")
            receivers.append(Receiver(
                name=name, kind=spec.kind, settings=spec.parse(rm.require(spec.kind), env),
                # not written: the channel's own (its module's default_severities)
                severities=_severities(sev) if sev is not None else spec.default_severities))
    routes: list[Route] = []
    if (n := m.get("routes")) is not None:
        for item in n.as_list():
            rm = item.as_mapping(key_names(_ROUTE, "receivers"))
            recv = _names(rm.require("receivers"))
            for r in recv:
                if r not in names:
                    raise rm.require("receivers").error(f"unknown receiver {r!r}")
            routes.append(build(Route, fields_of(rm, _ROUTE), receivers=recv))
    return build(NotifySettings, fields_of(m, _NOTIFY), receivers=tuple(receivers),
                 routes=tuple(routes))
