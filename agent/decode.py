"""Pure decoding of SNMP replies into metrics and faults: no I/O, tested on fixtures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hcc_common.wire import FaultReport, MetricValue

SnmpValue = int | bytes | str | None
# {column name: {row index: value}}
Table = Mapping[str, Mapping[str, SnmpValue]]


@dataclass(frozen=True)
class Reading:
    """What the I/O shell fetched for one device: named scalars and named tables."""

    scalars: Mapping[str, SnmpValue] = field(default_factory=dict)
    tables: Mapping[str, Table] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    supply_warning_pct: float = 20.0
    supply_critical_pct: float = 5.0


@dataclass(frozen=True)
class Decoded:
    metrics: Mapping[str, MetricValue] = field(default_factory=dict)
    faults: tuple[FaultReport, ...] = ()


Decoder = Callable[[Reading, Thresholds], Decoded]


def _fault(code: str, **params: MetricValue) -> FaultReport:
    from hcc_common import faults as vocab

    return FaultReport(code, vocab.lookup(code).severity.value, params)


# -- value helpers ------------------------------------------------------------------------------
def text(value: SnmpValue) -> str | None:
    """Octet string to text: strips the trailing NULs real devices send, tolerates bad UTF-8."""
    if value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    raw = value.rstrip(b"\x00")
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        return raw.decode("latin-1").strip()


def integer(value: SnmpValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


def row_indices(table: Table) -> list[str]:
    indices: set[str] = set()
    for column in table.values():
        indices.update(column)
    return sorted(indices, key=_index_key)


def _index_key(index: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in index.split("."))
    except ValueError:
        return (1 << 62,)


# -- system group -------------------------------------------------------------------------------
def decode_system(r: Reading, _t: Thresholds) -> Decoded:
    metrics: dict[str, MetricValue] = {}
    descr = text(r.scalars.get("sys_descr"))
    if descr is not None:
        metrics["sys_descr"] = descr
    oid = r.scalars.get("sys_object_id")
    if isinstance(oid, str):
        metrics["sys_object_id"] = oid
    name = text(r.scalars.get("sys_name"))
    if name is not None:
        metrics["sys_name"] = name
    ticks = integer(r.scalars.get("sys_uptime"))
    if ticks is not None:
        metrics["uptime_s"] = ticks // 100
    return Decoded(metrics)


# -- HOST-RESOURCES-MIB printer -----------------------------------------------------------------
PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}

# hrPrinterDetectedErrorState: bit 0 is the most significant bit of the first octet (RFC 3805).
ERROR_STATE_BITS: tuple[tuple[str, str | None], ...] = (
    ("lowPaper", "printer.low_paper"),
    ("noPaper", "printer.no_paper"),
    ("lowToner", "printer.toner_low"),
    ("noToner", "printer.toner_empty"),
    ("doorOpen", "printer.door_open"),
    ("jammed", "printer.jammed"),
    ("offline", "printer.offline"),
    ("serviceRequested", "printer.service_requested"),
    ("inputTrayMissing", "printer.tray_missing"),
    ("outputTrayMissing", "printer.tray_missing"),
    ("markerSupplyMissing", "printer.supply_missing"),
    ("outputNearFull", None),  # near-full is not yet actionable; outputFull is
    ("outputFull", "printer.output_full"),
    ("inputTrayEmpty", "printer.tray_empty"),
    ("overduePreventMaint", "printer.maintenance_overdue"),
)


def error_state_bits(raw: bytes) -> list[str]:
    names: list[str] = []
    for bit, (name, _) in enumerate(ERROR_STATE_BITS):
        byte, offset = divmod(bit, 8)
        if byte < len(raw) and raw[byte] & (0x80 >> offset):
            names.append(name)
    return names


def decode_printer_status(r: Reading, _t: Thresholds) -> Decoded:
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    status = integer(r.scalars.get("hr_printer_status"))
    if status is not None:
        metrics["printer_status"] = PRINTER_STATUS.get(status, f"code {status}")
    raw = r.scalars.get("hr_printer_error_state")
    if isinstance(raw, bytes):
        bits = error_state_bits(raw)
        metrics["printer_errors"] = ",".join(bits) if bits else "none"
        codes = dict(ERROR_STATE_BITS)
        for name in bits:
            code = codes[name]
            if code is None:
                continue
            if code in ("printer.toner_low", "printer.toner_empty"):
                found.append(_fault(code, supply="toner", level="?"))
            elif code == "printer.tray_empty":
                found.append(_fault(code, tray="paper tray"))
            else:
                found.append(_fault(code))
    return Decoded(metrics, tuple(found))


DECODERS: Mapping[str, Decoder] = {
    "system": decode_system,
    "printer_status": decode_printer_status,
}
