"""The alert desk's rules, in one place for the API, the CLI and the feeds: what a valid silence is."""

from __future__ import annotations

from dataclasses import dataclass

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
