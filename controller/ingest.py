"""The ingest loop: MQTT batches in, the pure fleet state applied, one commit a batch, bad input set aside."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.ack_publisher import AckPublisher
from controller.config import ControllerConfig
from controller.config_publisher import ConfigPublisher
from controller.history import MAX_TRACKED, tracked_count
from controller.partition_manager import PartitionManager
from controller.receiver import Received, ReceiverDied, ReceiverLink
from controller.state import AgentInfo, Effect, Fleet
from controller.store import AlertChange, DeadLetter, Store
from controller.write_behind import WriteBehind
from hcc_common import config_pull, wire

if TYPE_CHECKING:
    from controller.rollout_service import RolloutDriver  # made by the composition root

log = logging.getLogger("hcc.controller")

BATCH_MAX = 2000
BATCH_WINDOW_S = 0.02
TICK_S = 1.0
SLOW_STEP_S = 0.5  # a step (apply and commit) longer than this is logged
SYNC_S = 2.0  # with several controllers: how often open alerts are re-read from the database
# New readings that change no status or fault are written behind, this often: a crash loses at
# most this much of "latest value" (alerts, status changes and seq accounting are per batch).
DEVICE_FLUSH_S = 5.0
DEVICE_FLUSH_CHUNK = 2000  # device rows written behind per batch, at most
GC_YOUNG = 20_000  # allocations between young collections (Python's default: 700)
GC_FREEZE_S = 10.0
# A box sends a few reports a second; far more is a bug or an attack: bounded per agent.
RATE_PER_AGENT = 50.0      # messages per second of the agent's own time, sustained
BURST_PER_AGENT = 2000.0
# An agent's clock may run ahead of ours by this much before its timestamps stop buying rate.
RATE_CLOCK_SLACK_S = 300.0
# A step that held ingest this long (a commit on a database or disk that stalls without
# failing, a huge batch) is a stall of ours, as a failed commit is: what the boxes sent
# meanwhile waits unacknowledged at the broker (which hands us at most its in-flight window,
# 20 QoS 1 messages by default) or in our pipe, and their silence in it is not theirs.
INGEST_STALL_S = 2.0


@dataclass
class Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token bucket per agent, refilled by the agent's own timestamps, not by when messages
    arrive: a backlog the broker delivers after an outage was made at the agent's normal pace
    and goes through at full speed, while a live flood (many messages in little agent time)
    is held back. Pure: the times are passed in."""

    def __init__(self, rate: float = RATE_PER_AGENT, burst: float = BURST_PER_AGENT) -> None:
        self.rate, self.burst = rate, burst
        self.buckets: dict[tuple[str, str], Bucket] = {}

    def allow(self, key: tuple[str, str], agent_ts: float, received_at: float) -> bool:
        at = min(agent_ts, received_at + RATE_CLOCK_SLACK_S)
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = Bucket(self.burst, at)
        if at > b.at:
            b.tokens = min(self.burst, b.tokens + (at - b.at) * self.rate)
            b.at = at
        if b.tokens < 1.0:
            return False
        b.tokens -= 1.0
        return True


@dataclass
class Counters:
    received: int = 0
    malformed: int = 0
    applied: int = 0
    internal_errors: int = 0
    rate_limited: int = 0
    dead_letters: int = 0
    unknown_agent: int = 0
    batches: int = 0
    results: int = 0     # device results applied: one per result, one per line of a heartbeat
    not_ours: int = 0    # messages of centers another controller serves (partitions)



