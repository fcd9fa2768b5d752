"""Printer-MIB (RFC 3805) and HOST-RESOURCES-MIB printer objects, decoded into one coherent fault set."""

from __future__ import annotations

import re
from collections.abc import Iterable

from agent.snmpdecode.core import (
    Decoded,
    DeviceContext,
    Sample,
    Table,
    cell,
    fault,
    integer,
    row_indices,
    text,
)
from hcc_common import readings
from hcc_common.wire import FaultReport, MetricValue

PRINTER_STATUS = {1: "other", 2: "unknown", 3: "idle", 4: "printing", 5: "warmup"}

# hrPrinterDetectedErrorState: bit 0 is the most significant bit of the first octet.
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
    ("outputNearFull", None),  # not actionable yet; outputFull is
    ("outputFull", "printer.output_full"),
    ("inputTrayEmpty", "printer.tray_empty"),
    ("overduePreventMaint", "printer.maintenance_overdue"),
)

# prtMarkerSuppliesType values that are toner or ink (the rest: drums, fusers, belts...).
TONER_TYPES = {3, 5, 6, 7, 21}
WASTE_TYPES = {4, 8, 14, 24, 26}
RECEPTACLE_CLASS = 4  # prtMarkerSuppliesClass receptacleThatIsFilled
# RFC 3805: -1 "no restriction" (unlimited), -2 unknown, -3 "some remaining".
LEVEL_WORDS = {-1: "unrestricted", -2: "unknown", -3: "some_remaining"}
CAPACITY_UNKNOWN = -2
WASTE_NAME = re.compile(r"\b(waste|used toner|toner collect|collection (unit|container)|"
                        r"resttoner|r[ée]cup[ée]rateur)", re.IGNORECASE)

# PrtAlertCodeTC -> fault code. Codes not listed (power-up, config change...) are not faults.
ALERT_CODES: dict[int, str] = {
    3: "printer.door_open", 5: "printer.door_open", 501: "printer.door_open",
    8: "printer.jammed",
    9: "printer.supply_missing", 1115: "printer.supply_missing",
    13: "printer.supply_empty", 11: "printer.supply_empty",
    12: "printer.supply_low", 10: "printer.supply_low",
    15: "printer.waste_full", 14: "printer.waste_near_full",
    22: "printer.offline",
    30: "printer.service_requested", 32: "printer.service_requested",
    33: "printer.service_requested", 36: "printer.service_requested",
    38: "printer.service_requested", 1002: "printer.service_requested",
    1003: "printer.service_requested", 1004: "printer.service_requested",
    801: "printer.tray_missing", 901: "printer.tray_missing",
    807: "printer.low_paper", 808: "printer.tray_empty",
    903: "printer.output_full", 1303: "printer.output_full",
    1101: "printer.toner_empty", 1102: "printer.toner_empty", 1103: "printer.toner_empty",
    1104: "printer.toner_low", 1105: "printer.toner_low", 1106: "printer.toner_low",
    1107: "printer.waste_near_full", 1108: "printer.waste_near_full",
    1109: "printer.waste_full", 1110: "printer.waste_full",
    1111: "printer.supply_low", 1113: "printer.supply_low",
    1112: "printer.supply_empty", 1114: "printer.supply_empty",
}
ALERT_CRITICAL = 3
ALERT_GROUP_INPUT = 8
# prtInputType sheetFeedManual, and names printers give their bypass trays.
MANUAL_INPUT_TYPE = 5
MANUAL_TRAY_NAME = re.compile(r"\b(mp|manual|by-?pass|multi[- ]?purpose|mpt)\b", re.IGNORECASE)
COVER_OPEN_STATES = {3, 5}  # coverOpen, interlockOpen
GENERIC_TONER = "toner"
GENERIC_TRAY = "paper tray"
# prtMarkerLifeCount: an all-ones or signed-max count is "not available", never pages printed
# (0xFFFF stays a count: a printer may have printed 65,535 pages)
COUNTER_NOT_A_READING = frozenset({0x7FFFFFFF, 0xFFFFFFFF})
SUPPLY_CODES = {"printer.toner_low", "printer.toner_empty", "printer.supply_low",
                "printer.supply_empty", "printer.waste_full", "printer.waste_near_full"}


def error_state_bits(raw: bytes) -> list[str]:
    names: list[str] = []
    for bit, (name, _) in enumerate(ERROR_STATE_BITS):
        byte, offset = divmod(bit, 8)
        if byte < len(raw) and raw[byte] & (0x80 >> offset):
            names.append(name)
    return names


TONER_BITS = {"lowToner", "noToner"}


def _trusted_twins(table: Table) -> set[tuple[str, int | None]]:
    """The (name, type) of supplies that have a row whose level means something by itself: a
    measured level (capacity > 0) or a level word (-3 "some remaining", -1, -2). A twin row
    of the same name and type with no capacity (-2) says less, and is not read as a percent."""
    trusted: set[tuple[str, int | None]] = set()
    for idx in row_indices(table):
        name = (text(cell(table, "description", idx)) or "").strip().lower()
        level = integer(cell(table, "level", idx))
        capacity = integer(cell(table, "max", idx))
        if not name or level is None:
            continue
        if (capacity is not None and capacity > 0 and level >= 0) or level in LEVEL_WORDS:
            trusted.add((name, integer(cell(table, "type", idx))))
    return trusted


