"""hcc-controller: run the city's controller, and read or act on alerts from the terminal."""

from __future__ import annotations

import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from controller import config as controller_config
from controller.config import ControllerConfig
from controller.store import AlertRow, Store
from hcc_common import faults as vocab
from hcc_common import logs
from hcc_common.yamlconf import ConfigError

app = typer.Typer(
    help="hcc-controller collects every center's reports, raises alerts and shows them.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="controller.yaml (optional).")]
DbOpt = Annotated[Path | None, typer.Option("--db", help="SQLite database path.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Language of messages: vi or en.")]


def _config(config: Path | None, db: Path | None, broker: str | None = None) -> ControllerConfig:
    from dataclasses import replace

    try:
        cfg = controller_config.load(config)
        if broker is not None:
            cfg = replace(cfg, broker=controller_config.broker_from_url(broker))
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if db is not None:
        cfg = replace(cfg, db=db)
    return cfg


def _open_store(cfg: ControllerConfig) -> Store:
    if not cfg.db.exists():
        typer.echo(f"error: no database at {cfg.db} (has the controller run? use --db)", err=True)
        raise typer.Exit(1)
    return Store(cfg.db, readonly=True)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_json(row: AlertRow, lang: str) -> dict[str, Any]:
    name = row.device_name or row.agent
    return {
        "id": row.id, "center": row.center, "agent": row.agent, "device": row.device or None,
        "code": row.code, "subject": row.subject or None, "severity": row.severity,
        "state": row.state, "message": vocab.full_message(name, row.code, row.params, lang),
        "hint": vocab.hint(row.code, row.params, lang), "params": row.params,
        "opened_at": iso(row.opened_at), "acked_at": iso(row.acked_at), "acked_by": row.acked_by,
        "ack_note": row.ack_note, "resolved_at": iso(row.resolved_at),
        "resolved_by": row.resolved_by, "resolve_note": row.resolve_note,
    }


def _lang(lang: str | None) -> str:
    if lang is None:
        return vocab.default_lang()
    if lang not in vocab.LANGS:
        typer.echo(f"error: --lang must be one of {', '.join(vocab.LANGS)}", err=True)
        raise typer.Exit(2)
    return lang


@app.command()
def run(
    config: ConfigOpt = None,
    broker: Annotated[str | None, typer.Option(help="Broker URL, e.g. mqtt://127.0.0.1:1883")] = None,
    db: DbOpt = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Subscribe to every center, keep device state, open and resolve alerts (service mode)."""
    from controller.service import Controller

    logs.setup(log_level)
    cfg = _config(config, db, broker)
    ctl = Controller(cfg)
    signal.signal(signal.SIGTERM, lambda *_: ctl.stop())
    signal.signal(signal.SIGINT, lambda *_: ctl.stop())
    ctl.run()


@app.command()
def alerts(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    include_resolved: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    center: Annotated[str | None, typer.Option(help="Only this center.")] = None,
    lang: LangOpt = None,
) -> None:
    """List open alerts (newest first); --all adds resolved ones."""
    cfg = _config(config, db)
    language = _lang(lang)
    store = _open_store(cfg)
    rows = store.alerts(include_resolved=include_resolved, center=center)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(alert_json(row, language), ensure_ascii=False))
        return
    if not rows:
        typer.echo("Không có cảnh báo nào." if language == "vi" else "No alerts.")
        return
    for row in rows:
        a = alert_json(row, language)
        typer.echo(f"#{row.id:<5} {row.severity:<8} {row.state:<12} {row.center}/"
                   f"{row.device or row.agent}  {a['message']}  (since {a['opened_at']})")


@app.command()
def agents(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Delivery health per agent: state, last seen, clock skew, seq, received, gaps, duplicates."""
    cfg = _config(config, db)
    store = _open_store(cfg)
    for a in store.agents():
        row = {"center": a.center, "agent": a.agent, "state": a.state,
               "last_seen": iso(a.last_seen), "clock_skew_s": a.clock_skew_s,
               "session": a.session, "last_seq": a.last_seq, "received": a.received,
               "gaps": a.gaps, "duplicates": a.duplicates, "backlog": a.backlog}
        if as_json:
            typer.echo(json.dumps(row))
        else:
            typer.echo(f"{a.center}/{a.agent:<12} {a.state:<8} seen {row['last_seen']}"
                       f"  seq {a.last_seq}  received {a.received}  gaps {a.gaps}"
                       f"  dup {a.duplicates}  skew {a.clock_skew_s:+.1f}s")


@app.command()
def stats(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Ingest counters as JSON: received, applied, malformed (dropped) messages, write batches."""
    cfg = _config(config, db)
    typer.echo(json.dumps(_open_store(cfg).stats()))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
