"""Score what the agent made of one real capture against the reference (`<name>.expected.json`).

Pure: one `hcc-agent check --json` row and one expected document in, a DeviceScore out. The
rules follow the corpus README: supplies by level (±1) or by state, client counts, outlet
states, UPS battery charge, and every fault either justified by the capture or counted false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# corpus class -> the devices.yaml type a technician would give it
DEVICE_TYPE = {"printer": "printer", "ap": "wifi_ap", "pdu": "charger", "ups": "ups",
               "other": "other"}
# which profile classes count as "detected" for a corpus class
CLASS_OF_PROFILE_CLASS = {"printer": "printer", "ap": "ap", "pdu": "pdu", "ups": "ups"}
SUPPLY_FAULTS = {"printer.toner_low", "printer.toner_empty", "printer.supply_low",
                 "printer.supply_empty", "printer.waste_near_full", "printer.waste_full"}
LOW_PERCENT = 20
STATE_WORDS = {"some_remaining", "unknown", "unrestricted"}


@dataclass
class DeviceScore:
    name: str
    cls: str
    profile: str = ""
    profile_class: str = ""
    has_system: bool = False
    detected: bool = False
    supplies: list[tuple[str, bool, str]] = field(default_factory=list)  # (what, ok, detail)
    clients: tuple[int | None, int | None] | None = None                 # (expected, ours)
    outlets: list[tuple[str, bool, str]] = field(default_factory=list)
    ups: tuple[float | None, float | None] | None = None
    false_critical: list[str] = field(default_factory=list)
    false_warning: list[str] = field(default_factory=list)
    crashed: str | None = None

    @property
    def clients_ok(self) -> bool:
        return self.clients is not None and self.clients[0] == self.clients[1]

    @property
    def ups_ok(self) -> bool:
        return self.ups is not None and self.ups[1] is not None and self.ups[0] is not None \
            and abs(self.ups[0] - self.ups[1]) <= 1


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _our_supply(metrics: Mapping[str, Any], supply: Mapping[str, Any]) -> tuple[float | None, str | None]:
    """Our reading of one expected supply: (percent left, state word)."""
    index = str(supply["index"]).split(".")[-1]
    if supply["type"] == "input":
        return _num(metrics.get(f"tray.{index}.pct")), metrics.get(f"tray.{index}.state")
    pct = _num(metrics.get(f"supply.{index}.pct"))
    fill = _num(metrics.get(f"supply.{index}.fill_pct"))
    if pct is None and fill is not None:
        pct = 100.0 - fill  # a waste container: the reference counts the space left
    return pct, metrics.get(f"supply.{index}.state")


def _outlet_index(metrics: Mapping[str, Any], oid: str) -> str | None:
    """Our outlet whose row index ends the reference sensor's OID (longest such index)."""
    ours = {k[len("outlet."):-len(".state")] for k in metrics
            if k.startswith("outlet.") and k.endswith(".state")}
    hits = [i for i in ours if oid.endswith("." + i)]
    return max(hits, key=len) if hits else None


def score(expected: Mapping[str, Any], row: Mapping[str, Any] | None,
          profile_classes: Mapping[str, str]) -> DeviceScore:
    cls = str(expected["class"])
    s = DeviceScore(str(expected["name"]), cls, has_system=bool(expected.get("sysObjectID")))
    if row is None:
        s.crashed = "no result"
        return s
    metrics: Mapping[str, Any] = row.get("metrics", {})
    s.profile = str(metrics.get("snmp_profile", ""))
    s.profile_class = profile_classes.get(s.profile, "")
    s.detected = s.profile_class == CLASS_OF_PROFILE_CLASS.get(cls, "generic")
    low_supplies: set[str] = set()
    for sup in expected.get("supplies") or []:
        state = sup["level_state"]
        what = f"{sup['type']} {sup['index']} {sup.get('description', '')}"
        if state not in ("measured", "capacity_unknown") and state not in STATE_WORDS:
            continue
        pct, word = _our_supply(metrics, sup)
        if state == "measured" or (state == "capacity_unknown" and
                                   isinstance(sup.get("librenms_percent"), int | float)):
            want = sup["level_percent"] if state == "measured" else sup["librenms_percent"]
            ok = pct is not None and abs(pct - float(want)) <= 1
            s.supplies.append((what, ok, f"want {want} got {pct if pct is not None else word}"))
            if float(want) <= LOW_PERCENT or sup["type"].startswith("waste"):
                low_supplies.add(str(sup.get("description", "")))
        else:
            ok = word == state and pct is None
            s.supplies.append((what, ok, f"want {state} got {pct if pct is not None else word}"))
    if expected.get("wireless_clients") is not None:
        ours = metrics.get("wifi_clients")
        s.clients = (int(expected["wireless_clients"]),
                     int(ours) if isinstance(ours, int | float) else None)
    for outlet in expected.get("outlets") or []:
        if outlet["state"] not in ("on", "off"):
            continue
        idx = _outlet_index(metrics, str(outlet["oid"]))
        got = metrics.get(f"outlet.{idx}.state") if idx is not None else None
        s.outlets.append((f"{outlet['index']} {outlet.get('name', '')}", got == outlet["state"],
                          f"want {outlet['state']} got {got}"))
    if expected.get("battery_charge_percent") is not None:
        s.ups = (float(expected["battery_charge_percent"]), _num(metrics.get("battery_charge_pct")))
    # -- faults: each needs a reason in the capture ----------------------------------------
    states_bad = [st for st in expected.get("states") or []
                  if st.get("severity") in ("warning", "critical")]
    for f in row.get("faults", []):
        code, sev = str(f["code"]), str(f["severity"])
        if sev not in ("critical", "warning"):
            continue
        justified = False
        if cls == "other":
            justified = False
        elif code in SUPPLY_FAULTS:
            supply = str(f.get("params", {}).get("supply", ""))
            justified = bool(supply) and any(supply in d or d in supply
                                             for d in low_supplies if d)
        elif states_bad:
            justified = True  # LibreNMS saw something wrong too (its severities are advisory)
        if not justified:
            (s.false_critical if sev == "critical" else s.false_warning).append(
                f"{code}: {f.get('message', '')}")
    return s
