"""devices.yaml section `shelly`: a Shelly Gen2 plug (port, switch id)."""

from __future__ import annotations

from hcc_common.check_kinds import plug
from hcc_common.check_kinds.base import KindSchema, always

SCHEMA = KindSchema(kind="shelly", settings=plug.PlugSettings, parse=plug.parse, needs_host=always)
