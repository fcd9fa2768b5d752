"""Issue 26: `hcc-agent validate` catches what `run` would crash on, all of it in one pass, each
error with file:line; a config error ends systemd's restarts and is named in the journal."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent import config as agent_config
from conftest import run_cli
from hcc_common.yamlconf import ConfigError, ConfigErrors

ROOT = Path(__file__).resolve().parent.parent
HEAD = 'center: {id: phuong-1}\nagent: {id: pi-1, state_dir: "/tmp/x"}\n'


def errors_of(text: str, tmp_path: Path) -> list[ConfigError]:
    path = tmp_path / "devices.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        agent_config.load(path)
    exc = caught.value
    return list(exc.errors) if isinstance(exc, ConfigErrors) else [exc]


def test_a_missing_password_file_is_an_error_with_its_line(tmp_path: Path) -> None:
    errs = errors_of(HEAD + f'mqtt: {{url: "mqtts://192.0.2.1:8883", username: u,\n'
                            f'       password_file: "{tmp_path}/nope.password"}}\ndevices: []\n',
                     tmp_path)
    assert [(e.line, e.key) for e in errs] == [(4, "mqtt.password_file")]
    assert "nope.password" in errs[0].reason


def test_a_missing_ca_file_is_an_error(tmp_path: Path) -> None:
    errs = errors_of(HEAD + f'mqtt: {{url: "mqtts://192.0.2.1:8883", ca_file: "{tmp_path}/ca"}}\n'
                            "devices: []\n", tmp_path)
    assert [e.key for e in errs] == ["mqtt.ca_file"]


def test_every_error_in_one_pass(tmp_path: Path) -> None:
    errs = errors_of(HEAD + """mqtt: {url: "mqtt://192.0.2.1:1883"}
devices:
  - id: printer-1
    type: printer
    hostname: 192.0.2.20
    snmp: {}
  - id: ap-1
    type: wifi_ap
    host: 10.0.0.500
    snmp: {}
  - id: pdu-1
    type: charger
    host: 192.0.2.30
    snmp: {password: public}
    thresholds: {supply_warning: 5, supply_critical: 20}
""", tmp_path)
    where = [(e.line, e.key) for e in errs]
    assert (7, "devices[0].hostname") in where
    assert (11, "devices[1].host") in where
    assert (16, "devices[2].snmp.password") in where
    assert any(e.line == 17 and e.key.startswith("devices[2].thresholds") for e in errs), where
    assert len(errs) == 4, where


def test_suggestions_know_the_synonyms(tmp_path: Path) -> None:
    for wrong, right in (("hostname", "host"), ("ip", "host"), ("address", "host")):
        errs = errors_of(HEAD + 'mqtt: {url: "mqtt://192.0.2.1:1883"}\ndevices:\n'
                                f"  - {{id: p, type: printer, {wrong}: 192.0.2.20, ping: true}}\n",
                         tmp_path)
        assert "did you mean 'host'" in errs[0].reason, (wrong, errs[0].reason)
        assert right in errs[0].reason
    errs = errors_of(HEAD + 'mqtt: {url: "mqtt://192.0.2.1:1883"}\ndevices:\n'
                            "  - {id: p, type: printer, host: 192.0.2.2, snmp: {password: x}}\n",
                     tmp_path)
    assert "did you mean 'community'" in errs[0].reason


@pytest.mark.parametrize("host", ["10.0.0.500", "192.0.2", "300.1.1.1", "1.2.3.4.5"])
def test_bad_ip_addresses_are_refused(tmp_path: Path, host: str) -> None:
    errs = errors_of(HEAD + 'mqtt: {url: "mqtt://192.0.2.1:1883"}\ndevices:\n'
                            f"  - {{id: p, type: printer, host: '{host}', ping: true}}\n",
                     tmp_path)
    assert [e.key for e in errs] == ["devices[0].host"]


def test_names_and_good_addresses_pass(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(HEAD + 'mqtt: {url: "mqtt://192.0.2.1:1883"}\ndevices:\n'
                           "  - {id: a, type: printer, host: 192.0.2.20, ping: true}\n"
                           "  - {id: b, type: printer, host: printer-2.local, ping: true}\n"
                           "  - {id: c, type: printer, host: '2001:db8::1', ping: true}\n"
                           "  - id: d\n    type: printer\n    host: 192.0.2.21\n    snmp: {}\n"
                           "    thresholds: {supply_warning: 20, supply_critical: 5}\n")
    assert len(agent_config.load(path).devices) == 4


def test_validate_prints_every_error_and_run_exits_with_the_config_code(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text(HEAD + f'mqtt: {{url: "mqtt://192.0.2.1:1883", password_file: "{tmp_path}/p"}}'
                           "\ndevices:\n  - {id: a, type: printer, hostname: 192.0.2.20, ping: true}\n")
    done = run_cli("hcc-agent", "validate", "--config", str(path), "--lang", "en")
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if re.search(r"devices\.yaml:\d+:", ln)]
    assert len(lines) == 2, done.stderr
    ran = run_cli("hcc-agent", "run", "--config", str(path))
    assert ran.returncode == agent_config.EXIT_CONFIG and "Traceback" not in ran.stderr
    assert "lỗi cấu hình" in ran.stderr and "devices.yaml:3" in ran.stderr
    unit = (ROOT / "systemd/hcc-agent.service").read_text()
    assert f"RestartPreventExitStatus={agent_config.EXIT_CONFIG}" in unit
