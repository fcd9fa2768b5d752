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
