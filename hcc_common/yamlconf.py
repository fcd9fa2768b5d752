"""Position-aware YAML reading: every config error names file:line and the dotted key."""

from __future__ import annotations

import contextlib
import contextvars
import difflib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml

from hcc_common.durations import parse_duration

T = TypeVar("T")


class ConfigError(Exception):
    """A config mistake, located. str() is the one line a technician reads."""

    def __init__(self, file: str, line: int, key: str, reason: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
        where = f"{file}:{line}" if line else file  # a file that is missing has no line 0
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")


class ConfigErrors(ConfigError):
    """Every mistake of a file, found in one pass (the first's file:line:key is its own):
    a technician fixes them all at once instead of one per run."""

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.line, first.key, first.reason)
        self.errors: tuple[ConfigError, ...] = tuple(errors)
        self.args = ("\n".join(str(e) for e in self.errors),)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def each_error(exc: ConfigError) -> tuple[ConfigError, ...]:
    return exc.errors if isinstance(exc, ConfigErrors) else (exc,)


# While a parser collects (collect_errors), a mistake that does not stop the parse (an unknown
# key, a section that is wrong) is noted here and the parse goes on.
_collected: contextvars.ContextVar[list[ConfigError] | None] = contextvars.ContextVar(
    "hcc_config_errors", default=None)


@contextlib.contextmanager
def collect_errors() -> Iterator[list[ConfigError]]:
    """Collect the mistakes of one parse; the caller raises them together (raise_collected)."""
    errors: list[ConfigError] = []
    token = _collected.set(errors)
    try:
        yield errors
    finally:
        _collected.reset(token)


def note(err: ConfigError) -> None:
    """A mistake the parse can go on after: noted while collecting, else raised."""
    bucket = _collected.get()
    if bucket is None:
        raise err
    bucket.extend(each_error(err))


def attempt(parse: Callable[[], T], fallback: T) -> T:
    """parse(), or (its mistake noted) `fallback`, so the rest of the file is still read."""
    try:
        return parse()
    except ConfigError as exc:
        note(exc)
        return fallback


def raise_collected(errors: Sequence[ConfigError]) -> None:
    if errors:
        unique = {(e.file, e.line, e.key, e.reason): e for e in errors}
        ordered = sorted(unique.values(), key=lambda e: (e.line, e.key))
        raise ordered[0] if len(ordered) == 1 else ConfigErrors(ordered)


_CONSTRUCTOR = yaml.constructor.SafeConstructor()

_SCALAR_TAGS = {
    "tag:yaml.org,2002:int": "number",
    "tag:yaml.org,2002:float": "number",
    "tag:yaml.org,2002:bool": "true/false",
    "tag:yaml.org,2002:null": "empty",
    "tag:yaml.org,2002:str": "text",
}


