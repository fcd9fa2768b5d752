"""The city's report, pure: availability in opening hours, incidents with MTTA/MTTR, pages printed,
toner use with a days-to-empty forecast and an order list, and Wi-Fi use, from hour rows and alerts."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from controller.history import HOUR_S, HourRollup, hour_of
from hcc_common import readings as vocab
from hcc_common.calendar import OpeningHours

if TYPE_CHECKING:  # the citizens' part is gathered by the shell (controller.citizen_report)
    from controller.citizen_report import CitizenSection

DAY_S = 86400.0
# A supply level that jumps up this much was replaced (or refilled): a new cartridge.
REPLACED_RISE_PCT = 20.0
# The level history a forecast looks at, before the report's end.
FORECAST_WINDOW_S = 30 * DAY_S
# A level falling slower than this is "not falling": no forecast, rather than years.
MIN_RATE_PCT_PER_DAY = 0.05
# A clock hour counts for Wi-Fi use when the center is open for at least half of it.
OPEN_HOUR_MIN_S = 1800.0
# What a report may cover: the hourly history kept (400 days), in years a calendar shows (a
# date past 9999 is no date, and 9999-12-31's next day overflows).
MAX_DAYS = 400
MIN_YEAR, MAX_YEAR = 2000, 2100
# The readings the report counts, by their names in the vocabulary of readings
PAGES = vocab.PAGE_COUNT.key
CLIENTS = vocab.WIFI_CLIENTS.key
PROBE_SPEED = vocab.PROBE_DOWNLOAD.name(probe="wifi_probe")  # as a citizen sees it


@dataclass(frozen=True)
class Period:
    start: float
    end: float
    label: str  # "2026-11", or "2026-11-03 – 2026-11-09"
    timezone: str


def month_period(month: str, timezone: str) -> Period:
    """'2026-11' -> the month in the city's time zone."""
    try:
        first = datetime.strptime(month, "%Y-%m").date()
    except ValueError:
        raise ValueError(f"month {month!r}: write YYYY-MM, e.g. 2026-11") from None
    if not MIN_YEAR <= first.year <= MAX_YEAR:
        raise ValueError(f"month {month}: a report's dates are between {MIN_YEAR} and "
                         f"{MAX_YEAR}")
    nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return days_period(first, nxt - timedelta(days=1), timezone, label=month)


def days_period(first: date, last: date, timezone: str, label: str | None = None) -> Period:
    """From the start of `first` to the end of `last` (both included), in `timezone`. The one
    check of a period for the API, the CLI and the monthly mail (ValueError says what is
    wrong): years MIN_YEAR to MAX_YEAR, at most MAX_DAYS days."""
    for d in (first, last):
        if not MIN_YEAR <= d.year <= MAX_YEAR:
            raise ValueError(f"{d.isoformat()}: a report's dates are between {MIN_YEAR} and "
                             f"{MAX_YEAR}")
    if last < first:
        raise ValueError(f"{last} is before {first}")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days (the hourly history kept); "
                         f"{first.isoformat()} to {last.isoformat()} is "
                         f"{(last - first).days + 1}")
    tz = ZoneInfo(timezone)
    start = datetime.combine(first, datetime.min.time(), tz).timestamp()
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).timestamp()
    return Period(start, end, label or f"{first.isoformat()} – {last.isoformat()}", timezone)


@dataclass(frozen=True)
class CenterMeta:
    name: str
    hours: OpeningHours


@dataclass(frozen=True)
class DeviceMeta:
    """What the report says about a device beyond its history: names (current readings)."""

    name: str
    model: str
    supply_names: Mapping[str, str] = field(default_factory=dict)  # "supply.1.pct" -> "Black"


@dataclass(frozen=True)
class AlertFact:
    """An alert as the report counts it."""

    center: str
    device: str
    device_name: str
    code: str
    severity: str
    opened_at: float
    acked_at: float | None
    resolved_at: float | None


@dataclass(frozen=True, kw_only=True)
class Availability:
    key: str       # a device id, a type, a center id or "city"
    name: str
    center: str
    type: str
    open_s: float  # opening time in the period
    up_s: float
    down_s: float
    devices: int = 1

    @property
    def nodata_s(self) -> float:
        return max(0.0, self.open_s - self.up_s - self.down_s)

    @property
    def ratio(self) -> float | None:
        """Up time over the opening time we know about; None when nothing is known."""
        known = self.up_s + self.down_s
        return self.up_s / known if known > 0 else None


@dataclass(frozen=True, kw_only=True)
class Incidents:
    center: str
    count: int
    acked: int
    resolved: int
    mtta_s: float | None
    mttr_s: float | None
    top: tuple[tuple[str, int], ...]  # (fault code, times), most first


