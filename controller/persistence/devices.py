"""Boxes and devices in the store: each box's last snapshot (agents), each device's last state
(devices), the device history of status changes (device_events), and the ingest's counters."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from controller.db import Db
from controller.persistence.sql import Records, to_json, upsert
from controller.seqs import SeqTracker
from controller.state import AgentInfo, DeviceEvent, DeviceInfo, order_of
from hcc_common import wire

SCHEMA = """
CREATE TABLE IF NOT EXISTS agents (
  center TEXT NOT NULL, agent TEXT NOT NULL, state TEXT NOT NULL, session INTEGER NOT NULL,
  last_seen REAL NOT NULL, last_seq INTEGER NOT NULL, received INTEGER NOT NULL,
  gaps INTEGER NOT NULL, duplicates INTEGER NOT NULL, heartbeat_interval REAL NOT NULL,
  clock_skew_s REAL NOT NULL, backlog INTEGER NOT NULL, host TEXT NOT NULL,
  seqs TEXT NOT NULL, skew_samples TEXT NOT NULL,
  inventory TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY (center, agent)
);
-- Device history: changes of status or faults, and faulty results replayed after an outage.
CREATE TABLE IF NOT EXISTS device_events (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL,
  session INTEGER NOT NULL, seq INTEGER NOT NULL, agent_ts REAL NOT NULL,
  received_at REAL NOT NULL, status TEXT NOT NULL, faults TEXT NOT NULL, replayed INTEGER NOT NULL,
  PRIMARY KEY (center, agent, session, seq)
);
CREATE INDEX IF NOT EXISTS device_events_device ON device_events(center, device, received_at);
CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL,
  name TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
  last_seen REAL NOT NULL, agent_ts REAL NOT NULL, consecutive_failures INTEGER NOT NULL,
  metrics TEXT NOT NULL, faults TEXT NOT NULL, session INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (center, agent, device)
);
"""

AGENT_COLUMNS = ("center", "agent", "state", "session", "last_seen", "last_seq", "received",
                 "gaps", "duplicates", "heartbeat_interval", "clock_skew_s", "backlog", "host",
                 "seqs", "skew_samples", "inventory")
# Columns added after the first release: (table, column, definition), added where missing.
MIGRATIONS = (("agents", "inventory", "TEXT NOT NULL DEFAULT '{}'"),)
DEVICE_COLUMNS = ("center", "agent", "device", "name", "type", "status", "last_seen", "agent_ts",
                  "consecutive_failures", "metrics", "faults", "session", "seq")


# -- inside the ingest batch's transaction --------------------------------------------------------
def write_agents(cur: Db, agents: Iterable[AgentInfo]) -> None:
    cur.executemany(
        upsert("agents", AGENT_COLUMNS, ("center", "agent")),
        [(a.center, a.agent, a.state, a.session, a.last_seen, a.last_seq, a.received,
          a.gaps, a.duplicates, a.heartbeat_interval, a.clock_skew_s, a.backlog,
          to_json(a.host), to_json(a.seqs.to_json()), to_json(a.skew_samples),
          to_json(a.inventory))
         for a in agents],
    )


def write_device_events(cur: Db, events: Iterable[DeviceEvent]) -> None:
    # Idempotent: a replayed or redelivered report is one history line, not two.
    cur.executemany(
        "INSERT INTO device_events VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        [(e.center, e.agent, e.device, e.session, e.seq, e.agent_ts, e.received_at,
          e.status, json.dumps(e.faults), int(e.replayed)) for e in events],
    )


def write_devices(cur: Db, devices: Iterable[DeviceInfo]) -> None:
    cur.executemany(
        upsert("devices", DEVICE_COLUMNS, ("center", "agent", "device")),
        [(d.center, d.agent, d.device, d.name, d.type, d.status, d.last_seen, d.agent_ts,
          d.consecutive_failures, to_json(d.metrics),
          to_json([{"code": f.code, "severity": f.severity, "params": f.params}
                   for f in d.faults]),
          d.session, d.seq) for d in devices],
    )


def write_stats(cur: Db, stats: dict[str, int]) -> None:
    cur.executemany(upsert("stats", ("name", "value"), ("name",)), list(stats.items()))


T = TypeVar("T")


def in_centers(read: Callable[[str, Sequence[object]], list[T]],
               centers: Iterable[str]) -> list[T]:
    """`read(where, args)` for these centers, in order, 500 at a time (within any database's
    limit on parameters)."""
    chosen = sorted(centers)
    out: list[T] = []
    for i in range(0, len(chosen), 500):
        part = chosen[i:i + 500]
        out.extend(read(f" WHERE center IN ({','.join('?' for _ in part)})", part))
    return out


class Devices(Records):
    def agents(self, centers: Iterable[str] | None = None) -> list[AgentInfo]:
        """Every box, or those of `centers` only (a page of the dashboard)."""
        return self._agents("", ()) if centers is None else in_centers(self._agents, centers)

    def agent_centers(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT DISTINCT center FROM agents")]

    def _agents(self, where: str, args: Sequence[object]) -> list[AgentInfo]:
        out = []
        try:
            rows = self.db.execute(f"SELECT {', '.join(AGENT_COLUMNS)} FROM agents{where}"
                                   " ORDER BY center, agent", args).fetchall()
        except self.db.errors:
            # a read-only look at a database the running (older) controller has not migrated
            rows = [(*r, "{}") for r in self.db.execute(
                f"SELECT {', '.join(AGENT_COLUMNS[:-1])} FROM agents{where} ORDER BY center, "
                "agent", args)]
        for r in rows:
            seqs = SeqTracker.from_json(json.loads(r[13]), int(r[6]), int(r[8]))
            out.append(AgentInfo(
                center=r[0], agent=r[1], state=r[2], session=r[3], last_seen=r[4],
                heartbeat_interval=r[9], clock_skew_s=r[10], host=json.loads(r[12]),
                backlog=r[11], seqs=seqs, skew_samples=json.loads(r[14]),
                inventory=json.loads(r[15])))
        return out

    def devices(self, centers: Iterable[str] | None = None) -> list[DeviceInfo]:
        """Every device, or those of `centers` only (a page of the dashboard)."""
        return self._devices("", ()) if centers is None else in_centers(self._devices, centers)

    def device_centers(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT DISTINCT center FROM devices")]

    def device_names(self) -> list[tuple[str, str, str]]:
        """(center, device, name) of every device: what a search for a device looks through."""
        return [(str(c), str(d), str(n)) for c, d, n in self.db.execute(
            "SELECT center, device, name FROM devices")]

    def _devices(self, where: str, args: Sequence[object]) -> list[DeviceInfo]:
        out = []
        for r in self.db.execute(
                f"SELECT {', '.join(DEVICE_COLUMNS)} FROM devices {where}"
                " ORDER BY center, agent, device", args):
            faults = tuple(wire.FaultReport(f["code"], f["severity"], f.get("params", {}))
                           for f in json.loads(r[10]))
            out.append(DeviceInfo(
                center=r[0], agent=r[1], device=r[2], name=r[3], type=r[4], status=r[5],
                last_seen=r[6], agent_ts=r[7], consecutive_failures=r[8],
                metrics=json.loads(r[9]), faults=faults, order=order_of(r[11], r[12])))
        return out

    def device(self, center: str, device: str) -> DeviceInfo | None:
        """A device by center and id (the box it reports through does not matter to people)."""
        found = [d for d in self._devices("WHERE center=? AND device=?", (center, device))]
        return max(found, key=lambda d: d.last_seen) if found else None

    def device_history(self, center: str, device: str, limit: int = 100) -> list[dict[str, Any]]:
        return [{"agent": r[0], "session": r[1], "seq": r[2], "agent_ts": r[3],
                 "received_at": r[4], "status": r[5], "faults": json.loads(r[6]),
                 "replayed": bool(r[7])} for r in self.db.execute(
            "SELECT agent, session, seq, agent_ts, received_at, status, faults, replayed"
            " FROM device_events WHERE center=? AND device=? ORDER BY session DESC, seq DESC"
            " LIMIT ?", (center, device, limit))]

    def device_types(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The type of each (center, device) asked for: the alerts in hand, never the whole
        fleet (300,000 rows read at every alert change held the ingest back by seconds)."""
        out: dict[tuple[str, str], str] = {}
        for center, device in set(keys):
            row = self.db.execute("SELECT type FROM devices WHERE center=? AND device=? LIMIT 1",
                                  (center, device)).fetchone()
            if row is not None:
                out[(center, device)] = str(row[0])
        return out

    def stats(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self.db.execute("SELECT name, value FROM stats")}
