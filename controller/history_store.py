"""Device history in the store (SQLite or PostgreSQL): readings at full rate for a few days,
rolled up per device-hour for a year; what the device page and the reports read."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson

from controller.db import Db
from controller.history import (
    HOUR_S,
    VALID_MAX_S,
    HourRollup,
    MetricHour,
    Run,
    Sample,
    hour_of,
    reading_valid_s,
    rollup_hour,
    tracked_values,
)
from controller.state import Reading

SCHEMA = """
-- Every check's tracked readings (levels, counters, clients, power), kept for a few days.
CREATE TABLE IF NOT EXISTS history_raw (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, type TEXT NOT NULL,
  ts REAL NOT NULL, status TEXT NOT NULL, readings TEXT NOT NULL,
  PRIMARY KEY (center, agent, device, ts)
);
CREATE INDEX IF NOT EXISTS history_raw_ts ON history_raw(ts);
-- One row per device-hour, kept for a year: up/down runs and min/avg/max/last/n/rise/fall.
CREATE TABLE IF NOT EXISTS history_hourly (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, type TEXT NOT NULL,
  hour REAL NOT NULL, runs TEXT NOT NULL, readings TEXT NOT NULL, worst TEXT NOT NULL,
  PRIMARY KEY (center, agent, device, hour)
);
CREATE INDEX IF NOT EXISTS history_hourly_hour ON history_hourly(hour);
-- Device-hours with new readings, to roll up (again: a replay after an outage comes late).
CREATE TABLE IF NOT EXISTS history_dirty (
  center TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, hour REAL NOT NULL,
  marked_at REAL NOT NULL,
  PRIMARY KEY (center, agent, device, hour)
);
"""


@dataclass(frozen=True, kw_only=True)
class HourRow:
    center: str
    agent: str
    device: str
    type: str
    rollup: HourRollup


@dataclass(frozen=True, kw_only=True)
class RawRow:
    center: str
    agent: str
    device: str
    type: str
    sample: Sample


def write_readings(cur: Db, readings: Sequence[Reading], marked_at: float) -> None:
    """Inside the batch's transaction: the raw rows, and the device-hours they touch."""
    if not readings:
        return
    # Idempotent: a redelivered or replayed report is one row, not two.
    cur.executemany(
        "INSERT INTO history_raw VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        [(r.center, r.agent, r.device, r.type, r.ts, r.status,
          orjson.dumps(tracked_values(r.metrics)).decode()) for r in readings])
    dirty: set[tuple[str, str, str, float]] = set()
    for r in readings:
        hour = hour_of(r.ts)
        dirty.add((r.center, r.agent, r.device, hour))
        if r.ts >= hour + HOUR_S - VALID_MAX_S:
            # this reading may speak for the next hour's first minutes, and starts its steps
            dirty.add((r.center, r.agent, r.device, hour + HOUR_S))
    cur.executemany(
        "INSERT INTO history_dirty VALUES (?,?,?,?,?) ON CONFLICT (center, agent, device, hour)"
        " DO UPDATE SET marked_at=excluded.marked_at",
        [(*key, marked_at) for key in sorted(dirty)])


def _sample(ts: float, status: str, readings: str) -> Sample:
    return Sample(ts, status, orjson.loads(readings))


def rollup(db: Db, limit: int = 500, *, center: str | None = None,
           device: str | None = None, settled_at: float | None = None) -> int:
    """Roll up at most `limit` dirty device-hours (of one device, if named; only the hours
    settled by `settled_at`, if given) in one transaction; how many it did."""
    with db.transaction():
        conds: list[str] = []
        args: list[object] = []
        if center is not None and device is not None:
            conds.append("center=? AND device=?")
            args += [center, device]
        if settled_at is not None:
            # an hour's last reading speaks for up to VALID_MAX_S into the next one
            conds.append("hour<=?")
            args.append(settled_at - HOUR_S - VALID_MAX_S)
        where = f"WHERE {' AND '.join(conds)} " if conds else ""
        dirty = db.execute("SELECT center, agent, device, hour, marked_at FROM history_dirty "
                           f"{where}ORDER BY hour LIMIT ?", (*args, limit)).fetchall()
        for center, agent, device, hour, _marked_at in dirty:
            key = (center, agent, device)
            found = db.execute(
                "SELECT ts, status, readings, type FROM history_raw WHERE center=? AND agent=? "
                "AND device=? AND ts>=? AND ts<? ORDER BY ts",
                (*key, hour - HOUR_S, hour + HOUR_S)).fetchall()
            earlier = [r for r in found if r[0] < hour]
            if not earlier:
                earlier = db.execute(
                    "SELECT ts, status, readings, type FROM history_raw WHERE center=? AND "
                    "agent=? AND device=? AND ts<? ORDER BY ts DESC LIMIT 1",
                    (*key, hour)).fetchall()
            inside = [r for r in found if r[0] >= hour]
            before = _sample(*earlier[-1][:3]) if earlier else None
            samples = [_sample(*r[:3]) for r in inside]
            kind = (inside or earlier)[-1][3] if inside or earlier else ""
            # the poll interval seen over these two hours says how long a reading holds
            valid = reading_valid_s([_sample(*r[:3]) for r in found] or
                                    ([before] if before else []))
            r = rollup_hour(hour, samples, before, valid,
                            _leads(db, key, hour, samples, earlier))
            # written at once, in hour order: the next hour's steps may start from this one
            db.execute(
                "INSERT INTO history_hourly VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (center, agent,"
                " device, hour) DO UPDATE SET type=excluded.type, runs=excluded.runs, "
                "readings=excluded.readings, worst=excluded.worst",
                (*key, kind, hour,
                 orjson.dumps([[x.start - hour, x.end - hour, int(x.up)]
                               for x in r.runs]).decode(),
                 orjson.dumps({k: m.to_json() for k, m in r.metrics.items()}).decode(),
                 r.worst))
        # a device-hour marked again while we worked stays dirty for the next round
        db.executemany(
            "DELETE FROM history_dirty WHERE center=? AND agent=? AND device=? AND hour=? "
            "AND marked_at<=?", [tuple(d) for d in dirty])
    return len(dirty)


