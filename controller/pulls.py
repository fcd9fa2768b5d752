"""Config pulls in the database: `hcc-controller config pull` asks (a row), the running
controller publishes the request and keeps the box's answer, the command writes it to configs/."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from controller.db import Db
from hcc_common.config_pull import CurrentConfig, PullRequest

SCHEMA = """
CREATE TABLE IF NOT EXISTS config_pulls (
  request TEXT PRIMARY KEY, center TEXT NOT NULL, agent TEXT NOT NULL,
  requested_at REAL NOT NULL, published_at REAL, answered_at REAL,
  version TEXT, source TEXT, content TEXT
);
"""
# A request older than this is not published any more, nor an answer to it taken.
PULL_VALID_S = 300.0


@dataclass(frozen=True)
class Answer:
    version: str
    source: str
    content: str


def ensure(db: Db) -> None:
    db.ensure_schema("config_pulls", SCHEMA)


def ask(db: Db, center: str, agent: str, now: float) -> str:
    request = secrets.token_hex(16)
    db.execute("INSERT INTO config_pulls (request, center, agent, requested_at) VALUES (?,?,?,?)",
               (request, center, agent, now))
    return request


def to_publish(db: Db, now: float) -> list[PullRequest]:
    rows = db.execute("SELECT center, agent, request FROM config_pulls WHERE published_at IS NULL"
                      " AND requested_at > ?", (now - PULL_VALID_S,)).fetchall()
    return [PullRequest(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def published(db: Db, request: str, now: float) -> None:
    db.execute("UPDATE config_pulls SET published_at=? WHERE request=?", (now, request))


def take(db: Db, got: CurrentConfig, now: float) -> bool:
    """Keep a box's answer, only for a request made to that very box, once, in time: a box
    cannot send a file nobody asked for, nor answer for another."""
    row = db.execute("SELECT 1 FROM config_pulls WHERE request=? AND center=? AND agent=? AND"
                     " answered_at IS NULL AND requested_at > ?",
                     (got.request, got.center, got.agent, now - PULL_VALID_S)).fetchone()
    if row is None:
        return False
    db.execute("UPDATE config_pulls SET answered_at=?, version=?, source=?, content=? WHERE"
               " request=?", (now, got.version, got.source, got.content, got.request))
    return True


def answer(db: Db, request: str) -> Answer | None:
    row = db.execute("SELECT version, source, content FROM config_pulls WHERE request=? AND"
                     " answered_at IS NOT NULL", (request,)).fetchone()
    return None if row is None else Answer(str(row[0]), str(row[1]), str(row[2]))
