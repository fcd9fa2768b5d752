"""Pure fleet state: apply a decoded message or a clock tick, get back the effects to store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller.policy import Rules as Rules  # controller.state.Rules, as before
from controller.policy import center_hours, while_open
from controller.rules import (
    Condition,
    Rule,
    default_rules,
    fault_conditions,
    fault_rule,
    metric_conditions,
)
from controller.seqs import SeqTracker, Verdict
from hcc_common import wire
from hcc_common.calendar import OpeningHours
from hcc_common.faults import fault_subject
from hcc_common.wire import MetricValue

AGENT_ALERT_DEVICE = ""  # alerts about the agent or center carry no device
ALERT_STARTS_WINDOW_S = 3600.0


@dataclass(frozen=True, kw_only=True)
class AlertKey:
    center: str
    agent: str
    device: str
    code: str
    subject: str = ""


@dataclass(frozen=True, kw_only=True)
class OpenAlert:
    key: AlertKey
    severity: str
    device_name: str
    params: Mapping[str, MetricValue]
    at: float
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolveAlert:
    key: AlertKey
    at: float
    reason: str


@dataclass(kw_only=True)
class AgentInfo:
    center: str
    agent: str
    state: str = "online"
    session: int = 0
    last_seen: float = 0.0
    heartbeat_interval: float = 30.0
    keepalive_s: float = 0.0  # from the birth; 0: not known (an older agent)
    clock_skew_s: float = 0.0
    host: Mapping[str, MetricValue] = field(default_factory=dict)
    backlog: int = 0
    seqs: SeqTracker = field(default_factory=SeqTracker)
    online_since: float = 0.0  # controller time the agent last came (back) online
    # Recent (agent ts - receive time) samples: delays only push them down, so the largest
    # is the best estimate of how far the agent's clock is off.
    skew_samples: list[float] = field(default_factory=list)
    # what the box is, from its birth: software/config version, OS, model, devices, boot time
    inventory: Mapping[str, MetricValue] = field(default_factory=dict)

    @property
    def last_seq(self) -> int:
        return self.seqs.last_seq

    @property
    def received(self) -> int:
        return self.seqs.received

    @property
    def gaps(self) -> int:
        return self.seqs.gaps

    @property
    def duplicates(self) -> int:
        return self.seqs.duplicates

    def snapshot(self) -> AgentInfo:
        """A copy for the store, safe from later mutation."""
        return AgentInfo(center=self.center, agent=self.agent, state=self.state,
                         session=self.session, last_seen=self.last_seen,
                         heartbeat_interval=self.heartbeat_interval, keepalive_s=self.keepalive_s,
                         clock_skew_s=self.clock_skew_s, host=self.host, backlog=self.backlog,
                         seqs=self.seqs.copy(), online_since=self.online_since,
                         skew_samples=list(self.skew_samples), inventory=self.inventory)

    def silence_limit(self, heartbeat_misses: float) -> float:
        """How long without a message before the agent counts as gone. With heartbeats at most a
        keepalive apart, the broker's own rule (1.5 x keepalive) holds, and the alert does not
        wait for the will (mosquitto checks keepalives on whole seconds, so its will is late)."""
        if 0.0 < self.heartbeat_interval <= self.keepalive_s:
            return 1.5 * self.keepalive_s
        return self.heartbeat_interval * heartbeat_misses


SKEW_SAMPLES = 5
# Just after we start listening (first connect, a reconnect, a stall of our store), what comes
# is what the broker queued for us, made long before we receive it: no measure of a box's clock
# (a 70 s stall made every box look 70 s behind).
SKEW_SETTLE_S = 30.0


@dataclass(frozen=True, kw_only=True)
class DeviceEvent:
    """A line of a device's history: a change of status or faults, or a replayed faulty result."""

    center: str
    agent: str
    device: str
    session: int
    seq: int
    agent_ts: float
    received_at: float
    status: str
    faults: tuple[str, ...]
    replayed: bool


