"""Pure parsers and rules: plugin output, IPP reasons, plug replies, calendars, holds, Pi flags."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.checks import host, ipp, shelly, tasmota
from agent.hold import FaultHold
from agent.plugin_output import parse, parse_perfdata
from agent.snmpdecode import DeviceContext
from hcc_common.calendar import OpeningHours, parse_days, parse_ranges
from hcc_common.wire import FaultReport

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_plugin_output_with_perfdata_and_long_text() -> None:
    r = parse(1, "DISK WARNING - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n"
                 "long text | 'inode use'=12%;80;90 time=0.004s")
    assert r.status == "warning"
    assert r.summary == "DISK WARNING - free space: / 3326 MB (56%);"
    assert r.perfdata == {"plugin.root": 2_643_000_000, "plugin.inode_use": 12,
                          "plugin.time": 0.004}


def test_plugin_exit_codes_beyond_3_are_unknown() -> None:
    assert parse(127, "sh: not found").status == "unknown"
    assert parse(0, "").summary == ""


@given(st.text(max_size=200))
def test_perfdata_parser_never_crashes(text: str) -> None:
    for key, value in parse_perfdata(text).items():
        assert key.startswith("plugin.") and isinstance(value, int | float)


@pytest.mark.parametrize(("reasons", "expected"), [
    (["none"], set()),
    (["media-jam-error"], {("printer.jammed", "critical")}),
    (["media-jam"], {("printer.jammed", "critical")}),  # no suffix means error
    (["media-empty-report", "toner-low-report"], set()),  # reports are informational
    (["door-open-warning"], {("printer.door_open", "warning")}),
    (["spool-area-full-error"], {("printer.error", "warning")}),
])
def test_ipp_state_reasons_and_suffixes(reasons: list[str], expected: set[tuple[str, str]]) -> None:
    _, found = ipp.decode({"printer-state": 3, "printer-state-reasons": reasons}, DeviceContext())
    assert {(f.code, f.severity) for f in found} == expected


def test_ipp_supply_strings_follow_rfc3805() -> None:
    attrs = {"printer-state": 3, "printer-state-reasons": ["toner-low-warning"],
             "printer-supply": ["index=1;class=supplyThatIsConsumed;type=toner;unit=percent;"
                                "maxcapacity=100;level=-3;colorantname=black;"],
             "printer-supply-description": ["Black"]}
    metrics, found = ipp.decode(attrs, DeviceContext())
    assert metrics["supply.1.state"] == "some_remaining"
    # no level known: the printer's own warning stands, for a generic toner
    assert [(f.code, f.severity, dict(f.params)) for f in found] == [
        ("printer.toner_low", "warning", {"supply": "toner"})]


def test_shelly_reply_decoding() -> None:
    ctx = DeviceContext("charger", center_open=False)
    metrics, found = shelly.decode({"output": True, "apower": 0.0, "temperature": {"tC": 30}},
                                   ctx, "plug 0")
    assert metrics["plug.power_w"] == 0.0 and found == []  # idle overnight is fine
    with pytest.raises(shelly.ReplyError):
        shelly.decode({"output": "yes"}, ctx, "plug 0")


def test_tasmota_second_relay_and_bad_reply() -> None:
    ctx = DeviceContext("charger")
    _, found = tasmota.decode({"POWER1": "ON", "POWER2": "OFF"}, {}, 1, ctx, "plug 1")
    assert [f.code for f in found] == ["charger.outlet_off"]
    with pytest.raises(tasmota.ReplyError):
        tasmota.decode({"Command": "Unknown"}, {}, 0, ctx, "plug 0")


def test_opening_hours_in_the_centers_time_zone() -> None:
    hours = OpeningHours({d: parse_ranges("07:30-11:30, 13:00-17:00") for d in parse_days("mon-fri")},
                         frozenset({datetime(2026, 9, 2).date()}))
    assert hours.is_open(datetime(2026, 11, 27, 8, 0, tzinfo=HCM))       # Friday morning
    assert not hours.is_open(datetime(2026, 11, 27, 12, 0, tzinfo=HCM))  # lunch
    assert not hours.is_open(datetime(2026, 11, 28, 8, 0, tzinfo=HCM))  # Saturday
    assert not hours.is_open(datetime(2026, 9, 2, 8, 0, tzinfo=HCM))    # National Day
    # 01:00 UTC is 08:00 in Ha Noi
    assert hours.is_open(datetime(2026, 11, 27, 1, 0, tzinfo=ZoneInfo("UTC")))
    assert parse_days("fri-mon") == [4, 5, 6, 0]
    with pytest.raises(ValueError):
        parse_ranges("17:00-07:00")


def test_hold_reports_only_lasting_faults_and_forgets_cleared_ones() -> None:
    hold = FaultHold({"charger.no_power_draw": 600.0})
    idle = (FaultReport("charger.no_power_draw", "warning", {"outlet": "1"}),)
    jam = (FaultReport("printer.jammed", "critical", {}),)
    assert hold.apply("c1", idle + jam, 0.0) == jam
    assert hold.apply("c1", idle, 599.0) == ()
    assert hold.apply("c1", idle, 600.0) == idle
    assert hold.apply("c1", (), 700.0) == ()
    assert hold.apply("c1", idle, 701.0) == ()  # the clock starts again


def test_raspberry_pi_throttle_flags() -> None:
    assert [f.code for f in host.faults_of({"throttled_flags": 0x50005})] == [
        "host.undervoltage", "host.throttled"]
    past = host.faults_of({"throttled_flags": 0x50000})
    assert [(f.code, f.severity) for f in past] == [("host.undervoltage", "warning")]
    assert host.faults_of({"throttled_flags": 0, "clock_synced": 1, "disk_percent": 0.0}) == ()
    assert [f.code for f in host.faults_of({"clock_synced": 0})] == ["host.clock_unsynced"]
    assert host.read_throttled(("/nonexistent",)) is None
