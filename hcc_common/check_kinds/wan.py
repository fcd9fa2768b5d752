"""devices.yaml section `wan`: the box's wired port (and its namespace) the center's internet
line is checked from."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds import probe
from hcc_common.check_kinds.base import KindSchema, SectionInput
from hcc_common.yamlconf import Node


@dataclass(frozen=True, kw_only=True)
class WanSettings(probe.ProbeSettings):
    interface: str = "eth0"
    netns: str | None = None              # where the wired port lives, if not the box's own


def parse(node: Node, given: SectionInput) -> WanSettings:
    m = node.as_mapping((*probe.KEYS, "interface", "netns"))
    extra = probe.common(m, given)
    for key in ("interface", "netns"):
        if (n := m.get(key)) is not None:
            extra[key] = n.as_str()
    return WanSettings(**extra)


SCHEMA = KindSchema(kind="wan", settings=WanSettings, parse=parse)
