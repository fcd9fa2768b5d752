"""The MQTT wire contract (topics, payload schema, versions): the one module both sides import."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import orjson

from hcc_common.readings import NUMERIC_INVENTORY, may_be_text

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SCHEMA_VERSION = 1
TOPIC_ROOT = "hcc/v1"
# Every topic an agent publishes lies under hcc/v1/<center>/<agent>/.
SUBSCRIBE_ALL_AGENTS = f"{TOPIC_ROOT}/+/+/#"
ALERTS_SEGMENT = "alerts"
# hcc/v1/ack/<center>/<agent>: what the controller has committed of one agent's reports.
ACK_SEGMENT = "ack"
# Bounded so one broken or hostile agent cannot make the controller parse megabytes.
MAX_PAYLOAD_BYTES = 64 * 1024

# Bounds of the contract. Whole numbers stay within what JSON readers everywhere and a 64-bit
# database column hold exactly; times within what a calendar and a chart can show.
MAX_WHOLE = 2**53 - 1
MAX_METRIC_INT = 2**63 - 1
MAX_TS = 4_102_444_800.0      # 2100-01-01 UTC
MAX_INTERVAL_S = 7 * 86400.0  # heartbeat interval, keepalive

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
RESERVED_IDS = frozenset({ALERTS_SEGMENT, ACK_SEGMENT})

# Per-message limits (docs/protocol.md): what one message from a box may hold. Over a limit
# the message is a dead letter with the reason, and nothing of it is stored. Each is several
# times what a real device sends (measured on the captures of ../shared: at most 125 readings,
# 4 faults, texts of 255 characters, reading names of 109).
MAX_READINGS = 500         # readings of one result
MAX_HOST_READINGS = 100    # the box's own readings in a heartbeat
MAX_INVENTORY = 50         # entries of a birth's inventory
MAX_FAULTS = 100           # faults of one result (a 48-outlet charging strip, each at fault)
MAX_FAULT_PARAMS = 16      # details of one fault
MAX_READING_NAME = 160     # characters of a reading's name ("if.<interface name>.oper")
MAX_TEXT = 512             # characters of a text reading or a fault's detail
MAX_DEVICE_NAME = 200      # characters of a device's name
MAX_ERROR = 1000           # characters of a result's error
TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # a device type: printer, wifi_ap, box
# a fault code (printer.toner_low), a fault detail's or an inventory entry's name
CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,31}(?:\.[a-z0-9_]{1,32}){1,3}$")
KEY_PATTERN = re.compile(r"^[a-z_][a-z0-9_.]{0,39}$")
# Text from a box is shown on pages, in chats and in CSV files: no control characters (a
# reading's or a device's name: none at all; free text may break lines) and, in a reading's
# name (which pages may use as a key), none of the characters that mean something in markup.
_NAME_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_TEXT_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_READING_NAME_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029<>&\"'`\\]")

Status = Literal["ok", "warning", "critical", "unreachable"]
STATUSES: tuple[Status, ...] = ("ok", "warning", "critical", "unreachable")
AgentState = Literal["online", "offline"]
MetricValue = float | int | str
SEVERITIES = ("critical", "warning", "info")


class WireError(ValueError):
    """A message that does not follow the contract. The text says which part."""


def valid_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value)) and value not in RESERVED_IDS


# -- topics -----------------------------------------------------------------------------------
def state_topic(center: str, agent: str) -> str:
    return f"{TOPIC_ROOT}/{center}/{agent}/state"


def heartbeat_topic(center: str, agent: str) -> str:
    return f"{TOPIC_ROOT}/{center}/{agent}/heartbeat"


def result_topic(center: str, agent: str, device: str) -> str:
    return f"{TOPIC_ROOT}/{center}/{agent}/result/{device}"


def alerts_topic(center: str) -> str:
    return f"{TOPIC_ROOT}/{ALERTS_SEGMENT}/{center}"


def ack_topic(center: str, agent: str) -> str:
    return f"{TOPIC_ROOT}/{ACK_SEGMENT}/{center}/{agent}"


def box_publishes(center: str, agent: str) -> tuple[str, ...]:
    """Every topic (filter) a box publishes: its broker ACL grants it these and nothing more.
    A topic a box starts to publish is added here, or the broker refuses it."""
    return (state_topic(center, agent), heartbeat_topic(center, agent),
            result_topic(center, agent, "+"),
            # its answer to `hcc-controller config pull` (hcc_common/config_pull.py)
            f"{TOPIC_ROOT}/{center}/{agent}/config/current")


def config_topic(center: str, agent: str) -> str:
    """Controller -> one box, retained: the devices.yaml it should run."""
    return f"{TOPIC_ROOT}/{center}/{agent}/cmd/config"


# -- messages ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultReport:
    code: str
    severity: str
    params: Mapping[str, MetricValue] = field(default_factory=dict)


@dataclass(frozen=True)
class StateMessage:
    """Birth ("online", retained, sent on connect) and death (the Last Will, "offline")."""

    center: str
    agent: str
    state: AgentState
    session: int
    ts: float
    # In a birth: the session before this one and the last seq it assigned, so the controller
    # can count as gaps the reports of a killed run that never arrive.
    prev_session: int | None = None
    prev_last_seq: int | None = None
    # In a birth: the agent's MQTT keepalive. With heartbeats at most this far apart, silence
    # for 1.5 x keepalive means the box is gone (the broker's own rule for the will).
    keepalive_s: float | None = None
    # In a birth: what the box is (software and config version, OS, model, device count, boot
    # time), for the fleet inventory.
    inventory: Mapping[str, MetricValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Heartbeat:
    center: str
    agent: str
    session: int
    seq: int
    ts: float
    interval_s: float
    # the box's own readings; empty: as in the last heartbeat that carried them (by exception)
    host: Mapping[str, MetricValue] = field(default_factory=dict)
    backlog: int = 0
    # (session, seq) of the oldest report still in the agent's outbox: whatever the controller
    # misses from before it can never come, so the controller stops asking for it.
    kept_from: tuple[int, int] | None = None
    # Report by exception: devices checked since the last heartbeat whose result did not change
    # (status, faults, readings within their deadbands): device -> (check time, status), on the
    # wire to the whole second. The controller applies each as that device's last result again.
    # Absent from older agents.
    unchanged: Mapping[str, tuple[float, Status]] = field(default_factory=dict)


MAX_UNCHANGED = 1000  # devices one heartbeat may confirm (a box has tens)


@dataclass(frozen=True)
class SessionAck:
    """Of one session: every seq up to `last` was committed, except the `missing` ranges."""

    last: int
    missing: tuple[tuple[int, int], ...] = ()

    def confirms(self, seq: int) -> bool:
        return seq <= self.last and not any(a <= seq <= b for a, b in self.missing)


@dataclass(frozen=True)
class Ack:
    """Controller -> agent, retained: what the controller has committed, per session. The agent
    deletes a report from its outbox only when an Ack confirms it, and sends again what an Ack
    lists as missing, so a broker that loses its queue (kill -9) loses no report."""

    center: str
    agent: str
    sessions: Mapping[int, SessionAck]


@dataclass(frozen=True, kw_only=True)
class Result:
    """One check of one device."""

    center: str
    agent: str
    device: str
    session: int
    seq: int
    ts: float
    device_type: str
    device_name: str
    status: Status
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    faults: tuple[FaultReport, ...] = ()
    error: str | None = None


Message = StateMessage | Heartbeat | Result


@dataclass(frozen=True)
class Encoded:
    topic: str
    payload: bytes
    retain: bool
    qos: int = 1


def encode(msg: Message) -> Encoded:
    if isinstance(msg, StateMessage):
        body: dict[str, object] = {
            "v": SCHEMA_VERSION, "kind": "state", "center": msg.center, "agent": msg.agent,
            "state": msg.state, "session": msg.session, "ts": msg.ts,
        }
        if msg.prev_session is not None and msg.prev_last_seq is not None:
            body["prev_session"] = msg.prev_session
            body["prev_last_seq"] = msg.prev_last_seq
        if msg.keepalive_s is not None:
            body["keepalive_s"] = msg.keepalive_s
        if msg.inventory:
            body["inventory"] = _conform(msg.inventory, MAX_INVENTORY, _inventory_text,
                                         KEY_PATTERN)
        return Encoded(state_topic(msg.center, msg.agent), _dump(body), retain=True)
    if isinstance(msg, Heartbeat):
        body = {
            "v": SCHEMA_VERSION, "kind": "heartbeat", "center": msg.center, "agent": msg.agent,
            "session": msg.session, "seq": msg.seq, "ts": msg.ts, "interval_s": msg.interval_s,
        }
        # absent means "as before" (host) or nothing (backlog): a box on a metered 4G line
        # pays for every heartbeat's bytes
        if msg.host:
            body["host"] = _conform(msg.host, MAX_HOST_READINGS, _never_text)
        if msg.backlog:
            body["backlog"] = msg.backlog
        if msg.kept_from is not None:
            body["kept_from"] = list(msg.kept_from)
        if msg.unchanged:
            body["unchanged"] = _encode_unchanged(msg.ts, msg.unchanged)
        return Encoded(heartbeat_topic(msg.center, msg.agent), _dump(body), retain=False)
    body = {
        "v": SCHEMA_VERSION, "kind": "result", "center": msg.center, "agent": msg.agent,
        "device": msg.device, "session": msg.session, "seq": msg.seq, "ts": msg.ts,
        "type": msg.device_type, "name": _fit_name(msg.device_name, MAX_DEVICE_NAME),
        "status": msg.status,
        "metrics": _conform(msg.metrics, MAX_READINGS, may_be_text),
        "faults": [{"code": f.code, "severity": f.severity,
                    "params": _conform(f.params, MAX_FAULT_PARAMS, _always_text, KEY_PATTERN)}
                   for f in msg.faults[:MAX_FAULTS]],
    }
    if msg.error is not None:
        body["error"] = _fit_text(msg.error, MAX_ERROR)
    return Encoded(result_topic(msg.center, msg.agent, msg.device), _dump(body), retain=False)


# A devices.yaml pushed to a box: generous (a center with 100 devices is ~20 KiB), bounded.
MAX_CONFIG_BYTES = 256 * 1024


@dataclass(frozen=True)
class ConfigPush:
    """Controller -> box (retained): run this devices.yaml. `version` is the first 12 hex digits
    of the content's SHA-256, so the same text is always the same version. `issued` (the time
    the controller made it the box's desired config) only grows for one box, so an older
    command cannot replace a newer one; `signed` is the message as decoded, for the box to
    verify the controller's signature over (hcc_common/signing.py)."""

    center: str
    agent: str
    version: str
    content: str
    author: str
    ts: float
    issued: float | None = None
    signed: Mapping[str, object] = field(default_factory=dict, repr=False, compare=False)


