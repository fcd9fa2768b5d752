"""Check kind `wan`: the center's own internet line from the box's wired port: the gateway, DNS,
the phones' 204 check, and a timed download. It tells "the internet is down" apart from "the
Wi-Fi is broken": the controller holds Wi-Fi faults back while the WAN is down."""

from __future__ import annotations

from agent import netprobe
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.checks.spec import CheckSpec
from agent.checks.wifi_probe import network_steps
from hcc_common.check_kinds.wan import SCHEMA, WanSettings
from hcc_common.devices_config import Device
from hcc_common.faults import report
from hcc_common.wire import FaultReport

KIND = SCHEMA.kind
CODES = {"gateway": "wan.gateway_down", "dns": "wan.dns_failed", "internet": "wan.no_internet",
         "portal": "wan.no_internet"}


async def run(device: Device, s: WanSettings, ctx: CheckContext) -> CheckOutcome:
    steps = await network_steps(s, s.interface, s.netns, dhcp=False, gateway=True,
                                timeout_s=device.timeout)
    metrics = netprobe.metrics_of(steps, "wan")
    failed = next((x for x in steps if not x.ok and not x.skipped and x.step in CODES), None)
    faults: tuple[FaultReport, ...] = ()
    if failed is not None:
        code = CODES[failed.step]
        faults = (report(code, name=str(failed.detail.get("name", "")))
                  if code == "wan.dns_failed" else report(code),)
    return CheckOutcome(KIND, True, metrics, faults)


SPEC = CheckSpec(schema=SCHEMA, run=run)
