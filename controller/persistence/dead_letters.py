"""Dead letters in the store: messages that could not be decoded, applied or stored, kept with
the reason (and acknowledged), so one bad message never stops or loops the ingest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.persistence.sql import Records

SCHEMA = """
-- Messages that could not be decoded, applied or stored: kept with the reason, and
-- acknowledged, so one bad message never stops or loops the ingest of every center.
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at REAL NOT NULL, topic TEXT NOT NULL, payload TEXT NOT NULL,
  size INTEGER NOT NULL, reason TEXT NOT NULL
);
"""

DEAD_LETTERS_KEPT = 10_000
DEAD_LETTER_BYTES = 8192  # of each payload; its full size is kept beside it


@dataclass(frozen=True)
class DeadLetter:
    received_at: float
    topic: str
    payload: bytes
    reason: str


class DeadLetters(Records):
    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Keep messages that failed, in their own transaction; at most DEAD_LETTERS_KEPT, the
        oldest giving way (a flood of junk must not fill the disk)."""
        if not letters:
            return
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO dead_letters (received_at, topic, payload, size, reason)"
                " VALUES (?,?,?,?,?)",
                [(d.received_at, d.topic[:300],
                  d.payload[:DEAD_LETTER_BYTES].decode("utf-8", "backslashreplace"),
                  len(d.payload), d.reason[:500]) for d in letters])
            cur.execute("DELETE FROM dead_letters WHERE id <= "
                        "(SELECT MAX(id) FROM dead_letters) - ?", (DEAD_LETTERS_KEPT,))

    def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, received_at, topic, payload, size, reason FROM dead_letters"
            " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("id", "received_at", "topic", "payload", "size", "reason"), r,
                         strict=True)) for r in rows]
