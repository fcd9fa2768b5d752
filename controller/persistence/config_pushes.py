"""Configs pushed to boxes, in the store: every version kept (content-addressed), and the one
each box should run."""

from __future__ import annotations

from typing import Any

from controller.persistence.sql import Records, upsert

SCHEMA = """
-- Configs pushed to boxes: every version kept (content-addressed), and the one each box should run.
CREATE TABLE IF NOT EXISTS config_versions (
  center TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL, content TEXT NOT NULL,
  author TEXT NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY (center, agent, version)
);
CREATE TABLE IF NOT EXISTS config_desired (
  center TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL, author TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (center, agent)
);
"""


class ConfigPushes(Records):
    def push_config(self, center: str, agent: str, version: str, content: str, author: str,
                    at: float) -> None:
        """Keep this version and make it the one the box should run, in one transaction."""
        with self.db.transaction() as cur:
            cur.execute("INSERT INTO config_versions VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                        (center, agent, version, content, author, at))
            cur.execute(upsert("config_desired", ("center", "agent", "version", "author",
                                                  "updated_at"), ("center", "agent")),
                        (center, agent, version, author, at))

    def desired_configs(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT d.center, d.agent, d.version, d.author, d.updated_at, v.content"
            " FROM config_desired d JOIN config_versions v ON v.center = d.center"
            " AND v.agent = d.agent AND v.version = d.version ORDER BY d.center, d.agent")
        return [dict(zip(("center", "agent", "version", "author", "updated_at", "content"), r,
                         strict=True)) for r in rows]

    def desired_versions(self) -> dict[tuple[str, str], str]:
        """Which version each box should run, without the texts (read every few seconds)."""
        return {(str(c), str(a)): str(v) for c, a, v in
                self.db.execute("SELECT center, agent, version FROM config_desired")}

    def config_versions(self, center: str, agent: str) -> list[dict[str, Any]]:
        """Newest first."""
        rows = self.db.execute(
            "SELECT version, author, created_at, content FROM config_versions"
            " WHERE center=? AND agent=? ORDER BY created_at DESC", (center, agent))
        return [dict(zip(("version", "author", "created_at", "content"), r, strict=True))
                for r in rows]
