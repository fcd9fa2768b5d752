"""Per-agent sequence accounting (Sparkplug style): gaps, duplicates and late fills, per session."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from enum import Enum

from hcc_common.wire import SessionAck

KEEP_SESSIONS = 8            # older sessions' late messages still count correctly
# Missing seqs are kept as ranges, so a jump of 10^15 costs one range, not 10^15 entries. A
# session keeps at most this many separate ranges; gaps past them are counted, not tracked.
MAX_RANGES = 1000
# An acknowledgement names at most this many missing ranges (it must fit one small message).
ACK_RANGES = 100


class Verdict(Enum):
    NEW = "new"              # the newest of its session: it may change current state
    LATE = "late"            # fills a gap, or belongs to an older session: history only
    DUPLICATE = "duplicate"  # already seen: ignore


def _start(r: list[int]) -> int:
    return r[0]


@dataclass
class SessionSeqs:
    """One session: the highest seq seen and the seqs below it never seen, as sorted ranges."""

    last_seq: int = 0
    # disjoint, sorted, inclusive [start, end] ranges of seqs not (yet) received
    ranges: list[list[int]] = field(default_factory=list)
    missing_count: int = 0
    untracked_gaps: int = 0  # gaps counted but no longer tracked (too many ranges, or lost)
    # Seqs up to here were sent before our first contact with this session: asked for (the
    # agent may hold them), but not gaps of ours. pre_missing: how many of them are missing.
    pre_contact: int = 0
    pre_missing: int = 0

    @property
    def gaps(self) -> int:
        return self.missing_count - self.pre_missing + self.untracked_gaps

    def extend_to(self, seq: int) -> None:
        if seq <= self.last_seq:
            return
        if seq > self.last_seq + 1:
            start, end = self.last_seq + 1, seq - 1
            if len(self.ranges) < MAX_RANGES:
                self.ranges.append([start, end])
                self.missing_count += end - start + 1
            else:
                self.untracked_gaps += end - start + 1
        self.last_seq = seq

    def is_missing(self, seq: int) -> bool:
        i = bisect_right(self.ranges, seq, key=_start) - 1
        return i >= 0 and self.ranges[i][0] <= seq <= self.ranges[i][1]

    def fill(self, seq: int) -> bool:
        """Take `seq` out of the missing ranges; False if it was not missing."""
        i = bisect_right(self.ranges, seq, key=_start) - 1
        if i < 0:
            return False
        start, end = self.ranges[i]
        if not start <= seq <= end:
            return False
        if seq <= self.pre_contact:
            self.pre_missing -= 1
        if start == end:
            del self.ranges[i]
        elif seq == start:
            self.ranges[i][0] = seq + 1
        elif seq == end:
            self.ranges[i][1] = seq - 1
        elif len(self.ranges) < MAX_RANGES:
            self.ranges[i:i + 1] = [[start, seq - 1], [seq + 1, end]]
        else:
            # no room to split: the tail of this range is no longer tracked
            self.ranges[i][1] = seq - 1
            self._untrack(seq + 1, end)
        self.missing_count -= 1
        return True

    def end_at(self, seq: int) -> None:
        """The agent says this session's last seq was `seq`: everything unseen up to it is a gap."""
        self.extend_to(seq + 1)
        self.last_seq = seq

    def lost_below(self, seq: int) -> None:
        """The agent no longer holds anything below `seq`: what is still missing there can
        never come, so it stops being asked for (it stays counted as a gap)."""
        while self.ranges and self.ranges[0][0] < seq:
            start, end = self.ranges[0]
            cut = min(end, seq - 1)
            self._untrack(start, cut)
            if cut == end:
                del self.ranges[0]
            else:
                self.ranges[0][0] = cut + 1

    def _untrack(self, start: int, end: int) -> None:
        """Stop tracking [start, end]: what came before our first contact is simply dropped,
        the rest stays counted as gaps."""
        before = max(0, min(end, self.pre_contact) - start + 1)
        self.missing_count -= end - start + 1
        self.pre_missing -= before
        self.untracked_gaps += end - start + 1 - before

    def ack(self) -> SessionAck:
        """What the agent may forget: every seq up to `last` except the `missing` ranges. With
        more ranges than fit, `last` stops short of the first range left out."""
        shown = self.ranges[:ACK_RANGES]
        last = self.last_seq if len(self.ranges) <= ACK_RANGES else self.ranges[ACK_RANGES][0] - 1
        return SessionAck(last, tuple((a, b) for a, b in shown))

    def to_json(self) -> dict[str, object]:
        return {"last": self.last_seq, "untracked": self.untracked_gaps,
                "missing": [list(r) for r in self.ranges], "pre": self.pre_contact}

    @staticmethod
    def from_json(data: dict[str, object]) -> SessionSeqs:
        ranges = [[int(a), int(b)] for a, b in data.get("missing", [])]  # type: ignore[attr-defined]
        pre = int(data.get("pre", 0))  # type: ignore[call-overload]
        return SessionSeqs(int(data.get("last", 0)), ranges,  # type: ignore[call-overload]
                           sum(b - a + 1 for a, b in ranges),
                           int(data.get("untracked", 0)),  # type: ignore[call-overload]
                           pre, sum(max(0, min(b, pre) - a + 1) for a, b in ranges))


