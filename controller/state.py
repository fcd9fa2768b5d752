"""Pure fleet state: apply a decoded message or a clock tick, get back the effects to store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from controller.seqs import SeqTracker, Verdict
from hcc_common import wire
from hcc_common.faults import fault_subject
from hcc_common.wire import MetricValue

AGENT_ALERT_DEVICE = ""  # alerts about the agent itself carry no device


@dataclass(frozen=True)
class Rules:
    unreachable_after: int = 3
    # Heartbeats missing for this many intervals mean the agent is gone (the will may be lost).
    heartbeat_misses: float = 3.0
    clock_skew_s: float = 120.0


@dataclass(frozen=True)
class AlertKey:
    center: str
    agent: str
    device: str
    code: str
    subject: str = ""


@dataclass(frozen=True)
class OpenAlert:
    key: AlertKey
    severity: str
    device_name: str
    params: Mapping[str, MetricValue]
    at: float


@dataclass(frozen=True)
class ResolveAlert:
    key: AlertKey
    at: float
    reason: str


@dataclass
class AgentInfo:
    center: str
    agent: str
    state: str = "online"
    session: int = 0
    last_seen: float = 0.0
    heartbeat_interval: float = 30.0
    clock_skew_s: float = 0.0
    host: Mapping[str, MetricValue] = field(default_factory=dict)
    backlog: int = 0
    seqs: SeqTracker = field(default_factory=SeqTracker)
    # Recent (agent ts - receive time) samples: delays only push them down, so the largest
    # is the best estimate of how far the agent's clock is off.
    skew_samples: list[float] = field(default_factory=list)

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
        return replace(self, seqs=self.seqs.copy(), skew_samples=list(self.skew_samples))


SKEW_SAMPLES = 5


@dataclass(frozen=True)
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


@dataclass
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
    order: tuple[int, int] = (0, 0)  # (session, seq) of the result this reflects


Effect = OpenAlert | ResolveAlert | AgentInfo | DeviceInfo | DeviceEvent


@dataclass
class Fleet:
    rules: Rules = field(default_factory=Rules)
    agents: dict[tuple[str, str], AgentInfo] = field(default_factory=dict)
    devices: dict[tuple[str, str, str], DeviceInfo] = field(default_factory=dict)
    open_alerts: set[AlertKey] = field(default_factory=set)

    # -- restoring after a restart ----------------------------------------------------------
    def restore(self, agents: Iterable[AgentInfo], devices: Iterable[DeviceInfo],
                open_alerts: Iterable[AlertKey]) -> None:
        for a in agents:
            self.agents[(a.center, a.agent)] = a
        for d in devices:
            self.devices[(d.center, d.agent, d.device)] = d
        self.open_alerts.update(open_alerts)

    # -- alerts ---------------------------------------------------------------------------
    def _open(self, out: list[Effect], key: AlertKey, severity: str, name: str,
              params: Mapping[str, MetricValue], at: float) -> None:
        if key not in self.open_alerts:
            self.open_alerts.add(key)
            out.append(OpenAlert(key, severity, name, params, at))

    def _resolve(self, out: list[Effect], key: AlertKey, at: float, reason: str) -> None:
        if key in self.open_alerts:
            self.open_alerts.discard(key)
            out.append(ResolveAlert(key, at, reason))

    # -- messages -------------------------------------------------------------------------
    def apply(self, msg: wire.Message, received_at: float, retained: bool = False) -> list[Effect]:
        out: list[Effect] = []
        key = (msg.center, msg.agent)
        agent = self.agents.get(key)
        if agent is None:
            agent = AgentInfo(msg.center, msg.agent, session=msg.session)
            self.agents[key] = agent
        if isinstance(msg, wire.StateMessage):
            self._apply_state(out, agent, msg, received_at, retained)
        else:
            verdict = agent.seqs.observe(msg.session, msg.seq)
            if verdict is Verdict.DUPLICATE:
                out.append(agent.snapshot())
                return out  # QoS 1 redelivery or a replay we already had: counted, not applied
            agent.session = max(agent.session, msg.session)
            agent.last_seen = max(agent.last_seen, received_at)
            self._come_online(out, agent, received_at)
            if isinstance(msg, wire.Heartbeat):
                if verdict is Verdict.NEW:
                    agent.heartbeat_interval = msg.interval_s
                    agent.host = msg.host
                    agent.backlog = msg.backlog
                    self._skew(out, agent, msg.ts - received_at, received_at)
            else:
                self._apply_result(out, msg, received_at, verdict is Verdict.NEW)
        out.append(agent.snapshot())
        return out

    def _skew(self, out: list[Effect], agent: AgentInfo, sample: float, at: float) -> None:
        agent.skew_samples = [*agent.skew_samples[-(SKEW_SAMPLES - 1):], sample]
        agent.clock_skew_s = round(max(agent.skew_samples), 3)
        key = AlertKey(agent.center, agent.agent, AGENT_ALERT_DEVICE, "agent.clock_skew")
        if abs(agent.clock_skew_s) > self.rules.clock_skew_s:
            self._open(out, key, "warning", agent.agent, {"skew": round(agent.clock_skew_s)}, at)
        elif abs(agent.clock_skew_s) < self.rules.clock_skew_s * 0.8:  # hysteresis
            self._resolve(out, key, at, "clock back in step")

    def _apply_state(self, out: list[Effect], agent: AgentInfo, msg: wire.StateMessage,
                     received_at: float, retained: bool) -> None:
        if msg.session < agent.session:
            return  # a stale retained birth or will from an earlier run
        if msg.state == "online" and not (retained and not agent.seqs.sessions):
            # A retained birth seen on our first subscribe is old news: counting starts at
            # the first report we actually receive, not at seq 1.
            agent.seqs.birth(msg.session, msg.prev_session, msg.prev_last_seq)
            if not retained:
                self._skew(out, agent, msg.ts - received_at, received_at)
        agent.session = msg.session
        agent.last_seen = max(agent.last_seen, received_at)
        if msg.state == "offline":
            agent.state = "offline"
            key = AlertKey(agent.center, agent.agent, AGENT_ALERT_DEVICE, "agent.offline")
            self._open(out, key, "critical", agent.agent, {}, received_at)
        else:
            self._come_online(out, agent, received_at)

    def _come_online(self, out: list[Effect], agent: AgentInfo, at: float) -> None:
        agent.state = "online"
        key = AlertKey(agent.center, agent.agent, AGENT_ALERT_DEVICE, "agent.offline")
        self._resolve(out, key, at, "agent back online")

    def _apply_result(self, out: list[Effect], r: wire.Result, received_at: float,
                      newest: bool) -> None:
        dkey = (r.center, r.agent, r.device)
        prev = self.devices.get(dkey)
        order = (r.session, r.seq)
        codes = tuple(sorted(f.code for f in r.faults))
        if not newest or (prev is not None and order < prev.order):
            # Older than what we show (a replay after an outage): history, never current state.
            if r.faults or r.status != "ok":
                out.append(DeviceEvent(r.center, r.agent, r.device, r.session, r.seq, r.ts,
                                       received_at, r.status, codes, replayed=True))
            return
        if prev is None or prev.status != r.status or \
                tuple(sorted(f.code for f in prev.faults)) != codes:
            out.append(DeviceEvent(r.center, r.agent, r.device, r.session, r.seq, r.ts,
                                   received_at, r.status, codes, replayed=False))
        failures = (prev.consecutive_failures if prev is not None else 0) + 1 \
            if r.status == "unreachable" else 0
        dev = DeviceInfo(r.center, r.agent, r.device, r.device_name, r.device_type, r.status,
                         received_at, r.ts, failures, r.metrics, r.faults, order)
        self.devices[dkey] = dev
        out.append(dev)
        active: dict[AlertKey, wire.FaultReport] = {}
        for f in r.faults:
            if f.code == "device.unreachable" and failures < self.rules.unreachable_after:
                continue
            active[AlertKey(r.center, r.agent, r.device, f.code, fault_subject(f.params))] = f
        if r.status == "unreachable" and failures < self.rules.unreachable_after:
            # Not yet sure it is gone: keep whatever was open, open nothing new.
            return
        for k, f in active.items():
            self._open(out, k, f.severity, r.device_name, f.params, received_at)
        for k in [k for k in self.open_alerts
                  if (k.center, k.agent, k.device) == dkey and k not in active]:
            self._resolve(out, k, received_at, "condition cleared")

    # -- time -----------------------------------------------------------------------------
    def tick(self, now: float) -> list[Effect]:
        out: list[Effect] = []
        for agent in self.agents.values():
            if agent.state != "online" or agent.last_seen == 0.0:
                continue
            limit = agent.heartbeat_interval * self.rules.heartbeat_misses
            if now - agent.last_seen > limit:
                agent.state = "offline"
                key = AlertKey(agent.center, agent.agent, AGENT_ALERT_DEVICE, "agent.offline")
                self._open(out, key, "critical", agent.agent, {"reason": "no heartbeat"}, now)
                out.append(agent.snapshot())
        return out
