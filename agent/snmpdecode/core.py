"""Pure decoding core: the reading model, decoder inputs and outputs, and value helpers."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hcc_common import faults as vocab
from hcc_common.devices_config import DeviceThresholds
from hcc_common.wire import FaultReport, MetricValue

SnmpValue = int | bytes | str | None
# {column name: {row index: value}}
Table = Mapping[str, Mapping[str, SnmpValue]]

COUNTER32 = 1 << 32
# Values that are "not available" in any MIB a reading comes from: the 16- and 32-bit all-ones
# and the signed extremes (a runtime of 65535 s is no runtime, a power of 2147483647 W no power).
NOT_A_READING = frozenset({0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, -0x80000000, -0x7FFFFFFF})


@dataclass(frozen=True)
class Reading:
    """What the I/O shell fetched for one device: named scalars and named tables."""

    scalars: Mapping[str, SnmpValue] = field(default_factory=dict)
    tables: Mapping[str, Table] = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return self.tables.get(name, {})


# a device's thresholds are devices.yaml's (`thresholds:`), read by the shared schema
Thresholds = DeviceThresholds


@dataclass(frozen=True)
class DeviceContext:
    """What a decoder may know about the device besides its reply."""

    type: str = "other"
    center_open: bool = True
    charger_outlets: tuple[int, ...] = ()
    thresholds: Thresholds = field(default_factory=Thresholds)


@dataclass(frozen=True)
class ClientSource:
    """One place where a profile says a Wi-Fi client count lives, tried in the profile's order:
    a total the device keeps (`total`: scalar names, the first known wins), per AP/radio/SSID
    counts added up (`sum`: "table.column" names, all summed), or one row per associated
    station (`rows`: "table.column", rows counted; `stations`: the same, where the vendor's MIB
    lists its clients only there, so that an empty table is 0 clients rather than unknown)."""

    kind: str  # total, sum, rows or stations
    refs: tuple[str, ...]
    # only the rows whose "table.column" text matches each pattern (a cloud controller's device
    # table holds switches and routers beside its APs, whose client counts are not Wi-Fi's)
    where: tuple[tuple[str, re.Pattern[str]], ...] = ()


@dataclass(frozen=True)
class Sample:
    """One poll's reading, with the previous one (for rates and reboots) when there is one."""

    reading: Reading
    device: DeviceContext = field(default_factory=DeviceContext)
    previous: Reading | None = None
    elapsed_s: float | None = None
    # the profile's raw-value words ("outlets.state" -> {1: "on", 2: "off"}): vendor numbering
    values: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    # where the profile's Wi-Fi client count lives, in the order to try
    clients: tuple[ClientSource, ...] = ()

    def word(self, key: str, raw: SnmpValue) -> str | None:
        """The profile's word for a raw value, or None when it has none (unknown)."""
        number = integer(raw)
        return self.values.get(key, {}).get(number) if number is not None else None

    def first_index(self, table: str) -> int:
        """The row index of a table's first outlet: 1, or 0 for a 0-based table (the profile's
        `first_index`, kept among its words as "<table>.first_index")."""
        given = self.values.get(f"{table}.first_index")
        return next(iter(given)) if given else 1

    def outlet_part(self, table: str, index: str) -> str:
        """The part of a row index that numbers the outlet: the last, unless the profile's
        `outlet_part` says which (an index such as pdu.outlet.sensorType)."""
        parts = index.split(".")
        given = self.values.get(f"{table}.outlet_part")
        position = next(iter(given)) if given else -1
        position = position - 1 if position > 0 else position
        return parts[position] if -len(parts) <= position < len(parts) else parts[-1]

    def row_kept(self, table: str, row: Mapping[str, SnmpValue]) -> bool:
        """Whether a row passes the profile's `rows_where` for this table (every named column
        holds one of its values); True when the table has none."""
        prefix = f"{table}.where."
        for key, wanted in self.values.items():
            if key.startswith(prefix) and integer(row.get(key[len(prefix):])) not in wanted:
                return False
        return True

    def measured(self, key: str, raw: SnmpValue) -> int | None:
        """A numeric reading, or None where the value is a "not available" sentinel: one the
        profile gives a word to (the MIB's own documented sentinels, "<table>.<column>" or the
        scalar's name), or one of the values agents send for "no reading" in any MIB."""
        number = integer(raw)
        if number is None or number in NOT_A_READING or number in self.values.get(key, {}):
            return None
        return number


@dataclass(frozen=True)
class Decoded:
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    faults: tuple[FaultReport, ...] = ()


Decoder = Callable[[Sample], Decoded]


fault = vocab.report


# -- value helpers ------------------------------------------------------------------------------
def text(value: SnmpValue) -> str | None:
    """Octet string to text: strips the trailing NULs real devices send, tolerates bad UTF-8."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raw = _undump(value).rstrip(b"\x00")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


_HEX_LINE = re.compile(rb"^(?:[0-9A-Fa-f]{2} ?)+$")


def _undump(value: bytes) -> bytes:
    """Text that went through net-snmp's Hex-STRING display and was stored as is: the first
    characters, then lines of hex byte pairs ("Cyan Cartridge 8\n32 37 41 ... 00"). Joined
    back into the bytes the device sent; anything else is returned unchanged."""
    if b"\n" not in value:
        return value
    head, *lines = value.split(b"\n")
    rest = [line.strip() for line in lines if line.strip()]
    if not rest or not all(_HEX_LINE.match(line) for line in rest):
        return value
    return head + b"".join(bytes.fromhex(line.decode()) for line in rest)


def whole_number(part: str) -> int | None:
    """An OID arc or index part as a number: ASCII digits only (str.isdigit also takes "²")."""
    return int(part) if part.isascii() and part.isdigit() else None


def integer(value: SnmpValue) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def row_indices(table: Table) -> list[str]:
    indices: set[str] = set()
    for column in table.values():
        indices.update(column)
    return sorted(indices, key=_index_key)


def cell(table: Table, column: str, index: str) -> SnmpValue:
    return table.get(column, {}).get(index)


def _index_key(index: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in index.split("."))
    except ValueError:
        return (1 << 62,)


def counter_delta(current: int, previous: int, width: int = COUNTER32) -> int:
    """Counter increase since the previous read, allowing one wrap-around."""
    return current - previous if current >= previous else current + width - previous


def rebooted(sample: Sample) -> bool:
    """sysUpTime went backwards (and not by a 497-day wrap of its 32-bit counter)."""
    if sample.previous is None:
        return False
    now = integer(sample.reading.scalars.get("sys_uptime"))
    before = integer(sample.previous.scalars.get("sys_uptime"))
    if now is None or before is None or now >= before:
        return False
    elapsed_ticks = (sample.elapsed_s or 0.0) * 100.0
    wrapped = before + elapsed_ticks * 2 >= COUNTER32
    return not wrapped
