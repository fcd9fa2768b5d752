"""Which readings a box may send as text; every other reading is a number (the reading kinds of the wire)."""

from __future__ import annotations

from functools import lru_cache

# A reading is a number unless it is one of these. The list comes from every decoder and check
# of agent/ (and what controller/ shows or compares): words a device says about itself or one
# of its parts, never a level, a count or a time. A string under any other name (a `runtime_min`
# or `wifi_clients` holding markup) is off the contract and becomes a dead letter.
TEXT_READINGS = frozenset({
    # SNMP system group (snmpdecode/system.py) and the profile the agent chose (checks/snmp.py)
    "sys_descr", "sys_object_id", "sys_name", "model", "snmp_profile",
    # printers: hrPrinterStatus and its error bits (snmpdecode/printer.py), IPP (checks/ipp.py)
    "printer_status", "printer_errors", "ipp_state", "ipp_reasons",
    # UPS words (snmpdecode/power.py)
    "battery_status", "output_source", "replace_battery",
    # which MIB counted the Wi-Fi clients (snmpdecode/wifi.py)
    "wifi_clients_source",
    # a Nagios-style plugin's own verdict (checks/command.py); its perfdata are numbers
    "plugin_status",
})
# Per part of a device: supply.3.name, tray.2.state, outlet.7.state, if.eth0.oper, radio.wifi0.oper
TEXT_SUFFIXES = (".name", ".state", ".oper")


@lru_cache(maxsize=65536)
def may_be_text(name: str) -> bool:
    """True if the reading `name` may carry text; every other reading must be a number.
    Cached: a fleet sends few distinct names, each in every result."""
    return name in TEXT_READINGS or name.endswith(TEXT_SUFFIXES)


# What a box says about itself in its birth (inventory): text, except these numbers.
NUMERIC_INVENTORY = frozenset({"devices", "boot_time"})
