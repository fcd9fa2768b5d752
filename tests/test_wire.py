"""The wire contract: round trips, topic layout, and rejection of anything off-contract."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hcc_common import wire

RESULT = wire.Result(
    center="ba-dinh", agent="pi-1", device="printer-1", session=3, seq=42, ts=1_700_000_000.5,
    device_type="printer", device_name="Máy in quầy 1", status="critical",
    metrics={"sys_descr": "HP", "uptime_s": 0, "toner_pct": 0.0},
    faults=(wire.FaultReport("printer.jammed", "critical", {}),
            wire.FaultReport("printer.toner_low", "warning", {"supply": "Black", "level": 3})),
)


def test_result_round_trip_keeps_zero_readings() -> None:
    enc = wire.encode(RESULT)
    assert enc.topic == "hcc/v1/ba-dinh/pi-1/result/printer-1"
    assert enc.qos == 1 and not enc.retain
    back = wire.decode(enc.topic, enc.payload)
    assert back == RESULT
    assert isinstance(back, wire.Result) and back.metrics["uptime_s"] == 0


def test_payload_carries_version_identity_seq_and_time() -> None:
    body = json.loads(wire.encode(RESULT).payload)
    assert body["v"] == wire.SCHEMA_VERSION
    assert (body["center"], body["agent"], body["device"]) == ("ba-dinh", "pi-1", "printer-1")
    assert (body["session"], body["seq"], body["ts"]) == (3, 42, 1_700_000_000.5)


def test_state_is_retained_and_heartbeat_round_trips() -> None:
    st_msg = wire.StateMessage("ba-dinh", "pi-1", "offline", 3, 1.0)
    enc = wire.encode(st_msg)
    assert enc.topic == "hcc/v1/ba-dinh/pi-1/state" and enc.retain
    assert wire.decode(enc.topic, enc.payload) == st_msg
    hb = wire.Heartbeat("ba-dinh", "pi-1", 3, 7, 2.0, 30.0, {"cpu_percent": 0.0}, backlog=0)
    enc = wire.encode(hb)
    assert wire.decode(enc.topic, enc.payload) == hb


def _mutated(**changes: object) -> bytes:
    body = json.loads(wire.encode(RESULT).payload)
    body.update(changes)
    return json.dumps(body).encode()


TOPIC = "hcc/v1/ba-dinh/pi-1/result/printer-1"


@pytest.mark.parametrize(("payload", "reason"), [
    (b"not json", "not JSON"),
    (b"[1,2]", "not a JSON object"),
    (_mutated(v=99), "unsupported schema version 99"),
    (_mutated(center="other"), "payload names other/pi-1 but was published under ba-dinh/pi-1"),
    (_mutated(seq=-1), "seq must be a whole number"),
    (_mutated(seq=True), "seq must be a whole number"),
    (_mutated(status="fine"), "status must be one of"),
    (_mutated(metrics={"x": [1]}), "metrics.x must be a number or text"),
    (_mutated(faults=[{"code": "x.y", "severity": "bad"}]), "faults[0].severity"),
    (_mutated(device="printer-2"), "does not match topic device"),
    (_mutated(ts=float("inf")), "not JSON"),  # json.dumps writes Infinity; strict JSON has none
    (_mutated(ts="soon"), "ts must be a number"),
    (b"x" * (wire.MAX_PAYLOAD_BYTES + 1), "exceeds"),
])
def test_malformed_payloads_are_rejected_with_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(wire.WireError) as exc:
        wire.decode(TOPIC, payload)
    assert reason in str(exc.value)


def test_alerts_topic_is_not_an_agent_topic() -> None:
    assert wire.parse_topic(wire.alerts_topic("ba-dinh")) is None
    assert wire.parse_topic("hcc/v1/ba-dinh/pi-1/state") == wire.TopicParts(
        "ba-dinh", "pi-1", "state", None)
    with pytest.raises(wire.WireError):
        wire.parse_topic("hcc/v1/ba-dinh/pi-1/weird/a/b")


def test_nan_metric_cannot_be_encoded() -> None:
    bad = wire.Result(center="c", agent="a", device="d", session=1, seq=1, ts=1.0,
                      device_type="other", device_name="d", status="ok",
                      metrics={"x": float("nan")})
    with pytest.raises(ValueError):
        wire.encode(bad)


@given(st.binary(max_size=512))
def test_decoder_only_ever_raises_wire_error_on_bytes(data: bytes) -> None:
    with contextlib.suppress(wire.WireError):
        wire.decode(TOPIC, data)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6),
                                                                      children, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["v", "kind", "center", "agent", "device", "seq", "session",
                                        "ts", "type", "name", "status", "metrics", "faults",
                                        "error", "host", "interval_s", "state", "backlog"]),
                       json_values))
def test_decoder_only_ever_raises_wire_error_on_json(body: dict[str, object]) -> None:
    for topic in (TOPIC, "hcc/v1/ba-dinh/pi-1/state", "hcc/v1/ba-dinh/pi-1/heartbeat"):
        with contextlib.suppress(wire.WireError):
            wire.decode(topic, json.dumps(body).encode())


def test_birth_carries_the_keepalive() -> None:
    birth = wire.StateMessage("c1", "a1", "online", 3, 10.0, keepalive_s=10.0)
    enc = wire.encode(birth)
    assert wire.decode(enc.topic, enc.payload) == birth
    old = wire.encode(wire.StateMessage("c1", "a1", "online", 3, 10.0))
    assert wire.decode(old.topic, old.payload).keepalive_s is None  # type: ignore[union-attr]
    bad = enc.payload.replace(b'"keepalive_s":10.0', b'"keepalive_s":0')
    with pytest.raises(wire.WireError, match="keepalive_s"):
        wire.decode(enc.topic, bad)


@pytest.mark.parametrize("bad", [["ba-dinh"], {"id": "ba-dinh"}, 7, None, "Ba Dinh"])
def test_ids_of_any_json_type_are_refused_cleanly(bad: object) -> None:
    body = json.loads(wire.encode(RESULT).payload)
    body["center"] = bad
    with pytest.raises(wire.WireError, match="center must be an id"):
        wire.decode(TOPIC, json.dumps(body).encode())


@pytest.mark.parametrize("bad", [0, False, "", {}, None])
def test_faults_that_are_not_a_list_are_refused_even_when_empty_looking(bad: object) -> None:
    body = json.loads(wire.encode(RESULT).payload)
    body["faults"] = bad
    with pytest.raises(wire.WireError, match="faults must be a list"):
        wire.decode(TOPIC, json.dumps(body).encode())


# -- bounds (issue 11.1 and 11.7) ----------------------------------------------------------------
ISSUE_11_HEARTBEAT = (b'{"v":1,"kind":"heartbeat","center":"ba-dinh","agent":"pi-9",'
                      b'"session":9223372036854775808,"seq":1,"ts":1764230430.0,"interval_s":30}')


def test_a_session_past_64_bits_is_refused_not_stored() -> None:
    """The exact message that killed ingest (OverflowError in SQLite) is now off-contract."""
    with pytest.raises(wire.WireError, match="session must be a whole number from 0 to"):
        wire.decode("hcc/v1/ba-dinh/pi-9/heartbeat", ISSUE_11_HEARTBEAT)


@pytest.mark.parametrize(("key", "value", "reason"), [
    ("seq", 2**53, "seq must be a whole number"),
    ("ts", 253402300800.0, "ts must be from 0 to"),      # year 10000
    ("ts", -1.0, "ts must be from 0 to"),
    ("interval_s", 0, "interval_s must be above 0"),
    ("interval_s", 1e12, "interval_s must be from 0 to"),
    ("backlog", 2**60, "backlog must be a whole number"),
])
def test_numbers_beyond_the_contract_are_refused(key: str, value: object, reason: str) -> None:
    body = json.loads(ISSUE_11_HEARTBEAT)
    body["session"] = 9
    body[key] = value
    with pytest.raises(wire.WireError, match=reason):
        wire.decode("hcc/v1/ba-dinh/pi-9/heartbeat", json.dumps(body).encode())


def test_metric_ints_past_64_bits_are_refused_and_never_sent() -> None:
    r = wire.Result(center="ba-dinh", agent="pi-1", device="sw", session=1, seq=1, ts=1.0,
                    device_type="switch", device_name="SW", status="ok",
                    metrics={"octets": 2**64 - 1, "pages": 12})
    enc = wire.encode(r)  # the encoder sends a 64-bit counter past the bound as a float
    back = wire.decode(enc.topic, enc.payload)
    assert isinstance(back, wire.Result)
    assert back.metrics["octets"] == float(2**64 - 1) and back.metrics["pages"] == 12
    body = json.loads(enc.payload)
    body["metrics"]["octets"] = 2**64 - 1
    with pytest.raises(wire.WireError, match="beyond a 64-bit"):
        wire.decode(enc.topic, json.dumps(body).encode())


def test_ack_round_trip_and_topic_is_not_an_agent_topic() -> None:
    ack = wire.Ack("ba-dinh", "pi-1", {3: wire.SessionAck(40, ((5, 7), (9, 9)))})
    enc = wire.encode_ack(ack)
    assert enc.topic == "hcc/v1/ack/ba-dinh/pi-1" and enc.retain
    assert wire.decode_ack(enc.topic, enc.payload) == ack
    assert wire.parse_topic(enc.topic) is None  # the controller ignores its own acks
    with pytest.raises(wire.WireError):
        wire.decode_ack("hcc/v1/ack/ba-dinh/pi-2", enc.payload)  # another box's name
    assert not wire.valid_id("ack")


def test_heartbeat_carries_the_outbox_floor() -> None:
    hb = wire.Heartbeat("ba-dinh", "pi-1", 2, 8, 1.0, 10.0, kept_from=(1, 77))
    back = wire.decode(*_enc(hb))
    assert isinstance(back, wire.Heartbeat) and back.kept_from == (1, 77)


def _enc(msg: wire.Message) -> tuple[str, bytes]:
    e = wire.encode(msg)
    return e.topic, e.payload


def test_birth_carries_the_inventory() -> None:
    birth = wire.StateMessage("ba-dinh", "pi-1", "online", 3, 1.0, keepalive_s=10.0,
                              inventory={"software": "0.2.0", "devices": 9, "model": "Pi 4"})
    back = wire.decode(*_enc(birth))
    assert isinstance(back, wire.StateMessage) and back.inventory == birth.inventory
