"""Automatic transfer switches (ATS) beside the PDUs: which source feeds the load, whether each
source is healthy, and the switch's own faults. An ATS has sources, not outlets."""

from __future__ import annotations

from agent.snmpdecode.core import Decoded, Sample, cell, fault, row_indices, text
from hcc_common.wire import FaultReport, MetricValue

SOURCE_NAMES = ("a", "b")


def decode_ats(s: Sample) -> Decoded:
    """Scalars (profile words): ats_selected ("a", "b"), ats_source_a / ats_source_b ("ok",
    "fail"), ats_redundancy ("ok", "lost"), ats_switch ("ok", "fail"), ats_overcurrent ("yes",
    "no"). Or a table "ats_sources" (one row per input: name, status "ok"/"fail"). A failed
    source is a warning (the load still has power from the other); the switch's own failure or
    an overcurrent is critical. Redundancy lost with both sources healthy (the ATS's own view)
    is a warning naming no source."""
    sc = s.reading.scalars
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    selected = s.word("ats_selected", sc.get("ats_selected"))
    if selected is not None:
        metrics["power_source"] = selected
    failed: list[str] = []
    for name in SOURCE_NAMES:
        word = s.word(f"ats_source_{name}", sc.get(f"ats_source_{name}"))
        if word is not None:
            metrics[f"power_source.{name}.status"] = word
            if word == "fail":
                failed.append(name.upper())
    table = s.reading.table("ats_sources")
    for idx in row_indices(table):
        word = s.word("ats_sources.status", cell(table, "status", idx))
        if word is None:
            continue
        label = text(cell(table, "name", idx)) or idx
        metrics[f"power_source.{idx}.status"] = word
        if word == "fail":
            failed.append(label)
    redundancy = s.word("ats_redundancy", sc.get("ats_redundancy"))
    if redundancy is not None:
        metrics["power_redundancy"] = redundancy
    for label in failed:
        found.append(fault("ats.source_failed", source=label))
    if redundancy == "lost" and not failed:
        found.append(fault("ats.source_failed", source="?"))
    if s.word("ats_switch", sc.get("ats_switch")) == "fail" or \
            s.word("ats_overcurrent", sc.get("ats_overcurrent")) == "yes":
        found.append(fault("ats.fault"))
    return Decoded(metrics, tuple(found))
