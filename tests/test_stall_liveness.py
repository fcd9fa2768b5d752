"""Pure: what the controller judges from time (a box's silence, its clock) counts only from when it
listens, so the backlog the broker queued during a stall of ours is not read as a box's fault."""

from __future__ import annotations

from controller.state import SKEW_SETTLE_S, AlertKey, Fleet, OpenAlert, Rules
from hcc_common import wire

C, A = "ba-dinh", "pi-1"
OFFLINE = AlertKey(center=C, agent=A, device="", code="agent.offline")
SKEW = AlertKey(center=C, agent=A, device="", code="agent.clock_skew")


def heartbeat(seq: int, ts: float) -> wire.Heartbeat:
    return wire.Heartbeat(C, A, 1, seq, ts, 2.0)


def fleet_seen_at(t: float) -> Fleet:
    fleet = Fleet(rules=Rules(clock_skew_s=10.0))
    fleet.apply(wire.StateMessage(C, A, "online", 1, t, keepalive_s=3.0), t)
    fleet.apply(heartbeat(1, t), t)
    return fleet


def test_silence_counts_from_when_the_store_commits_again() -> None:
    """The box last seen at 1000, our store stalled until 1020 (the controller moves
    listening_since there): not offline at once, but one silence limit (4.5 s) later if it
    really sends nothing."""
    fleet = fleet_seen_at(1000.0)
    fleet.listening_since = 1020.0
    assert OFFLINE not in fleet.open_alerts and not fleet.tick(1021.0)
    assert fleet.next_silence_deadline == 1024.5
    fleet.tick(1024.6)
    assert OFFLINE in fleet.open_alerts


def test_the_backlog_queued_during_a_stall_is_no_measure_of_a_box_clock() -> None:
    """Reproduces the clock-skew member of issue 23.10's class: after a stall the broker
    delivers heartbeats made up to the whole stall before; read as clock samples, a box with a
    good clock looked behind by the stall and opened agent.clock_skew."""
    fleet = fleet_seen_at(1000.0)
    fleet.listening_since = 1060.0  # 60 s of stall: heartbeats every 2 s queued at the broker
    effects = []
    for seq, made in enumerate(range(1002, 1060, 2), start=2):
        effects += fleet.apply(heartbeat(seq, float(made)), 1060.5)
    opened = [e.key for e in effects if isinstance(e, OpenAlert)]
    assert SKEW not in opened, opened  # not even for the first few, resolved later
    assert fleet.agents[(C, A)].clock_skew_s == 0.0
    # once the queue is behind us, a clock that is really off is still seen
    late = 1060.0 + SKEW_SETTLE_S + 1
    for seq in range(40, 46):
        fleet.apply(heartbeat(seq, late - 300.0), late)
    assert SKEW in fleet.open_alerts
