"""Device profiles: data files under agent/profiles/ naming OIDs, tables and decoders; auto-selection."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources

from agent.snmpdecode import DECODERS, ClientSource, SnmpValue, text
from hcc_common.yamlconf import ANY_KEYS, ConfigError, load_yaml

# Explicit list: a profile is shipped only when named here (no directory scanning).
# Order is priority: vendor MIBs before the IEEE 802.11 fallback, generic last.
PROFILE_FILES = (
    "printer.yaml", "apc_pdu.yaml", "apc_ats.yaml", "apc_xpdu.yaml", "raritan_pdu.yaml",
    "gude_pdu.yaml", "tripplite_power.yaml", "hpe_pdu.yaml", "wti_pdu.yaml",
    "chatsworth_pdu.yaml", "sentry_pdu.yaml", "eaton_pdu.yaml", "eaton_ats.yaml",
    "cyberpower_pdu.yaml", "cyberpower_ats.yaml", "dataprobe_pdu.yaml", "liebert_pdu.yaml",
    "vertiv_pdu.yaml", "panduit_pdu.yaml", "enlogic_pdu.yaml", "schleifenbauer_pdu.yaml",
    "planet_pdu.yaml", "riedo_pdu.yaml", "socomec_pdu.yaml", "energy_object_pdu.yaml",
    "pdu_other.yaml", "apc_ups.yaml", "hpe_ups.yaml", "eaton_ups.yaml", "mge_ups.yaml",
    "socomec_ups.yaml", "riello_ups.yaml", "delta_ups.yaml", "liebert_ups.yaml",
    "cyberpower_ups.yaml",
    "ppc_ups.yaml", "ppc_ups_v2.yaml", "tripplite_ups.yaml", "sinetica_ups.yaml",
    "webpower_ups.yaml", "vertiv_ups.yaml", "ups_mib.yaml", "ups_other.yaml", "unifi_ap.yaml",
    "cisco_ap.yaml", "aruba_ap.yaml", "airos_ap.yaml", "ruckus_ap.yaml", "cambium_epmp.yaml",
    "cambium_pmp.yaml", "mikrotik_ap.yaml", "fortinet_ap.yaml", "aerohive_ap.yaml",
    "extreme_wc.yaml", "zyxel_ap.yaml", "tachyon_ap.yaml", "teldat_ap.yaml", "huawei_ac.yaml",
    "h3c_ap.yaml", "meru_wlc.yaml", "grandstream_ap.yaml", "xirrus_ap.yaml", "hpmsm_ap.yaml",
    "ligo_ap.yaml", "airport_ap.yaml", "mimosa_ap.yaml",
    "lancom_ap.yaml", "lancom_lcos_ap.yaml", "extreme_ap.yaml", "meraki_ap.yaml",
    "openwrt_ap.yaml", "ieee80211_ap.yaml",
    "ap_other.yaml", "generic.yaml",
)


DEVICE_CLASSES = ("printer", "ap", "pdu", "ups", "generic")


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: Mapping[str, str]  # column name -> full column OID


@dataclass(frozen=True)
class Profile:
    id: str
    description: str
    device_class: str  # printer, ap, pdu, ups or generic: what kind of device it reads
    device_types: tuple[str, ...]
    sys_object_id_prefixes: tuple[str, ...]
    sys_descr_patterns: tuple[re.Pattern[str], ...]
    probe: tuple[str, ...]  # OID prefixes; the profile fits if anything lies under one of them
    scalars: Mapping[str, str]
    tables: tuple[TableSpec, ...]
    decoders: tuple[str, ...]
    # raw values -> words, per "table.column" or scalar name (a vendor's on/off numbering)
    values: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    # where the Wi-Fi client count lives, each product line's objects in the order to try
    clients: tuple[ClientSource, ...] = ()


CLIENT_SOURCE_KINDS = ("total", "sum", "rows", "stations")


def _parse(name: str, content: str) -> Profile:
    root = load_yaml(f"agent/profiles/{name}", content).as_mapping(
        ("id", "class", "description", "match", "scalars", "tables", "decoders", "values",
         "clients")
    )
    match = root.require("match").as_mapping(
        ("device_types", "sys_object_id_prefixes", "sys_descr_patterns", "probe")
    )

    def strs(key: str) -> tuple[str, ...]:
        node = match.get(key)
        return tuple(n.as_str() for n in node.as_list()) if node is not None else ()

    patterns = []
    pattern_node = match.get("sys_descr_patterns")
    for n in pattern_node.as_list() if pattern_node is not None else []:
        try:
            patterns.append(re.compile(n.as_str(), re.IGNORECASE))
        except re.error as exc:
            raise n.error(f"bad regular expression: {exc}") from None
    scalars_m = root.require("scalars").as_mapping(ANY_KEYS)
    scalars = {k: scalars_m.require(k).as_str() for k in scalars_m}
    tables: list[TableSpec] = []
    first_indices: dict[str, dict[int, str]] = {}
    if (tnode := root.get("tables")) is not None:
        tm = tnode.as_mapping(ANY_KEYS)
        for tname in tm:
            spec = tm.require(tname).as_mapping(("oid", "columns", "first_index", "outlet_part",
                                                 "rows_where"))
            base = spec.require("oid").as_str()
            cols = spec.require("columns").as_mapping(ANY_KEYS)
            tables.append(TableSpec(tname, {c: f"{base}.{cols.require(c).as_int(1)}" for c in cols}))
            if (first := spec.get("first_index")) is not None:
                # a 0-based table: row 0 is outlet 1 (kept among the words, see Sample.first_index)
                first_indices[f"{tname}.first_index"] = {first.as_int(0): "first"}
            if (part := spec.get("outlet_part")) is not None:
                # which part of a multi-part row index is the outlet's number (1 = first;
                # -2 = last but one, as in pdu.outlet.sensorType)
                first_indices[f"{tname}.outlet_part"] = {part.as_int(): "part"}
            if (where := spec.get("rows_where")) is not None:
                # only the rows whose column holds one of these values (a meter table that
                # mixes whole-unit, phase and outlet meters)
                wm = where.as_mapping(ANY_KEYS)
                for wcol in wm:
                    node = wm.require(wcol)
                    wanted = node.as_list() if node.kind() == "list" else [node]
                    first_indices[f"{tname}.where.{wcol}"] = {n.as_int(): "keep" for n in wanted}
    decoders = []
    for n in root.require("decoders").as_list():
        d = n.as_str()
        if d not in DECODERS:
            raise n.error(f"unknown decoder {d!r}; known: {', '.join(sorted(DECODERS))}")
        decoders.append(d)
    probe_node = match.get("probe")
    probe: tuple[str, ...] = ()
    if probe_node is not None:
        probe = (tuple(n.as_str() for n in probe_node.as_list())
                 if probe_node.kind() == "list" else (probe_node.as_str(),))
    values: dict[str, dict[int, str]] = dict(first_indices)  # the tables' options, then words
    if (vnode := root.get("values")) is not None:
        vm = vnode.as_mapping(ANY_KEYS)
        for key in vm:
            words = vm.require(key).as_mapping(ANY_KEYS)
            mapping: dict[int, str] = {}
            for raw in words:
                try:
                    number = int(raw)
                except ValueError:
                    raise words.require(raw).error(f"{raw!r} is not a whole number") from None
                mapping[number] = words.require(raw).as_str()
            values[key] = mapping
    clients: list[ClientSource] = []
    if (cnode := root.get("clients")) is not None:
        columns = {f"{t.name}.{c}" for t in tables for c in t.columns}
        for item in cnode.as_list():
            im = item.as_mapping((*CLIENT_SOURCE_KINDS, "where"))
            kinds = [k for k in im if k != "where"]
            if len(kinds) != 1:
                raise item.error(f"give one of {', '.join(CLIENT_SOURCE_KINDS)} per entry")
            ref_node = im.require(kinds[0])
            refs = tuple(n.as_str() for n in ref_node.as_list()) if ref_node.kind() == "list" \
                else (ref_node.as_str(),)
            known = scalars if kinds[0] == "total" else columns
            for ref in refs:
                if ref not in known:
                    raise ref_node.error(f"{ref!r} is not one of this profile's "
                                         f"{'scalars' if kinds[0] == 'total' else 'table columns'}")
            row_filter: list[tuple[str, re.Pattern[str]]] = []
            if (wnode := im.get("where")) is not None:
                if kinds[0] == "total":
                    raise wnode.error("'where' picks table rows: give it with sum, rows or "
                                      "stations, not total")
                wm = wnode.as_mapping(ANY_KEYS)
                for ref in wm:
                    if ref not in columns:
                        raise wm.require(ref).error(f"{ref!r} is not one of this profile's "
                                                    "table columns")
                    try:
                        row_filter.append((ref, re.compile(wm.require(ref).as_str(), re.IGNORECASE)))
                    except re.error as exc:
                        raise wm.require(ref).error(f"bad regular expression: {exc}") from None
            clients.append(ClientSource(kinds[0], refs, tuple(row_filter)))
    desc = root.get("description")
    return Profile(
        id=root.require("id").as_str(),
        description=desc.as_str() if desc is not None else "",
        device_class=root.require("class").as_choice(DEVICE_CLASSES),
        device_types=strs("device_types"),
        sys_object_id_prefixes=strs("sys_object_id_prefixes"),
        sys_descr_patterns=tuple(patterns),
        probe=probe,
        scalars=scalars,
        tables=tuple(tables),
        decoders=tuple(decoders),
        values=values,
        clients=tuple(clients),
    )




def load_profiles() -> dict[str, Profile]:
    """The shipped profiles by id, in priority order. Parsed once per process (45+ YAML files
    cost seconds on a Pi) and shared: a Profile is frozen, so only the dict is copied."""
    return dict(_parsed_profiles())


@functools.cache
def _parsed_profiles() -> tuple[tuple[str, Profile], ...]:
    out: dict[str, Profile] = {}
    pkg = resources.files("agent") / "profiles"
    for name in PROFILE_FILES:
        profile = _parse(name, (pkg / name).read_text(encoding="utf-8"))
        if profile.id in out:
            raise ConfigError(f"agent/profiles/{name}", 1, "id", f"duplicate profile {profile.id!r}")
        out[profile.id] = profile
    return tuple(out.items())


def profile_ids() -> tuple[str, ...]:
    """The shipped profiles' ids (for config validation), from the one parse per process."""
    return tuple(pid for pid, _ in _parsed_profiles())