@dataclass(slots=True, kw_only=True)  # one per device, 300,000 in a country: no __dict__ each
class DeviceInfo:
    center: str
    agent: str
    device: str
    name: str
    type: str
    status: str
    last_seen: float
    agent_ts: float
    consecutive_failures: int
    metrics: Mapping[str, MetricValue]
    faults: tuple[wire.FaultReport, ...]
    # (session, seq) of the result this reflects, as one int (order_of): a tuple of two ints
    # costs 110 bytes more per device, 33 MB for a country
    order: int = 0

    @property
    def session(self) -> int:
        return self.order >> SEQ_BITS

    @property
    def seq(self) -> int:
        return self.order & SEQ_MASK


SEQ_BITS = 53  # wire.MAX_WHOLE: seqs never reach it
SEQ_MASK = (1 << SEQ_BITS) - 1


def order_of(session: int, seq: int) -> int:
    """Compares as (session, seq) does."""
    return session << SEQ_BITS | seq


@dataclass(frozen=True, slots=True, kw_only=True)
class Reading:
    """One check of one device for the history (every result, replays included)."""

    center: str
    agent: str
    device: str
    type: str
    ts: float
    status: str
    metrics: Mapping[str, MetricValue]


@dataclass(frozen=True, slots=True)
class TimerState:
    """A `for:` (pending) or `clear_for` (clearing) timer started, or ended (kind ""): stored,
    so that a controller taking a center over, or this one restarted, keeps its clock."""

    key: AlertKey
    kind: str  # "pending", "clearing" or "" (no timer any more)
    since: float


Effect = OpenAlert | ResolveAlert | AgentInfo | DeviceInfo | DeviceEvent | Reading | TimerState


@dataclass
class Changes:
    """What applying changed that no effect carries: the state knows nothing of storing it;
    its caller (controller/write_behind.py) decides when and how much of it is stored."""

    # agents whose delivery accounting or liveness moved (their snapshot is due)
    agents: set[tuple[str, str]] = field(default_factory=set)
    # devices with a new reading that changed neither status nor faults, oldest first (a
    # dict for its order); a device whose change went out as an effect leaves it
    readings: dict[tuple[str, str, str], None] = field(default_factory=dict)
    # pending/clearing timers started or ended
    timers: set[AlertKey] = field(default_factory=set)


class Out(list[Effect]):
    """The effects of one call as they are gathered, with the changes they go with."""

    __slots__ = ("changes",)

    def __init__(self, changes: Changes | None) -> None:
        super().__init__()
        self.changes = changes if changes is not None else Changes()


# a center whose line is down: its Wi-Fi probe's faults are that, not the Wi-Fi's
WAN_DOWN = frozenset({"wan.gateway_down", "wan.dns_failed", "wan.no_internet"})
LAN_DOWN_FRACTION = 0.8
LAN_DOWN_MIN_DEVICES = 3
REPLAY_GRACE_S = 30.0
# By exception (heartbeat confirmations): how often an unchanged device becomes a history
# sample, and how often its "last checked" is stored (in memory it is always current)
HISTORY_SAMPLE_S = 300.0
CONFIRM_STORE_S = 60.0


