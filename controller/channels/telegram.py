"""Telegram channel: a bot sends each alert to chats with buttons "Đã nhận" (acknowledge) and
"Đã xử lý" (resolve); presses come back by long polling (getUpdates), so no public URL is needed.
A press acts as the Telegram user who pressed, mapped to a person in controller.yaml."""

from __future__ import annotations

import asyncio
import logging
import re
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
    unreached,
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
        raise unreached(exc, what=method) from None
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


# Our buttons' callback_data (buttons() above): a verb and an alert id. 15 digits stay below
# 2**53 and any database id; "ack:99999999999999999999" reached the database as an int it cannot
# hold, the OverflowError ended the listener, and every later press went unanswered.
PRESS = re.compile(r"(ack|resolve):([0-9]{1,15})")
INVALID_PRESS = "Nút không hợp lệ."
PRESS_FAILED = "Không thao tác được lúc này, xin thử lại sau."


def parse_press(data: object) -> tuple[str, int] | None:
    """(action, alert id) of a press on one of our buttons, or None for anything else."""
    if not isinstance(data, str):
        return None
    m = PRESS.fullmatch(data)
    return (ACTIONS[m[1]], int(m[2])) if m is not None else None


async def handle(update: Mapping[str, Any], settings: Settings, ctx: SendContext,
                 act: Action) -> None:
    """One update: a press acted on as its person, or refused with an answer and a log line.
    Whatever the update holds, this returns (or raises ChannelError from answering)."""
    cq = update.get("callback_query")
    if not isinstance(cq, dict):
        log.warning("telegram update without a button press ignored",
                    extra={"update": repr(update)[:120]})
        return
    sender = cq.get("from")
    who = sender.get("id") if isinstance(sender, dict) else None
    person = person_of(ctx.people, who) if isinstance(who, int | str) else None
    data = cq.get("data")
    press = parse_press(data)
    if person is None:
        log.warning("telegram press from an unknown user refused", extra={"user": repr(who)[:40]})
        answer = "Bạn chưa có trong danh sách kỹ thuật viên: không thao tác được."
    elif press is None:
        log.warning("telegram press refused: not one of our buttons",
                    extra={"user": person.id, "data": repr(data)[:80]})
        answer = INVALID_PRESS
    else:
        try:
            answer = await act(press[1], press[0], person, kind)
        except Exception:  # the database, a bug: said in the log, the listener goes on
            log.exception("telegram press failed", extra={"user": person.id, "alert": press[1]})
            answer = PRESS_FAILED
    cq_id = cq.get("id")
    if not isinstance(cq_id, str) or not cq_id:
        log.warning("telegram press without an id: cannot answer it")
        return
    await call(ctx.http, settings, "answerCallbackQuery",
               {"callback_query_id": cq_id, "text": answer[:200],
                "show_alert": person is None})


async def listen(settings: Settings, ctx: SendContext, name: str, act: Action,
                 stop: asyncio.Event) -> None:
    """Long-poll getUpdates for button presses until `stop`; errors back off and retry. No
    update ends the loop: each one is handled, refused or logged, and the next one comes."""
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
        if not isinstance(updates, list):
            log.warning("telegram getUpdates answered no list", extra={"receiver": name})
            updates = []
        for update in updates:
            if not isinstance(update, dict) or type(update.get("update_id")) is not int:
                log.warning("telegram update without an update_id ignored",
                            extra={"receiver": name})
                continue
            offset = update["update_id"] + 1
            try:
                await handle(update, settings, ctx, act)
            except ChannelError as exc:
                log.warning("telegram answer failed", extra={"error": str(exc)[:200]})
            except Exception:  # never the end of the listener
                log.exception("telegram update failed", extra={"receiver": name})
