"""The outbox is kind to flash (issue 26.17): reports, marks and deletions grouped into one
synced commit; nothing visible to the sender before its commit; bounds kept without reading
every row; status.json rewritten only when what it shows changes."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from agent.outbox import EVENT, GROUP_ROWS, PAGE_SIZE, TELEMETRY, Outbox
from agent.status_file import STATUS_REFRESH_S, rewrite_due
from hcc_common import wire
from hcc_common.wire import Ack, Encoded, SessionAck


def msg(i: int, size: int = 200) -> Encoded:
    return Encoded(f"hcc/v1/c/a/result/d{i}", b"x" * size, retain=False)


def commits(box: Outbox) -> list[str]:
    """Record each COMMIT the outbox's connection runs from now on."""
    seen: list[str] = []
    box.db.set_trace_callback(lambda sql: seen.append(sql) if sql.startswith("COMMIT") else None)
    return seen


def test_a_group_of_reports_marks_and_deletions_is_one_commit(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(1, 11):
        box.put(msg(i), 7, i, TELEMETRY)
    sent = box.pending(0, 10)
    done = commits(box)
    # what the sender does in one group window: PUBACKs, the controller's ack, 20 new reports
    box.mark_published([r.id for r in sent], defer=True)
    assert box.confirm(Ack("c", "a", {7: SessionAck(5)}), defer=True) == []
    for i in range(11, 31):
        box.stage(msg(i), 7, i, EVENT)
    assert done == [] and box.count() == 10  # nothing written yet
    # staged reports are not stored yet, so not sent yet; marked ones are not sent twice
    assert box.pending(0, 100) == []
    assert box.backlog().count == 25 and box.oldest() == (7, 6)
    assert box.flush() == 20
    assert len(done) == 1  # one synced commit for the 20 reports
    # the deletions wait to ride along with a later group (whole pages freed at once), the
    # PUBACK marks stay in memory: neither is sent again meanwhile
    assert box.count() == 30 and box.backlog().count == 25
    assert [r.topic[-3:] for r in box.pending(0, 3)] == ["d11", "d12", "d13"]
    box.close()  # a graceful stop writes all of it, in one more commit
    assert len(done) == 2
    again = Outbox(tmp_path / "o.sqlite")  # durable: another connection sees it
    assert again.count() == 25 and again.oldest() == (7, 6)
    assert again.db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0] == 30
    assert again.db.execute("SELECT COUNT(*) FROM outbox WHERE published = 1").fetchone()[0] == 5
    again.close()


def test_deletions_ride_along_once_old_enough(tmp_path: Path, monkeypatch) -> None:
    import agent.outbox as outbox_mod

    box = Outbox(tmp_path / "o.sqlite")
    for i in range(1, 6):
        box.put(msg(i), 7, i, TELEMETRY)
    box.confirm(Ack("c", "a", {7: SessionAck(5)}), defer=True)
    box.put(msg(6), 7, 6, TELEMETRY)
    assert box.count() == 6  # too young to ride along
    monkeypatch.setattr(outbox_mod, "DEFER_RIDE_S", 0.0)
    box.put(msg(7), 7, 7, TELEMETRY)
    assert box.count() == 2 and box.backlog().count == 2
    box.close()


