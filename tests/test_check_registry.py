"""Check kinds are specs in one registry per side (issue 24 item 3): the registries cover every
kind module, a kind declared only in its own module (here: in this test) parses and runs with
no edit elsewhere, and the center validates devices.yaml with the box's code, in-process."""

from __future__ import annotations

import asyncio
import dataclasses
import pkgutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

import agent.checks
import hcc_common.check_kinds
from agent import profile_loader
from agent.checks import REGISTRY
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.checks.spec import CheckSpec
from agent.poller import poll
from conftest import run_cli
from hcc_common import devices_config
from hcc_common.check_kinds import SCHEMAS
from hcc_common.check_kinds.base import KindSchema, SectionInput, always
from hcc_common.devices_config import Device
from hcc_common.yamlconf import ConfigError, ConfigErrors, Node

HEAD = """\
center: {id: c1, name: "Trung tâm thử"}
agent: {id: pi-1, state_dir: "/tmp/hcc-test-state"}
mqtt: {url: "mqtt://127.0.0.1:1"}
devices:
"""


def modules_of(package: object) -> set[str]:
    return {m.name for m in pkgutil.iter_modules(package.__path__)}  # type: ignore[attr-defined]


def test_the_box_registry_covers_every_module_of_agent_checks() -> None:
    kinds = modules_of(agent.checks) - set(agent.checks.HELPERS)
    assert kinds == set(REGISTRY)
    for name in kinds:
        module = getattr(agent.checks, name)
        assert module.SPEC is REGISTRY[name] and name == module.KIND
        assert module.SPEC.schema is SCHEMAS[name]  # the box runs what the schema parsed


def test_the_schema_registry_covers_every_module_of_hcc_common_check_kinds() -> None:
    kinds = modules_of(hcc_common.check_kinds) - set(hcc_common.check_kinds.HELPERS)
    assert kinds == set(SCHEMAS)
    for name, schema in SCHEMAS.items():
        assert getattr(hcc_common.check_kinds, name).SCHEMA is schema and schema.kind == name
        assert dataclasses.is_dataclass(schema.settings)
        assert schema.settings.__dataclass_params__.frozen  # type: ignore[attr-defined]


def test_each_section_of_the_shipped_devices_yaml_becomes_its_kinds_settings() -> None:
    root = Path(__file__).resolve().parent.parent
    cfg = devices_config.load(root / "devices.yaml", environ={"HOME": "/nonexistent"})
    seen = {kind for d in cfg.devices for kind in d.checks}
    assert len(seen) >= 3, seen
    for device in cfg.devices:
        for kind, settings in device.checks.items():
            assert isinstance(settings, SCHEMAS[kind].settings)
            assert SCHEMAS[kind].of(device.checks) is settings


# -- a new kind: its own module (here, this test) and a registry line, nothing else ----------
@dataclass(frozen=True)
class EchoSettings:
    word: str
    port: int = 7


def parse_echo(node: Node, given: SectionInput) -> EchoSettings:
    m = node.as_mapping(("word", "port"))
    port = m.get("port")
    return EchoSettings(m.require("word").as_str(), port.as_int(1, 65535) if port else 7)


ECHO = KindSchema(kind="echo", settings=EchoSettings, parse=parse_echo, needs_host=always)


async def run_echo(device: Device, s: EchoSettings, ctx: CheckContext) -> CheckOutcome:
    return CheckOutcome("echo", True, {"echo_word": f"{s.word}@{device.host}:{s.port}"})


ECHO_SPEC = CheckSpec(schema=ECHO, run=run_echo)


def load_with_echo(tmp_path: Path, device: str) -> devices_config.Config:
    path = tmp_path / "devices.yaml"
    path.write_text(HEAD + device)
    return devices_config.load(path, kinds={**SCHEMAS, "echo": ECHO})


