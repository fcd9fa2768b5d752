"""Alert rules: which device conditions become alerts, after how long, and when they clear. Pure."""

from __future__ import annotations

import fnmatch
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from hcc_common import readings
from hcc_common.wire import FaultReport, MetricValue
from hcc_common.yamlconf import ANY_KEYS, Node, load_yaml
from hcc_common.yamlfields import Key, build, choice, duration, fields_of

OPS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
# Moving back past `clear` ends a metric condition; the opposite direction of `op`.
_RULE_KEYS = ("name", "types", "centers", "fault", "metric", "op", "value", "clear", "for",
              "clear_for", "severity", "labels", "when", "code")


@dataclass(frozen=True, kw_only=True)
class Rule:
    name: str
    fault: str | None = None
    metric: str | None = None
    op: str | None = None
    value: float | None = None
    clear: float | None = None
    for_s: float = 0.0
    clear_for_s: float = 0.0
    severity: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    when: str = "always"
    types: tuple[str, ...] = ()
    centers: tuple[str, ...] = ()
    code: str | None = None

    def applies(self, center: str, device_type: str) -> bool:
        return (not self.types or device_type in self.types) and \
            (not self.centers or center in self.centers)


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One reason for an alert that holds right now."""

    code: str
    subject: str
    severity: str
    params: Mapping[str, MetricValue]
    rule: Rule


def fault_rule(rules: Sequence[Rule], center: str, device_type: str, code: str) -> Rule | None:
    for r in rules:
        if r.fault is not None and r.applies(center, device_type) and \
                fnmatch.fnmatchcase(code, r.fault):
            return r
    return None


def metric_conditions(rules: Sequence[Rule], center: str, device_type: str,
                      metrics: Mapping[str, MetricValue], is_open: Callable[[str], bool]
                      ) -> list[Condition]:
    out = []
    for r in rules:
        if r.metric is None or not r.applies(center, device_type):
            continue
        assert r.op is not None and r.value is not None
        value = metrics.get(r.metric)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        code = r.code or f"metric.{r.name}"
        holds = OPS[r.op](float(value), r.value)
        if not holds and is_open(code) and r.clear is not None:
            # hysteresis: an open alert stays until the value is past `clear`
            holds = OPS[r.op](float(value), r.clear) or (
                min(r.value, r.clear) <= float(value) <= max(r.value, r.clear))
        if holds:
            out.append(Condition(code=code, subject="", severity=r.severity or "warning",
                                 params={"metric": r.metric, "value": value}, rule=r))
    return out


def fault_conditions(rules: Sequence[Rule], center: str, device_type: str,
                     faults: Sequence[FaultReport], subject: Callable[[FaultReport], str]
                     ) -> list[Condition]:
    out = []
    for f in faults:
        r = fault_rule(rules, center, device_type, f.code)
        if r is None:
            continue  # no rule wants it: shown on the device, not alerted
        out.append(Condition(code=f.code, subject=subject(f), severity=r.severity or f.severity,
                             params=f.params, rule=r))
    return out


# -- parsing -------------------------------------------------------------------------------------
def _labels(node: Node) -> dict[str, str]:
    lm = node.as_mapping(ANY_KEYS)
    return {k: lm.require(k).as_str() for k in lm}


def _texts(node: Node) -> tuple[str, ...]:
    return tuple(n.as_str() for n in node.as_list())


# a rule's keys that map straight onto its fields (fault, metric, op, value, clear by hand)
_RULE_FIELDS = (
    Key("for", duration(), "for_s"),
    Key("clear_for", duration(), "clear_for_s"),
    Key("severity", choice("critical", "warning", "info")),
    Key("labels", _labels),
    Key("when", choice("always", "open")),
    Key("types", _texts),
    Key("centers", _texts),
    Key("code", Node.as_str),
)


def parse_rules(node: Node) -> tuple[Rule, ...]:
    rules = []
    names: dict[str, int] = {}
    for item in node.as_list():
        m = item.as_mapping(_RULE_KEYS)
        name = m.require("name").as_str()
        if name in names:
            raise m.require("name").error(f"rule {name!r} defined twice (first on line "
                                          f"{names[name]})")
        names[name] = item.line
        fault = m.get("fault")
        metric = m.get("metric")
        if (fault is None) == (metric is None):
            raise item.error(f"rule {name!r} needs exactly one of fault: or metric:")
        op = value = None
        if metric is not None:
            op = m.require("op").as_choice(tuple(OPS))
            value = m.require("value").as_float()
            # a rule compares a number: on a name no box sends (a typo) or on a text it would
            # never fire, silently
            kind = readings.kind_of(metric.as_str())
            if kind is None or kind.value != "number":
                raise metric.error(f"{metric.as_str()!r} is not a numeric reading "
                                   "(docs/protocol.md#readings)" if kind is None else
                                   f"{metric.as_str()!r} is a text reading, not a number")
        given = fields_of(m, _RULE_FIELDS)
        if fault is not None:
            given["fault"] = fault.as_str()
        if metric is not None:
            given.update(metric=metric.as_str(), op=op, value=value)
            if (clear_node := m.get("clear")) is not None:
                given["clear"] = clear_node.as_float()
        rules.append(build(Rule, given, name=name))
    return tuple(rules)


def default_rules() -> tuple[Rule, ...]:
    text = (resources.files("controller") / "rules_default.yaml").read_text(encoding="utf-8")
    return parse_rules(load_yaml("controller/rules_default.yaml", text))


def load_rules_file(path: str | Path) -> tuple[Rule, ...]:
    return parse_rules(load_yaml(path))