SYSTEM_OIDS = {
    "sys_descr": "1.3.6.1.2.1.1.1.0",
    "sys_object_id": "1.3.6.1.2.1.1.2.0",
}


# The profile classes that can read a device of each configured type. Types not listed (kiosk,
# reading_device, robot, other) are read with the generic profile: a technician who says
# "other" gets interfaces and uptime, never a printer's or an access point's faults.
TYPE_CLASSES: Mapping[str, tuple[str, ...]] = {
    "printer": ("printer",), "wifi_ap": ("ap",), "charger": ("pdu", "ups"), "ups": ("ups",),
}
# What each kind of evidence weighs: a MIB the device answers outweighs its sysObjectID
# (vendors ship bogus ones), which outweighs a sysDescr pattern. A reply with only the system
# group (no MIB answered) is still told apart by sysObjectID and sysDescr.
PROBE_WEIGHT, OID_WEIGHT, DESCR_WEIGHT = 4, 2, 1


# sysObjectIDs that name no maker: net-snmp's own per-OS ids (a Linux AP, an OpenWrt box) and
# the zero OID. The maker is then told by sysDescr and by probing each candidate's objects.
GENERIC_OID_PREFIXES = ("1.3.6.1.4.1.8072.3.2", "0.0")
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]+)+")
# what some agents put around a sysDescr or a text sysObjectID: quotes, NULs, blanks
_WRAPPING = " \t\r\n\x00\"'`"


