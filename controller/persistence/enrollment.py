"""Enrollment in the store: one-time codes (only their hash), and the boxes enrolled with them,
a center's known agents."""

from __future__ import annotations

from controller.persistence.sql import Records

SCHEMA = """
-- One-time enrollment codes (only their hash), and the boxes enrolled: a center's known agents.
CREATE TABLE IF NOT EXISTS enrollments (
  code_hash TEXT PRIMARY KEY, center TEXT NOT NULL, agent TEXT NOT NULL,
  created_by TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
  used_at REAL, used_from TEXT
);
"""


class Enrollments(Records):
    def add_enrollment(self, code_hash: str, center: str, agent: str, by: str, at: float,
                       expires_at: float) -> None:
        self.db.execute("INSERT INTO enrollments (code_hash, center, agent, created_by,"
                        " created_at, expires_at) VALUES (?,?,?,?,?,?)",
                        (code_hash, center, agent, by, at, expires_at))

    def take_enrollment(self, code_hash: str, at: float, peer: str) -> tuple[str, str] | None:
        """Use a code, once: (center, agent), or None if unknown, used or expired. One statement
        decides: under PostgreSQL's READ COMMITTED a SELECT then UPDATE let 4 concurrent
        requests each pass for the same code; the UPDATE's own WHERE is re-checked on the row it
        locks, so only the first finds used_at NULL."""
        row = self.db.execute(
            "UPDATE enrollments SET used_at=?, used_from=? WHERE code_hash=? AND used_at IS NULL"
            " AND expires_at > ? RETURNING center, agent",
            (at, peer[:100], code_hash, at)).fetchone()
        return (str(row[0]), str(row[1])) if row is not None else None

    def release_enrollment(self, code_hash: str, at: float) -> None:
        """Give a code back that was taken at `at` but bought nothing (the credentials could not
        be made): the box may try again with the same code."""
        self.db.execute("UPDATE enrollments SET used_at=NULL, used_from=NULL WHERE code_hash=?"
                        " AND used_at=?", (code_hash, at))

    def enrolled_agents(self) -> dict[str, set[str]]:
        """The boxes each center has by enrollment (codes that were used)."""
        out: dict[str, set[str]] = {}
        for center, agent in self.db.execute(
                "SELECT center, agent FROM enrollments WHERE used_at IS NOT NULL"):
            out.setdefault(str(center), set()).add(str(agent))
        return out
