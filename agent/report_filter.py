"""Report by exception, pure: is this result worth a message of its own, or can the next
heartbeat confirm it in a line? A change of status or faults, a reading beyond its deadband, a
zero crossing, an unreachable device, or an old last report always goes out at once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

from hcc_common.wire import FaultReport, MetricValue

# How far a reading may move before it is news (metric name patterns; first match wins).
# Everything else (texts, states, counts with no entry) is news on any change.
DEFAULT_DEADBANDS: Mapping[str, float] = {
    "uptime_s": math.inf,        # always moving; reboots are found on the box and reported
    "*_pct": 1.0, "*.pct": 1.0,  # supply, tray, battery levels, loads: percentage points
    "page_count": 50.0,          # pages
    "*_ms": 100.0,               # response times
    "*_mbps": 1.0,
    "*power_w": 5.0, "*current_a": 0.2, "*_v": 3.0, "*temperature_c": 1.0,
    "*errors_per_s": 1.0, "runtime_min": 2.0, "disk_percent": 1.0,
    "cpu_temp_c": 3.0, "*temp_c": 1.0,
    "wifi_clients": 2.0,         # (a move to or from 0 is always news: the no-clients rule)
    "outbox_*": math.inf,
    # the box itself (its heartbeat and its own result): load moves all the time
    "cpu_percent": 25.0, "memory_percent": 5.0, "load1": 1.0,
}


# A full report of every device this often even when nothing moved (agent.refresh): a reading
# can creep within its deadband, and a controller that lost its state gets it back.
REFRESH_S = 1800.0
# By exception, one heartbeat per cycle confirms the devices checked in it (agent.heartbeat's
# default then; the default poll interval)
CYCLE_S = 30.0


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
    return 0.0


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
