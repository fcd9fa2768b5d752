"""Which programs a pushed config may make this box run: pure, one rule per check kind.

A check of kind `command` runs its argv; the Wi-Fi probe runs its scan, join and leave tools.
The box's own devices.yaml may run anything (whoever edits it is root on the box). A config
pushed by the controller, though signed, may run a program only when the box's own file runs
that very command line, or lists the program in `agent.allow_commands`: a stolen controller
key, or a mistake at the desk, then cannot make 130 boxes run a shell.
"""

from __future__ import annotations

import os

from agent.checks import REGISTRY
from agent.checks.spec import Argv
from hcc_common.devices_config import Config, Device
from hcc_common.yamlconf import ConfigError


def programs(device: Device) -> tuple[tuple[str, Argv], ...]:
    """(check kind, argv) of every program this device's checks run: each kind says which
    (its CheckSpec.programs, agent/checks/)."""
    return tuple((kind, argv) for kind in device.check_kinds
                 for argv in REGISTRY[kind].programs(device.checks[kind]))


def on_allowlist(program: str, allow: tuple[str, ...]) -> bool:
    """An exact path on the list, or a program directly inside a directory listed with a
    trailing '/' (no '..', no deeper path)."""
    for entry in allow:
        if entry.endswith("/"):
            name = program[len(entry):] if program.startswith(entry) else ""
            if name and "/" not in name and name not in (".", ".."):
                return True
        elif program == entry and os.path.isabs(program):
            return True
    return False


def refusal(pushed: Config, local: Config) -> ConfigError | None:
    """Why the box must refuse this pushed config, or None. Names the file:line and key of the
    first device whose program is neither run by the local file nor on its allowlist."""
    allow = local.agent.allow_commands
    if pushed.agent.allow_commands and pushed.agent.allow_commands != allow:
        return ConfigError(pushed.path, 0, "agent.allow_commands",
                           "only the box's own devices.yaml may set which programs a pushed "
                           "config runs")
    local_argvs = {argv for d in local.devices for _, argv in programs(d)}
    for i, device in enumerate(pushed.devices):
        for kind, argv in programs(device):
            if argv in local_argvs or on_allowlist(argv[0], allow):
                continue
            listed = ", ".join(allow) if allow else "none"
            return ConfigError(
                pushed.path, device.line, f"devices[{i}].{kind}",
                f"device {device.id!r} would run {argv[0]!r}, which this box's own file neither "
                f"runs nor allows (agent.allow_commands: {listed}): a pushed config may not "
                "add programs")
    return None
