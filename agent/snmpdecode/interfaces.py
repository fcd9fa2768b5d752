"""IF-MIB interfaces: status, error rates, and (on access points) radio and uplink faults."""

from __future__ import annotations

import re

from agent.snmpdecode.core import (
    Decoded,
    Sample,
    cell,
    counter_delta,
    fault,
    integer,
    rebooted,
    row_indices,
    text,
)
from hcc_common.wire import FaultReport, MetricValue

UP, DOWN, LOWER_LAYER_DOWN, NOT_PRESENT = 1, 2, 7, 6
OPER_NAMES = {1: "up", 2: "down", 3: "testing", 4: "unknown", 5: "dormant", 6: "notPresent",
              7: "lowerLayerDown"}
IFTYPE_LOOPBACK = 24
IFTYPE_IEEE80211 = 71
IFTYPE_ETHERNET = 6
RADIO_NAME = re.compile(r"^(wifi|wlan|ath|radio|ra|rai|wl|wdev|phy)\d", re.IGNORECASE)
UPLINK_NAME = re.compile(r"^(eth|en|ge|gi|lan|uplink|port)\d", re.IGNORECASE)


def role(if_type: int | None, name: str) -> str:
    """radio, uplink or other: what the interface is for on an access point. A VLAN
    subinterface (eth1.4) or a virtual one is neither: it is down whenever its parent is."""
    if "." in name or ":" in name:
        return "other"
    if if_type == IFTYPE_IEEE80211 or RADIO_NAME.match(name):
        return "radio"
    if if_type == IFTYPE_ETHERNET and UPLINK_NAME.match(name):
        return "uplink"
    return "other"


def decode_interfaces(s: Sample) -> Decoded:
    table = s.reading.table("interfaces")
    prev_table = s.previous.table("interfaces") if s.previous is not None else {}
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    can_rate = (s.previous is not None and s.elapsed_s is not None and s.elapsed_s > 0
                and not rebooted(s))
    up = 0
    # per role on an access point: (admin-up interfaces that are down, any of them up)
    down_by_role: dict[str, list[str]] = {"radio": [], "uplink": []}
    up_by_role: dict[str, bool] = {"radio": False, "uplink": False}
    for idx in row_indices(table):
        if_type = integer(cell(table, "type", idx))
        if if_type == IFTYPE_LOOPBACK:
            continue
        name = text(cell(table, "name", idx)) or text(cell(table, "descr", idx)) or f"if{idx}"
        admin = integer(cell(table, "admin", idx))
        oper = integer(cell(table, "oper", idx))
        key = f"if.{name}"
        if oper is not None:
            metrics[f"{key}.oper"] = OPER_NAMES.get(oper, str(oper))
            up += oper == UP
        if can_rate:
            errors = 0
            complete = True
            for col in ("in_errors", "out_errors"):
                now_v = integer(cell(table, col, idx))
                before = integer(cell(prev_table, col, idx))
                if now_v is None or before is None:
                    complete = False
                    break
                errors += counter_delta(now_v, before)
            if complete and s.elapsed_s:
                metrics[f"{key}.errors_per_s"] = round(errors / s.elapsed_s, 3)
        if s.device.type != "wifi_ap":
            continue  # unused router ports and spare NICs are down all day in real centers
        r = role(if_type, name)
        if r not in down_by_role:
            continue
        if r == "radio" and oper is not None:
            metrics[f"radio.{name}.oper"] = OPER_NAMES.get(oper, str(oper))  # the device page
        if oper == UP:
            up_by_role[r] = True
        # An interface switched off on purpose (admin down) is not a fault.
        elif admin == UP and oper in (DOWN, LOWER_LAYER_DOWN, NOT_PRESENT):
            down_by_role[r].append(name)
    # Only an AP that serves nothing is at fault: spare Ethernet ports and scan or unused
    # radios are down all day on healthy APs, and IF-MIB cannot tell them from a failure.
    for r, code in (("radio", "ap.radio_down"), ("uplink", "ap.uplink_down")):
        if down_by_role[r] and not up_by_role[r]:
            found.append(fault(code, interface=", ".join(down_by_role[r][:4])))
    if table:
        metrics["interfaces_up"] = up
    return Decoded(metrics, tuple(found))
