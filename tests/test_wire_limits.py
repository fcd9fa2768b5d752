"""Typed readings and per-message limits of the wire contract: a string where a number belongs, or a
message past a limit, is refused with the reason; what the agent's own decoders make always passes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hcc_common import wire
from hcc_common.readings import may_be_text

TOPIC = "hcc/v1/ba-dinh/pi-1/result/ups-1"
XSS = "<img src=x onerror=alert(document.domain)>"


def result(**changes: object) -> bytes:
    body = json.loads(wire.encode(wire.Result(
        center="ba-dinh", agent="pi-1", device="ups-1", session=1, seq=1, ts=1_700_000_000.0,
        device_type="ups", device_name="UPS quầy 1", status="ok",
        metrics={"runtime_min": 12.5, "battery_status": "normal"})).payload)
    body.update(changes)
    return json.dumps(body, separators=(",", ":")).encode()


def refused(topic: str, payload: bytes) -> str:
    with pytest.raises(wire.WireError) as exc:
        wire.decode(topic, payload)
    return str(exc.value)


# -- typed readings (issue 23.4: markup in `runtime_min` and `wifi_clients` reached a page) -----
@pytest.mark.parametrize("name", ["runtime_min", "wifi_clients", "battery_charge_pct",
                                  "supply.1.pct", "outlet.3.power_w", "uptime_s", "page_count",
                                  "plugin.load1", "if.eth0.errors_per_s", "x"])
def test_text_where_a_number_belongs_is_refused(name: str) -> None:
    reason = refused(TOPIC, result(metrics={name: XSS}))
    assert f"metrics.{name} must be a number, got text" in reason


@pytest.mark.parametrize("value", [True, False, None, [1], {"a": 1}])
def test_a_reading_is_a_number_or_text_never_a_bool_or_a_structure(value: object) -> None:
    assert "must be a number or text" in refused(TOPIC, result(metrics={"runtime_min": value}))


@pytest.mark.parametrize("payload", [b'{"runtime_min": NaN}', b'{"runtime_min": Infinity}',
                                     b'{"runtime_min": 1e999}'])
def test_numbers_are_finite(payload: bytes) -> None:
    body = result().replace(b'"metrics":{"runtime_min":12.5,"battery_status":"normal"}',
                            b'"metrics":' + payload)
    assert b"NaN" in body or b"Infinity" in body or b"1e999" in body
    assert "not JSON" in refused(TOPIC, body)


@pytest.mark.parametrize("name", ["sys_descr", "model", "printer_status", "supply.2.name",
                                  "tray.1.state", "if.GigabitEthernet0/1.oper",
                                  "battery_status", "wifi_clients_source", "plugin_status"])
def test_the_words_a_device_says_may_be_text(name: str) -> None:
    msg = wire.decode(TOPIC, result(metrics={name: "HP LaserJet M404 & <tray>"}))
    assert isinstance(msg, wire.Result) and msg.metrics[name] == "HP LaserJet M404 & <tray>"


def test_host_readings_are_numbers() -> None:
    hb = json.loads(wire.encode(wire.Heartbeat("ba-dinh", "pi-1", 1, 2, 1_700_000_000.0, 30.0,
                                               {"cpu_percent": 3.0})).payload)
    hb["host"] = {"cpu_percent": XSS}
    reason = refused("hcc/v1/ba-dinh/pi-1/heartbeat", json.dumps(hb).encode())
    assert "host.cpu_percent must be a number, got text" in reason


def test_inventory_counts_are_numbers_and_its_texts_are_bounded() -> None:
    def birth(inventory: dict[str, object]) -> bytes:
        body = json.loads(wire.encode(wire.StateMessage(
            "ba-dinh", "pi-1", "online", 1, 1_700_000_000.0, inventory={"devices": 3})).payload)
        body["inventory"] = inventory
        return json.dumps(body).encode()

    topic = "hcc/v1/ba-dinh/pi-1/state"
    assert "inventory.devices must be a number" in refused(topic, birth({"devices": XSS}))
    assert f"at most {wire.MAX_TEXT}" in refused(topic, birth({"model": "x" * 10_000}))
    assert "bad reading name" in refused(topic, birth({"<b>": "x"}))
    assert f"at most {wire.MAX_INVENTORY}" in refused(
        topic, birth({f"k{i}": i for i in range(wire.MAX_INVENTORY + 1)}))
    ok = wire.decode(topic, birth({"model": "Raspberry Pi 4 Model B Rev 1.4", "devices": 3}))
    assert isinstance(ok, wire.StateMessage) and ok.inventory["devices"] == 3


# -- per-message limits (issue 23.8: 2,500 supplies a result grew everyone's history) ----------
def test_too_many_readings_is_refused_with_the_reason() -> None:
    metrics = {f"supply.{i}.pct": 50.0 for i in range(2500)}
    reason = refused(TOPIC, result(metrics=metrics))
    assert f"metrics holds 2500 readings, at most {wire.MAX_READINGS}" in reason
    at_limit = {f"supply.{i}.pct": 50.0 for i in range(wire.MAX_READINGS)}
    assert len(wire.decode(TOPIC, result(metrics=at_limit)).metrics) == wire.MAX_READINGS  # type: ignore[union-attr]


@pytest.mark.parametrize(("changes", "reason"), [
    ({"name": "x" * (wire.MAX_DEVICE_NAME + 1)}, "name must be at most"),
    ({"name": "Máy in\x00quầy 2"}, "without control characters"),
    ({"name": "Máy in\nquầy 2"}, "without control characters"),
    ({"type": "<script>"}, "type must be a device type"),
    ({"type": "p" * 40}, "type must be a device type"),
    ({"error": "e" * (wire.MAX_ERROR + 1)}, "error must be text of at most"),
    ({"error": "bad\x00"}, "error must be text"),
    ({"metrics": {"sys_descr": "d" * (wire.MAX_TEXT + 1)}}, "metrics.sys_descr must be text"),
    ({"metrics": {"sys_descr": "HP\x1b[2J"}}, "without control characters"),
    ({"metrics": {"r" * (wire.MAX_READING_NAME + 1): 1}}, "bad reading name"),
    ({"metrics": {"if.<img src=x>.oper": "up"}}, "bad reading name"),
    ({"metrics": {"": 1}}, "bad reading name"),
    ({"faults": [{"code": "printer.jammed", "severity": "critical"}] * (wire.MAX_FAULTS + 1)},
     f"at most {wire.MAX_FAULTS}"),
    ({"faults": [{"code": "<b>x</b>", "severity": "critical"}]}, "must be a fault code"),
    ({"faults": [{"code": "printer.jammed", "severity": "critical",
                  "params": {f"p{i}": i for i in range(wire.MAX_FAULT_PARAMS + 1)}}]},
     f"at most {wire.MAX_FAULT_PARAMS}"),
    ({"faults": [{"code": "printer.toner_low", "severity": "warning",
                  "params": {"supply": "s" * (wire.MAX_TEXT + 1)}}]}, "must be text of at most"),
    ({"faults": [{"code": "printer.toner_low", "severity": "warning",
                  "params": {"Supply Name": "Black"}}]}, "bad reading name"),
])
def test_each_field_has_its_limit(changes: dict[str, object], reason: str) -> None:
    assert reason in refused(TOPIC, result(**changes))


def test_a_heartbeat_confirms_a_bounded_number_of_devices() -> None:
    hb = json.loads(wire.encode(wire.Heartbeat("ba-dinh", "pi-1", 1, 2, 1_700_000_000.0,
                                               30.0)).payload)
    hb["unchanged"] = {"ok": {f"d{i}": 1 for i in range(wire.MAX_UNCHANGED + 1)}}
    assert f"at most {wire.MAX_UNCHANGED}" in refused("hcc/v1/ba-dinh/pi-1/heartbeat",
                                                      json.dumps(hb).encode())
    hb["host"] = {f"h{i}": 1 for i in range(wire.MAX_HOST_READINGS + 1)}
    hb.pop("unchanged")
    assert f"at most {wire.MAX_HOST_READINGS}" in refused("hcc/v1/ba-dinh/pi-1/heartbeat",
                                                          json.dumps(hb).encode())


# -- the agent's side: what it sends is always on the contract ---------------------------------
def test_the_agent_encoder_conforms_what_a_device_said() -> None:
    """A device's own strings (an interface named with markup, a 2 KB description) never make
    the agent's report a dead letter: the encoder cuts and cleans them."""
    r = wire.Result(center="ba-dinh", agent="pi-1", device="ap-1", session=1, seq=1,
                    ts=1_700_000_000.0, device_type="wifi_ap", device_name="AP\x07 sảnh",
                    status="ok", metrics={"if.<wlan0>.oper": "up", "sys_descr": "d" * 5000 + "\x00",
                           "wifi_clients": 12, "outlets_on": True, "runtime_min": "12"},
                    error="timeout\x00" + "e" * 5000)
    back = wire.decode(*_topic_payload(r))
    assert isinstance(back, wire.Result)
    assert back.metrics == {"if._wlan0_.oper": "up", "sys_descr": "d" * wire.MAX_TEXT,
                            "wifi_clients": 12}
    assert back.device_name == "AP  sảnh" and back.error is not None
    assert len(back.error) == wire.MAX_ERROR


