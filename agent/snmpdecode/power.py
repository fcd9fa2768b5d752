"""Outlets of any vendor's PDU (tables and on/off words from the profile) and UPSes (UPS-MIB,
RFC 1628, and vendor MIBs read into the same named objects)."""

from __future__ import annotations

from agent.charger_rules import charger_faults
from agent.snmpdecode.core import Decoded, Sample, SnmpValue, cell, fault, integer, row_indices, text
from hcc_common.wire import FaultReport, MetricValue

# Readings a vendor gives in other units, and what turns them into ours.
POWER_COLUMNS = (("power_w", 1.0), ("power_tenths_w", 0.1))
CURRENT_COLUMNS = (("current_a", 1.0), ("current_tenths_a", 0.1), ("current_hundredths_a", 0.01),
                   ("current_ma", 0.001))


def _scaled(table_or_scalars: dict[str, SnmpValue], choices: tuple[tuple[str, float], ...]
            ) -> float | None:
    for name, factor in choices:
        value = integer(table_or_scalars.get(name))
        if value is not None and value >= 0:
            return round(value * factor, 3)
    return None


def decode_outlets(s: Sample) -> Decoded:
    """Every table of the profile whose name starts with "outlets": state (through the
    profile's words for "<table>.state"), name, power and current. The first table that
    knows an outlet's state speaks for it (a vendor's older table before its newer one)."""
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    seen: set[str] = set()  # row indices whose state is known
    for tname in [t for t in s.reading.tables if t.startswith("outlets")]:
        table = s.reading.table(tname)
        for idx in row_indices(table):
            state = s.word(f"{tname}.state", cell(table, "state", idx))
            given = integer(cell(table, "number", idx))  # outlet 0 is an outlet
            number = str(given) if given is not None else idx.split(".")[-1]
            row = {col: cell(table, col, idx) for col in table}
            power = _scaled(row, POWER_COLUMNS)
            current = _scaled(row, CURRENT_COLUMNS)
            if state not in ("on", "off"):
                if power is not None and idx in seen:  # a metered-only table
                    metrics[f"outlet.{idx}.power_w"] = power
                continue
            if idx in seen:
                continue
            seen.add(idx)
            key = f"outlet.{idx}"
            metrics[f"{key}.state"] = state
            name = text(cell(table, "name", idx))
            if name:
                metrics[f"{key}.name"] = name
            if power is not None:
                metrics[f"{key}.power_w"] = power
            if current is not None:
                metrics[f"{key}.current_a"] = current
            if number.isdigit() and int(number) in s.device.charger_outlets:
                label = f"{number} ({name})" if name and name != number else number
                found.extend(charger_faults(s.device, label, on=state == "on", power_w=power))
    if seen:
        metrics["outlets_on"] = sum(1 for k, v in metrics.items()
                                    if k.endswith(".state") and v == "on")
    return Decoded(metrics, tuple(found))


# -- UPS ------------------------------------------------------------------------------------------
BATTERY_LOW_PCT = 20.0
OVERLOAD_PCT = 100.0


def decode_ups(s: Sample) -> Decoded:
    """Battery charge, runtime and load, and what the UPS says of its battery and output.
    Scalars (named alike in every UPS profile): battery_charge (percent) or
    battery_charge_tenths; runtime_min, runtime_s or runtime_ticks; load_pct; and raw states
    turned into words by the profile: battery_status (normal, low, depleted), output_source
    (normal, battery, bypass, off, ...), replace_battery (yes, no), on_battery (yes, no),
    overload (yes, no)."""
    sc = s.reading.scalars
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    charge = integer(sc.get("battery_charge"))
    tenths = integer(sc.get("battery_charge_tenths"))
    pct = float(charge) if charge is not None and 0 <= charge <= 100 else (
        tenths / 10.0 if tenths is not None and 0 <= tenths <= 1000 else None)
    if pct is not None:
        metrics["battery_charge_pct"] = pct
    runtime_s: float | None = None
    for name, factor in (("runtime_s", 1.0), ("runtime_min", 60.0), ("runtime_ticks", 0.01)):
        value = integer(sc.get(name))
        if value is not None and value >= 0:
            runtime_s = value * factor
            break
    if runtime_s is not None:
        metrics["runtime_min"] = round(runtime_s / 60.0, 1)
    loads = [v for v in (integer(x) for x in s.reading.table("ups_output").get("load", {}).values())
             if v is not None and v >= 0]
    load = integer(sc.get("load_pct"))
    if load is None and loads:
        load = max(loads)
    if load is not None and load >= 0:
        metrics["load_pct"] = load
    battery = s.word("battery_status", sc.get("battery_status"))
    source = s.word("output_source", sc.get("output_source"))
    replace = s.word("replace_battery", sc.get("replace_battery"))
    on_batt = s.word("on_battery", sc.get("on_battery")) == "yes" or source == "battery"
    overload = s.word("overload", sc.get("overload")) == "yes" or (
        load is not None and load > OVERLOAD_PCT)
    for name, word in (("battery_status", battery), ("output_source", source),
                       ("replace_battery", replace)):
        if word is not None:
            metrics[name] = word
    minutes = round(runtime_s / 60.0) if runtime_s is not None else "?"
    if source == "off":
        found.append(fault("ups.output_off"))
    if on_batt:
        found.append(fault("ups.on_battery", charge=pct if pct is not None else "?",
                           minutes=minutes))
    if battery in ("low", "depleted") or (on_batt and pct is not None and pct <= BATTERY_LOW_PCT):
        found.append(fault("ups.battery_low", charge=pct if pct is not None else "?",
                           minutes=minutes))
    if replace == "yes" or battery == "replace":
        found.append(fault("ups.replace_battery"))
    if overload:
        found.append(fault("ups.overload", load=load if load is not None else "?"))
    return Decoded(metrics, tuple(found))
