"""What a check kind declares about devices.yaml: its section's key, its typed settings, their
parser and whether it polls the device's host. Pure and shared: the box and the center read a
device's sections with the same declarations (hcc_common/devices_config.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from hcc_common.yamlconf import Node

S = TypeVar("S")


@dataclass(frozen=True, kw_only=True)
class SectionInput:
    """What a section's parser may know besides its own node: the device's host (a URL is
    built from it) and the environment (secrets given as `*_env`)."""

    host: str | None
    env: Mapping[str, str]


def always(node: Node) -> bool:
    return True


def never(node: Node) -> bool:
    return False


@dataclass(frozen=True, kw_only=True)
class KindSchema(Generic[S]):
    kind: str                                   # the section's key under a device
    settings: type[S]                           # frozen dataclass the section becomes
    parse: Callable[[Node, SectionInput], S]    # raises ConfigError naming file:line and key
    # whether this section, as written, polls the device's `host` (an http check with its own
    # url does not)
    needs_host: Callable[[Node], bool] = never

    def of(self, checks: Mapping[str, object]) -> S | None:
        """This kind's settings in a device's checks, typed; None when it has no such check."""
        value = checks.get(self.kind)
        if value is None:
            return None
        assert isinstance(value, self.settings), f"{self.kind}: {type(value).__name__}"
        return value
