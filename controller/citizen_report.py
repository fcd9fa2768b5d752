"""The citizens' figures for the monthly report: reports by amenity type and center, time from a
report to its resolution, and what citizens reported that no sensor caught. Pure: rows in,
figures out (the database read is citizen_rows)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from controller.store import Store

CITIZEN_AGENT = "citizen"  # as controller.citizen: an alert no box raised


@dataclass(frozen=True)
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
    return [ReportRow(str(c), str(a), types.get((str(c), str(a)), "other"), str(p), float(at),
                      str(agent), float(res) if res is not None else None, bool(off))
            for c, a, p, at, agent, res, off in rows if centers is None or c in centers]
