"""The registry of device check kinds: each kind is one module, listed here explicitly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from agent.checks import (
    command,
    http,
    ipp,
    ping,
    shelly,
    snmp,
    tasmota,
    tcp,
    usb,
    wan,
    wifi_probe,
)
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.config import CHECK_KEYS, Device

CheckRunner = Callable[[Device, CheckContext], Awaitable[CheckOutcome]]

CHECK_KINDS: Mapping[str, CheckRunner] = {
    snmp.KIND: snmp.run,
    tcp.KIND: tcp.run,
    http.KIND: http.run,
    ping.KIND: ping.run,
    usb.KIND: usb.run,
    command.KIND: command.run,
    shelly.KIND: shelly.run,
    tasmota.KIND: tasmota.run,
    ipp.KIND: ipp.run,
    wifi_probe.KIND: wifi_probe.run,
    wan.KIND: wan.run,
}
assert set(CHECK_KINDS) == set(CHECK_KEYS), "every config section needs a check module"
