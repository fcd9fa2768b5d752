"""devices.yaml section `command`: a monitoring plugin's command line (a list, or one string)."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from hcc_common.check_kinds.base import KindSchema, SectionInput
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class CommandSettings:
    argv: tuple[str, ...]


def parse(node: Node, given: SectionInput) -> CommandSettings:
    if node.kind() == "list":
        argv = tuple(n.as_str() for n in node.as_list())
    else:
        try:
            argv = tuple(shlex.split(node.as_str()))
        except ValueError as exc:
            raise node.error(f"cannot split the command line: {exc}") from None
    if not argv:
        raise node.error("command is empty")
    return CommandSettings(argv)


SCHEMA = KindSchema(kind="command", settings=CommandSettings, parse=parse)
