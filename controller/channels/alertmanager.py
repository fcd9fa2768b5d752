"""Alertmanager channel: alerts POSTed to Alertmanager's API v2, which routes and silences them
as a Prometheus shop is used to."""

from __future__ import annotations

from typing import Any

from controller.channels.base import (
    Outgoing,
    SendContext,
    UrlSettings,
    check_status,
    device_page,
    parse_url,
)
from controller.views import iso
from hcc_common import faults as vocab

kind = "alertmanager"
address = None
default_severities: tuple[str, ...] = ()


Settings = UrlSettings
parse = parse_url


def body(msg: Outgoing) -> list[dict[str, Any]]:
    """Alertmanager API v2 /api/v2/alerts: firing alerts carry no endsAt, resolved ones do."""
    out = []
    for _, a in msg.changes:
        item: dict[str, Any] = {
            "labels": {"alertname": a.code, "center": a.center, "agent": a.agent,
                       "device": a.device or a.agent, "severity": a.severity,
                       **({"subject": a.subject} if a.subject else {}), **a.labels},
            "annotations": {"summary": vocab.full_message(a.device_name or a.agent, a.code,
                                                          a.params, "en"),
                            "summary_vi": vocab.full_message(a.device_name or a.agent, a.code,
                                                             a.params, "vi"),
                            "hint": vocab.hint(a.code, a.params, "vi")},
            "startsAt": iso(a.opened_at),
            "generatorURL": device_page(msg.public_url, a)
            or (f"{msg.public_url}/#alert-{a.id}" if msg.public_url else ""),
        }
        if a.resolved_at is not None:
            item["endsAt"] = iso(a.resolved_at)
        out.append(item)
    return out


async def send(settings: Settings, msg: Outgoing, ctx: SendContext, name: str) -> None:
    r = await ctx.http.post(settings.url.rstrip("/") + "/api/v2/alerts", json=body(msg))
    check_status(r)