LEAD_LOOKBACK_HOURS = 72


def _leads(db: Db, key: tuple[str, str, str], hour: float, samples: Sequence[Sample],
           earlier: Sequence[Sequence[object]]) -> dict[str, tuple[float, float]]:
    """Each metric's last value before `hour`, for the step into it: from the last hour's
    readings, else from the hour rows of the last days (after an outage that had none)."""
    wanted = {k for s in samples for k in s.values}
    leads: dict[str, tuple[float, float]] = {}
    for ts, _status, readings, _type in reversed(earlier):
        for k, v in orjson.loads(str(readings)).items():
            if k in wanted and k not in leads:
                leads[k] = (float(str(ts)), float(v))
    missing = wanted - leads.keys()
    if missing:
        for h, readings in db.execute(
                "SELECT hour, readings FROM history_hourly WHERE center=? AND agent=? AND "
                "device=? AND hour<? AND hour>=? ORDER BY hour DESC",
                (*key, hour, hour - LEAD_LOOKBACK_HOURS * HOUR_S)):
            for k, v in orjson.loads(readings).items():
                if k in missing:
                    leads[k] = (h + HOUR_S, MetricHour.from_json(v).last)
                    missing.discard(k)
            if not missing:
                break
    return leads


def rollup_all(db: Db, limit: int = 500, *, center: str | None = None,
               device: str | None = None, settled_at: float | None = None) -> int:
    """Roll up everything dirty (of one device, if named; the settled hours only, with
    `settled_at`), a bounded transaction at a time."""
    done = 0
    while True:
        n = rollup(db, limit, center=center, device=device, settled_at=settled_at)
        done += n
        if n < limit:
            return done


def prune(db: Db, now: float, raw_keep_s: float, hourly_keep_s: float) -> tuple[int, int]:
    """Forget readings older than their retention (raw: after they are rolled up)."""
    with db.transaction():
        oldest_dirty = db.execute("SELECT MIN(hour) FROM history_dirty").fetchone()[0]
        cut = now - raw_keep_s
        if oldest_dirty is not None:
            cut = min(cut, oldest_dirty - HOUR_S)  # keep what a pending roll-up still needs
        raw = db.execute("DELETE FROM history_raw WHERE ts < ?", (cut,))
        hourly = db.execute("DELETE FROM history_hourly WHERE hour < ?", (now - hourly_keep_s,))
        counts = (_rowcount(raw), _rowcount(hourly))
    return counts


def _rowcount(rows: object) -> int:
    n = getattr(rows, "rowcount", 0)
    return int(n) if isinstance(n, int) and n >= 0 else 0


def _hour_row(center: str, agent: str, device: str, kind: str, hour: float, runs: str,
              readings: str, worst: str) -> HourRow:
    return HourRow(center=center, agent=agent, device=device, type=kind, rollup=HourRollup(
        hour, tuple(Run(hour + a, hour + b, bool(up)) for a, b, up in orjson.loads(runs)),
        {k: MetricHour.from_json(v) for k, v in orjson.loads(readings).items()}, worst))


def hourly(db: Db, since: float, until: float, *, center: str | None = None,
           device: str | None = None) -> Iterator[HourRow]:
    """Hour rows in [since, until), by center, device and hour."""
    sql = ("SELECT center, agent, device, type, hour, runs, readings, worst FROM history_hourly "
           "WHERE hour >= ? AND hour < ?")
    args: list[object] = [since, until]
    if center is not None:
        sql += " AND center = ?"
        args.append(center)
    if device is not None:
        sql += " AND device = ?"
        args.append(device)
    for row in db.execute(sql + " ORDER BY center, device, agent, hour", args):
        yield _hour_row(*row)


def raw(db: Db, center: str, device: str, since: float, until: float) -> list[RawRow]:
    rows = db.execute(
        "SELECT center, agent, device, type, ts, status, readings FROM history_raw WHERE "
        "center=? AND device=? AND ts>=? AND ts<? ORDER BY ts",
        (center, device, since, until)).fetchall()
    return [RawRow(center=c, agent=a, device=d, type=t, sample=_sample(ts, st, rd))
            for c, a, d, t, ts, st, rd in rows]


def row_counts(db: Db) -> dict[str, int]:
    return {table: int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            for table in ("history_raw", "history_hourly", "history_dirty")}
