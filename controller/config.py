"""controller.yaml, parsed once into frozen typed objects; every field has an embedded default."""

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
from controller.rules import Rule, default_rules, load_rules_file, parse_rules
from controller.state import Rules
from hcc_common import wire
from hcc_common.calendar import OpeningHours, parse_center_calendar
from hcc_common.mqtt_io import BrokerSettings
from hcc_common.yamlconf import ANY_KEYS, ConfigError, Node, load_yaml

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class CenterInfo:
    id: str
    name: str
    hours: OpeningHours
    # the center's boxes; None: admit the first rules.max_agents_per_center that report
    agents: frozenset[str] | None = None
    location: tuple[float, float] | None = None  # (lat, long): Open311 gives it to the city
    amenities: tuple[Amenity, ...] = ()  # what citizens can report on (QR labels)


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
    timezone: str = "Asia/Ho_Chi_Minh"  # the city's: months start at its midnight
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


@dataclass(frozen=True)
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
    return BrokerSettings(host, port, tls)


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


_TOP = ("mqtt", "db", "rules", "alert_rules", "rules_file", "centers", "http", "notify",
        "client_id", "share_group", "session_expiry", "ingest_stuck_after", "config_dir",
        "enroll", "history", "reports", "people", "oncall", "partitions", "signing",
        "auth", "groups", "citizen")


def load(path: str | Path | None, env: TMapping[str, str] | None = None) -> ControllerConfig:
    environ = os.environ if env is None else env
    if path is None:
        return ControllerConfig(broker_from_url(DEFAULT_BROKER), default_db(environ))
    root = load_yaml(path).as_mapping(_TOP)
    broker = broker_from_url(DEFAULT_BROKER)
    if (m := root.get("mqtt")) is not None:
        from hcc_common.mqtt_settings import MQTT_KEYS, parse_mqtt

        s = parse_mqtt(m)
        password = None
        if s.password_file is not None:
            try:
                password = Path(s.password_file).read_text().strip()
            except OSError as exc:
                mm = m.as_mapping(MQTT_KEYS)
                raise mm.require("password_file").error(
                    f"cannot read password file: {exc.strerror}") from None
        broker = BrokerSettings(s.host, s.port, s.tls, s.keepalive, s.username, password,
                                s.ca_file)
    db: Path | str = default_db(environ)
    if (n := root.get("db")) is not None:
        from controller.db import is_postgres

        text = n.as_str()
        db = text if is_postgres(text) else Path(text).expanduser()
    rules = Rules()
    if (n := root.get("rules")) is not None:
        r = n.as_mapping(("unreachable_after", "heartbeat_misses", "clock_skew", "flap_opens",
                          "flap_window", "flap_hold", "max_agents_per_center",
                          "max_devices_per_center", "max_alerts_per_device"))
        ma, md = r.get("max_agents_per_center"), r.get("max_devices_per_center")
        mx = r.get("max_alerts_per_device")
        ua, hm, cs = r.get("unreachable_after"), r.get("heartbeat_misses"), r.get("clock_skew")
        fo, fw, fh = r.get("flap_opens"), r.get("flap_window"), r.get("flap_hold")
        d = Rules()
        rules = Rules(
            unreachable_after=ua.as_int(1, 1000) if ua is not None else d.unreachable_after,
            heartbeat_misses=hm.as_float() if hm is not None else d.heartbeat_misses,
            clock_skew_s=cs.as_duration() if cs is not None else d.clock_skew_s,
            flap_opens=fo.as_int(2, 1000) if fo is not None else d.flap_opens,
            flap_window_s=fw.as_duration() if fw is not None else d.flap_window_s,
            flap_hold_s=fh.as_duration() if fh is not None else d.flap_hold_s,
            max_agents_per_center=ma.as_int(1, 1000) if ma is not None
            else d.max_agents_per_center,
            max_devices_per_center=md.as_int(1, 100_000) if md is not None
            else d.max_devices_per_center,
            max_alerts_per_device=mx.as_int(1, 10_000) if mx is not None
            else d.max_alerts_per_device,
        )
    operator_rules: tuple[Rule, ...] = ()
    if (n := root.get("alert_rules")) is not None:
        operator_rules += parse_rules(n)
    if (n := root.get("rules_file")) is not None:
        operator_rules += load_rules_file(n.as_str())
    cid = root.get("client_id")
    group = root.get("share_group")
    expiry = root.get("session_expiry")
    parts = _partitions(root.get("partitions"))
    if parts is not None and group is not None:
        raise group.error("share_group and partitions are two ways of sharing the stream: "
                          "keep one (partitions: each center to one controller)")
    return ControllerConfig(
        broker, db, rules, operator_rules + default_rules(),
        _centers(root.get("centers")), _http(root.get("http"), environ),
        _with_oncall(_notify(root.get("notify"), environ), root.get("people"), root.get("oncall")),
        cid.as_str() if cid is not None else "hcc-controller", str(path),
        group.as_str() if group is not None else None,
        expiry.as_duration(minimum=1.0) if expiry is not None
        else (30.0 if group is not None else 7 * 86400.0),
        acks=group is None,
        ingest_stuck_after_s=stuck.as_duration(minimum=1.0) if (
            stuck := root.get("ingest_stuck_after")) is not None else 30.0,
        config_dir=Path(cd.as_str()).expanduser() if (cd := root.get("config_dir")) is not None
        else None,
        enroll=_enroll(root.get("enroll")),
        history=_history(root.get("history")),
        reports=_reports(root.get("reports"), _notify(root.get("notify"), environ)),
        partitions=parts,
        signing=_signing(root.get("signing"), _enroll(root.get("enroll"))),
        auth=parse_auth(root.get("auth"), root.get("groups")),
        citizen=_citizen(root.get("citizen"), environ, _notify(root.get("notify"), environ)))


