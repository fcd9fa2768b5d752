"""PDU, ATS and UPS families read from their MIBs, on the project's own fixtures (written from the
vendors' MIB definitions, tests/fixtures/snmprec/): index shapes, value maps, sentinels, alarm
tables, metered-only units, scalar outlets; and the printer's twin supply rows. Pure decoding
first, then a few through hcc-agent against snmpsim."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agent.checks.snmp import read_device
from agent.profile_loader import SYSTEM_OIDS, choose, load_profiles, probes
from agent.snmpdecode import DECODERS, DeviceContext, Reading, Sample, SnmpValue, Thresholds
from conftest import json_lines, run_cli
from lab.snmprec import load, present, reading_for

FIX = Path(__file__).parent / "fixtures" / "snmprec"
PROFILES = load_profiles()


def device(name: str, **changes: SnmpValue) -> dict[str, SnmpValue]:
    values = load(FIX / f"{name}.snmprec")
    for oid, value in changes.items():
        values[oid.replace("_", ".")] = value
    return values


def run(values: dict[str, SnmpValue], dtype: str, outlets: tuple[int, ...] = ()
        ) -> tuple[str, dict[str, object], set[tuple[str, str]]]:
    """What the snmp check makes of a device holding `values`, as a technician configured it."""
    system = {k: values.get(oid) for k, oid in SYSTEM_OIDS.items()}
    oid = system["sys_object_id"]
    if isinstance(oid, str):
        system["sys_object_id"] = oid.lstrip(".")
    profile = choose(PROFILES, dtype, system, present(probes(PROFILES), values))
    ctx = DeviceContext(dtype, True, outlets, Thresholds())
    if isinstance(values.get("1.3.6.1.2.1.1.2.0"), str):
        values = {**values, "1.3.6.1.2.1.1.2.0": str(values["1.3.6.1.2.1.1.2.0"]).lstrip(".")}
    sample = Sample(reading_for(profile, values), ctx, values=profile.values)
    metrics, found = read_device(profile, sample, dtype)
    return profile.id, dict(metrics), {(f.code, f.severity) for f in found}


def states(metrics: dict[str, object]) -> dict[str, object]:
    return {k[len("outlet."):-len(".state")]: v for k, v in metrics.items()
            if k.startswith("outlet.") and k.endswith(".state")}


# -- outlets: every family's value map and index shape --------------------------------------------
@pytest.mark.parametrize(("fixture", "profile", "expected"), [
    # Sentry3: tower.infeed.outlet; offError(4) is off, onFuse(9) is on (not "2 = off")
    ("pdu-sentry3", "sentry_pdu", {"1.1.1": "on", "1.1.2": "on", "1.1.3": "off", "2.1.1": "off"}),
    # Sentry4 DeviceState: unknown(0) is no state, off is 2
    ("pdu-sentry4", "sentry_pdu", {"1.1.1": "on", "1.1.2": "off"}),
    # Raritan PDU2 outletSwitchingState at 6.4.1.2.1.3: on(7) off(8), pdu.outlet
    ("pdu-raritan-px3", "raritan_pdu", {"1.1": "on", "1.2": "off", "1.3": "on"}),
    # Eaton ePDU: strapping.outlet (0-based daisy chain), pendingOn(3) is no state
    ("pdu-eaton-epdu", "eaton_pdu", {"0.1": "on", "0.2": "off"}),
    ("pdu-cyberpower-epdu2", "cyberpower_pdu", {"1": "on", "2": "on", "3": "off"}),
    # Tripp Lite: device.outlet, unknown(0) off(1) on(2)
    ("pdu-tripplite", "tripplite_power", {"1.1": "on", "1.2": "off"}),
    # HPE Smart Extension Bar: the state is text; "problem" is no state
    ("pdu-hpe-mpdu", "hpe_pdu", {"1.1.1": "on", "1.1.2": "off"}),
    # Gude: the MIB under the model's own sysObjectID
    ("pdu-gude-8226", "gude_pdu", {"1": "on", "2": "off"}),
    # Vertiv/Geist: on2off(3) is still on, unavailable(7) no state
    ("pdu-vertiv-geist", "vertiv_pdu", {"1": "on", "2": "off", "3": "on"}),
    ("pdu-iboot", "dataprobe_pdu", {"0": "on", "1": "off"}),
    # ENERGY-OBJECT-MIB eoPowerOperState: ieee1621On(259) / ieee1621Off(257)
    ("pdu-dli-energy", "energy_object_pdu", {"1": "on", "2": "off"}),
    # scalar outlets (receptacleStatus.outletNState.0), no table
    ("pdu-chatsworth-scalar", "chatsworth_pdu", {"1": "on", "2": "off", "3": "on", "4": "on"}),
    ("pdu-panduit-g5", "panduit_pdu", {"1.1": "on", "1.2": "off"}),
    ("pdu-enlogic", "enlogic_pdu", {"1.1": "on", "1.2": "off"}),
    ("pdu-wti", "wti_pdu", {"1": "on", "2": "off"}),
])
def test_outlet_states_follow_each_mib(fixture: str, profile: str, expected: dict[str, str]
                                       ) -> None:
    chosen, m, faults = run(device(fixture), "charger")
    assert chosen == profile
    assert states(m) == expected
    assert faults == set()  # no outlet is a charger here: an off outlet is not a fault


def test_names_and_readings_come_with_the_right_units_and_sentinels() -> None:
    _, m, _ = run(device("pdu-sentry3"), "charger")
    assert (m["outlet.1.1.1.name"], m["outlet.1.1.1.current_a"], m["outlet.1.1.1.power_w"]) == (
        "Sac 1", 1.25, 95.0)
    assert "outlet.2.1.1.current_a" not in m and "outlet.2.1.1.power_w" not in m  # -1: n/a
    _, m, _ = run(device("pdu-eaton-epdu"), "charger")
    assert (m["outlet.0.1.name"], m["outlet.0.1.current_a"], m["outlet.0.1.power_w"]) == (
        "Sac 1", 0.35, 70.0)
    assert "outlet.1.1.power_w" not in m  # outletWatts -1: not available
    _, m, _ = run(device("pdu-dli-energy"), "charger")
    assert m["outlet.1.power_w"] == 45.2 and m["outlet.1.name"] == "Outlet 1"  # 452 x 10^-1


def test_zero_based_outlet_table_numbers_row_zero_as_outlet_one() -> None:
    """iBoot's outletIndex starts at 0: the charger on outlet 1 (devices.yaml) is row 0."""
    values = device("pdu-iboot", **{"1_3_6_1_4_1_1418_6_5_1_7_0": 0, "1_3_6_1_4_1_1418_6_5_1_6_0": 0})
    assert ("charger.outlet_off", "critical") in run(values, "charger", outlets=(1,))[2]
    assert run(device("pdu-iboot"), "charger", outlets=(1,))[2] == set()


