"""Alerts in the store: the alerts with their history (alert_events), the `for:`/`clear_for`
timers, escalation steps; the desk's actions (ack, resolve) and the feed's reading of changes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from controller.db import Db
from controller.persistence.sql import Records, upsert
from controller.state import AlertKey, OpenAlert, TimerState

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
"""

ALERT_COLUMNS = ("id", "center", "agent", "device", "code", "subject", "severity", "state",
                 "device_name", "params", "opened_at", "acked_at", "acked_by", "ack_note",
                 "resolved_at", "resolved_by", "resolve_note", "labels")
_SELECTED = ",".join(ALERT_COLUMNS)


@dataclass(frozen=True, kw_only=True)
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


def alert_row(r: Iterable[Any]) -> AlertRow:
    """An AlertRow from the ALERT_COLUMNS of a row, by name."""
    values = dict(zip(ALERT_COLUMNS, r, strict=True))
    values["params"] = json.loads(values["params"])
    values["labels"] = json.loads(values["labels"])
    return AlertRow(**values)


@dataclass(frozen=True, kw_only=True)
class AlertChange:
    """One line of alert_events with its alert: what live feeds send. The alert is as the
    change wrote it when the ingest batch hands it over, else as it is when read."""

    event_id: int
    event: str
    at: float
    actor: str | None
    note: str | None
    alert: AlertRow


class AlertNotFound(LookupError):
    pass


def _key(r: Sequence[Any]) -> AlertKey:
    """The AlertKey of a row's (center, agent, device, code, subject)."""
    return AlertKey(center=r[0], agent=r[1], device=r[2], code=r[3], subject=r[4])


# -- inside the ingest batch's transaction --------------------------------------------------------
def _event(cur: Db, alert: AlertRow, event: str, at: float, actor: str | None,
           note: str | None) -> AlertChange:
    """The alert's history line, and the change as the feeds send it."""
    row = cur.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                      " VALUES (?,?,?,?,?) RETURNING id",
                      (alert.id, at, event, actor, note)).fetchone()
    return AlertChange(event_id=int(row[0]), event=event, at=at, actor=actor, note=note,
                       alert=alert)


def open_alert(cur: Db, e: OpenAlert) -> AlertChange | None:
    """Open the alert, unless one is open for its condition: the change as written, or None."""
    k = e.key
    # The partial unique index (one unresolved alert per condition) decides, not luck: two
    # controllers, or a restart, seeing the same condition open it once.
    row = cur.execute(
        "INSERT INTO alerts (center, agent, device, code, subject, severity, state, device_name,"
        " params, opened_at, labels) VALUES (?,?,?,?,?,?,'firing',?,?,?,?)"
        f" ON CONFLICT DO NOTHING RETURNING {_SELECTED}",
        (k.center, k.agent, k.device, k.code, k.subject, e.severity, e.device_name,
         json.dumps(dict(e.params), ensure_ascii=False), e.at, json.dumps(dict(e.labels))),
    ).fetchone()
    if row is None:
        return None  # already open: not opened twice
    return _event(cur, alert_row(row), "opened", e.at, None, None)


def resolve_key(cur: Db, k: AlertKey, at: float, note: str) -> AlertChange | None:
    """Resolve the condition's open alert: the change as written, or None if none was open."""
    row = cur.execute(
        "SELECT id FROM alerts WHERE center=? AND agent=? AND device=? AND code=? AND subject=?"
        " AND state != 'resolved'", (k.center, k.agent, k.device, k.code, k.subject),
    ).fetchone()
    return None if row is None else mark_resolved(cur, int(row[0]), at, None, note)


def mark_resolved(cur: Db, alert_id: int, at: float, actor: str | None,
                  note: str) -> AlertChange | None:
    """Resolve, once: the WHERE decides between the rules and an operator (or two controllers)
    resolving the same alert at once; only the one that changed it writes the history line and
    gets the change."""
    done = cur.execute("UPDATE alerts SET state='resolved', resolved_at=?, resolved_by=?,"
                       f" resolve_note=? WHERE id=? AND state != 'resolved' RETURNING {_SELECTED}",
                       (at, actor, note, alert_id)).fetchone()
    if done is None:
        return None
    return _event(cur, alert_row(done), "resolved", at, actor, note)


def write_timers(cur: Db, timers: Iterable[TimerState]) -> None:
    started = [t for t in timers if t.kind]
    ended = [t for t in timers if not t.kind]
    if not started and not ended:
        return  # the usual batch: no timer moved
    cur.executemany(
        upsert("alert_timers", ("center", "agent", "device", "code", "subject", "kind",
                                "since"), ("center", "agent", "device", "code", "subject")),
        [(t.key.center, t.key.agent, t.key.device, t.key.code, t.key.subject, t.kind,
          t.since) for t in started])
    cur.executemany(
        "DELETE FROM alert_timers WHERE center=? AND agent=? AND device=? AND code=?"
        " AND subject=?",
        [(t.key.center, t.key.agent, t.key.device, t.key.code, t.key.subject)
         for t in ended])


