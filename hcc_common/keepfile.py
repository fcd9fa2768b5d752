"""Files the command-line tools write into a service's folders: atomic, and keeping the owner,
group and mode the installer gave (a secret or a config never turns root:root 0644)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path


class NotWritable(OSError):
    """The folder refuses us: said plainly with the remedy (run it with sudo), no traceback."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write in {path.parent}: {reason}")
        self.path = path


@dataclass(frozen=True)
class Ownership:
    uid: int
    gid: int
    mode: int


def ownership_for(path: Path, like: Path | None = None, mode: int = 0o640) -> Ownership:
    """What `path` should be: as it is now; else as `like` (devices.yaml for a password beside
    it); else ours, in the folder's group (the service's: root:hcc-agent 0750), with `mode`.
    Never anything for others: a folder's file is the service's business only."""
    for model in (path, like):
        if model is not None:
            try:
                st = model.stat()
            except FileNotFoundError:
                continue
            return Ownership(st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode) & 0o770)
    folder = path.parent.stat()
    return Ownership(os.geteuid(), folder.st_gid, mode & 0o770)


def write_kept(path: Path, data: str | bytes, *, like: Path | None = None,
               mode: int = 0o640) -> None:
    """Write `path` whole or not at all (a temporary file beside it, synced, then renamed),
    with the ownership `ownership_for` gives. Raises NotWritable when the folder is not ours."""
    path = Path(os.path.abspath(path))
    own = ownership_for(path, like, mode)
    body = data.encode("utf-8") if isinstance(data, str) else data
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except PermissionError as exc:
        raise NotWritable(path, exc.strerror or "permission denied") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fchmod(fh.fileno(), own.mode)
            if (own.uid, own.gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fh.fileno(), own.uid, own.gid)
                except PermissionError:
                    if os.geteuid() == 0:
                        raise
                    # not root: the group we can give is ours; the mode still keeps others out
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
