"""UPSes: UPS-MIB (RFC 1628) and vendor MIBs read into the same named objects."""

from __future__ import annotations

from dataclasses import replace as with_changes

from agent.snmpdecode.core import NOT_A_READING, Decoded, Sample, SnmpValue, fault, whole_number
from hcc_common import readings
from hcc_common.wire import FaultReport, MetricValue

# -- UPS ------------------------------------------------------------------------------------------
BATTERY_LOW_PCT = 20.0
OVERLOAD_PCT = 100.0


# UPS-MIB upsWellKnownAlarms (1.3.6.1.2.1.33.1.6.3.N), as upsAlarmDescr names them, and what
# each one means here. The alarm table lists only alarms present now.
WELL_KNOWN_ALARMS = "1.3.6.1.2.1.33.1.6.3"
ALARM_MEANING: dict[int, str] = {
    1: "replace_battery",      # upsAlarmBatteryBad
    2: "on_battery",           # upsAlarmOnBattery
    3: "battery_low",          # upsAlarmLowBattery
    4: "battery_low",          # upsAlarmDepletedBattery
    5: "overtemp",             # upsAlarmTempBad
    6: "input_bad",            # upsAlarmInputBad
    7: "general_fault",        # upsAlarmOutputBad
    8: "overload",             # upsAlarmOutputOverload
    9: "on_bypass",            # upsAlarmOnBypass
    10: "general_fault",       # upsAlarmBypassBad
    11: "output_off",          # upsAlarmOutputOffAsRequested
    12: "output_off",          # upsAlarmUpsOffAsRequested
    13: "charger_failed",      # upsAlarmChargerFailed
    14: "output_off",          # upsAlarmUpsOutputOff
    15: "output_off",          # upsAlarmUpsSystemOff
    16: "fan_failed",          # upsAlarmFanFailure
    17: "general_fault",       # upsAlarmFuseFailure
    18: "general_fault",       # upsAlarmGeneralFault
    19: "selftest_failed",     # upsAlarmDiagnosticTestFailed
    20: "comm_lost",           # upsAlarmCommunicationsLost: the card lost the UPS, no fault of it
    21: "output_off",          # upsAlarmAwaitingPower
    22: "shutdown_pending",    # upsAlarmShutdownPending
    23: "shutdown_pending",    # upsAlarmShutdownImminent
    24: "test",                # upsAlarmTestInProgress: nothing wrong
}
ALARM_NAMES = {7: "output", 10: "bypass", 17: "fuse", 18: "general"}
# a vendor's yes/no scalars that say the same as a well-known alarm
FLAG_SCALARS = ("on_bypass", "overtemp", "input_bad", "charger_failed", "fan_failed",
                "selftest_failed", "general_fault", "shutdown_pending", "battery_low",
                "battery_bad", "output_off")


def ups_alarms(s: Sample) -> dict[str, str]:
    """The alarms present now, {meaning: detail}: UPS-MIB's upsAlarmTable (table "ups_alarms",
    column descr: a upsWellKnownAlarms OID), and a vendor's alarm table of the same shape
    (tables "ups_alarms_*"), whose alarm OIDs' last arc the profile turns into a meaning
    ("ups_alarms_<vendor>.descr": {3: on_battery, ...})."""
    out: dict[str, str] = {}
    for tname in [t for t in s.reading.tables if t.startswith("ups_alarms")]:
        for value in s.reading.table(tname).get("descr", {}).values():
            oid = value.lstrip(".") if isinstance(value, str) else ""
            head, _, tail = oid.rpartition(".")
            number = whole_number(tail)
            if number is None:
                continue
            if tname == "ups_alarms":
                if head != WELL_KNOWN_ALARMS:
                    continue  # a vendor's own alarm: its meaning is in the vendor's MIB
                meaning = ALARM_MEANING.get(number)
                detail = ALARM_NAMES.get(number, meaning or "")
            else:
                meaning = s.word(f"{tname}.descr", number)
                detail = meaning or ""
            if meaning is not None:
                out.setdefault(meaning, detail)
    return out


def _merged_scalars(s: Sample) -> dict[str, SnmpValue]:
    """The profile's scalars with each "<name>__<where>" folded into <name> where <name> gave
    nothing (absent, or a "not available" value); second places in the profile's order."""
    scalars = s.reading.scalars
    merged: dict[str, SnmpValue] = {k: v for k, v in scalars.items() if "__" not in k}
    for name, value in scalars.items():
        if "__" not in name:
            continue
        base = name.split("__", 1)[0]
        current = merged.get(base)
        if current is None or (isinstance(current, int) and current in NOT_A_READING):
            merged[base] = value
    return merged


def _percent(s: Sample, name: str, scale: float = 1.0) -> float | None:
    value = s.measured(name, s.reading.scalars.get(name))
    if value is None or value < 0 or value * scale > 100:
        return None
    return value * scale