def _topic_payload(msg: wire.Message) -> tuple[str, bytes]:
    enc = wire.encode(msg)
    return enc.topic, enc.payload


CAPTURES = [Path(__file__).parent / "fixtures" / "snmprec",
            Path(__file__).resolve().parents[2] / "shared" / "testbed" / "snmprec",
            Path(__file__).resolve().parents[2] / "shared" / "testbed" / "librenms"]


@pytest.mark.parametrize("folder", [c for c in CAPTURES if c.is_dir()], ids=lambda p: p.name)
def test_every_decoder_output_goes_through_unchanged(folder: Path) -> None:
    """Each reading a decoder makes on a real capture is of its kind (text only where the
    schema allows it) and within the limits: the encoder leaves nothing out and the decoder
    refuses nothing. A decoder that starts sending a new text reading fails here until
    hcc_common/readings.py lists it."""
    from bench.conformance import load_corpus, run_offline

    rows = run_offline(folder, load_corpus(folder))
    assert rows
    for name, row in rows.items():
        faults = tuple(wire.FaultReport(f["code"], f["severity"], f["params"])
                       for f in row["faults"])
        sent = wire.Result(center="ba-dinh", agent="pi-1", device="dev-1", session=1, seq=1,
                           ts=1_700_000_000.0, device_type="printer", device_name=name, status="ok",
                           metrics=row["metrics"], faults=faults)
        back = wire.decode(*_topic_payload(sent))
        assert back == sent, name
        text = sorted(k for k, v in row["metrics"].items() if isinstance(v, str))
        assert all(may_be_text(k) for k in text), (name, text)

