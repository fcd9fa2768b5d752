"""The device page's data, pure: current readings grouped for drawing (supplies, trays, outlets,
radios, UPS) and history series (full rate for a day, hourly min/avg/max beyond)."""

from __future__ import annotations

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
from hcc_common import readings as vocab
from hcc_common.wire import MetricValue

RANGES: Mapping[str, float] = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
RAW_RANGE_S = 86400.0  # up to a day: every reading; beyond: the hourly roll-up


def _part(m: vocab.Match) -> tuple[str, str]:
    """Which part a reading is of: its family ("supply.", "marker.") and its index or path."""
    return m.kind.key.split("{", 1)[0], next(iter(m.parts.values()))


def readings(metrics: Mapping[str, MetricValue], lang: str = "vi") -> dict[str, Any]:
    """Current readings grouped the way the page draws them (each part's fields by the
    vocabulary's group and field), the rest as labelled values; `vocabulary` names them all."""
    parts: dict[str, dict[tuple[str, str], dict[str, MetricValue]]] = defaultdict(dict)
    ups: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for key, value in metrics.items():
        m = vocab.match(key)
        kind = None if m is None else m.kind
        if m is not None and m.kind.group == "ups":
            ups.append({"key": key, "value": value, "label": m.kind.label(lang),
                        "unit": m.kind.unit_in(lang)})
        elif m is not None and m.kind.group and m.kind.field and m.parts:
            part = _part(m)
            parts[m.kind.group].setdefault(part, {"id": part[1]})[m.kind.field] = value
        else:
            rest.append({"key": key, "value": value,
                         "label": key if kind is None else kind.label(lang),
                         "unit": "" if kind is None else kind.unit_in(lang)})
    rest.sort(key=lambda r: str(r["key"]))

    def group(name: str) -> list[dict[str, MetricValue]]:
        # one family after the other, each in the device's order (Printer-MIB, then IPP)
        found = parts[name]
        families = list(dict.fromkeys(family for family, _ in found))
        return [fields for family in families for (f, _), fields in found.items() if f == family]

    return {
        "supplies": group("supply"),
        "trays": group("tray"),
        "outlets": group("outlet"),
        "radios": group("radio"),
        "clients": metrics.get(vocab.WIFI_CLIENTS.key),
        "ups": ups or None,
        "pages": metrics.get(vocab.PAGE_COUNT.key),
        "other": rest,
        # the panels' titles in the reader's language, from the vocabulary
        "titles": {**{g.id: g.title(lang) for g in vocab.GROUPS},
                   "pages": vocab.PAGE_COUNT.label(lang),
                   "clients": vocab.WIFI_CLIENTS.label(lang)},
    }


def _chart_of(metric: str) -> str | None:
    kind = vocab.kind_of(metric)
    return None if kind is None else kind.chart


def series_from_samples(samples: Sequence[Sample], start: float, end: float,
                        names: Mapping[str, str], lang: str = "vi") -> dict[str, Any]:
    """A day or less: every reading (min = avg = max)."""
    charts: dict[str, dict[str, list[list[float]]]] = defaultdict(dict)
    for s in samples:
        for metric, value in s.values.items():
            chart = _chart_of(metric)
            if chart is not None:
                charts[chart].setdefault(metric, []).append([s.ts, value, value, value])
    runs = coverage(samples, None, start, end, reading_valid_s(samples))
    return _series("raw", start, end, charts, runs, names, lang)


def series_from_hours(hours: Sequence[HourRollup], start: float, end: float,
                      names: Mapping[str, str], lang: str = "vi") -> dict[str, Any]:
    """Beyond a day: per hour min/avg/max (the page counter: pages printed in the hour)."""
    charts: dict[str, dict[str, list[list[float]]]] = defaultdict(dict)
    runs: list[Run] = []
    for h in hours:
        runs.extend(h.runs)
        for metric, m in h.metrics.items():
            chart = _chart_of(metric)
            if chart is None:
                continue
            if vocab.is_counter(metric):  # per hour: what it counted (pages printed)
                charts[chart].setdefault(f"{metric}.per_hour", []).append(
                    [h.hour, m.rise, m.rise, m.rise])
            else:
                charts[chart].setdefault(metric, []).append([h.hour, m.min, m.avg, m.max])
    return _series("hour", start, end, charts, tuple(runs), names, lang)


def _line_label(metric: str, names: Mapping[str, str], lang: str) -> str:
    """A part's own name ("Black"), else the vocabulary's label; a counter's hourly line is
    its chart's hourly title (pages per hour)."""
    if metric in names:
        return names[metric]
    base = metric.removesuffix(".per_hour")
    kind = vocab.kind_of(base)
    if kind is None:
        return metric
    if base != metric and kind.chart is not None:
        return vocab.CHART_BY_ID[kind.chart].title(lang, hourly=True)
    return kind.label(lang)


def _series(resolution: str, start: float, end: float,
            charts: Mapping[str, Mapping[str, list[list[float]]]], runs: Sequence[Any],
            names: Mapping[str, str], lang: str) -> dict[str, Any]:
    hourly = resolution == "hour"
    return {
        "resolution": resolution, "from": start, "to": end,
        "step": HOUR_S if hourly else None,
        # the vocabulary's charts in its order, titled in the reader's language
        "order": [c.id for c in vocab.CHARTS if c.id in charts],
        "titles": {c.id: c.title(lang, hourly) for c in vocab.CHARTS if c.id in charts},
        "charts": {chart: [{"metric": metric, "label": _line_label(metric, names, lang),
                            "points": points} for metric, points in sorted(lines.items())]
                   for chart, lines in charts.items()},
        "reachability": [[r.start, r.end, int(r.up)] for r in runs],
    }


def series_names(metrics: Mapping[str, MetricValue]) -> dict[str, str]:
    """Readable names for chart lines from the current readings ("supply.1.pct" -> "Black"):
    a part's name names every kept reading of the same part."""
    named: dict[tuple[str, str], str] = {}
    for key, value in metrics.items():
        m = vocab.match(key)
        if m is not None and m.kind.field == "name" and m.parts and isinstance(value, str):
            named[_part(m)] = value
    out: dict[str, str] = {}
    for kind in vocab.KINDS:
        if kind.history and not kind.exact and kind.group and kind.field:
            family = kind.key.split("{", 1)[0]
            for (f, idx), value in named.items():
                if f == family:
                    out[f"{family}{idx}.{kind.field}"] = value
    return out
