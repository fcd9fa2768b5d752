"""Hold back faults that only count when they last (a charger idle for a minute is not broken)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from hcc_common.faults import fault_subject
from hcc_common.wire import FaultReport


@dataclass
class FaultHold:
    """Pure and clock-free: the caller passes `now` (monotonic seconds)."""

    hold_s: Mapping[str, float]
    _since: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def apply(self, device: str, faults: Iterable[FaultReport], now: float) -> tuple[FaultReport, ...]:
        out: list[FaultReport] = []
        active: set[tuple[str, str, str]] = set()
        for f in faults:
            hold = self.hold_s.get(f.code)
            if hold is None or hold <= 0:
                out.append(f)
                continue
            key = (device, f.code, fault_subject(f.params))
            active.add(key)
            first = self._since.setdefault(key, now)
            if now - first >= hold:
                out.append(f)
        for key in [k for k in self._since if k[0] == device and k not in active]:
            del self._since[key]
        return tuple(out)
