"""Check kind `snmp`: fetch what the device's profile names and decode it into metrics and faults."""

from __future__ import annotations

from agent.checks.base import CheckOutcome, unreachable
from agent.checks.context import CheckContext
from agent.config import Device
from agent.decode import DECODERS, Reading
from agent.profiles import SYSTEM_OIDS, Profile, choose, probe_oids
from agent.snmp_client import SnmpError, SnmpTarget
from hcc_common.wire import FaultReport, MetricValue

KIND = "snmp"


def target_of(device: Device) -> SnmpTarget:
    assert device.snmp is not None and device.host is not None
    s = device.snmp
    per_try = device.timeout / (s.retries + 1)
    return SnmpTarget(device.host, s.port, s.version, s.community, per_try, s.retries)


async def _profile(device: Device, ctx: CheckContext, target: SnmpTarget) -> Profile:
    cached = ctx.chosen_profiles.get(device.id)
    if cached is not None:
        return cached
    if device.profile != "auto":
        chosen = ctx.profiles[device.profile]
    else:
        oids = list(SYSTEM_OIDS.values()) + probe_oids(ctx.profiles)
        answer = await ctx.snmp.get(target, oids)
        system = {name: answer.get(oid) for name, oid in SYSTEM_OIDS.items()}
        chosen = choose(ctx.profiles, device.type, system, answer)
    ctx.chosen_profiles[device.id] = chosen
    return chosen


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    target = target_of(device)
    try:
        profile = await _profile(device, ctx, target)
        answer = await ctx.snmp.get(target, list(profile.scalars.values()))
        tables = {}
        for spec in profile.tables:
            walked = await ctx.snmp.walk_columns(target, list(spec.columns.values()))
            tables[spec.name] = {name: walked[oid] for name, oid in spec.columns.items()}
    except SnmpError as exc:
        return unreachable(KIND, str(exc))
    if all(v is None for v in answer.values()):
        return unreachable(KIND, "device answered but holds none of the profile's objects")
    reading = Reading({name: answer.get(oid) for name, oid in profile.scalars.items()}, tables)
    metrics: dict[str, MetricValue] = {"snmp_profile": profile.id}
    found: list[FaultReport] = []
    for name in profile.decoders:
        decoded = DECODERS[name](reading, ctx.thresholds)
        metrics.update(decoded.metrics)
        found.extend(decoded.faults)
    return CheckOutcome(KIND, True, metrics, tuple(found), profile=profile.id)