def test_a_group_commits_at_once_when_full_and_due_says_when(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.due_in() is None
    assert box.stage(msg(1), 1, 1, TELEMETRY) is True  # a group opens: the committer is told
    due = box.due_in()
    assert due is not None and 0 < due <= 2.0
    for i in range(2, GROUP_ROWS):
        assert box.stage(msg(i), 1, i, TELEMETRY) is False
    assert box.stage(msg(GROUP_ROWS), 1, GROUP_ROWS, TELEMETRY) is True
    assert box.due_in() == 0.0
    box.close()  # a graceful close stores what is staged
    again = Outbox(tmp_path / "o.sqlite")
    assert again.count() == GROUP_ROWS
    again.close()


def test_resend_of_a_missing_report_sees_a_deferred_mark(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(1, 5):
        box.put(msg(i), 3, i, TELEMETRY)
    box.mark_published([r.id for r in box.pending(0, 4)], defer=True)
    again = box.confirm(Ack("c", "a", {3: SessionAck(4, ((2, 2),))}), defer=True)
    assert [r.topic[-2:] for r in again] == ["d2"]
    box.flush(everything=True)
    assert box.count() == 1
    box.close()


def steps_per_put(box: Outbox, seq: int) -> int:
    """SQLite virtual-machine steps of one stored report (bounds included)."""
    count = [0]

    def step() -> int:
        count[0] += 1
        return 0
    box.db.set_progress_handler(step, 1)
    box.put(msg(seq), 1, seq, TELEMETRY)
    box.db.set_progress_handler(None, 1)
    return count[0]


def test_storing_does_not_read_every_row(tmp_path: Path) -> None:
    """A previous version counted rows by `created` (no index) and COUNT(*) at every write:
    the work of storing one report grew with the outbox (200,000 rows at most)."""
    box = Outbox(tmp_path / "o.sqlite")
    box.put(msg(0), 1, 0, TELEMETRY)  # the first commit's full look at the age bound
    small = steps_per_put(box, 1)
    now = time.time()  # young rows: none is dropped by the age bound
    rows = [(0, "t", b"x", 0, now, 1, i) for i in range(2, 20_002)]
    box.db.executemany("INSERT INTO outbox (priority, topic, payload, retain, created, session,"
                       " seq) VALUES (?,?,?,?,?,?,?)", rows)
    box.close()
    box = Outbox(tmp_path / "o.sqlite")
    box.put(msg(20_002), 1, 20_002, TELEMETRY)
    big = steps_per_put(box, 20_003)
    assert box.count() == 20_004
    assert big < 2 * small + 200, (small, big)
    box.close()


def test_the_age_bound_still_drops_old_rows(tmp_path: Path) -> None:
    now = [1.7e9]
    box = Outbox(tmp_path / "o.sqlite", clock=lambda: now[0])
    for i in range(1, 4):
        box.put(msg(i), 1, i, TELEMETRY)
    now[0] += 8 * 86400.0  # a week and a day later
    box.put(msg(4), 1, 4, EVENT)
    assert box.count() == 1 and box.backlog().dropped_telemetry == 3
    box.close()


def test_staged_reports_survive_damage_found_at_their_commit(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    session, _, _ = box.start_session()
    for seq in range(1, 301):
        box.put(Encoded(f"hcc/v1/c/a/result/d{seq}", os.urandom(300), False), session, seq,
                EVENT)
    box.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as fh:  # the last pages, where the next rows go, go bad
        fh.seek(path.stat().st_size - 16 * 1024)
        fh.write(os.urandom(16 * 1024))
    box.db.execute("PRAGMA cache_size=0")
    for seq in range(301, 311):
        box.stage(msg(seq), session, seq, EVENT)
    box.flush()
    assert len(box.damage) == 1
    topics = {r.topic for r in box.pending(0, 1000)}
    assert {f"hcc/v1/c/a/result/d{s}" for s in range(301, 311)} <= topics
    box.close()


def test_status_file_rewritten_only_on_change_or_when_old() -> None:
    def status(at: float, state: str = "ok", backlog: int = 0) -> dict[str, object]:
        return {"center": "c", "connected": True, "written_at": at, "seq": int(at),
                "backlog": backlog, "host": {"cpu_temp_c": at % 7},
                "devices": {"p1": {"status": state, "last_poll": at, "faults": []}}}

    first = status(100.0)
    assert rewrite_due(None, None, first, 100.0)
    assert not rewrite_due(first, 100.0, status(130.0), 130.0)  # only times and readings moved
    assert not rewrite_due(first, 100.0, status(160.0, backlog=0), 160.0)
    assert rewrite_due(first, 100.0, status(130.0, state="error"), 130.0)  # a device changed
    assert rewrite_due(first, 100.0, status(130.0, backlog=3), 130.0)     # an outage began
    assert rewrite_due(first, 100.0, status(100.0 + STATUS_REFRESH_S), 100.0 + STATUS_REFRESH_S)
    assert rewrite_due(first, 100.0, status(50.0), 50.0)  # the clock went back
    never = status(100.0)
    never["devices"] = {"p1": {"status": "ok", "last_poll": None, "faults": []}}
    assert rewrite_due(never, 100.0, status(110.0), 110.0)  # a device's first poll shows


def test_wire_of_a_staged_report_is_kept_whole(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    session, _, _ = box.start_session()
    r = wire.Result(center="c", agent="a", device="p1", session=session, seq=1, ts=1.7e9,
                    device_type="printer", device_name="P", status="ok", metrics={"pages": 0},
                    faults=())
    box.stage(wire.encode(r), session, 1, TELEMETRY)
    box.flush()
    [row] = box.pending(0, 5)
    got = wire.decode(row.topic, row.payload)
    assert isinstance(got, wire.Result) and got.metrics == {"pages": 0}
    box.close()


def test_dropped_indexes_are_gone_from_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INT"
                     " NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL, retain INT NOT NULL,"
                     " created REAL NOT NULL); CREATE INDEX outbox_drop ON outbox(priority, id);")
    db.close()
    box = Outbox(path)
    names = {r[0] for r in box.db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "outbox_drop" not in names and "outbox_unpublished" not in names
    assert "outbox_report" in names
    box.close()


def wal_frames(path: Path) -> int:
    """Frames in the outbox's -wal (it only grows until a checkpoint, every 1,000 pages)."""
    size = Path(f"{path}-wal").stat().st_size
    return max(0, size - 32) // (24 + PAGE_SIZE)


def heartbeat(session: int, seq: int) -> Encoded:
    """A heartbeat as bench/disk_writes's agent sends it: its 30 real-capture devices, polled
    over the last 30 s, unchanged."""
    stems = sorted(p.stem for p in (Path(__file__).parent / "fixtures/snmprec").glob("*.snmprec"))
    unchanged = {f"d{i:02d}-{stems[i % len(stems)]}": (1.7e9 + seq - i, "ok") for i in range(30)}
    host: dict[str, wire.MetricValue] = {
        "cpu_percent": 12.5, "mem_percent": 41.2, "disk_percent": 23.0, "cpu_temp_c": 51.3,
        "load1": 0.42, "clock_synced": 1, "outbox_count": 3, "outbox_oldest_s": 4.2,
        "outbox_bytes": 912, "outbox_dropped": 0, "unbuffered": 0}
    return wire.encode(wire.Heartbeat("c", "pi-1", session, seq, 1.7e9 + seq, 30.0, host,
                                      kept_from=(session, seq), unchanged=unchanged))


def test_a_heartbeat_commit_rewrites_four_pages(tmp_path: Path, monkeypatch) -> None:
    """Issue 26: what one commit costs the card. A heartbeat of 30 unchanged devices and the
    box's readings (1.1 KB of JSON) is stored deflated in its leaf page, and the previous one's
    deletion rides along: 4 pages (meta, the leaf, sqlite_sequence, the index), where a plain
    payload made 6 (overflow pages, then the free list and the header to free them)."""
    import agent.outbox as outbox_mod
    monkeypatch.setattr(outbox_mod, "DEFER_RIDE_S", 0.0)
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    session, _, _ = box.start_session()
    assert len(heartbeat(session, 1).payload) > PAGE_SIZE  # plain, it would overflow its leaf
    per_commit = []
    for seq in range(1, 21):
        box.acknowledge([r.id for r in box.pending(0, 10)], defer=True)  # the previous one
        before = wal_frames(path) if Path(f"{path}-wal").exists() else 0
        box.stage(heartbeat(session, seq), session, seq, TELEMETRY)
        assert box.flush() == 1
        per_commit.append(wal_frames(path) - before)
    assert max(per_commit[5:]) <= 4, per_commit
    [row] = box.pending(0, 10)
    assert row.payload == heartbeat(session, 20).payload  # sent as made, not as stored
    box.close()


def test_plain_rows_of_an_older_agent_still_send_and_a_row_that_does_not_inflate_is_damage(
        tmp_path: Path) -> None:
    """Payloads are stored deflated (agent/outbox_pack.py); rows an agent from before wrote
    plain are sent as they are, and a stored payload that no longer inflates is a damaged
    file: set aside, the rows that still read kept in a fresh one."""
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    session, _, _ = box.start_session()
    plain = heartbeat(session, 1)
    box.close()
    db = sqlite3.connect(path)  # as an older agent stored it: the payload as sent
    db.execute("INSERT INTO outbox (priority, topic, payload, retain, created, session, seq)"
               " VALUES (0, ?, ?, 0, ?, ?, 1)", (plain.topic, plain.payload, time.time(), session))
    db.commit()
    db.close()
    box = Outbox(path)
    for seq in (2, 3):
        box.put(heartbeat(session, seq), session, seq, TELEMETRY)
    rows = box.pending(0, 10)
    assert [r.payload for r in rows] == [heartbeat(session, s).payload for s in (1, 2, 3)]
    stored = box.db.execute("SELECT payload FROM outbox WHERE seq=3").fetchone()[0]
    assert len(stored) < len(rows[2].payload) * 3 // 4  # deflated on disk
    box.db.execute("UPDATE outbox SET payload=? WHERE seq=3", (stored[:len(stored) // 2],))
    assert [wire.decode(r.topic, r.payload).seq for r in box.pending(0, 10)] == [1, 2]
    assert len(box.damage) == 1 and box.damage[0].salvaged == 2
    box.close()
