"""The monthly report's mailing in the store: one row per month, claimed by the controller
that sends it."""

from __future__ import annotations

from typing import Any

from controller.persistence.sql import Records

SCHEMA = """
-- Monthly reports mailed: one row per month, claimed by the controller that sends it.
CREATE TABLE IF NOT EXISTS report_runs (
  month TEXT PRIMARY KEY, status TEXT NOT NULL, claimed_at REAL NOT NULL, attempts INTEGER NOT NULL,
  last_error TEXT, sent_at REAL
);
"""


class ReportRuns(Records):
    def last_report_month(self) -> str | None:
        row = self.db.execute("SELECT MAX(month) FROM report_runs WHERE status='sent'").fetchone()
        return row[0] if row is not None else None

    def claim_report(self, month: str, at: float, retry_after_s: float) -> bool:
        """True for the one controller that should send `month` now: a new claim, or a failed
        (or abandoned) one older than `retry_after_s`."""
        with self.db.transaction() as cur:
            row = cur.execute("SELECT status, claimed_at FROM report_runs WHERE month=?",
                              (month,)).fetchone()
            if row is None:
                done = cur.execute("INSERT INTO report_runs VALUES (?, 'sending', ?, 1, "
                                   "NULL, NULL) ON CONFLICT DO NOTHING", (month, at))
                mine = getattr(done, "rowcount", 0) == 1  # another controller may be first
            elif row[0] != "sent" and at - row[1] >= retry_after_s:
                # the WHERE re-checks the status: a month sent since our SELECT (its
                # claimed_at unchanged) is not claimed, and mailed, a second time
                done = cur.execute("UPDATE report_runs SET status='sending', claimed_at=?, "
                                   "attempts=attempts+1 WHERE month=? AND claimed_at=? AND "
                                   "status != 'sent'", (at, month, row[1]))
                mine = getattr(done, "rowcount", 0) == 1
            else:
                mine = False
        return mine

    def report_failed(self, month: str, error: str) -> None:
        self.db.execute("UPDATE report_runs SET status='failed', last_error=? WHERE month=?",
                        (error[:500], month))

    def report_sent(self, month: str, at: float) -> None:
        self.db.execute("UPDATE report_runs SET status='sent', sent_at=?, last_error=NULL "
                        "WHERE month=?", (at, month))

    def report_runs(self) -> list[dict[str, Any]]:
        return [{"month": r[0], "status": r[1], "claimed_at": r[2], "attempts": r[3],
                 "last_error": r[4], "sent_at": r[5]} for r in self.db.execute(
            "SELECT month, status, claimed_at, attempts, last_error, sent_at FROM report_runs "
            "ORDER BY month DESC")]
