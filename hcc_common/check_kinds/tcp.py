"""devices.yaml section `tcp`: the port a TCP connection is opened to."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds.base import KindSchema, SectionInput, always
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class TcpSettings:
    port: int


def parse(node: Node, given: SectionInput) -> TcpSettings:
    m = node.as_mapping(("port",))
    return TcpSettings(port=m.require("port").as_int(1, 65535))


SCHEMA = KindSchema(kind="tcp", settings=TcpSettings, parse=parse, needs_host=always)
