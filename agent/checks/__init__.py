"""The registry of device check kinds: each kind is one module, listed here explicitly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from agent.checks import snmp, tcp
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.config import Device

CheckRunner = Callable[[Device, CheckContext], Awaitable[CheckOutcome]]

CHECK_KINDS: Mapping[str, CheckRunner] = {
    snmp.KIND: snmp.run,
    tcp.KIND: tcp.run,
}
