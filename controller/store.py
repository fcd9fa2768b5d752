"""SQLite store for the controller: alerts with their history, agents, devices; WAL, batched writes."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from controller import accounts, citizen_schema, history_store, leases
from controller.db import Db, connect
from controller.seqs import SeqTracker
from controller.state import (
    AgentInfo,
    AlertKey,
    DeviceEvent,
    DeviceInfo,
    Effect,
    OpenAlert,
    Reading,
    ResolveAlert,
    TimerState,
    order_of,
)
from hcc_common import wire

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL,
  code TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
  severity TEXT NOT NULL, state TEXT NOT NULL,
  device_name TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}',
  opened_at REAL NOT NULL, acked_at REAL, acked_by TEXT, ack_note TEXT,
  resolved_at REAL, resolved_by TEXT, resolve_note TEXT,
  labels TEXT NOT NULL DEFAULT '{}'
);
-- At most one unresolved alert per condition: the database, not luck, keeps it unique.
CREATE UNIQUE INDEX IF NOT EXISTS alerts_one_open
  ON alerts(center, agent, device, code, subject) WHERE state != 'resolved';
CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, opened_at);
CREATE TABLE IF NOT EXISTS alert_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  at REAL NOT NULL, event TEXT NOT NULL, actor TEXT, note TEXT
);
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
-- Silences and maintenance windows: alerts that match stay visible but notify nobody.
CREATE TABLE IF NOT EXISTS silences (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  center TEXT, device TEXT, type TEXT, code TEXT,
  starts_at REAL NOT NULL, ends_at REAL NOT NULL,
  author TEXT NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS notifications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  receiver TEXT NOT NULL, center TEXT NOT NULL, kind TEXT NOT NULL, alert_ids TEXT NOT NULL,
  status TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT,
  created_at REAL NOT NULL, sent_at REAL
);
-- Messages that could not be decoded, applied or stored: kept with the reason, and
-- acknowledged, so one bad message never stops or loops the ingest of every center.
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_at REAL NOT NULL, topic TEXT NOT NULL, payload TEXT NOT NULL,
  size INTEGER NOT NULL, reason TEXT NOT NULL
);
-- Configs pushed to boxes: every version kept (content-addressed), and the one each box should run.
CREATE TABLE IF NOT EXISTS config_versions (
  center TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL, content TEXT NOT NULL,
  author TEXT NOT NULL, created_at REAL NOT NULL,
  PRIMARY KEY (center, agent, version)
);
CREATE TABLE IF NOT EXISTS config_desired (
  center TEXT NOT NULL, agent TEXT NOT NULL, version TEXT NOT NULL, author TEXT NOT NULL,
  updated_at REAL NOT NULL,
  PRIMARY KEY (center, agent)
);
-- One-time enrollment codes (only their hash), and the boxes enrolled: a center's known agents.
CREATE TABLE IF NOT EXISTS enrollments (
  code_hash TEXT PRIMARY KEY, center TEXT NOT NULL, agent TEXT NOT NULL,
  created_by TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
  used_at REAL, used_from TEXT
);
-- Monthly reports mailed: one row per month, claimed by the controller that sends it.
CREATE TABLE IF NOT EXISTS report_runs (
  month TEXT PRIMARY KEY, status TEXT NOT NULL, claimed_at REAL NOT NULL, attempts INTEGER NOT NULL,
  last_error TEXT, sent_at REAL
);
-- What a notification channel learns at run time (Zalo's rotating token pair), shared by
-- every controller on the database.
CREATE TABLE IF NOT EXISTS channel_state (
  channel TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL
);
-- Escalation steps taken: one row per alert and step, claimed by the controller that sends it.
CREATE TABLE IF NOT EXISTS escalations (
  alert_id INTEGER NOT NULL, step INTEGER NOT NULL, at REAL NOT NULL, note TEXT NOT NULL,
  PRIMARY KEY (alert_id, step)
);
CREATE TABLE IF NOT EXISTS alert_timers (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, code TEXT NOT NULL,
  subject TEXT NOT NULL, kind TEXT NOT NULL, since REAL NOT NULL,
  PRIMARY KEY (center, agent, device, code, subject)
);
CREATE TABLE IF NOT EXISTS devices (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL,
  name TEXT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL,
  last_seen REAL NOT NULL, agent_ts REAL NOT NULL, consecutive_failures INTEGER NOT NULL,
  metrics TEXT NOT NULL, faults TEXT NOT NULL, session INTEGER NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY (center, agent, device)
);
"""

