"""Declarative config sections over yamlconf.Node: each key says how it is read and which field
it fills; a key left out of the file leaves its field to the dataclass default (one place)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from hcc_common.yamlconf import Mapping, Node

T = TypeVar("T")


@dataclass(frozen=True)
class Key:
    """YAML key `name`, read by `read` into the field `to` (empty: the key's own name). A tuple
    `to` takes one value per field from what `read` returns (`listen` -> host and port)."""

    name: str
    read: Callable[[Node], object]
    to: str | tuple[str, ...] = ""


def key_names(keys: Sequence[Key], *more: str) -> tuple[str, ...]:
    """The keys a mapping allows: the declared ones and `more` (read by hand)."""
    return (*(k.name for k in keys), *more)


def fields_of(m: Mapping, keys: Sequence[Key]) -> dict[str, object]:
    """The fields that `m` writes, by field name. A key not written is not in the result, so
    the dataclass default applies: a parser never restates a default."""
    out: dict[str, object] = {}
    for k in keys:
        node = m.get(k.name)
        if node is None:
            continue
        value = k.read(node)
        if isinstance(k.to, tuple):
            values = value if isinstance(value, tuple) else (value,)
            out.update(zip(k.to, values, strict=True))
        else:
            out[k.to or k.name] = value
    return out


def build(make: Callable[..., T], given: dict[str, object], **fixed: object) -> T:
    """`make(**given, **fixed)`: fields read from a file, and those the parser works out."""
    return make(**given, **fixed)


def section(node: Node | None, make: Callable[..., T], keys: Sequence[Key]) -> T:
    """A mapping of `keys` alone, into `make`; no node: every field its default."""
    if node is None:
        return make()
    return make(**fields_of(node.as_mapping(key_names(keys)), keys))


# readers for Key.read, named as the value they take
def text(node: Node) -> str:
    return node.as_str()


def flag(node: Node) -> bool:
    return node.as_bool()


def number(node: Node) -> float:
    return node.as_float()


def whole(minimum: int | None = None, maximum: int | None = None) -> Callable[[Node], int]:
    return lambda node: node.as_int(minimum, maximum)


def duration(minimum: float = 0.0) -> Callable[[Node], float]:
    return lambda node: node.as_duration(minimum=minimum)


def choice(*choices: str) -> Callable[[Node], str]:
    return lambda node: node.as_choice(choices)
