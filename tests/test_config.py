"""devices.yaml parsing: valid files load into typed objects; every mistake names file:line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import config
from hcc_common import wire
from hcc_common.check_kinds import snmp
from hcc_common.devices_config import Config
from hcc_common.yamlconf import ConfigError

ROOT = Path(__file__).resolve().parent.parent

VALID = """\
center: {id: ba-dinh, name: "Trung tâm PVHCC phường Ba Đình", timezone: Asia/Ho_Chi_Minh}
agent: {id: pi-1}
mqtt: {url: "mqtt://127.0.0.1:1883", keepalive: 10}
defaults: {interval: 30s, timeout: 2s}
devices:
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 10.0.0.5
    snmp: {port: 161, version: 2c, community: public}
    profile: auto
"""


def load(text: str) -> Config:
    return config.load("devices.yaml", text=text, environ={"HOME": "/home/tech"})


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load(text)
    return str(exc.value)


def test_issue_example_loads_into_typed_objects() -> None:
    cfg = load(VALID)
    assert cfg.center.id == "ba-dinh"
    assert cfg.center.name == "Trung tâm PVHCC phường Ba Đình"
    assert cfg.agent.id == "pi-1"
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.tls, cfg.mqtt.keepalive) == (
        "127.0.0.1", 1883, False, 10)
    (dev,) = cfg.devices
    assert (dev.id, dev.type, dev.host, dev.interval, dev.timeout) == (
        "printer-1", "printer", "10.0.0.5", 30.0, 2.0)
    s = snmp.SCHEMA.of(dev.checks)
    assert s is not None and s.community == "public" and s.version == "2c"
    assert dev.check_kinds == ("snmp",)
    # frozen: parsed once, never mutated afterwards
    with pytest.raises(AttributeError):
        dev.host = "x"  # type: ignore[misc]


def test_shipped_example_is_valid() -> None:
    cfg = config.load(ROOT / "devices.yaml", environ={"HOME": "/home/tech"})
    assert len(cfg.devices) >= 3


def test_unknown_key_has_line_and_suggestion() -> None:
    msg = error_of(VALID.replace("community: public", "comunity: public"))
    assert msg == ("devices.yaml:10: devices[0].snmp.comunity: unknown key "
                   "(did you mean 'community'?)")


def test_wrong_type() -> None:
    msg = error_of(VALID.replace("port: 161", "port: high"))
    assert msg.startswith("devices.yaml:10: devices[0].snmp.port: expected a whole number")


def test_duplicate_device_id_names_both_lines() -> None:
    text = VALID + """\
  - id: printer-1
    type: kiosk
    host: 10.0.0.6
    tcp: {port: 443}
