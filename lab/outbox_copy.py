"""Read a running agent's outbox (tests, benches) from a consistent copy: the agent holds the
file locked (SQLite EXCLUSIVE, its WAL index in memory, agent/outbox.py), so no other process
may open it while the agent runs."""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


@contextlib.contextmanager
def outbox_copy(path: Path, timeout: float = 10.0) -> Iterator[sqlite3.Connection]:
    """A connection to a copy of the outbox at `path` as of one of its commits. The -wal is read
    before and after the database file and must be the same both times: a commit (or the WAL
    starting over) changes it, while a checkpoint between the reads only rewrites database pages
    with copies the -wal holds too, which the copy's WAL replay puts back."""
    wal_path = Path(f"{path}-wal")
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryDirectory(prefix="outbox-copy-") as tmp:
        copy = Path(tmp) / path.name
        while True:
            wal = _read(wal_path)
            data = _read(path)
            if _read(wal_path) == wal:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} kept changing for {timeout} s")
            time.sleep(0.01)
        if not data:
            raise FileNotFoundError(path)
        copy.write_bytes(data)
        if wal:
            Path(f"{copy}-wal").write_bytes(wal)
        db = sqlite3.connect(copy)
        try:
            yield db
        finally:
            db.close()
