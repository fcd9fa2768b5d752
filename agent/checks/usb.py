"""Check kind `usb`: is a device with this vendor:product plugged into the box (read from sysfs)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.checks.base import CheckOutcome, fault
from agent.checks.context import CheckContext
from agent.checks.spec import CheckSpec
from hcc_common.check_kinds.usb import SCHEMA, UsbSettings
from hcc_common.devices_config import Device

KIND = SCHEMA.kind


def find(root: Path, vendor: str, product: str) -> list[str]:
    """Names of the sysfs USB device entries matching vendor:product."""
    matches = []
    for entry in sorted(root.glob("*")) if root.is_dir() else []:
        try:
            v = (entry / "idVendor").read_text().strip().lower()
            p = (entry / "idProduct").read_text().strip().lower()
        except OSError:
            continue  # interfaces (1-1:1.0) and hubs' ports have no ids
        if (v, p) == (vendor, product):
            matches.append(entry.name)
    return matches


async def run(device: Device, s: UsbSettings, ctx: CheckContext) -> CheckOutcome:
    root = Path(s.sysfs_root)
    matches = await asyncio.get_running_loop().run_in_executor(None, find, root, s.vendor,
                                                               s.product)
    metrics = {"usb_present": len(matches)}
    if not matches:
        return CheckOutcome(KIND, True, metrics, (fault("device.usb_missing", usb_id=s.usb_id),))
    return CheckOutcome(KIND, True, metrics)


SPEC = CheckSpec(schema=SCHEMA, run=run)