class IngestLoop:
    """One thread owns the fleet state: it takes batches from the MQTT process, applies them,
    commits each in one transaction and only then lets the broker forget them. Its services
    (partitions, acks, configs, rollouts) are handed in by the composition root
    (controller/service.py)."""

    def __init__(self, config: ControllerConfig, store: Store, link: ReceiverLink, *,
                 partitions: PartitionManager | None, acks: AckPublisher | None,
                 configs: ConfigPublisher, rollouts: RolloutDriver,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.counters = Counters()
        self.store = store
        self.link = link
        self.partitions = partitions  # None: every center is ours
        self.acks = acks  # None: agents are not told what is committed (acks: false)
        self.configs = configs
        self.rollouts = rollouts
        # Silence counts only from here: when we last took centers over, or when the store
        # commits again after a stall (its messages waited in the pipe, not the boxes' fault)
        self._listening_floor = 0.0
        self._store_failing_since: float | None = None  # first failed commit of a stall
        # how many messages at the head of _held were already charged to their agent's rate
        # (applied in a batch the store refused): applied again, they are not charged again
        self._charged = 0
        self.fleet, self.write_behind = self._stored_fleet()
        # A country's state is millions of objects the cyclic collector would walk again and
        # again (0.3 s a full pass at 300,000 devices, all of it a stall of ingest): what is
        # loaded now is left out of its passes, and young passes come less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 10, 10)
        self._frozen_at = time.monotonic()
        self.limiter = RateLimiter()
        self.on_commit: Callable[[Sequence[AlertChange]], None] | None = None
        self.last_step = time.monotonic()  # when the last step completed
        self._synced = 0.0
        self._devices_flushed = time.monotonic()
        self._next_tick = 0.0
        self._stop = threading.Event()
        self._held: list[Received] = []  # received, not yet applied (a batch's overflow)
        self._dead: list[DeadLetter] = []  # of the batch being applied

    def known_agents(self) -> dict[str, frozenset[str]]:
        """Each center's boxes: declared in controller.yaml, and enrolled."""
        known = {c: set(a) for c, a in self.config.known_agents.items()}
        for center, agents in self.store.enrolled_agents().items():
            known.setdefault(center, set()).update(agents)
        return {c: frozenset(a) for c, a in known.items()}

    def _stored_fleet(self) -> tuple[Fleet, WriteBehind]:
        """The fleet as the database knows it, with nothing waiting to be written: at start,
        after a failed commit and after a change of partitions."""
        fleet = Fleet(self.config.rules, self.config.alert_rules, self.config.hours,
                      self.known_agents(),
                      center_names={c.id: c.name for c in self.config.centers})
        agents, devices = self.store.agents(), self.store.devices()
        keys, timers = self.store.open_alert_keys(), self.store.timers()
        if self.partitions is not None:  # only the centers of the partitions we hold
            mine = self.partitions.mine
            agents = [a for a in agents if mine(a.center)]
            devices = [d for d in devices if mine(d.center)]
            keys = [k for k in keys if mine(k.center)]
            timers = [t for t in timers if mine(t.key.center)]
        write_behind = WriteBehind()
        fleet.restore(agents, devices, keys, timers, write_behind.changes)
        return fleet, write_behind

    def _reload(self) -> None:
        self.fleet, self.write_behind = self._stored_fleet()

    # -- partitions: each center's stream to exactly one controller ---------------------------
    def _lease_round(self, partitions: PartitionManager) -> None:
        got, keep = partitions.start_round()
        if keep != partitions.owned:
            self._repartition(partitions, keep)
        partitions.finish_round(got)  # their state is stored: another may take them

    def _repartition(self, partitions: PartitionManager, keep: frozenset[int]) -> None:
        """Serve exactly `keep` from now on: stop following the centers we give up, store
        everything we know, read the state of what we serve back from the database (another
        controller may have changed it), and follow the centers we take over."""
        lost, gained = partitions.owned - keep, keep - partitions.owned
        partitions.stop_following_outside(keep)
        # timers, readings written behind and agents: all of it, before another reads it
        self._persist(self.write_behind.everything(self.fleet))
        partitions.owned = keep
        if gained:
            self._listening_floor = time.time()
        self._reload()
        if self.acks is not None:
            self.acks.keep_only(partitions.mine)
        partitions.follow_all([*self.known_agents(), *(a.center for a in self.store.agents())])
        log.info("partitions", extra={"held": len(keep), "gained": sorted(gained),
                                      "lost": sorted(lost), "centers": partitions.followed})

    # -- one message ----------------------------------------------------------------------------
    def handle(self, topic: str, payload: bytes, received_at: float,
               retained: bool = False, charged: bool = False) -> list[Effect]:
        """Decode and apply one message. What cannot be decoded or applied becomes a dead
        letter (kept with its reason), never an exception that stops ingest."""
        self.counters.received += 1
        if config_pull.is_current(topic):
            refused = self.configs.take_pull(topic, payload)  # a box's answer to `config pull`
            if refused is not None:
                if refused.malformed:
                    self.counters.malformed += 1
                self._dead_letter(topic, refused.payload, received_at, refused.reason)
            return []
        try:
            parts = wire.parse_topic(topic)
            if parts is None:
                return []  # our own alert feed or acks, or another tool's topic
            if self.partitions is not None and not self.partitions.serve(parts.center):
                # another controller's center (a birth, or one in flight as we gave it up):
                # not applied here; its agent sends again what its new controller lacks
                self.counters.not_ours += 1
                return []
            msg = wire.decode(topic, payload, parts)
            if type(msg) is wire.Result and len(msg.metrics) > MAX_TRACKED and \
                    tracked_count(msg.metrics) > MAX_TRACKED:
                raise wire.WireError(f"metrics hold {tracked_count(msg.metrics)} readings the "
                                     f"history keeps, at most {MAX_TRACKED}")
        except wire.WireError as exc:
            self.counters.malformed += 1
            self._dead_letter(topic, payload, received_at, f"malformed: {exc}")
            return []
        if not charged and not self.limiter.allow((msg.center, msg.agent), msg.ts, received_at):
            # Not applied and not counted as received: the controller's ack lists it as
            # missing, and the agent, which still holds it, sends it again later.
            self.counters.rate_limited += 1
            if self.counters.rate_limited % 1000 == 1:
                log.warning("agent over its rate limit: messages deferred to a resend",
                            extra={"center": msg.center, "agent": msg.agent,
                                   "deferred_total": self.counters.rate_limited})
            return []
        self.counters.applied += 1
        if type(msg) is wire.Result:
            self.counters.results += 1
        elif type(msg) is wire.Heartbeat:
            self.counters.results += len(msg.unchanged)
        try:
            return self.fleet.apply(msg, received_at, retained, self.write_behind.changes)
        # One message, whatever it brings, must not stop every center's ingest.
        except Exception as exc:
            self.counters.internal_errors += 1
            log.exception("message could not be applied", extra={"topic": topic[:200]})
            self._dead_letter(topic, payload, received_at,
                              f"could not be applied: {type(exc).__name__}: {exc}")
            return []

    def _dead_letter(self, topic: str, payload: bytes, received_at: float, reason: str) -> None:
        self.counters.dead_letters += 1
        self._dead.append(DeadLetter(received_at, topic, payload, reason))
        if self.counters.dead_letters <= 10 or self.counters.dead_letters % 1000 == 0:
            log.warning("message set aside as a dead letter",
                        extra={"topic": topic[:200], "bytes": len(payload),
                               "reason": reason[:300], "total": self.counters.dead_letters})

    # -- one batch ------------------------------------------------------------------------------
    def step(self, block_s: float, final: bool = False) -> int:
        """Take one batch from the MQTT process, apply it, write it in one transaction
        (`final`: also write every reading held back)."""
        effects: list[Effect] = []
        if self.partitions is not None and self.partitions.round_due():
            self._lease_round(self.partitions)
        taken = self._held or self.link.receive(block_s)
        # Gather a little longer: each batch costs one commit (an fsync) and one write of the
        # agents it touched, which a batch of 20 messages would pay 20 times over.
        gather_until = time.monotonic() + BATCH_WINDOW_S
        while taken and len(taken) < BATCH_MAX:
            more = self.link.receive(max(0.0, gather_until - time.monotonic()))
            if not more:
                break
            taken.extend(more)
        taken, self._held = taken[:BATCH_MAX], taken[BATCH_MAX:]
        counted = bool(taken)
        # A full batch means a backlog at our end: agents are not silent, we are behind.
        behind = len(taken) >= BATCH_MAX
        self.fleet.listening_since = max(self.link.up_since, self._listening_floor)
        handle = self.handle
        t_apply = time.monotonic()
        try:
            charged, self._charged = min(self._charged, len(taken)), 0
            for i, (topic, payload, received_at, _mid, _qos, retain) in enumerate(taken):
                effects.extend(handle(topic, payload, received_at, retain, i < charged))
            if self.config.share_group is not None and time.monotonic() - self._synced > SYNC_S:
                # Effects not yet written count as ours: write them before looking.
                if effects:
                    self._persist(effects)
                    effects = []
                self.fleet.sync_open_alerts(set(self.store.open_alert_keys()),
                                            self.write_behind.changes)
                self._synced = time.monotonic()
            now = self.clock()
            if now >= self._next_tick or final:
                # The timers look at every agent: once a second (or at the next silence deadline),
                # not once per batch, which under load comes every few milliseconds.
                # While the store cannot commit, no box is judged silent: what it sent waits at
                # the broker, and the fleet is read again from the store at each retry.
                effects.extend(self.fleet.tick(
                    now, check_silence=not behind and self._store_failing_since is None,
                    changes=self.write_behind.changes))
                self._next_tick = min(now + TICK_S, self.fleet.next_silence_deadline)
                if time.monotonic() - self._frozen_at >= GC_FREEZE_S:
                    # Set what survived the young collections aside (freeze costs nothing): the
                    # oldest generation's passes then walk seconds of new objects, never the
                    # whole fleet (a full pass over 300,000 devices' state held ingest for
                    # seconds, and a collect before each freeze still 0.5 s). The state has no
                    # reference cycles; the rare cyclic garbage caught here is kept, not freed.
                    gc.freeze()
                    self._frozen_at = time.monotonic()
            effects.extend(self.write_behind.agents(self.fleet))
            effects.extend(self.write_behind.timers(self.fleet))
            started = time.monotonic()
            if final or started - self._devices_flushed >= DEVICE_FLUSH_S:
                # a slice at a time, oldest first: 40,000 rows in one commit held every alert
                # behind them for a second
                effects.extend(self.write_behind.devices(
                    self.fleet, None if final else DEVICE_FLUSH_CHUNK))
                if final or not self.write_behind.readings_waiting:
                    self._devices_flushed = started
            # rollouts read and write the store too: inside the guarded step like the rest
            effects.extend(self.rollouts.tick(self.fleet.agents.values))
            t_store = time.monotonic()
            if effects or counted:
                try:
                    self._persist(effects)
                except self.store.db.transient:
                    raise  # the whole step is tried again (below)
                except Exception as exc:  # noqa: BLE001 - data one message brought: find it
                    log.error("a batch could not be stored; storing its messages one by one",
                              extra={"error": f"{type(exc).__name__}: {str(exc)[:300]}",
                                     "messages": len(taken)})
                    self._isolate(taken)
        except self.store.db.transient:
            # Any read or write of the store in this step failed (the batch's commit, a
            # rollout's step, a shared-group sync): what was taken is applied in memory, not
            # stored, not acknowledged. The broker will not send it again on this connection
            # (its in-flight window stays full until we acknowledge), so we keep it and apply
            # it again after a reload.
            self._held = taken + self._held
            self._charged = len(taken)
            self._dead = []
            raise
        self._store_dead_letters()
        t_done = time.monotonic()
        if self._store_failing_since is not None or t_done - t_apply > INGEST_STALL_S:
            self._ingest_resumed(t_done - t_apply)
        if t_done - t_apply > SLOW_STEP_S:
            # what the desk sees as late alerts: said, with where the time went
            log.warning("ingest step slow", extra={
                "messages": len(taken), "effects": len(effects),
                "apply_s": round(t_store - t_apply, 3), "store_s": round(t_done - t_store, 3)})
        # Only now, with the batch committed, may the broker forget these messages.
        self.link.ack([(mid, qos) for _t, _p, _r, mid, qos, _ret in taken])
        if self.acks is not None:
            self.acks.publish_due(final)
        self._config_round()
        # a step counts when it is done: committed and acknowledged (the watchdog looks here)
        self.last_step = time.monotonic()
        return len(taken)

    def _config_round(self) -> None:
        """Every few seconds: config pulls asked, boxes enrolled meanwhile admitted (and, with
        partitions, their centers followed), desired configs published."""
        if not self.configs.due():
            return
        self.configs.publish_pulls()
        self.fleet.known_agents = self.known_agents()  # a box enrolled meanwhile
        if self.partitions is not None:
            self.partitions.learn(self.fleet.known_agents)
        self.configs.publish_configs()

    def _ingest_resumed(self, step_s: float) -> None:
        """Ingest goes on after a stall of ours (failed commits, or a step that took long): the
        silence of every box counts from now, so no box is called offline for the time we
        could not ingest what it sent (a box that is really gone is called so one silence
        limit later)."""
        now = time.time()
        failed = self._store_failing_since is not None
        stalled_s = now - self._store_failing_since if self._store_failing_since is not None \
            else step_s
        self._store_failing_since = None
        self._listening_floor = max(self._listening_floor, now)
        log.warning("store commits again after a stall; boxes' silence counts from now"
                    if failed else "ingest step stalled; boxes' silence counts from now",
                    extra={"stalled_s": round(stalled_s, 1)})

    def _isolate(self, taken: list[Received]) -> None:
        """Apply and store a failed batch message by message from the stored state; the one(s)
        that cannot be stored become dead letters, the others are stored as usual."""
        self._dead = []
        self._reload()
        for topic, payload, received_at, _mid, _qos, retain in taken:
            # charged to its agent's rate when the batch was applied
            effects = self.handle(topic, payload, received_at, retain, charged=True)
            effects.extend(self.write_behind.agents(self.fleet))
            effects.extend(self.write_behind.timers(self.fleet))
            try:
                self._persist(effects)
            except self.store.db.transient:
                self._held = taken + self._held  # those stored already come back as duplicates
                self._charged = len(taken)
                raise
            except Exception as exc:  # noqa: BLE001 - this message is the one: set it aside
                self.counters.internal_errors += 1
                self._reload()
                self._dead_letter(topic, payload, received_at,
                                  f"could not be stored: {type(exc).__name__}: {exc}")

    def _store_dead_letters(self) -> None:
        dead, self._dead = self._dead, []
        try:
            self.store.add_dead_letters(dead)
        except self.store.db.transient:
            self._dead = dead + self._dead
            raise

    def _recover_store(self) -> None:
        try:
            if self.store.db.broken():
                self.store.reopen()
                if self.partitions is not None:
                    self.partitions.use_db(self.store.db)
            self._reload()
            log.warning("database reachable again; state reloaded")
        except self.store.db.errors as exc:
            log.error("database still unreachable", extra={"error": str(exc)[:300]})

    def _persist(self, effects: list[Effect]) -> None:
        self.counters.unknown_agent = self.fleet.unknown_agent_total
        changes = self.store.write(effects, stats=dict(vars(self.counters)))
        self.counters.batches += 1
        if self.acks is not None:
            for e in effects:
                if isinstance(e, AgentInfo):
                    self.acks.committed(e)
        for change in changes:
            row = change.alert
            log.info(f"alert {change.event}", extra={"id": row.id, "center": row.center,
                                                    "agent": row.agent, "device": row.device or "-",
                                                    "code": row.code, "severity": row.severity})
        if changes and self.on_commit is not None:
            self.on_commit(changes)  # the feed sends them as written, without reading them

    # -- the thread -----------------------------------------------------------------------------
    def run(self) -> None:
        log.info("controller starting", extra={"broker": self.config.broker.url,
                                              "db": str(self.config.db)})
        self.link.start()
        try:
            while not self._stop.is_set():
                try:
                    self.step(max(0.0, min(TICK_S, self._next_tick - self.clock())))
                except self.store.db.transient as exc:
                    self.counters.internal_errors += 1
                    if self._store_failing_since is None:
                        self._store_failing_since = time.time()
                    log.error("could not store a batch; retrying from the stored state",
                              extra={"error": str(exc)[:300]})
                    self._stop.wait(1.0)
                    self._recover_store()
                except ReceiverDied as exc:
                    # Whatever it held unacked, the broker delivers again to the new one.
                    self.counters.internal_errors += 1
                    log.error("MQTT process died; starting a new one", extra={"error": str(exc)})
                    self._held, self._charged = [], 0
                    self._stop.wait(1.0)
                    self.link.restart()
        finally:
            # Drain what we hold while the link is up, so its acks still reach the broker.
            try:
                while self.step(0.0, final=True):
                    pass
            except ReceiverDied:
                pass
            self.link.stop()
            if self.partitions is not None:
                try:
                    self.partitions.leave()  # everything stored: the others take over at once
                except self.store.db.errors as exc:
                    log.warning("leases not given back; they lapse", extra={"error": str(exc)})
            self.store.close()
            log.info("controller stopped", extra={"received": self.counters.received,
                                                 "malformed": self.counters.malformed})

    def stop(self) -> None:
        self._stop.set()

    def ingest_healthy(self) -> bool:
        """The ingest loop turns: it took a step lately (it steps at least once a second)."""
        return time.monotonic() - self.last_step < self.config.ingest_stuck_after_s
