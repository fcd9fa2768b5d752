"""On-call rosters and escalation, pure: who is on duty at a moment (weekly shifts in the roster's
time zone, overrides for leave), and which escalation steps of an alert are due."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import yaml

from controller.channels.base import Person
from hcc_common.calendar import DEFAULT_TIMEZONE, parse_days, parse_ranges, read_timezone
from hcc_common.yamlconf import Node
from hcc_common.yamlfields import Key, build, fields_of

ON_DUTY = "on_duty"
PERSON_KEYS = ("id", "name", "telegram", "zalo", "sms", "email")


@dataclass(frozen=True)
class Shift:
    days: frozenset[int]  # Monday = 0
    start: time
    end: time
    person: str


@dataclass(frozen=True)
class Override:
    """From one day to another (both included), `person` takes the shifts of `replaces` (leave),
    or every shift when `replaces` is None."""

    first: date
    last: date
    person: str
    replaces: str | None = None


@dataclass(frozen=True, kw_only=True)
class Step:
    to: tuple[str, ...]  # person ids, or ("on_duty",)
    via: tuple[str, ...]  # receiver names
    after_s: float = 0.0  # after the alert opened; the first step is at once


@dataclass(frozen=True, kw_only=True)
class Roster:
    name: str
    centers: tuple[str, ...]  # ("*",) for every center
    timezone: str = DEFAULT_TIMEZONE
    shifts: tuple[Shift, ...] = ()
    overrides: tuple[Override, ...] = ()
    steps: tuple[Step, ...] = ()
    severities: tuple[str, ...] = ("critical", "warning")

    def covers(self, center: str) -> bool:
        return "*" in self.centers or center in self.centers


def roster_for(rosters: Sequence[Roster], center: str) -> Roster | None:
    """The first roster that covers a center (list specific ones before a catch-all '*')."""
    return next((r for r in rosters if r.covers(center)), None)


def on_duty(roster: Roster, at: float) -> str | None:
    """The person id on duty at `at`, or None (nobody: outside every shift)."""
    local = datetime.fromtimestamp(at, ZoneInfo(roster.timezone))
    now = local.time()
    person = next((s.person for s in roster.shifts
                   if local.weekday() in s.days and s.start <= now < s.end), None)
    if person is None:
        return None
    for o in roster.overrides:
        if o.first <= local.date() <= o.last and (o.replaces is None or o.replaces == person):
            person = o.person
    return person


def due_steps(roster: Roster, opened_at: float, fired: set[int], now: float) -> list[int]:
    """Escalation steps due for an alert still unacknowledged at `now`, not yet fired."""
    return [i for i, s in enumerate(roster.steps)
            if i not in fired and now - opened_at >= s.after_s]


def parse_people(node: Node) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for item in node.as_list():
        m = item.as_mapping(PERSON_KEYS)
        pid = m.require("id").as_str()
        if pid in people:
            raise m.require("id").error(f"person {pid!r} defined twice")
        contacts = {k: m.require(k).as_str() for k in ("telegram", "zalo", "sms", "email")
                    if m.get(k) is not None}
        name = m.get("name")
        people[pid] = Person(pid, name.as_str() if name is not None else pid, contacts)
    return people


_STEP = (Key("after", Node.as_duration, "after_s"),)


def parse_rosters(node: Node, people: Mapping[str, Person], receivers: Sequence[str],
                  severities: Sequence[str]) -> tuple[Roster, ...]:
    out = []
    for item in node.as_list():
        m = item.as_mapping(("name", "centers", "timezone", "shifts", "overrides", "escalation",
                             "severities"))

        def person(n: Node) -> str:
            pid = n.as_str()
            if pid not in people:
                raise n.error(f"unknown person {pid!r} (people: {', '.join(sorted(people))})")
            return pid

        given = fields_of(m, (
            Key("timezone", read_timezone),
            Key("severities", lambda n: tuple(x.as_choice(severities) for x in n.as_list()))))
        shifts: list[Shift] = []
        for s in m.require("shifts").as_list() if m.get("shifts") is not None else []:
            sm = s.as_mapping(("days", "hours", "person"))
            try:
                days = frozenset(parse_days(sm.require("days").as_str()))
            except ValueError as exc:
                raise sm.require("days").error(str(exc)) from None
            try:
                ranges = parse_ranges(sm.require("hours").as_str())
            except ValueError as exc:
                raise sm.require("hours").error(str(exc)) from None
            who = person(sm.require("person"))
            shifts.extend(Shift(days, a, b, who) for a, b in ranges)
        overrides: list[Override] = []
        for o in m.require("overrides").as_list() if m.get("overrides") is not None else []:
            om = o.as_mapping(("from", "to", "person", "replaces"))
            try:
                first = date.fromisoformat(om.require("from").as_str())
                last = date.fromisoformat(om.require("to").as_str())
            except ValueError:
                raise o.error("from and to are dates: YYYY-MM-DD") from None
            rep = om.get("replaces")
            overrides.append(Override(first, last, person(om.require("person")),
                                      person(rep) if rep is not None else None))
        steps: list[Step] = []
        for s in m.require("escalation").as_list():
            sm = s.as_mapping(("after", "to", "via"))
            to_node = sm.require("to")
            if isinstance(to_node.raw, yaml.ScalarNode):
                if to_node.as_str() != ON_DUTY:
                    raise to_node.error("to: on_duty, or a list of people")
                to: tuple[str, ...] = (ON_DUTY,)
            else:
                to = tuple(person(x) for x in to_node.as_list())
            via = tuple(x.as_str() for x in sm.require("via").as_list())
            for v in via:
                if v not in receivers:
                    raise sm.require("via").error(f"unknown receiver {v!r} (receivers: "
                                                  f"{', '.join(receivers) or 'none'})")
            steps.append(build(Step, fields_of(sm, _STEP), to=to, via=via))
        out.append(build(
            Roster, given,
            name=m.require("name").as_str(),
            centers=tuple(x.as_str() for x in m.require("centers").as_list()),
            shifts=tuple(shifts), overrides=tuple(overrides), steps=tuple(steps)))
    return tuple(out)


@dataclass(frozen=True)
class DutyView:
    """What `hcc-controller oncall` shows for one roster."""

    roster: str
    centers: tuple[str, ...]
    on_duty: Person | None
    steps: tuple[str, ...] = field(default_factory=tuple)


def describe(roster: Roster, people: Mapping[str, Person], at: float) -> DutyView:
    pid = on_duty(roster, at)
    steps = []
    for s in roster.steps:
        who = "người trực" if s.to == (ON_DUTY,) else ", ".join(people[p].name for p in s.to)
        steps.append(f"+{round(s.after_s / 60)} phút: {who} qua {', '.join(s.via)}")
    return DutyView(roster.name, roster.centers, people.get(pid) if pid else None, tuple(steps))
