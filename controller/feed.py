"""The live alert feed: follows alert_events in the database (whoever wrote them: ingest, the API,
the CLI) and hands each change to subscribers: SSE clients, the MQTT alert topic, the notifier."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from controller.db import log_round_failure
from controller.store import AlertChange, Silence, Store

log = logging.getLogger("hcc.controller.feed")

POLL_S = 0.5  # changes made by another process (the CLI) show within this
FEED_RETRY_S = 1.0  # after the database failed a read
# Changes held for one live stream whose client reads slower than they come; past it the
# stream is ended (the client comes back with Last-Event-ID), never grown.
SSE_QUEUE_MAX = 1000


class StorePerThread:
    """SQLite connections are per thread: the API's worker threads each get their own."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._local = threading.local()

    def get(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store(self.path)
            self._local.store = store
        elif store.db.broken():
            store.reopen()  # the request that found it broken failed; the next ones work
        return store


Subscriber = Callable[[AlertChange, bool], None]  # (change, silenced)

# Which alert events have had their outward effects (notifications, the MQTT alert topic): one
# row, the newest event some controller took. Several controllers on one database each read
# every change (their live streams need them all), but each change goes out once: the one that
# moves the mark past it sends it.
OUTWARD_SCHEMA = """
CREATE TABLE IF NOT EXISTS feed_outward (id INTEGER PRIMARY KEY, last_event_id INTEGER NOT NULL);
"""


def take_outward(store: Store, first: int, last: int) -> int:
    """Claim the events (first, last] for this controller's outward effects; returns the
    event id from which they are ours (those after it, up to `last`): `last` when another
    controller took them all. A compare-and-set on one row, so two controllers reading the
    same events split them, never both send one."""
    db = store.db
    if db.ensure_schema("feed_outward", OUTWARD_SCHEMA):
        # a new mark starts at the events already there: the past is not sent again
        db.execute("INSERT INTO feed_outward VALUES (1, ?) ON CONFLICT DO NOTHING", (first,))
    for _attempt in range(100):  # each failed attempt means another controller moved it
        row = db.execute("SELECT last_event_id FROM feed_outward WHERE id=1").fetchone()
        mark = int(row[0])
        if mark >= last:
            return last
        moved = db.execute("UPDATE feed_outward SET last_event_id=? WHERE id=1 AND "
                           "last_event_id=? RETURNING last_event_id", (last, mark)).fetchone()
        if moved is not None:
            return max(first, mark)
    return last  # never reached in practice: the others took them



class AlertFeed:
    def __init__(self, stores: StorePerThread) -> None:
        self.stores = stores
        self.subscribers: list[Subscriber] = []
        # each SSE client's queue of (change, silenced); None ends the stream
        self.sse_clients: set[asyncio.Queue[tuple[AlertChange, bool] | None]] = set()
        self._wake = asyncio.Event()
        self.last_id = 0
        # the changes up to this event id went out through another controller
        self.outward_from = 0

    def wake(self) -> None:
        """Called (thread-safely, via the loop) when ingest committed alert changes."""
        self._wake.set()

    def is_silenced(self, change: AlertChange, silences: list[Silence],
                    types: dict[tuple[str, str], str]) -> bool:
        from controller.desk import is_silenced  # the desk's rule, as the API and CLI use it

        return is_silenced(change.alert, silences, types, time.time())

    def _read(self) -> tuple[list[AlertChange], list[Silence], dict[tuple[str, str], str]]:
        store = self.stores.get()
        changes = store.changes_since(self.last_id)
        if not changes:
            return [], [], {}
        if self.subscribers:
            self.outward_from = take_outward(store, self.last_id, changes[-1].event_id)
        silences = store.silences(active_at=time.time())
        if not silences:
            return changes, [], {}
        return changes, silences, store.device_types(
            (c.alert.center, c.alert.device) for c in changes)

    async def run(self, stop: asyncio.Event) -> None:
        started = False  # from the newest change on: the past is not sent again at a start
        while not stop.is_set():
            try:
                if not started:
                    self.last_id = await asyncio.to_thread(
                        lambda: self.stores.get().last_event_id())
                    started = True
                changes, silences, types = await asyncio.to_thread(self._read)
            except Exception as exc:  # noqa: BLE001 - logged; a database moment must not end the feed
                log_round_failure(log, "alert feed could not read", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=FEED_RETRY_S)
                continue
            for change in changes:
                self.last_id = change.event_id
                silenced = self.is_silenced(change, silences, types)
                self.to_streams((change, silenced))
                if change.event_id <= self.outward_from:
                    continue  # another controller sends this one out
                for sub in self.subscribers:
                    try:
                        sub(change, silenced)
                    except Exception:
                        log.exception("alert feed subscriber failed")
            if changes:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=POLL_S)
        for q in list(self.sse_clients):
            self.close_stream(q)

    def to_streams(self, item: tuple[AlertChange, bool]) -> None:
        """One change to every live stream. A stream whose client does not read (its queue is
        full) is ended, not grown: its client reconnects with Last-Event-ID and reads what it
        missed from the database."""
        for q in list(self.sse_clients):
            try:
                q.put_nowait(item)
            except asyncio.QueueFull:
                self.close_stream(q)

    def close_stream(self, q: asyncio.Queue[tuple[AlertChange, bool] | None]) -> None:
        self.sse_clients.discard(q)
        while not q.empty():  # room for the end mark, whatever it held
            q.get_nowait()
        q.put_nowait(None)
