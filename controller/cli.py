"""hcc-controller: run the city's controller, and read or act on alerts from the terminal."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from controller import cli_accounts
from controller import config as controller_config
from controller.authz import Principal
from controller.config import ControllerConfig
from controller.store import Store
from controller.views import alert_json, iso
from hcc_common import logs, texts
from hcc_common.cliutil import fail, lang_or_exit, run_app
from hcc_common.terminal import echo_line
from hcc_common.texts import tr, translate
from hcc_common.yamlconf import ConfigError, each_error

app = typer.Typer(
    help="hcc-controller collects every center's reports, raises alerts and shows them.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: sentences rewrapped, no "<bool>" tags
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="controller.yaml (optional).")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", help="SQLite database file, or a postgresql:// URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Language of messages: vi or en.")]


# `hcc-controller run` exits with this on a config error: the unit's RestartPreventExitStatus
EXIT_CONFIG = 78


def _config(config: Path | None, db: str | None, broker: str | None = None,
            exit_code: int = 1) -> ControllerConfig:
    from dataclasses import replace

    if config is None and controller_config.INSTALLED_CONFIG.exists():
        config = controller_config.INSTALLED_CONFIG  # the service's own, on the central host
    try:
        cfg = controller_config.load(config)
        if broker is not None:
            cfg = replace(cfg, broker=controller_config.broker_from_url(broker))
    except ConfigError as exc:
        from hcc_common.config_words import localize

        for one in each_error(exc):
            shown = localize(one)
            typer.echo(tr("config error: {message}", message=shown) if exit_code == EXIT_CONFIG
                       else tr("error: {message}", message=shown), err=True)
        raise typer.Exit(exit_code) from None
    if db is not None:
        from controller.db import is_postgres

        cfg = replace(cfg, db=db if is_postgres(db) else Path(db))
    cli_accounts.GROUPS.append(dict(cfg.auth.groups))  # an account's groups, for its scope
    return cfg


def _require_db(cfg: ControllerConfig) -> None:
    """Exit unless the controller's database is there: a check that opens no connection."""
    if isinstance(cfg.db, Path) and not cfg.db.exists():
        fail(tr("no database at {db} (has the controller run? use --db)", db=cfg.db))


def _open_store(cfg: ControllerConfig) -> Store:
    """The database the controller made, to read."""
    _require_db(cfg)
    return Store(cfg.db, readonly=True)


def _existing_store(cfg: ControllerConfig) -> Store:
    """The database the controller made, to write (its schema brought up to date)."""
    _require_db(cfg)
    return Store(cfg.db)


def _store_for_writing(cfg: ControllerConfig) -> Store:
    """The database, made (schema and all) when the controller has not run yet. A new SQLite
    file made by root is given to its folder's owner, so that the service can write it."""
    import os

    if isinstance(cfg.db, Path) and not cfg.db.exists():
        if not cfg.db.parent.is_dir():
            fail(tr("no folder {folder} for the database (install.sh makes it; or give --db)",
                    folder=cfg.db.parent))
        store = Store(cfg.db)
        folder = cfg.db.parent.stat()
        if os.geteuid() == 0 and (folder.st_uid, folder.st_gid) != (0, 0):
            for made in cfg.db.parent.glob(cfg.db.name + "*"):
                os.chown(made, folder.st_uid, folder.st_gid)
        return store
    return _existing_store(cfg)


