"""Which programs a pushed config may make this box run: pure, one rule per check kind.

A check of kind `command` runs its argv; the Wi-Fi probe runs its scan, join and leave tools.
The box's own devices.yaml may run anything (whoever edits it is root on the box). A config
pushed by the controller, though signed, may run a program only when the box's own file runs
that very command line, or lists the program in `agent.allow_commands`: a stolen controller
key, or a mistake at the desk, then cannot make 130 boxes run a shell.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from agent.config import CHECK_KEYS, Config, Device
from hcc_common.yamlconf import ConfigError

Argv = tuple[str, ...]


def _command(d: Device) -> tuple[Argv, ...]:
    return (d.command.argv,) if d.command is not None else ()


def _wifi_probe(d: Device) -> tuple[Argv, ...]:
    """The tools as they are run: templates filled with the interface and each SSID. (The
    probe's own helper, agent.probe_run, and `ip netns exec` are the agent's, not the config's.)"""
    s = d.wifi_probe
    if s is None:
        return ()
    templates = [s.scan] if s.scan else []
    if s.join_parser != "none":
        templates += [t for t in (s.join, s.leave) if t]
    out: list[Argv] = []
    for template in templates:
        for ssid in s.ssids or ("",):
            try:
                out.append(tuple(a.format(interface=s.interface, ssid=ssid) for a in template))
            except (KeyError, IndexError, ValueError):
                out.append(tuple(template))  # fails at run time too; judged as written
    return tuple(out)


def _none(d: Device) -> tuple[Argv, ...]:
    return ()


# Every check kind says which programs it runs; a new kind must be listed here.
PROGRAMS_OF: Mapping[str, Callable[[Device], tuple[Argv, ...]]] = {
    "snmp": _none, "tcp": _none, "http": _none, "ping": _none, "shelly": _none,
    "tasmota": _none, "ipp": _none, "usb": _none,
    "wan": _none,  # only the agent's own helper, with the agent's interpreter
    "command": _command, "wifi_probe": _wifi_probe,
}
assert set(PROGRAMS_OF) == set(CHECK_KEYS), "every check kind must say which programs it runs"


def programs(device: Device) -> tuple[tuple[str, Argv], ...]:
    """(check kind, argv) of every program this device's checks run."""
    return tuple((kind, argv) for kind in device.check_kinds for argv in PROGRAMS_OF[kind](device))


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
