"""Secrets in config files: given inline, as `KEY_file` (read at load) or `KEY_env`; never echoed."""

from __future__ import annotations

from collections.abc import Mapping as TMapping
from pathlib import Path

from hcc_common.yamlconf import Mapping, Node

# The value of a `*_file` secret while a config is judged away from its box (config push).
FILE_ON_THE_BOX = "(read from a file on the box)"


def secret(m: Mapping, key: str, env: TMapping[str, str], default: str | None = None
           ) -> str | None:
    """A secret given as `key`, `key_file` (read now) or `key_env` (an environment variable).
    Errors name the file or variable, never the secret."""
    given = [k for k in (key, f"{key}_file", f"{key}_env") if m.get(k) is not None]
    if len(given) > 1:
        raise m.require(given[1]).error(f"give only one of {', '.join(given)}")
    if not given:
        return default
    node = m.require(given[0])
    if given[0] == key:
        return node.as_str()
    name = node.as_str()
    if given[0].endswith("_env"):
        value = env.get(name)
        if value is None:
            raise node.error(f"environment variable {name} is not set")
        return value
    from hcc_common.filecheck import checking_files, named_file

    path = named_file(node)  # absolute, present and readable by the service (when checked)
    if not checking_files() and not Path(path).exists():
        return FILE_ON_THE_BOX  # judged elsewhere (the controller): the box reads it, not us
    try:
        value = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise node.error(f"cannot read {path}: {exc.strerror}") from None
    if not value:
        raise node.error(f"{path} is empty")
    return value


def inline_or_env(node: Node, env: TMapping[str, str]) -> str:
    """A value written inline, or `env:VAR`: the environment variable VAR (an API token, a key)."""
    value = node.as_str()
    if not value.startswith("env:"):
        return value
    var = value[4:]
    if var not in env:
        raise node.error(f"environment variable {var} is not set")
    return env[var]