@app.command()
def run(
    config: ConfigOpt = None,
    broker: Annotated[str | None, typer.Option(help="Broker URL, e.g. mqtt://127.0.0.1:1883")] = None,
    db: DbOpt = None,
    http: Annotated[str | None, typer.Option(help="Serve the dashboard and API on HOST:PORT.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Subscribe to every center, keep device state, open and resolve alerts, serve the
    dashboard and API (with --http or http: in the config), send notifications."""
    from dataclasses import replace

    from controller.config import HttpSettings, parse_listen
    from controller.service import serve

    logs.setup(log_level)
    cfg = _config(config, db, broker, exit_code=EXIT_CONFIG)
    if http is not None:
        try:
            host, port = parse_listen(http)
        except ConfigError as exc:
            fail(translate(exc.reason))
        cfg = replace(cfg, http=replace(cfg.http or HttpSettings(), listen_host=host,
                                        listen_port=port))
    serve(cfg)


@app.command()
def alerts(
    config: ConfigOpt = None,
    db: DbOpt = None,
    as_json: JsonOpt = False,
    include_resolved: Annotated[bool, typer.Option("--all", help="Include resolved alerts.")] = False,
    center: Annotated[str | None, typer.Option(help="Only this center.")] = None,
    follow: Annotated[bool, typer.Option("--follow", "-f",
                                         help="Keep printing alert changes as they happen.")] = False,
    lang: LangOpt = None,
) -> None:
    """List open alerts (newest first); --all adds resolved ones; --follow streams changes."""
    cfg = _config(config, db)
    language = lang_or_exit(lang)
    store = _open_store(cfg)
    who = cli_accounts.acting(store, "read", center)  # never anonymously; its centers only
    # the account's centers asked of the store, not filtered after its page of 1,000: other
    # centers' alerts must not push this technician's own out of the list
    rows = store.alerts(include_resolved=include_resolved, center=center,
                        centers=None if who.centers is None else who.centers)
    if follow:
        _follow(store, center, as_json, language, who)
        return
    from controller import desk

    shown = desk.present(store, rows, language, time.time())
    if as_json:
        for a in shown:
            typer.echo(json.dumps(a, ensure_ascii=False))
        return
    if not rows:
        typer.echo(tr("No alerts."))
        return
    quiet = " " + tr("[silenced]")
    for row, a in zip(rows, shown, strict=True):
        echo_line(f"#{row.id:<5} {tr(row.severity):<12} {tr(row.state):<12} {row.center}/"
                  f"{row.device or row.agent}  {a['message']}  "
                  + tr("(since {time})", time=a["opened_at"]) + (quiet if a["silenced"] else ""))


@app.command()
def agents(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """The fleet: per box its state, last seen, software and config version, model, OS,
    devices, and delivery health (seq, received, gaps, duplicates, clock skew)."""
    from controller.views import agent_json

    cfg = _config(config, db)
    store = _open_store(cfg)
    who = cli_accounts.acting(store, "read")
    for a in [a for a in store.agents() if who.sees(a.center)]:
        row = agent_json(a)
        if as_json:
            typer.echo(json.dumps(row, ensure_ascii=False))
        else:
            echo_line(f"{a.center}/{a.agent:<12} {tr(a.state):<14} " + tr(
                "seen {seen}  seq {seq}  received {received}  gaps {gaps}  dup {dup}  skew {skew}s",
                seen=row["last_seen"], seq=a.last_seq, received=a.received, gaps=a.gaps,
                dup=a.duplicates, skew=f"{a.clock_skew_s:+.1f}"))
            if row["software"] is not None:
                echo_line("    " + tr("v{software}  config {config}  {devices} devices  {model}  "
                                      "{os}  up since {since}", software=row["software"],
                                      config=row["config_version"], devices=row["devices"],
                                      model=row["model"], os=row["os"], since=row["up_since"]))
            if row["update"] is not None and row["update"]["state"] != "ok":
                u = row["update"]
                echo_line("    " + tr("update to {version}: {state}  {reason}",
                                      version=u["version"], state=tr(u["state"]),
                                      reason=translate(u["reason"] or "")))


@app.command()
def partitions(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Several controllers (partitions:): which controller serves which partitions, how long
    each lease has left, and how many centers each serves."""
    from controller.leases import holders
    from controller.partitions import partition_of

    cfg = _config(config, db)
    store = _open_store(cfg)
    cli_accounts.acting(store, "metrics")  # the whole city's controllers and centers
    held = holders(store.db)
    if not held:
        typer.echo(tr("no partition is held: one controller serves every center, or none runs"))
        return
    count = cfg.partitions.count if cfg.partitions is not None else 1 + max(p for p, _o, _l in held)
    owner_of = {p: o for p, o, _left in held}
    centers: dict[str, int] = {}
    for center in {a.center for a in store.agents()}:
        who = owner_of.get(partition_of(center, count), "(nobody: moving)")
        centers[who] = centers.get(who, 0) + 1
    for part, owner, left in held:
        if as_json:
            typer.echo(json.dumps({"partition": part, "owner": owner, "lease_left_s": round(left, 1)}))
    if not as_json:
        for owner in sorted({o for _p, o, _l in held}):
            parts = [p for p, o, _l in held if o == owner]
            typer.echo(f"{owner:<20} " + tr("{parts} partitions  {centers} centers  {list}",
                                            parts=f"{len(parts):>4}",
                                            centers=f"{centers.get(owner, 0):>6}",
                                            list=", ".join(map(str, parts))))
        if "(nobody: moving)" in centers:
            typer.echo(f"{tr('(nobody: moving)'):<20} {'':>4}             "
                       + tr("{count} centers", count=f"{centers['(nobody: moving)']:>6}"))


UrlOpt = Annotated[str | None, typer.Option("--url", help="Controller URL, e.g. http://hcc:8080 "
                                          "(else the local database is used).")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="HCC_TOKEN",
                                            help="Bearer token for --url (or $HCC_TOKEN).")]
NoteOpt = Annotated[str, typer.Option("--note", "-n", help="Why: kept in the alert's history.")]
# ids are signed 64-bit in the database: a larger number is no id, said so (was OverflowError)
MAX_ID = 2**63 - 1
AlertIdArg = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The alert's id.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Your name (default: your login).")]


def _http(method: str, url: str, path: str, token: str | None, body: dict[str, Any] | None = None
          ) -> Any:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        r = httpx.request(method, url.rstrip("/") + path, json=body, headers=headers, timeout=15)
    except httpx.HTTPError as exc:
        from hcc_common.net_failure import classify, words

        fail(words(classify(exc, url), url, texts.current()))
    if r.status_code == 401:
        fail(tr("the controller refused: give a valid --token (or $HCC_TOKEN)"))
    if r.status_code >= 400:
        fail(f"HTTP {r.status_code}: {r.text[:300]}")
    return r.json()


def _act(action: str, alert_id: int, note: str, by: str | None, config: Path | None,
         db: str | None, url: str | None, token: str | None) -> None:
    if url is not None:
        row = _http("POST", url, f"/api/v1/alerts/{alert_id}/{action}", token,
                    {"note": note, "by": by})
    else:
        from controller import desk
        from controller.store import AlertNotFound

        cfg = _config(config, db)
        store = _existing_store(cfg)
        try:
            before = store.alert(alert_id)
        except AlertNotFound:
            fail(tr("no alert {id}", id=alert_id))
        # out of scope: the same words as for an alert that does not exist
        who = cli_accounts.acting(store, "read", before.center, tr("no alert {id}", id=alert_id))
        who = cli_accounts.acting(store, action, before.center)
        try:
            # the API's rules exactly (one desk layer): who acted, note limits, state changes
            alert = desk.act(store, alert_id, action, holder=who.name, by=by, note=note,
                             now=time.time())
        except AlertNotFound:
            fail(tr("no alert {id}", id=alert_id))
        except desk.DeskError as exc:
            fail(f"--{exc.field}: {translate(str(exc))}", 2)
        from controller.audit_view import alert_state

        cli_accounts.record(store, who, action, f"alert {alert_id}", alert.center,
                            alert_state(before), alert_state(alert))
        row = desk.present(store, [alert], lang_or_exit(None), time.time())[0]
    echo_line(f"#{row['id']} {tr(row['state'])}: {row['message']}")


@app.command()
def ack(alert_id: AlertIdArg, note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
        db: DbOpt = None, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Acknowledge an alert: someone is on it (lasts until the alert clears)."""
    _act("ack", alert_id, note, by, config, db, url, token)


@app.command()
def resolve(alert_id: AlertIdArg, note: NoteOpt = "", by: ByOpt = None, config: ConfigOpt = None,
            db: DbOpt = None, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Resolve an alert by hand, with a note."""
    _act("resolve", alert_id, note, by, config, db, url, token)


@app.command()
def silence(
    center: Annotated[str | None, typer.Option(help="Only this center.")] = None,
    device: Annotated[str | None, typer.Option(help="Only this device.")] = None,
    type_: Annotated[str | None, typer.Option("--type", help="Only this device type.")] = None,
    code: Annotated[str | None, typer.Option(help="Only this fault code (globs: printer.*).")] = None,
    duration: Annotated[str, typer.Option(help="How long: 30m, 2h, 1d.")] = "2h",
    reason: Annotated[str, typer.Option(help="Why (shown to everyone).")] = "",
    list_: Annotated[bool, typer.Option("--list", help="List silences not yet over.")] = False,
    end: Annotated[int | None, typer.Option(min=1, max=MAX_ID, help="End silence ID now.")]
    = None,
    by: ByOpt = None, config: ConfigOpt = None, db: DbOpt = None, url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Silence alerts (by center, device, type or code) for a while, e.g. during maintenance."""
    import time

    from controller.views import silence_json

    if list_:
        if url:
            rows = _http("GET", url, "/api/v1/silences", token)
        else:
            store = _open_store(_config(config, db))
            reader = cli_accounts.acting(store, "read")
            rows = [silence_json(x) for x in store.silences(time.time())
                    if x.center is None or reader.sees(x.center)]
        for r in rows:
            what = " ".join(f"{k}={r[k]}" for k in ("center", "device", "type", "code") if r[k])
            echo_line(f"#{r['id']} {what} " + tr("until {end} by {author}: {reason}",
                                                 end=r["ends_at"], author=r["author"],
                                                 reason=r["reason"]))
        return
    if end is not None:
        if url:
            _http("DELETE", url, f"/api/v1/silences/{end}", token)
        else:
            from controller.store import AlertNotFound

            store = _existing_store(_config(config, db))
            try:
                old = store.silence(end)
            except AlertNotFound:
                fail(tr("no silence {id}", id=end))
            who = cli_accounts.acting(store, "silence", old.center)
            done = store.expire_silence(end, time.time())
            cli_accounts.record(store, who, "silence_end", f"silence {end}", old.center,
                                silence_json(old), silence_json(done))
        typer.echo(tr("silence #{id} ended", id=end))
        return
    from controller.desk import DeskError, silence_window

    now = time.time()
    try:
        # the same rules as the API's (one desk layer): a silence the API refuses, so does this
        window = silence_window(center=center, device=device, type_=type_, code=code,
                                duration=duration, reason=reason, starts_at=None, now=now)
    except DeskError as exc:
        what = {"target": "--center, --device, --type or --code"}.get(exc.field,
                                                                        f"--{exc.field}")
        fail(f"{what}: {translate(str(exc))}", 2)
    if url:
        row = _http("POST", url, "/api/v1/silences", token, {
            "center": center, "device": device, "type": type_, "code": code,
            "duration": duration, "reason": reason})
    else:
        store = _existing_store(_config(config, db))
        who = cli_accounts.acting(store, "silence", center)
        row = silence_json(store.add_silence(
            center=center, device=device, type_=type_, code=code, starts_at=window.starts_at,
            ends_at=window.ends_at, author=cli_accounts.author(who, by), reason=reason))
        cli_accounts.record(store, who, "silence", f"silence {row['id']}", center, after=row)
    typer.echo(tr("silence #{id} until {end}", id=row["id"], end=row["ends_at"]))


@app.command("broker-config")
def broker_config(
    out: Annotated[Path, typer.Option("--out", help="Folder for the broker's files.")],
    config: ConfigOpt = None,
    box: Annotated[list[str] | None, typer.Option(
        "--box", help="A box as CENTER/AGENT (repeatable); default: the agents: of each center "
                      "in controller.yaml.")] = None,
    controller: Annotated[list[str] | None, typer.Option(
        "--controller", help="A controller's broker user (repeatable, one per controller of a "
                             "shared group); default: hcc-controller.")] = None,
    hostname: Annotated[list[str] | None, typer.Option(
        "--hostname", help="Name or IP agents use for the broker (repeatable).")] = None,
    port: Annotated[int, typer.Option(help="TLS port.")] = 8883,
    bind: Annotated[str, typer.Option(help="Address the broker listens on.")] = "0.0.0.0",
    owner: Annotated[str | None, typer.Option(
        help="User the broker runs as, who must read its password file and key; default: "
             "mosquitto when that user exists. Use --owner '' to leave ownership alone.")] = None,
    ca_cert: Annotated[Path | None, typer.Option(help="Use this CA certificate.")] = None,
    ca_key: Annotated[Path | None, typer.Option(help="...and this CA key.")] = None,
) -> None:
    """Write a mosquitto config with TLS, a password per box and per controller, client ids
    bound to users, an ACL (each box may publish only under hcc/v1/<center>/<agent>/), crash-safe
    persistence, and a CA and server certificate."""
    import os

    from controller.brokerconf import (
        BrokerConfigError,
        default_owner,
        generate,
        parse_box,
    )

    # the paths written into mosquitto.conf are read by mosquitto from its own folder: absolute
    out = Path(os.path.abspath(out))
    ca_cert = Path(os.path.abspath(ca_cert)) if ca_cert is not None else None
    ca_key = Path(os.path.abspath(ca_key)) if ca_key is not None else None

    try:
        boxes = [parse_box(b) for b in box or []]
        if not boxes and config is not None:
            boxes = [(c.id, a) for c in _config(config, None).centers for a in sorted(c.agents or ())]
        g = generate(out, boxes, hostname or ["localhost", "127.0.0.1"], port, bind,
                     ca_cert, ca_key, owner=default_owner() if owner is None else (owner or None),
                     controllers=controller or ["hcc-controller"])
    except BrokerConfigError as exc:
        fail(translate(str(exc)))
    cli_accounts.record_host_act(_config(config, None), "broker_config", str(out), after={
        "boxes": [f"{c}/{a}" for c, a in boxes], "controllers": controller or ["hcc-controller"],
        "hostnames": hostname or ["localhost", "127.0.0.1"], "new_passwords": len(g.credentials)})
    typer.echo(tr("mosquitto config: {file}  (start: mosquitto -c {file})", file=g.conf))
    typer.echo(tr("CA for agents: {file}", file=g.ca_cert))
    typer.echo(tr("passwords (one file per user, mode 600): {folder}/", folder=out / "credentials"))
    typer.echo(tr("{count} box(es); give a box its credentials with: hcc-controller credentials "
                  "CENTER --agent AGENT --broker-dir {folder} --out FILE", count=len(boxes),
                  folder=out))


@app.command("http-cert")
def http_cert(
    out: Annotated[Path, typer.Option("--out", help="Folder for http.crt and http.key "
                                                    "(/etc/hcc-controller).")],
    hostname: Annotated[list[str], typer.Option(
        "--hostname", help="Name or IP boxes and browsers use for the controller "
                           "(repeatable).")],
    days: Annotated[int, typer.Option(help="How long the certificate is valid.")] = 825,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Make the controller's HTTPS certificate and key (self-signed; boxes pin it by the
    fingerprint `hcc-controller enroll` prints) with the folder's group and mode 0640."""
    import os

    from controller.httpcert import make
    from hcc_common.keepfile import NotWritable

    folder = Path(os.path.abspath(out))
    try:
        made = make(folder, hostname, days)
    except (NotWritable, PermissionError) as exc:
        fail(tr("{why} (run it with sudo)", why=translate(str(exc))))
    cli_accounts.record_host_act(_config(config, db), "http_cert", str(made.cert),
                                 after={"hostnames": hostname, "days": days,
                                        "sha256": made.fingerprint})
    typer.echo(tr("certificate {cert}, key {key} (SHA-256 {fingerprint})", cert=made.cert,
                  key=made.key, fingerprint=made.fingerprint))
    typer.echo(tr("in controller.yaml: {section}", section=f'http: {{listen: "0.0.0.0:8443", '
                  f"tls_cert: {made.cert}, tls_key: {made.key}}}"))


@app.command("signing-key")
def signing_key(
    config: ConfigOpt = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="Another key file (a new key for a rotation).")] = None,
) -> None:
    """Show the key that signs every command to the boxes (made, mode 600, if there is none
    yet): its file, id and public key. Boxes get the public key when they enroll."""
    from controller.signing_key import SigningKeyError, load_or_create
    from hcc_common.signing import public_of

    cfg = _config(config, None)
    path = key_file or cfg.signing_key
    try:
        key, made = load_or_create(path)
    except SigningKeyError as exc:
        fail(translate(str(exc)))
    pub = public_of(key)
    if made:  # showing the key changes nothing
        cli_accounts.record_host_act(cfg, "signing_key", str(path), after={"id": pub.key_id})
    typer.echo(tr("made: {file} (keep it; mode 600)" if made else "key: {file} (keep it; mode 600)",
                  file=path))
    typer.echo(f"id: {pub.key_id}")
    typer.echo(tr("inline, for agent.controller_keys: {key}", key=pub.inline))
    typer.echo(pub.pem().rstrip())


@app.command()
def credentials(
    center: Annotated[str, typer.Argument(help="The center id.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the password (mode 600).")],
    broker_dir: Annotated[Path, typer.Option(help="The folder broker-config wrote.")],
    agent: Annotated[str, typer.Option(help="The box's agent id (devices.yaml agent.id).")] =
    "pi-1",
    url: Annotated[str, typer.Option(help="Broker URL the agent will use.")] =
    "mqtts://127.0.0.1:8883",
    box_dir: Annotated[Path, typer.Option(
        help="The box's config folder, where the two files go.")] = Path("/etc/hcc-agent"),
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Issue one box's credentials: a new password (the broker's password file is updated, the
    old password stops working at the broker's next reload), the CA beside it, and the
    devices.yaml mqtt: section that refers to them."""
    from controller.brokerconf import BrokerConfigError, issue_credentials

    try:
        user, pw, ca = issue_credentials(broker_dir, center, agent, out)
    except BrokerConfigError as exc:
        fail(translate(str(exc)))
    # the new password itself is never written in the audit trail: only that there is one
    cli_accounts.record_host_act(_config(config, db), "credentials", f"{center}/{agent}", center,
                                 after={"user": user, "broker_dir": str(broker_dir)})
    import os

    # the paths the box will use, not where the files were written here
    pw, ca = Path(os.path.abspath(pw)), Path(os.path.abspath(ca))
    box_pw, box_ca = box_dir / "mqtt.password", box_dir / "ca.crt"
    typer.echo("# " + tr("written here: {password} and {ca}; reload mosquitto to apply "
                         "(systemctl reload mosquitto)", password=pw, ca=ca))
    typer.echo("# " + tr("copy both to the box (scp), then on the box:"))
    typer.echo(f"#   sudo install -o root -g hcc-agent -m 0640 {pw} {box_pw}")  # words: code
    typer.echo(f"#   sudo install -o root -g hcc-agent -m 0640 {ca} {box_ca}")  # words: code
    typer.echo("# " + tr("and in the box's devices.yaml:"))
    typer.echo(f'mqtt: {{url: "{url}", username: "{user}", password_file: {box_pw}, '  # words: code
               f"ca_file: {box_ca}}}")


@app.command()
def stats(config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Ingest counters as JSON: received, applied, malformed messages, dead letters, messages
    deferred by the rate limit, write batches."""
    store = _open_store(_config(config, db))
    cli_accounts.acting(store, "metrics")  # every center's counters at once
    typer.echo(json.dumps(store.stats()))


@app.command()
def deadletters(
    config: ConfigOpt = None, db: DbOpt = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Messages set aside because they could not be decoded, applied or stored: when, the
    topic, why, and the start of the payload. Ingest went on without them."""
    from controller.views import iso

    store = _open_store(_config(config, db))
    cli_accounts.acting(store, "metrics")  # any center's topics and payloads
    rows = store.dead_letters(limit)
    for r in rows:
        if as_json:
            typer.echo(json.dumps({**r, "received_at": iso(r["received_at"])},
                                  ensure_ascii=False))
        else:
            # a dead letter is what broke the contract: its topic, reason and payload may hold
            # anything, escape sequences too
            echo_line(f"#{r['id']} {iso(r['received_at'])} {r['topic']} "
                      + tr("({size} bytes)", size=r["size"]))
            echo_line(f"    {r['reason']}")
            echo_line(f"    {r['payload'][:200]}")
    if not rows and not as_json:
        typer.echo(tr("no dead letters"))


@app.command()
def qr(
    center: Annotated[str, typer.Option(help="The center whose amenities get labels.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The PDF to write (labels.pdf).")],
    base_url: Annotated[str | None, typer.Option(
        help="The controller's address as phones reach it (default: http.public_url).")] = None,
    rotate: Annotated[bool, typer.Option(
        "--rotate", help="New codes for every amenity: the old labels stop working.")] = False,
    staff_link: Annotated[bool, typer.Option(
        "--staff-link", help="Print the center's staff link (the opening checklist) instead.")]
    = False,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """A4 sheets of QR labels, one per amenity: citizens scan them to report a problem.
    Needs Chromium (apt install chromium)."""
    from controller import qr_labels, reporting

    cfg = _config(config, db)
    found = next((c for c in cfg.centers if c.id == center), None)
    if found is None:
        fail(tr("no center {center} in controller.yaml", center=repr(center)), 2)
    url = base_url or (cfg.http.public_url if cfg.http is not None else "")
    store = _existing_store(cfg)  # says so plainly when the controller has not run yet
    try:
        if staff_link:
            from controller import checklist, citizen

            who = cli_accounts.acting(store, "rotate_codes" if rotate else "staff_link", center)
            token = citizen.token_for(store, found.id, checklist.STAFF_KEY, rotate=rotate)
            cli_accounts.record(store, who, "staff_link_rotate" if rotate else "staff_link",
                                f"staff link {center}", center)
            typer.echo(f"{url.rstrip('/')}/staff/{token}")
            return
        who = cli_accounts.acting(store, "rotate_codes" if rotate else "read", center)
        try:
            count = qr_labels.make_pdf(store, found, url, out, rotate=rotate)
        except (ValueError, reporting.ReportError) as exc:
            fail(translate(str(exc)), 2)
        if rotate:
            cli_accounts.record(store, who, "qr_rotate", f"qr {center}", center,
                                after={"labels": count})
    finally:
        store.close()
    typer.echo(tr("{file}: {count} labels for {center}", file=out, count=count,
                  center=found.name))


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write (report.pdf, …).")],
    month: Annotated[str | None, typer.Option(help="A month, e.g. 2026-11.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option(help="Last day (included), YYYY-MM-DD.")] = None,
    center: Annotated[str | None, typer.Option(help="One center (default: all).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every center (the default).")] = False,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="html, pdf or csv (default: from --out's extension).")] = None,
    lang: LangOpt = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """The city's report for a month or a span of days: availability in opening hours,
    incidents (MTTA, MTTR), pages printed, toner use and forecast, the order list, Wi-Fi use.
    A PDF needs Chromium (apt install chromium)."""
    from controller import reporting

    if center is not None and all_:
        fail(tr("--center and --all: choose one"), 2)
    cfg = _config(config, db)
    language = lang_or_exit(lang)
    try:
        chosen = reporting.format_for(out, fmt)
        period = reporting.period_for(month, from_, to, cfg.reports.timezone)
        # says so when there is no database yet; one center's report for whom sees it, the
        # city's for whom sees every center
        store = _existing_store(cfg)
        who = cli_accounts.acting(store, "read" if center else "metrics", center)
        body = reporting.make(store, cfg, period=period, center=center, fmt=chosen,
                              lang=language)
    except (ValueError, reporting.ReportError) as exc:
        fail(translate(str(exc)), 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(body)
    # as the API's downloads are: who took which centers' figures
    cli_accounts.record(store, who, "report_download", f"report {period.label} {chosen}", center)
    store.close()
    typer.echo(tr("{file} ({size} bytes, {period})", file=out, size=f"{len(body):,}",
                  period=period.label))


@app.command()
def oncall(
    center: Annotated[str | None, typer.Option(help="Only the roster of this center.")] = None,
    at: Annotated[str | None, typer.Option(help="At this time (ISO 8601), not now.")] = None,
    config: ConfigOpt = None, as_json: JsonOpt = False,
) -> None:
    """Who is on duty now (or --at), per roster, and the escalation steps that follow an
    alert nobody acknowledges."""
    from datetime import datetime

    from controller.oncall import describe, roster_for

    cfg = _config(config, None)
    rosters = cfg.notify.rosters
    if center is not None:
        found = roster_for(rosters, center)
        rosters = (found,) if found is not None else ()
    if not rosters:
        fail(tr("no on-call roster covers {center} in the config", center=center) if center
             else tr("no on-call roster in the config"))
    try:
        when = datetime.fromisoformat(at).timestamp() if at is not None else time.time()
    except ValueError:
        fail(tr("--at {value}: write ISO 8601, e.g. 2026-12-01T08:00+07:00", value=repr(at)), 2)
    for r in rosters:
        view = describe(r, cfg.notify.people, when)
        if as_json:
            typer.echo(json.dumps({"roster": view.roster, "centers": list(view.centers),
                                   "on_duty": view.on_duty.id if view.on_duty else None,
                                   "on_duty_name": view.on_duty.name if view.on_duty else None,
                                   "contacts": dict(view.on_duty.contacts) if view.on_duty
                                   else {}, "escalation": list(view.steps)},
                                  ensure_ascii=False))
            continue
        who = f"{view.on_duty.name} ({', '.join(view.on_duty.contacts)})" if view.on_duty \
            else tr("nobody on duty (off hours)")
        typer.echo(f"{view.roster} [{', '.join(view.centers)}]: {who}")
        for step in view.steps:
            typer.echo(f"    {translate(step)}")


def _follow(store: Store, center: str | None, as_json: bool, language: str,
            who: Principal) -> None:
    """Tail the alert history: every open, acknowledgement and resolution, as it happens."""
    import time

    from controller.views import change_json

    last = max(0, store.last_event_id() - 20)
    while True:
        for change in store.changes_since(last):
            last = change.event_id
            if (center is not None and change.alert.center != center) or \
                    not who.sees(change.alert.center):
                continue
            if as_json:
                typer.echo(json.dumps(change_json(change), ensure_ascii=False))
            else:
                a = alert_json(change.alert, language)
                actor = f" by {change.actor}" if change.actor else ""
                echo_line(f"{iso(change.at)} {change.event:<12} #{a['id']:<5} {a['severity']:<8}"
                          f" {a['center']}  {a['message']}{actor}")
        time.sleep(0.5)


@app.command()
def enroll(
    center: Annotated[str, typer.Argument(help="The center id.")],
    agent: Annotated[str, typer.Option(help="The box's agent id.")] = "pi-1",
    valid: Annotated[str | None, typer.Option(
        help="How long the code works (default enroll.code_valid, 4h).")] = None,
    by: Annotated[str | None, typer.Option(help="Who made the code (recorded).")] = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Make a one-time code a new box trades for its own broker credentials: on the box,
    `sudo hcc-agent enroll https://CONTROLLER CODE --fingerprint SHA256`. Enrolling a box again
    (a replacement) gives it new credentials; the old ones stop working."""
    import hashlib
    import time

    from controller.enroll import code_hash, new_code
    from hcc_common import wire
    from hcc_common.durations import parse_duration

    cfg = _config(config, db)
    if cfg.enroll is None or cfg.http is None or cfg.http.tls_cert is None:
        fail(tr("enrollment needs enroll: and http: with tls_cert/tls_key in controller.yaml "
                "(docs/operations.md)"))
    if not wire.valid_id(center) or not wire.valid_id(agent):
        fail(tr("{box} is not a valid CENTER/AGENT", box=f"{center}/{agent}"), 2)
    seconds = cfg.enroll.code_valid_s
    if valid is not None:
        try:
            seconds = parse_duration(valid)
        except ValueError as exc:
            fail(f"--valid: {translate(str(exc))}", 2)
    code = new_code()
    now = time.time()
    # before the controller's first run too (the docs' order): the schema is made here, the
    # new database given to the owner of its folder (the service's state directory)
    store = _store_for_writing(cfg)
    who = cli_accounts.acting(store, "enroll", center)
    store.add_enrollment(code_hash(code), center, agent, cli_accounts.author(who, by), now,
                         now + seconds)
    cli_accounts.record(store, who, "enroll_code", f"{center}/{agent}", center,
                        after={"expires_at": now + seconds})
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(Path(cfg.http.tls_cert).read_bytes())
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    typer.echo(tr("code for {box}: {code} (single use, valid {minutes} min)",
                  box=f"{center}/{agent}", code=code, minutes=int(seconds // 60)))
    host = cfg.http.listen_host if cfg.http.listen_host not in ("0.0.0.0", "::", "") \
        else "HOST"
    typer.echo(tr("on the box: {command}", command=f"sudo hcc-agent enroll "
                  f"https://{host}:{cfg.http.listen_port} {code} --fingerprint {fingerprint}"))


config_app = typer.Typer(
    help="Each center's devices.yaml, kept centrally and pushed to its box.",
    no_args_is_help=True)
app.add_typer(config_app, name="config")
from controller.release_cli import release_app, rollout_app  # noqa: E402

app.add_typer(release_app, name="release")
app.add_typer(rollout_app, name="rollout")


def _box_of(text: str, center: str) -> str:
    """The agent id a devices.yaml names (its center must be `center`)."""
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        doc = None  # the validator says where
    if isinstance(doc, dict) and isinstance(doc.get("center"), dict) and \
            doc["center"].get("id") not in (None, center):
        fail(tr("the file is for center {other}, not {center}",
                other=repr(doc["center"].get("id")), center=repr(center)))
    agent = doc.get("agent", {}).get("id") if isinstance(doc, dict) and isinstance(
        doc.get("agent"), dict) else None
    return str(agent) if agent else "pi-1"


def _validate_like_the_agent(text: str, center: str) -> None:
    """The box's own validator, in-process (the schema is shared: hcc_common/devices_config.py),
    so both sides judge a file alike: every mistake with CENTER.yaml:line and key, in LANG."""
    import tempfile

    from hcc_common import devices_config
    from hcc_common.filecheck import files_elsewhere

    # judged as if in an empty folder: a relative file it names is the box's, never one of ours
    with tempfile.TemporaryDirectory(prefix="hcc-config-") as tmp:
        path = Path(tmp) / f"{center}.yaml"
        try:
            # elsewhere: the files it names (password, CA) are the box's, checked there
            with files_elsewhere():
                devices_config.load(path, text=text)
        except ConfigError as exc:
            for line in devices_config.error_lines(exc, texts.current()):
                typer.echo(line.replace(str(path), f"{center}.yaml"), err=True)
            raise typer.Exit(1) from None


@config_app.command("push")
def config_push(
    center: Annotated[str, typer.Argument(help="The center id.")],
    file: Annotated[Path | None, typer.Argument(
        help="The devices.yaml to push (default: CONFIG_DIR/CENTER.yaml).")] = None,
    by: Annotated[str | None, typer.Option(help="Who pushes (recorded).")] = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Validate a center's devices.yaml as the agent would, keep it as a new version (content
    hash, author, time) and make it the one its box runs; the running controller publishes it."""
    import time

    from hcc_common.wire import config_version

    cfg = _config(config, db)
    kept = cfg.configs / f"{center}.yaml"
    source = file or kept
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        typer.echo(f"error: {source}: {exc.strerror}", err=True)
        raise typer.Exit(1) from None
    agent = _box_of(text, center)
    _validate_like_the_agent(text, center)
    if source != kept:
        from hcc_common.keepfile import write_kept

        kept.parent.mkdir(parents=True, exist_ok=True)
        # the config directory stays the source; its communities stay the service's only
        write_kept(kept, text, mode=0o640)
    version = config_version(text)
    store = _existing_store(cfg)
    who = cli_accounts.acting(store, "config_push", center)
    before = next((r["version"] for r in store.desired_configs()
                   if (r["center"], r["agent"]) == (center, agent)), None)
    store.push_config(center, agent, version, text, cli_accounts.author(who, by), time.time())
    cli_accounts.record(store, who, "config_push", f"{center}/{agent}", center,
                        {"version": before}, {"version": version})
    typer.echo(tr("{box}: version {version} pushed", box=f"{center}/{agent}", version=version)
               + (" " + tr("(was {version})", version=before) if before and before != version
                  else " " + tr("(unchanged)") if before == version else ""))


@config_app.command("pull")
def config_pull(
    center: Annotated[str, typer.Argument(help="The center id.")],
    agent: Annotated[str | None, typer.Option(
        help="The box, if the center has several (default: its only one).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the box's answer.")] = 60.0,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace CONFIG_DIR/CENTER.yaml even if it differs.")] = False,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Bring the devices.yaml a box runs into CONFIG_DIR/CENTER.yaml (the running controller
    asks the box over MQTT), so that the next change is made centrally with config push."""
    import time

    from controller import pulls
    from hcc_common import wire
    from hcc_common.keepfile import NotWritable, write_kept

    if not wire.valid_id(center) or (agent is not None and not wire.valid_id(agent)):
        fail(tr("{box} is not a valid CENTER/AGENT", box=f"{center}/{agent or ''}"), 2)
    cfg = _config(config, db)
    store = _existing_store(cfg)
    # the box's file holds its devices' communities and passwords: an admin's act, audited
    who = cli_accounts.acting(store, "config_push", center)
    boxes = sorted(a.agent for a in store.agents() if a.center == center)
    if agent is None:
        if len(boxes) != 1:
            fail(tr("{center} has no box that reported yet", center=center) if not boxes else
                 tr("{center} has boxes {boxes}: give --agent", center=center,
                    boxes=", ".join(boxes)))
        agent = boxes[0]
    kept = cfg.configs / f"{center}.yaml"
    pulls.ensure(store.db)
    request = pulls.ask(store.db, center, agent, time.time())
    deadline = time.monotonic() + timeout
    got = pulls.answer(store.db, request)
    while got is None and time.monotonic() < deadline:
        time.sleep(0.5)
        got = pulls.answer(store.db, request)
    if got is None:
        fail(tr("no answer from {box} in {seconds} s: the running controller sends the request, "
                "and the box must be online", box=f"{center}/{agent}", seconds=f"{timeout:g}"))
    if kept.exists() and kept.read_text(encoding="utf-8") != got.content and not force:
        fail(tr("{file} exists and differs from the box's file: see it with `config diff`, or "
                "replace it with --force", file=kept))
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_kept(kept, got.content, mode=0o640)
    except (NotWritable, PermissionError) as exc:
        fail(tr("{why} (run it as the service user: sudo -u hcc-controller …)",
                why=translate(str(exc))))
    cli_accounts.record(store, who, "config_pull", f"{center}/{agent}", center,
                        after={"version": got.version, "source": got.source})
    what = tr("its own devices.yaml") if got.source == "local" else tr("the version pushed to it")
    typer.echo(tr("{box}: {file} (version {version}, {what})", box=f"{center}/{agent}",
                  file=kept, version=got.version, what=what))
    try:
        _validate_like_the_agent(got.content, center)
    except typer.Exit:
        typer.echo(tr("warning: the file does not validate here (above); fix it before config "
                      "push"), err=True)


@config_app.command("status")
def config_status(config: ConfigOpt = None, db: DbOpt = None,
                  as_json: JsonOpt = False) -> None:
    """Per box: the config it should run, the one it runs, and any error (refused with
    file:line, or rolled back)."""
    cfg = _config(config, db)
    store = _open_store(cfg)
    who = cli_accounts.acting(store, "read")
    agents = {(a.center, a.agent): a.inventory for a in store.agents()}
    desired = [r for r in store.desired_configs() if who.sees(r["center"])]
    if not desired and not as_json:
        typer.echo(tr("nothing pushed yet: every box runs its own devices.yaml (bring one here "
                      "with `hcc-controller config pull CENTER`, then `config push CENTER`)"))
        return
    for row in desired:
        inv = agents.get((row["center"], row["agent"]), {})
        applied = inv.get("config_version")
        error = inv.get("config_error")
        state = ("in sync" if applied == row["version"] and inv.get("config_source") == "pushed"
                 else "error" if error else "pending")
        if state == "in sync" and inv.get("local_drift"):
            state = "in sync, local file edited (ignored)"
        out = {"center": row["center"], "agent": row["agent"], "desired": row["version"],
               "applied": applied, "state": state, "error": error,
               "pushed_by": row["author"], "local_file": inv.get("local_config_version")}
        if as_json:
            typer.echo(json.dumps(out, ensure_ascii=False))
        else:
            echo_line(f"{row['center']}/{row['agent']:<10} " + tr(
                "desired {desired}  applied {applied}  {state}", desired=row["version"],
                applied=f"{applied or '-':<12}", state=tr(state)))
            if error:
                echo_line(f"    {error}")  # the box's own words


@config_app.command("diff")
def config_diff(center: Annotated[str, typer.Argument(help="The center id.")],
                config: ConfigOpt = None, db: DbOpt = None) -> None:
    """What CONFIG_DIR/CENTER.yaml would change against the version its box should run."""
    import difflib

    cfg = _config(config, db)
    kept = cfg.configs / f"{center}.yaml"
    text = kept.read_text(encoding="utf-8") if kept.exists() else ""
    store = _open_store(cfg)
    cli_accounts.acting(store, "read", center)
    rows = [r for r in store.desired_configs() if r["center"] == center]
    desired = rows[0]["content"] if rows else ""
    diff = list(difflib.unified_diff(desired.splitlines(keepends=True),
                                     text.splitlines(keepends=True),
                                     f"{center} (pushed {rows[0]['version']})" if rows
                                     else f"{center} (never pushed)", str(kept)))
    typer.echo("".join(diff) if diff else f"{center}: no difference")


@config_app.command("rollback")
def config_rollback(
    center: Annotated[str, typer.Argument(help="The center id.")],
    version: Annotated[str | None, typer.Argument(
        help="The version to go back to (default: the one before the current).")] = None,
    agent: Annotated[str, typer.Option(help="The box, if the center has several.")] = "",
    by: Annotated[str | None, typer.Option(help="Who rolls back (recorded).")] = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Make an earlier version the one the box runs (it is published like a push)."""
    import time

    cfg = _config(config, db)
    store = _existing_store(cfg)
    who = cli_accounts.acting(store, "config_push", center)
    rows = [r for r in store.desired_configs() if r["center"] == center
            and (not agent or r["agent"] == agent)]
    if not rows:
        fail(tr("nothing was ever pushed to {center}", center=center))
    current = rows[0]
    history = store.config_versions(center, current["agent"])
    older = [h for h in history if h["version"] != current["version"]]
    target = next((h for h in history if h["version"] == version), None) if version \
        else (older[0] if older else None)
    if target is None:
        box = f"{center}/{current['agent']}"
        fail(tr("no version {version} for {box}", version=version, box=box) if version else
             tr("no version before {version} for {box}", version=current["version"], box=box))
    store.push_config(center, current["agent"], target["version"], target["content"],
                      cli_accounts.author(who, by), time.time())
    cli_accounts.record(store, who, "config_rollback", f"{center}/{current['agent']}", center,
                        {"version": current["version"]}, {"version": target["version"]})
    typer.echo(tr("{box}: back to version {version} (was {before})",
                  box=f"{center}/{current['agent']}", version=target["version"],
                  before=current["version"]))


@app.callback()
def _options(lang: LangOpt = None, as_: Annotated[str | None, typer.Option(
        "--as", help="Act as this account (default: $HCC_AS, $SUDO_USER or $USER).")] = None
             ) -> None:
    # --lang before the command: read at start (start_lang) to choose the help texts' language
    # each invocation says anew who it acts as (one process may run several: tests, a shell)
    cli_accounts.ACTING_AS[:] = [as_] if as_ is not None else []


app.add_typer(cli_accounts.user_app, name="user")
app.add_typer(cli_accounts.token_app, name="token")
app.command("audit")(cli_accounts.audit)


# SQLite's SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_NOTADB: the file itself is bad
DAMAGED_DB_CODES = frozenset({10, 11, 26})


def main() -> None:
    try:
        from controller import cli_text

        run_app(app, cli_text.VI)  # the help texts and output, in the technician's language
    except KeyboardInterrupt:
        sys.exit(130)
    except sqlite3.DatabaseError as exc:
        code = getattr(exc, "sqlite_errorcode", 0)
        if not isinstance(code, int) or code & 0xFF not in DAMAGED_DB_CODES:
            raise
        # The controller's own database is never replaced behind the operator's back (it holds
        # every alert and all history): a clear error, the file left as it is.
        print(tr("error: {message}", message=tr(
            "the controller's SQLite database (controller.yaml db:) is damaged ({why}). It is left "
            "as it is, not replaced: stop the service, restore the file from a backup (or move it "
            "away to start empty), then start again.", why=exc)), file=sys.stderr)
        sys.exit(1)
