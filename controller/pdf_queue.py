"""PDFs one at a time (and any report the API makes, two at a time): bounded queues of requests,
and each Chromium run under a time limit and a memory limit enforced by a watchdog over its whole
session (every process Chromium starts)."""

from __future__ import annotations

import contextlib
import math
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# One PDF renders; this many more may wait their turn; the next one gets 429 and Retry-After.
PDF_WAITING_MAX = 2
# Defaults; controller.yaml's reports.pdf sets them (ReportSettings). The whole city (130
# centers, 2,600 devices) over 400 days printed in 20 s with 2.7 GiB (bench/report_pdf.py).
PDF_TIME_LIMIT_S = 120.0
# Summed PSS of every process of the run (the browser, its renderer, GPU and network helpers).
# RLIMIT_AS cannot do it: Chromium reserves tens of GB of address space it never touches, and
# dies at start under any address-space limit a host could grant.
PDF_MEMORY_LIMIT_BYTES = 4 << 30
WATCH_EVERY_S = 0.1
_PAGE = os.sysconf("SC_PAGE_SIZE")


class PdfBusy(RuntimeError):
    """A report queue is full: ask again after `retry_after_s`."""

    def __init__(self, retry_after_s: int, what: str = "PDF reports are made one at a time") -> None:
        super().__init__(f"{what} and the queue is full: try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class LimitExceeded(RuntimeError):
    """A run went over its time or memory limit and was killed, with everything it started."""


@dataclass(frozen=True)
class RunResult:
    returncode: int
    seconds: float
    peak_memory_bytes: int  # summed PSS of the run's processes, at the watchdog's samples
    stderr_tail: str


class PdfQueue:
    """`running` at a time (one PDF); at most `waiting_max` more wait; the next is PdfBusy. A
    caller that must not be turned away (the monthly mail) waits its turn however long the
    queue is."""

    def __init__(self, waiting_max: int = PDF_WAITING_MAX, running: int = 1,
                 what: str = "PDF reports are made one at a time") -> None:
        self.waiting_max = waiting_max
        self.running = running
        self.what = what
        self._turn = threading.Semaphore(running)
        self._count = threading.Lock()
        self._admitted = 0
        self._typical_s = 10.0  # last run's time, for Retry-After
        self._holding = threading.local()  # a thread inside a slot takes no second one

    @property
    def admitted(self) -> int:
        return self._admitted

    @contextlib.contextmanager
    def slot(self, *, wait: bool = False) -> Iterator[None]:
        if getattr(self._holding, "inside", False):
            yield  # the API took the slot for the whole PDF; the render inside it is its part
            return
        with self._count:
            if not wait and self._admitted >= self.running + self.waiting_max:
                ahead = math.ceil(self._admitted / self.running)
                raise PdfBusy(max(1, math.ceil(ahead * self._typical_s)), self.what)
            self._admitted += 1
        try:
            with self._turn:
                started = time.monotonic()
                self._holding.inside = True
                try:
                    yield
                finally:
                    self._holding.inside = False
                    self._typical_s = max(1.0, time.monotonic() - started)
        finally:
            with self._count:
                self._admitted -= 1


QUEUE = PdfQueue()  # one per controller process: the API and the monthly mail share it
# Any report the API makes (HTML, CSV, or the data of a PDF): reading a city's 400 days of
# hour rows is seconds of CPU and much memory, and HTML and CSV are open to anonymous readers.
REPORTS = PdfQueue(waiting_max=4, running=2, what="reports are made two at a time")


def session_members(sid: int) -> list[int]:
    """Every process of session `sid` (a run started with start_new_session)."""
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = proc_stat(entry.name)
        if fields is not None and int(fields[3]) == sid:
            out.append(int(entry.name))
    return out


def session_memory(sid: int) -> int:
    """Memory session `sid` holds, in bytes: the sum of its processes' proportional set sizes
    (a page shared by N of them counts 1/N each; summed RSS would count Chromium's shared
    libraries once per process), their RSS where smaps_rollup cannot be read."""
    total = 0
    for pid in session_members(sid):
        total += _pss(pid)
    return total


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    fields = proc_stat(str(pid))
    return int(fields[21]) * _PAGE if fields is not None else 0


def proc_stat(pid: str) -> list[str] | None:
    """/proc/<pid>/stat after the command name: fields[0] is the state, [3] the session,
    [21] the RSS in pages (a name may hold spaces and brackets, hence the last ')')."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # gone meanwhile
    return text[text.rfind(")") + 2:].split()


def _kill_session(sid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, signal.SIGKILL)
    for pid in session_members(sid):  # one that left the group is still of the session
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _wait_gone(sid: int, within_s: float = 5.0) -> None:
    """Until the killed processes are reaped (their orphans go to init): the next run starts
    only when nothing of this one holds memory or a slot in the process table."""
    deadline = time.monotonic() + within_s
    while session_members(sid) and time.monotonic() < deadline:
        _kill_session(sid)
        time.sleep(0.02)


def _child_limits() -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a killed renderer leaves no core files


def run_bounded(cmd: Sequence[str], *, stderr_path: Path, time_limit_s: float = PDF_TIME_LIMIT_S,
                memory_limit_bytes: int = PDF_MEMORY_LIMIT_BYTES) -> RunResult:
    """Run `cmd` in its own session; kill the whole session when it runs longer than
    `time_limit_s` or all its processes together hold more than `memory_limit_bytes`.
    Nothing of the run is left when this returns or raises."""
    started = time.monotonic()
    peak = 0
    with stderr_path.open("wb") as err:
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True, preexec_fn=_child_limits)
    try:
        while proc.poll() is None:
            rss = session_memory(proc.pid)
            peak = max(peak, rss)
            elapsed = time.monotonic() - started
            if elapsed > time_limit_s:
                raise LimitExceeded(f"Chromium did not finish the PDF in {time_limit_s:.0f} s "
                                    f"and was stopped")
            if rss > memory_limit_bytes:
                raise LimitExceeded(f"Chromium used {rss / 2**20:.0f} MiB for the PDF (limit "
                                    f"{memory_limit_bytes / 2**20:.0f} MiB) and was stopped: "
                                    f"ask for a shorter period or one center")
            time.sleep(WATCH_EVERY_S)
    finally:
        _kill_session(proc.pid)  # the helpers a finished browser left behind, too
        proc.wait()
        _wait_gone(proc.pid)
    tail = stderr_path.read_bytes()[-2000:].decode(errors="replace")
    return RunResult(proc.returncode, time.monotonic() - started, peak, tail)
