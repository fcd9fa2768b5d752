"""Parse human durations such as "30s", "1m30s", "500ms" or a bare number of seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str | int | float) -> float:
    """Return seconds. Raises ValueError with a reason a technician can act on."""
    if isinstance(text, bool):
        raise ValueError("expected a duration such as 30s, got a true/false value")
    if isinstance(text, int | float):
        if not math.isfinite(text):
            raise ValueError(f"duration must be a finite number, got {text}")
        if text < 0:
            raise ValueError(f"duration must not be negative, got {text}")
        return float(text)
    s = text.strip().lower()
    if not s:
        raise ValueError("empty duration; write e.g. 30s, 2m or 1h")
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if not math.isfinite(value):
            raise ValueError(f"duration must be a finite number, got {text!r}")
        if value < 0:
            raise ValueError(f"duration must not be negative, got {text!r}")
        return value
    pos = 0
    total = 0.0
    for m in _PART.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        pos = m.end()
    if pos != len(s) or pos == 0:
        raise ValueError(f"bad duration {text!r}; write e.g. 500ms, 30s, 2m, 1h30m")
    return total


def format_duration(seconds: float) -> str:
    """Short human form used in CLI output: 45s, 3m05s, 2h10m."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
