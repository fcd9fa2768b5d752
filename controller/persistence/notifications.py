"""Notifications sent (or tried) in the store: one row per message to a receiver, with its
attempts and last error, as the desk and the CLI list them."""

from __future__ import annotations

import json
import time
from typing import Any

from controller.persistence.sql import Records

SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  receiver TEXT NOT NULL, center TEXT NOT NULL, kind TEXT NOT NULL, alert_ids TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,
  created_at REAL NOT NULL, sent_at REAL
);
"""


class Notifications(Records):
    def record_notification(self, receiver: str, center: str, kind: str, alert_ids: list[int],
                            status: str, attempts: int, error: str | None,
                            notification_id: int | None = None) -> int:
        now = time.time()
        if notification_id is None:
            row = self.db.execute(
                "INSERT INTO notifications (receiver, center, kind, alert_ids, status, attempts,"
                " last_error, created_at, sent_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                (receiver, center, kind, json.dumps(alert_ids), status, attempts, error, now,
                 now if status == "sent" else None)).fetchone()
            return int(row[0])
        self.db.execute("UPDATE notifications SET status=?, attempts=?, last_error=?, sent_at=?"
                        " WHERE id=?", (status, attempts, error,
                                        now if status == "sent" else None, notification_id))
        return notification_id

    def notifications(self, limit: int = 100) -> list[dict[str, Any]]:
        cols = ("id", "receiver", "center", "kind", "alert_ids", "status", "attempts",
                "last_error", "created_at", "sent_at")
        out = []
        for r in self.db.execute(f"SELECT {','.join(cols)} FROM notifications ORDER BY id DESC"
                                 " LIMIT ?", (limit,)):
            d = dict(zip(cols, r, strict=True))
            d["alert_ids"] = json.loads(d["alert_ids"])
            out.append(d)
        return out
