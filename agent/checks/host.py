"""Check kind `host`: the agent's own box (CPU, memory, disk, temperature), read with psutil."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psutil

from agent.checks.base import CheckOutcome, fault
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
    path = disk_path if disk_path.exists() else Path("/")
    metrics["disk_percent"] = psutil.disk_usage(str(path)).percent
    temps = getattr(psutil, "sensors_temperatures", None)
    if temps is not None:
        readings = [t.current for group in temps().values() for t in group if t.current is not None]
        if readings:
            metrics["cpu_temp_c"] = round(max(readings), 1)
    return metrics


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
    return tuple(found)


async def run(disk_path: Path) -> CheckOutcome:
    # psutil reads /proc and /sys synchronously: keep it off the event loop.
    metrics = await asyncio.get_running_loop().run_in_executor(None, _read, disk_path)
    return CheckOutcome(KIND, True, metrics, faults_of(metrics))
