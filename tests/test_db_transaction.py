"""Db.transaction(), the store's one way to run statements as a unit, on SQLite and PostgreSQL:
commit, rollback and re-raise, nesting refused; and the ingest batch's alerts as written."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.db import Db, NestedTransaction, connect
from controller.state import AlertKey, OpenAlert, ResolveAlert
from controller.store import AlertChange, Store


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


def test_the_batch_returns_each_change_as_written_without_reading_it_again(target: str) -> None:
    store = Store(target)
    try:
        key = AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed")
        [opened] = store.write([OpenAlert(key=key, severity="warning", device_name="Máy in",
                                          params={"tray": 2}, at=100.0,
                                          labels={"source": "rules"})])
        [resolved] = store.write([ResolveAlert(key, 160.0, "cleared")])
        assert store.write([ResolveAlert(key, 170.0, "cleared")]) == []  # resolved once
        # the same lines of history as the feed reads from the database, the last one whole
        # (an alert read later is as it is now: the opened one is resolved by then)
        read = store.changes_since(0)
        assert [(c.event_id, c.event) for c in read] == [(opened.event_id, "opened"),
                                                         (resolved.event_id, "resolved")]
        assert read[1] == resolved
        assert (opened.event, opened.alert.state, opened.alert.params, opened.alert.labels) == (
            "opened", "firing", {"tray": 2}, {"source": "rules"})
        assert (resolved.event, resolved.note, resolved.alert.state,
                resolved.alert.resolved_at) == ("resolved", "cleared", "resolved", 160.0)
        # with the batch's changes in hand, the others' are read: here an operator's ack
        [again] = store.write([OpenAlert(key=key, severity="warning", device_name="Máy in",
                                         params={}, at=200.0)])
        store.ack(again.alert.id, "Lan", "đang tới", at=210.0)
        acked = store.changes_since(resolved.event_id, known={again.event_id: again})
        assert [c.event for c in acked] == ["opened", "acknowledged"]
        assert acked[0] is again and acked[1].alert == store.alert(again.alert.id)
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


def test_the_feed_sends_the_batch_changes_it_is_handed_and_reads_the_others(
        tmp_path: Path) -> None:
    """The ingest hands its committed changes to the feed (Controller.on_commit): the feed
    sends those objects, not the same rows read again; a change someone else wrote (the CLI's
    ack) it reads from the database, as before."""
    import asyncio

    from controller.feed import AlertFeed, StorePerThread

    db = tmp_path / "store.db"
    key = AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed")
    before = Store(db)  # history from before the feed starts: not sent again
    before.write([OpenAlert(key=key, severity="critical", device_name="Máy in", params={},
                            at=0.0)])
    before.write([ResolveAlert(key, 0.5, "cleared")])
    before.close()
    got: list[AlertChange] = []

    async def until(n: int) -> None:
        for _ in range(400):
            if len(got) >= n:
                return
            await asyncio.sleep(0.025)

    async def scenario() -> list[AlertChange]:
        feed = AlertFeed(StorePerThread(db))
        feed.subscribers.append(lambda change, _silenced: got.append(change))
        stop = asyncio.Event()
        running = asyncio.create_task(feed.run(stop))
        ingest = Store(db)
        for _ in range(400):  # started: it follows from the newest change on
            if feed.last_id == 2:
                break
            await asyncio.sleep(0.025)
        written = await asyncio.to_thread(lambda: ingest.write([OpenAlert(
            key=key, severity="critical", device_name="Máy in", params={}, at=1.0)]))
        feed.wake(written)
        await until(1)
        await asyncio.to_thread(lambda: Store(db).ack(written[0].alert.id, "Lan", "đang tới"))
        feed.wake()
        await until(2)
        stop.set()
        feed.wake()
        await asyncio.wait_for(running, 5)
        ingest.close()
        return written

    written = asyncio.run(scenario())
    assert [c.event for c in got] == ["opened", "acknowledged"]
    assert got[0] is written[0]
    assert got[1].alert.state == "acknowledged" and got[1].actor == "Lan"
