"""Read snmpsim .snmprec files into the agent's reading model, for pure tests and conformance runs."""

from __future__ import annotations

from pathlib import Path

from agent.profile_loader import Profile, names_maker, object_id, under_sys_object_id
from agent.snmpdecode import Reading, SnmpValue

_INT_TYPES = {"2", "65", "66", "67", "70"}


def parse_snmprec(text: str) -> dict[str, SnmpValue]:
    values: dict[str, SnmpValue] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        oid, type_code, value = line.split("|", 2)
        if type_code in _INT_TYPES:
            values[oid] = int(value)
        elif type_code == "4":
            values[oid] = value.encode()
        elif type_code == "4x":
            values[oid] = bytes.fromhex(value)
        elif type_code in ("6", "64"):
            values[oid] = value
        elif type_code == "64x":
            values[oid] = ".".join(str(b) for b in bytes.fromhex(value))
        else:
            values[oid] = None
    return values


def load(path: Path) -> dict[str, SnmpValue]:
    return parse_snmprec(path.read_text())


def reading_for(profile: Profile, values: dict[str, SnmpValue]) -> Reading:
    """What the snmp check would fetch for this profile from a device holding `values`."""
    sys_oid = object_id(values.get("1.3.6.1.2.1.1.2.0"))
    if not names_maker(sys_oid):
        sys_oid = None
    scalars = {}
    for name, template in profile.scalars.items():
        oid = under_sys_object_id(template, sys_oid)
        scalars[name] = values.get(oid) if oid is not None else None
    tables = {}
    for spec in profile.tables:
        columns: dict[str, dict[str, SnmpValue]] = {}
        for name, template in spec.columns.items():
            col_oid = under_sys_object_id(template, sys_oid)
            if col_oid is None:
                continue
            prefix = col_oid + "."
            columns[name] = {oid[len(prefix):]: v for oid, v in values.items()
                             if oid.startswith(prefix)}
        tables[spec.name] = columns
    return Reading(scalars, tables)


def present(prefixes: list[str], values: dict[str, SnmpValue]) -> set[str]:
    """Which probe subtrees a device holding `values` would answer a GETNEXT under."""
    return {p for p in prefixes if any(oid.startswith(p + ".") for oid in values)}
