"""devices.yaml section `tasmota`: a Tasmota plug (port, relay)."""

from __future__ import annotations

from hcc_common.check_kinds import plug
from hcc_common.check_kinds.base import KindSchema, always

SCHEMA = KindSchema(kind="tasmota", settings=plug.PlugSettings, parse=plug.parse,
                    needs_host=always)