"""
    assert error_of(text) == ("devices.yaml:12: devices[1].id: duplicate device id 'printer-1' "
                              "(first used on line 6)")


def test_missing_host() -> None:
    msg = error_of(VALID.replace("    host: 10.0.0.5\n", ""))
    assert msg.startswith("devices.yaml:6: devices[0].host: ")
    assert "needs a host" in msg


def test_bad_duration() -> None:
    msg = error_of(VALID.replace("interval: 30s", "interval: 30 parsecs"))
    assert msg.startswith("devices.yaml:4: defaults.interval: bad duration '30 parsecs'")


def test_bad_device_type_suggests() -> None:
    msg = error_of(VALID.replace("type: printer", "type: printr"))
    assert "devices.yaml:8: devices[0].type: 'printr' is not one of" in msg
    assert "did you mean 'printer'?" in msg


def test_yaml_syntax_error_is_located() -> None:
    msg = error_of(VALID.replace("name: \"Máy in quầy 1\"", "name: [unclosed"))
    assert msg.startswith("devices.yaml:")
    assert "YAML syntax error" in msg


def test_missing_required_section() -> None:
    assert error_of(VALID.replace('mqtt: {url: "mqtt://127.0.0.1:1883", keepalive: 10}\n', "")) \
        == "devices.yaml:1: mqtt: required key is missing"


def test_bad_broker_url() -> None:
    msg = error_of(VALID.replace("mqtt://127.0.0.1:1883", "http://127.0.0.1"))
    assert msg.startswith("devices.yaml:3: mqtt.url: broker URL must start with mqtt://")


def test_invalid_id_characters() -> None:
    msg = error_of(VALID.replace("id: printer-1", "id: Printer/1"))
    assert msg.startswith("devices.yaml:6: devices[0].id: 'Printer/1' is not a valid id")


def test_timeout_must_be_below_interval() -> None:
    msg = error_of(VALID.replace("timeout: 2s", "timeout: 40s"))
    assert "timeout (40s) must be shorter than the interval (30s)" in msg


def test_agent_id_defaults_to_hostname_and_state_dir_to_systemd() -> None:
    text = VALID.replace("agent: {id: pi-1}\n", "")
    cfg = config.load("devices.yaml", text=text, environ={"STATE_DIRECTORY": "/var/lib/hcc-agent"})
    assert wire.valid_id(cfg.agent.id)
    assert str(cfg.agent.state_dir) == "/var/lib/hcc-agent"
    cfg2 = config.load("devices.yaml", text=text, environ={"HOME": "/home/tech"})
    assert str(cfg2.agent.state_dir) == f"/home/tech/.local/state/hcc-agent/ba-dinh-{cfg2.agent.id}"


def test_community_is_not_in_repr() -> None:
    cfg = load(VALID.replace("community: public", "community: s3cret-comm"))
    assert "s3cret-comm" not in repr(cfg)


def test_missing_file() -> None:
    with pytest.raises(ConfigError) as exc:
        config.load("/nonexistent/devices.yaml")
    assert str(exc.value) == "/nonexistent/devices.yaml: file not found"  # no line 0


def test_controller_yaml_centers_rules_and_errors(tmp_path: Path) -> None:
    from controller import config as cc

    good = tmp_path / "controller.yaml"
    good.write_text("""\
mqtt: {url: "mqtts://broker.city:8883"}
db: postgresql://hcc@db/hcc
centers:
  - {id: ba-dinh, name: "Ba Đình", opening_hours: {mon-fri: "07:30-17:00"}, holidays: [2026-09-02]}
alert_rules: [{name: quick, fault: "printer.*", clear_for: 2m}]
rules: {unreachable_after: 5, flap_opens: 4}
http: {listen: "0.0.0.0:8080", tokens: {ops: "a-very-long-token-value"}}
""")
    cfg = cc.load(good, env={})
    assert cfg.db == "postgresql://hcc@db/hcc" and cfg.broker.tls
    assert cfg.rules.unreachable_after == 5 and cfg.rules.flap_opens == 4
    assert cfg.alert_rules[0].name == "quick" and cfg.alert_rules[-1].fault == "*"
    (center,) = cfg.centers
    assert center.hours.weekly[0] and not center.hours.weekly.get(5)
    assert cfg.http is not None and cfg.http.tokens == {"a-very-long-token-value": "ops"}
    assert "a-very-long-token-value" not in repr(cfg)
    bad = tmp_path / "bad.yaml"
    bad.write_text("centers:\n  - {id: x, opening_hours: {mon-fri: \"17:00-07:00\"}}\n")
    with pytest.raises(ConfigError) as exc:
        cc.load(bad, env={})
    assert str(exc.value).startswith(f"{bad}:2: centers[0].opening_hours.mon-fri:")


def test_heartbeat_defaults_to_one_per_keepalive() -> None:
    # with heartbeats a keepalive apart, the controller may call a box gone after 1.5 x keepalive
    every = VALID.replace("agent: {id: pi-1}", "agent: {id: pi-1, report: all}")
    assert load(every).agent.heartbeat == 10.0
    slower = VALID.replace("agent: {id: pi-1}", "agent: {id: pi-1, heartbeat: 30s}")
    assert load(slower).agent.heartbeat == 30.0


def test_report_by_exception_is_the_default() -> None:
    """Issue 26: a devices.yaml without `report:` reports by exception (the SD card's life);
    its heartbeat confirms a cycle; `report: all` stays."""
    agent = load(VALID).agent
    assert agent.report == "changes" and agent.heartbeat == 30.0
    assert load(VALID.replace("agent: {id: pi-1}", "agent: {id: pi-1, report: all}")
                ).agent.report == "all"
    fast = VALID.replace("agent: {id: pi-1}", "agent: {id: pi-1, heartbeat: 2s}")
    assert load(fast).agent.heartbeat == 2.0  # said, so kept