def config_version(content: str) -> str:
    import hashlib

    return hashlib.sha256(content.encode()).hexdigest()[:12]


def command_kind(topic: str) -> str | None:
    """`config` for hcc/v1/<center>/<agent>/cmd/config: the kind of a controller command, or
    None for a topic that is no command."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["hcc", "v1"] or parts[4] != "cmd":
        return None
    return parts[5]


def encode_config(push: ConfigPush, keys: Sequence[Ed25519PrivateKey] = ()) -> Encoded:
    """The retained command; signed by each of `keys` (none: unsigned, which a box refuses)."""
    body: dict[str, object] = {
        "v": SCHEMA_VERSION, "kind": "config", "center": push.center, "agent": push.agent,
        "version": push.version, "content": push.content, "author": push.author, "ts": push.ts}
    if push.issued is not None:
        body["issued"] = push.issued
    if keys:
        from hcc_common.signing import sign

        body = sign(body, keys)
    return Encoded(config_topic(push.center, push.agent), _dump(body), retain=True)


def decode_config(topic: str, payload: bytes) -> ConfigPush:
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["hcc", "v1"] or parts[4:] != ["cmd", "config"]:
        raise WireError(f"not a config topic: {topic!r}")
    body = command_body(payload, "config", MAX_CONFIG_BYTES + 4096, (parts[2], parts[3]))
    content = _str(body, "content")
    version = _str(body, "version")
    if config_version(content) != version:
        raise WireError("config version does not match its content")
    issued = _number(body, "issued", MAX_TS) if "issued" in body else None
    return ConfigPush(parts[2], parts[3], version, content, _str(body, "author"),
                      _number(body, "ts", MAX_TS), issued, body)


def encode_ack(ack: Ack) -> Encoded:
    body = {"v": SCHEMA_VERSION, "kind": "ack", "center": ack.center, "agent": ack.agent,
            "sessions": {str(k): {"last": v.last, "missing": [list(r) for r in v.missing]}
                         for k, v in ack.sessions.items()}}
    return Encoded(ack_topic(ack.center, ack.agent), _dump(body), retain=True)


def decode_ack(topic: str, payload: bytes) -> Ack:
    """Decode the controller's acknowledgement. Raises WireError for anything off-contract."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[:3] != ["hcc", "v1", ACK_SEGMENT]:
        raise WireError(f"not an ack topic: {topic!r}")
    body = command_body(payload, "ack", MAX_PAYLOAD_BYTES, (parts[3], parts[4]))
    raw = body.get("sessions")
    if type(raw) is not dict:
        raise WireError("sessions must be an object")
    sessions: dict[int, SessionAck] = {}
    for key, item in raw.items():
        if not key.isdigit() or type(item) is not dict:
            raise WireError(f"sessions.{key[:20]} is not a session")
        missing = item.get("missing", [])
        if type(missing) is not list:
            raise WireError("missing must be a list of [first, last] ranges")
        ranges = []
        for r in missing:
            if (type(r) is not list or len(r) != 2 or type(r[0]) is not int
                    or type(r[1]) is not int):
                raise WireError("missing must be a list of [first, last] ranges")
            ranges.append((r[0], r[1]))
        sessions[int(key)] = SessionAck(_int(item, "last"), tuple(ranges))
    return Ack(parts[3], parts[4], sessions)


