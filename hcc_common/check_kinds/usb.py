"""devices.yaml section `usb`: the vendor:product that must be plugged into the box."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds.base import KindSchema, SectionInput
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class UsbSettings:
    vendor: str              # 4 hex digits, as lsusb shows them
    product: str
    sysfs_root: str = "/sys/bus/usb/devices"

    @property
    def usb_id(self) -> str:
        return f"{self.vendor}:{self.product}"


def parse(node: Node, given: SectionInput) -> UsbSettings:
    m = node.as_mapping(("vendor", "product", "sysfs_root"))

    def hex4(key: str) -> str:
        n = m.require(key)
        raw = n.as_str().lower()
        if len(raw) != 4 or any(c not in "0123456789abcdef" for c in raw):
            raise n.error(f"expected 4 hex digits as lsusb shows them (e.g. 04f9), got {raw!r}")
        return raw

    root = m.get("sysfs_root")
    return UsbSettings(hex4("vendor"), hex4("product"),
                       root.as_str() if root is not None else "/sys/bus/usb/devices")


SCHEMA = KindSchema(kind="usb", settings=UsbSettings, parse=parse)