_OID_NAMES = (("SNMPv2-SMI::enterprises", "1.3.6.1.4.1"), ("enterprises", "1.3.6.1.4.1"),
              ("iso", "1"))


def object_id(value: SnmpValue) -> str | None:
    """A sysObjectID as dotted digits without a leading dot, however it was sent: as an OBJECT
    IDENTIFIER, or as an OCTET STRING holding ".1.3.6.1.4.1....", "1.3.6..." or '"1.3.6..."'."""
    raw = text(value) if isinstance(value, bytes) else value
    if not isinstance(raw, str):
        return None
    oid = raw.strip(_WRAPPING)
    for name, number in _OID_NAMES:  # as a tool printed it: "SNMPv2-SMI::enterprises.14823..."
        if oid.startswith(name):
            oid = number + oid[len(name):]
            break
    oid = oid.lstrip(".")
    return oid if _DOTTED.fullmatch(oid) else None


def names_maker(oid: str | None) -> bool:
    """Whether a sysObjectID says anything about the maker (net-snmp's generic ids do not)."""
    return oid is not None and not any(oid == g or oid.startswith(g + ".")
                                       for g in GENERIC_OID_PREFIXES)


def descr_forms(value: SnmpValue) -> tuple[str, ...]:
    """The sysDescr as sent and with what wraps it removed (a leading quote, NULs, a '<' or
    '-'), so that a pattern anchored at the start still finds the model name."""
    descr = text(value) or ""
    bare = descr.strip(_WRAPPING)
    bare = re.sub(r"^[^0-9A-Za-z]+", "", bare)
    return (descr,) if bare == descr else (descr, bare)


