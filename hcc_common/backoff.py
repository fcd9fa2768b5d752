"""Capped exponential backoff with jitter, so 150 agents reconnecting do not stampede the broker."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 1.0
    cap: float = 60.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """Full jitter: uniform in [0, min(cap, initial * 2**attempt)], at least initial/10."""
        ceiling = min(self.cap, self.initial * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return max(self.initial / 10.0, self.rng.uniform(0.0, ceiling))

    def reset(self) -> None:
        self.attempt = 0
