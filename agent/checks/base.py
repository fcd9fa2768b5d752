"""What every check kind returns, and the pure helpers that combine outcomes into one result."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hcc_common import faults as vocab
from hcc_common.wire import FaultReport, MetricValue, Status


@dataclass(frozen=True)
class CheckOutcome:
    """One check kind's view of one device at one moment."""

    kind: str
    reachable: bool
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    faults: tuple[FaultReport, ...] = ()
    error: str | None = None
    profile: str | None = None


fault = vocab.report


def unreachable(kind: str, error: str) -> CheckOutcome:
    return CheckOutcome(kind, reachable=False, error=error)


@dataclass(frozen=True)
class Combined:
    status: Status
    metrics: Mapping[str, MetricValue]
    faults: tuple[FaultReport, ...]
    error: str | None


def combine(outcomes: Iterable[CheckOutcome]) -> Combined:
    """Merge the outcomes of a device's checks: the device is unreachable only if every check is."""
    items = list(outcomes)
    if not items:
        return Combined("unreachable", {}, (), "no checks configured")
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    errors: list[str] = []
    for o in items:
        metrics.update(o.metrics)
        found.extend(o.faults)
        if o.error is not None:
            errors.append(f"{o.kind}: {o.error}")
    error = "; ".join(errors) if errors else None
    if not any(o.reachable for o in items):
        # a specific reason (the device's name is unknown) says more than "not responding"
        return Combined("unreachable", metrics, dedupe(found) or (fault("device.unreachable"),),
                        error)
    for o in items:
        if not o.reachable:
            found.append(fault("device.check_failed", reason=f"{o.kind}: {o.error or 'no answer'}"))
    merged = dedupe(found)
    return Combined(status_of(merged), metrics, merged, error)


def dedupe(reports: Iterable[FaultReport]) -> tuple[FaultReport, ...]:
    """Drop exact repeats, and a generic fault where a specific one (with params) says the same."""
    items = list(reports)
    specific = {f.code for f in items if f.params}
    out: list[FaultReport] = []
    seen: set[tuple[str, tuple[tuple[str, MetricValue], ...]]] = set()
    for f in items:
        if not f.params and f.code in specific:
            continue
        key = (f.code, tuple(sorted(f.params.items())))
        if key in seen:
            continue
        seen.add(key)
        out.append(f)
    return tuple(out)


def status_of(reports: Iterable[FaultReport]) -> Status:
    worst = 0
    for f in reports:
        worst = max(worst, vocab.Severity(f.severity).rank)
    if worst >= 3:
        return "critical"
    if worst == 2:
        return "warning"
    return "ok"
