"""How alerts look to people and programs: JSON for the API, CLI, feeds and notifications."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from controller import cli_text  # noqa: F401  (the Vietnamese of the controller's texts)
from controller.state import AgentInfo
from controller.store import AlertChange, AlertRow, Silence
from hcc_common import faults as vocab
from hcc_common import texts


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return None  # a time no calendar shows (stored before the wire contract bounded it)


def shown_event(event: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """An alert's history step for a page: its time as ISO 8601, and the controller's own note
    ("condition cleared"; no actor) in the reader's language; a person's note as written."""
    note = event.get("note")
    if not event.get("actor") and isinstance(note, str) and note:
        note = texts.tr(note, lang)
    return {**event, "at": iso(event["at"]), "note": note}


def shown_name(row: AlertRow, lang: str) -> str:
    """The device's name in messages: the box itself (its device id is its agent id) is called
    by the glossary's word in the reader's language, whatever name it sent."""
    if row.device and row.device == row.agent:
        return vocab.type_name("box", lang)
    return row.device_name or row.agent


def alert_json(row: AlertRow, lang: str = "vi", silenced: bool = False) -> dict[str, Any]:
    name = shown_name(row, lang)
    return {
        "id": row.id, "center": row.center, "agent": row.agent, "device": row.device or None,
        "code": row.code, "subject": row.subject or None, "severity": row.severity,
        "state": row.state, "silenced": silenced,
        "message": vocab.full_message(name, row.code, row.params, lang),
        "message_en": vocab.full_message(shown_name(row, "en"), row.code, row.params, "en"),
        "message_vi": vocab.full_message(shown_name(row, "vi"), row.code, row.params, "vi"),
        "hint": vocab.hint(row.code, row.params, lang),
        "hint_en": vocab.hint(row.code, row.params, "en"),
        "hint_vi": vocab.hint(row.code, row.params, "vi"),
        "params": row.params, "labels": row.labels,
        "opened_at": iso(row.opened_at), "acked_at": iso(row.acked_at), "acked_by": row.acked_by,
        "ack_note": row.ack_note, "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by, "resolve_note": row.resolve_note,
    }


def change_json(change: AlertChange, silenced: bool = False) -> dict[str, Any]:
    return {"event_id": change.event_id, "event": change.event, "at": iso(change.at),
            "actor": change.actor, "note": change.note,
            "alert": alert_json(change.alert, silenced=silenced)}


def silence_json(s: Silence) -> dict[str, Any]:
    return {"id": s.id, "center": s.center, "device": s.device, "type": s.type, "code": s.code,
            "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at), "author": s.author,
            "reason": s.reason, "created_at": iso(s.created_at)}


def agent_json(a: AgentInfo) -> dict[str, Any]:
    """One agent as the API, the CLI and the dashboard show it: delivery health and inventory."""
    inv = a.inventory
    return {"center": a.center, "agent": a.agent, "state": a.state,
            "last_seen": iso(a.last_seen), "clock_skew_s": a.clock_skew_s,
            "session": a.session, "last_seq": a.last_seq, "received": a.received,
            "gaps": a.gaps, "duplicates": a.duplicates, "backlog": a.backlog,
            "software": inv.get("software"), "config_version": inv.get("config_version"),
            "os": inv.get("os"), "model": inv.get("model"), "devices": inv.get("devices"),
            # the box set a damaged outbox aside in its current run (its birth says so)
            "outbox_damaged": inv.get("outbox_damaged"),
            "up_since": iso(float(b)) if isinstance(b := inv.get("boot_time"), int | float)
            else None,
            # the box's last software update (agent/updater.py): version, ok/rolled_back/refused
            "update": {"version": inv.get("update_version"), "state": inv.get("update_state"),
                       "reason": inv.get("update_reason", "")}
            if inv.get("update_version") is not None else None}
