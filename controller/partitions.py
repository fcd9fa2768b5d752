"""Pure partitioning of the fleet between controllers: a center's partition, fair shares, topics.

Several controllers share one PostgreSQL database. Each center's stream must reach exactly one
of them at a time, or per-agent sequence accounting sees false gaps and `for:`/`clear_for`
timers see half the facts. Centers are hashed into a fixed number of partitions; a controller
holds a lease on the partitions it serves (controller/leases.py) and subscribes to their
centers' topics only.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from hcc_common import wire


@dataclass(frozen=True, kw_only=True)
class PartitionSettings:
    count: int = 64       # fixed for the fleet's life: every controller must use the same
    lease_s: float = 15.0  # a dead controller's partitions move after at most this (+ a round)

    @property
    def round_s(self) -> float:
        """How often a controller renews its leases and looks for work: three tries per lease."""
        return self.lease_s / 3


def partition_of(center: str, count: int) -> int:
    """Stable across processes and machines (Python's hash() is salted per process)."""
    return zlib.crc32(center.encode()) % count


def fair_share(count: int, live: int) -> int:
    """The most partitions one of `live` controllers should hold."""
    return math.ceil(count / max(1, live))


@dataclass(frozen=True)
class Plan:
    claim: int                 # how many free partitions to try to claim
    release: frozenset[int]    # held partitions to hand over (after storing their state)


def plan(held: Collection[int], live: int, count: int) -> Plan:
    """What to do this round: claim up to the fair share, give back what is beyond it."""
    share = fair_share(count, live)
    if len(held) > share:
        # the highest numbers go: the same ones every time, so two rounds do not trade back
        return Plan(0, frozenset(sorted(held)[share:]))
    return Plan(share - len(held), frozenset())


def center_filters(center: str) -> tuple[str, ...]:
    """A center's own topics. Births and wills (`state`) are subscribed to fleet-wide by every
    controller, to learn of new centers; the owner is the one that applies them."""
    return (f"{wire.TOPIC_ROOT}/{center}/+/heartbeat", f"{wire.TOPIC_ROOT}/{center}/+/result/+")


STATE_FILTER = f"{wire.TOPIC_ROOT}/+/+/state"


def filters_of(centers: Iterable[str]) -> list[str]:
    return [f for c in sorted(centers) for f in center_filters(c)]
