"""devices.yaml section `ipp`: where the printer's IPP service is (port, path, TLS)."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds.base import KindSchema, SectionInput, always
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class IppSettings:
    port: int = 631
    path: str = "/ipp/print"
    tls: bool = False


def parse(node: Node, given: SectionInput) -> IppSettings:
    m = node.as_mapping(("port", "path", "tls"))
    port = m.get("port")
    path = m.get("path")
    tls = m.get("tls")
    return IppSettings(port.as_int(1, 65535) if port is not None else 631,
                       path.as_str() if path is not None else "/ipp/print",
                       tls.as_bool() if tls is not None else False)


SCHEMA = KindSchema(kind="ipp", settings=IppSettings, parse=parse, needs_host=always)
