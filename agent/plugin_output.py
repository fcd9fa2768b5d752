"""Parse Nagios / monitoring-plugins output: status line, long text and performance data."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hcc_common.wire import MetricValue

EXIT_STATUS = {0: "ok", 1: "warning", 2: "critical", 3: "unknown"}
# label=value[UOM];[warn];[crit];[min];[max] — label may be quoted and contain spaces
_PERF_ITEM = re.compile(r"""\s*('(?:[^']|'')+'|[^=\s]+)=([-+]?[\d.]+(?:[eE][-+]?\d+)?)([a-zA-Z%]*)""")
UNIT_SCALE = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
              "B": 1.0, "%": 1.0, "c": 1.0, "": 1.0}
_SAFE = re.compile(r"[^a-z0-9_.]+")


@dataclass(frozen=True)
class PluginResult:
    status: str
    summary: str
    perfdata: dict[str, MetricValue]


def parse_perfdata(text: str) -> dict[str, MetricValue]:
    out: dict[str, MetricValue] = {}
    pos = 0
    while pos < len(text):
        m = _PERF_ITEM.match(text, pos)
        if m is None:
            # skip one malformed token rather than give up on the rest
            nxt = text.find(" ", pos + 1)
            if nxt < 0:
                break
            pos = nxt
            continue
        label, value, unit = m.group(1), m.group(2), m.group(3)
        label = label.strip("'").replace("''", "'")
        safe = _SAFE.sub("_", label.lower()).strip("_")
        key = "plugin." + (safe or ("root" if label.startswith("/") else "value"))
        try:
            number = float(value) * UNIT_SCALE.get(unit, 1.0)
        except ValueError:
            number = None
        if number is not None:
            # stored in base units: seconds, bytes
            out[key] = int(number) if number.is_integer() and abs(number) < 2**53 else number
        pos = m.end()
        # skip ;warn;crit;min;max
        while pos < len(text) and not text[pos].isspace():
            pos += 1
    return out


def parse(exit_code: int, output: str) -> PluginResult:
    """Plugin output: first line 'TEXT | perf', further lines text, perfdata after a '|' too."""
    status = EXIT_STATUS.get(exit_code, "unknown")
    lines = output.splitlines() or [""]
    first, _, perf = lines[0].partition("|")
    perf_parts = [perf]
    for line in lines[1:]:
        if "|" in line:
            perf_parts.append(line.split("|", 1)[1])
    perfdata: dict[str, MetricValue] = {}
    for part in perf_parts:
        perfdata.update(parse_perfdata(part))
    return PluginResult(status, first.strip()[:300], perfdata)
