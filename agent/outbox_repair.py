"""A damaged outbox set aside, never fatal: which SQLite errors mean damage, moving the file
(with its -wal/-shm) to outbox.damaged-<time>, and reading back whatever rows still read."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from agent.outbox_pack import PackError, unpack
from agent.sqlite_pages import Value, leaf_rows
from hcc_common import wire

log = logging.getLogger("hcc.agent.outbox")

# SQLite's primary result codes that mean the file itself is bad, not the disk full or
# read-only: SQLITE_IOERR (a sector that no longer reads), SQLITE_CORRUPT, SQLITE_NOTADB.
DAMAGE_CODES = frozenset({10, 11, 26})
DAMAGED_PREFIX = "outbox.damaged-"
SIDE_FILES = ("-wal", "-shm", "-journal")
# rows read per query when salvaging; a query that fails is split down to single rows
SALVAGE_CHUNK = 512
# a damaged file read page by page at most this big (the outbox is bounded at 64 MB)
MAX_SCAN_BYTES = 256 * 1024 * 1024


def is_damage(exc: BaseException) -> bool:
    """The error says the database file is damaged (not full, locked or read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF in DAMAGE_CODES
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "disk i/o error" in text


@dataclass(frozen=True)
class SalvagedRow:
    rowid: int
    priority: int
    topic: str
    payload: bytes
    retain: bool
    created: float
    session: int
    seq: int


@dataclass(frozen=True)
class Damage:
    """One damaged outbox set aside: where it went, why, and what could be read back."""

    moved_to: str       # the file name in the state dir, e.g. outbox.damaged-20261204T010203Z
    at: float
    reason: str
    salvaged: int       # rows read back whole and kept (into the fresh outbox)
    unreadable: int     # rows known to be there that could not be read (or did not decode)
    prev_session: int   # the session it last recorded, 0 if unreadable
    prev_seq: int


def set_aside(path: Path, now: float) -> Path:
    """Move the outbox and its side files to outbox.damaged-<UTC time> beside it (a number
    added if that name is taken): kept for a person to look at, out of the agent's way."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    target = path.with_name(DAMAGED_PREFIX + stamp)
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{DAMAGED_PREFIX}{stamp}-{n}")
    os.replace(path, target)
    for suffix in SIDE_FILES:
        side = Path(str(path) + suffix)
        with contextlib.suppress(FileNotFoundError):
            os.replace(side, Path(str(target) + suffix))
    return target


def damaged_copies(state_dir: Path) -> list[Path]:
    """The damaged outboxes kept in a state dir, oldest first (their side files left out)."""
    try:
        found = [p for p in state_dir.glob(DAMAGED_PREFIX + "*")
                 if not p.name.endswith(SIDE_FILES)]
    except OSError:
        return []
    return sorted(found)


def salvage(path: Path) -> tuple[list[SalvagedRow], int, tuple[int, int]]:
    """Whatever rows of a damaged outbox still read whole and decode as reports: (rows oldest
    first, rows that could not be read, (session, seq) its meta last recorded). First through
    SQL, then page by page for what SQL could not reach (a cut file). Never raises: a file
    that reads nothing gives nothing."""
    rows: list[SalvagedRow] = []
    unread, meta = 0, (0, 0)
    try:
        db = sqlite3.connect(str(path), isolation_level=None)
        try:
            rows, unread, meta = _salvage(db)
        finally:
            db.close()
    except sqlite3.Error:
        pass
    by_id = {r.rowid: r for r in rows}
    scanned, page_meta = _pages(path)
    if meta == (0, 0):
        meta = page_meta
    for row in scanned:
        by_id.setdefault(row.rowid, row)
    # rows SQL could not read but the pages gave back are no longer unread
    unread = max(0, unread - (len(by_id) - len(rows)))
    return sorted(by_id.values(), key=lambda r: r.rowid), unread, meta


def _pages(path: Path) -> tuple[list[SalvagedRow], tuple[int, int]]:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SCAN_BYTES)
        wal = b""
        with contextlib.suppress(FileNotFoundError), open(str(path) + "-wal", "rb") as fh:
            wal = fh.read(MAX_SCAN_BYTES)
    except OSError:
        return [], (0, 0)
    found: dict[int, SalvagedRow] = {}
    meta: dict[str, int] = {}
    for rowid, record in leaf_rows(data, wal):
        row = _shaped(rowid, record)
        if row is not None:
            found[rowid] = row
        elif len(record) == 2 and record[0] in ("session", "seq") and \
                isinstance(record[1], int):
            meta[str(record[0])] = record[1]  # the meta table's (key, value)
    return list(found.values()), (meta.get("session", 0), meta.get("seq", 0))


def _shaped(rowid: int, rec: list[Value]) -> SalvagedRow | None:
    """A record shaped like an outbox row (id, priority, topic, payload, retain, created,
    session, seq, published) that decodes as the report it claims to be."""
    if len(rec) < 8 or rec[0] is not None:
        return None
    return _row(rowid, (rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7]))


def _salvage(db: sqlite3.Connection) -> tuple[list[SalvagedRow], int, tuple[int, int]]:
    meta = (_meta(db, "session"), _meta(db, "seq"))
    try:
        top = db.execute("SELECT MAX(id) FROM outbox").fetchone()[0]
    except sqlite3.Error:
        top = None
    if not isinstance(top, int):
        # the id index itself is gone: a plain scan, as far as it reads
        scanned, unread = _scan(db)
        return scanned, unread, meta
    rows: list[SalvagedRow] = []
    bad = 0
    # chunks pushed newest first, so the stack pops them oldest first
    stack = [(lo, min(lo + SALVAGE_CHUNK - 1, top)) for lo in range(1, top + 1, SALVAGE_CHUNK)]
    stack.reverse()
    while stack:
        lo, hi = stack.pop()
        try:
            got = db.execute("SELECT id, priority, topic, payload, retain, created, session, seq"
                             " FROM outbox WHERE id BETWEEN ? AND ? ORDER BY id",
                             (lo, hi)).fetchall()
        except sqlite3.Error:
            if lo == hi:
                bad += 1
            else:
                mid = (lo + hi) // 2
                stack += [(mid + 1, hi), (lo, mid)]
            continue
        for r in got:
            row = _row(r[0], r[1:])
            if row is None:
                bad += 1
            else:
                rows.append(row)
    return rows, bad, meta


def _scan(db: sqlite3.Connection) -> tuple[list[SalvagedRow], int]:
    rows: list[SalvagedRow] = []
    bad = 0
    try:
        for r in db.execute("SELECT id, priority, topic, payload, retain, created, session, seq"
                            " FROM outbox"):
            row = _row(r[0], r[1:])
            if row is None:
                bad += 1
            else:
                rows.append(row)
    except sqlite3.Error:
        pass
    return rows, bad


def _row(rowid: object, r: tuple[object, ...]) -> SalvagedRow | None:
    """A row that is whole: its payload still decodes as the report its topic names."""
    priority, topic, payload, retain, created, session, seq = r
    if not isinstance(rowid, int):
        return None
    if not (isinstance(topic, str) and isinstance(payload, bytes) and isinstance(priority, int)
            and isinstance(created, int | float) and isinstance(session, int)
            and isinstance(seq, int)):
        return None
    try:
        msg = wire.decode(topic, unpack(payload))
    except (wire.WireError, PackError):
        return None
    if isinstance(msg, wire.StateMessage) or (msg.session, msg.seq) != (session, seq):
        return None
    return SalvagedRow(rowid, priority, topic, payload, bool(retain), float(created), session,
                       seq)


def _meta(db: sqlite3.Connection, key: str) -> int:
    try:
        row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row is not None and isinstance(row[0], int) else 0
