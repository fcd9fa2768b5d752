"""Pure rules shared by every way of watching a charging station (PDU outlet, smart plug)."""

from __future__ import annotations

from collections.abc import Iterable

from agent.snmpdecode.core import DeviceContext, fault
from hcc_common.wire import FaultReport


def charger_faults(ctx: DeviceContext, label: str, *, on: bool, power_w: float | None,
                   temperature_c: float | None = None,
                   device_errors: Iterable[str] = ()) -> list[FaultReport]:
    """Off, overloaded, overheating, or on but idle while the center is open."""
    t = ctx.thresholds
    errors = {e.lower() for e in device_errors}
    found: list[FaultReport] = []
    if not on:
        return [fault("charger.outlet_off", outlet=label)]
    if "overpower" in errors or (power_w is not None and power_w > t.max_power_w):
        found.append(fault("charger.overload", outlet=label, power=power_w))
    if "overtemp" in errors or (temperature_c is not None and temperature_c > t.max_temperature_c):
        found.append(fault("charger.overtemp", outlet=label, temperature=temperature_c))
    if power_w is not None and power_w < t.min_power_w and ctx.center_open and not found:
        found.append(fault("charger.no_power_draw", outlet=label, power=power_w))
    return found
