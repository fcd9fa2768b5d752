"""The controller's time policy, in one place: when an alert counts (each center's calendar,
`when: open` rules) and how long conditions must hold (the fleet rules' timing and caps)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from controller.rules import Condition
from hcc_common.calendar import OpeningHours

# a center controller.yaml does not list: a Vietnamese one-stop center's week
DEFAULT_HOURS = OpeningHours()


@dataclass(frozen=True, kw_only=True)
class Rules:
    unreachable_after: int = 3
    # Heartbeats missing for this many intervals mean the agent is gone (the will may be lost).
    heartbeat_misses: float = 3.0
    clock_skew_s: float = 120.0
    # A condition that opened this many times within the window is "flapping": it must then
    # stay clear for flap_hold_s before it resolves.
    flap_opens: int = 3
    flap_window_s: float = 1800.0
    flap_hold_s: float = 900.0
    # Caps per center, so made-up agent or device ids cannot grow state, alerts and pages
    # without bound. A center's declared agents (controller.yaml) are always admitted.
    max_agents_per_center: int = 8
    max_devices_per_center: int = 500
    # alerts one device holds at once (open or waiting for `for:`): a real one has a handful;
    # a stolen box's made-up fault codes (100 a result) would open one each
    max_alerts_per_device: int = 32


def center_hours(hours: Mapping[str, OpeningHours], center: str) -> OpeningHours:
    """A center's calendar from controller.yaml; one it does not list keeps the default week."""
    return hours.get(center, DEFAULT_HOURS)


def while_open(conds: Sequence[Condition], hours: OpeningHours, now: float) -> list[Condition]:
    """Conditions whose rule says `when: open` count only while the center is open; the
    calendar is only looked at when such a rule is among them."""
    if all(c.rule.when == "always" for c in conds):
        return list(conds)
    center_open = hours.is_open_ts(now)
    return [c for c in conds if c.rule.when == "always" or center_open]
