"""The running controller: MQTT in, pure state in between, SQLite out; batched, never killed by bad input."""

from __future__ import annotations

import gc
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.config import ControllerConfig
from controller.history import MAX_TRACKED, tracked_count
from controller.leases import Leases
from controller.partitions import STATE_FILTER, filters_of, partition_of
from controller.receiver import LinkSettings, Received, ReceiverDied, ReceiverLink
from controller.state import AgentInfo, Effect, Fleet
from controller.store import AlertChange, DeadLetter, Store
from controller.views import change_json
from hcc_common import config_pull, sdnotify, wire

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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
CHECKPOINT_EVERY_S = 5.0  # SQLite's log moved into the database file, off the ingest thread
# A box sends a few reports a second; far more is a bug or an attack: bounded per agent.
RATE_PER_AGENT = 50.0      # messages per second of the agent's own time, sustained
BURST_PER_AGENT = 2000.0
# An agent's clock may run ahead of ours by this much before its timestamps stop buying rate.
RATE_CLOCK_SLACK_S = 300.0
# Acknowledgements to agents (what they may delete from their outbox): at most this often. No
# latency rides on them (an agent only keeps a few seconds more on disk), while a country's
# 10,000 boxes acknowledged every half second would add 20,000 messages a second.
ACK_EVERY_S = 5.0
ACK_IDLE_S = 30.0
# How often the database is asked whether a box's desired config changed.
CONFIG_CHECK_S = 2.0
# Centers one controller keeps track of (partitions): made-up ids in births cannot grow it.
MAX_CENTERS = 200_000
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


