"""Releases and rollouts on the controller: stored in its database (SQLite or PostgreSQL) and the
release directory, driven each few seconds by the ingest loop (which owns the MQTT link)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from controller import rollout as rl
from controller.config import ControllerConfig
from controller.db import Db
from controller.state import AgentInfo, AlertKey, OpenAlert, ResolveAlert
from hcc_common import release as rel
from hcc_common.wire import Encoded

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from controller.store import Store

log = logging.getLogger("hcc.controller.rollout")
FAULT = "agent.update_failed"
STEP_EVERY_S = 2.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS releases (
  version TEXT PRIMARY KEY, manifest TEXT NOT NULL, added_at REAL NOT NULL, added_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rollouts (
  id INTEGER PRIMARY KEY, version TEXT NOT NULL, state TEXT NOT NULL, body TEXT NOT NULL,
  updated_at REAL NOT NULL
);
"""


def release_dir(cfg: ControllerConfig) -> Path:
    """Where release files are kept: beside the signing key (the controller's state)."""
    return cfg.signing_key.parent / "releases"


@dataclass(frozen=True)
class StoredRelease:
    version: str
    manifest: bytes
    added_at: float
    added_by: str


class Releases:
    """Release files and rollouts in one controller database."""

    def __init__(self, db: Db, folder: Path, *, made: bool = False) -> None:
        self.db = db
        self.folder = folder
        if not made:
            db.schema(SCHEMA)

    # -- releases -------------------------------------------------------------------------------
    def add(self, wheelhouse: Path, version: str, keys: Sequence[Ed25519PrivateKey], by: str,
            now: float) -> rel.Manifest:
        if self.get(version) is not None:
            raise rel.ReleaseError(f"release {version} exists already (release remove it first)")
        manifest = rel.build(wheelhouse, version, now)
        signed = rel.sign_manifest(manifest, keys)
        target = self.folder / version
        tmp = self.folder / f".{version}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for f in manifest.files:
            shutil.copyfile(wheelhouse / f.name, tmp / f.name)
        problems = rel.file_problems(manifest, tmp)  # changed while copied
        if problems:
            shutil.rmtree(tmp, ignore_errors=True)
            raise rel.ReleaseError("; ".join(problems))
        (tmp / rel.MANIFEST_FILE).write_bytes(signed)
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
        self.db.execute("INSERT INTO releases VALUES (?,?,?,?)",
                        (version, signed.decode(), now, by))
        return manifest

    def get(self, version: str) -> StoredRelease | None:
        row = self.db.execute("SELECT version, manifest, added_at, added_by FROM releases"
                              " WHERE version=?", (version,)).fetchone()
        return None if row is None else StoredRelease(row[0], row[1].encode(), row[2], row[3])

    def all(self) -> list[StoredRelease]:
        rows = self.db.execute("SELECT version, manifest, added_at, added_by FROM releases")
        out = [StoredRelease(r[0], r[1].encode(), r[2], r[3]) for r in rows]
        return sorted(out, key=lambda s: rel.version_key(s.version), reverse=True)

    def remove(self, version: str) -> None:
        if self.get(version) is None:
            raise rel.ReleaseError(f"no release {version}")
        busy = [r.id for r in self.rollouts() if r.version == version and r.state in rl.ACTIVE]
        if busy:
            raise rel.ReleaseError(f"release {version} is in rollout {busy[0]} "
                                   f"(rollout abort {busy[0]} first)")
        self.db.execute("DELETE FROM releases WHERE version=?", (version,))
        shutil.rmtree(self.folder / version, ignore_errors=True)

    def file(self, version: str, name: str) -> Path | None:
        """A file of a stored release, only by a name its manifest lists."""
        stored = self.get(version)
        if stored is None:
            return None
        body = json.loads(stored.manifest)
        if name != rel.MANIFEST_FILE and name not in {f.get("name") for f in body["files"]}:
            return None
        return self.folder / version / name

    # -- rollouts -------------------------------------------------------------------------------
    def rollouts(self) -> list[rl.Rollout]:
        return [r for r, _text in self.stored_rollouts()]

    def stored_rollouts(self) -> list[tuple[rl.Rollout, str]]:
        """Each rollout with the text it is stored as (see save_if)."""
        rows = self.db.execute("SELECT body FROM rollouts ORDER BY id")
        return [(_rollout_of(json.loads(r[0])), str(r[0])) for r in rows]

    def save_if(self, r: rl.Rollout, stored: str, now: float) -> bool:
        """Write the new state only if nobody changed it since it was read as `stored` (an
        operator's pause or abort meanwhile wins over the loop's step)."""
        cur = self.db.execute("UPDATE rollouts SET state=?, body=?, updated_at=? WHERE id=?"
                              " AND body=?", (r.state, json.dumps(asdict(r)), now, r.id, stored))
        return bool(getattr(cur, "rowcount", 1))

    def rollout(self, rollout_id: int | None = None) -> rl.Rollout | None:
        """The one asked for, or the newest."""
        all_ = self.rollouts()
        if rollout_id is None:
            return all_[-1] if all_ else None
        return next((r for r in all_ if r.id == rollout_id), None)

    def new_id(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM rollouts").fetchone()
        return int(row[0] or 0) + 1

    def save(self, r: rl.Rollout, now: float) -> None:
        body = json.dumps(asdict(r))
        self.db.execute("INSERT INTO rollouts VALUES (?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET"
                        " version=excluded.version, state=excluded.state, body=excluded.body,"
                        " updated_at=excluded.updated_at",
                        (r.id, r.version, r.state, body, now))

    def start(self, version: str, boxes: Sequence[tuple[str, str]], *, canary: int,
              centers: Sequence[str], batch: int, pause_on_failure: bool,
              allow_downgrade: bool, now: float,
              health_timeout_s: float = rl.HEALTH_TIMEOUT_S) -> rl.Rollout:
        if self.get(version) is None:
            raise rl.RolloutError(f"no release {version} (release add it first)")
        busy = [r for r in self.rollouts() if r.state in rl.ACTIVE]
        if busy:
            raise rl.RolloutError(f"rollout {busy[0].id} ({busy[0].version}) is "
                                  f"{busy[0].state}: abort it first")
        r = rl.plan(self.new_id(), version, boxes, canary=canary, centers=centers, batch=batch,
                    pause_on_failure=pause_on_failure, allow_downgrade=allow_downgrade, now=now,
                    health_timeout_s=health_timeout_s)
        self.save(r, now)
        return r


def _rollout_of(d: dict[str, object]) -> rl.Rollout:
    boxes = tuple(rl.Box(**b) for b in d.pop("boxes"))  # type: ignore[attr-defined]
    return rl.Rollout(boxes=boxes, **d)  # type: ignore[arg-type]


def report_of(inventory: dict[str, object] | None, online: bool) -> rl.BoxReport:
    """What a box's stored birth inventory says of its updates (agent/updater.py writes it)."""
    inv = inventory or {}

    def text(key: str) -> str | None:
        v = inv.get(key)
        return str(v)[:300] if v is not None else None

    return rl.BoxReport(online=online, software=text("software"),
                        update_version=text("update_version"), update_state=text("update_state"),
                        update_reason=text("update_reason") or "")


class RolloutDriver:
    """Run by the ingest loop: one step of the active rollout every few seconds, its
    instructions published signed, its failures raised as alerts (the normal channels)."""

    def __init__(self, store: Store, cfg: ControllerConfig,
                 keys: Callable[[], list[Ed25519PrivateKey] | None],
                 publish: Callable[[Encoded], object]) -> None:
        self.folder = release_dir(cfg)
        Releases(store.db, self.folder)  # the tables, once
        self.store = store
        self.keys = keys
        self.publish = publish
        self._next = 0.0

    def tick(self, agents: Callable[[], Iterable[AgentInfo]] | None = None,
             now: float | None = None) -> list[OpenAlert | ResolveAlert]:
        """`agents`: the fleet as the ingest loop holds it (default: as stored)."""
        at = time.time() if now is None else now
        if time.monotonic() < self._next:
            return []
        self._next = time.monotonic() + STEP_EVERY_S
        alerts: list[OpenAlert | ResolveAlert] = []
        # the store's connection of now (it is opened again after a database failover)
        releases = Releases(self.store.db, self.folder, made=True)
        for r, stored in releases.stored_rollouts():
            if r.state not in rl.ACTIVE and (r.state != "aborted" or r.withdrawn):
                continue
            reports = {(a.center, a.agent): report_of(dict(a.inventory), a.state == "online")
                       for a in (self.store.agents() if agents is None else agents())}
            new, actions = rl.step(r, reports, at)
            keys = self.keys()
            if keys is None and any(isinstance(a, rl.Send) for a in actions):
                continue  # nothing unsigned is ever published; tried again next tick
            if new != r and not releases.save_if(new, stored, at):
                # an operator paused or aborted it meanwhile: the next tick steps what is stored
                log.info("rollout changed by an operator meanwhile", extra={"rollout": r.id})
                continue
            for act in actions:
                if isinstance(act, rl.Send) and keys is not None:
                    self.publish(rel.encode_update(rel.UpdateCommand(
                        center=act.center, agent=act.agent, version=act.version, rollout=r.id,
                        issued=at, allow_downgrade=r.allow_downgrade), keys))
                    log.info("update sent", extra={"center": act.center, "agent": act.agent,
                                                  "version": act.version, "rollout": r.id})
                elif isinstance(act, rl.Withdraw):
                    # an empty retained message clears the broker's copy: a box that comes
                    # back finds no instruction
                    self.publish(Encoded(rel.update_topic(act.center, act.agent), b"",
                                         retain=True))
                elif isinstance(act, rl.Healthy):
                    alerts.extend(ResolveAlert(k, at, f"updated to {act.version}")
                                  for k in self.store.open_alert_keys()
                                  if (k.center, k.agent, k.code) == (act.center, act.agent, FAULT))
                elif isinstance(act, rl.Failed):
                    log.error("update failed on a box: rollout halted", extra={
                        "center": act.center, "agent": act.agent, "version": act.version,
                        "reason": act.reason})
                    key = AlertKey(center=act.center, agent=act.agent, device="", code=FAULT,
                                   subject=act.version)
                    alerts.append(OpenAlert(key=key, severity="warning", device_name="",
                                            params={"version": act.version, "reason": act.reason},
                                            at=at))
        return alerts
