"""Check kind `snmp`: fetch what the device's profile names and decode it into metrics and faults."""

from __future__ import annotations

import asyncio
import time

from agent.checks import failures
from agent.checks.base import CheckOutcome, fault, unreachable
from agent.checks.context import CheckContext
from agent.config import Device
from agent.profile_loader import (
    SYSTEM_OIDS,
    TYPE_CLASSES,
    Profile,
    TableSpec,
    choose,
    names_maker,
    object_id,
    probes,
    under_sys_object_id,
)
from agent.snmp_client import SnmpError, SnmpTarget
from agent.snmpdecode import DECODERS, Reading, Sample, SnmpValue, text
from agent.snmpdecode.wifi import from_source
from hcc_common import readings
from hcc_common.net_failure import Cause
from hcc_common.wire import FaultReport, MetricValue

KIND = "snmp"
# Past this many table values a reading is decoded on a worker thread: a controller's client
# table of 100,000 rows takes the loop long enough to hold up other devices' answers.
BIG_READING = 5_000


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
        sys_oid = object_id(system.get("sys_object_id"))
        if names_maker(sys_oid):
            assert sys_oid is not None
            ctx.sys_object_ids[device.id] = sys_oid
        present = await ctx.snmp.present(target, probes(ctx.profiles, sys_oid))
        chosen = choose(ctx.profiles, device.type, system, present)
    ctx.chosen_profiles[device.id] = chosen
    return chosen


async def fetch(device: Device, ctx: CheckContext, profile: Profile, target: SnmpTarget) -> Reading:
    if device.id not in ctx.sys_object_ids and any(
            under_sys_object_id(o, None) is None for o in profile.scalars.values()):
        # a scalar under the model's own sysObjectID: learn that first
        first = await ctx.snmp.get(target, [SYSTEM_OIDS["sys_object_id"]])
        _remember_sys_object_id(device, ctx, first.get(SYSTEM_OIDS["sys_object_id"]))
    scalar_oids = {name: under_sys_object_id(oid, ctx.sys_object_ids.get(device.id))
                   for name, oid in profile.scalars.items()}
    answer = await ctx.snmp.get(target, [o for o in scalar_oids.values() if o])
    _remember_sys_object_id(device, ctx, answer.get(SYSTEM_OIDS["sys_object_id"]))
    scalars = {name: answer.get(oid) if oid else None for name, oid in scalar_oids.items()}
    tables: dict[str, dict[str, dict[str, SnmpValue]]] = {}

    async def walk(spec: TableSpec) -> None:
        columns = {name: under_sys_object_id(oid, ctx.sys_object_ids.get(device.id))
                   for name, oid in spec.columns.items()}
        if any(oid is None for oid in columns.values()):
            return  # its place is the device's sysObjectID, which it did not give
        walked = await ctx.snmp.walk_columns(target, [o for o in columns.values() if o])
        tables[spec.name] = {name: walked[oid] for name, oid in columns.items() if oid}

    by_name = {spec.name: spec for spec in profile.tables}
    count_tables = {ref.partition(".")[0] for src in profile.clients if src.kind != "total"
                    for ref in src.refs}
    for spec in profile.tables:
        if spec.name not in count_tables:
            await walk(spec)
    # A client count's tables are walked in the profile's order until one source answers: a
    # controller's per-AP or per-station tables are not walked when its own total is there.
    for source in profile.clients:
        for ref in source.refs if source.kind != "total" else ():
            name = ref.partition(".")[0]
            if name not in tables and name in by_name:
                await walk(by_name[name])
        if from_source(Reading(scalars, tables), source) is not None:
            break
    return Reading(scalars, tables)


def _remember_sys_object_id(device: Device, ctx: CheckContext, value: object) -> None:
    """Keep the device's sysObjectID (sent as an OID or as text) for the objects under it."""
    oid = object_id(value) if isinstance(value, str | bytes) else None
    if names_maker(oid):
        assert oid is not None
        ctx.sys_object_ids[device.id] = oid


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
        return await failed(exc, device)
    if all(v is None for v in reading.scalars.values()) and not any(
            column for table in reading.tables.values() for column in table.values()):
        # It answered (a timeout raises above): the device is on and reachable, only this
        # model's objects are missing. A warning to send its details, never "check the power".
        return CheckOutcome(KIND, True, {"snmp_profile": profile.id},
                            (unsupported(reading, profile),),
                            "device answered but holds none of the profile's objects",
                            profile=profile.id)
    now = time.monotonic()
    previous = ctx.previous_readings.get(device.id)
    sample = Sample(reading, ctx.device_context(device),
                    previous[0] if previous is not None else None,
                    now - previous[1] if previous is not None else None, profile.values,
                    profile.clients)
    ctx.previous_readings[device.id] = (reading, now)
    if sum(len(column) for table in reading.tables.values()
           for column in table.values()) > BIG_READING:
        metrics, found = await asyncio.to_thread(read_device, profile, sample, device.type)
    else:
        metrics, found = read_device(profile, sample, device.type)
    return CheckOutcome(KIND, True, metrics, tuple(found), profile=profile.id)


