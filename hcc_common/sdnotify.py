"""systemd notifications (READY, WATCHDOG, STATUS) over $NOTIFY_SOCKET, without libsystemd."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable, Mapping

log = logging.getLogger("hcc.systemd")


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify datagram; False when not run by systemd (no socket)."""
    env = os.environ if environ is None else environ
    path = env.get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path  # abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(address)
            s.sendall(message.encode())
        except OSError as exc:
            log.warning("sd_notify failed", extra={"error": str(exc)})
            return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of WatchdogSec (systemd's advice), or None when no watchdog is set for us."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6 / 2
    except ValueError:
        return None


async def watchdog(stop: asyncio.Event, healthy: Callable[[], bool] = lambda: True) -> None:
    """Ping the watchdog from the event loop: if the loop hangs, the pings stop and systemd
    restarts us. `healthy` lets a process also vouch for its other threads."""
    interval = watchdog_interval()
    if interval is None:
        return
    while not stop.is_set():
        if healthy():
            notify("WATCHDOG=1")
        else:
            log.error("not healthy: withholding the watchdog ping")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
