"""Pure controller state: unreachable after N polls, agent offline, resolution, seq accounting."""

from __future__ import annotations

from controller.rules import Rule
from controller.state import AlertKey, Fleet, OpenAlert, ResolveAlert, Rules
from hcc_common import wire

C, A = "ba-dinh", "pi-1"
# Every fault alerts at once and clears at once: the lifecycle without the shipped timings.
SIMPLE = (Rule(name="all", fault="*"),)


def result(seq: int, status: str = "ok", faults: tuple[wire.FaultReport, ...] = (),
           device: str = "printer-1", session: int = 1) -> wire.Result:
    return wire.Result(center=C, agent=A, device=device, session=session, seq=seq, ts=float(seq),
                       device_type="printer", device_name="Máy in quầy 1", status=status,
                       metrics={}, faults=faults)  # type: ignore[arg-type]


UNREACH = (wire.FaultReport("device.unreachable", "critical", {}),)
JAM = (wire.FaultReport("printer.jammed", "critical", {}),)


def opened(effects: list[object]) -> list[AlertKey]:
    return [e.key for e in effects if isinstance(e, OpenAlert)]


def resolved(effects: list[object]) -> list[AlertKey]:
    return [e.key for e in effects if isinstance(e, ResolveAlert)]


def test_unreachable_opens_only_after_n_consecutive_failures() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(unreachable_after=3))
    key = AlertKey(center=C, agent=A, device="printer-1", code="device.unreachable")
    assert opened(fleet.apply(result(1, "unreachable", UNREACH), 1.0)) == []
    assert opened(fleet.apply(result(2, "unreachable", UNREACH), 2.0)) == []
    assert opened(fleet.apply(result(3, "unreachable", UNREACH), 3.0)) == [key]
    assert opened(fleet.apply(result(4, "unreachable", UNREACH), 4.0)) == []  # not twice
    assert resolved(fleet.apply(result(5), 5.0)) == [key]


def test_a_precise_silence_is_debounced_like_not_responding() -> None:
    """A box that says why a device is silent (SNMP off, a TLS port that hangs) reports it as
    "unreachable" with that fault: one silent poll pages nobody; the third opens that fault,
    not "not responding"."""
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(unreachable_after=3))
    silent = (wire.FaultReport("device.snmp_silent", "critical", {"target": "192.0.2.7"}),)
    key = AlertKey(center=C, agent=A, device="printer-1", code="device.snmp_silent")
    assert opened(fleet.apply(result(1, "unreachable", silent), 1.0)) == []
    assert opened(fleet.apply(result(2, "unreachable", silent), 2.0)) == []
    assert opened(fleet.apply(result(3, "unreachable", silent), 3.0)) == [key]
    assert resolved(fleet.apply(result(4), 4.0)) == [key]


def test_a_success_resets_the_failure_count() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(unreachable_after=2))
    fleet.apply(result(1, "unreachable", UNREACH), 1.0)
    fleet.apply(result(2), 2.0)
    assert opened(fleet.apply(result(3, "unreachable", UNREACH), 3.0)) == []


def test_device_fault_opens_and_clears() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    key = AlertKey(center=C, agent=A, device="printer-1", code="printer.jammed")
    assert opened(fleet.apply(result(1, "critical", JAM), 1.0)) == [key]
    assert resolved(fleet.apply(result(2), 2.0)) == [key]


def test_two_supplies_with_one_code_are_two_alerts() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    f = (wire.FaultReport("printer.toner_low", "warning", {"supply": "Black", "level": 3}),
         wire.FaultReport("printer.toner_low", "warning", {"supply": "Cyan", "level": 4}))
    keys = opened(fleet.apply(result(1, "warning", f), 1.0))
    assert {k.subject for k in keys} == {"Black", "Cyan"}


def test_agent_offline_by_will_and_back_online() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    key = AlertKey(center=C, agent=A, device="", code="agent.offline")
    fleet.apply(wire.StateMessage(C, A, "online", 1, 0.0), 0.0)
    assert opened(fleet.apply(wire.StateMessage(C, A, "offline", 1, 5.0), 5.0)) == [key]
    assert resolved(fleet.apply(wire.StateMessage(C, A, "online", 2, 9.0), 9.0)) == [key]


def test_stale_will_from_an_older_session_is_ignored() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    fleet.apply(wire.StateMessage(C, A, "online", 2, 0.0), 0.0)
    assert opened(fleet.apply(wire.StateMessage(C, A, "offline", 1, 1.0), 1.0)) == []


