"""Disk-backed outbox (SQLite, WAL): every report is stored before it is sent, and deleted only
once the controller confirms it has committed it (or, in "broker" mode, after the broker's PUBACK).
Writes are grouped (kind to an SD card): reports staged in memory are stored by one synced
commit per group, and marks and deletions ride along (docs/reliability.md, "Durability contract").
A damaged file (at start or on any later call) is set aside and replaced, never fatal."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar, cast

from agent.outbox_pack import PackError, pack, unpack
from agent.outbox_repair import Damage, is_damage, salvage, set_aside
from hcc_common.wire import MAX_WHOLE, Ack, Encoded

log = logging.getLogger("hcc.agent.outbox")

# Disk kept aside so that, when the disk fills up, the outbox can still delete by its policy.
RESERVE_BYTES = 1024 * 1024
# Drop order when the outbox is over a bound: routine telemetry first, fault events last.
TELEMETRY, EVENT = 0, 1
# Sessions are random ids from here up to the wire's largest whole number (exact in JSON and in
# a browser's doubles): a new box, or a wiped state dir, never reuses an old box's number.
# Below it lie old agents' counters (1, 2, 3...), which the controller still orders by number.
SESSION_MIN = 1 << 32
# Damaged outboxes set aside per run at most: past that the disk itself is failing, and the
# agent sends unbuffered (said in its log and status) rather than fill it with copies.
MAX_SET_ASIDE = 3

# Grouped writes. A staged report is stored (one synced commit for the whole group) at most
# GROUP_S after it was staged, or at once when GROUP_ROWS wait: a power cut loses at most the
# open group, never a report the agent sent. Deletions (confirmed) only spare duplicates if
# lost: they ride along with a group once DEFER_RIDE_S old (the rows of many groups at once,
# whole pages freed rather than one page rewritten per ack), or alone after DEFER_S. PUBACK
# marks stay in memory (the controller confirms them within seconds) unless DEFER_OPS pile up
# (a silent controller); lost, a restart sends those rows again.
GROUP_S = 2.0
PAGE_SIZE = 1024
GROUP_ROWS = 256
DEFER_RIDE_S = 20.0
DEFER_S = 60.0
DEFER_OPS = 2000
# The age bound is also checked by a full look at every row this often (a clock set back
# leaves old rows behind younger ones; the cheap check looks at the oldest row only).
AGE_SCAN_S = 3600.0
# rows per IN (...) list
CHUNK = 500

P = ParamSpec("P")
R = TypeVar("R")


def new_session_id() -> int:
    """A random session id: a new stream the controller cannot take for an old one."""
    return SESSION_MIN + secrets.randbelow(MAX_WHOLE - SESSION_MIN + 1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  priority INTEGER NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  retain INTEGER NOT NULL,
  created REAL NOT NULL
);
"""
# Added after the first release: which report a row is, and whether the broker has it.
MIGRATIONS = (
    ("session", "ALTER TABLE outbox ADD COLUMN session INTEGER NOT NULL DEFAULT 0"),
    ("seq", "ALTER TABLE outbox ADD COLUMN seq INTEGER NOT NULL DEFAULT 0"),
    ("published", "ALTER TABLE outbox ADD COLUMN published INTEGER NOT NULL DEFAULT 0"),
)
# outbox_report serves the controller's acks. The first releases also indexed (priority, id)
# and (published, id): each is one more page written per commit, for queries that walk the rows
# by id anyway (the sender after its last row, the drop policy when over a bound).
INDEXES = """
CREATE INDEX IF NOT EXISTS outbox_report ON outbox(session, seq);
DROP INDEX IF EXISTS outbox_drop;
DROP INDEX IF EXISTS outbox_unpublished;
"""


@dataclass(frozen=True)
class Limits:
    max_rows: int = 200_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_s: float = 7 * 86400.0


@dataclass(frozen=True)
class Row:
    id: int
    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True)
class Backlog:
    count: int
    oldest_age_s: float
    bytes: int
    dropped_telemetry: int
    dropped_events: int


class OutboxError(Exception):
    """The outbox cannot store (disk full, read-only, corrupt): reports go out unbuffered.
    `unstored`: the staged reports a failed group commit did not store (to send unbuffered)."""

    def __init__(self, message: str, unstored: tuple[Encoded, ...] = ()) -> None:
        super().__init__(message)
        self.unstored = unstored


