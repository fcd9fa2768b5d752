"""Pure SNMP decoding: printer error bits, octet strings as real devices send them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.decode import (
    Reading,
    Thresholds,
    decode_printer_status,
    decode_system,
    error_state_bits,
    text,
)

T = Thresholds()


def test_error_state_bit0_is_msb_of_first_byte() -> None:
    assert error_state_bits(b"\x80") == ["lowPaper"]
    assert error_state_bits(b"\x04") == ["jammed"]
    assert error_state_bits(b"\x04\x00") == ["jammed"]
    assert error_state_bits(b"\x00\x80") == ["inputTrayMissing"]
    assert error_state_bits(b"\x00\x02") == ["overduePreventMaint"]
    assert error_state_bits(b"") == []
    assert error_state_bits(b"\x00") == []


def test_jam_and_door_become_faults() -> None:
    r = Reading({"hr_printer_status": 1, "hr_printer_error_state": b"\x0c"})
    d = decode_printer_status(r, T)
    assert {f.code for f in d.faults} == {"printer.jammed", "printer.door_open"}
    assert d.metrics["printer_status"] == "other"
    assert d.metrics["printer_errors"] == "doorOpen,jammed"


def test_no_error_bits_means_no_fault() -> None:
    d = decode_printer_status(Reading({"hr_printer_status": 3,
                                       "hr_printer_error_state": b"\x00\x00"}), T)
    assert d.faults == ()
    assert d.metrics == {"printer_status": "idle", "printer_errors": "none"}


def test_text_strips_nul_and_tolerates_latin1() -> None:
    assert text(b"Black Cartridge\x00") == "Black Cartridge"
    assert text(b"Caf\xe9") == "Café"
    assert text(None) is None
    assert text(0) == "0"


def test_uptime_zero_is_a_reading() -> None:
    d = decode_system(Reading({"sys_uptime": 0, "sys_descr": b""}), T)
    assert d.metrics["uptime_s"] == 0
    assert d.metrics["sys_descr"] == ""


@given(st.binary(max_size=4))
def test_error_bits_never_crash_and_stay_known(raw: bytes) -> None:
    bits = error_state_bits(raw)
    assert len(bits) == len(set(bits)) <= 15


@given(st.one_of(st.none(), st.integers(), st.binary(max_size=64), st.text(max_size=16)))
def test_text_never_crashes(value: object) -> None:
    out = text(value)  # type: ignore[arg-type]
    assert out is None or isinstance(out, str)
