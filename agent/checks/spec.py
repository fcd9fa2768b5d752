"""What a check kind is on the box: its devices.yaml section (the shared schema), how it runs,
which programs it makes the box run, and how it finds devices, if it can."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from hcc_common.check_kinds.base import KindSchema
from hcc_common.devices_config import Device

if TYPE_CHECKING:
    from agent.profile_loader import Profile
    from agent.snmp_client import SnmpClient

S = TypeVar("S")
Argv = tuple[str, ...]


@dataclass(frozen=True)
class Found:
    """A device a sweep found, and the devices.yaml section its kind's check would read it with."""

    host: str
    type: str
    name: str
    check: str                     # the kind that found it (snmp, shelly, tasmota, ipp)
    settings: dict[str, Any] = field(default_factory=dict)  # the section, as it is written
    detail: str = ""               # what identified it: sysDescr, model


@dataclass(frozen=True, kw_only=True)
class Probe:
    """What a sweep (hcc-agent discover) gives a kind to ask one host whether it is its kind."""

    snmp: SnmpClient
    profiles: dict[str, Profile]
    communities: Sequence[str]
    snmp_port: int
    web: Any                       # an httpx.AsyncClient (imported only by a sweep: memory)
    http_port: int
    timeout: float


Discover = Callable[[Probe, str], Awaitable[Found | None]]


def no_programs(settings: object) -> tuple[Argv, ...]:
    return ()


@dataclass(frozen=True, kw_only=True)
class CheckSpec(Generic[S]):
    schema: KindSchema[S]
    run: Callable[[Device, S, CheckContext], Awaitable[CheckOutcome]]
    # the programs these settings make the box run (a pushed config may add none:
    # agent/command_policy.py); a kind that runs only its own code runs none
    programs: Callable[[S], tuple[Argv, ...]] = no_programs
    # asks one host whether it is a device of this kind (hcc-agent discover), if the kind can
    discover: Discover | None = None
    # or what announces itself in these subnets (DNS-SD), if the kind's devices do
    browse: Callable[[Sequence[str]], list[Found]] | None = None

    @property
    def kind(self) -> str:
        return self.schema.kind

    async def check(self, device: Device, ctx: CheckContext) -> CheckOutcome:
        """Run this kind's check of `device` with the settings its section gave."""
        settings = self.schema.of(device.checks)
        assert settings is not None, f"{device.id} has no {self.kind} check"
        return await self.run(device, settings, ctx)
