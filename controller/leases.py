"""Partition leases in the shared database: who serves which partitions, renewed, taken over.

Times are the database's own clock, so controllers with skewed clocks agree on who holds what.
A controller serves a partition only while its lease is valid by its own monotonic clock too
(`valid_until`): one that cannot reach the database stops before another may take over.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from controller.db import Db
from controller.partitions import PartitionSettings, plan

log = logging.getLogger("hcc.leases")

SCHEMA = """
CREATE TABLE IF NOT EXISTS partition_leases (
  part INTEGER PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS controllers_alive (
  owner TEXT PRIMARY KEY, seen_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Round:
    held: frozenset[int]       # held now, renewed (and newly claimed) this round
    release: frozenset[int]    # still held, to hand over once their state is stored
    live: int                  # controllers alive, this one included
    valid_until: float         # monotonic: serve nothing past this without a new round


class Leases:
    def __init__(self, db: Db, owner: str, settings: PartitionSettings) -> None:
        self.db, self.owner, self.settings = db, owner, settings  # tables: Store's schema

    def round(self) -> Round:
        """Say we are alive, renew what we hold, claim free partitions up to our fair share.
        One transaction."""
        started = time.monotonic()
        s, db = self.settings, self.db
        with db.transaction():
            now = db.clock()
            db.execute("INSERT INTO controllers_alive (owner, seen_at) VALUES (?,?)"
                       " ON CONFLICT (owner) DO UPDATE SET seen_at=excluded.seen_at",
                       (self.owner, now))
            live = int(db.execute("SELECT COUNT(*) FROM controllers_alive WHERE seen_at > ?",
                                  (now - s.lease_s,)).fetchone()[0])
            held = {int(r[0]) for r in db.execute(
                "UPDATE partition_leases SET expires_at=? WHERE owner=? AND expires_at > ?"
                " RETURNING part", (now + s.lease_s, self.owner, now)).fetchall()}
            todo = plan(held, live, s.count)
            if todo.claim:
                taken = {int(r[0]) for r in db.execute(
                    "SELECT part FROM partition_leases WHERE expires_at > ?", (now,)).fetchall()}
                free = [p for p in range(s.count) if p not in taken and p not in held]
                for part in free[:todo.claim]:
                    # the WHERE decides between two controllers claiming the same one
                    got = db.execute(
                        "INSERT INTO partition_leases (part, owner, expires_at) VALUES (?,?,?)"
                        " ON CONFLICT (part) DO UPDATE SET owner=excluded.owner,"
                        " expires_at=excluded.expires_at"
                        " WHERE partition_leases.expires_at <= ? RETURNING part",
                        (part, self.owner, now + s.lease_s, now)).fetchone()
                    if got is not None:
                        held.add(part)
        # by our own clock, from before the round began: never later than the database's view
        return Round(frozenset(held), todo.release, live, started + s.lease_s)

    def release(self, parts: frozenset[int]) -> None:
        """Hand partitions back (their state is stored): another controller may claim them at
        once, without waiting for the lease to lapse."""
        if not parts:
            return
        with self.db.transaction():
            for part in sorted(parts):
                self.db.execute("DELETE FROM partition_leases WHERE part=? AND owner=?",
                                (part, self.owner))

    def leave(self) -> None:
        """A clean stop: give everything back and stop counting as alive."""
        with self.db.transaction():
            self.db.execute("DELETE FROM partition_leases WHERE owner=?", (self.owner,))
            self.db.execute("DELETE FROM controllers_alive WHERE owner=?", (self.owner,))


def holders(db: Db) -> list[tuple[int, str, float]]:
    """(partition, owner, seconds left) of the valid leases, for `hcc-controller partitions`."""
    now = db.clock()
    return [(int(r[0]), str(r[1]), float(r[2]) - now) for r in db.execute(
        "SELECT part, owner, expires_at FROM partition_leases WHERE expires_at > ? ORDER BY part",
        (now,)).fetchall()]