class Controller:
    def __init__(self, config: ControllerConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.counters = Counters()
        self.store = Store(config.db)
        self.store.db.defer_checkpoints()  # serve() checkpoints from the event loop's side
        # With partitions: the ones we hold (None: every center is ours), every center we know
        # of, and those whose topics we subscribe to.
        self.owned: frozenset[int] | None = None if config.partitions is None else frozenset()
        self.leases = Leases(self.store.db, config.client_id, config.partitions) \
            if config.partitions is not None else None
        self._next_round = 0.0
        self._centers: set[str] = set()
        self._subscribed: set[str] = set()
        # Silence counts only from here: when we last took centers over, or when the store
        # commits again after a stall (its messages waited in the pipe, not the boxes' fault)
        self._listening_floor = 0.0
        self._store_failing_since: float | None = None  # first failed commit of a stall
        # how many messages at the head of _held were already charged to their agent's rate
        # (applied in a batch the store refused): applied again, they are not charged again
        self._charged = 0
        self.fleet = self._stored_fleet()
        # A country's state is millions of objects the cyclic collector would walk again and
        # again (0.3 s a full pass at 300,000 devices, all of it a stall of ingest): what is
        # loaded now is left out of its passes, and young passes come less often.
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 10, 10)
        self._frozen_at = time.monotonic()
        self.limiter = RateLimiter()
        self.on_commit: Callable[[], None] | None = None
        self.last_step = time.monotonic()  # when the last step completed
        self._synced = 0.0
        self._devices_flushed = time.monotonic()
        self._next_tick = 0.0
        self._stop = threading.Event()
        if config.partitions is not None:
            # births and wills of every center (to learn of new ones); the rest per center held
            subscriptions = STATE_FILTER
        elif config.share_group is not None:
            subscriptions = f"$share/{config.share_group}/{wire.SUBSCRIBE_ALL_AGENTS}"
        else:
            subscriptions = wire.SUBSCRIBE_ALL_AGENTS
        self.link = ReceiverLink(LinkSettings(
            config.broker, config.client_id, subscriptions=(subscriptions,),
            session_expiry_s=int(config.session_expiry_s),
            log_level=logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower(),
            persistent=config.partitions is None,
        ))
        self._held: list[Received] = []  # received, not yet applied (a batch's overflow)
        self._dead: list[DeadLetter] = []  # of the batch being applied
        # agents whose delivery accounting moved since their last acknowledgement
        self._ack_due: dict[tuple[str, str], AgentInfo] = {}
        self._acked_at = 0.0
        self._agent_acked: dict[tuple[str, str], float] = {}  # monotonic, per agent
        # the config version last published to each box (retained on its cmd/config topic)
        self._configs_published: dict[tuple[str, str], str] = {}
        self._configs_checked = 0.0
        self._signing_keys: list[Ed25519PrivateKey] | None = None
        from controller.rollout_service import RolloutDriver

        # staged software rollouts: instructions to boxes, failures as alerts
        self.rollouts = RolloutDriver(self.store, config, self._command_keys, self.link.publish)

    def known_agents(self) -> dict[str, frozenset[str]]:
        """Each center's boxes: declared in controller.yaml, and enrolled."""
        known = {c: set(a) for c, a in self.config.known_agents.items()}
        for center, agents in self.store.enrolled_agents().items():
            known.setdefault(center, set()).update(agents)
        return {c: frozenset(a) for c, a in known.items()}

    def _stored_fleet(self) -> Fleet:
        """The fleet as the database knows it: at start, and after a failed commit."""
        fleet = Fleet(self.config.rules, self.config.alert_rules, self.config.hours,
                      self.known_agents(),
                      center_names={c.id: c.name for c in self.config.centers})
        agents, devices = self.store.agents(), self.store.devices()
        keys, timers = self.store.open_alert_keys(), self.store.timers()
        if self.owned is not None:  # only the centers of the partitions we hold
            mine = self._mine
            agents = [a for a in agents if mine(a.center)]
            devices = [d for d in devices if mine(d.center)]
            keys = [k for k in keys if mine(k.center)]
            timers = [t for t in timers if mine(t.key.center)]
        fleet.restore(agents, devices, keys, timers)
        return fleet

    # -- partitions: each center's stream to exactly one controller ---------------------------
    def _mine(self, center: str) -> bool:
        assert self.owned is not None
        return self._mine_in(center, self.owned)

    def _serve(self, center: str) -> bool:
        """Whether this center's messages are ours; a center not seen before (a birth of a new
        box) is followed at once if it is."""
        if center not in self._centers and len(self._centers) < MAX_CENTERS:
            self._centers.add(center)
            self._follow([center])
        return self._mine(center)

    def _follow(self, centers: list[str]) -> None:
        """Subscribe to the topics of the centers of ours not yet subscribed."""
        new = [c for c in centers if c not in self._subscribed and self._mine(c)]
        if new:
            self._subscribed.update(new)
            self.link.subscribe(filters_of(new))

    def _lease_round(self) -> None:
        assert self.leases is not None and self.owned is not None
        self._next_round = time.monotonic() + self.leases.settings.round_s
        got = self.leases.round()
        keep = got.held - got.release
        if keep != self.owned:
            self._repartition(keep)
        if got.release:
            self.leases.release(got.release)  # their state is stored: another may take them
            log.info("partitions handed over", extra={"partitions": sorted(got.release),
                                                      "controllers": got.live})

    def _repartition(self, keep: frozenset[int]) -> None:
        """Serve exactly `keep` from now on: stop following the centers we give up, store
        everything we know, read the state of what we serve back from the database (another
        controller may have changed it), and follow the centers we take over."""
        assert self.owned is not None
        lost, gained = self.owned - keep, keep - self.owned
        gone = [c for c in self._subscribed if not self._mine_in(c, keep)]
        if gone:
            self.link.unsubscribe(filters_of(gone))
            self._subscribed.difference_update(gone)
        # timers, readings written behind and agents: all of it, before another reads it
        self._persist(self.fleet.flush_agents() + self.fleet.flush_devices()
                      + self.fleet.flush_timers())
        self.owned = keep
        if gained:
            self._listening_floor = time.time()
        self.fleet = self._stored_fleet()
        self._ack_due = {k: v for k, v in self._ack_due.items() if self._mine(k[0])}
        self._centers.update(self.known_agents())
        self._centers.update(a.center for a in self.store.agents())
        self._follow(sorted(self._centers))
        log.info("partitions", extra={"held": len(keep), "gained": sorted(gained),
                                      "lost": sorted(lost), "centers": len(self._subscribed)})

    def _mine_in(self, center: str, parts: frozenset[int]) -> bool:
        assert self.config.partitions is not None
        return partition_of(center, self.config.partitions.count) in parts

    # -- the ingest loop (one thread owns the fleet state) ------------------------------------
    def handle(self, topic: str, payload: bytes, received_at: float,
               retained: bool = False, charged: bool = False) -> list[Effect]:
        """Decode and apply one message. What cannot be decoded or applied becomes a dead
        letter (kept with its reason), never an exception that stops ingest."""
        self.counters.received += 1
        if config_pull.is_current(topic):
            self._take_pull(topic, payload, received_at)  # a box's answer to `config pull`
            return []
        try:
            parts = wire.parse_topic(topic)
            if parts is None:
                return []  # our own alert feed or acks, or another tool's topic
            if self.owned is not None and not self._serve(parts.center):
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
            return self.fleet.apply(msg, received_at, retained)
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

    def step(self, block_s: float, final: bool = False) -> int:
        """Take one batch from the MQTT process, apply it, write it in one transaction
        (`final`: also write every reading held back)."""
        effects: list[Effect] = []
        if self.leases is not None and time.monotonic() >= self._next_round:
            self._lease_round()
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
                self.fleet.sync_open_alerts(set(self.store.open_alert_keys()))
                self._synced = time.monotonic()
            now = self.clock()
            if now >= self._next_tick or final:
                # The timers look at every agent: once a second (or at the next silence deadline),
                # not once per batch, which under load comes every few milliseconds.
                # While the store cannot commit, no box is judged silent: what it sent waits at
                # the broker, and the fleet is read again from the store at each retry.
                effects.extend(self.fleet.tick(
                    now, check_silence=not behind and self._store_failing_since is None))
                self._next_tick = min(now + TICK_S, self.fleet.next_silence_deadline)
                if time.monotonic() - self._frozen_at >= GC_FREEZE_S:
                    # Set what survived the young collections aside (freeze costs nothing): the
                    # oldest generation's passes then walk seconds of new objects, never the
                    # whole fleet (a full pass over 300,000 devices' state held ingest for
                    # seconds, and a collect before each freeze still 0.5 s). The state has no
                    # reference cycles; the rare cyclic garbage caught here is kept, not freed.
                    gc.freeze()
                    self._frozen_at = time.monotonic()
            effects.extend(self.fleet.flush_agents())
            effects.extend(self.fleet.flush_timers())
            started = time.monotonic()
            if final or started - self._devices_flushed >= DEVICE_FLUSH_S:
                # a slice at a time, oldest first: 40,000 rows in one commit held every alert
                # behind them for a second
                effects.extend(self.fleet.flush_devices(None if final else DEVICE_FLUSH_CHUNK))
                if final or not self.fleet.dirty_devices:
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
        self._publish_acks(final)
        self._publish_configs()
        # a step counts when it is done: committed and acknowledged (the watchdog looks here)
        self.last_step = time.monotonic()
        return len(taken)

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
        self.fleet = self._stored_fleet()
        for topic, payload, received_at, _mid, _qos, retain in taken:
            # charged to its agent's rate when the batch was applied
            effects = self.handle(topic, payload, received_at, retain, charged=True)
            effects.extend(self.fleet.flush_agents())
            effects.extend(self.fleet.flush_timers())
            try:
                self._persist(effects)
            except self.store.db.transient:
                self._held = taken + self._held  # those stored already come back as duplicates
                self._charged = len(taken)
                raise
            except Exception as exc:  # noqa: BLE001 - this message is the one: set it aside
                self.counters.internal_errors += 1
                self.fleet = self._stored_fleet()
                self._dead_letter(topic, payload, received_at,
                                  f"could not be stored: {type(exc).__name__}: {exc}")

    def _store_dead_letters(self) -> None:
        dead, self._dead = self._dead, []
        try:
            self.store.add_dead_letters(dead)
        except self.store.db.transient:
            self._dead = dead + self._dead
            raise

    def _publish_acks(self, final: bool) -> None:
        """Tell each agent what is committed, so it may delete those reports: once a broker
        has lost its queue (kill -9), the agents still hold everything not confirmed here."""
        now = time.monotonic()
        if not self._ack_due or (now - self._acked_at < ACK_EVERY_S and not final):
            return
        self._acked_at = now
        due, self._ack_due = self._ack_due, {}
        for key, agent in due.items():
            # An agent missing nothing only trims its outbox with an ack: once in ACK_IDLE_S
            # is enough (10,000 boxes every 5 s would be 2,000 messages a second). One whose
            # reports we lack hears it at once, so that it sends them again.
            if not final and agent.gaps == 0 and now - self._agent_acked.get(key, -1e9) \
                    < ACK_IDLE_S:
                self._ack_due.setdefault(key, agent)  # later
                continue
            self._agent_acked[key] = now
            self.link.publish(wire.encode_ack(wire.Ack(agent.center, agent.agent,
                                                       agent.seqs.acks())))

    def _publish_configs(self) -> None:
        """Publish, retained, each box's desired config when it changed (`hcc-controller config
        push` writes it to the database; this process owns the MQTT connection)."""
        now = time.monotonic()
        if now - self._configs_checked < CONFIG_CHECK_S:
            return
        self._configs_checked = now
        self._publish_pulls()
        self.fleet.known_agents = self.known_agents()  # a box enrolled meanwhile
        if self.owned is not None:
            fresh = [c for c in self.fleet.known_agents if c not in self._centers]
            self._centers.update(fresh)
            self._follow(fresh)
        # only the versions, every time; a text only for a box whose version moved
        changed = {key for key, version in self.store.desired_versions().items()
                   if self._configs_published.get(key) != version}
        if not changed:
            return
        keys = self._command_keys()
        if keys is None:
            return
        for row in self.store.desired_configs():
            key = (row["center"], row["agent"])
            if key not in changed:
                continue
            # signed, for this box, with the time it became desired: a box takes it only
            # as the controller's, only for itself, and never over a newer one
            self.link.publish(wire.encode_config(wire.ConfigPush(
                row["center"], row["agent"], row["version"], row["content"], row["author"],
                row["updated_at"], issued=row["updated_at"]), keys))
            self._configs_published[key] = row["version"]
            log.info("config published", extra={"center": key[0], "agent": key[1],
                                                "version": row["version"]})

    def _publish_pulls(self) -> None:
        """`hcc-controller config pull` asked (a row in the database): ask the box."""
        from controller import pulls

        pulls.ensure(self.store.db)
        for req in pulls.to_publish(self.store.db, time.time()):
            if self.owned is not None and not self._serve(req.center):
                continue  # another controller's center: that one asks
            self.link.publish(config_pull.encode_pull(req))
            pulls.published(self.store.db, req.request, time.time())
            log.info("config pull asked", extra={"center": req.center, "agent": req.agent})

    def _take_pull(self, topic: str, payload: bytes, received_at: float) -> None:
        from controller import pulls

        try:
            got = config_pull.decode_current(topic, payload)
        except config_pull.PullError as exc:
            self.counters.malformed += 1
            self._dead_letter(topic, payload[:4096], received_at, f"malformed: {exc}")
            return
        pulls.ensure(self.store.db)
        if not pulls.take(self.store.db, got, time.time()):
            # nobody asked this box (or not lately): its file is not kept
            self._dead_letter(topic, b"", received_at, "config answer nobody asked for")

    def _command_keys(self) -> list[Ed25519PrivateKey] | None:
        """The keys that sign commands to boxes, read (or made) once; None (logged) when they
        cannot be: nothing unsigned is ever published."""
        if self._signing_keys is None:
            from controller.signing_key import SigningKeyError, signing_keys
            from hcc_common.signing import public_of

            try:
                self._signing_keys = signing_keys(self.config)
            except SigningKeyError as exc:
                log.error("configs not published: no signing key", extra={"error": str(exc)})
                return None
            log.info("commands to boxes signed", extra={
                "key_file": str(self.config.signing_key),
                "keys": ",".join(public_of(k).key_id for k in self._signing_keys)})
        return self._signing_keys

    def _recover_store(self) -> None:
        try:
            if self.store.db.broken():
                self.store.reopen()
                if self.leases is not None:
                    self.leases.db = self.store.db
            self.fleet = self._stored_fleet()
            log.warning("database reachable again; state reloaded")
        except self.store.db.errors as exc:
            log.error("database still unreachable", extra={"error": str(exc)[:300]})

    def _persist(self, effects: list[Effect]) -> None:
        self.counters.unknown_agent = self.fleet.unknown_agent_total
        changes = self.store.write(effects, stats=dict(vars(self.counters)))
        self.counters.batches += 1
        if self.config.acks:
            for e in effects:
                if isinstance(e, AgentInfo):
                    self._ack_due[(e.center, e.agent)] = e
        for kind, row in changes:
            log.info(f"alert {kind}", extra={"id": row.id, "center": row.center,
                                            "agent": row.agent, "device": row.device or "-",
                                            "code": row.code, "severity": row.severity})
        if changes and self.on_commit is not None:
            self.on_commit()

    def publish_alert(self, change: AlertChange, silenced: bool = False) -> None:
        """The MQTT alert feed: hcc/v1/alerts/<center>, one message per alert change (with
        whether a silence covers it, as on the API and the SSE stream)."""
        payload = json.dumps(change_json(change, silenced), ensure_ascii=False).encode()
        self.link.publish(wire.Encoded(wire.alerts_topic(change.alert.center), payload,
                                       retain=False))

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
            if self.leases is not None:
                try:
                    self.leases.leave()  # everything stored: the others take over at once
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