def _citizen(node: Node | None, env: TMapping[str, str], notify: NotifySettings) -> CitizenSettings:
    return parse_citizen(node, env, frozenset(r.name for r in notify.receivers if r.kind == "sms"))


def _signing(node: Node | None, enroll: EnrollSettings | None) -> SigningSettings:
    if node is None:
        return SigningSettings()
    m = node.as_mapping(("key_file", "also_sign_with"))
    key = m.get("key_file")
    also = m.get("also_sign_with")
    settings = SigningSettings(
        key_file=Path(key.as_str()).expanduser() if key is not None else None,
        also_sign_with=tuple(Path(n.as_str()).expanduser() for n in also.as_list())
        if also is not None else ())
    if enroll is not None and key is not None and settings.key_file is not None and \
            settings.key_file.resolve().is_relative_to(enroll.broker_dir.resolve()):
        raise key.error("keep the signing key apart from the broker's files (enroll.broker_dir):"
                        " whoever reads those must not be able to sign commands to the boxes")
    return settings


def _partitions(node: Node | None) -> PartitionSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("count", "lease"))
    d = PartitionSettings()
    count, lease = m.get("count"), m.get("lease")
    return PartitionSettings(
        count=count.as_int(1, 4096) if count is not None else d.count,
        lease_s=lease.as_duration(minimum=3.0) if lease is not None else d.lease_s)


def _with_oncall(notify: NotifySettings, people: Node | None, oncall: Node | None
                 ) -> NotifySettings:
    from dataclasses import replace

    from controller.oncall import parse_people, parse_rosters

    found = parse_people(people) if people is not None else {}
    rosters = parse_rosters(oncall, found, [r.name for r in notify.receivers], SEVERITIES) \
        if oncall is not None else ()
    return replace(notify, people=found, rosters=rosters)


def _history(node: Node | None) -> HistorySettings:
    if node is None:
        return HistorySettings()
    m = node.as_mapping(("raw", "hourly"))
    d = HistorySettings()
    raw, hourly = m.get("raw"), m.get("hourly")
    return HistorySettings(
        raw.as_duration(minimum=3600.0) if raw is not None else d.raw_keep_s,
        hourly.as_duration(minimum=86400.0) if hourly is not None else d.hourly_keep_s)


