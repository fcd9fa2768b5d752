"""SQL helpers every aggregate's module shares: the upsert both databases speak, compact JSON
for text columns, and the base of the aggregates (the one Db they work on)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from controller.db import Db


def upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT … ON CONFLICT DO UPDATE, which SQLite (3.24+) and PostgreSQL both speak."""
    updates = ", ".join(f"{c}=excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            f"({', '.join('?' for _ in columns)}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            f"{updates}")


def to_json(value: object) -> str:
    """Compact UTF-8 JSON for the store's text columns. orjson: every batch writes hundreds of
    agent and device rows; it also takes any Mapping the decoder made, without a copy."""
    return orjson.dumps(value, default=dict).decode()


class Records:
    """An aggregate's persistence: its queries over the one connection `db`. The Store is every
    aggregate at once; each also works alone over a Db (`Enrollments(db)`)."""

    db: Db

    def __init__(self, db: Db) -> None:
        self.db = db
