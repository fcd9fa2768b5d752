"""The device page's data, pure: current readings grouped for drawing (supplies, trays, outlets,
radios, UPS) and history series (full rate for a day, hourly min/avg/max beyond)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from controller.history import (
    HOUR_S,
    HourRollup,
    Run,
    Sample,
    coverage,
    reading_valid_s,
)
from hcc_common.wire import MetricValue

RANGES: Mapping[str, float] = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
RAW_RANGE_S = 86400.0  # up to a day: every reading; beyond: the hourly roll-up

_GROUP = re.compile(r"^(supply|marker|tray|outlet|radio)\.([^.]+)\.(\w+)$")
UPS_KEYS = ("battery_charge_pct", "runtime_min", "load_pct", "battery_status", "output_source",
            "replace_battery")
# what each chart draws: (chart id, metrics whose names match)
CHARTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("supplies", re.compile(r"^(supply|marker)\.[^.]+\.pct$")),
    ("pages", re.compile(r"^page_count$")),
    ("clients", re.compile(r"^wifi_clients$")),
    ("power", re.compile(r"^(outlet\.[^.]+\.power_w|plug\.power_w|power_w)$")),
    ("ups", re.compile(r"^(battery_charge_pct|runtime_min|load_pct)$")),
    ("latency", re.compile(r"^(http_latency_ms|ping_rtt_ms|tcp_connect_ms)$")),
    ("speed", re.compile(r"^(wifi_probe|wan)_download_mbps$")),
    ("probe", re.compile(r"^(wifi_probe|wan)_(dhcp|dns|internet)_ms$")),
)


def readings(metrics: Mapping[str, MetricValue]) -> dict[str, Any]:
    """Current readings grouped the way the page draws them; the rest as plain values."""
    groups: dict[str, dict[str, dict[str, MetricValue]]] = defaultdict(dict)
    rest: dict[str, MetricValue] = {}
    for key, value in metrics.items():
        m = _GROUP.match(key)
        if m is not None:
            kind, idx, field = m.groups()
            groups[kind].setdefault(idx, {"id": idx})[field] = value
        elif key not in UPS_KEYS:
            rest[key] = value
    ups = {k: metrics[k] for k in UPS_KEYS if k in metrics}
    return {
        "supplies": [*groups["supply"].values(), *groups["marker"].values()],
        "trays": list(groups["tray"].values()),
        "outlets": list(groups["outlet"].values()),
        "radios": list(groups["radio"].values()),
        "wifi_clients": metrics.get("wifi_clients"),
        "ups": ups or None,
        "page_count": metrics.get("page_count"),
        "other": dict(sorted(rest.items())),
    }


def _chart_of(metric: str) -> str | None:
    for chart, pattern in CHARTS:
        if pattern.match(metric):
            return chart
    return None


def series_from_samples(samples: Sequence[Sample], start: float, end: float,
                        names: Mapping[str, str]) -> dict[str, Any]:
    """A day or less: every reading (min = avg = max)."""
    charts: dict[str, dict[str, list[list[float]]]] = defaultdict(dict)
    for s in samples:
        for metric, value in s.values.items():
            chart = _chart_of(metric)
            if chart is not None:
                charts[chart].setdefault(metric, []).append([s.ts, value, value, value])
    runs = coverage(samples, None, start, end, reading_valid_s(samples))
    return _series("raw", start, end, charts, runs, names)


def series_from_hours(hours: Sequence[HourRollup], start: float, end: float,
                      names: Mapping[str, str]) -> dict[str, Any]:
    """Beyond a day: per hour min/avg/max (the page counter: pages printed in the hour)."""
    charts: dict[str, dict[str, list[list[float]]]] = defaultdict(dict)
    runs: list[Run] = []
    for h in hours:
        runs.extend(h.runs)
        for metric, m in h.metrics.items():
            chart = _chart_of(metric)
            if chart is None:
                continue
            if metric == "page_count":
                charts["pages"].setdefault("pages_per_hour", []).append(
                    [h.hour, m.rise, m.rise, m.rise])
            else:
                charts[chart].setdefault(metric, []).append([h.hour, m.min, m.avg, m.max])
    return _series("hour", start, end, charts, tuple(runs), names)


def _series(resolution: str, start: float, end: float,
            charts: Mapping[str, Mapping[str, list[list[float]]]], runs: Sequence[Any],
            names: Mapping[str, str]) -> dict[str, Any]:
    return {
        "resolution": resolution, "from": start, "to": end,
        "step": HOUR_S if resolution == "hour" else None,
        "charts": {chart: [{"metric": metric, "label": names.get(metric, metric),
                            "points": points} for metric, points in sorted(lines.items())]
                   for chart, lines in charts.items()},
        "reachability": [[r.start, r.end, int(r.up)] for r in runs],
    }


def series_names(metrics: Mapping[str, MetricValue]) -> dict[str, str]:
    """Readable names for chart lines from the current readings ("supply.1.pct" -> "Black")."""
    out: dict[str, str] = {}
    for key, value in metrics.items():
        m = _GROUP.match(key)
        if m is not None and m.group(3) == "name" and isinstance(value, str):
            kind, idx = m.group(1), m.group(2)
            out[f"{kind}.{idx}.pct"] = value
            out[f"{kind}.{idx}.power_w"] = value
    return out