@dataclass(frozen=True, kw_only=True)
class ModelFault:
    model: str
    code: str
    count: int
    centers: int


@dataclass(frozen=True, kw_only=True)
class Pages:
    center: str
    device: str
    name: str
    pages: int


@dataclass(frozen=True, kw_only=True)
class Forecast:
    level: float | None
    rate_per_day: float | None  # percentage points a day
    days_left: float | None
    empty_on: date | None
    confidence: str  # high, medium, low, none
    basis_days: float
    r2: float | None


@dataclass(frozen=True, kw_only=True)
class Supply:
    center: str
    device: str
    name: str
    supply: str       # its metric, "supply.1.pct"
    supply_name: str
    used_pct: float   # percentage points used in the period
    replaced: int     # new cartridges seen in the period
    forecast: Forecast
    order_by: date | None  # order by this day (the lead time before empty)


@dataclass(frozen=True, kw_only=True)
class Wifi:
    center: str
    peak: int | None
    average: float | None
    idle_open_hours: int
    open_hours: int  # open hours with Wi-Fi data
    probe_mbps: float | None = None  # the box's Wi-Fi probe: mean download in open hours


@dataclass(frozen=True, kw_only=True)
class Report:
    period: Period
    generated_at: float
    centers: Mapping[str, str]
    devices: tuple[Availability, ...]
    by_type: tuple[Availability, ...]
    by_center: tuple[Availability, ...]
    city: Availability
    incidents: tuple[Incidents, ...]
    city_incidents: Incidents
    model_faults: tuple[ModelFault, ...]
    pages: tuple[Pages, ...]
    pages_by_center: Mapping[str, int]
    supplies: tuple[Supply, ...]
    order: tuple[Supply, ...]
    wifi: tuple[Wifi, ...]
    lead_days: float
    order_within_days: float
    # what no sensor sees (citizens' reports, the staff's checklist): None without amenities
    citizens: CitizenSection | None = None


@dataclass(frozen=True)
class DeviceHours:
    """One device's hour rows, by hour (the shell reads them grouped so)."""

    center: str
    device: str
    type: str
    hours: Sequence[HourRollup]


def overlap(a: Sequence[tuple[float, float]], b: Sequence[tuple[float, float]]) -> float:
    """Total time two sorted, non-overlapping interval lists share."""
    i = j = 0
    total = 0.0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            total += hi - lo
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def availability(dev: DeviceHours, name: str, open_: Sequence[tuple[float, float]],
                 period: Period) -> Availability:
    up: list[tuple[float, float]] = []
    down: list[tuple[float, float]] = []
    for h in dev.hours:
        if period.start <= h.hour < period.end:
            for r in h.runs:
                (up if r.up else down).append((max(r.start, period.start),
                                               min(r.end, period.end)))
    return Availability(key=dev.device, name=name, center=dev.center, type=dev.type,
                        open_s=sum(b - a for a, b in open_), up_s=overlap(open_, up),
                        down_s=overlap(open_, down))


def combine(key: str, name: str, parts: Iterable[Availability], center: str = "",
            type_: str = "") -> Availability:
    items = list(parts)
    return Availability(key=key, name=name, center=center, type=type_,
                        open_s=sum(p.open_s for p in items), up_s=sum(p.up_s for p in items),
                        down_s=sum(p.down_s for p in items), devices=sum(p.devices for p in items))


def incidents(center: str, alerts: Sequence[AlertFact]) -> Incidents:
    acked = [a.acked_at - a.opened_at for a in alerts if a.acked_at is not None]
    fixed = [a.resolved_at - a.opened_at for a in alerts if a.resolved_at is not None]
    top = Counter(a.code for a in alerts).most_common(3)
    return Incidents(center=center, count=len(alerts), acked=len(acked), resolved=len(fixed),
                     mtta_s=sum(acked) / len(acked) if acked else None,
                     mttr_s=sum(fixed) / len(fixed) if fixed else None,
                     top=tuple(top))