@dataclass(frozen=True)
class Node:
    """A YAML node with the file and the dotted path that led to it."""

    raw: yaml.Node
    file: str
    path: str

    @property
    def line(self) -> int:
        return int(self.raw.start_mark.line) + 1

    def error(self, reason: str) -> ConfigError:
        return ConfigError(self.file, self.line, self.path, reason)

    def kind(self) -> str:
        if isinstance(self.raw, yaml.MappingNode):
            return "mapping"
        if isinstance(self.raw, yaml.SequenceNode):
            return "list"
        return _SCALAR_TAGS.get(str(self.raw.tag), "text")

    # -- scalars ---------------------------------------------------------
    def _scalar(self) -> object:
        if not isinstance(self.raw, yaml.ScalarNode):
            raise self.error(f"expected a single value, got a {self.kind()}")
        return _CONSTRUCTOR.construct_object(self.raw, deep=True)

    def as_str(self) -> str:
        value = self._scalar()
        if isinstance(value, bool) or value is None or isinstance(value, list | dict):
            raise self.error(f"expected text, got {self.kind()}")
        text = str(value) if not isinstance(value, str) else value
        if not text.strip():
            raise self.error("must not be empty")
        return text

    def as_int(self, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._scalar()
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"expected a whole number, got {self.kind()} {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"must be at most {maximum}, got {value}")
        return value

    def as_float(self) -> float:
        value = self._scalar()
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(f"expected a number, got {self.kind()} {value!r}")
        return float(value)

    def as_bool(self) -> bool:
        value = self._scalar()
        if not isinstance(value, bool):
            raise self.error(f"expected true or false, got {value!r}")
        return value

    def as_duration(self, minimum: float = 0.0) -> float:
        value = self._scalar()
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise self.error(f"expected a duration such as 30s, got {self.kind()}")
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        if seconds < minimum:
            raise self.error(f"must be at least {minimum:g}s, got {seconds:g}s")
        return seconds

    def as_choice(self, choices: Sequence[str]) -> str:
        value = self.as_str()
        if value not in choices:
            hint = _suggest(value, choices)
            raise self.error(f"{value!r} is not one of {', '.join(choices)}{hint}")
        return value

    # -- containers ------------------------------------------------------
    def as_list(self) -> list[Node]:
        if not isinstance(self.raw, yaml.SequenceNode):
            raise self.error(f"expected a list, got {self.kind()}")
        return [Node(item, self.file, f"{self.path}[{i}]") for i, item in enumerate(self.raw.value)]

    def as_mapping(self, allowed: Sequence[str]) -> Mapping:
        return Mapping.of(self, allowed)


@dataclass(frozen=True)
class Mapping:
    """A YAML mapping checked against its allowed keys (typos get a close-match hint)."""

    node: Node
    entries: dict[str, Node]

    @staticmethod
    def of(node: Node, allowed: Sequence[str]) -> Mapping:
        raw = node.raw
        if not isinstance(raw, yaml.MappingNode):
            raise node.error(f"expected a mapping of keys, got {node.kind()}")
        entries: dict[str, Node] = {}
        for key_node, value_node in raw.value:
            key = str(key_node.value)
            child_path = f"{node.path}.{key}" if node.path else key
            if key not in allowed:
                where = Node(key_node, node.file, child_path)
                note(where.error(f"unknown key{_suggest(key, allowed)}"))
                continue  # the rest of the mapping is still read
            if key in entries:
                where = Node(key_node, node.file, child_path)
                note(where.error(f"key given twice (first on line {entries[key].line})"))
                continue
            entries[key] = Node(value_node, node.file, child_path)
        return Mapping(node, entries)

    def get(self, key: str) -> Node | None:
        child = self.entries.get(key)
        if child is None:
            return None
        # An explicit "key:" with no value counts as absent, as YAML users expect.
        if isinstance(child.raw, yaml.ScalarNode) and child.raw.tag == "tag:yaml.org,2002:null":
            return None
        return child

    def require(self, key: str) -> Node:
        child = self.get(key)
        if child is None:
            path = f"{self.node.path}.{key}" if self.node.path else key
            raise ConfigError(self.node.file, self.node.line, path, "required key is missing")
        return child

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)


class _AnyKeys(tuple[str, ...]):
    """Allowed-keys marker for free-form mappings (OID names, labels, day specs)."""

    def __contains__(self, item: object) -> bool:
        return True


ANY_KEYS: Sequence[str] = _AnyKeys()


# Words people write for a key, by meaning (spelling alone sends "hostname" to "name" and "ip"
# to "ipp"): the first of each that the mapping allows is suggested.
SYNONYMS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("hostname", "ip", "ip_address", "ipaddress", "ipv4", "address", "addr",
                     "server", "hosts"), ("host",)),
    **dict.fromkeys(("password", "pass", "passwd", "secret", "community_string"),
                    ("community", "password_file", "auth_key", "speed_token")),
    **dict.fromkeys(("username", "login", "user_name"), ("user", "username")),
    **dict.fromkeys(("every", "period", "poll", "poll_interval", "frequency"), ("interval",)),
    **dict.fromkeys(("kind", "device_type", "class"), ("type",)),
    **dict.fromkeys(("label", "title", "description"), ("name",)),
    **dict.fromkeys(("ca", "cafile", "ca_cert", "cacert"), ("ca_file",)),
    **dict.fromkeys(("password_path", "passfile"), ("password_file",)),
}


def _suggest(word: str, choices: Sequence[str]) -> str:
    key = word.lower().replace("-", "_")
    for meant in SYNONYMS.get(key, ()):
        if meant in choices:
            return f" (did you mean {meant!r}?)"
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def load_yaml(path: Path | str, text: str | None = None) -> Node:
    """Compose a YAML file into position-carrying nodes. Syntax errors become ConfigError."""
    name = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(name, 0, "", "file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(name, 0, "", f"cannot read file: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else 0
        raise ConfigError(name, line, "", f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(name, 0, "", f"YAML error: {exc}") from None
    if root is None:
        raise ConfigError(name, 1, "", "file is empty")
    return Node(root, name, "")
