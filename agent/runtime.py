"""The running agent: schedules polls and the heartbeat, stores every report, sends it, replays."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from agent import poller
from agent.checks import host
from agent.checks.base import combine, status_of
from agent.checks.context import CheckContext
from agent.config import Config, Device
from agent.hold import FaultHold
from agent.inventory import config_version as config_version_of
from agent.inventory import inventory
from agent.outbox import EVENT, TELEMETRY, Backlog, Limits, Outbox, OutboxError, Row, new_session_id
from agent.pushed_config import ConfigStore, device_changes, unverified
from agent.report_filter import Sent, is_news
from agent.status_file import rewrite_due
from agent.trust import describe, load_keys
from hcc_common import sdnotify, wire
from hcc_common.mqtt_io import BrokerSettings, Incoming, MqttLink
from hcc_common.wire import MetricValue
from hcc_common.yamlconf import ConfigError

log = logging.getLogger("hcc.agent")

STATUS_FILE = "status.json"
OUTBOX_FILE = "outbox.sqlite"
BOX_NAME = "Máy giám sát"  # the glossary's word; the controller says it in the reader's language
# Messages handed to paho and not yet acknowledged: bounds paho's memory (it has no backpressure).
SEND_WINDOW = 500
# A report the controller lists as missing is sent again only if it was not sent this recently
# (the first copy may still be on its way; acks come every few seconds).
RESEND_AFTER_S = 5.0
T = TypeVar("T")


@dataclass
class DeviceStatus:
    status: str = "pending"
    last_poll: float | None = None
    faults: list[str] = field(default_factory=list)
    error: str | None = None


class Agent:
    def __init__(self, config: Config, broker_url: str | None = None,
                 limits: Limits = Limits()) -> None:
        self.local_config = config
        self.config_store = ConfigStore(config.agent.state_dir)
        self.config_error: str | None = None
        self.config_version = local_version = config_version_of(Path(config.path))
        # A config the controller pushed runs instead of the local file (which then only
        # shows as drift if edited: pushed configs win, see docs/operations.md).
        active = self.config_store.load_active(config)
        if active is not None:
            config, self.config_version = active
        self.config = config
        self.local_version = local_version
        # the controller keys pushed configs must be signed with (the running config's)
        self.trusted, self.trust_problem = load_keys(
            config.agent.controller_keys if config.agent.controller_keys is not None
            else self.local_config.agent.controller_keys)
        if self.trust_problem:
            log.error("pushed configs cannot all be verified: "
                      "cấu hình từ trung tâm sẽ bị từ chối nếu không kiểm được chữ ký",
                      extra={"reason": self.trust_problem})
        state_dir = config.agent.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        # All outbox (SQLite) work happens on this one thread, off the event loop.
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        self.outbox: Outbox | None = None
        self.prev_session = self.prev_last_seq = 0
        try:
            self.outbox = Outbox(state_dir / OUTBOX_FILE, limits)
            self.session, self.prev_session, self.prev_last_seq = self.outbox.start_session()
        except OutboxError as exc:
            log.error("outbox unavailable: reports will not survive an outage",
                      extra={"error": str(exc)})
            self.session = new_session_id()
        self.seq = 0
        self.unbuffered = 0
        self.ctx = CheckContext(center=config.center)
        self.hold = FaultHold(config.holds)
        self.devices: dict[str, DeviceStatus] = {d.id: DeviceStatus() for d in config.devices}
        # report by exception: what each device last sent on its own, and the devices whose
        # results since the last heartbeat were no news (confirmed in that heartbeat)
        self._sent: dict[str, Sent] = {}
        self._unchanged: dict[str, tuple[float, wire.Status]] = {}
        self._host_sent: Sent | None = None  # the box's readings last sent in a heartbeat
        # Set to poll a device now instead of at its next interval (a trap arrived).
        self.wake: dict[str, asyncio.Event] = {}
        self.traps_for_unknown = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._send_wake: asyncio.Event | None = None
        self._commit_wake: asyncio.Event | None = None
        self._send_pass: asyncio.Event | None = None  # set each time the sender has caught up
        self._status_shown: dict[str, object] | None = None  # status.json as last written
        self._status_at: float | None = None
        self._acks: list[int] = []
        self._ack_event: asyncio.Event | None = None
        self._controller_ack: wire.Ack | None = None  # the newest, not yet applied
        self.broker_url = broker_url
        self.device_tasks: dict[str, asyncio.Task[None]] = {}
        self._stop: asyncio.Event | None = None
        self._config_lock: asyncio.Lock | None = None
        # computed once: the birth is built on paho's thread, which must not read files
        self.inventory = inventory(Path(config.path), len(config.devices))
        from agent.updater import AgentUpdates

        # software updates: signed instructions in, outcomes in the birth (agent/updater.py)
        self.updates = AgentUpdates(state_dir, Path(self.local_config.path).parent,
                                    (config.center.id, config.agent.id), _credentials(config),
                                    str(self.inventory.get("software")))
        self._controller_acked_session = False
        self._update_inventory()
        self.link = self._make_link(config)

    def _make_link(self, config: Config) -> MqttLink:
        """The MQTT link for a config's broker settings (a pushed config may change them)."""
        self.confirm_by_controller = config.mqtt.confirm == "controller"
        settings = config.mqtt
        if self.broker_url is not None:
            from hcc_common.mqtt_settings import broker_from_url

            host_, port, tls = broker_from_url(self.broker_url)
            settings = replace(settings, host=host_, port=port, tls=tls)
        self.mqtt_settings = settings
        password = None
        if settings.password_file is not None:
            password = Path(settings.password_file).read_text().strip()
        c, a = config.center.id, config.agent.id
        from hcc_common.config_pull import pull_topic
        from hcc_common.release import update_topic

        subscriptions = [wire.config_topic(c, a), pull_topic(c, a), update_topic(c, a)]
        if self.confirm_by_controller:
            subscriptions.append(wire.ack_topic(c, a))
        return MqttLink(
            BrokerSettings(settings.host, settings.port, settings.tls, settings.keepalive,
                           settings.username, password, settings.ca_file),
            client_id=f"hcc-agent-{c}-{a}",
            will=wire.encode(wire.StateMessage(c, a, "offline", self.session, time.time())),
            birth=self._birth,
            subscriptions=subscriptions,
            on_message=self._from_network(self._on_message),
            on_published=self._from_network(self._acked),
            on_connected=self._from_network(self._connected),
        )

    def _update_inventory(self) -> None:
        self.inventory = {**self.inventory, "config_version": self.config_version,
                          "config_source": "pushed" if self.config is not self.local_config
                          else "local", "devices": len(self.config.devices)}
        if self.config is not self.local_config:
            self.inventory["local_config_version"] = self.local_version
            at_push = self.config_store.state().local_at_push
            # a local edit while a pushed config runs: ignored, and said so
            self.inventory["local_drift"] = int(at_push is not None
                                                and at_push != self.local_version)
        else:
            self.inventory.pop("local_config_version", None)
            self.inventory.pop("local_drift", None)
        # whether and with which keys this box verifies pushed configs (docs/security.md)
        self.inventory["config_push"] = describe(self.trusted, self.trust_problem)[:200]
        self.inventory.update(self.updates.inventory())
        if self.config_error:
            self.inventory["config_error"] = self.config_error[:300]
        else:
            self.inventory.pop("config_error", None)
        damage = self.outbox.damage if self.outbox is not None else []
        if damage:  # a damaged outbox was set aside in this run: the controller is told
            self.inventory["outbox_damaged"] = damage[-1].moved_to
            self.inventory["outbox_salvaged"] = sum(d.salvaged for d in damage)
            self.inventory["outbox_unreadable"] = sum(d.unreadable for d in damage)
        self._outbox_generation = self.outbox.generation if self.outbox is not None else 0

    def _birth(self) -> wire.Encoded:
        c, a = self.config.center.id, self.config.agent.id
        return wire.encode(wire.StateMessage(c, a, "online", self.session, time.time(),
                                             self.prev_session or None,
                                             self.prev_last_seq if self.prev_session else None,
                                             float(self.config.mqtt.keepalive),
                                             self.inventory))

    # -- thread bridges ------------------------------------------------------------------------
    def _from_network(self, fn: Callable[..., None]) -> Callable[..., None]:
        """paho calls back on its own thread: hop onto the event loop."""
        def call(*args: object) -> None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(fn, *args)
        return call

    def _acked(self, mid: int) -> None:
        self._acks.append(mid)
        if self._ack_event is not None:
            self._ack_event.set()

    def _on_message(self, incoming: Incoming) -> None:
        """The controller's retained commands to this box: a config, or an acknowledgement."""
        kind = wire.command_kind(incoming.topic)
        if kind is not None:
            from hcc_common import config_pull

            if config_pull.is_pull(incoming.topic):
                # not a command to run anything: the box sends the file it runs, to the
                # controllers only (the broker's ACL: no box reads config/current)
                self._answer_pull(incoming)
                return
            if kind == "update":
                self._take_update(incoming)
                return
            if kind != "config":  # no other command exists: nothing else is taken
                log.warning("unknown command from the controller ignored",
                            extra={"topic": incoming.topic[:200]})
                return
            push = _decoded(wire.decode_config, incoming, "config")
            if push is not None and self._loop is not None:
                self._loop.create_task(self.apply_pushed(push))
            return
        ack = _decoded(wire.decode_ack, incoming, "acknowledgement")
        if ack is not None:
            self._controller_ack = ack  # only the newest matters: each one says all it has
            if self.session in ack.sessions:  # the controller has this run's reports
                self._controller_acked_session = True
            if self._ack_event is not None:
                self._ack_event.set()

    def _answer_pull(self, incoming: Incoming) -> None:
        """`hcc-controller config pull`: the devices.yaml this box runs, sent to the controller
        (its own file, or the pushed version running instead of it)."""
        from hcc_common import config_pull

        try:
            req = config_pull.decode_pull(incoming.topic, incoming.payload)
        except config_pull.PullError as exc:
            log.warning("unreadable config pull from the controller", extra={"reason": str(exc)})
            return
        pushed = self.config is not self.local_config
        path = self.config_store.path(self.config.center.id, self.config_version) if pushed \
            else Path(self.local_config.path)
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.error("config pull: cannot read the config", extra={"error": str(exc)})
            return
        self.link.publish(config_pull.encode_current(config_pull.CurrentConfig(
            req.center, req.agent, req.request,
            self.config_version if pushed else config_version_of(Path(self.local_config.path)),
            "pushed" if pushed else "local", content)))
        log.info("config sent to the controller", extra={"request": req.request,
                                                          "source": "pushed" if pushed
                                                          else "local"})

    def _take_update(self, incoming: Incoming) -> None:
        """A signed cmd/update: verified, downloaded and staged off the event loop; the outcome
        goes to the controller in a fresh birth. An empty one is a withdrawn instruction."""
        from hcc_common.release import decode_update

        if not incoming.payload or self._loop is None:
            return
        cmd = _decoded(decode_update, incoming, "update instruction")
        if cmd is None:
            return

        async def take() -> None:
            outcome = await asyncio.get_running_loop().run_in_executor(
                None, self.updates.take, cmd, self.trusted)
            if outcome is not None:
                self._update_inventory()
                self.link.publish(self._birth())

        self._loop.create_task(take())

    async def _update_health(self, stop: asyncio.Event) -> None:
        """After an update: every device loop started and the controller acknowledged this
        run (or the broker did, mqtt.confirm: broker) -> the installer may keep this version."""
        while not stop.is_set():
            loops = all(d.id in self.device_tasks and not self.device_tasks[d.id].done()
                        for d in self.config.devices)
            reached = self.link.connected and (self._controller_acked_session
                                               or not self.confirm_by_controller)
            if loops and reached:
                if self.updates.confirm(self.session):
                    log.info("update confirmed healthy", extra={"version": self.updates.running})
                    # the installer's verdict, once given, to the controller in a fresh birth
                    while not stop.is_set() and self.updates.inventory().get(
                            "update_state") == "installing":
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 0.5)
                    self._update_inventory()
                    self.link.publish(self._birth())
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

    def _connected(self) -> None:
        if self._send_wake is not None:
            self._send_wake.set()

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

    # -- emitting reports ----------------------------------------------------------------------
    async def emit(self, report: wire.Result | wire.Heartbeat, priority: int) -> None:
        """Give the report the next seq, store it durably, then let the sender publish it."""
        self.seq += 1
        msg = wire.encode(replace(report, seq=self.seq))
        if self.outbox is not None:
            # staged for the next group commit (_committer): stored, then sent, within GROUP_S
            if await self._db(self.outbox.stage, msg, self.session, self.seq, priority) \
                    and self._commit_wake is not None:
                self._commit_wake.set()
            return
        self.link.publish(msg)

    async def _committer(self, stop: asyncio.Event) -> None:
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
                    await _sleep_or_event(stop, self._commit_wake, 5.0 if due is None else due)
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
                    self.link.publish(msg)

    async def _sender(self, stop: asyncio.Event) -> None:
        """Send until stopped; an outbox that cannot be read (damaged past repair) pauses
        sending, said in the log, and never ends the task."""
        while not stop.is_set():
            try:
                await self._send_until_stopped(stop)
            except OutboxError as exc:
                log.error("outbox unreadable: sending paused", extra={"error": str(exc)[:300]})
                await _sleep_or_stop(stop, 5.0)

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
                if self.confirm_by_controller:
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
            if self.link.connected and room > 0:
                again, resend = resend[:room], resend[room:]
                rows = again + await self._db(self.outbox.pending, last_sent, room - len(again))
                now = time.monotonic()
                for row in rows:
                    mid = self.link.publish_tracked(row.topic, row.payload, row.retain)
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

    # -- polling -------------------------------------------------------------------------------
    async def _device_loop(self, device: Device, stop: asyncio.Event) -> None:
        # Spread first polls over the interval so 30 devices do not all fire at once.
        await _sleep_or_stop(stop, random.uniform(0, min(device.interval, 5.0)))
        c, a = self.config.center.id, self.config.agent.id
        while not stop.is_set():
            started = time.monotonic()
            combined = await poller.poll(device, self.ctx)
            held = self.hold.apply(device.id, combined.faults, time.monotonic())
            if held != combined.faults and combined.status != "unreachable":
                combined = replace(combined, faults=held, status=status_of(held))
            now = time.time()
            await self._send_or_confirm(wire.Result(
                c, a, device.id, self.session, 0, now, device.type, device.name,
                combined.status, combined.metrics, combined.faults, combined.error))
            st = self.devices[device.id]
            st.status, st.last_poll = combined.status, time.time()
            st.faults, st.error = [f.code for f in combined.faults], combined.error
            elapsed = time.monotonic() - started
            jitter = random.uniform(-0.05, 0.05) * device.interval
            wake = self.wake.setdefault(device.id, asyncio.Event())
            await _sleep_or_event(stop, wake, max(0.0, device.interval - elapsed + jitter))
            wake.clear()

    def _start_device(self, device: Device) -> None:
        assert self._stop is not None
        self.devices.setdefault(device.id, DeviceStatus())
        self.device_tasks[device.id] = asyncio.create_task(self._device_loop(device, self._stop))
        log.info("device loop started", extra={"device": device.id})

    async def _stop_device(self, device_id: str) -> None:
        task = self.device_tasks.pop(device_id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.ctx.chosen_profiles.pop(device_id, None)
        self.ctx.previous_readings.pop(device_id, None)

    async def apply_pushed(self, push: wire.ConfigPush) -> None:
        """A config from the controller: validated as any devices.yaml, then applied device by
        device without a restart. The same version again changes nothing; a refused or
        rolled-back version is never applied again."""
        assert self._config_lock is not None
        async with self._config_lock:
            state = self.config_store.state()
            why = unverified(push, self.trusted, state.issued)
            if why is not None:
                # not the controller's: never remembered as refused by version (a forger
                # could otherwise bar the controller's own later push of that text)
                self._report_config(error=f"refused a config not signed by the controller: "
                                          f"{why}")
                log.error("pushed config refused: not signed by a trusted controller key "
                          "(cấu hình bị từ chối: không có chữ ký hợp lệ của trung tâm)",
                          extra={"version": push.version, "author": push.author[:60],
                                 "reason": why[:300]})
                return
            state.issued = push.issued
            self.config_store.save_state(state)
            if push.version == self.config_version:
                log.info("config unchanged", extra={"version": push.version})
                return
            if push.version in state.refused:
                return
            try:
                new = await asyncio.to_thread(self.config_store.validate, push, self.config,
                                              self.local_config)
            except ConfigError as exc:
                state.refused[push.version] = str(exc)
                self.config_store.save_state(state)
                self._report_config(error=f"refused {push.version}: {exc}")
                log.error("pushed config refused", extra={"version": push.version,
                                                          "error": str(exc)})
                return
            previous, previous_version = self.config, self.config_version
            await self._switch(new, push.version)
            state.active = push.version
            if state.local_at_push is None:
                state.local_at_push = self.local_version
            self.config_store.save_state(state)
            log.info("pushed config applied", extra={"version": push.version,
                                                     "author": push.author})
            if new.mqtt != previous.mqtt:
                # a new broker or credentials: keep them only if the broker answers in time
                await self._confirm_or_roll_back(previous, previous_version, push.version)
            else:
                self._report_config(error=None, good=push.version)

    async def reload_local(self) -> None:
        """devices.yaml read again (SIGHUP: `systemctl reload hcc-agent`; or an edit seen at a
        heartbeat) and applied device by device, as a push is. A file with a mistake is not
        applied: the running devices go on, the error is logged with file:line."""
        from agent import config as agent_config

        assert self._config_lock is not None
        path = Path(self.local_config.path)
        async with self._config_lock:
            version = await asyncio.to_thread(config_version_of, path)
            if version == self.local_version:
                log.info("config unchanged", extra={"version": version})
                return
            try:
                new = await asyncio.to_thread(agent_config.load, path)
            except ConfigError as exc:
                self.local_version = version  # said once, not at every heartbeat
                log.error("devices.yaml not applied: the running devices go on",
                          extra={"error": str(exc)[:2000]})
                return
            self.local_version = version
            if self.config is not self.local_config:
                self.local_config = new
                log.info("devices.yaml edited while a pushed config runs: ignored (drift)")
                self._report_config(self.config_error)
                return
            await self._switch(new, version)
            self.local_config = new
            self._update_inventory()
            self.link.publish(self._birth())
            sdnotify.notify(f"STATUS=watching {len(new.devices)} devices")
            log.info("devices.yaml applied", extra={"version": version,
                                                    "devices": len(new.devices)})

    async def _switch(self, new: Config, version: str) -> None:
        changes = device_changes(self.config, new)
        for d in (*changes.removed, *changes.changed):
            await self._stop_device(d.id)
            if d in changes.removed:
                self.devices.pop(d.id, None)
        mqtt_changed = new.mqtt != self.config.mqtt
        self.config, self.config_version = new, version
        # a pushed config may name the keys further pushes need (a key rotation); without
        # any, the local file's keys still hold
        self.trusted, self.trust_problem = load_keys(
            new.agent.controller_keys if new.agent.controller_keys is not None
            else self.local_config.agent.controller_keys)
        self.ctx.center = new.center
        self.hold = FaultHold(new.holds)
        for d in (*changes.added, *changes.changed):
            self._start_device(d)
        if mqtt_changed:
            old = self.link
            await asyncio.get_running_loop().run_in_executor(None, old.stop)
            self.link = self._make_link(new)
            self.link.start()
        log.info("config switched", extra={
            "version": version, "added": len(changes.added), "removed": len(changes.removed),
            "changed": len(changes.changed), "unchanged": len(changes.unchanged)})

    async def _confirm_or_roll_back(self, previous: Config, previous_version: str,
                                    version: str) -> None:
        deadline = time.monotonic() + self.config.agent.config_confirm_s
        while time.monotonic() < deadline and not self.link.connected:
            await asyncio.sleep(0.2)
        if self.link.connected:
            self._report_config(error=None, good=version)
            return
        reason = (f"rolled back {version}: no broker connection within "
                  f"{self.config.agent.config_confirm_s:g} s ({self.mqtt_settings.url})")
        log.error("pushed config rolled back", extra={"version": version, "error": reason})
        state = self.config_store.state()
        state.refused[version] = reason
        state.active = previous_version if previous is not self.local_config else None
        self.config_store.save_state(state)
        await self._switch(previous, previous_version)
        self._report_config(error=reason)

    def _report_config(self, error: str | None, good: str | None = None) -> None:
        """Tell the controller (a fresh birth, retained) which version runs, and any error."""
        self.config_error = error
        if good is not None:
            state = self.config_store.state()
            state.good = good
            self.config_store.save_state(state)
        self._update_inventory()
        self.link.publish(self._birth())

    def on_trap(self, source: str, trap_oid: str) -> None:
        """A trap means "something changed": poll every device at that address right away."""
        matched = [d for d in self.config.devices if d.host == source]
        if not matched:
            self.traps_for_unknown += 1
            log.warning("trap from an address no device has", extra={"source": source,
                                                                    "trap": trap_oid})
        for d in matched:
            self.wake.setdefault(d.id, asyncio.Event()).set()

    async def _send_or_confirm(self, r: wire.Result) -> None:
        """A result in a message of its own, or (report by exception, nothing new) a line in
        the next heartbeat."""
        agent = self.config.agent
        if agent.report == "changes" and not is_news(
                self._sent.get(r.device), r.status, r.faults, r.metrics, r.ts, agent.refresh_s,
                agent.deadbands):
            self._unchanged[r.device] = (r.ts, r.status)
            return
        await self.emit(r, EVENT if r.faults else TELEMETRY)
        self._sent[r.device] = Sent(r.status, r.faults, dict(r.metrics), r.ts)
        self._unchanged.pop(r.device, None)

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        interval = self.config.agent.heartbeat
        c, a = self.config.center.id, self.config.agent.id
        next_at = time.monotonic()
        while not stop.is_set():
            # On a fixed grid, not "sleep after the work": heartbeats stay `interval` apart.
            next_at += interval
            outcome = await host.run(self.config.agent.state_dir)
            box = combine([outcome])
            now = time.time()
            by_exception = self.config.agent.report == "changes"
            # The box reports its own faults (under-voltage, disk full...) as a device of its
            # own, by exception like the others when the box is set so.
            await self._send_or_confirm(wire.Result(
                c, a, a, self.session, 0, now, "box", BOX_NAME, box.status, box.metrics,
                box.faults, box.error))
            backlog = await self.backlog()
            host_metrics: dict[str, MetricValue] = {
                **outcome.metrics, "outbox_count": backlog.count,
                "outbox_oldest_s": backlog.oldest_age_s, "outbox_bytes": backlog.bytes,
                "outbox_dropped": backlog.dropped_telemetry + backlog.dropped_events,
                "unbuffered": self.unbuffered}
            if by_exception:
                # the host readings only when they moved past their deadbands (or now and
                # then); an empty host tells the controller "as before"
                if is_news(self._host_sent, "ok", (), host_metrics, now,
                           self.config.agent.refresh_s, self.config.agent.deadbands):
                    self._host_sent = Sent("ok", (), host_metrics, now)
                else:
                    host_metrics = {}
            kept = None
            if self.outbox is not None:
                with contextlib.suppress(OutboxError):
                    kept = await self._db(self.outbox.oldest)
                if self.outbox.generation != self._outbox_generation:
                    self._report_config(self.config_error)  # a fresh birth: outbox set aside
            unchanged, self._unchanged = self._unchanged, {}
            await self.emit(wire.Heartbeat(c, a, self.session, 0, time.time(), interval,
                                           host_metrics, backlog=backlog.count,
                                           kept_from=kept or (self.session, self.seq + 1),
                                           unchanged=unchanged),
                            TELEMETRY)
            await asyncio.get_running_loop().run_in_executor(
                None, self._write_status, outcome.metrics, backlog)
            # a local edit of devices.yaml while a pushed config runs: report it (drift)
            local = await asyncio.to_thread(config_version_of, Path(self.local_config.path))
            if local != self.local_version:
                if self.config is not self.local_config:
                    self.local_version = local
                    self._report_config(self.config_error)
                else:
                    await self.reload_local()  # an edited devices.yaml: applied, no restart
            now = time.monotonic()
            if next_at < now:
                next_at = now  # the box was suspended or overloaded: no burst to catch up
            await _sleep_or_stop(stop, next_at - now)

    async def backlog(self) -> Backlog:
        if self.outbox is not None:
            with contextlib.suppress(OutboxError):
                return await self._db(self.outbox.backlog)
        return Backlog(self.link.unacked(), 0.0, 0, 0, 0)

    def _write_status(self, host_metrics: object, backlog: Backlog) -> None:
        now = time.time()
        status: dict[str, object] = {
            "center": self.config.center.id, "agent": self.config.agent.id,
            "session": self.session, "seq": self.seq, "broker": self.mqtt_settings.url,
            "connected": self.link.connected, "backlog": backlog.count,
            "broker_problem": vars(self.link.last_failure)
            if self.link.last_failure is not None and not self.link.connected else None,
            "backlog_oldest_s": backlog.oldest_age_s, "outbox_bytes": backlog.bytes,
            "dropped_telemetry": backlog.dropped_telemetry,
            "dropped_events": backlog.dropped_events, "unbuffered": self.unbuffered,
            "traps_from_unknown": self.traps_for_unknown,
            "outbox": str(self.config.agent.state_dir / OUTBOX_FILE)
            if self.outbox is not None else None,
            "outbox_damaged": [vars(d) for d in self.outbox.damage]
            if self.outbox is not None else [],
            "written_at": now, "host": host_metrics,
            # copies: the status kept to compare with must not change with the devices
            "devices": {k: dict(vars(v)) for k, v in self.devices.items()},
        }
        path = self.config.agent.state_dir / STATUS_FILE
        if path.exists() and not rewrite_due(self._status_shown, self._status_at, status, now):
            return
        tmp = path.with_suffix(".tmp")
        try:
            # atomic: a reader sees the old file or the new one, never half of one
            tmp.write_text(json.dumps(status, ensure_ascii=False, indent=1))
            os.replace(tmp, path)
            self._status_shown, self._status_at = status, now
        except OSError as exc:
            log.warning("cannot write status file", extra={"path": str(path),
                                                           "error": exc.strerror})

    async def run(self, stop: asyncio.Event) -> None:
        log.info("agent starting", extra={"center": self.config.center.id,
                                         "agent": self.config.agent.id, "session": self.session,
                                         "devices": len(self.config.devices),
                                         "broker": self.mqtt_settings.url})
        self._loop = asyncio.get_running_loop()
        self._send_wake = asyncio.Event()
        self._commit_wake = asyncio.Event()
        self._send_pass = asyncio.Event()
        self._ack_event = asyncio.Event()
        self.link.start()
        receiver = None
        if self.config.traps is not None:
            from agent.traps import TrapReceiver

            receiver = TrapReceiver(self.config.traps, self.on_trap)
            receiver.start()
        self._stop = stop
        self._config_lock = asyncio.Lock()
        for d in self.config.devices:
            self._start_device(d)
        tasks = [asyncio.create_task(self._heartbeat_loop(stop)),
                 asyncio.create_task(self._update_health(stop))]
        committer = sender = None
        send_stop = asyncio.Event()  # the sender outlives the pollers: it sends the last group
        if self.outbox is not None:
            sender = asyncio.create_task(self._sender(send_stop))
            committer = asyncio.create_task(self._committer(stop))
        tasks.append(asyncio.create_task(sdnotify.watchdog(stop)))
        sdnotify.notify(f"READY=1\nSTATUS=watching {len(self.config.devices)} devices")
        try:
            await stop.wait()
        finally:
            tasks += list(self.device_tasks.values())
            for t in tasks:
                t.cancel()
            sdnotify.notify("STOPPING=1")
            await asyncio.gather(*tasks, return_exceptions=True)
            if committer is not None:  # the last group: stored, then handed to the broker
                await asyncio.gather(committer, return_exceptions=True)
            if sender is not None:
                self._send_pass.clear()
                self._send_wake.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._send_pass.wait(), timeout=2.0)
                send_stop.set()
                await asyncio.gather(sender, return_exceptions=True)
            bye = wire.StateMessage(self.config.center.id, self.config.agent.id, "offline",
                                    self.session, time.time())
            await asyncio.get_running_loop().run_in_executor(
                None, self.link.stop, wire.encode(bye))
            self.ctx.close()
            if receiver is not None:
                receiver.close()
            if self.outbox is not None:
                await self._db(self.outbox.close)
            self._db_thread.shutdown(wait=True)
            log.info("agent stopped")


def _decoded(decode: Callable[[str, bytes], T], incoming: Incoming, what: str) -> T | None:
    try:
        return decode(incoming.topic, incoming.payload)
    except wire.WireError as exc:
        log.warning(f"unreadable {what} from the controller",
                    extra={"topic": incoming.topic[:200], "reason": str(exc)[:300]})
        return None


async def _sleep_or_event(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def run_forever(config: Config, broker_url: str | None) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        agent = Agent(config, broker_url)
        reloads: set[asyncio.Task[None]] = set()

        def on_hup() -> None:  # systemctl reload hcc-agent (ExecReload=kill -HUP)
            if agent._config_lock is None:
                return  # not started yet: it reads the file as it starts
            task = loop.create_task(agent.reload_local())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        await agent.run(stop)

    asyncio.run(main())


def _credentials(config: Config) -> tuple[str, str] | None:
    """The box's broker user and password: what it fetches releases with (agent/updater.py)."""
    if config.mqtt.username is None or config.mqtt.password_file is None:
        return None
    try:
        return config.mqtt.username, Path(config.mqtt.password_file).read_text().strip()
    except OSError:
        return None
