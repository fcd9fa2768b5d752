"""Email channel: plain-text Vietnamese mail through an SMTP server (STARTTLS and login optional)."""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from controller.channels.base import (
    HTTP_TIMEOUT_S,
    ChannelError,
    Outgoing,
    SendContext,
    device_page,
    unreached,
)
from controller.views import iso
from hcc_common import faults as vocab
from hcc_common.net_failure import Cause, NetFailure, words
from hcc_common.yamlconf import Node

kind = "email"
address = "email"
default_severities: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def parse(node: Node, env: Mapping[str, str]) -> Settings:
    from hcc_common.secret_values import secret

    mm = node.as_mapping(("smtp", "from", "to", "starttls", "username", "password",
                            "password_file", "password_env"))
    smtp = mm.require("smtp")
    host, _, port = smtp.as_str().rpartition(":")
    if not host or not port.isdigit():
        raise smtp.error("expected host:port, e.g. mail.city.vn:587")
    to = tuple(x.as_str() for x in mm.require("to").as_list()) if mm.get("to") is not None \
        else ()
    st, user = mm.get("starttls"), mm.get("username")
    return Settings(host, int(port), mm.require("from").as_str(), to,
                    st.as_bool() if st is not None else False,
                    user.as_str() if user is not None else None,
                    secret(mm, "password", env))


def message(msg: Outgoing, settings: Settings, to: list[str]) -> EmailMessage:
    opened = [a for ev, a in msg.changes if ev == "opened"]
    resolved = [a for ev, a in msg.changes if ev == "resolved"]
    if msg.kind == "reminder":
        subject = f"[HCC] {msg.center}: NHẮC LẠI {len(msg.changes)} cảnh báo chưa xử lý"
    elif msg.kind == "escalation":
        subject = f"[HCC] {msg.center}: CHƯA AI NHẬN {len(msg.changes)} cảnh báo"
    elif opened:
        subject = f"[HCC] {msg.center}: {len(opened)} cảnh báo mới"
    else:
        subject = f"[HCC] {msg.center}: {len(resolved)} cảnh báo đã hết"
    lines = []
    for ev, a in msg.changes:
        mark = {"opened": "MỚI", "resolved": "ĐÃ HẾT", "remind": "CHƯA XỬ LÝ",
                "escalated": "CHƯA AI NHẬN"}.get(ev, ev)
        text = vocab.full_message(a.device_name or a.agent, a.code, a.params, "vi")
        lines.append(f"[{mark}] [{a.severity}] {text}")
        if ev != "resolved":
            lines.append(f"    → {vocab.hint(a.code, a.params, 'vi')}")
        lines.append(f"    (#{a.id}, {iso(a.opened_at)})")
        if (page := device_page(msg.public_url, a)) is not None:
            lines.append(f"    {page}")
    out = EmailMessage()
    out["Subject"] = subject
    out["From"] = settings.sender
    out["To"] = ", ".join(to)
    out.set_content("\n".join(lines) + "\n")
    return out


def deliver(settings: Settings, mail: EmailMessage) -> None:
    """Blocking SMTP delivery (run in a thread), every step under a timeout."""
    with smtplib.SMTP(settings.host, settings.port, timeout=HTTP_TIMEOUT_S) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username is not None and settings.password is not None:
            smtp.login(settings.username, settings.password)
        smtp.send_message(mail)


async def send(settings: Settings, msg: Outgoing, ctx: SendContext, name: str) -> None:
    to = [msg.to.contacts["email"]] if msg.to is not None and "email" in msg.to.contacts \
        else list(settings.to)
    if not to:
        raise ChannelError("no address to send to", retryable=False)
    where = f"{settings.host}:{settings.port}"
    try:
        await asyncio.to_thread(deliver, settings, message(msg, settings, to))
    except smtplib.SMTPRecipientsRefused as exc:
        raise ChannelError(f"recipients refused: {exc}", retryable=False) from None
    except smtplib.SMTPAuthenticationError as exc:
        failure = NetFailure(Cause.AUTH, f"{where}: {exc.smtp_code} {exc.smtp_error!r}"[:200])
        raise ChannelError(f"{words(failure, where, 'vi')} [{failure.detail}]",
                           retryable=False) from None
    except OSError as exc:  # refused, a name unknown, TLS (STARTTLS), silence; smtplib's own
        raise unreached(exc, where) from None
