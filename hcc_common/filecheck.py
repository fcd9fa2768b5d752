"""Files a config names (a password, a CA, a key): present and readable by the service that will
run it, checked when the config is read, so `validate` says what `run` would crash on."""

from __future__ import annotations

import contextlib
import contextvars
import grp
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from hcc_common.yamlconf import Node

# Off while a config is judged away from where it runs (the controller validating a file to push:
# its files are the box's, not the controller's).
_checking: contextvars.ContextVar[bool] = contextvars.ContextVar("hcc_check_files", default=True)


@contextlib.contextmanager
def files_elsewhere() -> Iterator[None]:
    token = _checking.set(False)
    try:
        yield
    finally:
        _checking.reset(token)


def checking_files() -> bool:
    return _checking.get()


# On while a box's devices.yaml is read (devices_config.py): run as root (sudo hcc-agent
# validate), the files must also be readable by the service's group, the config's own.
_for_service_group: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "hcc_service_group_reads", default=False)


@contextlib.contextmanager
def read_by_the_service_group() -> Iterator[None]:
    token = _for_service_group.set(True)
    try:
        yield
    finally:
        _for_service_group.reset(token)


def named_file(node: Node) -> str:
    """The file `node` names, as an absolute path (a relative one is the config folder's: the
    service does not run from where the technician typed), checked when checking is on."""
    raw = node.as_str()
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(os.path.abspath(Path(node.file).parent / path))
    if checking_files():
        problem = why_unreadable(path, Path(node.file))
        if problem is not None:
            raise node.error(problem)
    return str(path)


def why_unreadable(path: Path, config: Path) -> str | None:
    """None when the service can read `path`, else what to do, in one line. Run as root (sudo
    hcc-agent validate), root reads everything: the service's group is the config's own
    (install.sh: root:hcc-agent 0640), and it is that group which must read the file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return f"{path}: no such file"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a file"
    if not os.access(path, os.R_OK):
        return f"cannot read {path}: permission denied"
    if os.geteuid() != 0 or not _for_service_group.get():
        return None
    try:
        gid = config.stat().st_gid
    except OSError:
        return None
    if gid == 0:
        return None  # a root-only config: root runs it
    if not _group_reads(st, gid):
        name = _group_name(gid)
        return (f"{path} is not readable by the service's group {name}: "
                f"sudo chgrp {name} {path} && sudo chmod 0640 {path}")
    for folder in path.parents:
        try:
            fst = folder.stat()
        except OSError:
            break
        if not (fst.st_mode & stat.S_IXOTH or (fst.st_gid == gid and fst.st_mode & stat.S_IXGRP)):
            return f"{folder} cannot be entered by the service's group {_group_name(gid)}"
    return None


def _group_reads(st: os.stat_result, gid: int) -> bool:
    return bool(st.st_mode & stat.S_IROTH or (st.st_gid == gid and st.st_mode & stat.S_IRGRP))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
