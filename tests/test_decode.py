"""Pure SNMP decoding on the project's own fixtures, with faults injected by changing values."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.profile_loader import SYSTEM_OIDS, choose, load_profiles, probes
from agent.snmpdecode import DECODERS, DeviceContext, Reading, Sample, SnmpValue, Thresholds, text
from agent.snmpdecode.printer import error_state_bits
from lab.snmprec import load, present, reading_for

FIX = Path(__file__).parent / "fixtures" / "snmprec"
PROFILES = load_profiles()


def device(name: str, **changes: SnmpValue) -> dict[str, SnmpValue]:
    values = load(FIX / f"{name}.snmprec")
    for oid, value in changes.items():
        values[oid.replace("_", ".")] = value
    return values


def run(values: dict[str, SnmpValue], dtype: str, *, open_: bool = True,
        outlets: tuple[int, ...] = (), previous: dict[str, SnmpValue] | None = None,
        elapsed: float | None = None) -> tuple[str, dict[str, object], set[tuple[str, str]]]:
    system = {k: values.get(oid) for k, oid in SYSTEM_OIDS.items()}
    answering = present(probes(PROFILES, system.get("sys_object_id")), values)
    profile = choose(PROFILES, dtype, system, answering)
    ctx = DeviceContext(dtype, open_, outlets, Thresholds())
    prev = reading_for(profile, previous) if previous is not None else None
    sample = Sample(reading_for(profile, values), ctx, prev, elapsed, profile.values,
                    profile.clients)
    metrics: dict[str, object] = {}
    faults: set[tuple[str, str]] = set()
    for name in profile.decoders:
        d = DECODERS[name](sample)
        metrics.update(d.metrics)
        faults |= {(f.code, f.severity) for f in d.faults}
        for f in d.faults:
            metrics.setdefault(f"fault:{f.code}", dict(f.params))
    return profile.id, metrics, faults


# -- profile selection ---------------------------------------------------------------------------
@pytest.mark.parametrize(("fixture", "dtype", "expected"), [
    ("printer-laser", "printer", "printer"),
    # a technician who says "other" gets the network view, never printer or AP faults
    ("printer-laser", "other", "generic"),
    ("ap-wifi", "wifi_ap", "unifi_ap"),
    ("pdu-switched", "charger", "apc_pdu"),
    ("pdu-metered", "charger", "apc_pdu"),
    ("router-generic", "other", "generic"),  # bogus sysObjectID, no known MIB: falls back
    ("router-generic", "wifi_ap", "generic"),
])
def test_profile_auto_selection(fixture: str, dtype: str, expected: str) -> None:
    assert run(device(fixture), dtype)[0] == expected


# -- printers --------------------------------------------------------------------------------------
SUPPLY_LEVEL_1 = "1_3_6_1_2_1_43_11_1_1_9_1_1"
ERROR_STATE = "1_3_6_1_2_1_25_3_5_1_2_1"


def test_healthy_printer_has_no_fault_and_real_percentages() -> None:
    _, m, faults = run(device("printer-laser"), "printer")
    assert faults == set()
    assert m["supply.1.name"] == "Black Cartridge HF258A0"  # hex with trailing NUL on the wire
    assert m["supply.1.pct"] == 64.0
    assert m["supply.2.pct"] == 88.0
    assert m["page_count"] == 48213
    assert m["printer_status"] == "idle"
    # for the device page and the report's faults per model
    assert m["model"] == "HP LaserJet MFP M428fdw"
    assert m["tray.2.pct"] == 72.0 and m["tray.2.name"]


def test_toner_3_of_100_is_exactly_one_critical_toner_low() -> None:
    _, m, faults = run(device("printer-laser", **{SUPPLY_LEVEL_1: 3}), "printer")
    assert faults == {("printer.toner_low", "critical")}
    assert m["fault:printer.toner_low"] == {"supply": "Black Cartridge HF258A0", "level": 3.0}


def test_toner_15_percent_is_a_warning_and_zero_is_empty() -> None:
    assert run(device("printer-laser", **{SUPPLY_LEVEL_1: 15}), "printer")[2] == {
        ("printer.toner_low", "warning")}
    assert run(device("printer-laser", **{SUPPLY_LEVEL_1: 0}), "printer")[2] == {
        ("printer.toner_empty", "critical")}


def test_drum_wearing_out_is_a_supply_fault_not_toner() -> None:
    faults = run(device("printer-laser", **{"1_3_6_1_2_1_43_11_1_1_9_1_2": 4}), "printer")[2]
    assert faults == {("printer.supply_low", "critical")}


@pytest.mark.parametrize("special", [-1, -2, -3])
def test_special_levels_are_never_negative_percentages(special: int) -> None:
    _, m, faults = run(device("printer-laser", **{SUPPLY_LEVEL_1: special}), "printer")
    assert "supply.1.pct" not in m
    assert m["supply.1.state"] in ("unrestricted", "unknown", "some_remaining")
    assert faults == set()


def test_unknown_capacity_gives_no_percentage() -> None:
    values = device("printer-laser", **{"1_3_6_1_2_1_43_11_1_1_8_1_1": -2,
                                        "1_3_6_1_2_1_43_11_1_1_9_1_1": 4000})
    _, m, faults = run(values, "printer")
    assert "supply.1.pct" not in m and faults == set()


def test_unknown_capacity_with_a_percent_level_is_a_percent() -> None:
    """Sharp: capacity -2 ("unknown") and the level as a percentage; a drum at 9 % must show."""
    values = device("printer-laser", **{"1_3_6_1_2_1_43_11_1_1_8_1_1": -2,
                                        "1_3_6_1_2_1_43_11_1_1_9_1_1": 9})
    _, m, faults = run(values, "printer")
    assert m["supply.1.pct"] == 9.0 and ("printer.toner_low", "warning") in faults


def test_waste_container_named_only_is_nearly_full_not_low() -> None:
    """Xerox gives neither class nor type: "Waste Toner Container" at 5 % left is 95 % full."""
    values = device("printer-laser", **{"1_3_6_1_2_1_43_11_1_1_4_1_2": 1,
                                        "1_3_6_1_2_1_43_11_1_1_5_1_2": 1,
                                        "1_3_6_1_2_1_43_11_1_1_6_1_2": b"Waste Toner Container",
                                        "1_3_6_1_2_1_43_11_1_1_8_1_2": 100,
                                        "1_3_6_1_2_1_43_11_1_1_9_1_2": 5})
    _, m, faults = run(values, "printer")
    assert m["supply.2.fill_pct"] == 95.0
    assert not {f for f in faults if f[0] in ("printer.supply_low", "printer.toner_low")}
    assert {f[0] for f in faults} & {"printer.waste_near_full", "printer.waste_full"}


def test_waste_toner_fills_up() -> None:
    # A receptacle's level is the space left (RFC 3805): 2 of 100 left = 98% full.
    values = device("printer-laser", **{"1_3_6_1_2_1_43_11_1_1_4_1_2": 4,
                                        "1_3_6_1_2_1_43_11_1_1_5_1_2": 4,
                                        "1_3_6_1_2_1_43_11_1_1_9_1_2": 2})
    _, m, faults = run(values, "printer")
    assert faults == {("printer.waste_full", "critical")}
    assert m["supply.2.fill_pct"] == 98.0


def test_jam_bit_alone_is_exactly_a_jam() -> None:
    assert run(device("printer-laser", **{ERROR_STATE: b"\x04"}), "printer")[2] == {
        ("printer.jammed", "critical")}


def test_low_toner_bit_defers_to_a_supply_table_with_levels() -> None:
    assert run(device("printer-laser", **{ERROR_STATE: b"\x20\x00"}), "printer")[2] == set()


def test_empty_manual_tray_is_normal_but_empty_cassette_is_not() -> None:
    assert run(device("printer-laser", **{"1_3_6_1_2_1_43_8_2_1_10_1_1": 0}), "printer")[2] == set()
    _, m, faults = run(device("printer-laser", **{"1_3_6_1_2_1_43_8_2_1_10_1_2": 0}), "printer")
    assert faults == {("printer.tray_empty", "warning")}
    assert m["fault:printer.tray_empty"] == {"tray": "Tray 2"}


def test_cover_open_from_cover_table() -> None:
    assert run(device("printer-laser", **{"1_3_6_1_2_1_43_6_1_1_3_1_1": 3}), "printer")[2] == {
        ("printer.door_open", "critical")}


def test_alert_table_jam_and_harmless_alerts() -> None:
    alert = "1_3_6_1_2_1_43_18_1_1_{}_1_1"
    jam = device("printer-laser", **{alert.format(2): 3, alert.format(4): 13,
                                     alert.format(7): 8, alert.format(8): b"Jam in tray 2"})
    assert run(jam, "printer")[2] == {("printer.jammed", "critical")}
    # A "Sleep" notice with an out-of-range severity, as some printers send, is no fault.
    sleep = device("printer-laser", **{alert.format(2): 255, alert.format(7): -1,
                                       alert.format(8): b"Sleep"})
    assert run(sleep, "printer")[2] == set()


def test_error_state_bit0_is_msb_of_first_byte() -> None:
    assert error_state_bits(b"\x80") == ["lowPaper"]
    assert error_state_bits(b"\x04") == ["jammed"]
    assert error_state_bits(b"\x00\x80") == ["inputTrayMissing"]
    assert error_state_bits(b"\x00\x02") == ["overduePreventMaint"]
    assert error_state_bits(b"") == []


# -- access points ----------------------------------------------------------------------------------
def test_healthy_ap_has_clients_and_no_fault() -> None:
    _, m, faults = run(device("ap-wifi"), "wifi_ap")
    assert faults == set()
    assert m["wifi_clients"] == 22 and m["wifi_clients_source"] == "unifi_vaps"


def test_radio_and_uplink_down() -> None:
    both = device("ap-wifi", **{"1_3_6_1_2_1_2_2_1_8_2": 2, "1_3_6_1_2_1_2_2_1_8_3": 2})
    _, m, faults = run(both, "wifi_ap")
    assert faults == {("ap.radio_down", "critical")}
    assert m["fault:ap.radio_down"] == {"interface": "wifi0, wifi1"}
    assert m["radio.wifi0.oper"] == "down" and m["radio.wifi1.oper"] == "down"  # device page
    assert run(device("ap-wifi", **{"1_3_6_1_2_1_2_2_1_8_1": 2}), "wifi_ap")[2] == {
        ("ap.uplink_down", "critical")}


def test_a_spare_radio_or_port_down_beside_working_ones_is_not_a_fault() -> None:
    """Issue 12: scan radios with no SSID, spare Ethernet ports and VLAN subinterfaces gave 13
    false critical faults on 6 healthy APs. IF-MIB cannot tell a scan radio from a dead one:
    only an AP that serves on no radio (or has no uplink up) is at fault."""
    one_radio = device("ap-wifi", **{"1_3_6_1_2_1_2_2_1_8_3": 2})
    assert run(one_radio, "wifi_ap")[2] == set()
    vlan = device("ap-wifi", **{"1_3_6_1_2_1_2_2_1_2_1": b"eth0.4",
                                "1_3_6_1_2_1_2_2_1_8_1": 2})
    assert run(vlan, "wifi_ap")[2] == set()


def test_admin_down_interface_is_not_a_fault() -> None:
    values = device("ap-wifi", **{"1_3_6_1_2_1_2_2_1_7_3": 2, "1_3_6_1_2_1_2_2_1_8_3": 2})
    assert run(values, "wifi_ap")[2] == set()


def test_zero_clients_is_a_reading_and_unknown_is_not_zero() -> None:
    """A real 0 is reported as 0 (the controller's quiet-wifi rule judges it over time); an
    AP whose count cannot be read (here: an empty IEEE 802.11 table) reports no count at all.
    Issue 12: airOS APs with 27 clients were read as 0 from an empty table."""
    empty = device("ap-wifi", **{"1_3_6_1_4_1_41112_1_6_1_2_1_8_1": 0,
                                 "1_3_6_1_4_1_41112_1_6_1_2_1_8_2": 0})
    _, m, faults = run(empty, "wifi_ap", open_=True)
    assert m["wifi_clients"] == 0 and faults == set()
    from agent.snmpdecode import DECODERS
    from agent.snmpdecode.core import Reading, Sample

    decoded = DECODERS["wifi_clients"](Sample(Reading({}, {"dot11_rsna_stations": {}})))
    assert "wifi_clients" not in decoded.metrics


def test_reboot_is_uptime_going_backwards_and_rates_need_two_reads() -> None:
    before = device("ap-wifi")
    after = device("ap-wifi", **{"1_3_6_1_2_1_1_3_0": 500, "1_3_6_1_2_1_2_2_1_14_2": 20})
    assert ("ap.rebooted", "warning") in run(after, "wifi_ap", previous=before, elapsed=30)[2]
    later = device("ap-wifi", **{"1_3_6_1_2_1_1_3_0": 5187000, "1_3_6_1_2_1_2_2_1_14_2": 72})
    _, m, faults = run(later, "wifi_ap", previous=before, elapsed=30.0)
    assert faults == set()
    assert m["if.wifi0.errors_per_s"] == 2.0  # (72 - 12) errors in 30 s
    assert "if.wifi0.errors_per_s" not in run(later, "wifi_ap")[1]


def test_uptime_counter_wrap_is_not_a_reboot() -> None:
    before = device("ap-wifi", **{"1_3_6_1_2_1_1_3_0": (1 << 32) - 1000})
    after = device("ap-wifi", **{"1_3_6_1_2_1_1_3_0": 2000})
    assert run(after, "wifi_ap", previous=before, elapsed=30.0)[2] == set()


# -- chargers on a PDU ------------------------------------------------------------------------------
LEGACY_STATE_2 = "1_3_6_1_4_1_318_1_1_12_3_5_1_1_4_2"
RPDU2_STATE_2 = "1_3_6_1_4_1_318_1_1_26_9_2_3_1_5_2"


def test_switched_pdu_chargers_on_and_spare_outlets_ignored() -> None:
    _, m, faults = run(device("pdu-switched"), "charger", outlets=(1, 2))
    assert faults == set()  # outlets 3 and 4 are off, but nothing is plugged in there
    assert (m["outlet.1.state"], m["outlet.3.state"]) == ("on", "off")


def test_outlet_off_in_the_legacy_table() -> None:
    legacy_off = device("pdu-switched", **{LEGACY_STATE_2: 2})
    _, m, faults = run(legacy_off, "charger", outlets=(1, 2))
    assert faults == {("charger.outlet_off", "critical")}
    assert m["fault:charger.outlet_off"] == {"outlet": "2 (Sac dien thoai 2)"}
    assert run(legacy_off, "other")[2] == set()  # the PDU itself has no charger outlets


def test_rpdu2_only_pdu_uses_its_opposite_numbering() -> None:
    values = {k: v for k, v in device("pdu-switched").items()
              if not k.startswith("1.3.6.1.4.1.318.1.1.12.")}
    assert run(values, "charger", outlets=(1, 2))[2] == set()  # rPDU2: 2 means on
    values["1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.2"] = 1  # rPDU2: 1 means off
    assert run(values, "charger", outlets=(1, 2))[2] == {("charger.outlet_off", "critical")}


def test_metered_outlet_draw() -> None:
    power_1 = "1_3_6_1_4_1_318_1_1_26_9_4_3_1_7_1"
    _, m, faults = run(device("pdu-metered"), "charger", outlets=(1,))
    assert faults == set() and m["outlet.1.power_w"] == 85.0 and m["outlet.1.current_a"] == 0.4
    idle = device("pdu-metered", **{power_1: 0})
    assert run(idle, "charger", outlets=(1,), open_=True)[2] == {("charger.no_power_draw", "warning")}
    assert run(idle, "charger", outlets=(1,), open_=False)[2] == set()
    assert run(device("pdu-metered", **{power_1: 2500}), "charger", outlets=(1,))[2] == {
        ("charger.overload", "critical")}


def test_generic_router_reports_no_fault_for_an_unused_port() -> None:
    profile, m, faults = run(device("router-generic"), "other")
    assert (profile, faults) == ("generic", set())
    assert m["if.lan2.oper"] == "down"


# -- value handling ---------------------------------------------------------------------------------
def test_text_strips_nul_and_tolerates_latin1() -> None:
    assert text(b"Black Cartridge\x00") == "Black Cartridge"
    assert text(b"Caf\xe9") == "Café"
    assert text(None) is None


def test_zero_uptime_is_a_reading() -> None:
    d = DECODERS["system"](Sample(Reading({"sys_uptime": 0, "sys_descr": b""})))
    assert d.metrics["uptime_s"] == 0 and d.metrics["sys_descr"] == ""


snmp_values = st.one_of(st.none(), st.integers(min_value=-(1 << 64), max_value=1 << 64),
                        st.binary(max_size=24), st.text(max_size=12))


@given(st.dictionaries(st.sampled_from(["description", "level", "max", "type", "class"]),
                       st.dictionaries(st.sampled_from(["1.1", "1.2"]), snmp_values, max_size=2)),
       st.dictionaries(st.sampled_from(["hr_printer_status", "hr_printer_error_state", "page_count",
                                        "sys_uptime", "sys_descr"]), snmp_values))
def test_printer_decoder_never_crashes_on_odd_values(supplies: dict, scalars: dict) -> None:
    sample = Sample(Reading(scalars, {"supplies": supplies}), DeviceContext("printer"))
    d = DECODERS["printer"](sample)
    for key, value in d.metrics.items():
        if key.endswith(".pct"):
            assert isinstance(value, float) and 0.0 <= value <= 100.0


@given(st.dictionaries(st.sampled_from(["descr", "type", "admin", "oper", "in_errors", "name",
                                        "state"]),
                       st.dictionaries(st.sampled_from(["1", "2", "1.2"]), snmp_values, max_size=3)))
def test_interface_and_outlet_decoders_never_crash(table: dict) -> None:
    sample = Sample(Reading({}, {"interfaces": table, "outlets": table,
                                 "outlets_rpdu2": table, "pdu_load": table}),
                    DeviceContext("wifi_ap", charger_outlets=(1, 2)),
                    values=PROFILES["apc_pdu"].values)
    DECODERS["interfaces"](sample)
    DECODERS["outlets"](sample)
    DECODERS["pdu_load"](sample)


def test_text_stored_as_a_hex_display_is_joined_back() -> None:
    """Some captures hold net-snmp's Hex-STRING display instead of the bytes: the first
    characters, then lines of hex pairs. Decoded, the supply's name is whole again."""
    from agent.snmpdecode.core import text

    shown = b"Cyan Cartridge 8\n32 37 41 20 48 50 20 43 46 33 30 31 41 00 "
    assert text(shown) == "Cyan Cartridge 827A HP CF301A"
    assert text(b"Tray 1\nTray 2") == "Tray 1\nTray 2"  # not hex: left alone


def test_outlet_number_zero_is_an_outlet() -> None:
    """0 is a reading: a table that numbers its outlets from 0 keeps outlet 0 a charger."""
    from agent.snmpdecode.core import DeviceContext, Reading, Sample

    table = {"outlets": {"state": {"1": 2, "2": 1}, "number": {"1": 0, "2": 1}}}
    sample = Sample(Reading({}, table), DeviceContext("charger", True, (0,)),
                    values={"outlets.state": {1: "on", 2: "off"}})
    decoded = DECODERS["outlets"](sample)
    assert [f.params["outlet"] for f in decoded.faults] == ["0"]
