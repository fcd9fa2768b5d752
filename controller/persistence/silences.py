"""Silences and maintenance windows in the store: alerts that match stay visible but notify
nobody."""

from __future__ import annotations

import fnmatch
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.persistence.alerts import AlertNotFound, AlertRow
from controller.persistence.sql import Records

SCHEMA = """
-- Silences and maintenance windows: alerts that match stay visible but notify nobody.
CREATE TABLE IF NOT EXISTS silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  center TEXT, device TEXT, type TEXT, code TEXT,
  starts_at REAL NOT NULL, ends_at REAL NOT NULL,
  author TEXT NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL
);
"""
SILENCE_COLUMNS = ("id", "center", "device", "type", "code", "starts_at", "ends_at", "author",
                   "reason", "created_at")
_SELECT = f"SELECT {', '.join(SILENCE_COLUMNS)} FROM silences"


@dataclass(frozen=True, kw_only=True)
class Silence:
    id: int
    center: str | None
    device: str | None
    type: str | None
    code: str | None
    starts_at: float
    ends_at: float
    author: str
    reason: str
    created_at: float

    def matches(self, alert: AlertRow, device_type: str | None, at: float) -> bool:
        return (self.starts_at <= at < self.ends_at
                and (self.center is None or self.center == alert.center)
                and (self.device is None or self.device == alert.device)
                and (self.type is None or self.type == device_type)
                and (self.code is None or fnmatch.fnmatchcase(alert.code, self.code)))


def _silence(row: Sequence[Any]) -> Silence:
    return Silence(**dict(zip(SILENCE_COLUMNS, row, strict=True)))


class Silences(Records):
    def add_silence(self, *, center: str | None, device: str | None, type_: str | None,
                    code: str | None, starts_at: float, ends_at: float, author: str,
                    reason: str) -> Silence:
        row = self.db.execute(
            "INSERT INTO silences (center, device, type, code, starts_at, ends_at, author, reason,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
            (center, device, type_, code, starts_at, ends_at, author, reason, time.time())
        ).fetchone()
        return self.silence(int(row[0]))

    def silence(self, silence_id: int) -> Silence:
        row = self.db.execute(f"{_SELECT} WHERE id=?", (silence_id,)).fetchone()
        if row is None:
            raise AlertNotFound(silence_id)
        return _silence(row)

    def silences(self, active_at: float | None = None) -> list[Silence]:
        if active_at is None:
            rows = self.db.execute(f"{_SELECT} ORDER BY id DESC")
        else:
            rows = self.db.execute(f"{_SELECT} WHERE ends_at > ? ORDER BY id DESC", (active_at,))
        return [_silence(r) for r in rows]

    def expire_silence(self, silence_id: int, at: float) -> Silence:
        self.silence(silence_id)
        self.db.execute("UPDATE silences SET ends_at=? WHERE id=? AND ends_at > ?",
                        (at, silence_id, at))
        return self.silence(silence_id)
