"""Secrets in config files: given inline, as `KEY_file` (read at load) or `KEY_env`; never echoed."""

from __future__ import annotations

from collections.abc import Mapping as TMapping
from pathlib import Path

from hcc_common.yamlconf import Mapping


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
    try:
        value = Path(name).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise node.error(f"cannot read {name}: {exc.strerror}") from None
    if not value:
        raise node.error(f"{name} is empty")
    return value
