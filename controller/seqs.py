"""Per-agent sequence accounting (Sparkplug style): gaps, duplicates and late fills, per session."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

KEEP_SESSIONS = 8            # older sessions' late messages still count correctly
MAX_MISSING = 200_000        # per session; beyond it gaps are counted but not tracked one by one


class Verdict(Enum):
    NEW = "new"              # the newest of its session: it may change current state
    LATE = "late"            # fills a gap, or belongs to an older session: history only
    DUPLICATE = "duplicate"  # already seen: ignore


@dataclass
class SessionSeqs:
    last_seq: int = 0
    missing: set[int] = field(default_factory=set)
    untracked_gaps: int = 0  # gaps beyond MAX_MISSING, counted only

    def extend_to(self, seq: int) -> None:
        if seq <= self.last_seq:
            return
        span = seq - self.last_seq - 1
        room = max(0, MAX_MISSING - len(self.missing))
        self.missing.update(range(self.last_seq + 1, self.last_seq + 1 + min(span, room)))
        self.untracked_gaps += max(0, span - room)
        self.last_seq = seq

    def end_at(self, seq: int) -> None:
        """The agent says this session's last seq was `seq`: everything unseen up to it is a gap."""
        self.extend_to(seq + 1)
        self.last_seq = seq

    def to_json(self) -> dict[str, object]:
        return {"last": self.last_seq, "untracked": self.untracked_gaps,
                "missing": _ranges(sorted(self.missing))}

    @staticmethod
    def from_json(data: dict[str, object]) -> SessionSeqs:
        missing: set[int] = set()
        for a, b in data.get("missing", []):  # type: ignore[attr-defined]
            missing.update(range(int(a), int(b) + 1))
        return SessionSeqs(int(data.get("last", 0)), missing,  # type: ignore[call-overload]
                           int(data.get("untracked", 0)))  # type: ignore[call-overload]


def _ranges(values: list[int]) -> list[list[int]]:
    out: list[list[int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return out


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
        return sum(len(s.missing) + s.untracked_gaps for s in self.sessions.values())

    def _session(self, session: int, first_seq: int, first_contact: bool) -> SessionSeqs | None:
        found = self.sessions.get(session)
        if found is not None:
            return found
        if len(self.sessions) >= KEEP_SESSIONS and session < min(self.sessions):
            return None  # older than anything we keep: cannot judge
        # First contact mid-session: earlier seqs were sent before we ever listened.
        found = SessionSeqs(last_seq=first_seq - 1 if first_contact else 0)
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
        if seq in s.missing:
            s.missing.discard(seq)
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

    def copy(self) -> SeqTracker:
        return SeqTracker({k: SessionSeqs(v.last_seq, set(v.missing), v.untracked_gaps)
                           for k, v in self.sessions.items()}, self.received, self.duplicates)

    def to_json(self) -> dict[str, object]:
        return {str(k): v.to_json() for k, v in self.sessions.items()}

    @staticmethod
    def from_json(data: dict[str, dict[str, object]], received: int, duplicates: int
                  ) -> SeqTracker:
        return SeqTracker({int(k): SessionSeqs.from_json(v) for k, v in data.items()},
                          received, duplicates)