async def failed(exc: SnmpError, device: Device) -> CheckOutcome:
    """Why it said nothing we could read: it refused our v3 keys (it is there); its name is
    unknown; or silence, where answering ping means SNMP is off or the community is wrong,
    never "check the power and the cable"."""
    assert device.host is not None and device.snmp is not None
    if exc.cause == "auth" or exc.answered:
        return CheckOutcome(KIND, True, {}, (fault("device.snmp_auth"),), str(exc))
    if exc.cause == "name":
        return CheckOutcome(KIND, False, {}, (fault("device.name_unknown", host=device.host),),
                            str(exc))
    if exc.cause != "timeout":
        return unreachable(KIND, str(exc))
    silence = failures.Failure(False, None, str(exc), Cause.NO_ANSWER)
    return await failures.explain_silence(KIND, silence, device.host, None,
                                          silent_code="device.snmp_silent",
                                          timeout=device.timeout)


def read_device(profile: Profile, sample: Sample, device_type: str
                ) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    """Pure: what a device of this type says through this profile, metrics and faults."""
    metrics, found = decode(profile, sample)
    if (device_type in TYPE_CLASSES and not read_its_class(profile, sample.reading, metrics)) \
            or missing_charger_outlets(sample, metrics):
        # A printer, access point, charger or UPS read only as a network device (the generic
        # profile, or a profile of its class that read none of its class's objects, or a
        # charger whose outlets are not there): say so, never a silent "ok" for a device whose
        # faults nobody reads.
        found.append(unsupported(sample.reading, profile))
    return metrics, found


def missing_charger_outlets(sample: Sample, metrics: dict[str, MetricValue]) -> bool:
    """A charger whose configured outlets the device reported none of."""
    wanted = sample.device.charger_outlets
    if sample.device.type != "charger" or not wanted:
        return False
    # outlets are keyed by their row index (unit.outlet, 0-based...); `outlet.<idx>.number` is
    # the number devices.yaml's `outlets:` counts
    numbers = {v for k, v in metrics.items() if k.startswith("outlet.") and k.endswith(".number")}
    return not set(wanted) & numbers


# What every profile reads besides its class's own objects: the system group and IF-MIB.
NETWORK_ONLY = frozenset({"sys_descr", "sys_object_id", "sys_uptime", "sys_name", "interfaces"})
# Metrics that say a profile read its class (an access point's radio states count: its client
# count may be unknown while its radios are read). Printers (a scan server is sold as one) and
# PDUs (metered-only units read no outlet state) are judged by their decoders and, for a
# charger, by its configured outlets below.
CLASS_READINGS: dict[str, tuple[str, ...]] = {
    "ap": (readings.WIFI_CLIENTS.key, "radio."),
    "ups": ("battery_", "runtime_", "load_", "ups_", "output_", "input_", "replace_battery"),
}


def read_its_class(profile: Profile, reading: Reading, metrics: dict[str, MetricValue]) -> bool:
    """Whether the profile read what its class is about. A device that answered nothing beyond
    the system group (a restricted SNMP view, an identity-only answer) is not judged: there is
    nothing to say it is not what its profile reads. One that answered its interfaces or its
    vendor's tables, yet none of its class's readings, is read only as a network device."""
    if profile.device_class == "generic":
        return False  # the generic profile reads no class
    wanted = CLASS_READINGS.get(profile.device_class)
    if wanted is None:
        return True  # a class whose completeness its own decoders judge (see CLASS_READINGS)
    if any(name.startswith(w) for name in metrics for w in wanted):
        return True
    answered_more = any(v is not None for k, v in reading.scalars.items()
                        if k not in NETWORK_ONLY) or any(
        column for table in reading.tables.values() for column in table.values())
    return not answered_more


def unsupported(reading: Reading, profile: Profile) -> FaultReport:
    scalars = reading.scalars
    return fault("device.unsupported_model",
                 model=(text(scalars.get("sys_descr")) or profile.description or "?")[:80],
                 sys_object_id=object_id(scalars.get("sys_object_id"))
                 or text(scalars.get("sys_object_id")) or "?")
