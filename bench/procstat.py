"""Memory figures of a process from /proc/<pid>/status, in MB, for the benchmarks' key=value lines."""

from __future__ import annotations


def status_mb(pid: int | str = "self", key: str = "VmRSS") -> int:
    """`key`: VmRSS (resident now) or VmHWM (peak resident). 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(f"{key}:"):
                    return int(line.split()[1]) // 1024
    except FileNotFoundError:
        pass
    return 0
