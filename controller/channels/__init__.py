"""Notification channels, one module each (its settings, parser and send function), listed in
one explicit registry: adding a channel is a new module and a line here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from controller.channels import alertmanager, email, sms, telegram, webhook, zalo
from controller.channels.base import Action, Outgoing, SendContext
from hcc_common.yamlconf import Node


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    kind: str                                  # the receiver's key in controller.yaml
    address: str | None                        # the Person contact it sends to, if any
    default_severities: tuple[str, ...]        # () = every severity
    parse: Callable[[Node, Mapping[str, str]], Any]
    send: Callable[[Any, Outgoing, SendContext, str], Awaitable[None]]
    # inbound: button presses and replies (Telegram's long polling), if the channel has any
    listen: Callable[[Any, SendContext, str, Action, Any], Awaitable[None]] | None = None


REGISTRY: Mapping[str, ChannelSpec] = {s.kind: s for s in (
    ChannelSpec(kind=webhook.kind, address=webhook.address,
                default_severities=webhook.default_severities, parse=webhook.parse,
                send=webhook.send),
    ChannelSpec(kind=email.kind, address=email.address, default_severities=email.default_severities,
                parse=email.parse, send=email.send),
    ChannelSpec(kind=alertmanager.kind, address=alertmanager.address,
                default_severities=alertmanager.default_severities, parse=alertmanager.parse,
                send=alertmanager.send),
    ChannelSpec(kind=telegram.kind, address=telegram.address,
                default_severities=telegram.default_severities, parse=telegram.parse,
                send=telegram.send, listen=telegram.listen),
    ChannelSpec(kind=zalo.kind, address=zalo.address, default_severities=zalo.default_severities,
                parse=zalo.parse, send=zalo.send),
    ChannelSpec(kind=sms.kind, address=sms.address, default_severities=sms.default_severities,
                parse=sms.parse, send=sms.send),
)}