def decode_ups(s: Sample) -> Decoded:
    """Battery charge, runtime and load, and what the UPS says of its battery and output.
    Scalars (named alike in every UPS profile; "<name>__<where>" is a second place for the same
    reading, used when the first gives nothing: the UPS-MIB copy on a card that speaks both, a
    second branch of the vendor's MIB): battery_charge (percent) or
    battery_charge_tenths; runtime_min, runtime_s, runtime_ticks or runtime_tenths_min;
    load_pct or load_tenths_pct (else the largest of table "ups_output" column load); and raw
    states turned into words by the profile: battery_status (normal, low, depleted),
    output_source (normal, battery, bypass, off, ...), replace_battery, on_battery, overload
    and the flags of FLAG_SCALARS (yes, no). The alarm tables ("ups_alarms*", column descr)
    add the alarms present. A "not available" value (the MIB's sentinel, 65535, -1...) is no
    reading: it is left out, never shown as a figure."""
    sc = _merged_scalars(s)
    s = with_changes(s, reading=with_changes(s.reading, scalars=sc))
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    pct = _percent(s, "battery_charge")
    if pct is None:
        pct = _percent(s, "battery_charge_tenths", 0.1)
    if pct is not None:
        metrics[readings.BATTERY_CHARGE_PCT.key] = round(pct, 1)
    runtime_s: float | None = None
    for name, factor in (("runtime_s", 1.0), ("runtime_min", 60.0), ("runtime_ticks", 0.01),
                         ("runtime_tenths_min", 6.0)):
        value = s.measured(name, sc.get(name))
        if value is not None and value >= 0:
            runtime_s = value * factor
            break
    if runtime_s is not None:
        metrics[readings.RUNTIME_MIN.key] = round(runtime_s / 60.0, 1)
    loads = [v for v in (s.measured("ups_output.load", x)
                         for x in s.reading.table("ups_output").get("load", {}).values())
             if v is not None and 0 <= v <= 1000]
    load: float | None = s.measured("load_pct", sc.get("load_pct"))
    if load is None and (tenths := s.measured("load_tenths_pct", sc.get("load_tenths_pct"))
                         ) is not None:
        load = tenths / 10.0
    if load is not None and not 0 <= load <= 1000:
        load = None
    if load is None and loads:
        load = max(loads)
    if load is not None:
        metrics[readings.LOAD_PCT.key] = load
    alarms = ups_alarms(s)
    battery = s.word("battery_status", sc.get("battery_status"))
    source = s.word("output_source", sc.get("output_source"))
    replace = s.word("replace_battery", sc.get("replace_battery"))
    flags = {name for name in FLAG_SCALARS if s.word(name, sc.get(name)) == "yes"}
    flags |= set(alarms)
    on_batt = s.word("on_battery", sc.get("on_battery")) == "yes" or source == "battery" or (
        "on_battery" in flags)
    overload = s.word("overload", sc.get("overload")) == "yes" or "overload" in flags or (
        load is not None and load > OVERLOAD_PCT)
    for name, word in (("battery_status", battery), ("output_source", source),
                       ("replace_battery", replace)):
        if word is not None:
            metrics[name] = word
    if alarms or (metrics and any(t.startswith("ups_alarms") for t in s.reading.tables)):
        # an empty alarm table is "no alarm" only beside other readings: alone, it is what a
        # device that holds none of the profile's objects gives (nothing read, never an ok)
        metrics["ups_alarms"] = len(alarms)
    minutes = round(runtime_s / 60.0) if runtime_s is not None else "?"
    charge = round(pct) if pct is not None else "?"
    if source == "off" or "output_off" in flags:
        found.append(fault("ups.output_off"))
    if on_batt:
        found.append(fault("ups.on_battery", charge=charge, minutes=minutes))
    if battery in ("low", "depleted") or "battery_low" in flags or (
            on_batt and pct is not None and pct <= BATTERY_LOW_PCT):
        found.append(fault("ups.battery_low", charge=charge, minutes=minutes))
    if replace == "yes" or battery == "replace" or flags & {"replace_battery", "battery_bad"}:
        found.append(fault("ups.replace_battery"))
    if overload:
        found.append(fault("ups.overload", load=load if load is not None else "?"))
    if "on_bypass" in flags:
        # only where the UPS raises it (an alarm or its on-bypass flag): an output source of
        # "bypass" alone is also what some UPSes report in ECO/high-efficiency mode
        found.append(fault("ups.on_bypass"))
    for flag in ("overtemp", "input_bad", "charger_failed", "fan_failed", "selftest_failed",
                 "shutdown_pending"):
        if flag in flags:
            found.append(fault(f"ups.{flag}"))
    if "general_fault" in flags:
        found.append(fault("ups.general_fault", alarm=alarms.get("general_fault", "general")))
    return Decoded(metrics, tuple(found))
