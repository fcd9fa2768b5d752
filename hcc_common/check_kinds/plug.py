"""What the smart-plug sections (`shelly`, `tasmota`) share: the HTTP port and the switch."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds.base import SectionInput
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class PlugSettings:
    port: int = 80
    switch: int = 0          # Shelly switch id / Tasmota relay number - 1


def parse(node: Node, given: SectionInput) -> PlugSettings:
    m = node.as_mapping(("port", "switch"))
    port = m.get("port")
    switch = m.get("switch")
    return PlugSettings(port.as_int(1, 65535) if port is not None else 80,
                        switch.as_int(0, 16) if switch is not None else 0)
