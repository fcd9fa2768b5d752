"""SMS channel through an HTTP SMS gateway (Vietnamese brand-name SMS providers): the request is a
template in the config (URL, method, body fields, headers, the provider's "accepted" reply), so
any provider fits without code. One SMS per alert: 160 GSM-7 characters (Vietnamese written
without diacritics, as brand-name SMS usually is), or 70 UCS-2 characters with `unicode: true`."""

from __future__ import annotations

import re
import unicodedata
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
from hcc_common.yamlconf import ANY_KEYS, Node

kind = "sms"
address = "sms"
default_severities: tuple[str, ...] = ("critical",)  # SMS costs money and wakes people
GSM7_LIMIT, UCS2_LIMIT = 160, 70
# GSM 03.38 basic character set (one septet each); anything else is replaced
GSM7 = frozenset("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_PLACEHOLDER = re.compile(r"\{(phone|text|secret)\}")


@dataclass(frozen=True, kw_only=True)
class Settings:
    url: str
    method: str = "POST"
    format: str = "json"  # json, form, or query (fields in the URL)
    fields: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    secret: str | None = field(default=None, repr=False)
    to: tuple[str, ...] = ()
    unicode: bool = False
    ok_field: str | None = None  # a field of the JSON reply that says "accepted" …
    ok_value: str | None = None  # … when it equals this (else any 2xx is accepted)
    test: bool = False           # test mode: test_fields are added (a provider's sandbox flag)
    test_fields: Mapping[str, str] = field(default_factory=dict)


def parse(node: Node, env: Mapping[str, str]) -> Settings:
    from hcc_common.secret_values import secret

    m = node.as_mapping(("url", "method", "format", "fields", "headers", "secret", "secret_file",
                         "secret_env", "to", "unicode", "ok", "test", "test_fields"))

    def strings(key: str) -> dict[str, str]:
        n = m.get(key)
        if n is None:
            return {}
        mm = n.as_mapping(ANY_KEYS)
        return {k: mm.require(k).as_str() for k in mm}

    fields = strings("fields")
    if not any("{text}" in v for v in fields.values()):
        raise m.require("fields").error("one field must carry {text}, the message") \
            if m.get("fields") is not None else node.error("fields: the gateway's request "
                                                           "fields, with {phone} and {text}")
    method, fmt, ok = m.get("method"), m.get("format"), m.get("ok")
    ok_field = ok_value = None
    if ok is not None:
        om = ok.as_mapping(("field", "equals"))
        ok_field, ok_value = om.require("field").as_str(), om.require("equals").as_str()
    uni, test = m.get("unicode"), m.get("test")
    return Settings(
        url=m.require("url").as_str(),
        method=method.as_choice(("POST", "GET")) if method is not None else "POST",
        format=fmt.as_choice(("json", "form", "query")) if fmt is not None else "json",
        fields=fields, headers=strings("headers"), secret=secret(m, "secret", env),
        to=tuple(x.as_str() for x in m.require("to").as_list()) if m.get("to") is not None
        else (),
        unicode=uni.as_bool() if uni is not None else False,
        ok_field=ok_field, ok_value=ok_value,
        test=test.as_bool() if test is not None else False, test_fields=strings("test_fields"))


def without_diacritics(text: str) -> str:
    """'Máy in quầy 2: kẹt giấy' -> 'May in quay 2: ket giay' (đ -> d too)."""
    text = text.replace("đ", "d").replace("Đ", "D").replace("→", "->")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fit(text: str, unicode: bool) -> str:
    """One SMS: with diacritics in 70 UCS-2 characters, else in 160 GSM-7 characters (anything
    outside GSM-7 becomes '?'); a longer text is cut, ending in '...'."""
    text = " ".join(text.split())
    if unicode:
        return text if len(text) <= UCS2_LIMIT else text[:UCS2_LIMIT - 1] + "…"
    plain = "".join(c if c in GSM7 else "?" for c in without_diacritics(text))
    return plain if len(plain) <= GSM7_LIMIT else plain[:GSM7_LIMIT - 3] + "..."


def _fill(template: str, phone: str, text: str, secret: str | None) -> str:
    values = {"phone": phone, "text": text, "secret": secret or ""}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def request(settings: Settings, phone: str, text: str) -> dict[str, Any]:
    """The HTTP request for one SMS (pure: the tests read it too)."""
    fields = {k: _fill(v, phone, text, settings.secret) for k, v in settings.fields.items()}
    if settings.test:
        fields.update(settings.test_fields)
    headers = {k: _fill(v, phone, text, settings.secret) for k, v in settings.headers.items()}
    req: dict[str, Any] = {"method": settings.method, "url": settings.url, "headers": headers}
    if settings.format == "json":
        req["json"] = fields
    elif settings.format == "form":
        req["data"] = fields
    else:
        req["params"] = fields
    return req


async def send(settings: Settings, msg: Outgoing, ctx: SendContext, name: str) -> None:
    phones = addresses(settings.to, msg, address)
    if not phones:
        raise ChannelError("no phone number to send to", retryable=False)
    for phone in phones:
        for event, alert in msg.changes:
            text = fit("HCC " + short_text(event, alert, msg, with_link=False), settings.unicode)
            try:
                r = await ctx.http.request(**request(settings, phone, text))
            except httpx.HTTPError as exc:
                raise unreached(exc) from None
            if r.status_code >= 400:
                raise ChannelError(f"HTTP {r.status_code}",
                                   retryable=r.status_code >= 500 or r.status_code == 429)
            if settings.ok_field is not None:
                try:
                    reply = r.json()
                except ValueError:
                    raise ChannelError("the gateway's reply is not JSON", retryable=True) \
                        from None
                got = str(reply.get(settings.ok_field)) if isinstance(reply, dict) else None
                if got != settings.ok_value:
                    raise ChannelError(f"gateway refused: {settings.ok_field}={got} "
                                       f"({str(reply)[:200]})", retryable=False)