def forecast(points: Sequence[tuple[float, float]], at: float, tz: str) -> Forecast:
    """Days until a supply is empty, from its level over time (hour averages): a least-squares
    line through the levels since the last new cartridge. Confidence from how many days the
    line rests on and how well it fits (R²)."""
    pts = list(points)
    for i in range(len(pts) - 1, 0, -1):
        if pts[i][1] - pts[i - 1][1] >= REPLACED_RISE_PCT:
            pts = pts[i:]
            break
    level = pts[-1][1] if pts else None
    basis = (pts[-1][0] - pts[0][0]) / DAY_S if len(pts) >= 2 else 0.0
    none = Forecast(level=level, rate_per_day=None, days_left=None, empty_on=None,
                    confidence="none", basis_days=round(basis, 1), r2=None)
    if len(pts) < 3 or basis < 1.0:
        return none
    n = len(pts)
    mx = sum(t for t, _ in pts) / n
    my = sum(v for _, v in pts) / n
    sxx = sum((t - mx) ** 2 for t, _ in pts)
    sxy = sum((t - mx) * (v - my) for t, v in pts)
    syy = sum((v - my) ** 2 for _, v in pts)
    slope = sxy / sxx * DAY_S if sxx > 0 else 0.0
    rate = -slope
    r2 = (sxy * sxy) / (sxx * syy) if sxx > 0 and syy > 0 else 0.0
    if rate < MIN_RATE_PCT_PER_DAY or level is None:
        return Forecast(level=level, rate_per_day=round(rate, 3), days_left=None, empty_on=None,
                        confidence="none", basis_days=round(basis, 1), r2=round(r2, 3))
    days = level / rate
    confidence = "high" if basis >= 14 and r2 >= 0.9 else \
        "medium" if basis >= 5 and r2 >= 0.7 else "low"
    empty = datetime.fromtimestamp(at + days * DAY_S, ZoneInfo(tz)).date() \
        if days < 3650 else None
    return Forecast(level=level, rate_per_day=round(rate, 3), days_left=round(days, 1),
                    empty_on=empty, confidence=confidence, basis_days=round(basis, 1),
                    r2=round(r2, 3))


def _supplies(dev: DeviceHours, meta: DeviceMeta, period: Period, at: float,
              lead_days: float) -> list[Supply]:
    names = sorted({k for h in dev.hours for k in h.metrics if _supply_index(k) is not None})
    out = []
    for key in names:
        used = 0.0
        replaced = 0
        points: list[tuple[float, float]] = []
        for h in dev.hours:
            m = h.metrics.get(key)
            if m is None:
                continue
            if period.start <= h.hour < period.end:
                used += m.fall
                replaced += 1 if m.rise >= REPLACED_RISE_PCT else 0
            if at - FORECAST_WINDOW_S <= h.hour < at:
                points.append((h.hour + HOUR_S / 2, m.avg))
        f = forecast(points, at, period.timezone)
        order_by = f.empty_on - timedelta(days=math.ceil(lead_days)) \
            if f.empty_on is not None else None
        out.append(Supply(center=dev.center, device=dev.device, name=meta.name, supply=key,
                          supply_name=meta.supply_names.get(key, _supply_index(key) or key),
                          used_pct=round(used, 1), replaced=replaced, forecast=f,
                          order_by=order_by))
    return out


def _supply_index(key: str) -> str | None:
    """The supply's index if `key` is a supply's level (Printer-MIB or IPP), else None."""
    m = vocab.match(key)
    return m.parts["index"] if m is not None and m.kind in vocab.SUPPLY_LEVELS else None


def _pages(dev: DeviceHours, name: str, period: Period) -> Pages | None:
    counted = [m.rise for h in dev.hours
               if period.start <= h.hour < period.end
               and (m := h.metrics.get(PAGES)) is not None]
    if not counted:
        return None
    return Pages(center=dev.center, device=dev.device, name=name, pages=round(sum(counted)))


def _half_open_hours(hours: OpeningHours, period: Period) -> frozenset[float]:
    """The clock hours of the period the center is open for at least OPEN_HOUR_MIN_S."""
    open_s: dict[float, float] = defaultdict(float)
    for a, b in hours.open_intervals(period.start, period.end):
        hour = hour_of(a)
        while hour < b:
            open_s[hour] += min(b, hour + HOUR_S) - max(a, hour)
            hour += HOUR_S
    return frozenset(h for h, s in open_s.items() if s >= OPEN_HOUR_MIN_S)


def _wifi(center: str, aps: Sequence[DeviceHours], hours: OpeningHours,
          period: Period) -> Wifi:
    peak: dict[float, float] = defaultdict(float)
    mean: dict[float, float] = defaultdict(float)
    for dev in aps:
        for h in dev.hours:
            m = h.metrics.get(CLIENTS)
            if m is not None and period.start <= h.hour < period.end:
                peak[h.hour] += m.max
                mean[h.hour] += m.avg
    # clock hours the center is open for at least half of: the calendar walked once
    half_open = _half_open_hours(hours, period)
    open_hours = [hour for hour in sorted(peak) if hour in half_open]
    speeds = [m.avg for dev in aps for h in dev.hours
              if (m := h.metrics.get(PROBE_SPEED)) is not None
              and h.hour in half_open]
    return Wifi(center=center, peak=round(max(peak.values())) if peak else None,
                probe_mbps=round(sum(speeds) / len(speeds), 1) if speeds else None,
                average=round(sum(mean[h] for h in open_hours) / len(open_hours), 1)
                if open_hours else None,
                idle_open_hours=sum(1 for h in open_hours if peak[h] == 0),
                open_hours=len(open_hours))


