"""Who may do what on which center: roles, scopes and the one rule every route, the CLI and the
channels ask (pure: no I/O, no framework)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Zabbix's model, as issue 27 defines it: each role can do what the ones before it can.
ROLES = ("viewer", "technician", "desk", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
# Roles that see every center whatever scope the account was given (the central desk, admins).
CITY_WIDE = frozenset({"desk", "admin"})

# Each action and the least role that may do it.
ACTIONS: Mapping[str, str] = {
    "read": "viewer",          # alerts, devices, centers, SSE, reports (html, csv, pdf)
    "ack": "technician",
    "resolve": "technician",
    "note": "technician",
    "silence": "desk",         # add or end a silence / maintenance window
    "escalate": "desk",
    "metrics": "viewer",       # the whole city's counters at once: see WHOLE_CITY
    "users": "admin",          # accounts and tokens
    "audit": "admin",
    "config_push": "admin",
    "enroll": "admin",
    "release": "admin",
    "rollouts": "viewer",      # every box's version and rollout progress: see WHOLE_CITY
    "staff_link": "technician",  # a center's checklist link: whoever holds it ticks the list
    "rotate_codes": "desk",    # new QR codes for a center: every printed label stops working
}
# What each action is, in a refusal's words ("a viewer may not acknowledge alerts").
WORDS: Mapping[str, str] = {
    "read": "read this", "ack": "acknowledge alerts", "resolve": "resolve alerts",
    "note": "add notes", "silence": "silence alerts", "escalate": "escalate",
    "metrics": "read the whole city's metrics", "users": "manage accounts and tokens",
    "audit": "read the audit trail", "config_push": "push box configs",
    "enroll": "enroll boxes", "release": "publish releases",
    "rollouts": "read the whole fleet's rollouts",
    "staff_link": "get a center's staff link", "rotate_codes": "replace a center's QR codes",
}

# Actions about every center at once: only for whoever sees every center.
WHOLE_CITY = frozenset({"metrics", "rollouts"})


class Decision(enum.Enum):
    ALLOW = "allow"
    FORBIDDEN = "forbidden"    # HTTP 403: you may see it, not do this
    NOT_FOUND = "not_found"    # HTTP 404: outside your scope, as if it did not exist


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Someone acting: an account (signed in, by token, at the CLI, in a chat), with the
    centers it sees (None: all of them)."""

    name: str
    role: str
    centers: frozenset[str] | None
    via: str = "session"  # session, token, legacy-token, cli, telegram, anonymous

    def __post_init__(self) -> None:
        if self.role not in RANK:
            raise ValueError(f"unknown role {self.role!r}")

    @property
    def all_centers(self) -> bool:
        return self.centers is None

    def sees(self, center: str) -> bool:
        return self.centers is None or center in self.centers


def principal(*, name: str, role: str, centers: Iterable[str], groups: Iterable[str],
              group_centers: Mapping[str, Iterable[str]], via: str) -> Principal:
    """An account's principal: its centers and those of its groups (a group not declared
    gives nothing: never more than was meant). Desk and admin see every center."""
    if role in CITY_WIDE:
        return Principal(name=name, role=role, centers=None, via=via)
    scope = set(centers)
    for g in groups:
        scope.update(group_centers.get(g, ()))
    return Principal(name=name, role=role, centers=frozenset(scope), via=via)


def decide(who: Principal | None, action: str, center: str | None = None) -> Decision:
    """May `who` do `action` (on `center`, when it concerns one)? A center out of scope is
    NOT_FOUND whatever the action: its existence is not told. Nobody (None) may do nothing."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if who is None:
        return Decision.FORBIDDEN
    if center is not None and not who.sees(center):
        return Decision.NOT_FOUND
    if RANK[who.role] < RANK[ACTIONS[action]]:
        return Decision.FORBIDDEN
    if action in WHOLE_CITY and who.centers is not None:
        return Decision.FORBIDDEN
    return Decision.ALLOW


def allowed(who: Principal | None, action: str, center: str | None = None) -> bool:
    return decide(who, action, center) is Decision.ALLOW


def visible(who: Principal, centers: Iterable[str]) -> list[str]:
    """The centers of `centers` that `who` sees, in their order."""
    return [c for c in centers if who.sees(c)]
