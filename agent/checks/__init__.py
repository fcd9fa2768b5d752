"""The registry of device check kinds on the box: each kind is one module (its run, the
programs it runs), listed here explicitly, each with its devices.yaml section's schema
(hcc_common/check_kinds/, shared with the center). The box's own health (`host`) is no kind of
devices.yaml and is run apart."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
from agent.checks.spec import CheckSpec
from hcc_common.check_kinds import SCHEMAS

REGISTRY: Mapping[str, CheckSpec[Any]] = {s.kind: s for s in (
    snmp.SPEC, tcp.SPEC, http.SPEC, ping.SPEC, shelly.SPEC, tasmota.SPEC, ipp.SPEC, usb.SPEC,
    command.SPEC, wifi_probe.SPEC, wan.SPEC,
)}
# the modules of this package that are no kind of devices.yaml
HELPERS = ("base", "context", "failures", "host", "spec")
assert list(REGISTRY) == list(SCHEMAS), "every devices.yaml section needs a check module"