def test_a_kind_registered_only_here_parses_and_runs(tmp_path: Path) -> None:
    cfg = load_with_echo(tmp_path, "  - {id: e1, type: other, host: 192.0.2.7, echo: {word: chào},"
                                   " tcp: {port: 1}}\n")
    (dev,) = cfg.devices
    assert dev.check_kinds == ("tcp", "echo")  # the registry's order
    assert ECHO.of(dev.checks) == EchoSettings("chào")
    combined = asyncio.run(poll(dev, CheckContext(), {**REGISTRY, "echo": ECHO_SPEC}))
    assert combined.metrics["echo_word"] == "chào@192.0.2.7:7"


def test_a_new_kinds_mistakes_name_file_line_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_with_echo(tmp_path, "  - {id: e1, type: other, host: h1, echo: {wrd: x}}\n"
                                 "  - {id: e2, type: other, echo: {word: x}}\n")
    errs = caught.value.errors if isinstance(caught.value, ConfigErrors) else [caught.value]
    assert [(e.file.endswith("devices.yaml"), e.line, e.key) for e in errs] == [
        (True, 5, "devices[0].echo.word"), (True, 5, "devices[0].echo.wrd"),
        (True, 6, "devices[1].host")]
    assert "did you mean 'word'" in errs[1].reason and "needs a host" in errs[2].reason
    # without the registry line the section is an unknown key, as any typo is
    with pytest.raises(ConfigError) as unknown:
        devices_config.load(tmp_path / "devices.yaml")
    assert "echo" in str(unknown.value)


def test_the_center_knows_the_profiles_the_box_ships() -> None:
    assert devices_config.shipped_profiles() == tuple(sorted(profile_loader.profile_ids()))


# -- the center validates with the box's code, in-process --------------------------------------
BROKEN = HEAD + ("  - {id: k1, type: kiosk, host: 127.0.0.1, tcp: {prot: 1}}\n"
                 "  - {id: p1, type: printer, snmp: {community_file: snmp.secret}}\n")


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_config_push_says_what_hcc_agent_validate_says_without_running_it(
        tmp_path: Path, lang: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import typer

    from controller import cli as controller_cli

    path = tmp_path / "ba-dinh.yaml"
    path.write_text(BROKEN)
    agent_says = run_cli("hcc-agent", "validate", "--elsewhere", "--lang", lang, "--config",
                         str(path))
    assert agent_says.returncode == 1
    expected = agent_says.stderr.replace(str(path), "ba-dinh.yaml")

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"ran a program: {args}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    from hcc_common import texts

    monkeypatch.setattr(texts, "_current", [lang])  # as `hcc-controller --lang` sets it
    with pytest.raises(typer.Exit) as stopped:
        controller_cli._validate_like_the_agent(BROKEN, "ba-dinh")
    assert stopped.value.exit_code == 1
    said = capsys.readouterr().err
    assert said == expected
    assert "ba-dinh.yaml:5: devices[0].tcp.prot" in said
    assert ("lỗi: " if lang == "vi" else "error: ") in said
    assert "ba-dinh.yaml:6: devices[1].host" in said  # both mistakes, each with its line
    controller_cli._validate_like_the_agent(HEAD + "  - {id: k1, type: kiosk, host: h1, "
                                                   "tcp: {port: 1}}\n", "ba-dinh")  # valid: quiet
    assert capsys.readouterr().err == ""


def test_the_center_validates_without_importing_agent_code(tmp_path: Path) -> None:
    import sys

    code = ("import sys, typer\n"
            "from controller import cli\n"
            "try:\n"
            f"    cli._validate_like_the_agent({BROKEN!r}, 'ba-dinh')\n"
            "except typer.Exit as stop:\n"
            "    print('exit', stop.exit_code)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'agent'))\n")
    ran = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=False, cwd=Path(__file__).resolve().parent.parent)
    assert ran.stdout.splitlines() == ["exit 1", "[]"], ran.stderr
    assert "ba-dinh.yaml:5: devices[0].tcp.prot" in ran.stderr