def test_agent_offline_when_heartbeats_stop() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(heartbeat_misses=3))
    fleet.apply(wire.Heartbeat(C, A, 1, 1, 100.0, 10.0, {}), 100.0)
    assert fleet.tick(125.0) == []
    effects = fleet.tick(131.0)
    assert opened(effects) == [AlertKey(center=C, agent=A, device="", code="agent.offline")]
    assert fleet.tick(140.0) == []  # once


def test_gaps_duplicates_and_late_arrivals_are_counted() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    for seq in (1, 2, 5):
        fleet.apply(result(seq), float(seq))
    agent = fleet.agents[(C, A)]
    assert (agent.last_seq, agent.received, agent.gaps, agent.duplicates) == (5, 3, 2, 0)
    fleet.apply(result(2), 6.0)  # QoS 1 redelivery
    assert (agent.received, agent.duplicates) == (3, 1)
    fleet.apply(result(3), 7.0)  # late, fills a gap
    assert (agent.received, agent.gaps) == (4, 1)


def test_duplicate_never_opens_twice_and_old_result_never_resolves_newer_fault() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    jam_key = AlertKey(center=C, agent=A, device="printer-1", code="printer.jammed")
    fleet.apply(result(1), 1.0)
    assert opened(fleet.apply(result(3, "critical", JAM), 3.0)) == [jam_key]
    # seq 2 (an ok result, older than the jam) arrives late: history only
    assert resolved(fleet.apply(result(2), 4.0)) == []
    assert jam_key in fleet.open_alerts
    assert opened(fleet.apply(result(3, "critical", JAM), 5.0)) == []


def test_new_session_restarts_seq() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    fleet.apply(result(10, session=1), 1.0)
    fleet.apply(result(1, session=2), 2.0)
    agent = fleet.agents[(C, A)]
    assert (agent.session, agent.last_seq, agent.gaps, agent.duplicates) == (2, 1, 0, 0)


# -- delivery accounting across sessions (Sparkplug style) -----------------------------------------
def heartbeat(seq: int, ts: float, session: int = 1) -> wire.Heartbeat:
    return wire.Heartbeat(C, A, session, seq, ts, 30.0, {})


def test_killed_session_tail_is_a_gap_until_replayed() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    fleet.apply(wire.StateMessage(C, A, "online", 1, 0.0), 0.0)
    for seq in (1, 2, 3):
        fleet.apply(result(seq), float(seq))
    # The agent was killed with seqs 4..6 stored but unsent; its next birth says so.
    fleet.apply(wire.StateMessage(C, A, "online", 2, 10.0, prev_session=1, prev_last_seq=6), 10.0)
    agent = fleet.agents[(C, A)]
    assert (agent.gaps, agent.received) == (3, 3)
    for seq in (4, 5, 6):  # the outbox replays them after the restart
        fleet.apply(result(seq, session=1), 11.0)
    fleet.apply(result(1, session=2), 12.0)
    assert (agent.gaps, agent.received, agent.duplicates) == (0, 7, 0)


def test_replayed_old_session_never_changes_current_state() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    jam_key = AlertKey(center=C, agent=A, device="printer-1", code="printer.jammed")
    fleet.apply(wire.StateMessage(C, A, "online", 2, 0.0, prev_session=1, prev_last_seq=1), 0.0)
    assert opened(fleet.apply(result(1, "critical", JAM, session=2), 1.0)) == [jam_key]
    effects = fleet.apply(result(1, "ok", session=1), 2.0)  # older session, arrives later
    assert resolved(effects) == [] and jam_key in fleet.open_alerts


def test_retained_birth_on_first_subscribe_does_not_invent_gaps() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    fleet.apply(wire.StateMessage(C, A, "online", 5, 0.0), 100.0, retained=True)
    fleet.apply(result(4000, session=5), 101.0)
    assert fleet.agents[(C, A)].gaps == 0


def test_clock_skew_alert_with_hysteresis_and_delay_tolerance() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(clock_skew_s=120.0))
    key = AlertKey(center=C, agent=A, device="", code="agent.clock_skew")
    # agent clock 300 s behind; one heartbeat also delayed 50 s by the network
    assert opened(fleet.apply(heartbeat(1, 1000.0 - 300.0), 1000.0)) == [key]
    fleet.apply(heartbeat(2, 1030.0 - 350.0), 1030.0)
    assert fleet.agents[(C, A)].clock_skew_s == -300.0
    for i, t in enumerate(range(1060, 1300, 30), start=3):  # clock fixed by NTP
        effects = fleet.apply(heartbeat(i, float(t)), float(t))
    assert resolved(effects) == [key] or key not in fleet.open_alerts