def supply_faults(table: Table, ctx: DeviceContext, error_bits: set[str] | None = None
                  ) -> tuple[dict[str, MetricValue], list[FaultReport], bool]:
    """Supply levels as percentages where the capacity is known; faults by threshold.
    Shared by the SNMP prtMarkerSuppliesTable and IPP printer-supply (same RFC 3805 model).
    `error_bits`: the printer's own hrPrinterDetectedErrorState when it was read (None when
    not). A level read as a percent only because the capacity is unknown (-2) is a guess: it
    raises nothing when a twin row of the same supply (same name and type) reads properly,
    and it is never critical when those bits say neither lowToner nor noToner."""
    t = ctx.thresholds
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    any_known = False
    trusted = _trusted_twins(table)
    toner_denied = error_bits is not None and not (TONER_BITS & error_bits)
    for idx in row_indices(table):
        name = text(cell(table, "description", idx)) or f"supply {idx}"
        level = integer(cell(table, "level", idx))
        capacity = integer(cell(table, "max", idx))
        stype = integer(cell(table, "type", idx))
        sclass = integer(cell(table, "class", idx))
        short = idx.split('.')[-1]
        key = f"supply.{short}"
        metrics[readings.SUPPLY_NAME.name(index=short)] = name
        if level is None:
            continue
        guessed = False
        if capacity == CAPACITY_UNKNOWN and 0 <= level <= 100:
            # Sharp and others give no capacity (-2) and the level as a percentage: what
            # their own pages show. Without this a drum at 9 % was hidden as "unknown".
            capacity = 100
            guessed = True
        if level < 0 or capacity is None or capacity <= 0:
            # -1 unrestricted, -2 unknown, -3 "some remaining": never a (negative) percentage
            metrics[f"{key}.state"] = LEVEL_WORDS.get(level, "unknown") if level < 0 else "unknown"
            continue
        any_known = True
        remaining = max(0.0, min(100.0, level * 100.0 / capacity))
        # A receptacle fills up: by class, type, or (vendors that give neither) by its name.
        waste = sclass == RECEPTACLE_CLASS or stype in WASTE_TYPES or bool(WASTE_NAME.search(name))
        toner = stype in TONER_TYPES
        # a guessed percent with a twin row that reads properly speaks for nothing
        silent = guessed and (name.strip().lower(), stype) in trusted
        # a guessed percent the printer's own error bits contradict is never critical
        doubted = guessed and toner and toner_denied
        if waste:
            # For a receptacle the level is the space left (RFC 3805): it fills up.
            fill = round(100.0 - remaining, 1)
            metrics[f"{key}.fill_pct"] = fill
            if silent:
                continue
            if remaining <= t.supply_critical_pct:
                found.append(fault("printer.waste_full", supply=name, level=fill))
            elif remaining <= t.supply_warning_pct:
                found.append(fault("printer.waste_near_full", supply=name, level=fill))
            continue
        pct = round(remaining, 1)
        metrics[readings.SUPPLY_PCT.name(index=short)] = pct
        if silent:
            continue
        if doubted and remaining <= t.supply_critical_pct:
            # the table seems to say empty, the printer says its toner is fine: ask, no alarm
            found.append(fault("printer.toner_low", supply=name, level=pct))
        elif level == 0:
            found.append(fault("printer.toner_empty" if toner else "printer.supply_empty",
                               supply=name))
        elif remaining <= t.supply_critical_pct:
            found.append(fault("printer.toner_low" if toner else "printer.supply_low",
                               "critical", supply=name, level=pct))
        elif remaining <= t.supply_warning_pct:
            found.append(fault("printer.toner_low" if toner else "printer.supply_low",
                               supply=name, level=pct))
    return metrics, found, any_known


def _manual_trays(inputs: Table) -> set[str]:
    manual = set()
    for idx in row_indices(inputs):
        name = " ".join(filter(None, (text(cell(inputs, "name", idx)),
                                      text(cell(inputs, "description", idx)))))
        if integer(cell(inputs, "type", idx)) == MANUAL_INPUT_TYPE or MANUAL_TRAY_NAME.search(name):
            manual.add(idx.split(".")[-1])
    return manual


