"""Check kind `tasmota`: a Tasmota smart plug over HTTP (Power and Status 8 commands) as a charger."""

from __future__ import annotations

from typing import Any

from agent.charger_rules import charger_faults
from agent.checks import failures
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.config import Device
from agent.snmpdecode.core import DeviceContext
from hcc_common.wire import FaultReport, MetricValue

KIND = "tasmota"


class ReplyError(ValueError):
    """The plug answered something that is not a Tasmota command reply."""


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def decode(power_reply: object, status_reply: object, relay: int, ctx: DeviceContext,
           label: str) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    """Pure: replies to `Power` and `Status 8` -> metrics and charger faults."""
    if not isinstance(power_reply, dict):
        raise ReplyError("Power reply is not a JSON object")
    state = power_reply.get(f"POWER{relay + 1}", power_reply.get("POWER") if relay == 0 else None)
    if state not in ("ON", "OFF"):
        raise ReplyError(f"Power reply has no POWER{'' if relay == 0 else relay + 1} ON/OFF")
    on = state == "ON"
    metrics: dict[str, MetricValue] = {"plug.on": int(on)}
    power = temperature = None
    sns = status_reply.get("StatusSNS") if isinstance(status_reply, dict) else None
    if isinstance(sns, dict):
        energy = sns.get("ENERGY")
        if isinstance(energy, dict):
            power = _num(energy.get("Power"))
            for key, name in (("Power", "plug.power_w"), ("Voltage", "plug.voltage_v"),
                              ("Current", "plug.current_a")):
                value = _num(energy.get(key))
                if value is not None:
                    metrics[name] = value
        for section in sns.values():
            if isinstance(section, dict) and _num(section.get("Temperature")) is not None:
                temperature = _num(section.get("Temperature"))
                metrics["plug.temperature_c"] = temperature if temperature is not None else 0.0
                break
    return metrics, charger_faults(ctx, label, on=on, power_w=power, temperature_c=temperature)


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    import httpx  # imported on first use: most boxes never need an HTTP client (memory)

    s = device.tasmota
    assert s is not None and device.host is not None
    url = f"http://{device.host}:{s.port}/cm"
    try:
        async with httpx.AsyncClient(timeout=device.timeout) as client:
            power = await client.get(url, params={"cmnd": "Power" if s.switch == 0
                                                  else f"Power{s.switch + 1}"})
            power.raise_for_status()
            status = await client.get(url, params={"cmnd": "Status 8"})
            status.raise_for_status()
            metrics, found = decode(power.json(), status.json(), s.switch,
                                    ctx.device_context(device), f"plug {s.switch}")
    except httpx.TimeoutException as exc:
        # took the connection and hung, or silent: on (answers ping) or off
        return await failures.explain_silence(KIND, failures.classify(exc, device.host),
                                              device.host, s.port, timeout=device.timeout)
    except (httpx.HTTPError, ValueError) as exc:
        # answering with 404 or the wrong JSON is a device that is on: say what it said
        return failures.http_outcome(KIND, exc, device.host or url, "Tasmota JSON")
    return CheckOutcome(KIND, True, metrics, tuple(found))
