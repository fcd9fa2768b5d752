"""Outlets of any vendor's PDU, transfer switch or UPS outlet group: tables (and scalar
outlets) and on/off words from the profile, read the same way for every maker."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.charger_rules import charger_faults
from agent.snmpdecode.core import (
    Decoded,
    Sample,
    SnmpValue,
    Table,
    cell,
    integer,
    row_indices,
    text,
    whole_number,
)
from hcc_common.wire import FaultReport, MetricValue

# Readings a vendor gives in other units, and what turns them into ours.
POWER_COLUMNS = (("power_w", 1.0), ("power_tenths_w", 0.1), ("power_kw_thousandths", 1.0))
CURRENT_COLUMNS = (("current_a", 1.0), ("current_tenths_a", 0.1), ("current_hundredths_a", 0.01),
                   ("current_ma", 0.001))
# a scalar outlet (a one- or few-outlet unit with no table): "outlet_<n>_state", "_name", ...
_SCALAR_OUTLET = re.compile(r"^outlet_([0-9A-Za-z]+)_(state|name|power_w|power_tenths_w|"
                            r"current_a|current_tenths_a|current_hundredths_a|current_ma)$")


_SCALAR_LOAD = re.compile(r"^pdu_load_(power_w|power_tenths_w|power_hundredths_kw|power_tenths_kw|"
                          r"current_a|current_tenths_a|current_hundredths_a|current_ma)_\w+$")


@dataclass
class _Outlet:
    number: str
    state: str | None = None
    name: str | None = None
    power_w: float | None = None
    current_a: float | None = None
    tables: list[str] = field(default_factory=list)


def _scaled(row: dict[str, SnmpValue], choices: tuple[tuple[str, float], ...],
            sample: Sample, table: str) -> float | None:
    for name, factor in choices:
        value = sample.measured(f"{table}.{name}", row.get(name))
        if value is not None and value >= 0:
            return round(value * factor, 3)
    return None


def _rows(s: Sample) -> list[tuple[str, str, dict[str, SnmpValue]]]:
    """(table, row index, {column: value}) of every outlet table, then the scalar outlets."""
    rows: list[tuple[str, str, dict[str, SnmpValue]]] = []
    for tname in [t for t in s.reading.tables if t.startswith("outlets")]:
        table: Table = s.reading.table(tname)
        for idx in row_indices(table):
            row = {col: cell(table, col, idx) for col in table}
            if s.row_kept(tname, row):
                rows.append((tname, idx, row))
    scalar_rows: dict[str, dict[str, SnmpValue]] = {}
    for name, value in s.reading.scalars.items():
        m = _SCALAR_OUTLET.match(name)
        if m is not None and value is not None:
            scalar_rows.setdefault(m.group(1), {})[m.group(2)] = value
    rows.extend(("outlet", idx, row) for idx, row in scalar_rows.items())
    return rows


def read_outlets(s: Sample) -> dict[str, _Outlet]:
    """Every outlet by its row index. The first table that knows an outlet's state speaks for
    it (a vendor's older table before its newer one, listed so in the profile); readings and
    names come from whichever table has them (a metered table beside a switched one). A
    metered-only unit gives readings and no state: never guessed on or off. An outlet the
    device only names (a metered-only unit without outlet meters) is listed, stateless."""
    outlets: dict[str, _Outlet] = {}
    for tname, idx, row in _rows(s):
        raw_state = row.get("state")
        word = s.word(f"{tname}.state", raw_state)
        if word is None and isinstance(raw_state, bytes | str):
            word = (text(raw_state) or "").lower()  # a state sent as text ("On", "off")
        if word is not None and word not in ("on", "off"):
            word = None  # unknown, pending, rebooting...: no state rather than a guess
        given = integer(row.get("number"))
        base = s.first_index(tname)
        last = s.outlet_part(tname, idx)
        if given is not None:
            number = str(given)  # outlet 0 is an outlet
        elif (arc := whole_number(last)) is not None:
            number = str(arc + 1 - base)  # a 0-based table: row 0 is outlet 1
        else:
            number = last
        power = _scaled(row, POWER_COLUMNS, s, tname)
        exponent = integer(row.get("power_exp"))  # ENERGY-OBJECT-MIB's eoPowerUnitMultiplier
        if power is not None and exponent is not None and -24 <= exponent <= 24:
            power = round(power * 10.0 ** exponent, 3)
        current = _scaled(row, CURRENT_COLUMNS, s, tname)
        name = text(row.get("name"))
        if word is None and power is None and current is None and not name:
            continue  # a row that says nothing (an empty or unsupported column)
        o = outlets.setdefault(idx, _Outlet(number))
        o.tables.append(tname)
        if o.state is None and word is not None:
            o.state = word
        if o.name is None and name:
            o.name = name
        if o.power_w is None:
            o.power_w = power
        if o.current_a is None:
            o.current_a = current
    return outlets


def decode_outlets(s: Sample) -> Decoded:
    """Per outlet: state (on/off, only where the device says), name, power and current;
    charger faults for the outlets devices.yaml names as chargers."""
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    outlets = read_outlets(s)
    for idx, o in outlets.items():
        key = f"outlet.{idx}"
        if (number := whole_number(o.number)) is not None:
            # the outlet's number as devices.yaml's `outlets:` counts it (the row index may be
            # unit.outlet, 0-based, or carry a sensor type)
            metrics[f"{key}.number"] = number
        if o.state is not None:
            metrics[f"{key}.state"] = o.state
        if o.name:
            metrics[f"{key}.name"] = o.name
        if o.power_w is not None:
            metrics[f"{key}.power_w"] = o.power_w
        if o.current_a is not None:
            metrics[f"{key}.current_a"] = o.current_a
    states = [o for o in outlets.values() if o.state is not None]
    if states:
        metrics["outlets_on"] = sum(1 for o in states if o.state == "on")
    if outlets:
        metrics["outlets_read"] = len(outlets)
    judged: set[str] = set()
    for o in outlets.values():
        if whole_number(o.number) not in s.device.charger_outlets:
            continue
        if o.number in judged:
            continue  # the same outlet in a second table (Raritan's sensor rows): once
        judged.add(o.number)
        label = f"{o.number} ({o.name})" if o.name and o.name != o.number else o.number
        if o.state is None and o.power_w is None:
            continue  # nothing to judge the charger by
        # a metered-only outlet cannot say "off"; it is judged by its draw alone
        found.extend(charger_faults(s.device, label, on=o.state != "off", power_w=o.power_w))
    return Decoded(metrics, tuple(found))


def decode_pdu_load(s: Sample) -> Decoded:
    """What a PDU draws as a whole (metered units without per-outlet readings, banks and
    phases): tables named "pdu_load*" with power and current columns in any of the units of
    POWER_COLUMNS / CURRENT_COLUMNS, or "power_hundredths_kw" / "power_tenths_kw"; or scalars
    named "pdu_load_<column>_<phase>" on units without a table. Total power is the sum over
    the first table's rows that have it (daisy-chained units, phases); current the largest
    row."""
    metrics: dict[str, MetricValue] = {}
    sources: list[tuple[str, list[dict[str, SnmpValue]]]] = []
    for tname in [t for t in s.reading.tables if t.startswith("pdu_load")]:
        table = s.reading.table(tname)
        rows = [{col: cell(table, col, idx) for col in table} for idx in row_indices(table)]
        sources.append((tname, [row for row in rows if s.row_kept(tname, row)]))
    # a unit with scalars instead, one per phase: pdu_load_current_tenths_a_1, ...
    scalar_rows: list[dict[str, SnmpValue]] = [
        {m.group(1): value} for name, value in s.reading.scalars.items()
        if (m := _SCALAR_LOAD.match(name)) is not None and value is not None]
    if scalar_rows:
        sources.append(("pdu_load", scalar_rows))
    for tname, rows in sources:
        powers: list[float] = []
        currents: list[float] = []
        for row in rows:
            power = _scaled(row, (*POWER_COLUMNS, ("power_hundredths_kw", 10.0),
                                  ("power_tenths_kw", 100.0)), s, tname)
            current = _scaled(row, CURRENT_COLUMNS, s, tname)
            if power is not None:
                powers.append(power)
            if current is not None:
                currents.append(current)
        if powers and "power_w" not in metrics:
            metrics["power_w"] = round(sum(powers), 3)
        if currents and "current_a" not in metrics:
            metrics["current_a"] = max(currents)
    return Decoded(metrics)