def serve(config: ControllerConfig) -> None:
    """hcc-controller run: ingest on a thread; feed, notifications and HTTP on the event loop."""
    import asyncio
    import contextlib
    import signal
    from collections.abc import Iterator

    from controller import checklist, citizen
    from controller.feed import AlertFeed, StorePerThread
    from controller.notify import Notifier

    ctl = Controller(config)
    stores = StorePerThread(config.db)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        feed = AlertFeed(stores)
        def wake() -> None:
            loop.call_soon_threadsafe(feed.wake)

        ctl.on_commit = wake
        notifier = Notifier(config.notify, stores,
                            config.http.public_url if config.http is not None else "",
                            center_names={c.id: c.name for c in config.centers}, wake=wake,
                            groups=config.auth.groups,
                            citizen_per_hour=config.citizen.notify_per_center_per_hour)
        feed.subscribers.append(notifier.on_change)
        feed.subscribers.append(ctl.publish_alert)
        ingest = threading.Thread(target=ctl.run, name="ingest", daemon=True)
        ingest.start()
        from controller.auth import accounts_upkeep
        from controller.reporting import upkeep_loop

        async def checkpoints() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECKPOINT_EVERY_S)
                try:
                    await asyncio.to_thread(lambda: stores.get().db.checkpoint())
                except Exception as exc:  # noqa: BLE001 - not stores.get(): it may fail too
                    log.warning("checkpoint failed", extra={"error": str(exc)[:300]})

        tasks = [asyncio.create_task(feed.run(stop)), asyncio.create_task(notifier.remind_loop(stop)),
                 asyncio.create_task(checkpoints()),
                 # history roll-up and retention; the monthly report mailed on the 1st
                 asyncio.create_task(upkeep_loop(stop, config, stores)),
                 # on-call escalation, and presses of the buttons in chats (Telegram)
                 asyncio.create_task(notifier.escalate_loop(stop)),
                 asyncio.create_task(notifier.listen_loops(stop)),
                 # sessions past their expiry, audit rows past their retention
                 asyncio.create_task(accounts_upkeep(stop, config.auth, stores)),
                 # the SMS to citizens who left a number, once their report is resolved
                 asyncio.create_task(citizen.reply_loop(stop, config, stores)),
                 # the staff's opening checklist not done by its hour: a warning to the desk
                 asyncio.create_task(checklist.not_done_loop(stop, config, stores))]
        server = None
        if config.http is not None:
            import uvicorn

            from controller.api import create_app

            app = create_app(config, stores, feed, counters=lambda: dict(vars(ctl.counters)),
                             wake_feed=wake,
                             healthy=lambda: ingest.is_alive() and ctl.ingest_healthy())

            class Server(uvicorn.Server):
                @contextlib.contextmanager
                def capture_signals(self) -> Iterator[None]:
                    yield  # our own handlers stop everything, the HTTP server included

            from controller.http_limits import server_config

            server = Server(server_config(
                app, host=config.http.listen_host, port=config.http.listen_port,
                log_level="warning", lifespan="off", access_log=False,
                ssl_certfile=config.http.tls_cert, ssl_keyfile=config.http.tls_key))
            tasks.append(asyncio.create_task(server.serve()))
            log.info("http listening", extra={"host": config.http.listen_host,
                                              "port": config.http.listen_port})
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # The ingest thread must be turning too, not only the event loop.
        tasks.append(asyncio.create_task(sdnotify.watchdog(
            stop, lambda: ingest.is_alive() and ctl.ingest_healthy())))
        sdnotify.notify("READY=1\nSTATUS=ingesting")
        await stop.wait()
        sdnotify.notify("STOPPING=1")
        if server is not None:
            server.should_exit = True
        ctl.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await notifier.close()
        await asyncio.to_thread(ingest.join, 30)

    asyncio.run(main())
