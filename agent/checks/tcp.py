"""Check kind `tcp`: can a TCP connection be opened to the device's port, and how fast."""

from __future__ import annotations

import asyncio
import contextlib
import time

from agent.checks import failures
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.checks.spec import CheckSpec
from agent.poll_clock import within
from hcc_common.check_kinds.tcp import SCHEMA, TcpSettings
from hcc_common.devices_config import Device

KIND = SCHEMA.kind


async def run(device: Device, s: TcpSettings, ctx: CheckContext) -> CheckOutcome:
    assert device.host is not None
    start = time.perf_counter()
    try:
        # (an answer that came while the loop was busy elsewhere is not a timeout)
        _, writer = await within(device.timeout,
                                 asyncio.open_connection(device.host, s.port))
    except (TimeoutError, OSError) as exc:
        # refused: the device is on and its service is not; a name nobody knows: a config
        # error; silence: it answers ping (a firewall drops the port) or it is off
        target = f"{device.host}:{s.port}"
        return await failures.explain_silence(KIND, failures.classify(exc, target),
                                              device.host, s.port,
                                              timeout=device.timeout, probe_port=False)
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    writer.close()
    # The connect succeeded; a slow close says nothing about the device.
    with contextlib.suppress(TimeoutError, OSError):
        await asyncio.wait_for(writer.wait_closed(), timeout=device.timeout)
    return CheckOutcome(KIND, reachable=True, metrics={"tcp_connect_ms": round(elapsed_ms, 2)})


SPEC = CheckSpec(schema=SCHEMA, run=run)
