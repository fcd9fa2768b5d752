"""Db.transaction(), the store's one way to run statements as a unit, on SQLite and PostgreSQL:
commit, rollback and re-raise, nesting refused; and the ingest batch's alerts as written."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.db import Db, NestedTransaction, connect
from controller.state import AlertKey, OpenAlert, ResolveAlert
from controller.store import Store


@pytest.fixture
def db(target: str) -> Iterator[Db]:
    d = connect(target)
    d.schema("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);")
    yield d
    d.close()


def rows(db: Db) -> list[tuple[str, int]]:
    return [(str(k), int(v)) for k, v in db.execute("SELECT k, v FROM t ORDER BY k").fetchall()]


def test_a_transaction_commits_when_its_block_ends(db: Db, target: str) -> None:
    with db.transaction() as cur:
        assert cur is db
        cur.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
        cur.execute("INSERT INTO t VALUES (?, ?)", ("b", 2))
    other = connect(target)  # committed: another connection sees it
    try:
        assert rows(other) == [("a", 1), ("b", 2)]
    finally:
        other.close()


def test_an_exception_rolls_the_whole_block_back_and_is_raised_again(db: Db) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
        raise Boom
    assert rows(db) == []
    with db.transaction():  # the connection is out of the failed transaction, usable again
        db.execute("INSERT INTO t VALUES (?, ?)", ("b", 2))
    assert rows(db) == [("b", 2)]


def test_a_failing_statement_rolls_back_what_came_before_it(db: Db) -> None:
    with db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
    with pytest.raises(db.errors), db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("b", 2))
        db.execute("INSERT INTO t VALUES (?, ?)", ("a", 3))  # the key is taken
    assert rows(db) == [("a", 1)]
    with db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("c", 3))
    assert rows(db) == [("a", 1), ("c", 3)]


def test_a_transaction_inside_another_is_refused_and_the_outer_one_rolled_back(db: Db) -> None:
    with pytest.raises(NestedTransaction), db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("a", 1))
        with db.transaction():
            db.execute("INSERT INTO t VALUES (?, ?)", ("b", 2))
    assert rows(db) == []
    with db.transaction():
        db.execute("INSERT INTO t VALUES (?, ?)", ("c", 3))
    assert rows(db) == [("c", 3)]


def test_the_batch_returns_each_alert_as_written_without_reading_it_again(target: str) -> None:
    store = Store(target)
    try:
        key = AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed")
        [(kind, opened)] = store.write([OpenAlert(key=key, severity="warning", device_name="Máy in",
                                                  params={"tray": 2}, at=100.0,
                                                  labels={"source": "rules"})])
        assert kind == "opened" and opened == store.alert(opened.id)
        assert (opened.state, opened.params, opened.labels) == (
            "firing", {"tray": 2}, {"source": "rules"})
        [(kind, resolved)] = store.write([ResolveAlert(key, 160.0, "cleared")])
        assert kind == "resolved" and resolved == store.alert(opened.id)
        assert (resolved.state, resolved.resolved_at, resolved.resolve_note) == (
            "resolved", 160.0, "cleared")
        assert store.write([ResolveAlert(key, 170.0, "cleared")]) == []  # resolved once
    finally:
        store.close()


def test_the_batch_reads_no_alert_row_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "store.db")
    try:
        assert isinstance(store.db.conn, sqlite3.Connection)  # type: ignore[attr-defined]
        seen: list[str] = []
        store.db.conn.set_trace_callback(seen.append)  # type: ignore[attr-defined]
        key = AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed")
        store.write([OpenAlert(key=key, severity="warning", device_name="Máy in", params={},
                               at=100.0, labels={})])
        store.write([ResolveAlert(key, 160.0, "cleared")])
        store.db.conn.set_trace_callback(None)  # type: ignore[attr-defined]
        assert any("INSERT INTO alerts" in s for s in seen)  # the trace saw the batch
        assert not [s for s in seen if s.lstrip().upper().startswith("SELECT")
                    and "FROM alerts WHERE id=" in s]
    finally:
        store.close()
