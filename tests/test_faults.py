"""The fault vocabulary: every code has Vietnamese text and a hint; the doc matches the code."""

from __future__ import annotations

from pathlib import Path

from hcc_common import faults
from hcc_common.faults_doc import render

DOC = Path(__file__).resolve().parent.parent / "docs" / "faults.md"


def test_every_fault_has_vietnamese_and_english_text_and_hints() -> None:
    assert len(faults.VOCABULARY) >= 30
    for d in faults.VOCABULARY.values():
        assert d.vi.strip() and d.en.strip() and d.hint_vi.strip() and d.hint_en.strip(), d.code
        assert d.code.count(".") == 1 and d.code == d.code.lower()


def test_doc_is_generated_from_the_vocabulary() -> None:
    assert DOC.read_text() == render(), "run: python -m hcc_common.faults_doc > docs/faults.md"


def test_messages_read_like_a_technician_would_say_them() -> None:
    assert faults.full_message("Máy in quầy 2", "printer.jammed") == "Máy in quầy 2: kẹt giấy"
    assert faults.full_message("Máy in quầy 2", "printer.jammed", lang="en") == \
        "Máy in quầy 2: paper jam"
    assert faults.message("printer.toner_low", {"supply": "Black", "level": 3.0}, "en") == \
        "Black low (3%)"
    # unknown level: the bracketed part is dropped rather than shown as "(?%)"
    assert faults.message("printer.toner_low", {"supply": "toner"}, "vi") == "toner sắp hết"


def test_unknown_code_from_a_newer_agent_still_renders() -> None:
    assert faults.message("robot.battery_low", {}) == "robot.battery_low"


def test_language_follows_locale() -> None:
    assert faults.default_lang({"LANG": "en_US.UTF-8"}) == "en"
    assert faults.default_lang({"LANG": "vi_VN.UTF-8"}) == "vi"
    assert faults.default_lang({}) == "vi"
    assert faults.default_lang({"HCC_LANG": "en", "LANG": "vi_VN"}) == "en"
