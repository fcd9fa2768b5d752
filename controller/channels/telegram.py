"""Telegram channel: a bot sends each alert to chats with buttons "Đã nhận" (acknowledge) and
"Đã xử lý" (resolve); presses come back by long polling (getUpdates), so no public URL is needed.
A press acts as the Telegram user who pressed, mapped to a person in controller.yaml."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from controller.channels.base import (
    Action,
    ChannelError,
    Outgoing,
    Person,
    SendContext,
    addresses,
    short_text,
)
from hcc_common.backoff import Backoff
from hcc_common.yamlconf import Node

log = logging.getLogger("hcc.controller.telegram")

kind = "telegram"
address = "telegram"
default_severities: tuple[str, ...] = ()
MAX_TEXT = 4096  # the Bot API's limit for a message's text
ACTIONS = {"ack": "ack", "resolve": "resolve"}


@dataclass(frozen=True)
class Settings:
    token: str = field(repr=False)
    chats: tuple[str, ...] = ()
    api_url: str = "https://api.telegram.org"
    listen: bool = True  # long-poll for button presses (one controller per bot may)
    poll_timeout_s: int = 25


def parse(node: Node, env: Mapping[str, str]) -> Settings:
    from hcc_common.secret_values import secret

    m = node.as_mapping(("token", "token_file", "token_env", "chats", "api_url", "listen",
                         "poll_timeout"))
    token = secret(m, "token", env)
    if token is None:
        raise node.error("a bot token is needed: token_file, token_env (or token)")
    chats = tuple(x.as_str() for x in m.require("chats").as_list()) if m.get("chats") \
        is not None else ()
    api, listen, pt = m.get("api_url"), m.get("listen"), m.get("poll_timeout")
    return Settings(token, chats, api.as_str().rstrip("/") if api is not None
                    else "https://api.telegram.org",
                    listen.as_bool() if listen is not None else True,
                    int(pt.as_duration(minimum=1.0)) if pt is not None else 25)


def _url(settings: Settings, method: str) -> str:
    return f"{settings.api_url}/bot{settings.token}/{method}"


async def call(http: httpx.AsyncClient, settings: Settings, method: str, body: dict[str, Any],
               timeout: float | None = None) -> Any:
    """One Bot API call; the result, or ChannelError from its error reply."""
    try:
        r = await http.post(_url(settings, method), json=body,
                            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT)
    except httpx.HTTPError as exc:
        raise ChannelError(f"{method}: {type(exc).__name__}", retryable=True) from None
    try:
        reply = r.json()
    except ValueError:
        raise ChannelError(f"{method}: HTTP {r.status_code}, not JSON",
                           retryable=r.status_code >= 500) from None
    if isinstance(reply, dict) and reply.get("ok") is True:
        return reply.get("result")
    code = reply.get("error_code", r.status_code) if isinstance(reply, dict) else r.status_code
    text = reply.get("description", "") if isinstance(reply, dict) else ""
    params = reply.get("parameters") or {} if isinstance(reply, dict) else {}
    if code == 429:
        raise ChannelError(f"{method}: {text}", retryable=True,
                           retry_after=float(params.get("retry_after", 5)))
    # 400 chat not found, 401 bad token, 403 blocked by the user: sending again will not help
    raise ChannelError(f"{method}: {code} {text}", retryable=isinstance(code, int) and code >= 500)


def buttons(alert_id: int, state: str) -> dict[str, Any]:
    row = []
    if state == "firing":
        row.append({"text": "Đã nhận", "callback_data": f"ack:{alert_id}"})
    row.append({"text": "Đã xử lý", "callback_data": f"resolve:{alert_id}"})
    return {"inline_keyboard": [row]}


async def send(settings: Settings, msg: Outgoing, ctx: SendContext, name: str) -> None:
    chats = addresses(settings.chats, msg, address)
    if not chats:
        raise ChannelError("no chat to send to", retryable=False)
    for chat in chats:
        for event, alert in msg.changes:
            body: dict[str, Any] = {"chat_id": chat,
                                    "text": short_text(event, alert, msg)[:MAX_TEXT],
                                    "disable_web_page_preview": True}
            if event != "resolved" and alert.state != "resolved":
                body["reply_markup"] = buttons(alert.id, alert.state)
            await call(ctx.http, settings, "sendMessage", body)


def person_of(people: Mapping[str, Person], user_id: object) -> Person | None:
    """The person whose Telegram id pressed (in a private chat, the chat id is the user's)."""
    for p in people.values():
        if p.contacts.get("telegram") == str(user_id):
            return p
    return None


async def handle(update: Mapping[str, Any], settings: Settings, ctx: SendContext,
                 act: Action) -> None:
    cq = update.get("callback_query")
    if not isinstance(cq, dict):
        return
    who = (cq.get("from") or {}).get("id")
    person = person_of(ctx.people, who)
    data = str(cq.get("data", ""))
    verb, _, raw_id = data.partition(":")
    if person is None:
        log.warning("telegram press from an unknown user refused", extra={"user": who})
        answer = "Bạn chưa có trong danh sách kỹ thuật viên: không thao tác được."
    elif verb not in ACTIONS or not raw_id.isdigit():
        answer = "Nút không hợp lệ."
    else:
        answer = await act(int(raw_id), ACTIONS[verb], person, kind)
    await call(ctx.http, settings, "answerCallbackQuery",
               {"callback_query_id": cq.get("id"), "text": answer[:200],
                "show_alert": person is None})


async def listen(settings: Settings, ctx: SendContext, name: str, act: Action,
                 stop: asyncio.Event) -> None:
    """Long-poll getUpdates for button presses until `stop`; errors back off and retry."""
    offset: int | None = None
    backoff = Backoff(initial=1.0, cap=300.0)
    while not stop.is_set():
        body: dict[str, Any] = {"timeout": settings.poll_timeout_s,
                                "allowed_updates": ["callback_query"]}
        if offset is not None:
            body["offset"] = offset
        try:
            updates = await call(ctx.http, settings, "getUpdates", body,
                                 timeout=settings.poll_timeout_s + 10.0)
            backoff.reset()
        except ChannelError as exc:
            delay = exc.retry_after or backoff.next_delay()
            log.warning("telegram getUpdates failed", extra={"receiver": name,
                                                               "error": str(exc)[:200]})
            with_stop = asyncio.ensure_future(stop.wait())
            await asyncio.wait([with_stop], timeout=delay)
            with_stop.cancel()
            continue
        for update in updates or []:
            if isinstance(update, dict) and isinstance(update.get("update_id"), int):
                offset = update["update_id"] + 1
                try:
                    await handle(update, settings, ctx, act)
                except ChannelError as exc:
                    log.warning("telegram answer failed", extra={"error": str(exc)[:200]})
