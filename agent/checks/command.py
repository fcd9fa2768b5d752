"""Check kind `command`: run a Nagios / monitoring-plugins check; exit 0-3 is ok..unknown."""

from __future__ import annotations

import asyncio
import contextlib

from agent.checks.base import CheckOutcome, fault, unreachable
from agent.checks.context import CheckContext
from agent.checks.spec import Argv, CheckSpec
from agent.plugin_output import parse
from agent.poll_clock import within
from hcc_common.check_kinds.command import SCHEMA, CommandSettings
from hcc_common.devices_config import Device

KIND = SCHEMA.kind
OUTPUT_LIMIT = 64 * 1024


async def run(device: Device, s: CommandSettings, ctx: CheckContext) -> CheckOutcome:
    try:
        proc = await asyncio.create_subprocess_exec(
            *s.argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL)
    except OSError as exc:
        return unreachable(KIND, f"cannot run {s.argv[0]}: {exc.strerror or exc}")
    try:
        out, _ = await within(device.timeout, proc.communicate())  # busy loop not counted
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return unreachable(KIND, f"{s.argv[0]} did not finish within {device.timeout:g}s")
    code = proc.returncode if proc.returncode is not None else 3
    result = parse(code, out[:OUTPUT_LIMIT].decode("utf-8", "replace"))
    metrics = {"plugin_status": result.status, **result.perfdata}
    if result.status == "warning":
        return CheckOutcome(KIND, True, metrics, (fault("device.plugin_warning",
                                                        output=result.summary),))
    if result.status == "critical":
        return CheckOutcome(KIND, True, metrics, (fault("device.plugin_critical",
                                                        output=result.summary),))
    if result.status == "unknown":
        return CheckOutcome(KIND, True, metrics, (fault("device.check_failed",
                                                        reason=result.summary or f"exit {code}"),))
    return CheckOutcome(KIND, True, metrics)


def programs(s: CommandSettings) -> tuple[Argv, ...]:
    return (s.argv,)


SPEC = CheckSpec(schema=SCHEMA, run=run, programs=programs)
