"""Delivery accounting: ranges of missing seqs (bounded memory), acks, and the agent's floor."""

from __future__ import annotations

import tracemalloc

from controller.seqs import ACK_RANGES, MAX_RANGES, SeqTracker, SessionSeqs, Verdict


def test_gap_fill_duplicate_as_ranges() -> None:
    t = SeqTracker()
    t.birth(1, None, None)
    for seq in (1, 2, 6, 10):
        assert t.observe(1, seq) is Verdict.NEW
    s = t.sessions[1]
    assert s.ranges == [[3, 5], [7, 9]] and t.gaps == 6
    assert t.observe(1, 4) is Verdict.LATE   # splits [3,5]
    assert s.ranges == [[3, 3], [5, 5], [7, 9]] and t.gaps == 5
    assert t.observe(1, 4) is Verdict.DUPLICATE
    assert t.observe(1, 3) is Verdict.LATE and t.observe(1, 7) is Verdict.LATE
    assert s.ranges == [[5, 5], [8, 9]] and t.gaps == 3
    assert t.observe(1, 10) is Verdict.DUPLICATE and t.duplicates == 2


def test_huge_seq_jumps_cost_one_range_each() -> None:
    """Reproduces issue 11.1: 24 messages with huge seqs cost +278 MB (200,000-entry sets)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    trackers = []
    for session in range(24):
        t = SeqTracker()
        t.observe(session + 1, 1)
        t.observe(session + 1, 2**53 - 1)
        trackers.append(t)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert trackers[0].gaps == 2**53 - 3
    assert grown < 200_000  # bytes, for all 24 (was hundreds of MB)


def test_ranges_are_bounded_and_overflow_is_counted() -> None:
    s = SessionSeqs()
    for i in range(MAX_RANGES + 50):
        s.extend_to(2 * i + 2)  # every odd seq missing: one range each
    assert len(s.ranges) == MAX_RANGES
    assert s.gaps == MAX_RANGES + 50  # still counted, just not tracked one by one


def test_ack_confirms_all_but_missing_and_stops_short_when_truncated() -> None:
    t = SeqTracker()
    t.birth(3, None, None)
    for seq in (1, 2, 5, 6):
        t.observe(3, seq)
    ack = t.acks()[3]
    assert ack.last == 6 and ack.missing == ((3, 4),)
    assert ack.confirms(2) and not ack.confirms(3) and ack.confirms(6) and not ack.confirms(7)
    s = SessionSeqs()
    for i in range(ACK_RANGES + 5):
        s.extend_to(2 * i + 2)
    a = s.ack()
    assert len(a.missing) == ACK_RANGES
    # nothing past the first range left out of the message may be confirmed
    first_unlisted = s.ranges[ACK_RANGES][0]
    assert a.last == first_unlisted - 1 and not a.confirms(first_unlisted)


def test_agent_floor_turns_missing_into_lost() -> None:
    t = SeqTracker()
    t.birth(1, None, None)
    t.observe(1, 1)
    t.observe(1, 10)   # 2..9 missing
    t.birth(2, 1, 10)
    t.observe(2, 1)
    t.observe(2, 5)    # 2..4 missing
    t.kept_from(2, 4)  # the agent holds nothing before session 2 seq 4
    assert t.sessions[1].ranges == [] and t.sessions[2].ranges == [[4, 4]]
    assert t.gaps == 8 + 3  # still gaps: lost for good, and said so
    assert t.acks()[2].missing == ((4, 4),)


def test_json_round_trip() -> None:
    t = SeqTracker()
    t.observe(1, 1)
    t.observe(1, 5)
    t.observe(1, 3)
    back = SeqTracker.from_json(t.to_json(), t.received, t.duplicates)  # type: ignore[arg-type]
    assert back.sessions[1].ranges == [[2, 2], [4, 4]] and back.gaps == 2
    assert back.observe(1, 2) is Verdict.LATE and back.gaps == 1


def test_first_contact_mid_session_asks_for_what_came_before() -> None:
    """A controller that first hears an agent at seq 7 (it subscribed after the agent's first
    reports) must not confirm seqs 1-6 it never had: the agent would delete them unsent."""
    t = SeqTracker()
    assert t.observe(3, 7) is Verdict.NEW
    assert t.acks()[3].missing == ((1, 6),) and not t.acks()[3].confirms(3)
    assert t.gaps == 0  # before our first contact: asked for, not a gap of ours
    assert t.observe(3, 2) is Verdict.LATE  # the agent sends them again
    t.kept_from(3, 5)  # ...and holds nothing older than seq 5
    assert t.acks()[3].missing == ((5, 6),) and t.gaps == 0
    t.observe(3, 10)  # a real gap after first contact counts
    assert t.gaps == 2
    back = SeqTracker.from_json(t.to_json(), t.received, t.duplicates)  # type: ignore[arg-type]
    assert back.gaps == 2 and back.acks()[3].missing == ((5, 6), (8, 9))


OLD_BOX, NEW_BOX = 7_345_812_903_114_771, 4_411_908_112_337  # random ids: the new one lower


def test_a_replaced_box_is_a_new_stream_at_once_whatever_its_number() -> None:
    """Issue 23 item 11: a fresh box under a known id must not be judged by its session
    number (it was 1 under a counter, below the old box's): its birth makes it current."""
    t = SeqTracker()
    t.birth(OLD_BOX, None, None)
    for seq in range(1, 721):
        assert t.observe(OLD_BOX, seq) is Verdict.NEW
    assert not t.is_stale(NEW_BOX)  # its birth is a new run, not an old one's
    t.birth(NEW_BOX, None, None)
    assert t.current == NEW_BOX
    assert [t.observe(NEW_BOX, s) for s in (1, 2, 3)] == [Verdict.NEW] * 3
    assert t.duplicates == 0 and t.gaps == 0
    assert t.is_stale(OLD_BOX)  # the old box's retained will, arriving late, is stale
    # the old box's late resends are history, counted, never current state
    assert t.observe(OLD_BOX, 720) is Verdict.DUPLICATE and t.duplicates == 1
    assert t.observe(OLD_BOX, 721) is Verdict.LATE
    back = SeqTracker.from_json(t.to_json(), t.received, t.duplicates)  # type: ignore[arg-type]
    assert back.current == NEW_BOX and back.observe(NEW_BOX, 4) is Verdict.NEW


def test_an_earlier_run_never_heard_of_is_late_not_a_takeover() -> None:
    t = SeqTracker()
    t.birth(NEW_BOX, OLD_BOX, 50)
    t.observe(NEW_BOX, 1)
    earlier = 9_000_000_000_123
    assert t.observe(earlier, 30) is Verdict.LATE and t.current == NEW_BOX
    assert t.gaps == 50  # the previous run's 50 never came; `earlier`'s 1-29 are not ours
    assert t.acks()[earlier].missing == ((1, 29),)
    t.kept_from(NEW_BOX, 1)  # the agent holds nothing older: older sessions' gaps are lost
    assert not t.acks()[OLD_BOX].missing and t.gaps == 50


def test_old_agents_counters_still_order_by_number() -> None:
    """Mixed fleet: an agent before random ids numbers its runs 1, 2, 3."""
    t = SeqTracker()
    t.birth(3, 2, 10)
    t.observe(3, 1)
    assert t.is_stale(2) and not t.is_stale(4)
    assert t.observe(4, 1) is Verdict.NEW and t.current == 4  # its birth was missed
    assert t.observe(3, 2) is Verdict.LATE
    stored = {"3": {"last": 5, "missing": []}, "4": {"last": 2, "missing": []}}
    old = SeqTracker.from_json(stored, 7, 0)  # type: ignore[arg-type]
    assert old.current == 4  # stored before "cur" existed: the highest, as then


def test_many_sessions_keep_the_current_one() -> None:
    t = SeqTracker()
    t.birth(NEW_BOX, None, None)
    for i in range(20):  # a box flooding made-up session ids only hurts its own accounting
        t.observe(10**12 + i, 1)
    assert NEW_BOX in t.sessions and t.current == NEW_BOX and len(t.sessions) <= 8
