"""APC PowerNet-MIB outlets (legacy rPDU and rPDU2 tables) as phone-charging stations."""

from __future__ import annotations

from agent.charger_rules import charger_faults
from agent.snmpdecode.core import Decoded, Sample, Table, cell, integer, row_indices, text
from hcc_common.wire import FaultReport, MetricValue

# The two APC tables number on/off the opposite way round.
LEGACY_ON, LEGACY_OFF = 1, 2        # rPDUOutletStatusOutletState
RPDU2_OFF, RPDU2_ON = 1, 2          # rPDU2OutletSwitchedStatusState


def _states(table: Table, column: str, on: int, off: int) -> dict[int, bool]:
    out: dict[int, bool] = {}
    for idx in row_indices(table):
        value = integer(cell(table, column, idx))
        number = integer(cell(table, "number", idx)) if "number" in table else None
        outlet = number if number is not None else int(idx.split(".")[-1])
        if value == on:
            out[outlet] = True
        elif value == off:
            out[outlet] = False
    return out


def _names(*tables: Table) -> dict[int, str]:
    names: dict[int, str] = {}
    for table in tables:
        for idx in row_indices(table):
            label = text(cell(table, "name", idx))
            if label:
                names.setdefault(int(idx.split(".")[-1]), label)
    return names


def decode_apc_outlets(s: Sample) -> Decoded:
    legacy = s.reading.table("apc_outlets")
    switched = s.reading.table("apc2_switched")
    metered = s.reading.table("apc2_metered")
    legacy_on = _states(legacy, "state", LEGACY_ON, LEGACY_OFF)
    rpdu2_on = _states(switched, "state", RPDU2_ON, RPDU2_OFF)
    names = _names(switched, legacy)
    power: dict[int, float] = {}
    current: dict[int, float] = {}
    for idx in row_indices(metered):
        outlet = int(idx.split(".")[-1])
        watts = integer(cell(metered, "power_w", idx))
        tenths = integer(cell(metered, "current_tenths_a", idx))
        if watts is not None and watts >= 0:
            power[outlet] = float(watts)
        if tenths is not None and tenths >= 0:
            current[outlet] = tenths / 10.0
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    for outlet in sorted(set(legacy_on) | set(rpdu2_on)):
        # The legacy table is on every APC switched PDU and is the one seen consistent on real
        # units; rPDU2 speaks for outlets (or whole PDUs) the legacy table does not list.
        on = legacy_on[outlet] if outlet in legacy_on else rpdu2_on[outlet]
        metrics[f"outlet.{outlet}.on"] = int(on)
        if outlet in power:
            metrics[f"outlet.{outlet}.power_w"] = power[outlet]
        if outlet in current:
            metrics[f"outlet.{outlet}.current_a"] = current[outlet]
        if outlet not in s.device.charger_outlets:
            continue  # an outlet is a charger only where devices.yaml says so
        label = names.get(outlet, str(outlet))
        label = f"{outlet} ({label})" if label != str(outlet) else label
        # Switched-only PDUs report no per-outlet power: then only on/off can be judged.
        found.extend(charger_faults(s.device, label, on=on, power_w=power.get(outlet)))
    return Decoded(metrics, tuple(found))
