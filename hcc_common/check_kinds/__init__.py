"""The devices.yaml sections of every check kind, one module each (its typed settings and
parser), listed in one explicit registry that both the box and the center validate with.
A kind's behaviour on the box (run, discover, programs) is agent/checks/<kind>.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hcc_common.check_kinds import (
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
from hcc_common.check_kinds.base import KindSchema

# In this order a device's checks run and are listed (and `has no check` names them).
SCHEMAS: Mapping[str, KindSchema[Any]] = {s.kind: s for s in (
    snmp.SCHEMA, tcp.SCHEMA, http.SCHEMA, ping.SCHEMA, shelly.SCHEMA, tasmota.SCHEMA, ipp.SCHEMA,
    usb.SCHEMA, command.SCHEMA, wifi_probe.SCHEMA, wan.SCHEMA,
)}
# the modules of this package that declare no kind of their own
HELPERS = ("base", "plug", "probe")
