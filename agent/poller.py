"""Poll one device: run its check kinds concurrently under a deadline and combine the outcomes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from agent.checks import REGISTRY
from agent.checks.base import CheckOutcome, Combined, combine, unreachable
from agent.checks.context import CheckContext
from agent.checks.spec import CheckSpec
from agent.poll_clock import within
from hcc_common.devices_config import Device

log = logging.getLogger("hcc.agent.poll")

# Extra time a whole poll may take beyond the per-request timeout (walks need several requests).
DEADLINE_FACTOR = 4.0


async def _guarded(spec: CheckSpec[Any], device: Device, ctx: CheckContext) -> CheckOutcome:
    kind = spec.kind
    deadline = min(device.interval * 0.9, device.timeout * DEADLINE_FACTOR + 1.0)
    try:
        # the device's own time: not its wait behind other devices for a request slot, nor
        # the time the loop was busy with their work (see agent/poll_clock.py)
        return await within(deadline, spec.check(device, ctx))
    except TimeoutError:
        return unreachable(kind, f"no complete answer within {deadline:g}s")
    except Exception as exc:
        log.exception("check crashed", extra={"device": device.id, "kind": kind})
        return CheckOutcome(kind, reachable=False,
                            error=f"internal error in the {kind} check: {exc.__class__.__name__}")


async def poll(device: Device, ctx: CheckContext,
               registry: Mapping[str, CheckSpec[Any]] = REGISTRY) -> Combined:
    """Every check the device has, by its kind's spec (a kind not in `registry` cannot be one:
    the parser refused its section)."""
    outcomes = await asyncio.gather(*(_guarded(registry[k], device, ctx)
                                      for k in device.check_kinds))
    return combine(outcomes)
