"""hcc-controller release … and rollout …: make signed releases of a wheelhouse, roll them out to
the fleet in stages, and watch, pause, resume or abort the rollout (the running controller
publishes what these commands write to its database)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from controller import rollout as rl
from controller.config import ControllerConfig
from controller.rollout_service import Releases, release_dir
from controller.store import Store
from hcc_common import release as rel
from hcc_common.texts import tr, translate

release_app = typer.Typer(help="Signed software releases for the boxes.", no_args_is_help=True)
rollout_app = typer.Typer(help="Staged rollouts of a release to the fleet.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="controller.yaml (optional).")]
DbOpt = Annotated[str | None, typer.Option("--db", help="SQLite database file, or a postgresql:// URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def _releases(config: Path | None, db: str | None) -> tuple[ControllerConfig, Store, Releases]:
    from controller.cli import _config

    cfg = _config(config, db)
    store = Store(cfg.db)
    return cfg, store, Releases(store.db, release_dir(cfg))


def _fail(text: str) -> typer.Exit:
    """`text` (English, as the release and rollout modules say it) in the reader's language."""
    typer.echo(tr("error: {message}", message=translate(text)), err=True)
    return typer.Exit(1)


@release_app.command("add")
def release_add(
    wheelhouse: Annotated[Path, typer.Argument(help="A directory made by scripts/build-wheelhouse.sh.")],
    version: Annotated[str, typer.Option(
        "--version", help="The release's version (that of its hcc_fleet wheel).")],
    by: Annotated[str | None, typer.Option(help="Who adds it (recorded).")] = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Make a release: a manifest of every file with its SHA-256, the target platforms and
    Python, signed with the controller's key; the files are kept by the controller."""
    from controller import cli_accounts
    from controller.signing_key import SigningKeyError, signing_keys

    cfg, store, releases = _releases(config, db)
    try:
        who = cli_accounts.acting(store, "release")
        keys = signing_keys(cfg)
        m = releases.add(wheelhouse, version, keys, cli_accounts.author(who, by), time.time())
        cli_accounts.record(store, who, "release_add", f"release {version}",
                            after={"files": len(m.files), "bytes": m.total_bytes})
    except (rel.ReleaseError, SigningKeyError) as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(tr("release {version}: {files} files, {size} bytes, platforms {platforms}, Python "
                  "{python}; signed", version=m.version, files=len(m.files), size=m.total_bytes,
                  platforms=", ".join(m.platforms) or tr("any"), python=m.python or tr("any")))


@release_app.command("list")
def release_list(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The releases kept, newest first."""
    from controller import cli_accounts

    _cfg, store, releases = _releases(config, db)
    try:
        cli_accounts.acting(store, "rollouts")
        for r in releases.all():
            m = rel.parse_manifest(json.loads(r.manifest))
            row = {"version": r.version, "files": len(m.files), "bytes": m.total_bytes,
                   "platforms": list(m.platforms), "python": m.python, "added_at": r.added_at,
                   "added_by": r.added_by}
            if as_json:
                typer.echo(json.dumps(row, ensure_ascii=False))
            else:
                typer.echo(f"{r.version:<12} " + tr(
                    "{files} files {size} bytes  {platforms}  by {author}",
                    files=f"{len(m.files):>3}", size=f"{m.total_bytes:>10}",
                    platforms=", ".join(m.platforms) or tr("any"), author=r.added_by))
    finally:
        store.close()


@release_app.command("remove")
def release_remove(version: Annotated[str, typer.Argument(help="The release's version.")],
                   config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Delete a release (not while a rollout of it is under way)."""
    from controller import cli_accounts

    _cfg, store, releases = _releases(config, db)
    try:
        who = cli_accounts.acting(store, "release")
        releases.remove(version)
        cli_accounts.record(store, who, "release_remove", f"release {version}")
    except rel.ReleaseError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(tr("release {version} removed", version=version))


def fleet_boxes(cfg: ControllerConfig, store: Store) -> list[tuple[str, str]]:
    """Every box: declared in controller.yaml, enrolled, or seen."""
    boxes = {(c, a) for c, agents in cfg.known_agents.items() for a in agents}
    boxes |= {(c, a) for c, agents in store.enrolled_agents().items() for a in agents}
    boxes |= {(a.center, a.agent) for a in store.agents()}
    return sorted(boxes)


@rollout_app.command("start")
def rollout_start(
    version: Annotated[str, typer.Argument(help="The release to roll out.")],
    canary: Annotated[int, typer.Option(help="Boxes updated first, alone.")] = 1,
    centers: Annotated[str | None, typer.Option(
        help="The canary as centers (comma-separated) instead of --canary N.")] = None,
    batch: Annotated[int, typer.Option(help="Boxes per batch after the canary.")] = 10,
    pause_on_failure: Annotated[bool, typer.Option(
        help="Pause (not halt) on a failure.")] = False,
    allow_downgrade: Annotated[bool, typer.Option(
        help="Allow a version older than the one a box runs (a fleet rollback).")] = False,
    health_timeout: Annotated[float, typer.Option(
        help="Seconds online a box has to show the new version healthy.")] = rl.HEALTH_TIMEOUT_S,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Roll VERSION out: the canary first, then batches, each once the last is healthy."""
    from controller import cli_accounts

    cfg, store, releases = _releases(config, db)
    try:
        who = cli_accounts.acting(store, "release")
        r = releases.start(version, fleet_boxes(cfg, store), canary=canary,
                           centers=[c.strip() for c in centers.split(",") if c.strip()]
                           if centers else [], batch=batch, pause_on_failure=pause_on_failure,
                           allow_downgrade=allow_downgrade, now=time.time(),
                           health_timeout_s=health_timeout)
        cli_accounts.record(store, who, "rollout_start", f"rollout {r.id}",
                            after={"version": version, "boxes": len(r.boxes), "batch": batch})
    except rl.RolloutError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    waves = 1 + max(b.wave for b in r.boxes)
    typer.echo(tr("rollout {id}: {version} to {boxes} boxes in {waves} waves (canary {canary}, "
                  "then batches of {batch})", id=r.id, version=version, boxes=len(r.boxes),
                  waves=waves, canary=sum(1 for b in r.boxes if b.wave == 0), batch=batch))


@rollout_app.command("status")
def rollout_status(rollout_id: Annotated[int | None, typer.Argument(help="Default: the newest.")] = None,
                   config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """A rollout's progress, and every box that failed with its reason."""
    from controller import cli_accounts

    _cfg, store, releases = _releases(config, db)
    try:
        cli_accounts.acting(store, "rollouts")
        r = releases.rollout(rollout_id)
    finally:
        store.close()
    if r is None:
        raise _fail(tr("no rollout"))
    s = rl.status_json(r)
    if as_json:
        typer.echo(json.dumps(s, ensure_ascii=False))
        return
    c = s["counts"]
    typer.echo(tr("rollout {id}: {version} {state}  wave {wave}/{waves}  healthy {healthy}  "
                  "updating {updating}  waiting {waiting}  failed {failed}", id=r.id,
                  version=r.version, state=tr(r.state), wave=s["wave"] if s["wave"] >= 0 else "-",
                  waves=s["waves"], healthy=c["healthy"], updating=c["sent"],
                  waiting=c["waiting"], failed=c["failed"]))
    if r.reason:
        typer.echo("  " + tr("halted: {reason}", reason=translate(r.reason)))
    for b in r.boxes:
        if b.state == "failed" or (b.state == "sent" and b.offline):
            what = tr("FAILED {reason}", reason=translate(b.reason)) if b.state == "failed" \
                else tr("offline, updates on return")
            typer.echo(f"  {b.center}/{b.agent}: {what}")


def _change(rollout_id: int | None, config: Path | None, db: str | None, what: str) -> None:
    from controller import cli_accounts

    _cfg, store, releases = _releases(config, db)
    try:
        who = cli_accounts.acting(store, "release")
        r = releases.rollout(rollout_id)
        if r is None:
            raise _fail(tr("no rollout"))
        try:
            new = {"pause": rl.pause, "resume": rl.resume, "abort": rl.abort}[what](r)
        except rl.RolloutError as exc:
            raise _fail(str(exc)) from None
        releases.save(new, time.time())
        cli_accounts.record(store, who, f"rollout_{what}", f"rollout {new.id}",
                            before={"state": r.state}, after={"state": new.state})
    finally:
        store.close()
    typer.echo(tr("rollout {id}: {state}", id=new.id, state=tr(new.state)))


IdArg = Annotated[int | None, typer.Argument(help="Default: the newest.")]


@rollout_app.command("pause")
def rollout_pause(rollout_id: IdArg = None, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Send no further wave (boxes already updating finish)."""
    _change(rollout_id, config, db, "pause")


@rollout_app.command("resume")
def rollout_resume(rollout_id: IdArg = None, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Go on after a pause or a halt (failed boxes stay on their old version)."""
    _change(rollout_id, config, db, "resume")


@rollout_app.command("abort")
def rollout_abort(rollout_id: IdArg = None, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Stop for good: boxes not yet updated (offline ones included) get nothing."""
    _change(rollout_id, config, db, "abort")