def test_daisy_chained_units_keep_their_outlets_apart() -> None:
    _, m, _ = run(device("pdu-eaton-epdu"), "charger")
    assert m["outlet.1.1.name"] == "Unit 2 outlet 1" and "outlet.1.1.state" not in m


def test_a_charger_switched_off_is_found_in_every_family() -> None:
    assert run(device("pdu-sentry4"), "charger", outlets=(2,))[2] == {
        ("charger.outlet_off", "critical")}
    assert run(device("pdu-raritan-px3"), "charger", outlets=(2,))[2] == {
        ("charger.outlet_off", "critical")}
    assert run(device("pdu-chatsworth-scalar"), "charger", outlets=(2,))[2] == {
        ("charger.outlet_off", "critical")}


def test_metered_only_units_give_readings_and_no_state() -> None:
    profile, m, faults = run(device("pdu-schleifenbauer-metered"), "charger")
    assert profile == "schleifenbauer_pdu"
    assert states(m) == {} and m["outlet.1.1.power_w"] == 75.0 and m["power_w"] == 75.0
    assert faults == set()
    profile, m, faults = run(device("pdu-raritan-px2-metered"), "charger")
    assert profile == "raritan_pdu" and states(m) == {} and m["outlet.1.2.name"] == "Outlet 2"
    assert faults == set()
    # an idle charger on a metered-only outlet is judged by its draw, never called "off"
    assert run(device("pdu-schleifenbauer-metered"), "charger", outlets=(2,))[2] == {
        ("charger.no_power_draw", "warning")}


def test_a_pdu_profile_that_finds_nothing_is_not_a_silent_ok() -> None:
    """The decoders say "nothing read": no outlet, power or current metric at all."""
    values = {k: v for k, v in device("pdu-sentry3").items()
              if not k.startswith("1.3.6.1.4.1.1718.3.2")}
    _, m, _ = run(values, "charger")
    assert not any(k.startswith(("outlet", "power_", "current_")) for k in m)


