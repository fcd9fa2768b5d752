"""Each report stored in the outbox, sent within a bounded window, sent again when the controller lacks it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from agent.outbox import EVENT, TELEMETRY, Backlog, Limits, Outbox, OutboxError, Row, new_session_id
from agent.report_filter import Sent, is_news
from agent.running import RunningConfig
from agent.uplink import Uplink
from hcc_common import wire

log = logging.getLogger("hcc.agent")

OUTBOX_FILE = "outbox.sqlite"
# Messages handed to paho and not yet acknowledged: bounds paho's memory (it has no backpressure).
SEND_WINDOW = 500
# A report the controller lists as missing is sent again only if it was not sent this recently
# (the first copy may still be on its way; acks come every few seconds).
RESEND_AFTER_S = 5.0
T = TypeVar("T")


@dataclass(frozen=True)
class Opened:
    """The outbox as this run found it, and the session this run's reports carry."""

    outbox: Outbox | None  # None: it cannot be opened; reports go straight to the broker
    session: int
    prev_session: int  # the run before (0: none), and its last seq: the controller's gaps
    prev_last_seq: int


def open_outbox(state_dir: Path, limits: Limits) -> Opened:
    try:
        outbox = Outbox(state_dir / OUTBOX_FILE, limits)
        return Opened(outbox, *outbox.start_session())
    except OutboxError as exc:
        log.error("outbox unavailable: reports will not survive an outage",
                  extra={"error": str(exc)})
        return Opened(None, new_session_id(), 0, 0)