@dataclass(frozen=True)
class _Staged:
    msg: Encoded
    stored: bytes  # the payload as stored (outbox_pack)
    session: int
    seq: int
    priority: int
    created: float


class _QuickCheckFailed(sqlite3.DatabaseError):
    """PRAGMA quick_check found the file damaged (pages no query has touched yet)."""


def _row(r: tuple[object, ...]) -> Row:
    """A row read to send (id, topic, stored payload, retain, ...); a payload that does not
    unpack is a damaged file (set aside by _heals)."""
    try:
        payload = unpack(bytes(cast(bytes, r[2])))
    except PackError as exc:
        raise _QuickCheckFailed(f"database disk image is malformed (row {r[0]}: {exc})") from None
    return Row(int(cast(int, r[0])), str(r[1]), payload, bool(r[3]))


def _heals(retry: bool) -> Callable[[Callable[Concatenate[Outbox, P], R]],
                                    Callable[Concatenate[Outbox, P], R]]:
    """A call that finds the file damaged sets it aside, starts a fresh one (with what could be
    salvaged) and, when `retry`, runs again there; row ids of the old file mean nothing in the
    new one, so calls given ids are not retried."""
    def wrap(method: Callable[Concatenate[Outbox, P], R]) -> Callable[Concatenate[Outbox, P], R]:
        def call(self: Outbox, /, *args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                if not is_damage(exc):
                    raise
                self.recover(exc)
            # not retried: only methods returning None (given row ids of the old file)
            return method(self, *args, **kwargs) if retry else cast(R, None)
        functools.update_wrapper(call, method)
        return call
    return wrap


class Outbox:
    """Not thread-safe: the agent confines it to one worker thread."""

    def __init__(self, path: Path, limits: Limits = Limits(),
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.limits = limits
        self.clock = clock
        self.dropped = {TELEMETRY: 0, EVENT: 0}
        self.damage: list[Damage] = []  # damaged files set aside in this run, oldest first
        self.generation = 0             # +1 at each fresh file: row ids start over
        self._last = (0, 0)             # (session, seq) last stored
        self._bytes = 0
        self._rows = 0                  # rows in the file (kept here: COUNT(*) reads them all)
        self._staged: list[_Staged] = []     # reports waiting for their group commit
        self._staged_at = 0.0                # (monotonic) when the oldest of them was staged
        self._marks: set[int] = set()        # PUBACKed rows, published=1 at the next commit
        self._deletes: set[int] = set()      # confirmed rows, deleted at the next commit
        self._deletes_at = 0.0               # (monotonic) when the oldest deletion was deferred
        self._age_scanned = 0.0
        self.reserve = path.with_suffix(".reserve")
        try:
            self._open()
        except OSError as exc:
            raise OutboxError(f"cannot open outbox {path}: {exc.strerror}") from None
        except sqlite3.Error as exc:
            if not is_damage(exc):
                raise OutboxError(f"cannot open outbox {path}: {exc}") from None
            self.recover(exc)
        self._ensure_reserve()

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        try:
            # 1 KiB pages for a new file: a group commit rewrites ~7 pages (the header, meta, the
            # table's and its index's inner pages, the leaf): 7 KiB, not 28 KiB, each time.
            # (Only before the file has content; an older file keeps its 4 KiB pages.)
            self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            self.db.execute("PRAGMA journal_mode=WAL")
            # FULL: each group commit is synced (one fdatasync per group), so a stored report
            # survives a power cut too. NORMAL syncs only at checkpoints: a power cut could roll
            # back every group since the last one, and bounding that takes checkpoints as often,
            # each writing the pages a second time (into the database file).
            self.db.execute("PRAGMA synchronous=FULL")
            # FAST: deleted rows zeroed only in pages written anyway (Debian builds SQLite with
            # secure_delete on, which writes every freed page once more)
            self.db.execute("PRAGMA secure_delete=FAST")
            self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(outbox)")}
            for column, ddl in MIGRATIONS:
                if column not in columns:
                    self.db.execute(ddl)
            self.db.executescript(INDEXES)
            # Damage in pages no start-up query reads would only show on a later send: look
            # at every page now (a few seconds for a full 64 MB outbox on an SD card).
            verdict = self.db.execute("PRAGMA quick_check").fetchone()
            if verdict is None or verdict[0] != "ok":
                raise _QuickCheckFailed(
                    f"database disk image is malformed ({verdict[0] if verdict else 'no answer'})")
            self._bytes, self._rows = self._count_bytes()
        except sqlite3.Error:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
            raise
        # marks and deletions name rows of the file just opened no more
        self._marks, self._deletes = set(), set()

    def recover(self, exc: BaseException) -> Damage:
        """The file is damaged: move it (with its -wal/-shm) to outbox.damaged-<time>, start a
        fresh one holding every row that still reads whole, and say so. Raises OutboxError
        when even that fails, or after MAX_SET_ASIDE times in one run (a failing disk)."""
        db = getattr(self, "db", None)
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()
        if len(self.damage) >= MAX_SET_ASIDE:
            raise OutboxError(f"outbox {self.path} damaged again ({exc}): "
                              f"{MAX_SET_ASIDE} set aside already, the disk is failing")
        now = self.clock()
        try:
            moved = set_aside(self.path, now)
        except OSError as err:
            raise OutboxError(f"outbox {self.path} is damaged ({exc}) and cannot be set aside:"
                              f" {err.strerror}") from None
        rows, unreadable, (prev_session, prev_seq) = salvage(moved)
        session, seq = self._last if self._last != (0, 0) else (prev_session, prev_seq)
        try:
            self._open()
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                [("session", session), ("seq", seq)])
            self.db.executemany(
                "INSERT INTO outbox (priority, topic, payload, retain, created, session, seq)"
                " VALUES (?,?,?,?,?,?,?)",
                [(r.priority, r.topic, r.payload, int(r.retain), r.created, r.session, r.seq)
                 for r in rows])
            self.db.execute("COMMIT")
            self._bytes, self._rows = self._count_bytes()
            self.enforce_limits()
        except (sqlite3.Error, OSError) as err:
            self._rollback()
            raise OutboxError(f"outbox {self.path} is damaged ({exc}); a fresh one fails too:"
                              f" {err}") from None
        found = Damage(moved.name, now, str(exc)[:300], len(rows), unreadable, prev_session,
                       prev_seq)
        self.damage.append(found)
        self.generation += 1
        log.error("outbox damaged: set aside, readable reports kept in a fresh outbox",
                  extra={"path": str(self.path), "moved_to": str(moved), "error": str(exc)[:300],
                         "salvaged": found.salvaged, "unreadable": unreadable})
        return found

    def _count_bytes(self) -> tuple[int, int]:
        """(payload bytes, rows) in the file: read once, then kept up to date."""
        row = self.db.execute("SELECT COALESCE(SUM(LENGTH(payload)), 0), COUNT(*) FROM outbox"
                              ).fetchone()
        return int(row[0]), int(row[1])

    # -- sessions and sequence numbers ---------------------------------------------------------
    @_heals(retry=True)
    def start_session(self) -> tuple[int, int, int]:
        """Begin a new session: returns (new session, previous session, its last seq). The
        session is a random id (new_session_id), not the previous one plus 1."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            prev = self._meta("session")
            prev_seq = self._meta("seq")
            session = new_session_id()
            self.db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)",
                                [("session", session), ("seq", 0)])
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            if is_damage(exc):
                raise
            raise OutboxError(f"cannot start a session in {self.path}: {exc}") from None
        self._last = (session, 0)
        return session, prev, prev_seq

    def _meta(self, key: str) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return int(row[0]) if row is not None else 0

    # -- storing -------------------------------------------------------------------------------
    def put(self, msg: Encoded, session: int, seq: int, priority: int) -> None:
        """Store a message now (a group of one, synced), with whatever else was staged.
        Raises OutboxError."""
        self.stage(msg, session, seq, priority)
        self.flush()

    def stage(self, msg: Encoded, session: int, seq: int, priority: int) -> bool:
        """Stage a message for the next group commit (memory only: not stored yet, so not
        sent yet). True when the group should be committed now (GROUP_ROWS wait) or a new
        group has just opened (its commit is due in GROUP_S)."""
        if not self._staged:
            self._staged_at = time.monotonic()
        self._staged.append(_Staged(msg, pack(msg.payload), session, seq, priority,
                                    self.clock()))
        return len(self._staged) == 1 or len(self._staged) >= GROUP_ROWS

    def due_in(self) -> float | None:
        """Seconds until the next group commit is due (0: now), None when nothing waits."""
        now = time.monotonic()
        if self._staged:
            if len(self._staged) >= GROUP_ROWS:
                return 0.0
            return max(0.0, self._staged_at + GROUP_S - now)
        if len(self._marks) >= DEFER_OPS or len(self._deletes) >= DEFER_OPS:
            return 0.0
        if self._deletes:
            return max(0.0, self._deletes_at + DEFER_S - now)
        return None

    def take_staged(self) -> tuple[Encoded, ...]:
        """The staged reports, no longer staged (the file cannot take them: sent unbuffered)."""
        taken, self._staged = tuple(s.msg for s in self._staged), []
        return taken

    @_heals(retry=True)
    def flush(self, everything: bool = False) -> int:
        """The group commit: the staged reports, and the deletions and marks that are due (or
        `everything`), in one synced transaction. Returns the reports stored. On failure
        raises OutboxError with the reports it could not store (no longer staged: the caller
        sends them unbuffered)."""
        if not (self._staged or everything or self.due_in() == 0.0):
            return 0
        try:
            stored = self._commit(everything)
            if not self.reserve.exists() and self._bytes < self.limits.max_bytes // 2:
                self._ensure_reserve()
            return stored
        except sqlite3.Error as exc:
            self._rollback()
            if is_damage(exc):
                raise  # set aside by _heals; the staged reports go to the fresh file
            error: sqlite3.Error = exc
        if "full" in str(error).lower():
            # Disk full: make room by the drop policy, then try once more.
            try:
                self._make_room()
                return self._commit(everything)
            except sqlite3.Error as exc:
                self._rollback()
                error = exc
        unstored = tuple(s.msg for s in self._staged)
        self._staged, self._marks, self._deletes = [], set(), set()
        raise OutboxError(f"cannot store in {self.path}: {error}", unstored) from None

    def _make_room(self) -> None:
        # On a full disk SQLite cannot even delete (the log needs space): give back the reserve
        # file, drop by the policy, and fold the log back into the database file.
        if self.reserve.exists():
            self.reserve.unlink()
            log.error("disk full: released the outbox's reserve to keep working",
                      extra={"path": str(self.reserve)})
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._drop(max(1, self.count() // 10), force=True)
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _ensure_reserve(self) -> None:
        """Keep RESERVE_BYTES of disk set aside for the moment the disk fills up."""
        if self.reserve.exists():
            return
        try:
            free = shutil.disk_usage(self.path.parent).free
            if free > 4 * RESERVE_BYTES:
                with open(self.reserve, "wb") as fh:
                    fh.write(b"\0" * RESERVE_BYTES)
                    fh.flush()
                    os.fsync(fh.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                self.reserve.unlink()

    def _commit(self, everything: bool = False) -> int:
        now = time.monotonic()
        staged = self._staged
        deletes = sorted(self._deletes) if everything or len(self._deletes) >= DEFER_OPS or (
            self._deletes and now - self._deletes_at >= (DEFER_RIDE_S if staged else DEFER_S)
        ) else []
        marks = sorted(self._marks - self._deletes) if everything or \
            len(self._marks) >= DEFER_OPS else []
        if not (staged or deletes or marks):
            return 0
        self.db.execute("BEGIN IMMEDIATE")
        freed = gone = 0
        for i in range(0, len(deletes), CHUNK):
            part = deletes[i:i + CHUNK]
            marks_ = ",".join("?" * len(part))
            row = self.db.execute(f"SELECT COALESCE(SUM(LENGTH(payload)), 0), COUNT(*) FROM"
                                  f" outbox WHERE id IN ({marks_})", part).fetchone()
            freed, gone = freed + int(row[0]), gone + int(row[1])
            self.db.execute(f"DELETE FROM outbox WHERE id IN ({marks_})", part)
        for i in range(0, len(marks), CHUNK):
            part = marks[i:i + CHUNK]
            self.db.execute(f"UPDATE outbox SET published = 1 WHERE id IN"
                            f" ({','.join('?' * len(part))})", part)
        if staged:
            # in place (one page): INSERT OR REPLACE rewrites the key's index page too
            if self.db.execute("UPDATE meta SET value=? WHERE key='seq'",
                               (staged[-1].seq,)).rowcount == 0:
                self.db.execute("INSERT INTO meta VALUES ('seq', ?)", (staged[-1].seq,))
            self.db.executemany(
                "INSERT INTO outbox (priority, topic, payload, retain, created, session, seq)"
                " VALUES (?,?,?,?,?,?,?)",
                [(s.priority, s.msg.topic, s.stored, int(s.msg.retain), s.created,
                  s.session, s.seq) for s in staged])
        self.db.execute("COMMIT")
        self._staged = []
        if deletes:
            self._marks -= self._deletes
            self._deletes = set()
        if marks:
            self._marks = set()
        self._bytes += sum(len(s.stored) for s in staged) - freed
        self._rows += len(staged) - gone
        if staged:
            self._last = (staged[-1].session, staged[-1].seq)
        try:
            self.enforce_limits()
        except sqlite3.Error as exc:  # stored already; the bound is enforced at the next commit
            # (damage found here is handled by the next call: raising now would store it twice)
            self._rollback()
            log.warning("outbox bound not enforced", extra={"error": str(exc)})
        return len(staged)

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # no transaction was open
            self.db.execute("ROLLBACK")

    # -- sending -------------------------------------------------------------------------------
    @_heals(retry=True)
    def pending(self, after_id: int, limit: int) -> list[Row]:
        """Rows the broker does not have yet, oldest first, so a replay after an outage keeps
        the order things happened in."""
        skip = self._marks | self._deletes  # PUBACKed or confirmed, not committed yet
        rows = self.db.execute("SELECT id, topic, payload, retain FROM outbox"
                               " WHERE published = 0 AND id > ? ORDER BY id LIMIT ?",
                               (after_id, limit + len(skip))).fetchall()
        return [_row(r) for r in rows if int(r[0]) not in skip][:limit]

    @_heals(retry=False)
    def mark_published(self, ids: Iterable[int], defer: bool = False) -> None:
        """The broker acknowledged these: not sent again unless the controller says it lacks
        them. `defer`: written at the next group commit (lost, they are sent again)."""
        batch = list(ids)
        if not batch:
            return
        self._defer(self._marks, batch)
        if defer:
            return
        try:
            self._commit_deferred()
        except sqlite3.Error as exc:
            self._rollback()
            if is_damage(exc):
                raise
            log.error("outbox update failed", extra={"path": str(self.path), "error": str(exc)})

    def _defer(self, into: set[int], ids: list[int]) -> None:
        if into is self._deletes and not self._deletes:
            self._deletes_at = time.monotonic()
        into.update(ids)

    def _commit_deferred(self) -> None:
        """Marks and deletions now, staged reports kept for their own group."""
        staged, self._staged = self._staged, []
        try:
            self._commit(everything=True)
        finally:
            self._staged = staged + self._staged

    @_heals(retry=True)
    def confirm(self, ack: Ack, defer: bool = False) -> list[Row]:
        """Delete what the controller confirms it has committed (`defer`: at the next group
        commit); return the rows it lists as missing that are still here (to send again),
        oldest first."""
        confirmed: list[int] = []
        resend: list[Row] = []
        for session, sa in ack.sessions.items():
            for rid, seq in self.db.execute(
                    "SELECT id, seq FROM outbox WHERE session=? AND seq>0 AND seq<=?",
                    (session, sa.last)):
                if sa.confirms(int(seq)):
                    confirmed.append(int(rid))
            for first, last in sa.missing:
                rows = self.db.execute(
                    "SELECT id, topic, payload, retain, published FROM outbox WHERE session=?"
                    " AND seq BETWEEN ? AND ? ORDER BY id", (session, first, last))
                resend.extend(_row(r) for r in rows
                              if (r[4] or int(r[0]) in self._marks)
                              and int(r[0]) not in self._deletes)
        self.acknowledge(confirmed, defer=defer)
        resend.sort(key=lambda r: r.id)
        return resend

    @_heals(retry=True)
    def oldest(self) -> tuple[int, int] | None:
        """(session, seq) of the oldest report kept, or None when empty. Oldest by when it was
        stored: session ids are random, their numbers tell no order."""
        for rid, session, seq in self.db.execute(
                "SELECT id, session, seq FROM outbox WHERE seq > 0 ORDER BY id LIMIT ?",
                (len(self._deletes) + 1,)):
            if int(rid) not in self._deletes:
                return int(session), int(seq)
        first = next((s for s in self._staged if s.seq > 0), None)
        return (first.session, first.seq) if first is not None else None

    @_heals(retry=False)
    def acknowledge(self, ids: Iterable[int], defer: bool = False) -> None:
        """Delete these rows (confirmed); `defer`: at the next group commit (lost, they are
        sent again: a duplicate the controller drops, never a loss)."""
        batch = list(ids)
        if not batch:
            return
        self._defer(self._deletes, batch)
        if defer:
            return
        try:
            self._commit_deferred()
        except sqlite3.Error as exc:
            self._rollback()
            if is_damage(exc):
                raise
            # Not deleted means sent again later: a duplicate the controller drops, never a loss.
            log.error("outbox acknowledge failed", extra={"path": str(self.path),
                                                          "error": str(exc)})

    # -- bounds --------------------------------------------------------------------------------
    def enforce_limits(self) -> None:
        """Keep the bounds, at each commit, without reading every row: the row count and
        bytes are kept in memory, and the age bound looks at the oldest row by id (rows are
        stored in time order), with a full look every AGE_SCAN_S for a clock set back."""
        lim = self.limits
        now = self.clock()
        cutoff = now - lim.max_age_s
        first = self.db.execute("SELECT created FROM outbox ORDER BY id LIMIT 1").fetchone()
        if (first is not None and float(first[0]) < cutoff) or (
                self._rows and abs(now - self._age_scanned) >= AGE_SCAN_S):
            self._age_scanned = now
            self._drop_where("created < ?", (cutoff,))
        if self._rows > lim.max_rows:
            self._drop(self._rows - lim.max_rows)
        while self._bytes > lim.max_bytes and self._drop(max(1, self._rows // 100)):
            pass

    def _drop(self, n: int, force: bool = False) -> bool:
        """Drop n rows: telemetry oldest first, then events oldest first."""
        dropped_any = False
        for priority in (TELEMETRY, EVENT):
            if n <= 0:
                break
            ids = [r[0] for r in self.db.execute(
                "SELECT id FROM outbox WHERE priority=? ORDER BY id LIMIT ?", (priority, n))]
            if ids:
                self._delete(ids, priority)
                n -= len(ids)
                dropped_any = True
        if dropped_any:
            log.warning("outbox over its bound: dropped reports",
                        extra={"telemetry": self.dropped[TELEMETRY],
                               "events": self.dropped[EVENT], "forced": force})
        return dropped_any

    def _drop_where(self, where: str, args: tuple[object, ...]) -> None:
        for priority in (TELEMETRY, EVENT):
            ids = [r[0] for r in self.db.execute(
                f"SELECT id FROM outbox WHERE priority=? AND {where}", (priority, *args))]
            if ids:
                self._delete(ids, priority)

    def _delete(self, ids: list[int], priority: int) -> None:
        marks = ",".join("?" * len(ids))
        freed = self.db.execute(f"SELECT COALESCE(SUM(LENGTH(payload)),0) FROM outbox"
                                f" WHERE id IN ({marks})", ids).fetchone()[0]
        self.db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", ids)
        self._bytes -= int(freed)
        self._rows -= len(ids)
        self.dropped[priority] += len(ids)

    # -- visibility ----------------------------------------------------------------------------
    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    @_heals(retry=True)
    def backlog(self) -> Backlog:
        """Reports kept, stored or staged, less those confirmed (deleted at the next commit)."""
        oldest = None
        for rid, created in self.db.execute("SELECT id, created FROM outbox ORDER BY id LIMIT ?",
                                            (len(self._deletes) + 1,)):
            if int(rid) not in self._deletes:
                oldest = float(created)
                break
        if oldest is None and self._staged:
            oldest = self._staged[0].created
        count = max(0, self._rows - len(self._deletes)) + len(self._staged)
        age = max(0.0, self.clock() - oldest) if oldest is not None else 0.0
        return Backlog(count, round(age, 1), self._bytes, self.dropped[TELEMETRY],
                       self.dropped[EVENT])

    def close(self) -> None:
        """Commit what is staged (a graceful stop loses nothing), then close."""
        try:
            self.flush(everything=True)
        except OutboxError as exc:
            log.error("outbox: staged reports not stored at close",
                      extra={"error": str(exc)[:300], "reports": len(exc.unstored)})
        finally:
            self.db.close()
