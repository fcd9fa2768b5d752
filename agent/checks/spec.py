"""What a check kind is on the box: its devices.yaml section (the shared schema), how it runs,
which programs it makes the box run, and how it finds devices, if it can."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from hcc_common.check_kinds.base import KindSchema
from hcc_common.devices_config import Device

S = TypeVar("S")
Argv = tuple[str, ...]


def no_programs(settings: object) -> tuple[Argv, ...]:
    return ()


@dataclass(frozen=True, kw_only=True)
class CheckSpec(Generic[S]):
    schema: KindSchema[S]
    run: Callable[[Device, S, CheckContext], Awaitable[CheckOutcome]]
    # the programs these settings make the box run (a pushed config may add none:
    # agent/command_policy.py); a kind that runs only its own code runs none
    programs: Callable[[S], tuple[Argv, ...]] = no_programs

    @property
    def kind(self) -> str:
        return self.schema.kind

    async def check(self, device: Device, ctx: CheckContext) -> CheckOutcome:
        """Run this kind's check of `device` with the settings its section gave."""
        settings = self.schema.of(device.checks)
        assert settings is not None, f"{device.id} has no {self.kind} check"
        return await self.run(device, settings, ctx)
