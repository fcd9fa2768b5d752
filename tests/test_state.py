"""Pure controller state: unreachable after N polls, agent offline, resolution, seq accounting."""

from __future__ import annotations

from controller.state import AlertKey, Fleet, OpenAlert, ResolveAlert, Rules
from hcc_common import wire

C, A = "ba-dinh", "pi-1"


def result(seq: int, status: str = "ok", faults: tuple[wire.FaultReport, ...] = (),
           device: str = "printer-1", session: int = 1) -> wire.Result:
    return wire.Result(C, A, device, session, seq, float(seq), "printer", "Máy in quầy 1",
                       status, {}, faults)  # type: ignore[arg-type]


UNREACH = (wire.FaultReport("device.unreachable", "critical", {}),)
JAM = (wire.FaultReport("printer.jammed", "critical", {}),)


def opened(effects: list[object]) -> list[AlertKey]:
    return [e.key for e in effects if isinstance(e, OpenAlert)]


def resolved(effects: list[object]) -> list[AlertKey]:
    return [e.key for e in effects if isinstance(e, ResolveAlert)]


def test_unreachable_opens_only_after_n_consecutive_failures() -> None:
    fleet = Fleet(Rules(unreachable_after=3))
    key = AlertKey(C, A, "printer-1", "device.unreachable")
    assert opened(fleet.apply(result(1, "unreachable", UNREACH), 1.0)) == []
    assert opened(fleet.apply(result(2, "unreachable", UNREACH), 2.0)) == []
    assert opened(fleet.apply(result(3, "unreachable", UNREACH), 3.0)) == [key]
    assert opened(fleet.apply(result(4, "unreachable", UNREACH), 4.0)) == []  # not twice
    assert resolved(fleet.apply(result(5), 5.0)) == [key]


def test_a_success_resets_the_failure_count() -> None:
    fleet = Fleet(Rules(unreachable_after=2))
    fleet.apply(result(1, "unreachable", UNREACH), 1.0)
    fleet.apply(result(2), 2.0)
    assert opened(fleet.apply(result(3, "unreachable", UNREACH), 3.0)) == []


def test_device_fault_opens_and_clears() -> None:
    fleet = Fleet()
    key = AlertKey(C, A, "printer-1", "printer.jammed")
    assert opened(fleet.apply(result(1, "critical", JAM), 1.0)) == [key]
    assert resolved(fleet.apply(result(2), 2.0)) == [key]


def test_two_supplies_with_one_code_are_two_alerts() -> None:
    fleet = Fleet()
    f = (wire.FaultReport("printer.toner_low", "warning", {"supply": "Black", "level": 3}),
         wire.FaultReport("printer.toner_low", "warning", {"supply": "Cyan", "level": 4}))
    keys = opened(fleet.apply(result(1, "warning", f), 1.0))
    assert {k.subject for k in keys} == {"Black", "Cyan"}


def test_agent_offline_by_will_and_back_online() -> None:
    fleet = Fleet()
    key = AlertKey(C, A, "", "agent.offline")
    fleet.apply(wire.StateMessage(C, A, "online", 1, 0.0), 0.0)
    assert opened(fleet.apply(wire.StateMessage(C, A, "offline", 1, 5.0), 5.0)) == [key]
    assert resolved(fleet.apply(wire.StateMessage(C, A, "online", 2, 9.0), 9.0)) == [key]


def test_stale_will_from_an_older_session_is_ignored() -> None:
    fleet = Fleet()
    fleet.apply(wire.StateMessage(C, A, "online", 2, 0.0), 0.0)
    assert opened(fleet.apply(wire.StateMessage(C, A, "offline", 1, 1.0), 1.0)) == []


def test_agent_offline_when_heartbeats_stop() -> None:
    fleet = Fleet(Rules(heartbeat_misses=3))
    fleet.apply(wire.Heartbeat(C, A, 1, 1, 100.0, 10.0, {}), 100.0)
    assert fleet.tick(125.0) == []
    effects = fleet.tick(131.0)
    assert opened(effects) == [AlertKey(C, A, "", "agent.offline")]
    assert fleet.tick(140.0) == []  # once


def test_gaps_duplicates_and_late_arrivals_are_counted() -> None:
    fleet = Fleet()
    for seq in (1, 2, 5):
        fleet.apply(result(seq), float(seq))
    agent = fleet.agents[(C, A)]
    assert (agent.last_seq, agent.received, agent.gaps, agent.duplicates) == (5, 3, 2, 0)
    fleet.apply(result(2), 6.0)  # QoS 1 redelivery
    assert (agent.received, agent.duplicates) == (3, 1)
    fleet.apply(result(3), 7.0)  # late, fills a gap
    assert (agent.received, agent.gaps) == (4, 1)


def test_duplicate_never_opens_twice_and_old_result_never_resolves_newer_fault() -> None:
    fleet = Fleet()
    jam_key = AlertKey(C, A, "printer-1", "printer.jammed")
    fleet.apply(result(1), 1.0)
    assert opened(fleet.apply(result(3, "critical", JAM), 3.0)) == [jam_key]
    # seq 2 (an ok result, older than the jam) arrives late: history only
    assert resolved(fleet.apply(result(2), 4.0)) == []
    assert jam_key in fleet.open_alerts
    assert opened(fleet.apply(result(3, "critical", JAM), 5.0)) == []


def test_new_session_restarts_seq() -> None:
    fleet = Fleet()
    fleet.apply(result(10, session=1), 1.0)
    fleet.apply(result(1, session=2), 2.0)
    agent = fleet.agents[(C, A)]
    assert (agent.session, agent.last_seq, agent.gaps, agent.duplicates) == (2, 1, 0, 0)
