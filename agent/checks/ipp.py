"""Check kind `ipp`: printer-state, printer-state-reasons and marker levels (Get-Printer-Attributes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent.checks import failures
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.config import Device
from agent.snmpdecode.core import DeviceContext, SnmpValue, Table, fault
from agent.snmpdecode.printer import (
    GENERIC_TONER,
    input_faults,
    merge_printer_faults,
    supply_faults,
)
from hcc_common import readings
from hcc_common.net_failure import http_status
from hcc_common.wire import FaultReport, MetricValue

KIND = "ipp"
STATES = {3: "idle", 4: "printing", 5: "stopped"}
# printer-state-reasons keywords (RFC 8011 §5.4.12, PWG 5100.x) -> fault codes
REASONS = {
    "media-jam": "printer.jammed",
    "media-empty": "printer.no_paper", "media-needed": "printer.no_paper",
    "media-low": "printer.low_paper",
    "toner-empty": "printer.toner_empty", "marker-supply-empty": "printer.toner_empty",
    "toner-low": "printer.toner_low", "marker-supply-low": "printer.toner_low",
    "door-open": "printer.door_open", "cover-open": "printer.door_open",
    "interlock-open": "printer.door_open",
    "marker-waste-full": "printer.waste_full",
    "marker-waste-almost-full": "printer.waste_near_full",
    "output-area-full": "printer.output_full",
    "input-tray-missing": "printer.tray_missing", "output-tray-missing": "printer.tray_missing",
    "offline": "printer.offline", "shutdown": "printer.offline",
    "paused": "printer.offline", "stopped": "printer.offline",
}
WASTE_TYPES = {"waste-toner", "waste-ink", "waste-water", "waste-wax"}


def split_reason(reason: str) -> tuple[str, str]:
    """'media-empty-error' -> ('media-empty', 'error'); no suffix means error (RFC 8011)."""
    for suffix in ("report", "warning", "error"):
        if reason.endswith("-" + suffix):
            return reason[: -len(suffix) - 1], suffix
    return reason, "error"


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


# PWG 5100.13 keywords in printer-supply / printer-input-tray -> Printer-MIB numbers
SUPPLY_CLASS = {"supplyThatIsConsumed": 3, "receptacleThatIsFilled": 4}
SUPPLY_TYPE = {"toner": 3, "wasteToner": 4, "ink": 5, "inkCartridge": 6, "inkRibbon": 7,
               "wasteInk": 8, "opc": 9, "developer": 10, "fuser": 15, "tonerCartridge": 21}
INPUT_TYPE = {"sheetFeedAutoRemovableTray": 3, "sheetFeedAutoNonRemovableTray": 4,
              "sheetFeedManual": 5, "continuousRoll": 6, "continuousFanFold": 7}


def keyed(value: str) -> dict[str, str]:
    """'index=1;class=x;level=25;' -> {'index': '1', 'class': 'x', 'level': '25'}"""
    out = {}
    for part in value.split(";"):
        key, sep, val = part.partition("=")
        if sep:
            out[key.strip()] = val.strip()
    return out


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def supply_table(supplies: list[Any], descriptions: list[Any]) -> Table:
    cols: dict[str, dict[str, SnmpValue]] = {c: {} for c in
                                             ("class", "type", "description", "max", "level")}
    for i, raw in enumerate(supplies):
        f = keyed(str(raw))
        idx = f.get("index", str(i + 1))
        cols["class"][idx] = SUPPLY_CLASS.get(f.get("class", ""), 1)
        cols["type"][idx] = SUPPLY_TYPE.get(f.get("type", ""), 1)
        cols["description"][idx] = str(descriptions[i]).encode() if i < len(descriptions) \
            else f.get("type", f"supply {idx}").encode()
        cols["max"][idx] = _int(f.get("maxcapacity"))
        cols["level"][idx] = _int(f.get("level"))
    return cols


def input_table(trays: list[Any]) -> Table:
    cols: dict[str, dict[str, SnmpValue]] = {c: {} for c in ("type", "max", "level", "name")}
    for i, raw in enumerate(trays):
        f = keyed(str(raw))
        idx = str(i + 1)
        cols["type"][idx] = INPUT_TYPE.get(f.get("type", ""), 1)
        cols["max"][idx] = _int(f.get("maxcapacity"))
        cols["level"][idx] = _int(f.get("level"))
        cols["name"][idx] = f.get("name", f"tray {idx}").encode()
    return cols


def decode(attrs: Mapping[str, Any], ctx: DeviceContext
           ) -> tuple[dict[str, MetricValue], list[FaultReport]]:
    """Pure: a Get-Printer-Attributes reply's printer group -> metrics and faults."""
    t = ctx.thresholds
    metrics: dict[str, MetricValue] = {}
    precise: list[FaultReport] = []
    coarse: list[FaultReport] = []
    state = attrs.get("printer-state")
    if isinstance(state, int):
        metrics["ipp_state"] = STATES.get(int(state), f"code {int(state)}")
    reasons = [str(r) for r in _list(attrs.get("printer-state-reasons")) if str(r) != "none"]
    metrics["ipp_reasons"] = ",".join(reasons) if reasons else "none"
    for reason in reasons:
        base, level = split_reason(reason)
        if level == "report":
            continue  # informational only (RFC 8011)
        code = REASONS.get(base)
        severity = "warning" if level == "warning" else None
        if code is None:
            if level == "error":
                coarse.append(fault("printer.error", detail=reason))
            continue
        if code in ("printer.toner_low", "printer.toner_empty"):
            coarse.append(fault(code, severity, supply=GENERIC_TONER))
        else:
            coarse.append(fault(code, severity))
    supply_known = False
    supplies = _list(attrs.get("printer-supply"))
    if supplies:
        m, f, supply_known = supply_faults(
            supply_table(supplies, _list(attrs.get("printer-supply-description"))), ctx)
        metrics.update(m)
        precise.extend(f)
    trays = _list(attrs.get("printer-input-tray"))
    if trays:
        says_empty = any(split_reason(r)[0] in ("media-empty", "media-needed") for r in reasons)
        m, f = input_faults(input_table(trays), says_empty)
        metrics.update(m)
        precise.extend(f)
    # Older printers: marker-levels in percent (0..100; negative = unknown).
    names = _list(attrs.get("marker-names"))
    types = _list(attrs.get("marker-types"))
    for i, level in enumerate(_list(attrs.get("marker-levels")) if not supplies else []):
        name = str(names[i]) if i < len(names) else f"marker {i + 1}"
        metrics[readings.MARKER_NAME.name(index=i + 1)] = name
        if not isinstance(level, int) or isinstance(level, bool) or not 0 <= level <= 100:
            continue
        supply_known = True
        metrics[readings.MARKER_PCT.name(index=i + 1)] = level
        if (str(types[i]) if i < len(types) else "") in WASTE_TYPES:
            continue
        if level == 0:
            precise.append(fault("printer.toner_empty", supply=name))
        elif level <= t.supply_critical_pct:
            precise.append(fault("printer.toner_low", "critical", supply=name, level=level))
        elif level <= t.supply_warning_pct:
            precise.append(fault("printer.toner_low", supply=name, level=level))
    return metrics, list(merge_printer_faults(precise, coarse, supply_known))


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    from pyipp import IPP
    from pyipp.enums import IppOperation
    from pyipp.exceptions import IPPError

    s = device.ipp
    assert s is not None and device.host is not None
    try:
        async with IPP(host=device.host, port=s.port, base_path=s.path, tls=s.tls,
                       request_timeout=max(1, round(device.timeout))) as ipp:
            reply = await ipp.execute(IppOperation.GET_PRINTER_ATTRIBUTES, {
                "operation-attributes-tag": {"requested-attributes": [
                    "printer-state", "printer-state-reasons", "printer-state-message",
                    "marker-names", "marker-levels", "marker-types", "printer-supply",
                    "printer-supply-description", "printer-input-tray",
                    "printer-make-and-model"]}})
    except (IPPError, OSError, TimeoutError) as exc:
        return await _failed(exc, device, s.port, s.tls)
    printers = reply.get("printers") or [{}]
    metrics, found = decode(printers[0], ctx.device_context(device))
    return CheckOutcome(KIND, True, metrics, tuple(found))


async def _failed(exc: BaseException, device: Device, port: int, tls: bool) -> CheckOutcome:
    """pyipp wraps what happened (aiohttp's refused, TLS or name error; a timeout; an HTTP
    status in its args): unwrap it into the one classifier's cause."""
    assert device.host is not None
    details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    status = details.get("status-code")
    if isinstance(status, int):
        said = failures.from_cause(http_status(status, device.host), device.host, port)
        return failures.outcome(KIND, said)
    if type(exc).__name__ == "IPPParseError":
        return CheckOutcome(KIND, True, {}, (fault("device.content_mismatch",
                                                   expected="IPP"),),
                            error=f"{device.host}:{port}: the reply is not IPP")
    return await failures.explain_silence(KIND, failures.classify(exc, device.host, port),
                                          device.host, port, tls=tls, timeout=device.timeout)