# -- transfer switches ----------------------------------------------------------------------------
def test_ats_reports_the_failed_source_not_outlets() -> None:
    profile, m, faults = run(device("ats-apc"), "charger")
    assert profile == "apc_ats"
    assert (m["power_source"], m["power_source.b.status"], m["power_redundancy"]) == (
        "a", "fail", "lost")
    assert faults == {("ats.source_failed", "warning")}
    healthy = device("ats-apc", **{"1_3_6_1_4_1_318_1_1_8_5_1_13_0": 2,
                                   "1_3_6_1_4_1_318_1_1_8_5_1_3_0": 2})
    assert run(healthy, "charger")[2] == set()
    broken = device("ats-apc", **{"1_3_6_1_4_1_318_1_1_8_5_1_10_0": 1})
    assert ("ats.fault", "critical") in run(broken, "charger")[2]


# -- UPSes ------------------------------------------------------------------------------------------
def test_ups_mib_alarm_table_battery_bad_and_bypass() -> None:
    """upsAlarmBatteryBad -> replace battery; upsAlarmOnBypass -> on bypass (RFC 1628)."""
    profile, m, faults = run(device("ups-rfc1628-alarms"), "ups")
    assert profile == "ups_mib"
    assert ("ups.replace_battery", "warning") in faults
    assert ("ups.on_bypass", "warning") in faults
    assert m["ups_alarms"] == 2
    overload = device("ups-rfc1628-alarms",
                      **{"1_3_6_1_2_1_33_1_6_2_1_2_2": "1.3.6.1.2.1.33.1.6.3.8"})
    assert ("ups.overload", "critical") in run(overload, "ups")[2]


def test_runtime_sentinels_are_unknown_not_readings() -> None:
    """65535 (0xFFFF) is "not available": no runtime of 1,092 min (or 18 h) is shown."""
    _, m, _ = run(device("ups-rfc1628-alarms"), "ups")
    assert "runtime_min" not in m and m["battery_charge_pct"] == 100.0
    _, m, faults = run(device("ups-netagent"), "ups")
    assert "runtime_min" not in m and m["battery_charge_pct"] == 97.0 and faults == set()
    _, m, _ = run(device("ups-netagent", **{"1_3_6_1_4_1_935_1_1_1_2_2_4_0": 1800}), "ups")
    assert m["runtime_min"] == 30.0  # upsSmartBatteryRunTimeRemaining is in seconds


def test_vendor_alarm_table_and_battery_flags() -> None:
    profile, m, faults = run(device("ups-eaton-xups"), "ups")
    assert profile == "eaton_ups"
    assert m["runtime_min"] == 21.0 and m["output_source"] == "battery"
    assert ("ups.on_battery", "warning") in faults            # xupsOnBattery in the table
    assert ("ups.replace_battery", "warning") in faults       # xupsBatteryAged yes(1)


def test_ups_decoder_reads_nothing_from_an_empty_reply() -> None:
    decoded = DECODERS["ups"](Sample(Reading({"battery_charge": None, "runtime_min": 65535})))
    assert not any(k.startswith(("battery_", "runtime_", "load_")) for k in decoded.metrics)


# -- printers: twin supply rows -----------------------------------------------------------------
def test_empty_twin_with_unknown_capacity_is_not_an_empty_toner() -> None:
    """Two "Black Toner" rows: 0 with capacity -2 (read as 0 %) and -3 (some remaining). The
    printer's error bits say nothing is wrong: no toner_empty, no fault at all."""
    _, m, faults = run(device("printer-twin-supply"), "printer")
    assert faults == set()
    assert m["supply.2.state"] == "some_remaining"


def test_a_guessed_percent_the_printer_denies_is_never_critical() -> None:
    values = device("printer-twin-supply", **{"1_3_6_1_2_1_43_11_1_1_6_1_2": b"Cyan Toner"})
    assert run(values, "printer")[2] == {("printer.toner_low", "warning")}
    confirmed = dict(values, **{"1.3.6.1.2.1.25.3.5.1.2.1": b"\x10"})  # noToner
    assert ("printer.toner_empty", "critical") in run(confirmed, "printer")[2]