class ReportSender:
    """Gives each report its seq, stores it (one synced group commit per GROUP_S), sends it
    oldest first and deletes it once confirmed. Without an outbox, reports go straight out."""

    def __init__(self, opened: Opened, uplink: Uplink, running: RunningConfig) -> None:
        self.outbox = opened.outbox
        self.session = opened.session
        self.uplink = uplink
        self.running = running
        # All outbox (SQLite) work happens on this one thread, off the event loop.
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self.seq = 0
        self.unbuffered = 0
        # report by exception: what each device last sent on its own, and the devices whose
        # results since the last heartbeat were no news (confirmed in that heartbeat)
        self._sent: dict[str, Sent] = {}
        self._unchanged: dict[str, tuple[float, wire.Status]] = {}
        self._send_wake: asyncio.Event | None = None
        self._commit_wake: asyncio.Event | None = None
        self._send_pass: asyncio.Event | None = None  # set each time the sender has caught up
        self._acks: list[int] = []
        self._ack_event: asyncio.Event | None = None
        self._controller_ack: wire.Ack | None = None  # the newest, not yet applied
        self.controller_acked_session = False  # the controller has this run's reports
        self._committer: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._send_stop = asyncio.Event()  # the sender outlives the pollers: it sends the last group

    # -- what the link tells us (on the event loop) ----------------------------------------------
    def published(self, mid: int) -> None:
        """The broker's PUBACK of a message handed to paho."""
        self._acks.append(mid)
        if self._ack_event is not None:
            self._ack_event.set()

    def connected(self) -> None:
        if self._send_wake is not None:
            self._send_wake.set()

    def controller_ack(self, ack: wire.Ack) -> None:
        """The controller's acknowledgement: what it has committed, what it lacks."""
        self._controller_ack = ack  # only the newest matters: each one says all it has
        if self.session in ack.sessions:  # the controller has this run's reports
            self.controller_acked_session = True
        if self._ack_event is not None:
            self._ack_event.set()

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

    # -- reports in ------------------------------------------------------------------------------
    async def send_or_confirm(self, r: wire.Result) -> None:
        """A result in a message of its own, or (report by exception, nothing new) a line in
        the next heartbeat."""
        agent = self.running.config.agent
        if agent.report == "changes" and not is_news(
                self._sent.get(r.device), r.status, r.faults, r.metrics, r.ts, agent.refresh_s,
                agent.deadbands):
            self._unchanged[r.device] = (r.ts, r.status)
            return
        await self.emit(r, EVENT if r.faults else TELEMETRY)
        self._sent[r.device] = Sent(r.status, r.faults, dict(r.metrics), r.ts)
        self._unchanged.pop(r.device, None)

    def take_unchanged(self) -> dict[str, tuple[float, wire.Status]]:
        """The devices confirmed unchanged since the last call (for the heartbeat to carry)."""
        unchanged, self._unchanged = self._unchanged, {}
        return unchanged

    async def emit(self, report: wire.Result | wire.Heartbeat, priority: int) -> None:
        """Give the report the next seq, store it durably, then let the sender publish it."""
        self.seq += 1
        msg = wire.encode(replace(report, seq=self.seq))
        if self.outbox is not None:
            # staged for the next group commit (_commit_loop): stored, then sent, within GROUP_S
            if await self._db(self.outbox.stage, msg, self.session, self.seq, priority) \
                    and self._commit_wake is not None:
                self._commit_wake.set()
            return
        self.uplink.publish(msg)

    async def backlog(self) -> Backlog:
        if self.outbox is not None:
            with contextlib.suppress(OutboxError):
                return await self._db(self.outbox.backlog)
        return Backlog(self.uplink.unacked(), 0.0, 0, 0, 0)

    async def kept_from(self) -> tuple[int, int]:
        """The oldest report still kept (session, seq): the controller forgets gaps before it."""
        kept = None
        if self.outbox is not None:
            with contextlib.suppress(OutboxError):
                kept = await self._db(self.outbox.oldest)
        return kept or (self.session, self.seq + 1)

    # -- running ---------------------------------------------------------------------------------
    def start(self, stop: asyncio.Event) -> None:
        self._send_wake = asyncio.Event()
        self._commit_wake = asyncio.Event()
        self._send_pass = asyncio.Event()
        self._ack_event = asyncio.Event()
        if self.outbox is not None:
            self._sender = asyncio.create_task(self._send_loop(self._send_stop))
            self._committer = asyncio.create_task(self._commit_loop(stop))

    async def finish(self) -> None:
        """At stop (the pollers are done): the last group stored, then handed to the broker."""
        if self._committer is not None:
            await asyncio.gather(self._committer, return_exceptions=True)
        if self._sender is not None:
            assert self._send_pass is not None and self._send_wake is not None
            self._send_pass.clear()
            self._send_wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._send_pass.wait(), timeout=2.0)
            self._send_stop.set()
            await asyncio.gather(self._sender, return_exceptions=True)

    async def close(self) -> None:
        if self.outbox is not None:
            await self._db(self.outbox.close)
        self._db_thread.shutdown(wait=True)

    async def _commit_loop(self, stop: asyncio.Event) -> None:
        """The outbox's group commits: one synced commit per group of reports (at most
        GROUP_S after the first was staged), then the sender is woken. What cannot be
        stored goes out unbuffered. Runs a last time at stop (a graceful stop loses nothing)."""
        assert self.outbox is not None and self._commit_wake is not None
        while True:
            due = await self._db(self.outbox.due_in)
            if due is None or due > 0:
                if stop.is_set():
                    due = 0.0 if due is not None else None
                else:
                    await sleep_or_event(stop, self._commit_wake, 5.0 if due is None else due)
                    self._commit_wake.clear()
                    continue
            if due is None:
                return  # stopped, nothing staged
            try:
                if await self._db(self.outbox.flush) and self._send_wake is not None:
                    self._send_wake.set()
            except OutboxError as exc:
                unstored = exc.unstored or await self._db(self.outbox.take_staged)
                self.unbuffered += len(unstored)
                log.error("outbox cannot store: sending without a disk buffer",
                          extra={"error": str(exc), "unbuffered": self.unbuffered})
                for msg in unstored:
                    self.uplink.publish(msg)

    async def _send_loop(self, stop: asyncio.Event) -> None:
        """Send until stopped; an outbox that cannot be read (damaged past repair) pauses
        sending, said in the log, and never ends the task."""
        while not stop.is_set():
            try:
                await self._send_until_stopped(stop)
            except OutboxError as exc:
                log.error("outbox unreadable: sending paused", extra={"error": str(exc)[:300]})
                await sleep_or_stop(stop, 5.0)

    async def _send_until_stopped(self, stop: asyncio.Event) -> None:
        """Publish stored reports oldest first. A report leaves the outbox when the controller
        confirms it has committed it (or, with confirm: broker, at the broker's PUBACK); what
        the controller lists as missing (a broker that lost its queue) is sent again."""
        assert self._send_wake is not None and self._ack_event is not None
        assert self.outbox is not None
        in_flight: dict[int, int] = {}   # mid -> outbox row id
        last_sent = 0                    # unpublished rows up to this id are in paho's hands
        sent_at: dict[int, float] = {}   # row id -> when last handed to paho (for resends)
        resend: list[Row] = []
        generation = self.outbox.generation
        while not stop.is_set():
            if self.outbox.generation != generation:
                # a damaged file was replaced: its row ids mean nothing in the fresh one
                generation = self.outbox.generation
                in_flight, sent_at, resend, last_sent = {}, {}, [], 0
            self._ack_event.clear()
            mids, self._acks = self._acks, []
            acked = [row for row in (in_flight.pop(m, None) for m in mids) if row is not None]
            if acked:
                # deferred: written with the next group commit (if lost: a duplicate)
                if self.uplink.confirm_by_controller:
                    await self._db(self.outbox.mark_published, acked, True)
                else:
                    await self._db(self.outbox.acknowledge, acked, True)
                    for rid in acked:
                        sent_at.pop(rid, None)
            ack, self._controller_ack = self._controller_ack, None
            if ack is not None:
                missing = await self._db(self.outbox.confirm, ack, True)
                now = time.monotonic()
                busy = set(in_flight.values()) | {r.id for r in resend}
                again = [r for r in missing if r.id not in busy
                         and now - sent_at.get(r.id, -RESEND_AFTER_S) >= RESEND_AFTER_S]
                if again:
                    log.info("sending again what the controller lacks",
                             extra={"reports": len(again), "listed": len(missing),
                                    "first_row": again[0].id})
                resend.extend(again)
                if len(sent_at) > 4 * SEND_WINDOW + len(missing):
                    sent_at = {k: v for k, v in sent_at.items() if now - v < RESEND_AFTER_S}
            room = SEND_WINDOW - len(in_flight)
            if self.uplink.connected and room > 0:
                again, resend = resend[:room], resend[room:]
                rows = again + await self._db(self.outbox.pending, last_sent, room - len(again))
                now = time.monotonic()
                for row in rows:
                    mid = self.uplink.publish_tracked(row.topic, row.payload, row.retain)
                    if mid is None:
                        break
                    in_flight[mid] = row.id
                    sent_at[row.id] = now
                    last_sent = max(last_sent, row.id)
                if rows and len(rows) == room:
                    continue  # more waiting: keep the pipe full
            self._send_wake.clear()
            if self._send_pass is not None:
                self._send_pass.set()  # all that is stored was handed to paho (or no link)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wait_any(stop), timeout=1.0)

    async def _wait_any(self, stop: asyncio.Event) -> None:
        assert self._send_wake is not None and self._ack_event is not None
        waiters = [asyncio.create_task(e.wait()) for e in (stop, self._send_wake, self._ack_event)]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()


async def sleep_or_event(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