class Alerts(Records):
    def timers(self) -> list[TimerState]:
        """The `for:` and `clear_for` timers running when they were last stored."""
        return [TimerState(_key(r[:5]), r[5], r[6]) for r in self.db.execute(
            "SELECT center, agent, device, code, subject, kind, since FROM alert_timers")]

    def alert(self, alert_id: int) -> AlertRow:
        row = self.db.execute(f"SELECT {_SELECTED} FROM alerts WHERE id=?",
                              (alert_id,)).fetchone()
        if row is None:
            raise AlertNotFound(alert_id)
        return alert_row(row)

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
        sql = f"SELECT {_SELECTED} FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [alert_row(r) for r in self.db.execute(sql, args)]

    def changes_since(self, event_id: int, limit: int = 500,
                      known: Mapping[int, AlertChange] | None = None) -> list[AlertChange]:
        """The changes after `event_id`, oldest first. `known`: changes in hand by event id
        (the ingest batch's, as written); only the alerts of the others are read."""
        if not known:
            rows = self.db.execute(
                f"SELECT e.id, e.event, e.at, e.actor, e.note, "
                f"{','.join('a.' + c for c in ALERT_COLUMNS)} FROM alert_events e"
                " JOIN alerts a ON a.id = e.alert_id WHERE e.id > ? ORDER BY e.id LIMIT ?",
                (event_id, limit)).fetchall()
            return [AlertChange(event_id=int(r[0]), event=str(r[1]), at=float(r[2]),
                                actor=r[3], note=r[4], alert=alert_row(r[5:])) for r in rows]
        events = self.db.execute(
            "SELECT id, event, at, actor, note, alert_id FROM alert_events WHERE id > ?"
            " ORDER BY id LIMIT ?", (event_id, limit)).fetchall()
        wanted = sorted({int(r[5]) for r in events if int(r[0]) not in known})
        alerts: dict[int, AlertRow] = {}
        for chunk in range(0, len(wanted), 500):
            ids = wanted[chunk:chunk + 500]
            for r in self.db.execute(f"SELECT {_SELECTED} FROM alerts WHERE id IN "
                                     f"({','.join('?' for _ in ids)})", ids):
                row = alert_row(r)
                alerts[row.id] = row
        out = []
        for r in events:
            change = known.get(int(r[0]))
            if change is None:
                change = AlertChange(event_id=int(r[0]), event=str(r[1]), at=float(r[2]),
                                     actor=r[3], note=r[4], alert=alerts[int(r[5])])
            out.append(change)
        return out

    def last_event_id(self) -> int:
        row = self.db.execute("SELECT COALESCE(MAX(id), 0) FROM alert_events").fetchone()
        return int(row[0])

    def open_alert_keys(self) -> list[AlertKey]:
        return [_key(r) for r in self.db.execute(
            "SELECT center, agent, device, code, subject FROM alerts WHERE state != 'resolved'")]

    def history(self, alert_id: int) -> list[dict[str, Any]]:
        return [{"at": r[0], "event": r[1], "actor": r[2], "note": r[3]} for r in self.db.execute(
            "SELECT at, event, actor, note FROM alert_events WHERE alert_id=? ORDER BY id",
            (alert_id,))]

    # -- operator actions -----------------------------------------------------------------
    def ack(self, alert_id: int, actor: str, note: str, at: float | None = None) -> AlertRow:
        """Acknowledge a firing alert. The UPDATE's WHERE decides (not a SELECT before it): two
        presses at once write one acknowledgement, and an alert resolved meanwhile stays so."""
        at = time.time() if at is None else at
        with self.db.transaction() as cur:
            self.alert(alert_id)  # AlertNotFound for an unknown id
            done = cur.execute("UPDATE alerts SET state='acknowledged', acked_at=?, acked_by=?,"
                               " ack_note=? WHERE id=? AND state='firing' RETURNING id",
                               (at, actor, note, alert_id)).fetchone()
            if done is not None:
                cur.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                            " VALUES (?,?,'acknowledged',?,?)", (alert_id, at, actor, note))
        return self.alert(alert_id)

    def resolve(self, alert_id: int, actor: str, note: str, at: float | None = None) -> AlertRow:
        at = time.time() if at is None else at
        with self.db.transaction() as cur:
            self.alert(alert_id)
            mark_resolved(cur, alert_id, at, actor, note)
        return self.alert(alert_id)

    # -- escalation -----------------------------------------------------------------------
    def escalation_steps(self, alert_id: int) -> set[int]:
        return {int(r[0]) for r in self.db.execute(
            "SELECT step FROM escalations WHERE alert_id=?", (alert_id,))}

    def claim_escalation(self, alert_id: int, step: int, at: float, actor: str,
                         note: str) -> bool:
        """Take an escalation step (once, whichever controller comes first) and write it in the
        alert's history, where the dashboard and the feeds show it."""
        with self.db.transaction() as cur:
            done = cur.execute("INSERT INTO escalations VALUES (?,?,?,?) ON CONFLICT DO "
                               "NOTHING", (alert_id, step, at, note))
            mine = getattr(done, "rowcount", 0) == 1
            if mine:
                cur.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                            " VALUES (?,?,'escalated',?,?)", (alert_id, at, actor, note))
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