# -- through hcc-agent and snmpsim ----------------------------------------------------------------
def _config(tmp: Path, port: int) -> Path:
    path = tmp / "devices.yaml"
    path.write_text(f"""\
center: {{id: test-center, name: "Trung tâm thử"}}
agent: {{id: pi-test, state_dir: "{tmp / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
defaults: {{interval: 30s, timeout: 3s}}
devices:
  - {{id: sentry, name: "Tram sac Sentry", type: charger, host: 127.0.0.1, outlets: [2],
     snmp: {{port: {port}, community: pdu-sentry4}}}}
  - {{id: gude, name: "Tram sac Gude", type: charger, host: 127.0.0.1,
     snmp: {{port: {port}, community: pdu-gude-8226}}}}
  - {{id: ups, name: "UPS tu mang", type: ups, host: 127.0.0.1,
     snmp: {{port: {port}, community: ups-rfc1628-alarms}}}}
  - {{id: ats, name: "Bo chuyen nguon", type: charger, host: 127.0.0.1,
     snmp: {{port: {port}, community: ats-apc}}}}
  - {{id: dli, name: "O cam DLI", type: charger, host: 127.0.0.1, outlets: [2],
     snmp: {{port: {port}, community: pdu-dli-energy}}}}
  - {{id: iboot, name: "iBoot", type: charger, host: 127.0.0.1, outlets: [1],
     snmp: {{port: {port}, community: pdu-iboot}}}}
""")
    return path


def test_families_through_the_agent(tmp_path: Path, snmp_devices) -> None:
    out = run_cli("hcc-agent", "check", "--config", str(_config(tmp_path, snmp_devices.port)),
                  "--json")
    rows = {r["device"]: r for r in json_lines(out.stdout)}
    assert {"sentry", "gude", "ups", "ats", "dli", "iboot"} <= set(rows), out.stderr
    sentry = rows["sentry"]
    assert [f["code"] for f in sentry["faults"]] == ["charger.outlet_off"]
    assert sentry["metrics"]["outlet.1.1.1.state"] == "on"
    gude = rows["gude"]
    assert (gude["status"], gude["metrics"]["outlet.2.state"]) == ("ok", "off")
    ups = rows["ups"]
    assert {f["code"] for f in ups["faults"]} == {"ups.replace_battery", "ups.on_bypass"}
    assert "runtime_min" not in ups["metrics"]
    assert [f["code"] for f in rows["ats"]["faults"]] == ["ats.source_failed"]
    # found by its ENERGY-OBJECT-MIB (net-snmp's generic sysObjectID), outlet 2 is off
    dli = rows["dli"]
    assert dli["metrics"]["snmp_profile"] == "energy_object_pdu"
    assert [f["code"] for f in dli["faults"]] == ["charger.outlet_off"]
    # 0-based: outlet 1 of devices.yaml is row 0, on
    assert (rows["iboot"]["status"], rows["iboot"]["metrics"]["outlet.0.state"]) == ("ok", "on")


def test_a_mixed_meter_table_keeps_each_kind_apart() -> None:
    """RNX UPDU's one meter table: the unit's total (upduMeterType 0/1) is the unit's power,
    the outlet meters (6) are outlets; a phase meter (3) is not added on top."""
    profile, m, _ = run(device("pdu-rnx-updu"), "charger")
    assert profile == "riedo_pdu"
    assert m["power_w"] == 230.0 and m["current_a"] == 1.1
    assert (m["outlet.1.1.power_w"], m["outlet.1.2.current_a"]) == (180.0, 0.3)
    assert (m["outlet.1.state"], m["outlet.2.state"]) == ("on", "off")


def test_unit_readings_given_as_scalars() -> None:
    profile, m, faults = run(device("pdu-socomec"), "charger")
    assert (profile, m["current_a"], faults) == ("socomec_pdu", 4.2, set())


def test_a_ups_profile_that_finds_nothing_reads_nothing() -> None:
    """A fallback UPS profile on a device without its objects: no battery, load, status or
    alarm count, so the check reports it as not supported instead of a silent ok."""
    values = {k: v for k, v in device("ups-rfc1628-alarms").items()
              if not k.startswith("1.3.6.1.2.1.33")}
    sample = Sample(reading_for(PROFILES["ups_mib"], values), DeviceContext("ups"),
                    values=PROFILES["ups_mib"].values)
    decoded = DECODERS["ups"](sample)
    assert decoded.metrics == {} and decoded.faults == ()


def test_vendor_profile_falls_back_to_the_ups_mib_copy_of_the_charge() -> None:
    """A Delta card that answers its own MIB only in part (dupsBatteryCondiction, no capacity)
    and the UPS-MIB too: the charge is still read, from upsEstimatedChargeRemaining."""
    values = device("ups-rfc1628-alarms", **{"1_3_6_1_2_1_1_2_0": "1.3.6.1.4.1.2254.2.4",
                                             "1_3_6_1_4_1_2254_2_4_7_1_0": 0})
    profile, m, _ = run(values, "ups")
    assert profile == "delta_ups" and m["battery_charge_pct"] == 100.0


