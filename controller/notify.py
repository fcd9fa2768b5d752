"""Notifications: route alert changes to receivers (any channel in controller/channels), grouped
per center, retried with the project's backoff, recorded; reminders; on-call escalation; button
presses from chats acting on alerts through the desk. Never in the way of ingest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from controller import accounts, authz, desk
from controller.channels import REGISTRY
from controller.channels.base import (
    HTTP_TIMEOUT_S,
    ChannelError,
    Outgoing,
    Person,
    SendContext,
    unreached,
)
from controller.config import NotifySettings, Receiver
from controller.db import log_round_failure
from controller.feed import StorePerThread
from controller.oncall import ON_DUTY, due_steps, on_duty, roster_for
from controller.store import AlertChange, AlertNotFound, AlertRow
from hcc_common.backoff import Backoff

log = logging.getLogger("hcc.controller.notify")


@dataclass
class Batch:
    receiver: Receiver
    center: str
    kind: str  # "alerts" (opened/resolved), "reminder" or "escalation"
    changes: list[tuple[str, AlertRow]] = field(default_factory=list)
    to: Person | None = None
    step: int | None = None
    waited_s: float | None = None


def route(settings: NotifySettings, alert: AlertRow) -> list[Receiver]:
    """Every route that matches the alert's center and severity adds its receivers; a receiver
    takes only its own severities (SMS: critical, unless its config says otherwise)."""
    by_name = {r.name: r for r in settings.receivers}
    names: list[str] = []
    for r in settings.routes:
        if (not r.centers or alert.center in r.centers) and \
                (not r.severities or alert.severity in r.severities):
            names += [n for n in r.receivers if n not in names]
    return [by_name[n] for n in names
            if not by_name[n].severities or alert.severity in by_name[n].severities]


class StoreTokens:
    """Channel state (Zalo's rotating tokens) in the database, from worker threads."""

    def __init__(self, stores: StorePerThread) -> None:
        self.stores = stores

    def channel_state(self, channel: str) -> dict[str, Any] | None:
        return self.stores.get().channel_state(channel)

    def set_channel_state(self, channel: str, state: dict[str, Any]) -> None:
        self.stores.get().set_channel_state(channel, state, time.time())


class Notifier:
    """Fed by the alert feed on the event loop; delivery runs in its own tasks and threads."""

    def __init__(self, settings: NotifySettings, stores: StorePerThread, public_url: str = "",
                 clock: Callable[[], float] = time.time, center_names: dict[str, str] | None = None,
                 wake: Callable[[], None] = lambda: None,
                 groups: Mapping[str, frozenset[str]] | None = None,
                 citizen_per_hour: int = 4) -> None:
        self.settings = settings
        self.groups = groups or {}  # controller.yaml groups: for the accounts' scopes
        self.stores = stores
        self.public_url = public_url
        self.clock = clock
        self.center_names = center_names or {}
        self.wake = wake  # a press in a chat changed an alert: the feed should look now
        self.pending: dict[tuple[str, str], Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_reminder: dict[int, float] = {}
        self._http: httpx.AsyncClient | None = None
        from controller.citizen import NotifyCap  # citizens' reports: an hourly cap per center

        self.citizen_cap = NotifyCap(citizen_per_hour)

    def context(self) -> SendContext:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=HTTP_TIMEOUT_S)
        return SendContext(self._http, StoreTokens(self.stores), self.settings.people)

    # called by the feed for every change
    def on_change(self, change: AlertChange, silenced: bool) -> None:
        if change.event not in ("opened", "resolved") or silenced:
            return
        if not self.citizen_cap.allow(change.event, change.alert, self.clock()):
            return
        for receiver in route(self.settings, change.alert):
            key = (receiver.name, change.alert.center)
            batch = self.pending.get(key)
            if batch is None:
                batch = self.pending[key] = Batch(receiver, change.alert.center, "alerts")
                # Group: whatever else this center raises within group_wait goes in one message.
                self._spawn(self._flush_later(key))
            batch.changes.append((change.event, change.alert))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush_later(self, key: tuple[str, str]) -> None:
        await asyncio.sleep(self.settings.group_wait_s)
        batch = self.pending.pop(key, None)
        if batch is not None:
            await self.deliver(batch)

    async def deliver(self, batch: Batch) -> None:
        try:
            await self._deliver(batch)
        except asyncio.CancelledError:
            raise
        except Exception:  # a delivery bug must be seen in the log, never stop other deliveries
            log.exception("notification delivery crashed", extra={"receiver": batch.receiver.name})

    async def _deliver(self, batch: Batch) -> None:
        ids = [a.id for _, a in batch.changes]
        record = await self._record(batch, ids, "pending", 0, None, None)
        backoff = Backoff(initial=1.0, cap=300.0)  # the project's one backoff, with jitter
        error = None
        attempts = 0
        for attempt in range(1, self.settings.max_attempts + 1):
            attempts = attempt
            try:
                await self._send(batch)
                await self._record(batch, ids, "sent", attempt, None, record)
                log.info("notification sent", extra={"receiver": batch.receiver.name,
                                                      "center": batch.center,
                                                      "alerts": len(ids), "attempt": attempt})
                return
            except ChannelError as exc:
                error = str(exc)[:500]
                log.warning("notification failed", extra={"receiver": batch.receiver.name,
                                                          "attempt": attempt, "error": error,
                                                          "retry": exc.retryable})
                if not exc.retryable:
                    break  # a bad chat id or a user who left: trying again will not help
                await self._record(batch, ids, "retrying", attempt, error, record)
                if attempt < self.settings.max_attempts:
                    await asyncio.sleep(exc.retry_after if exc.retry_after is not None
                                        else backoff.next_delay())
        await self._record(batch, ids, "failed", attempts, error, record)

    async def _record(self, batch: Batch, ids: list[int], status: str, attempts: int,
                      error: str | None, record: int | None) -> int:
        # The store is fetched on the worker thread: SQLite connections stay per thread.
        return await asyncio.to_thread(lambda: self.stores.get().record_notification(
            batch.receiver.name, batch.center, batch.kind, ids, status, attempts, error, record))

    async def _send(self, batch: Batch) -> None:
        spec = REGISTRY[batch.receiver.kind]
        msg = Outgoing(batch.kind, batch.center, list(batch.changes), self.public_url,
                       self.center_names.get(batch.center, ""), batch.to, batch.step,
                       batch.waited_s)
        try:
            await spec.send(batch.receiver.settings, msg, self.context(), batch.receiver.name)
        except (httpx.HTTPError, OSError) as exc:
            # a channel that posts without catching (webhook, Alertmanager): its endpoint
            # refused, or has another certificate, is a failed send to record and retry, not a
            # crashed delivery
            raise unreached(exc) from None

    async def remind_loop(self, stop: asyncio.Event) -> None:
        """A critical alert nobody acknowledged: remind after remind_after, then again."""
        every = self.settings.remind_after_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(60.0, every / 4))
            now = self.clock()
            try:
                firing = await asyncio.to_thread(
                    # all of them: an outage past the store's default page reminds of every one
                    lambda: self.stores.get().alerts(state="firing", severity="critical",
                                                     limit=10_000_000))
            except Exception as exc:  # noqa: BLE001 - logged; a database moment must not end them
                log_round_failure(log, "reminder round failed", exc)
                continue
            due: dict[tuple[str, str], Batch] = {}
            for a in firing:
                last = self._last_reminder.get(a.id, a.opened_at)
                if now - last < every:
                    continue
                self._last_reminder[a.id] = now
                for receiver in route(self.settings, a):
                    batch = due.setdefault((receiver.name, a.center),
                                           Batch(receiver, a.center, "reminder"))
                    batch.changes.append(("remind", a))
            for batch in due.values():
                self._spawn(self.deliver(batch))

    # -- on-call escalation --------------------------------------------------------------
    async def escalate_loop(self, stop: asyncio.Event) -> None:
        """Unacknowledged alerts climb their roster's steps: the person on duty first, then the
        team lead, then the head of IT. Each step is claimed once in the database (several
        controllers send it once), written in the alert's history, then sent."""
        if not self.settings.rosters:
            return
        while not stop.is_set():
            try:
                await self.escalate_once(self.clock())
            except Exception as exc:  # noqa: BLE001 - logged; the loop outlives a database hiccup
                log_round_failure(log, "escalation round failed", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.escalate_every_s)

    async def escalate_once(self, now: float) -> int:
        receivers = {r.name: r for r in self.settings.receivers}

        def read() -> list[tuple[AlertRow, set[int]]]:
            store = self.stores.get()
            firing = store.alerts(state="firing", limit=10_000_000)  # the oldest too
            quiet = desk.silenced_ids(store, firing, now)
            return [(a, store.escalation_steps(a.id)) for a in firing if a.id not in quiet]

        sent = 0
        for alert, fired in await asyncio.to_thread(read):
            roster = roster_for(self.settings.rosters, alert.center)
            if roster is None or alert.severity not in roster.severities:
                continue
            for index in due_steps(roster, alert.opened_at, fired, now):
                step = roster.steps[index]
                pids = [on_duty(roster, now)] if step.to == (ON_DUTY,) else list(step.to)
                people = [self.settings.people[p] for p in pids if p is not None]
                names = ", ".join(p.name for p in people) or "không có ai trực"
                note = f"bước {index + 1}: {names} qua {', '.join(step.via)}"
                claimed = await asyncio.to_thread(self._claim, alert.id, index, now,
                                                  ", ".join(step.via), note)
                if not claimed:
                    continue
                self.wake()
                for person in people:
                    for via in step.via:
                        self._spawn(self.deliver(Batch(
                            receivers[via], alert.center, "escalation", [("escalated", alert)],
                            to=person, step=index, waited_s=now - alert.opened_at)))
                        sent += 1
        return sent

    def _claim(self, alert_id: int, step: int, now: float, actor: str, note: str) -> bool:
        return self.stores.get().claim_escalation(alert_id, step, now, actor, note)

    # -- presses in chats -----------------------------------------------------------------
    async def act(self, alert_id: int, action: str, person: Person, channel: str) -> str:
        """A button pressed in a chat: the desk acknowledges or resolves as that person, with
        the role and centers of their account (the account named as the person's id), by the
        rule every route and the CLI use."""
        refused: list[str] = []

        def run() -> tuple[AlertRow, AlertRow] | None:
            s = self.stores.get()
            account = accounts.get_account(s.db, person.id)
            if account is None or account.disabled:
                refused.append(f"{person.name} chưa có tài khoản đang hoạt động: không thao tác "
                               f"được.")
                return None
            who = account.principal(self.groups, channel)
            before = s.alert(alert_id)
            decision = authz.decide(who, action, before.center)
            if decision is authz.Decision.NOT_FOUND:  # another center's: as if none
                raise AlertNotFound(alert_id)
            if decision is authz.Decision.FORBIDDEN:
                refused.append(f"Tài khoản {who.name} ({who.role}) không được thao tác này.")
                return None
            row = desk.act(s, alert_id, action, holder=who.name, by=person.name,
                           note=f"qua {channel}", now=self.clock())
            accounts.audit(s.db, who=who, peer=channel, action=action, target=f"alert {alert_id}",
                           center=row.center, before={"state": before.state},
                           after={"state": row.state}, now=self.clock())
            return before, row

        try:
            done = await asyncio.to_thread(run)
        except AlertNotFound:
            return f"Không có cảnh báo #{alert_id}."
        if done is None:
            log.warning("a press in a chat refused", extra={
                "alert": alert_id, "action": action, "by": person.id, "channel": channel})
            return refused[0]
        before, row = done
        self.wake()
        if before.state == "resolved":
            return f"Cảnh báo #{alert_id} đã được xử lý trước đó."
        if action == "ack" and before.state != "firing":
            return f"Cảnh báo #{alert_id} đã có người nhận ({before.acked_by})."
        log.info("alert changed from a chat", extra={"alert": alert_id, "action": action,
                                                      "by": person.id, "channel": channel})
        return (f"Đã nhận cảnh báo #{row.id}. Cảm ơn {person.name}!" if action == "ack"
                else f"Đã ghi nhận: cảnh báo #{row.id} đã xử lý.")

    async def listen_loops(self, stop: asyncio.Event) -> None:
        """Inbound channels (Telegram button presses), one task per receiver that listens."""
        tasks: list[asyncio.Future[None]] = []
        for r in self.settings.receivers:
            spec = REGISTRY[r.kind]
            if spec.listen is not None and getattr(r.settings, "listen", True):
                tasks.append(asyncio.ensure_future(
                    spec.listen(r.settings, self.context(), r.name, self.act, stop)))
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()
