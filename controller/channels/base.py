"""What every notification channel shares: the message to send, the person it may go to, the
error a channel raises (retry or not, and when), and the short texts phones show."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from controller.store import AlertRow
from hcc_common import faults as vocab
from hcc_common.net_failure import LASTING, classify, words
from hcc_common.yamlconf import Node

HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Person:
    """Someone who can be on duty: a name people read, and an address per channel kind
    ("telegram": a chat id, "zalo": an OA follower's user id, "sms": a phone, "email")."""

    id: str
    name: str
    contacts: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """One message for one receiver: alert changes of one center, or one escalation step."""

    kind: str  # "alerts" (opened/resolved), "reminder", "escalation"
    center: str
    changes: Sequence[tuple[str, AlertRow]]
    public_url: str = ""
    center_name: str = ""
    to: Person | None = None  # an escalation goes to a person, at their address on the channel
    step: int | None = None
    waited_s: float | None = None  # an escalation: how long nobody acknowledged


class ChannelError(Exception):
    """A send that failed. `retryable`: the same message may get through later (a rate limit,
    a network or server error); else it never will (a bad chat id, a user who left)."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class TokenStore(Protocol):
    """Where a channel keeps what it learns at run time (Zalo's rotating tokens), shared by
    every controller on the database."""

    def channel_state(self, channel: str) -> dict[str, Any] | None: ...
    def set_channel_state(self, channel: str, state: dict[str, Any]) -> None: ...


# What a press of a button in a chat asks the desk: (alert id, "ack"/"resolve", who, channel)
# -> the text shown back to the person.
Action = Callable[[int, str, Person, str], Awaitable[str]]


@dataclass
class SendContext:
    http: httpx.AsyncClient
    tokens: TokenStore | None = None
    people: Mapping[str, Person] = field(default_factory=dict)


class Channel(Protocol):
    """One notification channel: the YAML key of its receivers, its settings parser and its
    send function; `address` is the Person contact it sends to (None: not to people)."""

    kind: str
    address: str | None
    default_severities: tuple[str, ...]

    def parse(self, node: Node, env: Mapping[str, str]) -> Any: ...
    async def send(self, settings: Any, msg: Outgoing, ctx: SendContext, name: str) -> None: ...


@dataclass(frozen=True)
class UrlSettings:
    """A channel that needs only where to POST (webhook, Alertmanager)."""

    url: str


def parse_url(node: Node, env: Mapping[str, str]) -> UrlSettings:
    return UrlSettings(node.as_mapping(("url",)).require("url").as_str())


def unreached(exc: BaseException, target: str | None = None, what: str = "") -> ChannelError:
    """A channel's service not reached, by the one classifier (refused, a name unknown, a
    certificate, a refused password, silence), in the desk's words with the library's line;
    retried unless a setting must change first. The target defaults to the request's
    scheme, host and port: never its path or query, which hold a bot's token."""
    if target is None:
        try:
            url = exc.request.url  # type: ignore[attr-defined]
            target = f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "")
        except (AttributeError, RuntimeError):
            target = "?"
    failure = classify(exc, target)
    prefix = f"{what}: " if what else ""
    return ChannelError(f"{prefix}{words(failure, target, 'vi')} [{failure.detail}]",
                        retryable=failure.cause not in LASTING)


def check_status(r: httpx.Response) -> None:
    """An HTTP error reply as a ChannelError: a client error will not mend by itself (except
    429, too many requests); a server error may."""
    if r.status_code >= 400:
        raise ChannelError(f"HTTP {r.status_code}",
                           retryable=r.status_code >= 500 or r.status_code == 429)


def device_page(public_url: str, alert: AlertRow) -> str | None:
    """The alert's device page on the dashboard (None without a public URL, or for a box)."""
    if not public_url or not alert.device:
        return None
    return f"{public_url.rstrip('/')}/devices/{quote(alert.center, safe='')}/" \
           f"{quote(alert.device, safe='')}"


SEVERITY_VI = {"critical": "NGHIÊM TRỌNG", "warning": "CẢNH BÁO", "info": "THÔNG TIN"}


def short_text(event: str, alert: AlertRow, msg: Outgoing, with_link: bool = True) -> str:
    """What a phone shows for one alert change, in Vietnamese: severity, center, what is wrong,
    what to do, and a link to the device page."""
    what = vocab.full_message(alert.device_name or alert.agent, alert.code, alert.params, "vi")
    where = msg.center_name or alert.center
    if event == "resolved":
        head = f"ĐÃ HẾT · {where}: {what}"
        return head
    lead = {"remind": "NHẮC LẠI", "escalated": "CHƯA AI NHẬN"}.get(event,
                                                                 SEVERITY_VI.get(alert.severity,
                                                                                 alert.severity))
    text = f"{lead} · {where}: {what}\n→ {vocab.hint(alert.code, alert.params, 'vi')}"
    if msg.kind == "escalation" and msg.waited_s is not None:
        text += f"\n(chưa ai nhận sau {round(msg.waited_s / 60)} phút)"
    link = device_page(msg.public_url, alert)
    if with_link and link is not None:
        text += f"\n{link}"
    return text


def addresses(static: Sequence[str], msg: Outgoing, address_kind: str) -> list[str]:
    """Where a person-addressed channel sends: the escalation's person, else its own list."""
    if msg.to is not None:
        found = msg.to.contacts.get(address_kind)
        return [found] if found else []
    return list(static)
