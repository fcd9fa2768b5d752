"""Check kind `snmp`: fetch what the device's profile names and decode it into metrics and faults."""

from __future__ import annotations

import time

from agent.checks.base import CheckOutcome, fault, unreachable
from agent.checks.context import CheckContext
from agent.config import Device
from agent.profile_loader import (
    SYSTEM_OIDS,
    TYPE_CLASSES,
    Profile,
    choose,
    probes,
    under_sys_object_id,
)
from agent.snmp_client import SnmpError, SnmpTarget
from agent.snmpdecode import DECODERS, Reading, Sample, text
from hcc_common.wire import FaultReport, MetricValue

KIND = "snmp"


def target_of(device: Device) -> SnmpTarget:
    assert device.snmp is not None and device.host is not None
    s = device.snmp
    per_try = device.timeout / (s.retries + 1)
    return SnmpTarget(device.host, s.port, s.version, s.community, per_try, s.retries, s.v3)


async def _profile(device: Device, ctx: CheckContext, target: SnmpTarget) -> Profile:
    cached = ctx.chosen_profiles.get(device.id)
    if cached is not None:
        return cached
    if device.profile != "auto":
        chosen = ctx.profiles[device.profile]
    else:
        answer = await ctx.snmp.get(target, list(SYSTEM_OIDS.values()))
        system = {name: answer.get(oid) for name, oid in SYSTEM_OIDS.items()}
        present = await ctx.snmp.present(target, probes(ctx.profiles))
        chosen = choose(ctx.profiles, device.type, system, present)
    ctx.chosen_profiles[device.id] = chosen
    return chosen


async def fetch(device: Device, ctx: CheckContext, profile: Profile, target: SnmpTarget) -> Reading:
    answer = await ctx.snmp.get(target, list(profile.scalars.values()))
    sys_oid = answer.get(SYSTEM_OIDS["sys_object_id"])
    if isinstance(sys_oid, str):
        ctx.sys_object_ids[device.id] = sys_oid
    tables = {}
    for spec in profile.tables:
        columns = {name: under_sys_object_id(oid, ctx.sys_object_ids.get(device.id))
                   for name, oid in spec.columns.items()}
        if any(oid is None for oid in columns.values()):
            continue  # its place is the device's sysObjectID, which it did not give
        walked = await ctx.snmp.walk_columns(target, [o for o in columns.values() if o])
        tables[spec.name] = {name: walked[oid] for name, oid in columns.items() if oid}
    return Reading({name: answer.get(oid) for name, oid in profile.scalars.items()}, tables)


def decode(profile: Profile, sample: Sample) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    metrics: dict[str, MetricValue] = {"snmp_profile": profile.id}
    found: list[FaultReport] = []
    for name in profile.decoders:
        decoded = DECODERS[name](sample)
        metrics.update(decoded.metrics)
        found.extend(decoded.faults)
    return metrics, found


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    target = target_of(device)
    try:
        profile = await _profile(device, ctx, target)
        reading = await fetch(device, ctx, profile, target)
    except SnmpError as exc:
        if exc.answered:  # wrong credentials: the device is there, our config is not right
            return CheckOutcome(KIND, True, {}, (fault("device.check_failed",
                                                       reason=f"snmp: {exc}"),), str(exc))
        return unreachable(KIND, str(exc))
    if all(v is None for v in reading.scalars.values()):
        return unreachable(KIND, "device answered but holds none of the profile's objects")
    now = time.monotonic()
    previous = ctx.previous_readings.get(device.id)
    sample = Sample(reading, ctx.device_context(device),
                    previous[0] if previous is not None else None,
                    now - previous[1] if previous is not None else None, profile.values)
    ctx.previous_readings[device.id] = (reading, now)
    metrics, found = read_device(profile, sample, device.type)
    return CheckOutcome(KIND, True, metrics, tuple(found), profile=profile.id)


def read_device(profile: Profile, sample: Sample, device_type: str
                ) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    """Pure: what a device of this type says through this profile, metrics and faults."""
    metrics, found = decode(profile, sample)
    if profile.device_class == "generic" and device_type in TYPE_CLASSES:
        # A printer, access point, charger or UPS read only as a network device: say so, never
        # a silent "ok" for a device whose faults nobody reads.
        scalars = sample.reading.scalars
        found.append(fault("device.unsupported_model",
                           model=(text(scalars.get("sys_descr")) or "?")[:80],
                           sys_object_id=text(scalars.get("sys_object_id")) or "?"))
    return metrics, found