def _reports(node: Node | None, notify: NotifySettings) -> ReportSettings:
    if node is None:
        return ReportSettings()
    from hcc_common.calendar import check_timezone

    m = node.as_mapping(("timezone", "lead_time", "order_within", "monthly", "pdf"))
    d = ReportSettings()
    tz = d.timezone
    if (t := m.get("timezone")) is not None:
        tz = t.as_str()
        check_timezone(t, tz)
    lead, within = m.get("lead_time"), m.get("order_within")
    names: list[str] = []
    day, at, lang, fmt = d.monthly_day, d.monthly_at, d.monthly_lang, d.monthly_format
    if (mn := m.get("monthly")) is not None:
        mm = mn.as_mapping(("email", "day", "at", "lang", "format"))
        emails = {r.name for r in notify.receivers if r.kind == "email"}
        for item in mm.require("email").as_list():
            name = item.as_str()
            if name not in emails:
                raise item.error(f"{name!r} is no email receiver under notify.receivers "
                                 f"(have: {', '.join(sorted(emails)) or 'none'})")
            names.append(name)
        if (n := mm.get("day")) is not None:
            day = n.as_int(1, 28)
        if (n := mm.get("at")) is not None:
            text = n.as_str()
            try:
                at = dtime.fromisoformat(text)
            except ValueError:
                raise n.error(f"bad time {text!r}; write HH:MM, e.g. 07:00") from None
        if (n := mm.get("lang")) is not None:
            lang = n.as_choice(("vi", "en"))
        if (n := mm.get("format")) is not None:
            fmt = n.as_choice(("pdf", "html", "csv"))
    pdf_time, pdf_memory = d.pdf_time_limit_s, d.pdf_memory_limit_mb
    if (pn := m.get("pdf")) is not None:
        pm = pn.as_mapping(("time_limit", "memory_limit_mb"))
        if (n := pm.get("time_limit")) is not None:
            pdf_time = n.as_duration(minimum=5.0)
        if (n := pm.get("memory_limit_mb")) is not None:
            pdf_memory = n.as_int(256, 262144)
    return ReportSettings(
        timezone=tz, pdf_time_limit_s=pdf_time, pdf_memory_limit_mb=pdf_memory,
        lead_days=lead.as_duration() / 86400.0 if lead is not None else d.lead_days,
        order_within_days=within.as_duration() / 86400.0 if within is not None
        else d.order_within_days,
        monthly_email=tuple(names), monthly_day=day, monthly_at=at, monthly_lang=lang,
        monthly_format=fmt)


def _centers(node: Node | None) -> tuple[CenterInfo, ...]:
    if node is None:
        return ()
    out: list[CenterInfo] = []
    seen: set[str] = set()
    for item in node.as_list():
        m = item.as_mapping(("id", "name", "timezone", "opening_hours", "holidays", "agents",
                             "lat", "long", "amenities"))
        cid = m.require("id").as_str()
        if not wire.valid_id(cid):
            raise m.require("id").error(f"{cid!r} is not a valid center id")
        if cid in seen:
            raise m.require("id").error(f"center {cid!r} listed twice")
        seen.add(cid)
        hours = parse_center_calendar(m)
        name = m.get("name")
        agents: frozenset[str] | None = None
        if (an := m.get("agents")) is not None:
            ids = []
            for a in an.as_list():
                aid = a.as_str()
                if not wire.valid_id(aid):
                    raise a.error(f"{aid!r} is not a valid agent id")
                ids.append(aid)
            agents = frozenset(ids)
        lat, lon = m.get("lat"), m.get("long")
        location = None
        if (lat is None) != (lon is None):
            raise (lat or lon or m.require("lat")).error("give both lat and long")
        if lat is not None and lon is not None:
            la, lo = lat.as_float(), lon.as_float()
            if not -90 <= la <= 90:
                raise lat.error("a latitude between -90 and 90")
            if not -180 <= lo <= 180:
                raise lon.error("a longitude between -180 and 180")
            location = (la, lo)
        am = m.get("amenities")
        out.append(CenterInfo(cid, name.as_str() if name is not None else cid, hours, agents,
                              location, parse_amenities(am, cid) if am is not None else ()))
    return tuple(out)


