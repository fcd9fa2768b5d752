"""Opening hours and public holidays of a center, in its time zone: is it open at a given moment?"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hcc_common.yamlconf import ANY_KEYS, Node
from hcc_common.yamlconf import Mapping as YamlMapping
from hcc_common.yamlfields import Key, build, fields_of

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

Ranges = tuple[tuple[time, time], ...]

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"  # Vietnam's one zone: the default of every center and city

# Vietnamese one-stop service centers: weekdays all day, Saturday morning.
DEFAULT_WEEKLY: Mapping[int, Ranges] = {
    **{d: ((time(7, 30), time(17, 0)),) for d in range(5)},
    5: ((time(7, 30), time(11, 30)),),
}


@dataclass(frozen=True)
class OpeningHours:
    weekly: Mapping[int, Ranges] = field(default_factory=lambda: dict(DEFAULT_WEEKLY))
    holidays: frozenset[date] = frozenset()
    timezone: str = DEFAULT_TIMEZONE

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        if local.date() in self.holidays:
            return False
        now = local.time()
        return any(start <= now < end for start, end in self.weekly.get(local.weekday(), ()))

    def is_open_ts(self, ts: float) -> bool:
        return self.is_open(datetime.fromtimestamp(ts, ZoneInfo(self.timezone)))

    def open_intervals(self, start: float, end: float) -> list[tuple[float, float]]:
        """The opening hours within [start, end) as (from, to) timestamps, by time; holidays
        skipped. Days are walked in the center's zone, so a DST change is counted right."""
        tz = ZoneInfo(self.timezone)
        day = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end, tz).date()
        out: list[tuple[float, float]] = []
        while day <= last:
            if day not in self.holidays:
                for a, b in self.weekly.get(day.weekday(), ()):
                    lo = max(start, datetime.combine(day, a, tz).timestamp())
                    hi = min(end, datetime.combine(day, b, tz).timestamp())
                    if hi > lo:
                        out.append((lo, hi))
            day += timedelta(days=1)
        return out


def parse_days(spec: str) -> list[int]:
    """'mon-fri', 'sat', 'mon,wed,fri' -> weekday numbers (Monday = 0)."""
    out: list[int] = []
    for part in spec.lower().replace(" ", "").split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            if a not in DAYS or b not in DAYS:
                raise ValueError(f"unknown day in {spec!r}; use mon..sun")
            i, j = DAYS.index(a), DAYS.index(b)
            out.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in DAYS:
            out.append(DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r}; use mon, tue, wed, thu, fri, sat, sun")
    return out


def parse_ranges(spec: str) -> Ranges:
    """'07:30-11:30, 13:00-17:00' or 'closed'."""
    if spec.strip().lower() == "closed":
        return ()
    ranges = []
    for part in spec.split(","):
        m = _RANGE.match(part)
        if m is None:
            raise ValueError(f"bad hours {part.strip()!r}; write e.g. 07:30-17:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
            raise ValueError(f"bad time in {part.strip()!r}")
        start = time(h1, m1)
        end = time(23, 59, 59) if (h2, m2) == (24, 0) else time(h2, m2)
        if end <= start:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        ranges.append((start, end))
    return tuple(ranges)


def parse_hours(node: Node) -> dict[int, Ranges]:
    """{"mon-fri": "07:30-17:00", "sat": "07:30-11:30"}; days not named are closed."""
    m = node.as_mapping(ANY_KEYS)
    weekly: dict[int, Ranges] = {}
    for days in m:
        value = m.require(days)
        try:
            numbers = parse_days(days)
        except ValueError as exc:
            raise value.error(str(exc)) from None
        try:
            ranges = parse_ranges(value.as_str())
        except ValueError as exc:
            raise value.error(str(exc)) from None
        for d in numbers:
            weekly[d] = ranges
    return weekly


def parse_holidays(node: Node) -> frozenset[date]:
    out = set()
    for item in node.as_list():
        raw = item.raw.value if hasattr(item.raw, "value") else ""
        try:
            out.add(date.fromisoformat(str(raw)))
        except ValueError:
            raise item.error(f"bad date {raw!r}; write YYYY-MM-DD") from None
    return frozenset(out)


def check_timezone(node: Node, tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise node.error(f"unknown time zone {tz!r}; e.g. Asia/Ho_Chi_Minh") from None


def read_timezone(node: Node) -> str:
    """A `timezone:` value, checked to be a zone this machine knows."""
    tz = node.as_str()
    check_timezone(node, tz)
    return tz


# a center's calendar keys, the same in devices.yaml and controller.yaml
CALENDAR_KEYS = ("timezone", "opening_hours", "holidays")
_CALENDAR = (
    Key("timezone", read_timezone),
    Key("opening_hours", parse_hours, "weekly"),
    Key("holidays", parse_holidays),
)


def parse_center_calendar(m: YamlMapping) -> OpeningHours:
    """A center's `timezone`, `opening_hours` and `holidays` keys, as devices.yaml and
    controller.yaml both write them: the one parser of both sides (the defaults are
    OpeningHours' own)."""
    return build(OpeningHours, fields_of(m, _CALENDAR))