def test_history_records_changes_and_replays_once() -> None:
    from controller.state import DeviceEvent

    fleet = Fleet(alert_rules=SIMPLE)
    events = [e for e in fleet.apply(result(1), 1.0) if isinstance(e, DeviceEvent)]
    assert len(events) == 1  # first sight of the device
    assert not [e for e in fleet.apply(result(2), 2.0) if isinstance(e, DeviceEvent)]
    events = [e for e in fleet.apply(result(3, "critical", JAM), 3.0) if isinstance(e, DeviceEvent)]
    assert [(e.faults, e.replayed) for e in events] == [(("printer.jammed",), False)]


def test_agent_state_survives_a_store_round_trip(tmp_path) -> None:
    from controller.store import Store
    from controller.write_behind import WriteBehind

    fleet, wb = Fleet(alert_rules=SIMPLE), WriteBehind()
    effects = fleet.apply(wire.StateMessage(C, A, "online", 3, 5.0, 2, 7), 5.0, changes=wb.changes)
    effects += fleet.apply(result(1, session=3), 6.0, changes=wb.changes)
    effects += wb.agents(fleet)
    store = Store(tmp_path / "s.db")
    store.write(effects)
    (agent,) = store.agents()
    assert (agent.session, agent.last_seq, agent.received, agent.gaps) == (3, 1, 1, 7)
    restored = Fleet(alert_rules=SIMPLE)
    restored.restore(store.agents(), store.devices(), store.open_alert_keys())
    restored.apply(result(2, session=3), 7.0)  # goes on where it was, no crash
    assert restored.agents[(C, A)].last_seq == 2


def test_silent_agent_is_offline_at_one_and_a_half_keepalives() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(heartbeat_misses=3))
    fleet.apply(wire.StateMessage(C, A, "online", 1, 100.0, keepalive_s=3.0), 100.0)
    fleet.apply(wire.Heartbeat(C, A, 1, 1, 100.0, 2.0, {}), 100.0)
    assert fleet.tick(104.4) == []
    assert fleet.next_silence_deadline == 104.5  # where the caller wakes up next
    effects = fleet.tick(104.5)
    assert opened(effects) == [AlertKey(center=C, agent=A, device="", code="agent.offline")]
    assert fleet.tick(110.0) == []  # once


def test_heartbeats_further_apart_than_keepalive_fall_back_to_missed_heartbeats() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(heartbeat_misses=3))
    fleet.apply(wire.StateMessage(C, A, "online", 1, 100.0, keepalive_s=10.0), 100.0)
    fleet.apply(wire.Heartbeat(C, A, 1, 1, 100.0, 30.0, {}), 100.0)
    assert fleet.tick(150.0) == []  # 1.5 x keepalive would be a false alarm between heartbeats
    assert opened(fleet.tick(190.0)) == [AlertKey(center=C, agent=A, device="", code="agent.offline")]


def test_silence_counts_only_while_the_controller_listens() -> None:
    fleet = Fleet(alert_rules=SIMPLE)
    fleet.apply(wire.StateMessage(C, A, "online", 1, 100.0, keepalive_s=3.0), 100.0)
    fleet.apply(wire.Heartbeat(C, A, 1, 1, 100.0, 2.0, {}), 100.0)
    fleet.listening_since = float("inf")  # our own broker connection is down
    assert fleet.tick(200.0) == []
    fleet.listening_since = 200.0  # back: the agent gets a full 1.5 x keepalive from now
    assert fleet.tick(204.0) == []
    assert fleet.tick(204.6, check_silence=False) == []  # catching up on a backlog
    assert opened(fleet.tick(204.6)) == [AlertKey(center=C, agent=A, device="", code="agent.offline")]


def test_new_readings_are_written_behind_changes_at_once() -> None:
    from controller.state import DeviceInfo
    from controller.write_behind import WriteBehind

    fleet, wb = Fleet(alert_rules=SIMPLE), WriteBehind()

    def infos(effects: list[object]) -> list[DeviceInfo]:
        return [e for e in effects if isinstance(e, DeviceInfo)]

    def apply(msg: wire.Message, at: float) -> list[DeviceInfo]:
        return infos(fleet.apply(msg, at, changes=wb.changes))

    assert len(apply(result(1), 1.0)) == 1  # a new device: stored with its batch
    assert apply(result(2), 2.0) == []  # same status, new reading: held back
    assert apply(result(3), 3.0) == []
    (held,) = wb.devices(fleet)
    assert isinstance(held, DeviceInfo) and (held.session, held.seq) == (1, 3)  # the latest one only
    assert wb.devices(fleet) == []
    (jam,) = apply(result(4, "critical", JAM), 4.0)  # a change: at once
    assert jam.status == "critical"
    assert wb.devices(fleet) == []


