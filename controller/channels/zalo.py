"""Zalo Official Account channel: short Vietnamese messages to the OA's followers by user id
(OA API v3 "tin tư vấn", POST /v3.0/oa/message/cs). Access tokens last about 25 hours; the
refresh token is single-use and rotates, so the pair is kept in the database and refreshed
before expiry, or when the API says the token is invalid (-216) or expired (-220)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from controller.channels.base import (
    ChannelError,
    Outgoing,
    SendContext,
    addresses,
    short_text,
    unreached,
)
from hcc_common.yamlconf import Node

log = logging.getLogger("hcc.controller.zalo")

kind = "zalo"
address = "zalo"
default_severities: tuple[str, ...] = ()
MAX_TEXT = 2000
TOKEN_ERRORS = (-216, -220)       # invalid, expired: refresh, then send again
RATE_LIMITED = (-32,)             # "reached limit call api": back off
# the user cannot get this message from us (not following, outside the 7-day window, banned,
# restricted our messages), or our request is wrong: sending again will not help
PERMANENT = (-201, -213, -227, -230, -232, -244)
RATE_LIMIT_WAIT_S = 60.0
REFRESH_BEFORE_S = 600.0
# how long a refused refresh waits for another controller's new pair to appear in the database
ELSEWHERE_WAIT_S = 5.0
_locks: dict[str, asyncio.Lock] = {}


@dataclass(frozen=True)
class Settings:
    app_id: str
    app_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)  # the first one; later ones are kept in the database
    access_token: str | None = field(default=None, repr=False)
    users: tuple[str, ...] = ()
    api_url: str = "https://openapi.zalo.me"
    oauth_url: str = "https://oauth.zaloapp.com"


def parse(node: Node, env: Mapping[str, str]) -> Settings:
    from hcc_common.secret_values import secret

    m = node.as_mapping(("app_id", "app_secret", "app_secret_file", "app_secret_env",
                         "refresh_token", "refresh_token_file", "refresh_token_env",
                         "access_token", "access_token_file", "access_token_env", "users",
                         "api_url", "oauth_url"))
    app_secret, refresh = secret(m, "app_secret", env), secret(m, "refresh_token", env)
    if app_secret is None or refresh is None:
        raise node.error("Zalo needs app_secret and refresh_token (each as _file or _env)")
    users = tuple(x.as_str() for x in m.require("users").as_list()) if m.get("users") \
        is not None else ()
    api, oauth = m.get("api_url"), m.get("oauth_url")
    return Settings(m.require("app_id").as_str(), app_secret, refresh,
                    secret(m, "access_token", env), users,
                    api.as_str().rstrip("/") if api is not None else "https://openapi.zalo.me",
                    oauth.as_str().rstrip("/") if oauth is not None
                    else "https://oauth.zaloapp.com")


def _state(settings: Settings, ctx: SendContext, name: str) -> dict[str, Any]:
    kept = ctx.tokens.channel_state(name) if ctx.tokens is not None else None
    if kept:
        return kept
    return {"access_token": settings.access_token, "refresh_token": settings.refresh_token,
            "expires_at": 0.0 if settings.access_token is None else time.time() + 3600.0}


async def _refreshed_elsewhere(ctx: SendContext, name: str, spent: str) -> dict[str, Any] | None:
    """The pair another controller of the database got with the refresh token we also sent
    (our per-process lock does not span controllers: both read the same token, one wins). It
    writes its pair right after its reply: wait for it a little, then it is a real refusal."""
    if ctx.tokens is None:
        return None
    tokens = ctx.tokens
    deadline = time.monotonic() + ELSEWHERE_WAIT_S
    while True:
        kept = await asyncio.to_thread(tokens.channel_state, name)
        if kept and kept.get("refresh_token") not in (None, spent) and kept.get("access_token"):
            log.info("zalo token refreshed by another controller", extra={"receiver": name})
            return kept
        if time.monotonic() >= deadline:
            return None
        await asyncio.sleep(0.2)


async def refresh(settings: Settings, ctx: SendContext, name: str,
                  state: dict[str, Any]) -> dict[str, Any]:
    """Trade the refresh token for a new pair (POST /v4/oa/access_token), and keep it."""
    try:
        r = await ctx.http.post(
            f"{settings.oauth_url}/v4/oa/access_token",
            headers={"secret_key": settings.app_secret},
            data={"refresh_token": state["refresh_token"], "app_id": settings.app_id,
                  "grant_type": "refresh_token"})
        reply = r.json()
    except httpx.HTTPError as exc:
        raise unreached(exc, what="token refresh") from None
    except ValueError as exc:
        raise ChannelError(f"token refresh: {type(exc).__name__}", retryable=True) from None
    if not isinstance(reply, dict) or not reply.get("access_token") \
            or not reply.get("refresh_token"):
        why = reply.get("error_description") or reply.get("error_name") or reply.get("error") \
            if isinstance(reply, dict) else reply
        theirs = await _refreshed_elsewhere(ctx, name, str(state["refresh_token"]))
        if theirs is not None:
            return theirs
        # a refresh token used twice or older than 3 months: only a person can fix it
        raise ChannelError(f"token refresh refused ({why}): authorize the OA again and put the "
                           "new refresh token in the config", retryable=False)
    new = {"access_token": reply["access_token"], "refresh_token": reply["refresh_token"],
           "expires_at": time.time() + float(reply.get("expires_in", 90000))}
    if ctx.tokens is not None:
        # at once: the old refresh token no longer works
        await asyncio.to_thread(ctx.tokens.set_channel_state, name, new)
    log.info("zalo access token refreshed", extra={"receiver": name})
    return new


async def _post(settings: Settings, ctx: SendContext, token: str, user: str,
                text: str) -> dict[str, Any]:
    try:
        r = await ctx.http.post(f"{settings.api_url}/v3.0/oa/message/cs",
                                headers={"access_token": token},
                                json={"recipient": {"user_id": user}, "message": {"text": text}})
        reply = r.json()
    except httpx.HTTPError as exc:
        raise unreached(exc, what="send") from None
    except ValueError as exc:
        raise ChannelError(f"send: {type(exc).__name__}", retryable=True) from None
    if not isinstance(reply, dict) or not isinstance(reply.get("error"), int):
        raise ChannelError(f"send: unexpected reply (HTTP {r.status_code})", retryable=True)
    return reply


async def send(settings: Settings, msg: Outgoing, ctx: SendContext, name: str) -> None:
    users = addresses(settings.users, msg, address)
    if not users:
        raise ChannelError("no Zalo user to send to", retryable=False)
    text = "\n\n".join(short_text(ev, a, msg) for ev, a in msg.changes)[:MAX_TEXT]
    lock = _locks.setdefault(name, asyncio.Lock())
    async with lock:  # one refresh at a time: the refresh token is single-use
        state = await asyncio.to_thread(_state, settings, ctx, name)
        if not state.get("access_token") or state["expires_at"] < time.time() + REFRESH_BEFORE_S:
            state = await refresh(settings, ctx, name, state)
    for user in users:
        reply = await _post(settings, ctx, state["access_token"], user, text)
        if reply["error"] in TOKEN_ERRORS:
            async with lock:
                latest = await asyncio.to_thread(_state, settings, ctx, name)
                # another send may have refreshed meanwhile: use its token, else refresh
                state = latest if latest["access_token"] != state["access_token"] \
                    else await refresh(settings, ctx, name, latest)
            reply = await _post(settings, ctx, state["access_token"], user, text)
        code = reply["error"]
        if code == 0:
            continue
        why = f"Zalo error {code}: {reply.get('message', '')}"
        if code in RATE_LIMITED:
            raise ChannelError(why, retryable=True, retry_after=RATE_LIMIT_WAIT_S)
        raise ChannelError(why, retryable=code not in PERMANENT and code not in TOKEN_ERRORS)
