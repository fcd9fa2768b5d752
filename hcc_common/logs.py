"""One log line per event, key=value formatted, to stderr (journald picks it up); secrets never logged."""

from __future__ import annotations

import logging
import sys

from hcc_common.terminal import one_value

_RESERVED = set(vars(logging.makeLogRecord({})))


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}",
            f"level={record.levelname.lower()}",
            f"logger={record.name}",
            f"event={_quote(record.getMessage())}",
        ]
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                parts.append(f"{key}={_quote(str(value))}")
        if record.exc_info:
            parts.append(f"exc={_quote(self.formatException(record.exc_info))}")
        return " ".join(parts)


def _quote(value: str) -> str:
    if value and all(c.isalnum() or c in "-_.:/@+,%" for c in value):
        return value
    # one_value: a CR, an escape sequence or a line break from a box cannot forge or hide a line
    return '"' + one_value(value.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def setup(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # pysnmp and paho are chatty at debug; their detail is rarely what a technician needs.
    # httpx logs every request's URL at info: a Telegram bot's token is in its URL.
    for noisy in ("pysnmp", "asyncio", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
