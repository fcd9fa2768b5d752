"""Notifications: route alert changes to receivers (webhook, email, Alertmanager), grouped per
center, retried with backoff, recorded; never in the way of ingest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

import httpx

from controller.config import (
    AlertmanagerReceiver,
    EmailReceiver,
    NotifySettings,
    Receiver,
    WebhookReceiver,
)
from controller.feed import StorePerThread
from controller.store import AlertChange, AlertRow
from controller.views import alert_json, iso
from hcc_common import faults as vocab

log = logging.getLogger("hcc.controller.notify")
HTTP_TIMEOUT_S = 10.0


@dataclass
class Batch:
    receiver: Receiver
    center: str
    kind: str  # "alerts" (opened/resolved) or "reminder"
    changes: list[tuple[str, AlertRow]] = field(default_factory=list)


def route(settings: NotifySettings, alert: AlertRow) -> list[Receiver]:
    """Every route that matches the alert's center and severity adds its receivers."""
    by_name = {r.name: r for r in settings.receivers}
    names: list[str] = []
    for r in settings.routes:
        if (not r.centers or alert.center in r.centers) and \
                (not r.severities or alert.severity in r.severities):
            names += [n for n in r.receivers if n not in names]
    return [by_name[n] for n in names]


def device_page(public_url: str, alert: AlertRow) -> str | None:
    """The alert's device page on the dashboard (None without a public URL, or for a box)."""
    if not public_url or not alert.device:
        return None
    return f"{public_url.rstrip('/')}/devices/{quote(alert.center, safe='')}/" \
           f"{quote(alert.device, safe='')}"


def webhook_body(batch: Batch, public_url: str) -> dict[str, Any]:
    return {"version": 1, "kind": batch.kind, "center": batch.center,
            "alerts": [{"event": ev, **alert_json(a), "page": device_page(public_url, a)}
                       for ev, a in batch.changes],
            "dashboard": public_url or None}


def alertmanager_body(batch: Batch, public_url: str) -> list[dict[str, Any]]:
    """Alertmanager API v2 /api/v2/alerts: firing alerts carry no endsAt, resolved ones do."""
    out = []
    for _, a in batch.changes:
        item: dict[str, Any] = {
            "labels": {"alertname": a.code, "center": a.center, "agent": a.agent,
                       "device": a.device or a.agent, "severity": a.severity,
                       **({"subject": a.subject} if a.subject else {}), **a.labels},
            "annotations": {"summary": vocab.full_message(a.device_name or a.agent, a.code,
                                                          a.params, "en"),
                            "summary_vi": vocab.full_message(a.device_name or a.agent, a.code,
                                                             a.params, "vi"),
                            "hint": vocab.hint(a.code, a.params, "vi")},
            "startsAt": iso(a.opened_at),
            "generatorURL": device_page(public_url, a)
            or (f"{public_url}/#alert-{a.id}" if public_url else ""),
        }
        if a.resolved_at is not None:
            item["endsAt"] = iso(a.resolved_at)
        out.append(item)
    return out


def email_message(batch: Batch, target: EmailReceiver, public_url: str = "") -> EmailMessage:
    opened = [a for ev, a in batch.changes if ev == "opened"]
    resolved = [a for ev, a in batch.changes if ev == "resolved"]
    if batch.kind == "reminder":
        subject = f"[HCC] {batch.center}: NHẮC LẠI {len(batch.changes)} cảnh báo chưa xử lý"
    elif opened:
        subject = f"[HCC] {batch.center}: {len(opened)} cảnh báo mới"
    else:
        subject = f"[HCC] {batch.center}: {len(resolved)} cảnh báo đã hết"
    lines = []
    for ev, a in batch.changes:
        mark = {"opened": "MỚI", "resolved": "ĐÃ HẾT", "remind": "CHƯA XỬ LÝ"}.get(ev, ev)
        text = vocab.full_message(a.device_name or a.agent, a.code, a.params, "vi")
        lines.append(f"[{mark}] [{a.severity}] {text}")
        if ev != "resolved":
            lines.append(f"    → {vocab.hint(a.code, a.params, 'vi')}")
        lines.append(f"    (#{a.id}, {iso(a.opened_at)})")
        if (page := device_page(public_url, a)) is not None:
            lines.append(f"    {page}")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.to)
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(target: EmailReceiver, msg: EmailMessage) -> None:
    with smtplib.SMTP(target.host, target.port, timeout=HTTP_TIMEOUT_S) as smtp:
        if target.starttls:
            smtp.starttls()
        if target.username is not None and target.password is not None:
            smtp.login(target.username, target.password)
        smtp.send_message(msg)


class Notifier:
    """Fed by the alert feed on the event loop; delivery runs in its own tasks and threads."""

    def __init__(self, settings: NotifySettings, stores: StorePerThread, public_url: str = "",
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.stores = stores
        self.public_url = public_url
        self.clock = clock
        self.pending: dict[tuple[str, str], Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_reminder: dict[int, float] = {}

    # called by the feed for every change
    def on_change(self, change: AlertChange, silenced: bool) -> None:
        if change.event not in ("opened", "resolved") or silenced:
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
        delay = 1.0
        error = None
        for attempt in range(1, self.settings.max_attempts + 1):
            try:
                await self._send(batch)
                await self._record(batch, ids, "sent", attempt, None, record)
                log.info("notification sent", extra={"receiver": batch.receiver.name,
                                                      "center": batch.center,
                                                      "alerts": len(ids), "attempt": attempt})
                return
            except (httpx.HTTPError, OSError, smtplib.SMTPException, ValueError) as exc:
                error = f"{exc.__class__.__name__}: {exc}"[:500]
                log.warning("notification failed", extra={"receiver": batch.receiver.name,
                                                          "attempt": attempt, "error": error})
                await self._record(batch, ids, "retrying", attempt, error, record)
                if attempt < self.settings.max_attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 300.0)
        await self._record(batch, ids, "failed", self.settings.max_attempts, error, record)

    async def _record(self, batch: Batch, ids: list[int], status: str, attempts: int,
                      error: str | None, record: int | None) -> int:
        # The store is fetched on the worker thread: SQLite connections stay per thread.
        return await asyncio.to_thread(lambda: self.stores.get().record_notification(
            batch.receiver.name, batch.center, batch.kind, ids, status, attempts, error, record))

    async def _send(self, batch: Batch) -> None:
        target = batch.receiver.target
        if isinstance(target, WebhookReceiver):
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
                r = await client.post(target.url, json=webhook_body(batch, self.public_url))
                r.raise_for_status()
        elif isinstance(target, AlertmanagerReceiver):
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as client:
                r = await client.post(target.url.rstrip("/") + "/api/v2/alerts",
                                      json=alertmanager_body(batch, self.public_url))
                r.raise_for_status()
        else:
            await asyncio.to_thread(send_email, target, email_message(batch, target, self.public_url))

    async def remind_loop(self, stop: asyncio.Event) -> None:
        """A critical alert nobody acknowledged: remind after remind_after, then again."""
        every = self.settings.remind_after_s
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=min(60.0, every / 4))
            now = self.clock()
            firing = await asyncio.to_thread(
                lambda: self.stores.get().alerts(state="firing", severity="critical"))
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

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