def command_body(payload: bytes, kind: str, limit: int, box: tuple[str, str]
                  ) -> dict[str, object]:
    """The JSON object of a controller-to-box message of `kind`, naming the box of its topic."""
    if len(payload) > limit:
        raise WireError(f"payload of {len(payload)} bytes exceeds {limit}")
    try:
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"not JSON: {exc}") from None
    if type(body) is not dict or body.get("kind") != kind or body.get("v") != SCHEMA_VERSION:
        raise WireError(f"not a {kind} message of this schema version")
    if (_id(body, "center"), _id(body, "agent")) != box:
        raise WireError(f"{kind} names another box than its topic")
    return body


def _conform(values: Mapping[str, MetricValue], limit: int, text_ok: Callable[[str], bool],
             names: re.Pattern[str] | None = None) -> dict[str, MetricValue]:
    """Readings as the contract allows them, so that what a box sends is never a dead letter
    for what a device said: a 64-bit counter past the bound goes as a float, a name is cut
    and rid of what the contract forbids, a text is cut, text where a number belongs and
    anything past `limit` are left out, as is a bool (the decoders never make them:
    tests/test_wire_limits.py runs every decoder on the captures and requires its output to
    go through unchanged). A float that is not finite still fails loudly in _dump."""
    out: dict[str, MetricValue] = {}
    for k, v in values.items():
        if len(out) >= limit:
            break
        if names is not None and not names.match(k):
            continue  # a detail's or an inventory entry's name is the agent's own, never odd
        if type(v) is str:
            if not text_ok(k):
                continue
            v = _fit_text(v, MAX_TEXT)
        elif type(v) is int:
            if not -MAX_METRIC_INT <= v <= MAX_METRIC_INT:
                v = float(v)
        elif type(v) is not float:
            continue  # a bool is not a reading
        out[_READING_NAME_BAD.sub("_", k)[:MAX_READING_NAME] or "_"] = v
    return out


