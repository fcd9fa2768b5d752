"""Every word a technician reads: hcc-agent's help and its config errors in Vietnamese by
default and in English on request, the box's config found where install put it, and the
fault vocabulary complete in both languages with the glossary's terms."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from agent.config import default_config_path
from conftest import run_cli
from hcc_common import faults as vocab
from hcc_common.glossary import AVOID, TERMS


def test_help_is_vietnamese_by_default_and_english_on_request() -> None:
    out = run_cli("hcc-agent", "--help")
    assert out.returncode == 0
    assert "theo dõi các thiết bị của một trung tâm" in out.stdout
    assert "Hiện trợ giúp này rồi thoát." in out.stdout and "Lệnh:" in out.stdout
    assert "<bool>" not in out.stdout
    check = run_cli("hcc-agent", "check", "--help").stdout
    assert "Kiểm tra ngay mọi thiết bị một lần" in check and "Chỉ thiết bị có mã này." in check
    english = run_cli("hcc-agent", "check", "--help", "--lang", "en").stdout
    assert "Run every check once now" in english and "Only this device id." in english
    assert "Show this message and exit." in english
    assert "watches the devices" in run_cli("hcc-agent", "--lang", "en", "--help").stdout


def test_validate_errors_in_vietnamese_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "devices.yaml"
    bad.write_text("center: {id: c1}\nagent: {id: a}\nmqtt: {url: 'mqtt://x'}\ndevices:\n"
                   "  - {id: p, type: printer, host: 10.0.0.5, snmp: {}, intervall: 30s}\n")
    vi = run_cli("hcc-agent", "validate", str(bad))  # a path without --config works
    assert vi.returncode == 1
    assert vi.stderr.strip() == (f"lỗi: {bad}:5: devices[0].intervall: khóa không hợp lệ "
                                 "(có phải 'interval'?)")
    en = run_cli("hcc-agent", "validate", str(bad), "--lang", "en")
    assert "unknown key (did you mean 'interval'?)" in en.stderr
    missing = run_cli("hcc-agent", "validate", str(tmp_path / "none.yaml"))
    assert missing.stderr.strip() == f"lỗi: {tmp_path / 'none.yaml'}: không tìm thấy tệp"
    assert ":0:" not in missing.stderr


def test_the_box_reads_etc_hcc_agent_devices_yaml_by_default(tmp_path: Path) -> None:
    assert default_config_path(tmp_path / "absent.yaml") == Path("devices.yaml")
    present = tmp_path / "devices.yaml"
    present.write_text("x")
    assert default_config_path(present) == present
    etc = Path("/etc/hcc-agent/devices.yaml")
    if os.geteuid() != 0 or etc.exists():
        pytest.skip("needs root and no installed /etc/hcc-agent/devices.yaml to stand one in")
    etc.parent.mkdir(exist_ok=True)
    try:
        etc.write_text("center: {id: c-etc}\nagent: {id: pi-etc, state_dir: "
                       f"'{tmp_path / 'state'}'}}\nmqtt: {{url: 'mqtt://127.0.0.1:1'}}\n"
                       "devices: []\n")
        out = run_cli("hcc-agent", "validate")  # no --config, from anywhere
        assert out.returncode == 0 and "/etc/hcc-agent/devices.yaml: hợp lệ" in out.stdout
        assert "trung tâm c-etc" in out.stdout
        checked = run_cli("hcc-agent", "check", "--json")  # check reads it too
        assert checked.returncode in (0, 2), checked.stderr
        assert '"device": "pi-etc"' in checked.stdout  # the box of that config
    finally:
        shutil.rmtree(etc.parent)


def test_every_fault_speaks_both_languages_with_the_glossary_terms() -> None:
    for d in vocab.VOCABULARY.values():
        for text in (d.vi, d.en, d.hint_vi, d.hint_en):
            assert text.strip(), d.code
        if d.code.startswith("device.plugin_"):
            continue  # a plugin's own output
        assert d.vi != d.en, d.code  # translated, not copied
        for wrong, right in AVOID.items():
            assert not re.search(wrong, d.vi + " " + d.hint_vi, re.IGNORECASE), \
                f"{d.code}: '{wrong}' — the glossary says '{right}'"
    # the terms the glossary fixes are the ones the faults use
    used = " ".join(d.vi for d in vocab.VOCABULARY.values()).lower()
    for term in ("không phản hồi", "mất kết nối", "kẹt giấy", "sắp hết"):
        assert term in used and term in {t.vi for t in TERMS}


def test_glossary_doc_is_generated_from_the_module() -> None:
    from hcc_common.glossary import render

    doc = Path(__file__).parent.parent / "docs" / "glossary.md"
    assert doc.read_text(encoding="utf-8") == render(), \
        "run: python -m hcc_common.glossary > docs/glossary.md"


def test_every_controller_help_text_has_its_vietnamese() -> None:
    import typer.main

    from controller.cli import app
    from controller.cli_text import VI

    missing = []

    def walk(command: object) -> None:
        for text in [getattr(command, "help", None),
                     *(getattr(p, "help", None) for p in getattr(command, "params", []))]:
            if isinstance(text, str) and text.strip() and text.strip() not in VI:
                missing.append(text.strip()[:60])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    assert missing == []
    out = run_cli("hcc-controller", "report", "--help")
    assert "Báo cáo của thành phố cho một tháng" in out.stdout and "Tùy chọn:" in out.stdout
    assert "The city's report" in run_cli("hcc-controller", "report", "--help", "--lang",
                                          "en").stdout


def test_the_agents_help_texts_exist_in_both_languages() -> None:
    from agent.cli_text import HELP

    assert HELP["vi"].keys() == HELP["en"].keys()
    assert all(HELP["vi"][k] != HELP["en"][k] for k in HELP["vi"] if k != "run.log_level")