def build(period: Period, centers: Mapping[str, CenterMeta], devices: Iterable[DeviceHours],
          alerts: Sequence[AlertFact], meta: Mapping[tuple[str, str], DeviceMeta], *,
          at: float, generated_at: float, lead_days: float = 7.0,
          order_within_days: float = 7.0) -> Report:
    """The report for `period`; `at` is when forecasts start (the period's end, or now if
    sooner); `devices` may bring hours before the period (forecasts look back 30 days)."""
    default_center = CenterMeta("", OpeningHours())
    avail: list[Availability] = []
    pages: list[Pages] = []
    supplies: list[Supply] = []
    aps: dict[str, list[DeviceHours]] = defaultdict(list)
    open_cache: dict[str, list[tuple[float, float]]] = {}
    for dev in devices:
        c = centers.get(dev.center, default_center)
        if dev.center not in open_cache:
            # a month still running counts its opening hours until now, not the days to come
            open_cache[dev.center] = c.hours.open_intervals(period.start, min(period.end, at))
        m = meta.get((dev.center, dev.device), DeviceMeta(dev.device, dev.type))
        if any(period.start <= h.hour < period.end for h in dev.hours):
            avail.append(availability(dev, m.name, open_cache[dev.center], period))
        if (p := _pages(dev, m.name, period)) is not None:
            pages.append(p)
        supplies.extend(_supplies(dev, m, period, at, lead_days))
        if any(CLIENTS in h.metrics or PROBE_SPEED in h.metrics
               for h in dev.hours):
            aps[dev.center].append(dev)
    names = {cid: (c.name or cid) for cid, c in centers.items()}
    for a in avail:
        names.setdefault(a.center, a.center)
    by_type = [combine(t, t, (a for a in avail if a.type == t), type_=t)
               for t in sorted({a.type for a in avail})]
    by_center = [combine(cid, names[cid], (a for a in avail if a.center == cid), center=cid)
                 for cid in sorted({a.center for a in avail})]
    in_period = [a for a in alerts if period.start <= a.opened_at < period.end]
    per_center: dict[str, list[AlertFact]] = defaultdict(list)
    for fact in in_period:
        per_center[fact.center].append(fact)
    models: Counter[tuple[str, str]] = Counter()
    model_centers: dict[tuple[str, str], set[str]] = defaultdict(set)
    for fact in in_period:
        if not fact.device:
            continue  # the box or the center, not a device model
        model = meta.get((fact.center, fact.device), DeviceMeta(fact.device_name, "")).model \
            or "?"
        models[(model, fact.code)] += 1
        model_centers[(model, fact.code)].add(fact.center)
    horizon = datetime.fromtimestamp(at, ZoneInfo(period.timezone)).date() \
        + timedelta(days=math.ceil(order_within_days))
    order = sorted((s for s in supplies if s.order_by is not None and s.order_by <= horizon),
                   key=lambda s: (s.order_by or date.max, s.center, s.name))
    by_center_pages: dict[str, int] = defaultdict(int)
    for p in pages:
        by_center_pages[p.center] += p.pages
    return Report(
        period=period, generated_at=generated_at, centers=names,
        devices=tuple(sorted(avail, key=lambda a: (a.center, a.type, a.name))),
        by_type=tuple(by_type), by_center=tuple(by_center),
        city=combine("city", "city", avail),
        incidents=tuple(incidents(cid, per_center[cid]) for cid in sorted(per_center)),
        city_incidents=incidents("city", in_period),
        model_faults=tuple(ModelFault(model=k[0], code=k[1], count=n,
                                      centers=len(model_centers[k]))
                           for k, n in models.most_common(15)),
        pages=tuple(sorted(pages, key=lambda p: (p.center, -p.pages))),
        pages_by_center=dict(sorted(by_center_pages.items())),
        supplies=tuple(sorted(supplies, key=lambda s: (s.center, s.name, s.supply))),
        order=tuple(order),
        wifi=tuple(_wifi(cid, aps[cid], centers.get(cid, default_center).hours, period)
                   for cid in sorted(aps)),
        lead_days=lead_days, order_within_days=order_within_days)
