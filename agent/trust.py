"""The controller keys this box takes commands from: read from devices.yaml's
agent.controller_keys (files written by `hcc-agent enroll`, or inline keys)."""

from __future__ import annotations

from pathlib import Path

from hcc_common.signing import (
    KeyFormatError,
    PublicKey,
    TrustedKeys,
    parse_inline,
    parse_public_keys,
    trusted,
)

NO_KEY = "refused: no controller key (agent.controller_keys)"


def load_keys(entries: tuple[str, ...] | None) -> tuple[TrustedKeys, str | None]:
    """The keys, and what is wrong if some could not be read (the readable ones still count:
    one bad file does not cut a box off during a rotation). No entries: no key, and said so."""
    if not entries:
        return TrustedKeys(), NO_KEY
    keys: list[PublicKey] = []
    problems: list[str] = []
    for entry in entries:
        try:
            if entry.startswith("ed25519:"):
                keys.append(parse_inline(entry))
            else:
                keys.extend(parse_public_keys(Path(entry).read_text(encoding="utf-8")))
        except OSError as exc:
            problems.append(f"{entry}: {exc.strerror or exc}")
        except KeyFormatError as exc:
            problems.append(f"{entry}: {exc}")
    return trusted(keys), "; ".join(problems)[:300] or None


def describe(keys: TrustedKeys, problem: str | None) -> str:
    """For the birth: which keys this box verifies pushed configs with, or why it refuses them."""
    if not keys:
        return problem if problem and problem.startswith("refused") else \
            f"refused: no readable controller key ({problem})"
    return "signed by " + ", ".join(keys.ids)
