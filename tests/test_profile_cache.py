"""Profiles are parsed once per process and shared (issue 25 item 10): a config of many
`profile: auto` devices, the checks and discovery all read the same parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import config as agent_config
from agent import profile_loader
from agent.checks.context import CheckContext
from hcc_common.yamlconf import ConfigError


def test_a_config_of_many_auto_devices_parses_the_profiles_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real_parse = profile_loader._parse

    def counting(name: str, content: str) -> profile_loader.Profile:
        parsed.append(name)
        return real_parse(name, content)

    monkeypatch.setattr(profile_loader, "_parse", counting)
    profile_loader._parsed_profiles.cache_clear()
    lines = ["center: {id: c1, name: C}", f'agent: {{id: b1, state_dir: "{tmp_path}"}}',
             'mqtt: {url: "mqtt://127.0.0.1:1"}', "devices:"]
    lines += [f"  - {{id: d{i}, type: wifi_ap, host: 10.0.0.{i + 1}, profile: auto, "
              f"snmp: {{community: public}}}}" for i in range(40)]
    lines.append("  - {id: named, type: wifi_ap, host: 10.0.1.1, profile: cisco_ap, "
                 "snmp: {community: public}}")
    path = tmp_path / "devices.yaml"
    path.write_text("\n".join(lines) + "\n")
    cfg = agent_config.load(path)
    assert len(cfg.devices) == 41
    contexts = [CheckContext() for _ in range(3)]  # one per event loop, each with the profiles
    assert len(parsed) == len(profile_loader.PROFILE_FILES)  # once, not once per device
    assert all(c.profiles["cisco_ap"] is contexts[0].profiles["cisco_ap"] for c in contexts)
    contexts[0].profiles.pop("cisco_ap")  # a caller's dict is its own: the cache is untouched
    assert "cisco_ap" in profile_loader.load_profiles()
    profile_loader._parsed_profiles.cache_clear()  # the next test parses the real files again


def test_an_unknown_profile_name_is_still_refused_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "devices.yaml"
    path.write_text("center: {id: c1, name: C}\n"
                    f'agent: {{id: b1, state_dir: "{tmp_path}"}}\n'
                    'mqtt: {url: "mqtt://127.0.0.1:1"}\n'
                    "devices:\n"
                    "  - {id: d1, type: wifi_ap, host: 10.0.0.1, profile: nosuch, "
                    "snmp: {community: public}}\n")
    with pytest.raises(ConfigError) as err:
        agent_config.load(path)
    assert err.value.line == 5 and "nosuch" in str(err.value)
