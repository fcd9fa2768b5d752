"""Shared resources a check needs (SNMP engine, profiles, thresholds), created once per event loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from agent.decode import Thresholds
from agent.profiles import Profile, load_profiles
from agent.snmp_client import SnmpClient


@dataclass
class CheckContext:
    profiles: dict[str, Profile] = field(default_factory=load_profiles)
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Profile picked per device on its first answer; auto-detection is not repeated every poll.
    chosen_profiles: dict[str, Profile] = field(default_factory=dict)
    _snmp: SnmpClient | None = None

    @property
    def snmp(self) -> SnmpClient:
        # Created lazily so the engine belongs to the running event loop.
        if self._snmp is None:
            self._snmp = SnmpClient()
        return self._snmp

    def close(self) -> None:
        if self._snmp is not None:
            self._snmp.close()
            self._snmp = None