def _http(node: Node | None, env: TMapping[str, str]) -> HttpSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("listen", "tokens", "tokens_file", "read_open", "public_url",
                         "tls_cert", "tls_key"))
    host, port = "127.0.0.1", 8080
    if (n := m.get("listen")) is not None:
        host, port = parse_listen(n.as_str(), n)
    tokens: dict[str, str] = {}
    if (n := m.get("tokens")) is not None:
        # inline {name: token}; a value "env:VAR" reads the token from the environment
        tm = n.as_mapping(ANY_KEYS)
        for who in tm:
            value = tm.require(who).as_str()
            if value.startswith("env:"):
                var = value[4:]
                if var not in env:
                    raise tm.require(who).error(f"environment variable {var} is not set")
                value = env[var]
            tokens[value] = who
    if (n := m.get("tokens_file")) is not None:
        tokens.update(read_tokens(n))
    ro = m.get("read_open")
    pub = m.get("public_url")
    cert, key = m.get("tls_cert"), m.get("tls_key")
    if (cert is None) != (key is None):
        raise (cert or key or m.require("tls_cert")).error("give both tls_cert and tls_key")
    return HttpSettings(host, port, tokens, ro.as_bool() if ro is not None else False,
                        pub.as_str() if pub is not None else "",
                        cert.as_str() if cert is not None else None,
                        key.as_str() if key is not None else None)


def _enroll(node: Node | None) -> EnrollSettings | None:
    if node is None:
        return None
    m = node.as_mapping(("broker_dir", "broker_url", "reload", "code_valid"))
    url = m.require("broker_url")
    broker_from_url(url.as_str(), "enroll.broker_url")
    reload = m.get("reload")
    valid = m.get("code_valid")
    return EnrollSettings(
        broker_dir=Path(m.require("broker_dir").as_str()).expanduser(),
        broker_url=url.as_str(),
        reload=tuple(reload.as_str().split()) if reload is not None else (),
        code_valid_s=valid.as_duration(minimum=60.0) if valid is not None else 4 * 3600.0)


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


def _notify(node: Node | None, env: TMapping[str, str]) -> NotifySettings:
    if node is None:
        return NotifySettings()
    m = node.as_mapping(("receivers", "routes", "group_wait", "remind_after", "max_attempts",
                         "escalate_every"))
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
                name, spec.kind, spec.parse(rm.require(spec.kind), env),
                tuple(x.as_choice(SEVERITIES) for x in sev.as_list()) if sev is not None
                else spec.default_severities))
    routes: list[Route] = []
    if (n := m.get("routes")) is not None:
        for item in n.as_list():
            rm = item.as_mapping(("receivers", "centers", "severities"))
            recv = tuple(x.as_str() for x in rm.require("receivers").as_list())
            for r in recv:
                if r not in names:
                    raise rm.require("receivers").error(f"unknown receiver {r!r}")
            centers = rm.get("centers")
            sev = rm.get("severities")
            routes.append(Route(
                recv, tuple(x.as_str() for x in centers.as_list()) if centers is not None else (),
                tuple(x.as_choice(SEVERITIES) for x in sev.as_list()) if sev is not None else ()))
    gw, ra, ma = m.get("group_wait"), m.get("remind_after"), m.get("max_attempts")
    ee = m.get("escalate_every")
    return NotifySettings(tuple(receivers), tuple(routes),
                          gw.as_duration() if gw is not None else 10.0,
                          ra.as_duration(minimum=60.0) if ra is not None else 1800.0,
                          ma.as_int(1, 20) if ma is not None else 6,
                          escalate_every_s=ee.as_duration(minimum=0.5) if ee is not None
                          else 5.0)