@dataclass
class Fleet:
    rules: Rules = field(default_factory=Rules)
    alert_rules: tuple[Rule, ...] = field(default_factory=default_rules)
    hours: Mapping[str, OpeningHours] = field(default_factory=dict)
    # per center, the boxes it has (from controller.yaml or enrollment); a center not listed
    # admits the first max_agents_per_center boxes that report
    known_agents: Mapping[str, frozenset[str]] = field(default_factory=dict)
    agents: dict[tuple[str, str], AgentInfo] = field(default_factory=dict)
    center_agents: dict[str, set[str]] = field(default_factory=dict)
    # messages from boxes a center does not have, and results past the device cap: counted
    unknown_agent_messages: dict[str, int] = field(default_factory=dict)
    over_device_cap: dict[str, int] = field(default_factory=dict)
    unknown_agent_total: int = 0
    # center id -> its name (controller.yaml): a box's alerts say which center, in words
    center_names: Mapping[str, str] = field(default_factory=dict)
    devices: dict[tuple[str, str, str], DeviceInfo] = field(default_factory=dict)
    open_alerts: set[AlertKey] = field(default_factory=set)
    # condition holds since t, but its rule's `for:` has not passed yet
    pending: dict[AlertKey, tuple[float, Condition]] = field(default_factory=dict)
    # open alert whose condition is gone since t, waiting out `clear_for`
    clearing: dict[AlertKey, float] = field(default_factory=dict)
    opened_at_log: dict[AlertKey, list[float]] = field(default_factory=dict)
    # per device, the alerts it began within the last hour, and when (at most
    # max_alerts_per_device each)
    alert_starts: dict[tuple[str, str, str], dict[AlertKey, float]] = field(default_factory=dict)
    # Indexes, so one message costs the same with 10 or 100,000 devices in the fleet:
    # per device, the keys that are open, pending or clearing; per center, who is down.
    keys_by_device: dict[tuple[str, str, str], set[AlertKey]] = field(default_factory=dict)
    # per center: how many devices (its box not counted), which are down, which say its
    # internet line is down (counts, not sets of every device: 300,000 keys cost 20 MB)
    center_devices: dict[str, int] = field(default_factory=dict)
    center_down: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    center_wan_down: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    center_alerts: dict[str, set[AlertKey]] = field(default_factory=dict)  # center-level open
    _rule_cache: dict[tuple[str, str, str], Rule | None] = field(default_factory=dict)
    _metric_rule_cache: dict[tuple[str, str], tuple[Rule, ...]] = field(default_factory=dict)
    # stored `for:` timers of conditions not seen again yet (per device): the condition's
    # clock goes on from there when its device next reports it
    restored_pending: dict[tuple[str, str, str], dict[AlertKey, float]] = \
        field(default_factory=dict)
    # Silence counts only from when we listen: before the first connect, after a reconnect of
    # our own, or while catching up on a backlog, no agent is called gone for being quiet.
    listening_since: float = 0.0
    next_silence_deadline: float = float("inf")

    def sync_open_alerts(self, in_store: set[AlertKey], changes: Changes | None = None) -> None:
        """Several controllers share one database: take in what the others opened and forget
        what they (or a person) resolved, so any of us can resolve any alert."""
        timers = (changes if changes is not None else Changes()).timers
        for key in in_store - self.open_alerts:
            self.open_alerts.add(key)
            if self.pending.pop(key, None) is not None:
                timers.add(key)
            self._index(key)
        for key in self.open_alerts - in_store:
            self.open_alerts.discard(key)
            if self.clearing.pop(key, None) is not None:
                timers.add(key)
            self._unindex(key)

    # -- restoring after a restart ----------------------------------------------------------
    def restore(self, agents: Iterable[AgentInfo], devices: Iterable[DeviceInfo],
                open_alerts: Iterable[AlertKey],
                timers: Iterable[TimerState] = (), changes: Changes | None = None) -> None:
        for a in agents:
            self.agents[(a.center, a.agent)] = a
            self.center_agents.setdefault(a.center, set()).add(a.agent)
        for d in devices:
            self._set_device(d)
        for k in open_alerts:
            self.open_alerts.add(k)
            self._index(k)
        for t in timers:
            if t.kind == "clearing" and t.key in self.open_alerts:
                self.clearing[t.key] = t.since  # the tick resolves it when its time is up
            elif t.kind == "pending" and t.key not in self.open_alerts:
                dkey = (t.key.center, t.key.agent, t.key.device)
                self.restored_pending.setdefault(dkey, {})[t.key] = t.since
            else:
                if changes is not None:
                    changes.timers.add(t.key)  # stale: forget it in the store too

    # -- alerts ---------------------------------------------------------------------------
    def _open(self, out: Out, key: AlertKey, severity: str, name: str,
              params: Mapping[str, MetricValue], at: float,
              labels: Mapping[str, str] | None = None) -> None:
        if key not in self.open_alerts:
            self.open_alerts.add(key)
            self._index(key)
            log = self.opened_at_log.setdefault(key, [])
            log[:] = [t for t in log if at - t < self.rules.flap_window_s] + [at]
            out.append(OpenAlert(key=key, severity=severity, device_name=name, params=params, at=at,
                                 labels=dict(labels or {})))

    def _resolve(self, out: Out, key: AlertKey, at: float, reason: str) -> None:
        if key in self.open_alerts:
            self.open_alerts.discard(key)
            if self.clearing.pop(key, None) is not None:
                out.changes.timers.add(key)
            self._unindex(key)
            out.append(ResolveAlert(key, at, reason))

    # -- indexes --------------------------------------------------------------------------
    def _index(self, key: AlertKey) -> None:
        if key.device == AGENT_ALERT_DEVICE:
            self.center_alerts.setdefault(key.center, set()).add(key)
        else:
            self.keys_by_device.setdefault((key.center, key.agent, key.device), set()).add(key)

    def _unindex(self, key: AlertKey) -> None:
        if key in self.open_alerts or key in self.pending:
            return
        if key.device == AGENT_ALERT_DEVICE:
            self.center_alerts.get(key.center, set()).discard(key)
        else:
            self.keys_by_device.get((key.center, key.agent, key.device), set()).discard(key)

    def _set_device(self, dev: DeviceInfo) -> bool:
        """Store the device's state; True if the center's device count or its set of
        unreachable devices changed (what LAN-down correlation looks at)."""
        dkey = (dev.center, dev.agent, dev.device)
        changed = dkey not in self.devices
        self.devices[dkey] = dev
        if dev.type == "box":
            return False
        if changed:
            self.center_devices[dev.center] = self.center_devices.get(dev.center, 0) + 1
        if dev.faults and any(f.code in WAN_DOWN for f in dev.faults):
            self.center_wan_down.setdefault(dev.center, set()).add(dkey)
        elif dev.center in self.center_wan_down:
            self.center_wan_down[dev.center].discard(dkey)
        down = self.center_down.setdefault(dev.center, set())
        is_down = dev.status == "unreachable" and \
            dev.consecutive_failures >= self.rules.unreachable_after
        if is_down != (dkey in down):
            changed = True
            if is_down:
                down.add(dkey)
            else:
                down.discard(dkey)
        return changed

    def _rule_for(self, center: str, device_type: str, code: str) -> Rule | None:
        key = (center, device_type, code)
        if key not in self._rule_cache:
            self._rule_cache[key] = fault_rule(self.alert_rules, center, device_type, code)
        return self._rule_cache[key]

    def _metric_rules_for(self, center: str, device_type: str) -> tuple[Rule, ...]:
        key = (center, device_type)
        found = self._metric_rule_cache.get(key)
        if found is None:
            found = self._metric_rule_cache[key] = tuple(
                r for r in self.alert_rules
                if r.metric is not None and r.applies(center, device_type))
        return found

    # -- messages -------------------------------------------------------------------------
    def apply(self, msg: wire.Message, received_at: float, retained: bool = False,
              changes: Changes | None = None) -> list[Effect]:
        """The effects to store now; what changed besides goes into `changes` (its caller
        decides when that is stored)."""
        out = Out(changes)
        key = (msg.center, msg.agent)
        agent = self.agents.get(key)
        if agent is None:
            if not self._admit(out, msg.center, msg.agent, received_at):
                return out
            agent = AgentInfo(center=msg.center, agent=msg.agent, session=msg.session)
            self.agents[key] = agent
            self.center_agents.setdefault(msg.center, set()).add(msg.agent)
        if isinstance(msg, wire.StateMessage):
            self._apply_state(out, agent, msg, received_at, retained)
        else:
            verdict = agent.seqs.observe(msg.session, msg.seq)
            out.changes.agents.add(key)
            if verdict is Verdict.DUPLICATE:
                return out  # QoS 1 redelivery or a replay we already had: counted, not applied
            agent.session = agent.seqs.current
            agent.last_seen = max(agent.last_seen, received_at)
            self._come_online(out, agent, received_at)
            if isinstance(msg, wire.Heartbeat):
                if verdict is Verdict.NEW:
                    agent.heartbeat_interval = msg.interval_s
                    if msg.host:  # absent: unchanged (report by exception)
                        agent.host = msg.host
                    agent.backlog = msg.backlog
                    if received_at >= self.listening_since + SKEW_SETTLE_S:
                        self._skew(out, agent, msg.ts - received_at, received_at)
                if msg.kept_from is not None:
                    agent.seqs.kept_from(*msg.kept_from)
                # report by exception: each device the heartbeat confirms unchanged counts as
                # its last result again, checked at that time (timers, failures, history)
                for device, (ts, status) in msg.unchanged.items():
                    prev = self.devices.get((msg.center, msg.agent, device))
                    if prev is None:
                        continue  # not known here yet: its next full report brings it
                    again = wire.Result(center=msg.center, agent=msg.agent, device=device,
                                        session=msg.session, seq=msg.seq, ts=ts,
                                        device_type=prev.type, device_name=prev.name, status=status,
                                        metrics=prev.metrics, faults=prev.faults)
                    backlog = ts - agent.clock_skew_s < agent.online_since - REPLAY_GRACE_S
                    self._apply_result(out, again, received_at, verdict is Verdict.NEW, backlog,
                                       confirmed=True)
            else:
                # Reports made while the center was cut off arrive in a burst when it is back:
                # they are history. Only fresh reports open or resolve device alerts.
                backlog = msg.ts - agent.clock_skew_s < agent.online_since - REPLAY_GRACE_S
                self._apply_result(out, msg, received_at, verdict is Verdict.NEW, backlog)
        out.changes.agents.add(key)
        return out

    def box_name(self, agent: AgentInfo) -> str:
        """How an alert about a box names it: "Trung tâm phường Ba Đình (pi-1)", not "pi-1"."""
        return f"{self.center_names.get(agent.center, agent.center)} ({agent.agent})"

    def _admit(self, out: Out, center: str, agent: str, at: float) -> bool:
        """A box this center has, or room for one more; else counted, and one warning per
        center (not one alert per made-up id)."""
        declared = self.known_agents.get(center)
        if declared is not None:
            admitted = agent in declared
        else:
            admitted = len(self.center_agents.get(center, ())) < self.rules.max_agents_per_center
        if admitted:
            return True
        self.unknown_agent_total += 1
        count = self.unknown_agent_messages.get(center, 0) + 1
        if len(self.unknown_agent_messages) < 100_000 or center in self.unknown_agent_messages:
            self.unknown_agent_messages[center] = count
        key = AlertKey(center=center, agent="", device=AGENT_ALERT_DEVICE, code="center.unknown_agent")
        if key not in self.open_alerts:
            self._open(out, key, "warning", center, {"agent": agent, "count": count}, at)
        return False

    def _skew(self, out: Out, agent: AgentInfo, sample: float, at: float) -> None:
        agent.skew_samples = [*agent.skew_samples[-(SKEW_SAMPLES - 1):], sample]
        agent.clock_skew_s = round(max(agent.skew_samples), 3)
        key = AlertKey(center=agent.center, agent=agent.agent, device=AGENT_ALERT_DEVICE,
                       code="agent.clock_skew")
        if abs(agent.clock_skew_s) > self.rules.clock_skew_s:
            self._open(out, key, "warning", agent.agent, {"skew": round(agent.clock_skew_s)}, at)
        elif abs(agent.clock_skew_s) < self.rules.clock_skew_s * 0.8:  # hysteresis
            self._resolve(out, key, at, "clock back in step")

    def _apply_state(self, out: Out, agent: AgentInfo, msg: wire.StateMessage,
                     received_at: float, retained: bool) -> None:
        if agent.seqs.is_stale(msg.session):
            return  # a stale retained birth or will from an earlier run
        if msg.keepalive_s is not None:
            agent.keepalive_s = msg.keepalive_s
        if msg.inventory:
            agent.inventory = msg.inventory
        if msg.state == "online" and not (retained and not agent.seqs.sessions):
            # A retained birth seen on our first subscribe is old news: counting starts at
            # the first report we actually receive, not at seq 1.
            agent.seqs.birth(msg.session, msg.prev_session, msg.prev_last_seq)
            if not retained and received_at >= self.listening_since + SKEW_SETTLE_S:
                self._skew(out, agent, msg.ts - received_at, received_at)
        elif msg.state == "online":
            agent.seqs.announce(msg.session)  # the run to expect, counted from its first report
        agent.session = msg.session
        agent.last_seen = max(agent.last_seen, received_at)
        if msg.state == "offline":
            agent.state = "offline"
            key = AlertKey(center=agent.center, agent=agent.agent, device=AGENT_ALERT_DEVICE,
                           code="agent.offline")
            self._open(out, key, "critical", self.box_name(agent), {}, received_at)
        else:
            self._come_online(out, agent, received_at)

    def _come_online(self, out: Out, agent: AgentInfo, at: float) -> None:
        if agent.state != "online" or agent.online_since == 0.0:
            agent.online_since = at
        agent.state = "online"
        if not self.center_alerts.get(agent.center):
            return  # nothing open about this center (the common case): nothing to resolve
        key = AlertKey(center=agent.center, agent=agent.agent, device=AGENT_ALERT_DEVICE,
                       code="agent.offline")
        self._resolve(out, key, at, "agent back online")

    def _apply_result(self, out: Out, r: wire.Result, received_at: float,
                      newest: bool, backlog: bool = False, confirmed: bool = False) -> None:
        """`confirmed`: a heartbeat's line saying the device's last result holds again."""
        dkey = (r.center, r.agent, r.device)
        prev = self.devices.get(dkey)
        if prev is None and self.center_devices.get(r.center, 0) \
                >= self.rules.max_devices_per_center:
            self.over_device_cap[r.center] = self.over_device_cap.get(r.center, 0) + 1
            key = AlertKey(center=r.center, agent="", device=AGENT_ALERT_DEVICE,
                           code="center.too_many_devices")
            if key not in self.open_alerts:
                self._open(out, key, "warning", r.center,
                           {"limit": self.rules.max_devices_per_center, "device": r.device},
                           received_at)
            return
        order = r.session << SEQ_BITS | r.seq
        # A confirmation is a history sample once per HISTORY_SAMPLE_S (the first check in each
        # such slot): readings hold for 2.5 sample gaps, so up-time stays continuous, and a
        # country's 300,000 unchanged devices do not write a row every 30 s.
        if not confirmed or prev is None or \
                r.ts // HISTORY_SAMPLE_S != prev.agent_ts // HISTORY_SAMPLE_S:
            out.append(Reading(center=r.center, agent=r.agent, device=r.device, type=r.device_type,
                               ts=r.ts, status=r.status, metrics=r.metrics))
        codes = tuple(sorted(f.code for f in r.faults)) if r.faults else ()
        # Within a session the seq orders; across sessions only the verdict does (a replaced
        # box's session id may be lower than its predecessor's).
        if not newest or (prev is not None and prev.session == r.session and order < prev.order):
            # Older than what we show (a replay after an outage): history, never current state.
            if r.faults or r.status != "ok":
                out.append(DeviceEvent(center=r.center, agent=r.agent, device=r.device,
                                       session=r.session, seq=r.seq, agent_ts=r.ts,
                                       received_at=received_at, status=r.status, faults=codes,
                                       replayed=True))
            return
        status_changed = prev is None or prev.status != r.status
        codes_changed = prev is not None and bool(prev.faults or r.faults) and \
            tuple(sorted(f.code for f in prev.faults)) != codes
        # stored at once: a new status, or new faults or fault details (a toner level)
        changed = status_changed or (prev is not None and prev.faults != r.faults)
        if status_changed or codes_changed:  # a line of history
            out.append(DeviceEvent(center=r.center, agent=r.agent, device=r.device,
                                   session=r.session, seq=r.seq, agent_ts=r.ts,
                                   received_at=received_at, status=r.status, faults=codes,
                                   replayed=False))
        failures = (prev.consecutive_failures if prev is not None else 0) + 1 \
            if r.status == "unreachable" else 0
        dev = DeviceInfo(center=r.center, agent=r.agent, device=r.device, name=r.device_name,
                         type=r.device_type, status=r.status, last_seen=received_at, agent_ts=r.ts,
                         consecutive_failures=failures, metrics=r.metrics, faults=r.faults,
                         order=order)
        lan_changed = self._set_device(dev)
        if changed:
            out.append(dev)  # a new status or fault is stored with this batch
            out.changes.readings.pop(dkey, None)
        else:
            # only new readings: written behind (flush_devices); a confirmation only moves the
            # device's "last checked", stored once per CONFIRM_STORE_S
            if not confirmed or prev is None or \
                    r.ts // CONFIRM_STORE_S != prev.agent_ts // CONFIRM_STORE_S:
                out.changes.readings[dkey] = None
        if backlog:
            return
        if r.status == "unreachable" and failures < self.rules.unreachable_after:
            # Not yet sure it is gone: keep whatever was open, open nothing new.
            return
        conds = self._conditions(dev, received_at) \
            if r.faults or self._metric_rules_for(r.center, r.device_type) else []
        if conds or self.keys_by_device.get(dkey) or \
                (self.restored_pending and dkey in self.restored_pending):
            self._reconcile(out, dev, conds, received_at)
        if lan_changed or self.center_alerts.get(r.center):
            self._correlate_lan(out, r.center, received_at)
        keys = self.keys_by_device.get(dkey)
        if keys:
            self._advance(out, received_at, keys)

    def _conditions(self, dev: DeviceInfo, now: float) -> list[Condition]:
        def is_open(code: str) -> bool:
            return AlertKey(
                center=dev.center, agent=dev.agent, device=dev.device, code=code) in self.open_alerts

        faults = [f for f in dev.faults if f.code != "device.unreachable"
                  or dev.consecutive_failures >= self.rules.unreachable_after]
        conds = fault_conditions(self.alert_rules, dev.center, dev.type, faults,
                                 lambda f: fault_subject(f.params))
        conds += metric_conditions(self._metric_rules_for(dev.center, dev.type), dev.center,
                                   dev.type, dev.metrics, is_open)
        if any(c.code.startswith("wifi.") for c in conds) and self._wan_down(dev.center):
            # the center's internet is down: the Wi-Fi faults are its echo, and wait for it,
            # as device alerts wait while the box is offline
            conds = [c for c in conds if not c.code.startswith("wifi.")]
        return while_open(conds, center_hours(self.hours, dev.center), now)

    def _wan_down(self, center: str) -> bool:
        """A wired WAN check of the center says its internet line is down."""
        return bool(self.center_wan_down.get(center))

    def _reconcile(self, out: Out, dev: DeviceInfo, conds: list[Condition],
                   now: float) -> None:
        active = {AlertKey(center=dev.center, agent=dev.agent, device=dev.device, code=c.code,
                           subject=c.subject): c
                  for c in conds}
        dkey = (dev.center, dev.agent, dev.device)
        restored = self.restored_pending.pop(dkey, None) if self.restored_pending else None
        # new alerts a device may start: within the cap at once, and within the cap of distinct
        # ones per hour (a box rotating made-up codes resolves the old ones as fast as it opens
        # new ones; a real fault that comes and goes is one key however often)
        starts = self.alert_starts.setdefault(dkey, {})
        for gone in [k for k, t in starts.items() if now - t >= ALERT_STARTS_WINDOW_S]:
            del starts[gone]
        room = self.rules.max_alerts_per_device - max(
            len(self.keys_by_device.get(dkey, ())), len(starts))
        for key, c in active.items():
            if self.clearing.pop(key, None) is not None:
                out.changes.timers.add(key)
            if key not in self.open_alerts:
                if key in self.pending:
                    since = self.pending[key][0]
                else:
                    if key not in starts:
                        if room <= 0:
                            self._too_many_alerts(out, dev, now)
                            continue
                        room -= 1
                    starts[key] = now
                    since = restored.pop(key, now) if restored else now
                    out.changes.timers.add(key)
                self.pending[key] = (since, c)
                self._index(key)
        if restored:
            out.changes.timers.update(restored)  # conditions gone meanwhile
        for key in [k for k in self.keys_by_device.get(dkey, ()) if k not in active]:
            if self.pending.pop(key, None) is not None:
                out.changes.timers.add(key)
            if key in self.open_alerts:
                if key not in self.clearing:
                    self.clearing[key] = now
                    out.changes.timers.add(key)
            else:
                self._unindex(key)

    def _too_many_alerts(self, out: Out, dev: DeviceInfo, now: float) -> None:
        """One warning per box that a device of it holds more alerts than any real one."""
        key = AlertKey(center=dev.center, agent=dev.agent, device=AGENT_ALERT_DEVICE,
                       code="agent.too_many_alerts")
        if key not in self.open_alerts:
            agent = self.agents.get((dev.center, dev.agent))
            self._open(out, key, "warning", self.box_name(agent) if agent else dev.agent,
                       {"limit": self.rules.max_alerts_per_device, "device": dev.device}, now)

    def _suppressed(self, key: AlertKey) -> bool:
        """One outage, one alert: while a center is offline or its LAN is down, its device
        alerts wait (they open later if the condition is still there)."""
        if key.device == AGENT_ALERT_DEVICE:
            return False
        for other in self.center_alerts.get(key.center, ()):
            if other.code == "agent.offline":
                return True
            if other.code == "center.lan_down" and key.code == "device.unreachable":
                return True
        return False

    def _clear_after(self, key: AlertKey, now: float) -> float:
        dev = self.devices.get((key.center, key.agent, key.device))
        rule = self._rule_for(key.center, dev.type if dev else "", key.code)
        hold = rule.clear_for_s if rule is not None else 0.0
        recent = [t for t in self.opened_at_log.get(key, ())
                  if now - t < self.rules.flap_window_s]
        if len(recent) >= self.rules.flap_opens:
            hold = max(hold, self.rules.flap_hold_s)  # flapping: damped
        return hold

    def _advance(self, out: Out, now: float,
                 keys: Iterable[AlertKey] | None = None) -> None:
        """Open what has held long enough, resolve what has been clear long enough: for the
        given keys (one device's, after its report) or for all (the clock tick)."""
        pending = list(self.pending) if keys is None else [k for k in keys if k in self.pending]
        for key in pending:
            since, c = self.pending[key]
            if now - since >= c.rule.for_s and not self._suppressed(key):
                del self.pending[key]
                out.changes.timers.add(key)
                dev = self.devices.get((key.center, key.agent, key.device))
                self._open(out, key, c.severity, dev.name if dev else key.device, c.params,
                           now, c.rule.labels)
        clearing = list(self.clearing) if keys is None else [k for k in keys if k in self.clearing]
        for key in clearing:
            since = self.clearing[key]
            if key not in self.open_alerts:
                del self.clearing[key]
                out.changes.timers.add(key)
            elif now - since >= self._clear_after(key, now):
                del self.clearing[key]
                out.changes.timers.add(key)
                self._resolve(out, key, now, "condition cleared")

    def _correlate_lan(self, out: Out, center: str, now: float) -> None:
        total = self.center_devices.get(center, 0)
        down = self.center_down.get(center, set())
        agent = next(iter(down))[1] if down else ""
        key = next((k for k in self.center_alerts.get(center, ()) if k.code == "center.lan_down"),
                   AlertKey(center=center, agent=agent, device=AGENT_ALERT_DEVICE, code="center.lan_down"))
        if len(down) >= LAN_DOWN_MIN_DEVICES and len(down) >= LAN_DOWN_FRACTION * total:
            if key not in self.open_alerts:
                self._open(out, key, "critical", center, {"down": len(down), "total": total}, now)
                # the per-device alerts this outage already opened fold into the one alert
                for dkey in down:
                    for k in [k for k in self.keys_by_device.get(dkey, ())
                              if k.code == "device.unreachable"]:
                        if self.pending.pop(k, None) is not None:
                            out.changes.timers.add(k)
                        self._resolve(out, k, now, "grouped into center.lan_down")
        elif key in self.open_alerts and len(down) < 0.5 * max(1, total):
            self._resolve(out, key, now, "center network back")

    # -- time -----------------------------------------------------------------------------
    def tick(self, now: float, check_silence: bool = True,
             changes: Changes | None = None) -> list[Effect]:
        """Timers: `for:`/`clear_for` and silent agents. Sets next_silence_deadline, the next
        time an agent would count as gone, so the caller can wake exactly then."""
        out = Out(changes)
        self._advance(out, now)
        self.next_silence_deadline = float("inf")
        if not check_silence:
            return out
        misses = self.rules.heartbeat_misses
        for agent in self.agents.values():
            if agent.state != "online" or agent.last_seen == 0.0:
                continue
            deadline = max(agent.last_seen, self.listening_since) + agent.silence_limit(misses)
            if now >= deadline:
                agent.state = "offline"
                key = AlertKey(center=agent.center, agent=agent.agent, device=AGENT_ALERT_DEVICE,
                               code="agent.offline")
                self._open(out, key, "critical", self.box_name(agent),
                           {"reason": "no heartbeat", "silent_s": round(now - agent.last_seen, 1)},
                           now)
                out.changes.agents.add((agent.center, agent.agent))
            elif deadline < self.next_silence_deadline:
                self.next_silence_deadline = deadline
        return out