def test_a_second_place_for_a_reading_is_used_only_when_the_first_gives_nothing() -> None:
    values = device("ups-netagent", **{"1_3_6_1_2_1_33_1_2_3_0": 40})  # UPS-MIB minutes too
    assert run(values, "ups")[1]["runtime_min"] == 40.0  # 65535 s in PPC: the UPS-MIB's copy
    values = device("ups-netagent", **{"1_3_6_1_2_1_33_1_2_3_0": 40,
                                       "1_3_6_1_4_1_935_1_1_1_2_2_4_0": 1800})
    assert run(values, "ups")[1]["runtime_min"] == 30.0  # the vendor's own reading first


def test_each_outlet_says_which_number_devices_yaml_gives_it() -> None:
    """Row indices are unit.outlet, 0-based or carry a sensor type: `.number` is the outlet as
    `outlets:` counts it, for anything that looks a configured charger outlet up."""
    _, m, _ = run(device("pdu-sentry3"), "charger")
    assert (m["outlet.1.1.3.number"], m["outlet.2.1.1.number"]) == (3, 1)
    _, m, _ = run(device("pdu-iboot"), "charger")
    assert (m["outlet.0.number"], m["outlet.1.number"]) == (1, 2)


def test_ups_outlet_groups_of_each_maker() -> None:
    """XUPS receptacles: on(1) off(2), a relay failed closed (7) still feeds its load."""
    values = device("ups-eaton-xups", **{"1_3_6_1_4_1_534_1_12_2_1_2_1": 1,
                                         "1_3_6_1_4_1_534_1_12_2_1_2_2": 2,
                                         "1_3_6_1_4_1_534_1_12_2_1_2_3": 7,
                                         "1_3_6_1_4_1_534_1_12_2_1_2_4": 4})
    assert states(run(values, "ups")[1]) == {"1": "on", "2": "off", "3": "on"}


def test_a_page_counter_at_its_sentinel_is_no_count() -> None:
    values = device("printer-twin-supply", **{"1_3_6_1_2_1_43_10_2_1_4_1_1": 4294967295})
    assert "page_count" not in run(values, "printer")[1]
    values = device("printer-twin-supply", **{"1_3_6_1_2_1_43_10_2_1_4_1_1": 65535})
    assert run(values, "printer")[1]["page_count"] == 65535


snmp_values = st.one_of(st.none(), st.integers(min_value=-(1 << 40), max_value=1 << 40),
                        st.binary(max_size=12), st.text(max_size=40))


@given(st.dictionaries(st.sampled_from(["battery_charge", "battery_charge_tenths", "runtime_s",
                                        "runtime_min", "runtime_ticks", "load_pct",
                                        "load_tenths_pct", "output_source", "battery_status",
                                        "on_bypass", "ats_selected", "ats_source_a",
                                        "ats_redundancy", "outlet_1_state",
                                        "battery_charge__ups_mib", "pdu_load_current_ma_1"]),
                       snmp_values),
       st.dictionaries(st.sampled_from(["descr", "state", "status", "name", "power_w", "number",
                                        "current_tenths_a", "type"]),
                       st.dictionaries(st.sampled_from(["1", "0.1", "1.1.14", "x"]), snmp_values,
                                       max_size=3)))
@example({}, {"descr": {"1": "1.3.6.1.2.1.33.1.6.3.²"}, "number": {"1": 2}})  # "²".isdigit()
@example({}, {"state": {"1.²": 1}})
def test_power_decoders_never_crash_on_odd_values(scalars: dict, table: dict) -> None:
    for profile in ("ups_mib", "eaton_ups", "apc_ats", "raritan_pdu", "riedo_pdu", "apc_pdu"):
        values = PROFILES[profile].values
        tables = {"ups_alarms": table, "ups_alarms_xups": table, "ats_sources": table,
                  "outlets": table, "outlets_sensors": table, "pdu_load": table}
        sample = Sample(Reading(scalars, tables), DeviceContext("charger", True, (1, 2)),
                        values=values)
        for name in ("ups", "ats", "outlets", "pdu_load"):
            decoded = DECODERS[name](sample)
            pct = decoded.metrics.get("battery_charge_pct")
            assert pct is None or (isinstance(pct, float) and 0.0 <= pct <= 100.0)
