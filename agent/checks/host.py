"""Check kind `host`: the agent's own box (CPU, memory, disk, temperature), read with psutil."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from agent.checks.base import CheckOutcome, fault
from agent.outbox_repair import damaged_copies
from hcc_common.wire import FaultReport, MetricValue

KIND = "host"
DISK_WARN_PCT = 90.0
MEMORY_WARN_PCT = 95.0
TEMP_WARN_C = 80.0


def _read(disk_path: Path) -> dict[str, MetricValue]:
    metrics: dict[str, MetricValue] = {
        # interval=None compares with the previous call: no sleeping inside the executor.
        "cpu_percent": psutil.cpu_percent(interval=None),
        "memory_percent": psutil.virtual_memory().percent,
        "load1": round(psutil.getloadavg()[0], 2),
        "uptime_s": int(time.time() - psutil.boot_time()),
    }
    try:
        path = disk_path if disk_path.exists() else Path("/")
    except OSError:  # a folder this user may not look into (another's state dir): measure /
        path = Path("/")
    metrics["disk_percent"] = psutil.disk_usage(str(path)).percent
    # damaged outboxes the agent set aside in its state dir: a warning until a person has
    # looked at them (and removed them)
    damaged = damaged_copies(disk_path)
    if damaged:
        metrics["outbox_damaged_files"] = len(damaged)
        metrics["outbox_damaged_last"] = damaged[-1].name
    flags = read_throttled()
    if flags is not None:
        metrics["throttled_flags"] = flags
    synced = clock_synchronised()
    if synced is not None:
        metrics["clock_synced"] = int(synced)
    temps = getattr(psutil, "sensors_temperatures", None)
    if temps is not None:
        readings = [t.current for group in temps().values() for t in group if t.current is not None]
        if readings:
            metrics["cpu_temp_c"] = round(max(readings), 1)
    return metrics


# Raspberry Pi firmware flags (vcgencmd get_throttled): bit 0 under-voltage now, 2 throttled now.
THROTTLED_PATHS = ("/sys/devices/platform/soc/soc:firmware/get_throttled",)
UNDERVOLTAGE_NOW, THROTTLED_NOW = 0x1, 0x4
UNDERVOLTAGE_SINCE_BOOT = 0x10000
TIME_ERROR = 5  # adjtimex(): the kernel's clock is not synchronised


def read_throttled(paths: tuple[str, ...] = THROTTLED_PATHS) -> int | None:
    for path in paths:
        try:
            return int(Path(path).read_text().strip(), 16)
        except (OSError, ValueError):
            continue
    return None


# systemd-timesyncd touches this file once the clock is synchronised (systemd >= 239).
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")


def kernel_clock_synchronised() -> bool | None:
    """The kernel's own view (adjtimex), as NTP daemons set it; None where unavailable, e.g.
    under systemd's ProtectClock=yes, whose filter refuses adjtimex with EPERM."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        timex = ctypes.create_string_buffer(512)  # larger than struct timex on any arch
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


def timedated_synchronised() -> bool | None:
    """systemd-timedated's NTPSynchronized, over D-Bus (it reads adjtimex outside our sandbox,
    whatever NTP daemon runs); None without timedatectl or an answer within 3 s."""
    try:
        out = subprocess.run(["timedatectl", "show", "--property=NTPSynchronized", "--value"],
                             capture_output=True, text=True, timeout=3.0, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    answer = out.stdout.strip()
    return {"yes": True, "no": False}.get(answer) if out.returncode == 0 else None


def timesyncd_synchronised(flag: Path = TIMESYNC_FLAG) -> bool | None:
    """systemd-timesyncd's flag file; None when timesyncd is not running here."""
    if not flag.parent.is_dir():
        return None
    return flag.exists()


def clock_synchronised(
        sources: tuple[Callable[[], bool | None], ...] = (
            kernel_clock_synchronised, timedated_synchronised, timesyncd_synchronised),
) -> bool | None:
    """The first source that knows: the kernel, then timedated, then timesyncd's flag. The
    hardened unit (ProtectClock=yes) refuses the first, so the others keep the check alive."""
    for source in sources:
        known = source()
        if known is not None:
            return known
    return None


def faults_of(metrics: dict[str, MetricValue]) -> tuple[FaultReport, ...]:
    found: list[FaultReport] = []
    disk = metrics.get("disk_percent")
    if isinstance(disk, int | float) and disk >= DISK_WARN_PCT:
        found.append(fault("host.disk_full", percent=round(disk)))
    mem = metrics.get("memory_percent")
    if isinstance(mem, int | float) and mem >= MEMORY_WARN_PCT:
        found.append(fault("host.memory_low", percent=round(mem)))
    temp = metrics.get("cpu_temp_c")
    if isinstance(temp, int | float) and temp >= TEMP_WARN_C:
        found.append(fault("host.overtemp", temperature=temp))
    flags = metrics.get("throttled_flags")
    if isinstance(flags, int):
        if flags & UNDERVOLTAGE_NOW:
            found.append(fault("host.undervoltage"))
        elif flags & UNDERVOLTAGE_SINCE_BOOT:
            found.append(fault("host.undervoltage", "warning"))
        if flags & THROTTLED_NOW:
            found.append(fault("host.throttled"))
    if metrics.get("clock_synced") == 0:
        found.append(fault("host.clock_unsynced"))
    damaged = metrics.get("outbox_damaged_files")
    if isinstance(damaged, int) and damaged > 0:
        found.append(fault("host.outbox_damaged", count=damaged,
                           file=str(metrics.get("outbox_damaged_last", ""))))
    return tuple(found)


async def run(disk_path: Path) -> CheckOutcome:
    # psutil reads /proc and /sys synchronously: keep it off the event loop.
    metrics = await asyncio.get_running_loop().run_in_executor(None, _read, disk_path)
    return CheckOutcome(KIND, True, metrics, faults_of(metrics))