def _fit_text(text: str, limit: int) -> str:
    return _TEXT_BAD.sub(" ", text)[:limit]


def _fit_name(text: str, limit: int) -> str:
    return _NAME_BAD.sub(" ", text)[:limit]


def _never_text(_name: str) -> bool:
    return False


def _always_text(_name: str) -> bool:
    return True


def _inventory_text(name: str) -> bool:
    return name not in NUMERIC_INVENTORY


def _dump(body: Mapping[str, object]) -> bytes:
    # allow_nan=False: NaN is not JSON, and a reading we cannot represent must fail loudly here.
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


@dataclass(frozen=True)
class TopicParts:
    center: str
    agent: str
    kind: str
    device: str | None


# Ids repeat in every message of a fleet: each distinct one is checked by the pattern once, and
# the first instance is handed out again, so 300,000 devices' state holds one string per id,
# not a fresh copy from every message.
_KNOWN_IDS: dict[str, str] = {}
_KNOWN_IDS_MAX = 200_000


def _checked_id(value: object) -> str | None:
    """The canonical instance of a valid id, or None."""
    if type(value) is not str:
        return None  # (a list or an object would not even be hashable)
    known = _KNOWN_IDS.get(value)
    if known is not None:
        return known
    if not valid_id(value):
        return None
    if len(_KNOWN_IDS) >= _KNOWN_IDS_MAX:
        _KNOWN_IDS.clear()  # bounded: a flood of made-up ids costs a recheck, not memory
    _KNOWN_IDS[value] = value
    return value


