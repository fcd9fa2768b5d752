"""SNMPv2-MIB system group: identity, uptime, and reboots seen as sysUpTime going backwards."""

from __future__ import annotations

from agent.snmpdecode.core import Decoded, Sample, fault, integer, rebooted, text
from hcc_common import readings
from hcc_common.wire import FaultReport, MetricValue


def decode_system(s: Sample) -> Decoded:
    r = s.reading
    metrics: dict[str, MetricValue] = {}
    descr = text(r.scalars.get("sys_descr"))
    if descr is not None:
        metrics[readings.SYS_DESCR.key] = descr
    oid = r.scalars.get("sys_object_id")
    if isinstance(oid, str):
        metrics["sys_object_id"] = oid
    model = text(r.scalars.get("model"))  # hrDeviceDescr of a printer: "HP LaserJet M404dn"
    if model:
        metrics[readings.MODEL.key] = model
    name = text(r.scalars.get("sys_name"))
    if name is not None:
        metrics["sys_name"] = name
    ticks = integer(r.scalars.get("sys_uptime"))
    if ticks is not None:
        metrics["uptime_s"] = ticks // 100
    found: list[FaultReport] = []
    if rebooted(s):
        found.append(fault("ap.rebooted" if s.device.type == "wifi_ap" else "device.rebooted"))
    return Decoded(metrics, tuple(found))
