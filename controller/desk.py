"""The alert desk's rules, in one place for the API, the CLI and the feeds: valid silences,
acknowledging and resolving, which alerts a silence covers, and how alerts are presented."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.store import AlertRow, Silence, Store
from controller.views import alert_json
from hcc_common.durations import parse_duration

MAX_SILENCE_S = 90 * 86400.0


class DeskError(ValueError):
    """A request the desk refuses; `field` names what to fix (body field or CLI option)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SilenceWindow:
    starts_at: float
    ends_at: float


def silence_window(*, center: str | None, device: str | None, type_: str | None,
                   code: str | None, duration: str, reason: str, starts_at: float | None,
                   now: float) -> SilenceWindow:
    """Check a silence request; the window it covers. Raises DeskError saying what is wrong."""
    if not any((center, device, type_, code)):
        raise DeskError("target", "say what to silence: center, device, type or code")
    if not reason.strip():
        raise DeskError("reason", "say why (everyone sees it)")
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise DeskError("duration", str(exc)) from None
    if not 1.0 <= seconds <= MAX_SILENCE_S:
        raise DeskError("duration", "duration must be between 1s and 90d")
    start = starts_at if starts_at is not None else now
    return SilenceWindow(start, start + seconds)


# -- acknowledging and resolving ------------------------------------------------------------
MAX_NOTE = 2000
MAX_BY = 100
ACTIONS = ("ack", "resolve")


def actor(holder: str, by: str | None) -> str:
    """Who acted, as the history shows it: the technician named, and the token or login used."""
    if by is not None and by.strip():
        return f"{by.strip()} ({holder})"
    return holder


def act(store: Store, alert_id: int, action: str, *, holder: str, by: str | None, note: str,
        now: float) -> AlertRow:
    """Acknowledge or resolve an alert for the API and the CLI alike. Raises DeskError for a
    request the desk refuses, AlertNotFound for an unknown id."""
    if action not in ACTIONS:
        raise DeskError("action", f"action must be one of {', '.join(ACTIONS)}")
    if len(note) > MAX_NOTE:
        raise DeskError("note", f"note is longer than {MAX_NOTE} characters")
    if by is not None and len(by) > MAX_BY:
        raise DeskError("by", f"name is longer than {MAX_BY} characters")
    who = actor(holder, by)
    if action == "ack":
        return store.ack(alert_id, who, note.strip(), now)
    return store.resolve(alert_id, who, note.strip(), now)


# -- silences, as every outlet sees them ------------------------------------------------------
def is_silenced(alert: AlertRow, silences: Sequence[Silence],
                types: Mapping[tuple[str, str], str], now: float) -> bool:
    return any(s.matches(alert, types.get((alert.center, alert.device)), now) for s in silences)


def silenced_ids(store: Store, alerts: Sequence[AlertRow], now: float) -> set[int]:
    silences = store.silences(active_at=now)
    if not silences:
        return set()
    types = store.device_types((a.center, a.device) for a in alerts)
    return {a.id for a in alerts if is_silenced(a, silences, types, now)}


def present(store: Store, rows: Sequence[AlertRow], lang: str, now: float) -> list[dict[str, Any]]:
    """Alerts as the API, the CLI and the device page show them, each with its silenced flag."""
    quiet = silenced_ids(store, rows, now)
    steps = store.last_escalations([r.id for r in rows if r.state != "resolved"])
    return [{**alert_json(r, lang, r.id in quiet), "escalation": steps.get(r.id)} for r in rows]