def parse_topic(topic: str) -> TopicParts | None:
    """Split an agent topic. Returns None for topics that are not agent reports (e.g. alerts)."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != "hcc" or parts[1] != "v1" or parts[2] in RESERVED_IDS:
        return None
    center, agent, kind = parts[2], parts[3], parts[4]
    if kind == "cmd":
        return None  # the controller's own commands to a box
    if kind in ("state", "heartbeat") and len(parts) == 5:
        return TopicParts(center, agent, kind, None)
    if kind == "result" and len(parts) == 6:
        return TopicParts(center, agent, kind, parts[5])
    raise WireError(f"unknown topic layout {topic!r}")


def decode(topic: str, payload: bytes, parts: TopicParts | None = None) -> Message:
    """Decode and validate one message (`parts`: the topic, if already split by the caller).
    Raises WireError for anything off-contract."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    if parts is None:
        parts = parse_topic(topic)
    if parts is None:
        raise WireError(f"not an agent topic: {topic!r}")
    try:
        # orjson: strict JSON (no NaN/Infinity, no lone surrogates, no overflow to inf), and
        # the controller decodes every message of the fleet, where json.loads was the main cost.
        body = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise WireError(f"not JSON: {exc}") from None
    if type(body) is not dict:
        raise WireError("payload is not a JSON object")
    v = body.get("v")
    if v != SCHEMA_VERSION or type(v) is not int:
        raise WireError(f"unsupported schema version {v!r} (this side speaks {SCHEMA_VERSION})")
    kind = body.get("kind")
    if kind != parts.kind:
        raise WireError(f"payload kind {kind!r} does not match topic kind {parts.kind!r}")
    center = _id(body, "center")
    agent = _id(body, "agent")
    if center != parts.center or agent != parts.agent:
        raise WireError(
            f"payload names {center}/{agent} but was published under {parts.center}/{parts.agent}"
        )
    ts = _number(body, "ts", MAX_TS)
    session = _int(body, "session")
    if kind == "state":
        state = body.get("state")
        if state not in ("online", "offline"):
            raise WireError(f"state must be online or offline, got {state!r}")
        prev_session = _int(body, "prev_session") if "prev_session" in body else None
        prev_last_seq = _int(body, "prev_last_seq") if "prev_last_seq" in body else None
        keepalive = _number(body, "keepalive_s", MAX_INTERVAL_S) if "keepalive_s" in body else None
        if keepalive is not None and keepalive <= 0:
            raise WireError(f"keepalive_s must be above 0, got {keepalive!r}")
        inventory = _readings(body["inventory"], "inventory", MAX_INVENTORY, _inventory_text,
                              KEY_PATTERN) if "inventory" in body else {}
        return StateMessage(center, agent, state, session, ts, prev_session, prev_last_seq,
                            keepalive, inventory)
    seq = _int(body, "seq")
    if kind == "heartbeat":
        return Heartbeat(
            center, agent, session, seq, ts,
            interval_s=_positive(body, "interval_s"),
            host=_readings(body.get("host", {}), "host", MAX_HOST_READINGS, _never_text),
            backlog=_int(body, "backlog") if "backlog" in body else 0,
            kept_from=_pair(body.get("kept_from")) if "kept_from" in body else None,
            unchanged=_unchanged(body.get("unchanged", {}), ts),
        )
    device = _id(body, "device")
    if device != parts.device:
        raise WireError(f"payload device {device!r} does not match topic device {parts.device!r}")
    status = body.get("status")
    if status not in STATUSES:
        raise WireError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")
    error = body.get("error")
    if error is not None:
        error = _text(error, "error", MAX_ERROR)
    device_type = _str(body, "type")
    if not TYPE_PATTERN.match(device_type):
        raise WireError(f"type must be a device type like 'printer', got {_short(device_type)}")
    name = _str(body, "name")
    if len(name) > MAX_DEVICE_NAME or _NAME_BAD.search(name):
        raise WireError(f"name must be at most {MAX_DEVICE_NAME} characters without control "
                        f"characters, got {_short(name)}")
    return Result(
        center=center, agent=agent, device=device, session=session, seq=seq, ts=ts,
        # interned: the same few types and one name per device, held for every device
        device_type=sys.intern(device_type),
        device_name=sys.intern(name),
        status=status,
        metrics=_readings(body.get("metrics", {}), "metrics", MAX_READINGS, may_be_text),
        faults=_faults(body.get("faults", ())),
        error=error,
    )


