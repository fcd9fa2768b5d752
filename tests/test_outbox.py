"""The agent's disk outbox: order, durability across reopen, bounds and the drop policy."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent.outbox import EVENT, SESSION_MIN, TELEMETRY, Limits, Outbox, OutboxError
from hcc_common.wire import Encoded


def msg(i: int, size: int = 10) -> Encoded:
    # random bytes: the outbox deflates what it stores, and these must take `size` on disk
    return Encoded(f"hcc/v1/c/a/result/d{i}", random.Random(i).randbytes(size), retain=False)


def test_oldest_first_and_acknowledged_rows_leave(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    for i in range(1, 6):
        box.put(msg(i), 1, i, TELEMETRY)
    rows = box.pending(0, 3)
    assert [r.topic[-2:] for r in rows] == ["d1", "d2", "d3"]
    box.acknowledge([rows[0].id, rows[1].id])
    assert [r.topic[-2:] for r in box.pending(0, 10)] == ["d3", "d4", "d5"]
    assert box.backlog().count == 3


def test_sessions_and_seq_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    first, prev, prev_seq = box.start_session()
    assert (prev, prev_seq) == (0, 0) and first >= SESSION_MIN  # a random id, not 1
    box.put(msg(1), first, 1, EVENT)
    box.put(msg(2), first, 2, EVENT)
    box.close()
    again = Outbox(path)
    second, prev, prev_seq = again.start_session()
    # the birth will tell the controller: `first` ended at 2
    assert (prev, prev_seq) == (first, 2) and second not in (first, first + 1)
    assert again.count() == 2


def test_survives_sigkill_mid_write(tmp_path: Path) -> None:
    """A child process stores reports and is killed -9; what it committed is all there."""
    path = tmp_path / "o.sqlite"
    code = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from agent.outbox import Outbox, EVENT
from hcc_common.wire import Encoded
box = Outbox(__import__('pathlib').Path({str(path)!r}))
for i in range(1, 201):
    box.put(Encoded('t', b'p' * 100, False), 1, i, EVENT)
    if i == 150:
        print('committed', flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == -9 and "committed" in out.stdout
    box = Outbox(path)
    assert box.count() == 150
    assert box.start_session()[2] == 150


def test_drop_policy_telemetry_first_then_events(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", Limits(max_rows=10))
    for i in range(1, 7):
        box.put(msg(i), 1, i, EVENT)
    for i in range(7, 15):
        box.put(msg(i), 1, i, TELEMETRY)
    b = box.backlog()
    assert b.count == 10 and b.dropped_telemetry == 4 and b.dropped_events == 0
    for i in range(15, 26):
        box.put(msg(i), 1, i, EVENT)
    b = box.backlog()
    kinds = [r.topic for r in box.pending(0, 100)]
    assert (b.count, b.dropped_telemetry, b.dropped_events) == (10, 8, 7)
    assert kinds == [f"hcc/v1/c/a/result/d{i}" for i in range(16, 26)]  # oldest events went last


def test_size_and_age_bounds(tmp_path: Path) -> None:
    now = [1000.0]
    box = Outbox(tmp_path / "o.sqlite", Limits(max_bytes=1000, max_age_s=60.0),
                 clock=lambda: now[0])
    for i in range(1, 21):
        box.put(msg(i, size=100), 1, i, TELEMETRY)
    assert box.backlog().bytes <= 1000
    now[0] += 120.0
    box.put(msg(99), 1, 99, EVENT)
    assert [r.topic for r in box.pending(0, 100)] == ["hcc/v1/c/a/result/d99"]


@pytest.mark.skipif(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip()
                    != "0", reason="mounting a tmpfs to fill up needs root")
def test_full_disk_drops_by_policy_then_reports_clearly(tmp_path: Path) -> None:
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mnt)], check=True)
    try:
        box = Outbox(mnt / "o.sqlite")
        stored, errors = 0, []
        for i in range(1, 3000):
            try:
                box.put(msg(i, size=2000), 1, i, TELEMETRY if i % 2 else EVENT)
                stored += 1
            except OutboxError as exc:
                errors.append(str(exc))
        b = box.backlog()
        # Full disk: room is made by dropping telemetry first, and every refusal says why.
        assert stored > 50 and b.dropped_telemetry > 0
        assert b.dropped_events <= b.dropped_telemetry
        assert all("cannot store in" in e and "full" in e for e in errors)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_reports_leave_only_when_the_controller_confirms_them(tmp_path: Path) -> None:
    """The broker's PUBACK is not enough (a broker killed with SIGKILL loses its queue): a row
    stays until the controller's ack covers it, and what the ack lists as missing comes back."""
    from hcc_common.wire import Ack, SessionAck

    box = Outbox(tmp_path / "o.sqlite")
    for i in range(1, 9):
        box.put(msg(i), 4, i, TELEMETRY)
    box.mark_published([r.id for r in box.pending(0, 6)])  # 1..6 PUBACKed, 7..8 not yet sent
    assert [r.topic[-2:] for r in box.pending(0, 10)] == ["d7", "d8"]  # not sent twice
    assert box.count() == 8  # a PUBACK deletes nothing
    again = box.confirm(Ack("c", "a", {4: SessionAck(6, ((2, 3),))}))
    assert [r.topic[-2:] for r in again] == ["d2", "d3"]       # lost at the broker: resend
    assert box.count() == 4 and box.oldest() == (4, 2)         # 1, 4, 5, 6 confirmed
    assert box.confirm(Ack("c", "a", {3: SessionAck(100)})) == []  # another session: nothing
    assert box.count() == 4
    box.confirm(Ack("c", "a", {4: SessionAck(8)}))
    assert box.count() == 0 and box.oldest() is None


def test_an_outbox_from_before_confirmation_is_migrated(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, priority INTEGER NOT NULL,
          topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL,
          created REAL NOT NULL);
    """)
    db.execute("INSERT INTO outbox (priority, topic, payload, retain, created)"
               " VALUES (1, 'hcc/v1/c/a/result/d1', x'7b7d', 0, ?)", (time.time(),))
    db.commit()
    db.close()
    box = Outbox(path)
    assert [r.topic for r in box.pending(0, 10)] == ["hcc/v1/c/a/result/d1"]  # still sent
    box.put(msg(2), 1, 1, EVENT)
    assert box.count() == 2
