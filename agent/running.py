"""The config the box runs now, shared by its services: the config manager alone changes it."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.devices_config import Config
from hcc_common.signing import TrustedKeys


@dataclass
class RunningConfig:
    config: Config  # what runs: the local devices.yaml, or a config the controller pushed
    version: str
    local_config: Config  # devices.yaml as last read
    local_version: str
    # the controller keys pushed configs must be signed with (the running config's)
    trusted: TrustedKeys
    trust_problem: str | None
    error: str | None = None  # the last config refused or rolled back, told to the controller

    @property
    def pushed(self) -> bool:
        return self.config is not self.local_config
