"""Webhook channel: the alert changes as JSON, POSTed to a URL (a chat bridge, a ticket system)."""

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
from controller.views import alert_json

kind = "webhook"
address = None
default_severities: tuple[str, ...] = ()


Settings = UrlSettings
parse = parse_url


def body(msg: Outgoing) -> dict[str, Any]:
    return {"version": 1, "kind": msg.kind, "center": msg.center,
            "alerts": [{"event": ev, **alert_json(a), "page": device_page(msg.public_url, a)}
                       for ev, a in msg.changes],
            "dashboard": msg.public_url or None}


async def send(settings: Settings, msg: Outgoing, ctx: SendContext, name: str) -> None:
    r = await ctx.http.post(settings.url, json=body(msg))
    check_status(r)