# -- known agents and caps (issue 11.6) ----------------------------------------------------------
def test_fifty_thousand_made_up_agents_give_one_warning_and_no_state() -> None:
    """Reproduces issue 11.6: each new agent id opened its own critical alert and its own row."""
    fleet = Fleet(alert_rules=SIMPLE, known_agents={C: frozenset({"pi-1"})})
    effects: list[object] = []
    for i in range(50_000):
        msg = wire.StateMessage(C, f"fake-{i}", "offline", 1, 1.0)
        effects += fleet.apply(msg, 1.0 + i)
    assert opened(effects) == [AlertKey(center=C, agent="", device="", code="center.unknown_agent")]
    assert len(fleet.agents) == 0 and fleet.unknown_agent_messages[C] == 50_000
    assert not opened(fleet.apply(result(1), 2.0))  # the declared box is admitted


def test_undeclared_center_admits_up_to_the_cap() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(max_agents_per_center=2))
    for agent in ("pi-1", "pi-2", "pi-3", "pi-4"):
        fleet.apply(wire.StateMessage(C, agent, "online", 1, 1.0), 1.0)
    assert sorted(a for _, a in fleet.agents) == ["pi-1", "pi-2"]
    assert fleet.unknown_agent_messages[C] == 2


def test_device_cap_per_center() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(max_devices_per_center=3))
    effects: list[object] = []
    for i in range(10):
        effects += fleet.apply(result(i + 1, device=f"d{i}"), float(i + 1))
    assert len(fleet.devices) == 3
    assert opened(effects) == [AlertKey(center=C, agent="", device="", code="center.too_many_devices")]
    assert fleet.over_device_cap[C] == 7


def test_a_center_offline_alert_names_the_center() -> None:
    """Issue 14: the center-offline alert named the box by its id ("pi-demo: …")."""
    fleet = Fleet(alert_rules=SIMPLE, center_names={C: "Trung tâm PVHCC phường Ba Đình"})
    effects = fleet.apply(wire.StateMessage(C, A, "offline", 1, 1.0), 1.0)
    alert = next(e for e in effects if isinstance(e, OpenAlert))
    assert alert.device_name == "Trung tâm PVHCC phường Ba Đình (pi-1)"
    unnamed = Fleet(alert_rules=SIMPLE).apply(wire.StateMessage(C, A, "offline", 1, 1.0), 1.0)
    assert next(e for e in unnamed if isinstance(e, OpenAlert)).device_name == "ba-dinh (pi-1)"


def test_a_replaced_box_with_a_lower_session_is_current_at_once() -> None:
    """Issue 23 item 11: the new box's session (random, or 1 under the old counter) is below
    the old box's; its birth still makes it current: online, its faults raised, no duplicates."""
    fleet = Fleet(alert_rules=SIMPLE)
    old, new = 9_000_000_000_000_001, 5_000_000_000_000_007
    offline = AlertKey(center=C, agent=A, device="", code="agent.offline")
    jam_key = AlertKey(center=C, agent=A, device="printer-1", code="printer.jammed")
    fleet.apply(wire.StateMessage(C, A, "online", old, 0.0), 0.0)
    for seq in range(1, 300):
        fleet.apply(result(seq, session=old), float(seq))
    assert opened(fleet.apply(wire.StateMessage(C, A, "offline", old, 300.0), 300.0)) == [offline]
    assert resolved(fleet.apply(wire.StateMessage(C, A, "online", new, 400.0), 400.0)) == [offline]
    agent = fleet.agents[(C, A)]
    assert agent.state == "online" and agent.session == new
    fresh = wire.Result(center=C, agent=A, device="printer-1", session=new, seq=1, ts=401.0,
                        device_type="printer", device_name="Máy in quầy 1", status="critical",
                        metrics={}, faults=JAM)
    assert opened(fleet.apply(fresh, 401.0)) == [jam_key]
    assert agent.duplicates == 0
    # the old box's will, retained, seen again (a controller restart): stale, ignored
    assert fleet.apply(wire.StateMessage(C, A, "offline", old, 300.0), 402.0,
                       retained=True) == [] and agent.state == "online"
    # and an old result arriving late is history: the jam stays
    assert resolved(fleet.apply(result(299, session=old), 403.0)) == []
    assert jam_key in fleet.open_alerts
