"""Files the command-line tools write into a service's folders: atomic, and keeping the owner,
group and mode the installer gave (a secret or a config never turns root:root 0644)."""

from __future__ import annotations

import os
import stat
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
    """Write `path` whole or not at all (hcc_common/atomic_file: a temporary file beside it,
    synced, renamed) with the ownership `ownership_for` gives: the policy of the files a command
    writes into a service's folder. Raises NotWritable when the folder is not ours."""
    from hcc_common.atomic_file import write_atomic

    path = Path(os.path.abspath(path))
    own = ownership_for(path, like, mode)
    body = data.encode("utf-8") if isinstance(data, str) else data
    try:
        write_atomic(path, body, own.mode)  # never readable by others, not even a moment
    except PermissionError as exc:
        raise NotWritable(path, exc.strerror or "permission denied") from None
    st = path.stat()
    if (st.st_uid, st.st_gid) != (own.uid, own.gid):
        try:
            os.chown(path, own.uid, own.gid)  # a new file: the group of the file it sits beside
        except PermissionError:
            if os.geteuid() == 0:
                raise
            # not root: the group we can give is ours; the mode still keeps others out