def _id(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    canonical = _checked_id(value)
    if canonical is None:
        raise WireError(f"{key} must be an id like 'ba-dinh', got {value!r}")
    return canonical


def _str(body: Mapping[str, object], key: str) -> str:
    value = body.get(key)
    if type(value) is not str:
        raise WireError(f"{key} must be text, got {type(value).__name__}")
    return value


def _int(body: Mapping[str, object], key: str) -> int:
    value = body.get(key)
    if type(value) is not int or not 0 <= value <= MAX_WHOLE:
        raise WireError(f"{key} must be a whole number from 0 to {MAX_WHOLE}, got {_short(value)}")
    return value


def _number(body: Mapping[str, object], key: str, limit: float) -> float:
    value = body.get(key)
    # orjson never yields NaN or infinity, so an int or float here is a finite number
    if type(value) is not float and type(value) is not int:
        raise WireError(f"{key} must be a number, got {_short(value)}")
    if not 0 <= value <= limit:
        raise WireError(f"{key} must be from 0 to {limit:g}, got {_short(value)}")
    return float(value)


def _positive(body: Mapping[str, object], key: str) -> float:
    value = _number(body, key, MAX_INTERVAL_S)
    if value <= 0:
        raise WireError(f"{key} must be above 0, got {value!r}")
    return value


def _pair(value: object) -> tuple[int, int]:
    if type(value) is not list or len(value) != 2:
        raise WireError("kept_from must be [session, seq]")
    return _int({"session": value[0]}, "session"), _int({"seq": value[1]}, "seq")


def _short(value: object) -> str:
    """A value for an error message: bounded, whatever a sender put there."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _readings(raw: object, what: str, limit: int, text_ok: Callable[[str], bool],
              names: re.Pattern[str] | None = None) -> dict[str, MetricValue]:
    """Typed readings: each a finite number (orjson yields no NaN or infinity; a bool is not a
    number), or text where `text_ok` says the reading may be text; at most `limit` of them,
    each name a bounded one without control or markup characters (or matching `names`)."""
    if type(raw) is not dict:
        raise WireError(f"{what} must be an object")
    if len(raw) > limit:
        raise WireError(f"{what} holds {len(raw)} readings, at most {limit}")
    # every message of the fleet comes here: names and texts seen before are not checked again
    known = _NAMES_SEEN.setdefault(text_ok, {})
    for k, v in raw.items():
        may_text = known.get(k)
        if may_text is None:
            may_text = _learn_name(k, what, known, text_ok, names)
        t = type(v)
        if t is float:
            continue
        if t is int:
            if not -MAX_METRIC_INT <= v <= MAX_METRIC_INT:
                raise WireError(f"{what}.{k} is beyond a 64-bit whole number")
        elif t is str:
            if not may_text:
                raise WireError(f"{what}.{k} must be a number, got text {_short(v)}")
            if v not in _TEXTS_SEEN:
                if len(v) > MAX_TEXT or _TEXT_BAD.search(v):
                    raise WireError(f"{what}.{k} must be text of at most {MAX_TEXT} characters "
                                    "without control characters")
                if len(_TEXTS_SEEN) >= _KNOWN_IDS_MAX:
                    _TEXTS_SEEN.clear()
                _TEXTS_SEEN[v] = None
        else:
            raise WireError(f"{what}.{k} must be a number or text, got {t.__name__}")
    # the dict is fresh from the decoder and owned by nobody else: no copy needed
    return raw


# per kind of readings (the text_ok of metrics, host, inventory, fault details): each name
# checked once, mapped to whether it may carry text; and the texts already found clean
_NAMES_SEEN: dict[Callable[[str], bool], dict[str, bool]] = {}
_TEXTS_SEEN: dict[str, None] = {}


def _learn_name(name: str, what: str, known: dict[str, bool], text_ok: Callable[[str], bool],
                names: re.Pattern[str] | None) -> bool:
    if type(name) is not str or not (
            names.match(name) if names is not None else
            0 < len(name) <= MAX_READING_NAME and not _READING_NAME_BAD.search(name)):
        raise WireError(f"{what}: bad reading name {_short(name)}")
    if len(known) >= _KNOWN_IDS_MAX:
        known.clear()  # bounded: made-up names cost a recheck, not memory
    known[name] = may = text_ok(name)
    return may


def _text(value: object, what: str, limit: int) -> str:
    if type(value) is not str or len(value) > limit or _TEXT_BAD.search(value):
        raise WireError(f"{what} must be text of at most {limit} characters without control "
                        f"characters, got {_short(value)}")
    return value


def _encode_unchanged(at: float, unchanged: Mapping[str, tuple[float, Status]]
                      ) -> dict[str, dict[str, int]]:
    """{status: {device: whole seconds before the heartbeat}}: about 20 bytes a device, where
    [epoch time, status] took 40 (one second is finer than any rule's timer)."""
    out: dict[str, dict[str, int]] = {}
    for device, (ts, status) in unchanged.items():
        out.setdefault(status, {})[device] = max(0, round(at - ts))
    return out


def _unchanged(raw: object, at: float) -> dict[str, tuple[float, Status]]:
    if type(raw) is not dict:
        raise WireError("unchanged must map a status to {device: seconds before ts}")
    out: dict[str, tuple[float, Status]] = {}
    for status, devices in raw.items():
        if status not in STATUSES:
            raise WireError(f"unchanged: status must be one of {', '.join(STATUSES)}, "
                            f"got {_short(status)}")
        if type(devices) is not dict or len(out) + len(devices) > MAX_UNCHANGED:
            raise WireError(f"unchanged.{status} must map at most {MAX_UNCHANGED} devices "
                            "to seconds")
        for device, age in devices.items():
            if not valid_id(device):
                raise WireError(f"unchanged.{status}: bad device id {str(device)[:40]!r}")
            if (type(age) is not int and type(age) is not float) or not 0 <= age <= at:
                raise WireError(f"unchanged.{status}.{device}: seconds before ts must be from "
                                f"0 to ts, got {_short(age)}")
            out[device] = (at - age, status)
    return out


def _faults(raw: object) -> tuple[FaultReport, ...]:
    if raw == ():
        return ()  # the key is absent
    if type(raw) is not list:
        raise WireError("faults must be a list")
    if not raw:
        return ()
    if len(raw) > MAX_FAULTS:
        raise WireError(f"faults holds {len(raw)} faults, at most {MAX_FAULTS}")
    out = []
    for i, item in enumerate(raw):
        if type(item) is not dict:
            raise WireError(f"faults[{i}] must be an object")
        code = item.get("code")
        severity = item.get("severity")
        if type(code) is not str or not CODE_PATTERN.match(code):
            raise WireError(f"faults[{i}].code must be a fault code like 'printer.jammed', "
                            f"got {_short(code)}")
        if severity not in SEVERITIES:
            raise WireError(f"faults[{i}].severity must be one of {', '.join(SEVERITIES)}")
        out.append(FaultReport(code, severity, _readings(
            item.get("params", {}), f"faults[{i}].params", MAX_FAULT_PARAMS, _always_text,
            KEY_PATTERN)))
    return tuple(out)
