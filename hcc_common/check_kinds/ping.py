"""devices.yaml section `ping`: ICMP echo (`ping: true`, or how many echoes)."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds.base import KindSchema, SectionInput, always
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class PingSettings:
    count: int = 3


def parse(node: Node, given: SectionInput) -> PingSettings:
    if node.kind() == "true/false" and node.as_bool():
        return PingSettings()
    m = node.as_mapping(("count",))
    count = m.get("count")
    return PingSettings(count.as_int(1, 20) if count is not None else 3)


SCHEMA = KindSchema(kind="ping", settings=PingSettings, parse=parse, needs_host=always)