def choose(
    profiles: Mapping[str, Profile],
    device_type: str,
    system: Mapping[str, SnmpValue],
    present: set[str],
) -> Profile:
    """The best-supported profile of the classes the device type allows, else generic."""
    classes = TYPE_CLASSES.get(device_type)
    if classes is None:
        return profiles["generic"]
    oid = object_id(system.get("sys_object_id"))
    if not names_maker(oid):
        oid = None  # only sysDescr and the probes can tell
    descrs = descr_forms(system.get("sys_descr"))
    best: tuple[int, int, int] | None = None
    chosen = profiles["generic"]
    for rank, p in enumerate(profiles.values()):
        if p.device_class not in classes or (p.device_types and device_type not in p.device_types):
            continue
        weight = 0
        if p.probe and any(under_sys_object_id(x, oid) in present for x in p.probe):
            weight += PROBE_WEIGHT
        prefix = max((len(pre) for pre in p.sys_object_id_prefixes if oid is not None
                      and (oid == pre or oid.startswith(pre + "."))), default=0)
        if prefix:
            weight += OID_WEIGHT
        if any(pat.search(d) for pat in p.sys_descr_patterns for d in descrs):
            weight += DESCR_WEIGHT
        if weight == 0:
            continue
        key = (weight, prefix, -rank)  # then the most specific OID, then the listed order
        if best is None or key > best:
            best, chosen = key, p
    return chosen


SYS_OBJECT_ID_PLACE = "{sys_object_id}"


def under_sys_object_id(oid: str, sys_object_id: str | None) -> str | None:
    """A column OID that lives under the device's own sysObjectID (a vendor with one MIB per
    model, such as Gude), made concrete; None when it needs one the device did not give."""
    if SYS_OBJECT_ID_PLACE not in oid:
        return oid
    if not sys_object_id:
        return None
    return oid.replace(SYS_OBJECT_ID_PLACE, sys_object_id)


def probes(profiles: Mapping[str, Profile], sys_object_id: SnmpValue = None) -> list[str]:
    """Every profile's probe subtrees, those under the device's own sysObjectID made concrete
    (left out when it gave none that names a maker)."""
    oid = object_id(sys_object_id)
    resolved = (under_sys_object_id(x, oid if names_maker(oid) else None)
                for p in profiles.values() for x in p.probe)
    return sorted({x for x in resolved if x is not None})