ALERT_COLUMNS = ("id", "center", "agent", "device", "code", "subject", "severity", "state",
                 "device_name", "params", "opened_at", "acked_at", "acked_by", "ack_note",
                 "resolved_at", "resolved_by", "resolve_note", "labels")


@dataclass(frozen=True)
class AlertRow:
    id: int
    center: str
    agent: str
    device: str
    code: str
    subject: str
    severity: str
    state: str
    device_name: str
    params: dict[str, Any]
    opened_at: float
    acked_at: float | None
    acked_by: str | None
    ack_note: str | None
    resolved_at: float | None
    resolved_by: str | None
    resolve_note: str | None
    labels: dict[str, str]


AGENT_COLUMNS = ("center", "agent", "state", "session", "last_seen", "last_seq", "received",
                 "gaps", "duplicates", "heartbeat_interval", "clock_skew_s", "backlog", "host",
                 "seqs", "skew_samples", "inventory")
# Columns added after the first release: (table, column, definition), added where missing.
MIGRATIONS = (("agents", "inventory", "TEXT NOT NULL DEFAULT '{}'"),)
DEVICE_COLUMNS = ("center", "agent", "device", "name", "type", "status", "last_seen", "agent_ts",
                  "consecutive_failures", "metrics", "faults", "session", "seq")


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """INSERT … ON CONFLICT DO UPDATE, which SQLite (3.24+) and PostgreSQL both speak."""
    updates = ", ".join(f"{c}=excluded.{c}" for c in columns if c not in key)
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
            f"({', '.join('?' for _ in columns)}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
            f"{updates}")


def _json(value: object) -> str:
    """Compact UTF-8 JSON for the store's text columns. orjson: every batch writes hundreds of
    agent and device rows; it also takes any Mapping the decoder made, without a copy."""
    return orjson.dumps(value, default=dict).decode()


DEAD_LETTERS_KEPT = 10_000
DEAD_LETTER_BYTES = 8192  # of each payload; its full size is kept beside it


@dataclass(frozen=True)
class DeadLetter:
    received_at: float
    topic: str
    payload: bytes
    reason: str


class AlertNotFound(LookupError):
    pass


