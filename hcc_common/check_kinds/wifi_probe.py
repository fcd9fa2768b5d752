"""devices.yaml section `wifi_probe`: the public SSIDs, the box's second radio and its
namespace, and the tools that scan, join and leave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hcc_common.check_kinds import probe
from hcc_common.check_kinds.base import KindSchema, SectionInput
from hcc_common.yamlconf import Node


@dataclass(frozen=True, kw_only=True)
class WifiProbeSettings(probe.ProbeSettings):
    ssids: tuple[str, ...]                # the public SSID(s) citizens join
    interface: str = "wlan1"              # the box's second radio (never its management link)
    netns: str | None = "hcc-probe"       # the namespace the probe's radio lives in
    scan: tuple[str, ...] = ("iw", "dev", "{interface}", "scan")
    join: tuple[str, ...] = ("nmcli", "--wait", "20", "dev", "wifi", "connect", "{ssid}",
                             "ifname", "{interface}")
    leave: tuple[str, ...] = ("nmcli", "dev", "disconnect", "{interface}")
    join_parser: str = "nmcli"            # nmcli | wpa_cli | none (a wired stand-in: no join)
    dhcp_slow_s: float = 5.0


def parse(node: Node, given: SectionInput) -> WifiProbeSettings:
    m = node.as_mapping((*probe.KEYS, "ssids", "interface", "netns", "scan", "join", "leave",
                         "join_parser", "dhcp_slow"))
    extra: dict[str, Any] = probe.common(m, given)
    for key in ("interface", "netns"):
        if (n := m.get(key)) is not None:
            extra[key] = n.as_str()
    for key in ("scan", "join", "leave"):
        if (n := m.get(key)) is not None:
            extra[key] = tuple(x.as_str() for x in n.as_list())
    if (n := m.get("join_parser")) is not None:
        extra["join_parser"] = n.as_choice(("nmcli", "wpa_cli", "none"))
    if (n := m.get("dhcp_slow")) is not None:
        extra["dhcp_slow_s"] = n.as_duration(minimum=0.1)
    return WifiProbeSettings(ssids=tuple(x.as_str() for x in m.require("ssids").as_list()),
                             **extra)


SCHEMA = KindSchema(kind="wifi_probe", settings=WifiProbeSettings, parse=parse)
