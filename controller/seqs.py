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


@dataclass(kw_only=True)
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
        return SessionSeqs(last_seq=int(data.get("last", 0)), ranges=ranges,  # type: ignore[call-overload]
                           missing_count=sum(b - a + 1 for a, b in ranges),
                           untracked_gaps=int(data.get("untracked", 0)),  # type: ignore[call-overload]
                           pre_contact=pre, pre_missing=sum(max(0, min(b, pre) - a + 1) for a, b in ranges))


# Old agents number their sessions 1, 2, 3...; new ones draw a random id of at least this
# (agent.outbox.new_session_id): a counter's order is meaningful, a random id's is not.
RANDOM_SESSION_MIN = 1 << 32


def is_counter(session: int) -> bool:
    """A session numbered by an old agent's counter (ordered), not a random id."""
    return session < RANDOM_SESSION_MIN


@dataclass
class SeqTracker:
    """What one agent has delivered. Pure: no clock, no I/O.

    `sessions` is kept oldest first, in the order the agent ran them as far as we can tell (not
    by number: a replaced box's fresh session is a random id, or 1 for an old agent). `current`
    is the stream the box is running now: the session its last birth announced (or its first
    report, when no birth was seen). Only the current session's newest reports change state;
    any other session's reports are history (LATE) or DUPLICATE, and counted."""

    sessions: dict[int, SessionSeqs] = field(default_factory=dict)
    received: int = 0
    duplicates: int = 0
    current_session: int | None = None

    @property
    def current(self) -> int:
        if self.current_session is not None:
            return self.current_session
        return max(self.sessions, default=0)

    @property
    def last_seq(self) -> int:
        s = self.sessions.get(self.current)
        return s.last_seq if s is not None else 0

    @property
    def gaps(self) -> int:
        return sum(s.gaps for s in self.sessions.values())

    def is_stale(self, session: int) -> bool:
        """A birth or will of a session the box has already left (a retained one from an
        earlier run, or one overtaken on the way). A session never seen is a new run."""
        if self.current_session is None and not self.sessions:
            return False
        current = self.current
        if session == current:
            return False
        if is_counter(session) and is_counter(current):
            return session < current  # an old agent's counter: the number tells the order
        return session in self.sessions

    def announce(self, session: int) -> None:
        """A birth says the box now runs `session`: a new stream from now on, whatever its
        number. Its seqs are counted from our first report of it (see observe)."""
        self.current_session = session
        found = self.sessions.pop(session, None)
        if found is not None:
            self.sessions[session] = found  # it is the newest now

    def _new_session(self, session: int, first_seq: int, before_contact: bool,
                     as_current: bool) -> SessionSeqs:
        found = SessionSeqs()
        if before_contact:
            # First contact mid-session: the earlier seqs were sent before we listened. They
            # are missing, not "before our time": an agent keeps what no controller confirmed,
            # so the ack asks for them, and its kept_from tells what it no longer has.
            found.end_at(first_seq - 1)
            found.pre_contact = found.pre_missing = first_seq - 1
        if as_current or self.current not in self.sessions:
            self.sessions[session] = found
        else:
            # an older run we had not heard of (late resends): just before the current one
            items = list(self.sessions.items())
            at = list(self.sessions).index(self.current)
            self.sessions = dict([*items[:at], (session, found), *items[at:]])
        while len(self.sessions) > KEEP_SESSIONS:
            oldest = next(k for k in self.sessions if k != self.current)
            del self.sessions[oldest]
        return found

    def _takes_over(self, session: int) -> bool:
        """A report of a session we do not know: does it start the current stream? Yes when we
        know no current one, or when an announced session has not reported yet; for an old
        agent, when its counter went up (its birth was missed). A random id we do not know
        while another runs is an earlier run's late resend."""
        if self.current_session is None and not self.sessions:
            return True
        if self.current_session == session:
            return True
        current = self.current
        return is_counter(session) and is_counter(current) and session > current

    def observe(self, session: int, seq: int) -> Verdict:
        s = self.sessions.get(session)
        current = self.current
        if s is not None and seq == s.last_seq + 1:
            # the common case, the next report in order: no gap to record
            s.last_seq = seq
            self.received += 1
            return Verdict.NEW if session == current else Verdict.LATE
        if s is None:
            newest = self._takes_over(session)
            # Not seen from its birth (our first contact, or announced by a birth we only
            # saw retained, or an earlier run we never heard): its earlier seqs are asked for
            # but are not gaps of ours. A counter agent's missed birth counts from 1 as before.
            before_contact = not self.sessions or self.current_session == session or not newest
            if newest:
                self.current_session = session
            s = self._new_session(session, seq, before_contact, as_current=newest)
            s.extend_to(seq)
            self.received += 1
            return Verdict.NEW if newest else Verdict.LATE
        newest = session == current
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
        if prev_session is not None and prev_last_seq is not None and prev_session != session:
            prev = self.sessions.get(prev_session)
            if prev is None:
                prev = self._new_session(prev_session, 1, False, as_current=True)
            if prev_last_seq > prev.last_seq:
                prev.end_at(prev_last_seq)
        if session not in self.sessions:
            self._new_session(session, 1, False, as_current=True)
        self.announce(session)

    def kept_from(self, session: int, seq: int) -> None:
        """The agent's outbox holds nothing older than (session, seq): older gaps are lost."""
        if session not in self.sessions:
            return  # a run we do not know: which of ours are older cannot be told
        for number, s in self.sessions.items():
            if number == session:
                s.lost_below(seq)
                break
            s.lost_below(s.last_seq + 1)

    def acks(self) -> dict[int, SessionAck]:
        """The acknowledgement the controller publishes to the agent: per session, what it has."""
        return {k: v.ack() for k, v in self.sessions.items()}

    def copy(self) -> SeqTracker:
        return SeqTracker({k: SessionSeqs(last_seq=v.last_seq, ranges=[list(r) for r in v.ranges],
                                          missing_count=v.missing_count,
                                          untracked_gaps=v.untracked_gaps,
                                          pre_contact=v.pre_contact, pre_missing=v.pre_missing)
                           for k, v in self.sessions.items()}, self.received, self.duplicates,
                          self.current_session)

    def to_json(self) -> dict[str, object]:
        """Sessions oldest first (JSON objects keep their order); the current one under "cur"."""
        out: dict[str, object] = {str(k): v.to_json() for k, v in self.sessions.items()}
        if self.current_session is not None:
            out["cur"] = self.current_session
        return out

    @staticmethod
    def from_json(data: dict[str, dict[str, object]], received: int, duplicates: int
                  ) -> SeqTracker:
        raw = dict(data)
        cur = raw.pop("cur", None)
        sessions = {int(k): SessionSeqs.from_json(v) for k, v in raw.items()}
        if cur is None and sessions:
            # stored before sessions were ordered: by number, as they were then
            sessions = dict(sorted(sessions.items()))
        return SeqTracker(sessions, received, duplicates,
                          int(cur) if isinstance(cur, int) else None)
