"""The two databases behind the Store: SQLite (embedded default) and PostgreSQL (several
controllers), behind one small interface; SQL is written once with `?` placeholders."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol


class Rows(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


def is_postgres(target: str | Path) -> bool:
    return str(target).startswith(("postgresql://", "postgres://"))


class Db:
    # what a failing database raises: the ingest loop survives these and tries again
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)
    # the part of those that says "try again later" (a lost connection, a locked or full
    # disk), not "this data cannot be stored" (which retrying would only repeat)
    transient: tuple[type[Exception], ...] = (sqlite3.OperationalError,)

    def broken(self) -> bool:
        """True when the connection is gone for good and must be opened again."""
        return False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        raise NotImplementedError

    def begin(self) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def close(self) -> None:
        raise NotImplementedError

    def schema(self, ddl: str) -> None:
        raise NotImplementedError

    def add_column(self, table: str, column: str, definition: str) -> None:
        """Add a column a newer release needs to a database an older one made."""
        raise NotImplementedError

    def ensure_schema(self, name: str, ddl: str) -> bool:
        """Run a module's `ddl` (CREATE ... IF NOT EXISTS) once on this connection: True the
        first time. Kept on the connection itself, not by id(): a closed connection's id is
        reused by the next one, which would then skip its tables."""
        made: set[str] = self.__dict__.setdefault("_schemas_made", set())
        if name in made:
            return False
        self.schema(ddl)
        made.add(name)
        return True

    def clock(self) -> float:
        """Seconds since the epoch, by the database's clock."""
        raise NotImplementedError

    def checkpoint(self) -> None:
        """Move the write-ahead log into the database file (SQLite; nothing for PostgreSQL)."""

    def defer_checkpoints(self) -> None:
        """Leave checkpoints to checkpoint() from another connection (SQLite)."""


class SqliteDb(Db):
    def __init__(self, path: str | Path, readonly: bool = False) -> None:
        if not readonly:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # timeout: a reader (the CLI) waits for a writer's short transaction instead of failing
        self.conn = sqlite3.connect(str(path), timeout=10.0, isolation_level=None,
                                    check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a batch is acknowledged to the broker once committed, so the commit must survive
        # a power cut too (NORMAL in WAL mode may lose the last commits then). With batches
        # gathered for 20 ms, that is at most 50 fsyncs a second.
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute("PRAGMA foreign_keys=ON")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def rollback(self) -> None:
        # A full disk (SQLITE_FULL) ends the transaction itself: a ROLLBACK then would fail
        # too, and its "no transaction is active" would hide what went wrong.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def close(self) -> None:
        self.conn.close()

    def schema(self, ddl: str) -> None:
        self.conn.executescript(ddl)

    def clock(self) -> float:
        return float(self.conn.execute(
            "SELECT (julianday('now') - 2440587.5) * 86400.0").fetchone()[0])

    def checkpoint(self) -> None:
        # PASSIVE: copies what no reader still needs, blocking neither readers nor the writer
        self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def defer_checkpoints(self) -> None:
        # The committing connection runs a checkpoint whenever the log passes 1,000 pages: a
        # copy and an fsync of megabytes inside the ingest step, alerts waiting behind it. The
        # upkeep does it from its own connection; this one only past 80 MB, should that stop.
        self.conn.execute("PRAGMA wal_autocheckpoint=20000")

    def add_column(self, table: str, column: str, definition: str) -> None:
        if column not in {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}:
            self.conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")


class PostgresDb(Db):
    def __init__(self, url: str) -> None:
        import psycopg

        # autocommit: transactions are explicit (BEGIN ... COMMIT), as with SQLite
        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=10,
                                    application_name="hcc-controller")
        self.errors = (psycopg.Error,)
        self.transient = (psycopg.OperationalError, psycopg.InterfaceError)

    def broken(self) -> bool:
        # a failover or a restarted server closes the connection under us
        return bool(self.conn.closed or self.conn.broken)

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Rows:
        return self.conn.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), list(rows))

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def close(self) -> None:
        self.conn.close()

    def clock(self) -> float:
        # the database's clock, one for every controller: leases do not depend on theirs
        row = self.conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8").fetchone()
        assert row is not None
        return float(row[0])

    def schema(self, ddl: str) -> None:
        ddl = (ddl.replace("INTEGER PRIMARY KEY AUTOINCREMENT",
                           "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
               .replace(" REAL", " DOUBLE PRECISION").replace(" INTEGER", " BIGINT"))
        # one controller at a time creates the schema (others may be starting too)
        self.conn.execute("SELECT pg_advisory_lock(7243001)")
        try:
            # comments out first: a ';' inside one must not split a statement
            code = "\n".join(line for line in ddl.splitlines()
                             if not line.strip().startswith("--"))
            for statement in code.split(";"):
                body = statement.strip()
                if body:
                    self.conn.execute(body)
        finally:
            self.conn.execute("SELECT pg_advisory_unlock(7243001)")

    def add_column(self, table: str, column: str, definition: str) -> None:
        self.conn.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")


def connect(target: str | Path, readonly: bool = False) -> Db:
    return PostgresDb(str(target)) if is_postgres(target) else SqliteDb(target, readonly)


def is_database_error(exc: BaseException) -> bool:
    """A database that is away, full or refusing (sqlite3 or psycopg): an outage to wait out,
    not a bug of ours."""
    if isinstance(exc, sqlite3.Error):
        return True
    psycopg = sys.modules.get("psycopg")  # imported only where PostgreSQL is used
    return psycopg is not None and isinstance(exc, psycopg.Error)


def log_round_failure(log: logging.Logger, what: str, exc: BaseException) -> None:
    """A background loop's round failed and will be tried again: a database outage is one
    warning line with its reason (no traceback: it is not a bug, and the logs stay readable
    through a long stall); anything else keeps its traceback."""
    if is_database_error(exc):
        log.warning(f"{what}: the database is not answering; trying again",
                    extra={"error": f"{type(exc).__name__}: {str(exc)[:300]}"})
    else:
        log.error(f"{what}; trying again", exc_info=exc)
