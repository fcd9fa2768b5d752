"""Check kind `shelly`: a Shelly Gen2 smart plug over HTTP RPC (Switch.GetStatus) as a charger."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.charger_rules import charger_faults
from agent.checks import failures
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.config import Device
from agent.snmpdecode.core import DeviceContext
from hcc_common.wire import FaultReport, MetricValue

KIND = "shelly"


class ReplyError(ValueError):
    """The plug answered something that is not a Switch.GetStatus reply."""


def _num(body: Mapping[str, Any], key: str) -> float | None:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def decode(body: object, ctx: DeviceContext, label: str
           ) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    """Pure: a Switch.GetStatus JSON reply -> metrics and charger faults."""
    if not isinstance(body, dict) or not isinstance(body.get("output"), bool):
        raise ReplyError("reply has no boolean 'output' field")
    on = body["output"]
    metrics: dict[str, MetricValue] = {"plug.on": int(on)}
    for key, name in (("apower", "plug.power_w"), ("voltage", "plug.voltage_v"),
                      ("current", "plug.current_a")):
        value = _num(body, key)
        if value is not None:
            metrics[name] = value
    temperature = None
    temp = body.get("temperature")
    if isinstance(temp, dict):
        temperature = _num(temp, "tC")
        if temperature is not None:
            metrics["plug.temperature_c"] = temperature
    errors = [str(e) for e in body.get("errors", []) if isinstance(e, str)] \
        if isinstance(body.get("errors"), list) else []
    power = _num(body, "apower")
    return metrics, charger_faults(ctx, label, on=on, power_w=power, temperature_c=temperature,
                                   device_errors=errors)


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    import httpx  # imported on first use: most boxes never need an HTTP client (memory)

    s = device.shelly
    assert s is not None and device.host is not None
    url = f"http://{device.host}:{s.port}/rpc/Switch.GetStatus"
    try:
        async with httpx.AsyncClient(timeout=device.timeout) as client:
            reply = await client.get(url, params={"id": s.switch})
            reply.raise_for_status()
            body = reply.json()
        metrics, found = decode(body, ctx.device_context(device), f"plug {s.switch}")
    except httpx.TimeoutException as exc:
        # took the connection and hung, or silent: on (answers ping) or off
        return await failures.explain_silence(KIND, failures.classify(exc, device.host),
                                              device.host, s.port, timeout=device.timeout)
    except (httpx.HTTPError, ValueError) as exc:
        # answering with 404 or the wrong JSON is a device that is on: say what it said
        return failures.http_outcome(KIND, exc, device.host or url, "Shelly RPC JSON")
    return CheckOutcome(KIND, True, metrics, tuple(found))
