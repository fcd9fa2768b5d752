"""Shared resources a check needs (SNMP engine, profiles, previous readings), one per event loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.profile_loader import Profile, load_profiles
from agent.snmp_client import SnmpClient
from agent.snmpdecode import DeviceContext, Reading
from hcc_common.calendar import OpeningHours
from hcc_common.devices_config import Center, Device


@dataclass
class CheckContext:
    center: Center | None = None
    clock: Callable[[], float] = time.time
    profiles: dict[str, Profile] = field(default_factory=load_profiles)
    # Profile picked per device on its first answer; auto-detection is not repeated every poll.
    chosen_profiles: dict[str, Profile] = field(default_factory=dict)
    # each device's sysObjectID, for profiles whose tables live under it (Gude's per-model MIBs)
    sys_object_ids: dict[str, str] = field(default_factory=dict)
    # The last reading per device and when (monotonic), for rates and reboot detection.
    previous_readings: dict[str, tuple[Reading, float]] = field(default_factory=dict)
    _snmp: SnmpClient | None = None

    @property
    def snmp(self) -> SnmpClient:
        # Created lazily so the engine belongs to the running event loop.
        if self._snmp is None:
            self._snmp = SnmpClient()
        return self._snmp

    def center_open(self) -> bool:
        hours = self.center.hours if self.center is not None else OpeningHours()
        return hours.is_open_ts(self.clock())

    def device_context(self, device: Device) -> DeviceContext:
        return DeviceContext(
            type=device.type,
            center_open=self.center_open(),
            charger_outlets=device.outlets if device.type == "charger" else (),
            thresholds=device.thresholds,
        )

    def close(self) -> None:
        if self._snmp is not None:
            self._snmp.close()
            self._snmp = None