class Store:
    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        """`path` is an SQLite file, or a postgresql:// URL."""
        self.path = str(path)
        self.readonly = readonly
        self.db: Db = connect(path, readonly)
        if not readonly:
            self.db.schema(SCHEMA + history_store.SCHEMA + leases.SCHEMA + citizen_schema.SCHEMA)
            for table, column, definition in MIGRATIONS:
                self.db.add_column(table, column, definition)
            accounts.ensure_schema(self.db)

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        """A new connection after the old one broke (a PostgreSQL failover or restart)."""
        with contextlib.suppress(*self.db.errors):
            self.db.close()  # it is broken already; only the new one matters
        self.db = connect(self.path, self.readonly)

    # -- writing a batch of effects -----------------------------------------------------------
    def write(self, effects: Sequence[Effect],
              stats: dict[str, int] | None = None) -> list[tuple[str, AlertRow]]:
        """Persist effects in one transaction; returns the alert changes (for live feeds)."""
        changes: list[tuple[str, int]] = []
        agents: dict[tuple[str, str], AgentInfo] = {}
        devices: dict[tuple[str, str, str], DeviceInfo] = {}
        events: list[DeviceEvent] = []
        readings: list[Reading] = []
        timers: dict[AlertKey, TimerState] = {}
        cur = self.db
        cur.begin()
        try:
            for e in effects:
                if isinstance(e, AgentInfo):
                    agents[(e.center, e.agent)] = e  # only the last snapshot matters
                elif isinstance(e, DeviceInfo):
                    devices[(e.center, e.agent, e.device)] = e
                elif isinstance(e, DeviceEvent):
                    events.append(e)
                elif isinstance(e, Reading):
                    readings.append(e)
                elif isinstance(e, TimerState):
                    timers[e.key] = e
                elif isinstance(e, OpenAlert):
                    alert_id = self._open(cur, e)
                    if alert_id is not None:
                        changes.append(("opened", alert_id))
                elif isinstance(e, ResolveAlert):
                    alert_id = self._resolve_key(cur, e.key, e.at, e.reason)
                    if alert_id is not None:
                        changes.append(("resolved", alert_id))
            cur.executemany(
                _upsert("agents", AGENT_COLUMNS, ("center", "agent")),
                [(a.center, a.agent, a.state, a.session, a.last_seen, a.last_seq, a.received,
                  a.gaps, a.duplicates, a.heartbeat_interval, a.clock_skew_s, a.backlog,
                  _json(a.host), _json(a.seqs.to_json()), _json(a.skew_samples),
                  _json(a.inventory))
                 for a in agents.values()],
            )
            # Idempotent: a replayed or redelivered report is one history line, not two.
            cur.executemany(
                "INSERT INTO device_events VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                [(e.center, e.agent, e.device, e.session, e.seq, e.agent_ts, e.received_at,
                  e.status, json.dumps(e.faults), int(e.replayed)) for e in events],
            )
            cur.executemany(
                _upsert("devices", DEVICE_COLUMNS, ("center", "agent", "device")),
                [(d.center, d.agent, d.device, d.name, d.type, d.status, d.last_seen, d.agent_ts,
                  d.consecutive_failures, _json(d.metrics),
                  _json([{"code": f.code, "severity": f.severity, "params": f.params}
                         for f in d.faults]),
                  d.session, d.seq) for d in devices.values()],
            )
            history_store.write_readings(cur, readings, time.time())
            self._write_timers(cur, timers.values())
            if stats:
                cur.executemany(_upsert("stats", ("name", "value"), ("name",)),
                                list(stats.items()))
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        return [(kind, self.alert(alert_id)) for kind, alert_id in changes]

    @staticmethod
    def _write_timers(cur: Db, timers: Iterable[TimerState]) -> None:
        started = [t for t in timers if t.kind]
        ended = [t for t in timers if not t.kind]
        if not started and not ended:
            return  # the usual batch: no timer moved
        cur.executemany(
            _upsert("alert_timers", ("center", "agent", "device", "code", "subject", "kind",
                                     "since"), ("center", "agent", "device", "code", "subject")),
            [(t.key.center, t.key.agent, t.key.device, t.key.code, t.key.subject, t.kind,
              t.since) for t in started])
        cur.executemany(
            "DELETE FROM alert_timers WHERE center=? AND agent=? AND device=? AND code=?"
            " AND subject=?",
            [(t.key.center, t.key.agent, t.key.device, t.key.code, t.key.subject)
             for t in ended])

    def timers(self) -> list[TimerState]:
        """The `for:` and `clear_for` timers running when they were last stored."""
        return [TimerState(AlertKey(*r[:5]), r[5], r[6]) for r in self.db.execute(
            "SELECT center, agent, device, code, subject, kind, since FROM alert_timers")]

    def _open(self, cur: Db, e: OpenAlert) -> int | None:
        k = e.key
        # The partial unique index (one unresolved alert per condition) decides, not luck: two
        # controllers, or a restart, seeing the same condition open it once.
        row = cur.execute(
            "INSERT INTO alerts (center, agent, device, code, subject, severity, state, device_name,"
            " params, opened_at, labels) VALUES (?,?,?,?,?,?,'firing',?,?,?,?)"
            " ON CONFLICT DO NOTHING RETURNING id",
            (k.center, k.agent, k.device, k.code, k.subject, e.severity, e.device_name,
             json.dumps(dict(e.params), ensure_ascii=False), e.at, json.dumps(dict(e.labels))),
        ).fetchone()
        if row is None:
            return None  # already open: not opened twice
        alert_id = int(row[0])
        cur.execute("INSERT INTO alert_events (alert_id, at, event) VALUES (?,?,'opened')",
                    (alert_id, e.at))
        return alert_id

    def _resolve_key(self, cur: Db, k: AlertKey, at: float, note: str) -> int | None:
        row = cur.execute(
            "SELECT id FROM alerts WHERE center=? AND agent=? AND device=? AND code=? AND subject=?"
            " AND state != 'resolved'", (k.center, k.agent, k.device, k.code, k.subject),
        ).fetchone()
        if row is None or not self._mark_resolved(cur, int(row[0]), at, None, note):
            return None
        return int(row[0])

    @staticmethod
    def _mark_resolved(cur: Db, alert_id: int, at: float, actor: str | None,
                       note: str) -> bool:
        """Resolve, once: the WHERE decides between the rules and an operator (or two
        controllers) resolving the same alert at once; only the one that changed it writes the
        history line."""
        done = cur.execute("UPDATE alerts SET state='resolved', resolved_at=?, resolved_by=?,"
                           " resolve_note=? WHERE id=? AND state != 'resolved' RETURNING id",
                           (at, actor, note, alert_id)).fetchone()
        if done is None:
            return False
        cur.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                    " VALUES (?,?,'resolved',?,?)", (alert_id, at, actor, note))
        return True

    # -- reading --------------------------------------------------------------------------
    def alert(self, alert_id: int) -> AlertRow:
        row = self.db.execute(f"SELECT {','.join(ALERT_COLUMNS)} FROM alerts WHERE id=?",
                              (alert_id,)).fetchone()
        if row is None:
            raise AlertNotFound(alert_id)
        return _alert_row(row)

    def alerts(self, *, include_resolved: bool = False, center: str | None = None,
               severity: str | None = None, state: str | None = None,
               device: str | None = None,
               since: float | None = None, until: float | None = None,
               limit: int = 1000, centers: Iterable[str] | None = None) -> list[AlertRow]:
        """`centers`: only these (an account's scope); None: every center."""
        where: list[str] = []
        args: list[object] = []
        if centers is not None:
            scope = sorted(centers)
            if not scope:
                return []
            where.append(f"center IN ({','.join('?' for _ in scope)})")
            args.extend(scope)
        if state is not None:
            where.append("state = ?")
            args.append(state)
        elif not include_resolved:
            where.append("state != 'resolved'")
        for column, value in (("center", center), ("severity", severity), ("device", device)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if since is not None:
            where.append("opened_at >= ?")
            args.append(since)
        if until is not None:
            where.append("opened_at < ?")
            args.append(until)
        sql = f"SELECT {','.join(ALERT_COLUMNS)} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_alert_row(r) for r in self.db.execute(sql, args)]

    def changes_since(self, event_id: int, limit: int = 500) -> list[AlertChange]:
        rows = self.db.execute(
            f"SELECT e.id, e.event, e.at, e.actor, e.note, "
            f"{','.join('a.' + c for c in ALERT_COLUMNS)} FROM alert_events e"
            " JOIN alerts a ON a.id = e.alert_id WHERE e.id > ? ORDER BY e.id LIMIT ?",
            (event_id, limit)).fetchall()
        return [AlertChange(int(r[0]), str(r[1]), float(r[2]), r[3], r[4], _alert_row(r[5:]))
                for r in rows]

    def last_event_id(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM alert_events").fetchone()
        return int(row[0])

    # -- silences -------------------------------------------------------------------------
    def add_silence(self, *, center: str | None, device: str | None, type_: str | None,
                    code: str | None, starts_at: float, ends_at: float, author: str,
                    reason: str) -> Silence:
        row = self.db.execute(
            "INSERT INTO silences (center, device, type, code, starts_at, ends_at, author, reason,"
            " created_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
            (center, device, type_, code, starts_at, ends_at, author, reason, time.time())
        ).fetchone()
        return self.silence(int(row[0]))

    def silence(self, silence_id: int) -> Silence:
        row = self.db.execute("SELECT * FROM silences WHERE id=?", (silence_id,)).fetchone()
        if row is None:
            raise AlertNotFound(silence_id)
        return Silence(*row)

    def silences(self, active_at: float | None = None) -> list[Silence]:
        if active_at is None:
            rows = self.db.execute("SELECT * FROM silences ORDER BY id DESC")
        else:
            rows = self.db.execute("SELECT * FROM silences WHERE ends_at > ? ORDER BY id DESC",
                                   (active_at,))
        return [Silence(*r) for r in rows]

    def expire_silence(self, silence_id: int, at: float) -> Silence:
        self.silence(silence_id)
        self.db.execute("UPDATE silences SET ends_at=? WHERE id=? AND ends_at > ?",
                        (at, silence_id, at))
        return self.silence(silence_id)

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

    # -- reports --------------------------------------------------------------------------
    def response_times(self, since: float | None = None) -> list[dict[str, Any]]:
        """Mean time to acknowledge and to resolve, per center."""
        rows = self.db.execute(
            "SELECT center, COUNT(*), AVG(acked_at - opened_at), AVG(resolved_at - opened_at),"
            " CAST(SUM(CASE WHEN state != 'resolved' THEN 1 ELSE 0 END) AS BIGINT) FROM alerts"
            " WHERE opened_at >= ? GROUP BY center ORDER BY center", (since or 0.0,))
        return [{"center": r[0], "alerts": r[1], "mtta_s": r[2], "mttr_s": r[3], "open": r[4]}
                for r in rows]

    def open_by_severity(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self.db.execute(
            "SELECT severity, COUNT(*) FROM alerts WHERE state != 'resolved' GROUP BY severity")}

    # -- notifications --------------------------------------------------------------------
    def record_notification(self, receiver: str, center: str, kind: str, alert_ids: list[int],
                            status: str, attempts: int, error: str | None,
                            notification_id: int | None = None) -> int:
        now = time.time()
        if notification_id is None:
            row = self.db.execute(
                "INSERT INTO notifications (receiver, center, kind, alert_ids, status, attempts,"
                " last_error, created_at, sent_at) VALUES (?,?,?,?,?,?,?,?,?) RETURNING id",
                (receiver, center, kind, json.dumps(alert_ids), status, attempts, error, now,
                 now if status == "sent" else None)).fetchone()
            return int(row[0])
        self.db.execute("UPDATE notifications SET status=?, attempts=?, last_error=?, sent_at=?"
                        " WHERE id=?", (status, attempts, error,
                                        now if status == "sent" else None, notification_id))
        return notification_id

    def notifications(self, limit: int = 100) -> list[dict[str, Any]]:
        cols = ("id", "receiver", "center", "kind", "alert_ids", "status", "attempts",
                "last_error", "created_at", "sent_at")
        out = []
        for r in self.db.execute(f"SELECT {','.join(cols)} FROM notifications ORDER BY id DESC"
                                 " LIMIT ?", (limit,)):
            d = dict(zip(cols, r, strict=True))
            d["alert_ids"] = json.loads(d["alert_ids"])
            out.append(d)
        return out

    def open_alert_keys(self) -> list[AlertKey]:
        return [AlertKey(*r) for r in self.db.execute(
            "SELECT center, agent, device, code, subject FROM alerts WHERE state != 'resolved'")]

    def agents(self) -> list[AgentInfo]:
        out = []
        try:
            rows = self.db.execute(f"SELECT {', '.join(AGENT_COLUMNS)} FROM agents"
                                   " ORDER BY center, agent").fetchall()
        except self.db.errors:
            # a read-only look at a database the running (older) controller has not migrated
            rows = [(*r, "{}") for r in self.db.execute(
                f"SELECT {', '.join(AGENT_COLUMNS[:-1])} FROM agents ORDER BY center, agent")]
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
        if centers is None:
            return self._devices("", ())
        chosen = sorted(centers)
        out: list[DeviceInfo] = []
        for i in range(0, len(chosen), 500):  # within any database's limit on parameters
            part = chosen[i:i + 500]
            out.extend(self._devices(f"WHERE center IN ({','.join('?' for _ in part)})", part))
        return out

    def device_centers(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("SELECT DISTINCT center FROM devices")]

    def device_names(self) -> list[tuple[str, str, str]]:
        """(center, device, name) of every device: what a search for a device looks through."""
        return [(str(c), str(d), str(n)) for c, d, n in self.db.execute(
            "SELECT center, device, name FROM devices")]

    def _devices(self, where: str, args: Sequence[object]) -> list[DeviceInfo]:
        out = []
        for r in self.db.execute(f"SELECT * FROM devices {where} ORDER BY center, agent, device",
                                 args):
            faults = tuple(wire.FaultReport(f["code"], f["severity"], f.get("params", {}))
                           for f in json.loads(r[10]))
            out.append(DeviceInfo(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                                  json.loads(r[9]), faults, order_of(r[11], r[12])))
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

    # -- configs pushed to boxes ----------------------------------------------------------------
    def push_config(self, center: str, agent: str, version: str, content: str, author: str,
                    at: float) -> None:
        """Keep this version and make it the one the box should run, in one transaction."""
        cur = self.db
        cur.begin()
        try:
            cur.execute("INSERT INTO config_versions VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                        (center, agent, version, content, author, at))
            cur.execute(_upsert("config_desired", ("center", "agent", "version", "author",
                                                   "updated_at"), ("center", "agent")),
                        (center, agent, version, author, at))
            cur.commit()
        except BaseException:
            cur.rollback()
            raise

    def desired_configs(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT d.center, d.agent, d.version, d.author, d.updated_at, v.content"
            " FROM config_desired d JOIN config_versions v ON v.center = d.center"
            " AND v.agent = d.agent AND v.version = d.version ORDER BY d.center, d.agent")
        return [dict(zip(("center", "agent", "version", "author", "updated_at", "content"), r,
                         strict=True)) for r in rows]

    def desired_versions(self) -> dict[tuple[str, str], str]:
        """Which version each box should run, without the texts (read every few seconds)."""
        return {(str(c), str(a)): str(v) for c, a, v in
                self.db.execute("SELECT center, agent, version FROM config_desired")}

    def config_versions(self, center: str, agent: str) -> list[dict[str, Any]]:
        """Newest first."""
        rows = self.db.execute(
            "SELECT version, author, created_at, content FROM config_versions"
            " WHERE center=? AND agent=? ORDER BY created_at DESC", (center, agent))
        return [dict(zip(("version", "author", "created_at", "content"), r, strict=True))
                for r in rows]

    # -- enrollment -------------------------------------------------------------------------------
    def add_enrollment(self, code_hash: str, center: str, agent: str, by: str, at: float,
                       expires_at: float) -> None:
        self.db.execute("INSERT INTO enrollments (code_hash, center, agent, created_by,"
                        " created_at, expires_at) VALUES (?,?,?,?,?,?)",
                        (code_hash, center, agent, by, at, expires_at))

    def take_enrollment(self, code_hash: str, at: float, peer: str) -> tuple[str, str] | None:
        """Use a code, once: (center, agent), or None if unknown, used or expired. One statement
        decides: under PostgreSQL's READ COMMITTED a SELECT then UPDATE let 4 concurrent
        requests each pass for the same code; the UPDATE's own WHERE is re-checked on the row it
        locks, so only the first finds used_at NULL."""
        row = self.db.execute(
            "UPDATE enrollments SET used_at=?, used_from=? WHERE code_hash=? AND used_at IS NULL"
            " AND expires_at > ? RETURNING center, agent",
            (at, peer[:100], code_hash, at)).fetchone()
        return (str(row[0]), str(row[1])) if row is not None else None

    def release_enrollment(self, code_hash: str, at: float) -> None:
        """Give a code back that was taken at `at` but bought nothing (the credentials could not
        be made): the box may try again with the same code."""
        self.db.execute("UPDATE enrollments SET used_at=NULL, used_from=NULL WHERE code_hash=?"
                        " AND used_at=?", (code_hash, at))

    def enrolled_agents(self) -> dict[str, set[str]]:
        """The boxes each center has by enrollment (codes that were used)."""
        out: dict[str, set[str]] = {}
        for center, agent in self.db.execute(
                "SELECT center, agent FROM enrollments WHERE used_at IS NOT NULL"):
            out.setdefault(str(center), set()).add(str(agent))
        return out

    def add_dead_letters(self, letters: Sequence[DeadLetter]) -> None:
        """Keep messages that failed, in their own transaction; at most DEAD_LETTERS_KEPT, the
        oldest giving way (a flood of junk must not fill the disk)."""
        if not letters:
            return
        cur = self.db
        cur.begin()
        try:
            cur.executemany(
                "INSERT INTO dead_letters (received_at, topic, payload, size, reason)"
                " VALUES (?,?,?,?,?)",
                [(d.received_at, d.topic[:300],
                  d.payload[:DEAD_LETTER_BYTES].decode("utf-8", "backslashreplace"),
                  len(d.payload), d.reason[:500]) for d in letters])
            cur.execute("DELETE FROM dead_letters WHERE id <= "
                        "(SELECT MAX(id) FROM dead_letters) - ?", (DEAD_LETTERS_KEPT,))
            cur.commit()
        except BaseException:
            cur.rollback()
            raise

    def dead_letters(self, limit: int = 50) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, received_at, topic, payload, size, reason FROM dead_letters"
            " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [dict(zip(("id", "received_at", "topic", "payload", "size", "reason"), r,
                         strict=True)) for r in rows]

    # -- notification channels and escalation ---------------------------------------------
    def channel_state(self, channel: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT state FROM channel_state WHERE channel=?",
                              (channel,)).fetchone()
        return json.loads(row[0]) if row is not None else None

    def set_channel_state(self, channel: str, state: dict[str, Any], at: float) -> None:
        self.db.execute(_upsert("channel_state", ("channel", "state", "updated_at"),
                                ("channel",)), (channel, json.dumps(state), at))

    def first_channel_state(self, channel: str, state: dict[str, Any],
                            at: float) -> dict[str, Any]:
        """The channel's state, `state` stored first if it has none: the first writer wins and
        every other (another thread or controller making its own at the same moment) reads
        that one, so a key made on first use is one key."""
        self.db.execute("INSERT INTO channel_state VALUES (?,?,?) ON CONFLICT DO NOTHING",
                        (channel, json.dumps(state), at))
        stored = self.channel_state(channel)
        assert stored is not None  # just inserted, or there already
        return stored

    def escalation_steps(self, alert_id: int) -> set[int]:
        return {int(r[0]) for r in self.db.execute(
            "SELECT step FROM escalations WHERE alert_id=?", (alert_id,))}

    def claim_escalation(self, alert_id: int, step: int, at: float, actor: str,
                         note: str) -> bool:
        """Take an escalation step (once, whichever controller comes first) and write it in the
        alert's history, where the dashboard and the feeds show it."""
        self.db.begin()
        try:
            done = self.db.execute("INSERT INTO escalations VALUES (?,?,?,?) ON CONFLICT DO "
                                   "NOTHING", (alert_id, step, at, note))
            mine = getattr(done, "rowcount", 0) == 1
            if mine:
                self.db.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                                " VALUES (?,?,'escalated',?,?)", (alert_id, at, actor, note))
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return mine

    def last_escalations(self, alert_ids: Sequence[int]) -> dict[int, str]:
        """Each alert's latest escalation step, as the dashboard shows it."""
        if not alert_ids:
            return {}
        marks = ",".join("?" for _ in alert_ids)
        out: dict[int, str] = {}
        for alert_id, note in self.db.execute(
                f"SELECT alert_id, note FROM escalations WHERE alert_id IN ({marks}) "
                "ORDER BY alert_id, step", list(alert_ids)):
            out[int(alert_id)] = str(note)
        return out

    # -- the monthly report's mailing ----------------------------------------------------------
    def last_report_month(self) -> str | None:
        row = self.db.execute("SELECT MAX(month) FROM report_runs WHERE status='sent'").fetchone()
        return row[0] if row is not None else None

    def claim_report(self, month: str, at: float, retry_after_s: float) -> bool:
        """True for the one controller that should send `month` now: a new claim, or a failed
        (or abandoned) one older than `retry_after_s`."""
        self.db.begin()
        try:
            row = self.db.execute("SELECT status, claimed_at FROM report_runs WHERE month=?",
                                  (month,)).fetchone()
            if row is None:
                done = self.db.execute("INSERT INTO report_runs VALUES (?, 'sending', ?, 1, "
                                       "NULL, NULL) ON CONFLICT DO NOTHING", (month, at))
                mine = getattr(done, "rowcount", 0) == 1  # another controller may be first
            elif row[0] != "sent" and at - row[1] >= retry_after_s:
                # the WHERE re-checks the status: a month sent since our SELECT (its
                # claimed_at unchanged) is not claimed, and mailed, a second time
                done = self.db.execute("UPDATE report_runs SET status='sending', claimed_at=?, "
                                       "attempts=attempts+1 WHERE month=? AND claimed_at=? AND "
                                       "status != 'sent'", (at, month, row[1]))
                mine = getattr(done, "rowcount", 0) == 1
            else:
                mine = False
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise
        return mine

    def report_failed(self, month: str, error: str) -> None:
        self.db.execute("UPDATE report_runs SET status='failed', last_error=? WHERE month=?",
                        (error[:500], month))

    def report_sent(self, month: str, at: float) -> None:
        self.db.execute("UPDATE report_runs SET status='sent', sent_at=?, last_error=NULL "
                        "WHERE month=?", (at, month))

    def report_runs(self) -> list[dict[str, Any]]:
        return [{"month": r[0], "status": r[1], "claimed_at": r[2], "attempts": r[3],
                 "last_error": r[4], "sent_at": r[5]} for r in self.db.execute(
            "SELECT month, status, claimed_at, attempts, last_error, sent_at FROM report_runs "
            "ORDER BY month DESC")]

    def stats(self) -> dict[str, int]:
        return {str(r[0]): int(r[1]) for r in self.db.execute("SELECT name, value FROM stats")}

    def history(self, alert_id: int) -> list[dict[str, Any]]:
        return [{"at": r[0], "event": r[1], "actor": r[2], "note": r[3]} for r in self.db.execute(
            "SELECT at, event, actor, note FROM alert_events WHERE alert_id=? ORDER BY id",
            (alert_id,))]

    # -- operator actions -----------------------------------------------------------------
    def ack(self, alert_id: int, actor: str, note: str, at: float | None = None) -> AlertRow:
        """Acknowledge a firing alert. The UPDATE's WHERE decides (not a SELECT before it): two
        presses at once write one acknowledgement, and an alert resolved meanwhile stays so."""
        at = time.time() if at is None else at
        cur = self.db
        cur.begin()
        try:
            self.alert(alert_id)  # AlertNotFound for an unknown id
            done = cur.execute("UPDATE alerts SET state='acknowledged', acked_at=?, acked_by=?,"
                               " ack_note=? WHERE id=? AND state='firing' RETURNING id",
                               (at, actor, note, alert_id)).fetchone()
            if done is not None:
                cur.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                            " VALUES (?,?,'acknowledged',?,?)", (alert_id, at, actor, note))
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        return self.alert(alert_id)

    def resolve(self, alert_id: int, actor: str, note: str, at: float | None = None) -> AlertRow:
        at = time.time() if at is None else at
        cur = self.db
        cur.begin()
        try:
            self.alert(alert_id)
            self._mark_resolved(cur, alert_id, at, actor, note)
            cur.commit()
        except BaseException:
            cur.rollback()
            raise
        return self.alert(alert_id)


def _alert_row(r: Iterable[Any]) -> AlertRow:
    values = list(r)
    values[9] = json.loads(values[9])
    values[17] = json.loads(values[17])
    return AlertRow(*values)


@dataclass(frozen=True)
class Silence:
    id: int
    center: str | None
    device: str | None
    type: str | None
    code: str | None
    starts_at: float
    ends_at: float
    author: str
    reason: str
    created_at: float

    def matches(self, alert: AlertRow, device_type: str | None, at: float) -> bool:
        import fnmatch

        return (self.starts_at <= at < self.ends_at
                and (self.center is None or self.center == alert.center)
                and (self.device is None or self.device == alert.device)
                and (self.type is None or self.type == device_type)
                and (self.code is None or fnmatch.fnmatchcase(alert.code, self.code)))


@dataclass(frozen=True)
class AlertChange:
    """One line of alert_events with the alert as it is now: what live feeds send."""

    event_id: int
    event: str
    at: float
    actor: str | None
    note: str | None
    alert: AlertRow