@dataclass
class SeqTracker:
    """What one agent has delivered. Pure: no clock, no I/O."""

    sessions: dict[int, SessionSeqs] = field(default_factory=dict)
    received: int = 0
    duplicates: int = 0

    @property
    def current(self) -> int:
        return max(self.sessions, default=0)

    @property
    def last_seq(self) -> int:
        s = self.sessions.get(self.current)
        return s.last_seq if s is not None else 0

    @property
    def gaps(self) -> int:
        return sum(s.gaps for s in self.sessions.values())

    def _session(self, session: int, first_seq: int, first_contact: bool) -> SessionSeqs | None:
        found = self.sessions.get(session)
        if found is not None:
            return found
        if len(self.sessions) >= KEEP_SESSIONS and session < min(self.sessions):
            return None  # older than anything we keep: cannot judge
        found = SessionSeqs()
        if first_contact:
            # First contact mid-session: the earlier seqs were sent before we listened. They
            # are missing, not "before our time": an agent keeps what no controller confirmed,
            # so the ack asks for them, and its kept_from tells what it no longer has.
            found.end_at(first_seq - 1)
            found.pre_contact = found.pre_missing = first_seq - 1
        self.sessions[session] = found
        while len(self.sessions) > KEEP_SESSIONS:
            del self.sessions[min(self.sessions)]
        return found

    def observe(self, session: int, seq: int) -> Verdict:
        s = self.sessions.get(session)
        if s is not None and seq == s.last_seq + 1:
            # the common case, the next report in order: no gap to record
            s.last_seq = seq
            self.received += 1
            return Verdict.NEW if session >= max(self.sessions) else Verdict.LATE
        first_contact = not self.sessions
        newest = session >= self.current
        s = self._session(session, seq, first_contact)
        if s is None:
            self.received += 1
            return Verdict.LATE
        if seq > s.last_seq:
            s.extend_to(seq)
            self.received += 1
            return Verdict.NEW if newest else Verdict.LATE
        if s.fill(seq):
            self.received += 1
            return Verdict.LATE
        self.duplicates += 1
        return Verdict.DUPLICATE

    def birth(self, session: int, prev_session: int | None, prev_last_seq: int | None) -> None:
        """A birth opens a session counted from seq 1, and says where the previous one ended."""
        self._session(session, 1, first_contact=False)
        if prev_session is not None and prev_last_seq is not None:
            prev = self._session(prev_session, 1, first_contact=False)
            if prev is not None and prev_last_seq > prev.last_seq:
                prev.end_at(prev_last_seq)

    def kept_from(self, session: int, seq: int) -> None:
        """The agent's outbox holds nothing older than (session, seq): older gaps are lost."""
        for number, s in self.sessions.items():
            if number < session:
                s.lost_below(s.last_seq + 1)
            elif number == session:
                s.lost_below(seq)

    def acks(self) -> dict[int, SessionAck]:
        """The acknowledgement the controller publishes to the agent: per session, what it has."""
        return {k: v.ack() for k, v in self.sessions.items()}

    def copy(self) -> SeqTracker:
        return SeqTracker({k: SessionSeqs(v.last_seq, [list(r) for r in v.ranges],
                                          v.missing_count, v.untracked_gaps, v.pre_contact,
                                          v.pre_missing)
                           for k, v in self.sessions.items()}, self.received, self.duplicates)

    def to_json(self) -> dict[str, object]:
        return {str(k): v.to_json() for k, v in self.sessions.items()}

    @staticmethod
    def from_json(data: dict[str, dict[str, object]], received: int, duplicates: int
                  ) -> SeqTracker:
        return SeqTracker({int(k): SessionSeqs.from_json(v) for k, v in data.items()},
                          received, duplicates)
