"""Check kind `tcp`: can a TCP connection be opened to the device's port, and how fast."""

from __future__ import annotations

import asyncio
import contextlib
import time

from agent.checks import failures
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.config import Device
from agent.poll_clock import within

KIND = "tcp"


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    assert device.tcp is not None and device.host is not None
    start = time.perf_counter()
    try:
        # (an answer that came while the loop was busy elsewhere is not a timeout)
        _, writer = await within(device.timeout,
                                 asyncio.open_connection(device.host, device.tcp.port))
    except (TimeoutError, OSError) as exc:
        # refused: the device is on and its service is not; a name nobody knows: a config
        # error; silence: it answers ping (a firewall drops the port) or it is off
        target = f"{device.host}:{device.tcp.port}"
        return await failures.explain_silence(KIND, failures.classify(exc, target),
                                              device.host, device.tcp.port,
                                              timeout=device.timeout, probe_port=False)
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    writer.close()
    # The connect succeeded; a slow close says nothing about the device.
    with contextlib.suppress(TimeoutError, OSError):
        await asyncio.wait_for(writer.wait_closed(), timeout=device.timeout)
    return CheckOutcome(KIND, reachable=True, metrics={"tcp_connect_ms": round(elapsed_ms, 2)})
