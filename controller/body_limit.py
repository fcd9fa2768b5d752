"""A bound on every request body, before any route reads it: an anonymous client's 8 MB POST
(to the enrollment route, open to anyone who can reach it) is refused with 413, not read whole
into memory and parsed."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The largest body any route takes is a silence or a note: a few hundred bytes.
MAX_BODY_BYTES = 64 * 1024


class BodyLimit:
    """ASGI middleware: reads a request's body up to MAX_BODY_BYTES (by Content-Length at once,
    or as it comes when chunked), then hands the app the buffered body; past the bound, 413."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES,
                 larger: tuple[tuple[str, int], ...] = ()) -> None:
        self.app = app
        self.limit = limit
        # (path prefix, bound) for the few routes that take more: the citizens' form and its
        # photo (its own bound, from controller.yaml)
        self.larger = larger

    def _limit_for(self, path: str) -> int:
        for prefix, bound in self.larger:
            if path.startswith(prefix):
                return bound
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(str(scope.get("path", "")))
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                text = value.decode("latin-1").strip()
                if not text.isdigit() or int(text) > limit:
                    await self._refuse(send)
                    return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break  # a disconnect: the app sees it as it would have
            size += len(message.get("body", b""))
            if size > limit:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def buffered() -> Message:
            nxt = next(replay, None)
            return nxt if nxt is not None else await receive()

        await self.app(scope, buffered, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body over {self.limit // 1024} KiB"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})
