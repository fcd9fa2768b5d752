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
    "*power_w": 5.0, "*current_a": 0.2, "*_v": 3.0, "*temperature_c": 1.0, "*temp_c": 1.0,
    "*errors_per_s": 1.0, "runtime_min": 2.0, "disk_percent": 1.0,
    "wifi_clients": 2.0,         # (a move to or from 0 is always news: the no-clients rule)
    "outbox_*": math.inf,
}


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
        if (value == 0) != (old == 0) or abs(value - old) > deadband(name, deadbands):
            return True
    return False
