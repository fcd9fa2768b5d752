"""Notification channels, one module each (its settings, parser and send function), listed in
one explicit registry: adding a channel is a new module and a line here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.channels import alertmanager, email, sms, telegram, webhook, zalo
from controller.channels.base import Action, Outgoing, SendContext
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class ChannelSpec:
    kind: str                                  # the receiver's key in controller.yaml
    address: str | None                        # the Person contact it sends to, if any
    default_severities: tuple[str, ...]        # () = every severity
    parse: Callable[[Node, Mapping[str, str]], Any]
    send: Callable[[Any, Outgoing, SendContext, str], Awaitable[None]]
    # inbound: button presses and replies (Telegram's long polling), if the channel has any
    listen: Callable[[Any, SendContext, str, Action, Any], Awaitable[None]] | None = None


REGISTRY: Mapping[str, ChannelSpec] = {s.kind: s for s in (
    ChannelSpec(webhook.kind, webhook.address, webhook.default_severities, webhook.parse,
                webhook.send),
    ChannelSpec(email.kind, email.address, email.default_severities, email.parse, email.send),
    ChannelSpec(alertmanager.kind, alertmanager.address, alertmanager.default_severities,
                alertmanager.parse, alertmanager.send),
    ChannelSpec(telegram.kind, telegram.address, telegram.default_severities, telegram.parse,
                telegram.send, telegram.listen),
    ChannelSpec(zalo.kind, zalo.address, zalo.default_severities, zalo.parse, zalo.send),
    ChannelSpec(sms.kind, sms.address, sms.default_severities, sms.parse, sms.send),
)}
