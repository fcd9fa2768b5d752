"""Report by exception, pure: is this result worth a message of its own, or can the next
heartbeat confirm it in a line? A change of status or faults, a reading beyond its deadband, a
zero crossing, an unreachable device, or an old last report always goes out at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from hcc_common import readings

# the deadbands, the full-report period and the cycle are devices.yaml's (agent.deadbands,
# agent.refresh): the shared schema's defaults
from hcc_common.devices_config import CYCLE_S as CYCLE_S
from hcc_common.devices_config import DEFAULT_DEADBANDS as DEFAULT_DEADBANDS
from hcc_common.devices_config import REFRESH_S as REFRESH_S
from hcc_common.wire import FaultReport, MetricValue


@dataclass(frozen=True)
class Sent:
    """What the controller last got from a device in a message of its own."""

    status: str
    faults: tuple[FaultReport, ...]
    metrics: Mapping[str, MetricValue]
    at: float


def deadband(name: str, deadbands: Mapping[str, float]) -> float:
    for pattern, band in deadbands.items():
        if fnmatchcase(name, pattern):
            return band
    return readings.deadband(name)


def is_news(prev: Sent | None, status: str, faults: tuple[FaultReport, ...],
            metrics: Mapping[str, MetricValue], now: float, refresh_s: float,
            deadbands: Mapping[str, float] = DEFAULT_DEADBANDS) -> bool:
    if prev is None or now - prev.at >= refresh_s:
        return True  # the first report, and a full one now and then
    if status == "unreachable":
        return True  # every failed poll counts towards "unreachable": never delayed
    if status != prev.status or faults != prev.faults or metrics.keys() != prev.metrics.keys():
        return True
    for name, value in metrics.items():
        old = prev.metrics[name]
        if isinstance(value, bool) or isinstance(old, bool) \
                or not isinstance(value, int | float) or not isinstance(old, int | float):
            if value != old:
                return True
            continue
        # a count to or from 0 is news whatever its band (the no-clients rule, a backlog);
        # a measured 0.0 (an idle CPU) is just a reading
        crossed = type(value) is int and type(old) is int and (value == 0) != (old == 0)
        if crossed or abs(value - old) > deadband(name, deadbands):
            return True
    return False
