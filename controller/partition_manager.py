"""Which centers this controller serves (partitions under leases), and the topics it follows for them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from controller.db import Db
from controller.leases import Leases, Round
from controller.partitions import PartitionSettings, filters_of, partition_of

log = logging.getLogger("hcc.controller")

# Centers one controller keeps track of (partitions): made-up ids in births cannot grow it.
MAX_CENTERS = 200_000


class Subscriptions(Protocol):
    """The MQTT link's side this service needs."""

    def subscribe(self, topics: Sequence[str]) -> None: ...
    def unsubscribe(self, topics: Sequence[str]) -> None: ...


class PartitionManager:
    """Holds the partitions leased to us and follows exactly their centers' topics. What a
    change of partitions does to the fleet state (store it, read it back) is the ingest
    loop's: a round only says which partitions to serve from now on."""

    def __init__(self, settings: PartitionSettings, leases: Leases, link: Subscriptions) -> None:
        self.settings = settings
        self.leases = leases
        self.link = link
        self.owned: frozenset[int] = frozenset()  # the partitions we hold now
        self._centers: set[str] = set()  # every center we know of
        self._subscribed: set[str] = set()  # those whose topics we follow
        self._next_round = 0.0

    def mine(self, center: str) -> bool:
        return self.mine_in(center, self.owned)

    def mine_in(self, center: str, parts: frozenset[int]) -> bool:
        return partition_of(center, self.settings.count) in parts

    def serve(self, center: str) -> bool:
        """Whether this center's messages are ours; a center not seen before (a birth of a new
        box) is followed at once if it is."""
        if center not in self._centers and len(self._centers) < MAX_CENTERS:
            self._centers.add(center)
            self.follow([center])
        return self.mine(center)

    def follow(self, centers: Iterable[str]) -> None:
        """Subscribe to the topics of the centers of ours not yet subscribed."""
        new = [c for c in centers if c not in self._subscribed and self.mine(c)]
        if new:
            self._subscribed.update(new)
            self.link.subscribe(filters_of(new))

    def learn(self, centers: Iterable[str]) -> None:
        """Centers heard of elsewhere (enrolled, declared): followed if they are ours."""
        fresh = [c for c in centers if c not in self._centers]
        self._centers.update(fresh)
        self.follow(fresh)

    def round_due(self) -> bool:
        return time.monotonic() >= self._next_round

    def start_round(self) -> tuple[Round, frozenset[int]]:
        """Renew our leases and look for work: the round, and the partitions to serve now."""
        self._next_round = time.monotonic() + self.leases.settings.round_s
        got = self.leases.round()
        return got, got.held - got.release

    def finish_round(self, got: Round) -> None:
        """Give back what the round hands over (its state is stored by now)."""
        if got.release:
            self.leases.release(got.release)  # another may take them
            log.info("partitions handed over", extra={"partitions": sorted(got.release),
                                                      "controllers": got.live})

    def stop_following_outside(self, keep: frozenset[int]) -> None:
        gone = [c for c in self._subscribed if not self.mine_in(c, keep)]
        if gone:
            self.link.unsubscribe(filters_of(gone))
            self._subscribed.difference_update(gone)

    def follow_all(self, centers: Iterable[str]) -> None:
        """After a change of partitions: follow every center of ours we know (and `centers`)."""
        self._centers.update(centers)
        self.follow(sorted(self._centers))

    @property
    def followed(self) -> int:
        return len(self._subscribed)

    def use_db(self, db: Db) -> None:
        """The store's connection was opened again."""
        self.leases.db = db

    def leave(self) -> None:
        """Give every lease back (all is stored): the others take over at once."""
        self.leases.leave()