def input_faults(inputs: Table, printer_says_empty: bool | None
                 ) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    """Paper trays. An empty manual/bypass tray is normal. An empty cassette is a fault only
    when the printer agrees (`printer_says_empty`: its error bits or alerts say a tray is
    empty; None when it gives neither) or every cassette is empty: printers report trays they
    never feed from, and a full printer happily prints from another tray."""
    metrics: dict[str, MetricValue] = {}
    manual = _manual_trays(inputs)
    empty: list[str] = []
    cassettes = 0
    for idx in row_indices(inputs):
        short = idx.split(".")[-1]
        name = text(cell(inputs, "description", idx)) or text(cell(inputs, "name", idx)) \
            or f"tray {short}"
        level = integer(cell(inputs, "level", idx))
        capacity = integer(cell(inputs, "max", idx))
        if level is None:
            continue
        metrics[f"tray.{short}.name"] = name
        if level < 0:
            metrics[f"tray.{short}.state"] = LEVEL_WORDS.get(level, "unknown")
        elif capacity is not None and capacity > 0:
            metrics[f"tray.{short}.pct"] = round(min(100.0, level * 100.0 / capacity), 1)
        if short in manual:
            continue
        cassettes += 1
        if level == 0:
            empty.append(name)
    every_one = cassettes > 0 and len(empty) == cassettes
    if printer_says_empty or every_one:
        return metrics, [fault("printer.tray_empty", tray=name) for name in empty]
    return metrics, []


def _alerts(alerts: Table, inputs: Table) -> list[FaultReport]:
    found: list[FaultReport] = []
    manual = _manual_trays(inputs)
    for idx in row_indices(alerts):
        code = integer(cell(alerts, "code", idx))
        severity = integer(cell(alerts, "severity", idx))
        descr = text(cell(alerts, "description", idx)) or ""
        mapped = ALERT_CODES.get(code) if code is not None else None
        if mapped is None:
            if severity == ALERT_CRITICAL and descr:
                found.append(fault("printer.error", detail=descr))
            continue
        if mapped == "printer.tray_empty":
            group = integer(cell(alerts, "group", idx))
            where = str(integer(cell(alerts, "group_index", idx)))
            if group == ALERT_GROUP_INPUT and where in manual:
                continue
            found.append(fault(mapped, tray=descr or GENERIC_TRAY))
        elif mapped in SUPPLY_CODES:
            found.append(fault(mapped, supply=descr or GENERIC_TONER))
        else:
            found.append(fault(mapped))
    return found


def merge_printer_faults(precise: Iterable[FaultReport], coarse: Iterable[FaultReport],
           supply_known: bool) -> tuple[FaultReport, ...]:
    """One fault per condition. The supplies, input and cover tables are precise; the error-state
    bits and the alert table only add conditions those tables did not already show."""
    out: list[FaultReport] = []
    seen: set[tuple[str, str]] = set()
    for f in precise:
        key = (f.code, str(f.params.get("supply", f.params.get("tray", ""))))
        if key not in seen:
            seen.add(key)
            out.append(f)
    codes = {f.code for f in out}
    for f in coarse:
        if f.code in codes or (supply_known and f.code in SUPPLY_CODES):
            continue
        codes.add(f.code)
        out.append(f)
    return tuple(out)


def decode_printer(s: Sample) -> Decoded:
    r = s.reading
    metrics: dict[str, MetricValue] = {}
    precise: list[FaultReport] = []
    coarse: list[FaultReport] = []
    status = integer(r.scalars.get("hr_printer_status"))
    if status is not None:
        metrics["printer_status"] = PRINTER_STATUS.get(status, f"code {status}")
    pages = integer(r.scalars.get("page_count"))
    if pages is not None and pages >= 0 and pages not in COUNTER_NOT_A_READING:
        metrics[readings.PAGE_COUNT.key] = pages
    raw_bits = r.scalars.get("hr_printer_error_state")
    bits_read = set(error_state_bits(raw_bits)) if isinstance(raw_bits, bytes) else None
    supplies_m, supplies_f, supply_known = supply_faults(r.table("supplies"), s.device,
                                                         bits_read)
    metrics.update(supplies_m)
    precise.extend(supplies_f)
    inputs = r.table("inputs")
    raw_state = r.scalars.get("hr_printer_error_state")
    says_empty: bool | None = None
    if isinstance(raw_state, bytes):
        says_empty = bool({"inputTrayEmpty", "noPaper"} & set(error_state_bits(raw_state)))
    if any(ALERT_CODES.get(integer(v) or 0) == "printer.tray_empty"
           for v in r.table("alerts").get("code", {}).values()):
        says_empty = True
    inputs_m, inputs_f = input_faults(inputs, says_empty)
    metrics.update(inputs_m)
    precise.extend(inputs_f)
    inputs_known = bool(row_indices(inputs))
    covers = r.table("covers")
    for idx in row_indices(covers):
        if integer(cell(covers, "status", idx)) in COVER_OPEN_STATES:
            precise.append(fault("printer.door_open"))
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
                coarse.append(fault(code, supply=GENERIC_TONER))
            elif code == "printer.tray_empty":
                # The bit does not say which tray: it may be the (normal) empty bypass tray.
                if not inputs_known:
                    coarse.append(fault(code, tray=GENERIC_TRAY))
            else:
                coarse.append(fault(code))
    coarse.extend(_alerts(r.table("alerts"), inputs))
    return Decoded(metrics, merge_printer_faults(precise, coarse, supply_known))
