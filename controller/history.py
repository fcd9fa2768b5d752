"""Device history, pure: which readings are kept, and one device-hour rolled up into up/down runs
and per-metric min/avg/max, counter increase and level fall."""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import median

from hcc_common import readings
from hcc_common.wire import MetricValue

HOUR_S = 3600.0

# The readings worth a chart or a report (supply and paper levels, the page counter, Wi-Fi
# clients, power draw, UPS charge and runtime, response times) are those the vocabulary of
# readings declares kept (hcc_common/readings.py); texts, states and per-interface details stay
# in the current readings only.
# Tracked readings one result may bring: each result is a history row, kept for days, so one
# box cannot grow everyone's history with thousands of made-up supplies (a real device has at
# most 18, a 48-outlet strip 48). Over it the result is a dead letter; a row stays under 20 KB.
MAX_TRACKED = 100
# A device in one of these states gives citizens nothing: unreachable, or a fault that stops
# it (out of toner, jammed, on battery with the mains gone).
DOWN = frozenset({"unreachable", "critical"})
# No office printer prints faster than this; a bigger jump is a counter that glitched (read 0
# once, then its real value), counted as a new baseline, not as a million pages.
MAX_PAGES_PER_MIN = 200.0
# How long one reading speaks for the device, at most, when the next does not come: a box that
# goes quiet makes "no data", not "up".
VALID_MIN_S, VALID_MAX_S = 120.0, 900.0


@dataclass(frozen=True)
class Sample:
    """One check of one device, as kept at full rate."""

    ts: float
    status: str
    values: Mapping[str, float]


@dataclass(frozen=True, kw_only=True)
class MetricHour:
    min: float
    avg: float
    max: float
    last: float
    n: int
    rise: float  # counters: the increase (resets survived); levels: the sum of the steps up
    fall: float  # the sum of the steps down (toner used)

    def to_json(self) -> list[float]:
        return [self.min, self.avg, self.max, self.last, self.n, self.rise, self.fall]

    @classmethod
    def from_json(cls, raw: Sequence[float]) -> MetricHour:
        lo, avg, hi, last, n, rise, fall = raw
        return cls(min=lo, avg=avg, max=hi, last=last, n=int(n), rise=rise, fall=fall)


@dataclass(frozen=True)
class Run:
    """A stretch of time the device was up or down (time in no run is time with no data)."""

    start: float
    end: float
    up: bool


@dataclass(frozen=True)
class HourRollup:
    hour: float
    runs: tuple[Run, ...]
    metrics: Mapping[str, MetricHour]
    worst: str  # the worst status seen in the hour


def is_tracked(key: str) -> bool:
    # cached in the vocabulary: every result's every key is asked, and a fleet has few
    return readings.kept(key)


def tracked_values(metrics: Mapping[str, MetricValue]) -> dict[str, float]:
    """The numeric readings kept in the history (0 is a reading; text and bools are not)."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if is_tracked(key) and math.isfinite(value):
            out[key] = float(value)
    return out


def tracked_count(metrics: Mapping[str, MetricValue]) -> int:
    """How many of these readings the history would keep (what tracked_values keeps)."""
    return sum(1 for key, value in metrics.items()
               if type(value) is not str and is_tracked(key))


def hour_of(ts: float) -> float:
    return math.floor(ts / HOUR_S) * HOUR_S


def reading_valid_s(samples: Sequence[Sample]) -> float:
    """How long a reading holds: 2.5 poll intervals (the median gap), within 2 and 15 minutes."""
    gaps = [b.ts - a.ts for a, b in itertools.pairwise(samples) if b.ts > a.ts]
    if not gaps:
        return VALID_MAX_S
    return min(VALID_MAX_S, max(VALID_MIN_S, 2.5 * median(gaps)))


def _steps(metric: str, points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    rise = fall = 0.0
    # counters only go up; a fall is a reset or a replaced device, never negative use
    counter = readings.is_counter(metric)
    for (t0, v0), (t1, v1) in itertools.pairwise(points):
        step = v1 - v0
        if counter:
            minutes = max(1.0, (t1 - t0) / 60.0)
            # a fall, or a jump no printer could make: a new baseline, not pages
            if 0 < step <= MAX_PAGES_PER_MIN * minutes:
                rise += step
        elif step > 0:
            rise += step
        else:
            fall -= step
    return rise, fall


def coverage(samples: Sequence[Sample], before: Sample | None, start: float, end: float,
             valid_s: float) -> tuple[Run, ...]:
    """Up and down runs in [start, end): each reading speaks until the next one, or for
    `valid_s` at most; time no reading speaks for is in no run (no data)."""
    runs: list[Run] = []

    def cover(lo: float, hi: float, status: str) -> None:
        lo, hi = max(lo, start), min(hi, end)
        if hi <= lo:
            return
        up = status not in DOWN
        if runs and runs[-1].up == up and abs(runs[-1].end - lo) < 1e-6:
            runs[-1] = Run(runs[-1].start, hi, up)
        else:
            runs.append(Run(lo, hi, up))

    chain = ([before] if before is not None else []) + list(samples)
    for i, s in enumerate(chain):
        nxt = chain[i + 1].ts if i + 1 < len(chain) else math.inf
        cover(s.ts, min(nxt, s.ts + valid_s), s.status)
    return tuple(runs)


def rollup_hour(hour: float, samples: Sequence[Sample], before: Sample | None,
                valid_s: float, leads: Mapping[str, tuple[float, float]] | None = None
                ) -> HourRollup:
    """Roll up one device-hour: `samples` are those in [hour, hour+1h) by time, `before` the last
    one earlier (it may still speak for the first minutes). A metric's steps start from its last
    earlier value: `before`'s, else `leads` (metric -> (time, value)), as after an outage when
    the last readings before the hour had none."""
    runs = coverage(samples, before, hour, hour + HOUR_S, valid_s)
    metrics: dict[str, MetricHour] = {}
    names = sorted({k for s in samples for k in s.values})
    for name in names:
        points = [(s.ts, s.values[name]) for s in samples if name in s.values]
        values = [v for _, v in points]
        if before is not None and name in before.values:
            lead = [(before.ts, before.values[name])]
        else:
            lead = [leads[name]] if leads is not None and name in leads else []
        rise, fall = _steps(name, lead + points)
        metrics[name] = MetricHour(min=min(values), avg=round(sum(values) / len(values), 6),
                                   max=max(values), last=values[-1], n=len(values),
                                   rise=round(rise, 6), fall=round(fall, 6))
    rank = {"ok": 0, "warning": 1, "critical": 2, "unreachable": 3}
    worst = max((s.status for s in samples), key=lambda x: rank.get(x, 0), default="")
    return HourRollup(hour, runs, metrics, worst)
