"""Pure fleet state: apply a decoded message or a clock tick, get back the effects to store."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from hcc_common import wire
from hcc_common.faults import fault_subject
from hcc_common.wire import MetricValue

AGENT_ALERT_DEVICE = ""  # alerts about the agent itself carry no device
MAX_TRACKED_MISSING = 100_000


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
    last_seq: int = 0
    received: int = 0
    gaps: int = 0
    duplicates: int = 0
    heartbeat_interval: float = 30.0
    clock_skew_s: float = 0.0
    host: Mapping[str, MetricValue] = field(default_factory=dict)
    backlog: int = 0
    # seqs skipped in the current session that may still arrive late
    missing: set[int] = field(default_factory=set)


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


Effect = OpenAlert | ResolveAlert | AgentInfo | DeviceInfo


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
    def apply(self, msg: wire.Message, received_at: float) -> list[Effect]:
        out: list[Effect] = []
        key = (msg.center, msg.agent)
        agent = self.agents.get(key)
        if agent is None:
            # First contact mid-session: earlier seqs were sent before we ever listened,
            # so they are not gaps. After a birth, counting starts at seq 1.
            baseline = 0 if isinstance(msg, wire.StateMessage) else msg.seq - 1
            agent = AgentInfo(msg.center, msg.agent, session=msg.session, last_seq=baseline)
            self.agents[key] = agent
        if isinstance(msg, wire.StateMessage):
            self._apply_state(out, agent, msg, received_at)
        else:
            fresh = self._count_seq(agent, msg.session, msg.seq)
            if fresh is None:
                out.append(replace(agent, missing=set()))
                return out  # a duplicate: counted, otherwise ignored
            agent.last_seen = max(agent.last_seen, received_at)
            agent.clock_skew_s = round(msg.ts - received_at, 3) if fresh else agent.clock_skew_s
            self._come_online(out, agent, received_at)
            if isinstance(msg, wire.Heartbeat):
                agent.heartbeat_interval = msg.interval_s
                agent.host = msg.host
                agent.backlog = msg.backlog
            else:
                self._apply_result(out, msg, received_at)
        out.append(replace(agent, missing=set()))
        return out

    def _count_seq(self, agent: AgentInfo, session: int, seq: int) -> bool | None:
        """Track gaps and duplicates. True: newest so far; False: late but new; None: duplicate."""
        if session > agent.session:
            agent.session, agent.last_seq = session, 0
            agent.missing.clear()
        elif session < agent.session:
            agent.received += 1
            return False  # an older session's message replayed late: history only
        if seq > agent.last_seq:
            if seq > agent.last_seq + 1 and len(agent.missing) < MAX_TRACKED_MISSING:
                agent.missing.update(range(agent.last_seq + 1, min(seq, agent.last_seq + 1
                                                                   + MAX_TRACKED_MISSING)))
            agent.gaps += seq - agent.last_seq - 1
            agent.last_seq = seq
            agent.received += 1
            return True
        if seq in agent.missing:
            agent.missing.discard(seq)
            agent.gaps -= 1
            agent.received += 1
            return False
        agent.duplicates += 1
        return None

    def _apply_state(self, out: list[Effect], agent: AgentInfo, msg: wire.StateMessage,
                     received_at: float) -> None:
        if msg.session < agent.session:
            return  # a stale retained birth or will from an earlier run
        if msg.session > agent.session:
            agent.session, agent.last_seq = msg.session, 0
            agent.missing.clear()
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

    def _apply_result(self, out: list[Effect], r: wire.Result, received_at: float) -> None:
        dkey = (r.center, r.agent, r.device)
        prev = self.devices.get(dkey)
        order = (r.session, r.seq)
        if prev is not None and order < prev.order:
            return  # older than what we show: history, not the current state
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
                out.append(replace(agent, missing=set()))
        return out
