"""Replace a file whole or not at all, and serialise read-modify-writes of a folder's files.

A reader (mosquitto on SIGHUP, an agent starting) sees the old file or the new one, never half
of one; two writers (threads of the enrollment endpoint, or two `hcc-controller credentials`
processes) take turns instead of losing each other's change.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = ".hcc.lock"

# flock serialises processes (and threads, since each opens its own descriptor); the thread
# lock makes the wait in this process cheap and keeps the order fair between its threads.
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(folder: Path) -> threading.Lock:
    key = str(folder.resolve())
    with _thread_locks_guard:
        return _thread_locks.setdefault(key, threading.Lock())


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive, for this process and every other one, over the files of `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    with _thread_lock(folder):
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int | None = None, durable: bool = True) -> None:
    """`data` becomes `path` in one rename: a unique temporary file in the same folder, written,
    fsynced, given the mode (default: the old file's, else 0600) and the old file's owner, then
    renamed over it, and the folder fsynced so the rename survives a power cut. durable=False
    skips both fsyncs (a status file rewritten every few seconds on an SD card): readers still
    see a whole file, a power cut may bring back the previous one."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    try:
        old = path.stat()
    except FileNotFoundError:
        old = None
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode if mode is not None
                      else (old.st_mode & 0o777 if old is not None else 0o600))
            if old is not None and os.geteuid() == 0:
                os.fchown(fh.fileno(), old.st_uid, old.st_gid)
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if not durable:
        return
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def create_once(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Make `path` holding `data` unless it exists (False: someone else made it first, keep
    theirs). The file appears whole or not at all: written and fsynced under a unique temporary
    name, then hard-linked to `path`, which fails if the name is taken. O_EXCL alone would let a
    concurrent reader see the file while it is still empty."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fchmod(fh.fileno(), mode)
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return True
