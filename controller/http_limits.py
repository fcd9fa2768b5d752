"""The HTTP server's own bounds against anonymous clients, in one place: uvicorn times out only
the wait between two requests, so a connection that never finishes a request head (idle after
connecting, or a head sent a byte at a time) was held forever, and a LAN host could hold
enough to use up the controller's file descriptors (its notifications, API and database
connections with them)."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

# a request head (request line and headers) must be in within this of connecting, or of the
# previous response
REQUEST_HEAD_S = 10.0
# connections at once; past it a new one is closed at once (its descriptor given back). Under
# the service's 1,024 descriptors, above the 300 live streams (api.SSE_MAX_CLIENTS).
MAX_CONNECTIONS = 600


class BoundedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for every request head and a connection cap."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > MAX_CONNECTIONS:
            transport.abort()
            return
        self._arm_head_timer()

    def _arm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._waiting_head = True
        self._head_timer = self.loop.call_later(REQUEST_HEAD_S, self._head_late)

    def _head_late(self) -> None:
        if self._waiting_head and not self.transport.is_closing():
            self.transport.close()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request head came in whole
            self._waiting_head = False

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_head_timer()  # the next head, on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)


def server_config(app: Any, **options: Any) -> uvicorn.Config:
    """uvicorn.Config with the bounds above (hcc-controller run and the tests use it)."""
    return uvicorn.Config(app, http=BoundedH11, limit_concurrency=MAX_CONNECTIONS, **options)
