"""The citizens' figures for the monthly report: reports by amenity type and center, time from a
report to its resolution, what citizens reported that no sensor caught, and how well the staff
kept the opening checklist. Pure: rows in, figures out (the database reads are citizen_rows and
section)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from controller.config import CenterInfo
from controller.store import Store
from hcc_common.calendar import OpeningHours

CITIZEN_AGENT = "citizen"  # as controller.citizen: an alert no box raised


@dataclass(frozen=True, kw_only=True)
class ReportRow:
    center: str
    amenity: str
    amenity_type: str
    problem: str
    at: float
    alert_agent: str  # "citizen": only citizens saw it; else the box that saw it too
    resolved_at: float | None
    off_hours: bool


@dataclass(frozen=True, kw_only=True)
class CitizenFigures:
    reports: int
    by_type: dict[str, int] = field(default_factory=dict)
    by_center: dict[str, int] = field(default_factory=dict)
    off_hours: int = 0
    resolved: int = 0
    median_to_resolution_s: float | None = None
    # reports on an amenity no sensor flagged (a citizen alert), by problem
    unseen_by_sensors: dict[str, int] = field(default_factory=dict)


def figures(rows: Iterable[ReportRow]) -> CitizenFigures:
    rows = list(rows)
    by_type: dict[str, int] = {}
    by_center: dict[str, int] = {}
    unseen: dict[str, int] = {}
    waits: list[float] = []
    for r in rows:
        by_type[r.amenity_type] = by_type.get(r.amenity_type, 0) + 1
        by_center[r.center] = by_center.get(r.center, 0) + 1
        if r.alert_agent == CITIZEN_AGENT:
            unseen[r.problem] = unseen.get(r.problem, 0) + 1
        if r.resolved_at is not None:
            waits.append(max(0.0, r.resolved_at - r.at))
    return CitizenFigures(
        reports=len(rows), by_type=dict(sorted(by_type.items(), key=lambda kv: -kv[1])),
        by_center=dict(sorted(by_center.items(), key=lambda kv: -kv[1])),
        off_hours=sum(r.off_hours for r in rows), resolved=len(waits),
        median_to_resolution_s=statistics.median(waits) if waits else None,
        unseen_by_sensors=dict(sorted(unseen.items(), key=lambda kv: -kv[1])))


def citizen_rows(store: Store, start: float, end: float, types: dict[tuple[str, str], str],
                 centers: Sequence[str] | None = None) -> list[ReportRow]:
    """The reports made in [start, end); `types` maps (center, amenity) to its type."""
    rows = store.db.execute(
        "SELECT r.center, r.amenity, r.problem, r.at, a.agent, a.resolved_at, r.off_hours"
        " FROM citizen_reports r JOIN alerts a ON a.id = r.alert_id"
        " WHERE r.at >= ? AND r.at < ? ORDER BY r.id", (start, end)).fetchall()
    return [ReportRow(center=str(c), amenity=str(a),
                      amenity_type=types.get((str(c), str(a)), "other"), problem=str(p),
                      at=float(at), alert_agent=str(agent),
                      resolved_at=float(res) if res is not None else None, off_hours=bool(off))
            for c, a, p, at, agent, res, off in rows if centers is None or c in centers]


@dataclass(frozen=True, kw_only=True)
class ChecklistRate:
    """How well one center's staff kept the opening checklist in the period: of its open days,
    how many had every item ticked, and the share of (item, day) pairs ticked."""

    center: str
    items: int        # amenities on the checklist (no box watches them)
    open_days: int
    complete_days: int
    ticked: int       # (item, open day) pairs ticked

    @property
    def rate(self) -> float | None:
        expected = self.items * self.open_days
        return self.ticked / expected if expected else None


@dataclass(frozen=True, kw_only=True)
class CitizenSection:
    """The monthly report's part on what no sensor sees: citizens' reports and the checklist."""

    figures: CitizenFigures
    checklist: tuple[ChecklistRate, ...]


def checklist_rates(items: Mapping[str, frozenset[str]], open_days: Mapping[str, Sequence[str]],
                    ticks: Iterable[tuple[str, str, str]]) -> tuple[ChecklistRate, ...]:
    """Per center with a checklist: `items` its amenity ids, `open_days` the days (YYYY-MM-DD,
    the center's zone) it opened in the period, `ticks` (center, day, amenity) answered. A
    tick on a closed day or for an amenity no longer listed does not count."""
    by_day: dict[tuple[str, str], set[str]] = {}
    for center, day, amenity in ticks:
        if amenity in items.get(center, frozenset()):
            by_day.setdefault((center, day), set()).add(amenity)
    out = []
    for center in sorted(items):
        wanted = items[center]
        if not wanted:
            continue
        days = list(open_days.get(center, ()))
        done = [len(by_day.get((center, d), ())) for d in days]
        out.append(ChecklistRate(center=center, items=len(wanted), open_days=len(days),
                                 complete_days=sum(n == len(wanted) for n in done),
                                 ticked=sum(done)))
    return tuple(out)


def open_days(hours: OpeningHours, start: float, end: float) -> list[str]:
    """The days (YYYY-MM-DD in the center's zone) with opening hours in [start, end)."""
    tz = ZoneInfo(hours.timezone)
    return sorted({datetime.fromtimestamp(a, tz).strftime("%Y-%m-%d")
                   for a, _b in hours.open_intervals(start, end)})


def section(store: Store, centers: Sequence[CenterInfo], start: float, end: float,
            only: str | None = None) -> CitizenSection:
    """The citizens' part of the report for [start, end) (`end`: now, for a month still
    running), for every center or `only` one."""
    chosen = [c for c in centers if only is None or c.id == only]
    types = {(c.id, a.id): a.type for c in chosen for a in c.amenities}
    rows = citizen_rows(store, start, end, types, [c.id for c in chosen])
    items = {c.id: frozenset(a.id for a in c.amenities if not a.networked) for c in chosen}
    days = {c.id: open_days(c.hours, start, end) for c in chosen if items[c.id]}
    first = min((d[0] for d in days.values() if d), default="")
    last = max((d[-1] for d in days.values() if d), default="")
    ticks = [(str(c), str(d), str(a)) for c, d, a in store.db.execute(
        "SELECT center, day, amenity FROM staff_checks WHERE day >= ? AND day <= ?",
        (first, last)) if c in days] if first else []
    return CitizenSection(figures=figures(rows), checklist=checklist_rates(items, days, ticks))
