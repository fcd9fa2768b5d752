"""hcc-controller's accounts side: `user`, `token` and `audit` commands, and who the CLI acts as
(an account named by --as, $HCC_AS, $SUDO_USER or $USER; refused if there is none), checked by
the same rule as the API (controller.authz) and written to the audit trail."""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from controller import accounts, audit_view, authz
from controller.authz import Decision, Principal
from controller.store import Store
from hcc_common.cliutil import fail
from hcc_common.texts import tr, translate

# set by the top-level --as option (cli.py's callback)
ACTING_AS: list[str] = []

user_app = typer.Typer(help="Accounts: who signs in, with which role and which centers.",
                       no_args_is_help=True)
token_app = typer.Typer(help="API tokens of an account (its role and centers), for scripts.",
                        no_args_is_help=True)


def os_user() -> str:
    """The person at the terminal: under sudo, who ran sudo, not root."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or getpass.getuser()


def account_name() -> str:
    return (ACTING_AS[-1] if ACTING_AS else None) or os.environ.get("HCC_AS") or os_user()


def peer() -> str:
    return f"cli@{socket.gethostname()}"[:64]




def again(*args: str) -> str:
    """The command line that runs hcc-controller as this very user again, with `args` and the
    --config/--db this command was given: `sudo -u hcc-controller hcc-controller …` under sudo
    (the same sudo keeps the same $SUDO_USER, so the same account is looked up)."""
    import pwd
    import shlex

    prefix = ["hcc-controller"]
    if os.environ.get("SUDO_USER"):
        me = pwd.getpwuid(os.geteuid()).pw_name
        prefix = ["sudo", "hcc-controller"] if os.geteuid() == 0 else \
            ["sudo", "-u", me, "hcc-controller"]
    argv, given = sys.argv[1:], []
    for i, a in enumerate(argv):
        if a in ("--config", "-c", "--db") and i + 1 < len(argv):
            given += [a, argv[i + 1]]
        elif a.startswith(("--config=", "--db=")):
            given.append(a)
    return shlex.join([*prefix, *args, *given])


def refusal(store: Store, name: str, found: accounts.Account | None) -> str:
    """Why the CLI will not act as `name`, and the exact command that fixes it."""
    source = "--as" if ACTING_AS else "$HCC_AS" if os.environ.get("HCC_AS") else \
        "$SUDO_USER" if os.environ.get("SUDO_USER") else "$USER"
    if found is not None:
        return tr("the account {name} (from {source}) is disabled: ask an admin, or use --as "
                  "NAME with your own account", name=repr(name), source=source)
    if accounts.count_accounts(store.db) == 0:
        first = again("user", "add", name, "--role", "admin")
        return tr("no account yet: hcc-controller always acts as an account. Make the first "
                  "admin (you, {name}) with:\n  {command}", name=name, command=first)
    add = again("user", "add", name, "--role", "ROLE")
    return tr("no enabled account {name} (from {source}) for the CLI: use --as NAME with your "
              "own account, or ask an admin to make it:\n  {command}", name=repr(name),
              source=source, command=add)


def acting(store: Store, action: str, center: str | None = None,
           missing: str | None = None) -> Principal:
    """The account the CLI acts as, allowed to do `action` (on `center`); exits otherwise
    (out of scope with `missing`, the words for a thing that does not exist)."""
    name = account_name()
    found = accounts.get_account(store.db, name)
    if found is None or found.disabled:
        fail(refusal(store, name, found))
    who = found.principal(_groups(), "cli")
    decision = authz.decide(who, action, center)
    if decision is Decision.NOT_FOUND:
        fail(missing or tr("no center {center}", center=repr(center)))
    if decision is Decision.FORBIDDEN:
        fail(tr("{name} is a {role}: a {role} may not {action}", name=name, role=who.role,
                action=tr(authz.WORDS.get(action, action))))
    return who


# the groups of the config the command was given (cli.py sets it once parsed)
GROUPS: list[dict[str, frozenset[str]]] = []


def _groups() -> dict[str, frozenset[str]]:
    return GROUPS[-1] if GROUPS else {}


def author(who: Principal, by: str | None) -> str:
    """As the history shows it: the technician named with --by, and the account acting."""
    from controller.desk import actor

    return actor(who.name, by)


def record(store: Store, who: Principal | str, action: str, target: str,
           center: str | None = None, before: Any = None, after: Any = None) -> None:
    accounts.audit(store.db, who=who, peer=peer(), action=action, target=target, center=center,
                   before=before, after=after, now=time.time())


def record_host_act(cfg: Any, action: str, target: str, center: str | None = None,
                    after: Any = None) -> bool:
    """The audit row of a command that changes the central host's files (broker passwords, the
    HTTPS or signing key): what Unix lets it do is its right, so no account is asked, but the
    act is written as the person running it (via "host") whenever the controller's database
    exists. Before the controller's first run there is none: False, and the command says so."""
    import contextlib
    import sqlite3

    if isinstance(cfg.db, Path) and not cfg.db.exists():
        return False
    errors: tuple[type[Exception], ...] = (sqlite3.Error, OSError)
    with contextlib.suppress(ImportError):
        import psycopg

        errors += (psycopg.Error,)
    try:
        with contextlib.closing(Store(cfg.db)) as store:
            accounts.audit(store.db, who=account_name(), via="host", peer=peer(), action=action,
                           target=target, center=center, after=after, now=time.time())
    except errors as exc:
        typer.echo(tr("note: not written to the audit trail ({why})", why=exc), err=True)
        return False
    return True


# -- the commands -----------------------------------------------------------------------------
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c",
                                                help="controller.yaml (optional).")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", help="SQLite database file, or a postgresql:// URL.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]
NameArg = Annotated[str, typer.Argument(help="The account's name.")]


def _store(config: Path | None, db: str | None, writing: bool = False) -> tuple[Store, Any]:
    from controller.cli import _config, _store_for_writing

    cfg = _config(config, db)
    GROUPS.append(dict(cfg.auth.groups))
    if writing:  # the first admin, before the controller's first run: the database made here
        return _store_for_writing(cfg), cfg
    return Store(cfg.db), cfg


def _read_password(password_file: Path | None) -> str | None:
    if password_file is not None:
        try:
            lines = password_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            fail(f"--password-file: {password_file}: {exc.strerror}")
        return lines[0] if lines else ""
    if sys.stdin.isatty():
        first = getpass.getpass(tr("password: "))
        if getpass.getpass(tr("again: ")) != first:
            fail(tr("the two passwords differ"))
        return first
    return None  # no password: the account signs in with tokens or a chat only


@user_app.command("add")
def user_add(
    name: NameArg,
    role: Annotated[str, typer.Option(help="viewer, technician, desk or admin.")],
    center: Annotated[list[str] | None, typer.Option(
        "--center", help="A center the account sees (repeatable).")] = None,
    group: Annotated[list[str] | None, typer.Option(
        "--group", help="A group of centers from controller.yaml groups: (repeatable).")] = None,
    password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="A file whose first line is the password (default: asked).")]
    = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Make an account. The very first one must be an admin and needs no account to act as."""
    store, cfg = _store(config, db, writing=True)
    first = accounts.count_accounts(store.db) == 0
    if first and role != "admin":
        fail(tr("the first account must be an admin: {command}",
                command=again("user", "add", name, "--role", "admin")), 2)
    who: Principal | str = f"bootstrap:{os_user()}" if first else acting(store, "users")
    try:
        made = accounts.add_account(store.db, name=name, role=role, centers=center or [],
                                    groups=group or [], password=_read_password(password_file),
                                    now=time.time(), known_groups=cfg.auth.groups)
    except accounts.AccountError as exc:
        fail(translate(str(exc)), 2)
    record(store, who, "user_add", name, after=_account_json(made))
    scope = tr("every center") if made.role in authz.CITY_WIDE else \
        ", ".join([*made.centers, *(tr("group {group}", group=g) for g in made.groups)])
    typer.echo(tr("account {name} made: {role}, {scope}", name=made.name, role=made.role,
                  scope=scope))


def _account_json(a: accounts.Account) -> dict[str, Any]:
    return {"name": a.name, "role": a.role, "centers": list(a.centers), "groups": list(a.groups),
            "disabled": a.disabled, "password": a.has_password}


@user_app.command("list")
def user_list(config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Every account: role, centers and groups, disabled or not."""
    store, _ = _store(config, db)
    acting(store, "users")
    for a in accounts.list_accounts(store.db):
        if as_json:
            typer.echo(json.dumps(_account_json(a), ensure_ascii=False))
            continue
        scope = "*" if a.role in authz.CITY_WIDE else \
            ",".join([*a.centers, *(f"@{g}" for g in a.groups)])
        typer.echo(f"{a.name:<20} {a.role:<10} {scope}"
                   + ("  " + tr("(disabled)") if a.disabled else ""))


@user_app.command("disable")
def user_disable(name: NameArg, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Disable an account: no sign-in; its sessions end and its tokens stop at once."""
    store, _ = _store(config, db)
    who = acting(store, "users")
    before = accounts.get_account(store.db, name)
    try:
        after = accounts.disable_account(store.db, name, time.time())
    except accounts.AccountError as exc:
        fail(translate(str(exc)))
    record(store, who, "user_disable", name, before=before and _account_json(before),
           after=_account_json(after))
    typer.echo(tr("account {name} disabled", name=name))


@user_app.command("password")
def user_password(name: NameArg, password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="A file whose first line is the password (default: asked).")]
        = None, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Set an account's password (and lift its lockout)."""
    store, _ = _store(config, db)
    who = acting(store, "users")
    password = _read_password(password_file)
    if password is None:
        fail(tr("give --password-file"), 2)
    try:
        accounts.set_password(store.db, name, password)
    except accounts.AccountError as exc:
        fail(translate(str(exc)))
    record(store, who, "user_password", name)
    typer.echo(tr("password set for {name}", name=name))


@token_app.command("add")
def token_add(
    name: NameArg,
    label: Annotated[str, typer.Option(help="What the token is for (shown in lists).")],
    out: Annotated[Path, typer.Option(help="File to write the token to (mode 600).")],
    valid: Annotated[str, typer.Option(help="How long it works: 30d, 90d, 365d.")] = "90d",
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Make an API token for an account; only its hash is kept, the token goes to --out."""
    from hcc_common.durations import parse_duration

    store, cfg = _store(config, db)
    who = acting(store, "users")
    try:
        seconds = parse_duration(valid)
    except ValueError as exc:
        fail(f"--valid: {translate(str(exc))}", 2)
    if not 60 <= seconds <= cfg.auth.token_max_s:
        fail(tr("--valid: between 1m and {days}d", days=int(cfg.auth.token_max_s // 86400)), 2)
    try:
        secret, token = accounts.add_token(store.db, account=name, label=label, valid_s=seconds,
                                           now=time.time())
    except accounts.AccountError as exc:
        fail(translate(str(exc)), 2)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(out, 0o600)
    record(store, who, "token_add", f"{name}/{label}", after={"id": token.id, "label": label,
                                                              "expires_at": token.expires_at})
    typer.echo(tr("token #{id} {label} of {name}: written to {file}, expires {day}", id=token.id,
                  label=label, name=name, file=out,
                  day=time.strftime("%Y-%m-%d", time.gmtime(token.expires_at))))


@token_app.command("revoke")
def token_revoke(
    name: NameArg,
    label: Annotated[str | None, typer.Option(help="Revoke the tokens with this label.")] = None,
    token_id: Annotated[int | None, typer.Option("--id", help="Revoke the token of this id.")]
    = None,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """Revoke an account's token(s), at once."""
    store, _ = _store(config, db)
    who = acting(store, "users")
    if label is None and token_id is None:
        fail(tr("give --label or --id"), 2)
    try:
        gone = accounts.revoke_token(store.db, account=name, label=label, token_id=token_id,
                                     now=time.time())
    except accounts.AccountError as exc:
        fail(translate(str(exc)))
    for t in gone:
        record(store, who, "token_revoke", f"{name}/{t.label}", after={"id": t.id})
        typer.echo(tr("token #{id} {label} of {name} revoked", id=t.id, label=t.label, name=name))


@token_app.command("list")
def token_list(name: Annotated[str | None, typer.Argument(help="Only this account's.")] = None,
               config: ConfigOpt = None, db: DbOpt = None, as_json: JsonOpt = False) -> None:
    """Tokens: account, label, expiry, last used, revoked."""
    from controller.views import iso

    store, _ = _store(config, db)
    acting(store, "users")
    for t in accounts.list_tokens(store.db, name):
        row = {"id": t.id, "account": t.account, "label": t.label,
               "expires_at": iso(t.expires_at), "last_used": iso(t.last_used),
               "revoked_at": iso(t.revoked_at)}
        typer.echo(json.dumps(row, ensure_ascii=False) if as_json else
                   f"#{t.id} {t.account:<16} {t.label:<20} "
                   + tr("expires {day} last used {last}", day=row["expires_at"],
                        last=row["last_used"] or "-")
                   + (" " + tr("(revoked)") if t.revoked_at else ""))


def audit(
    since: Annotated[str | None, typer.Option(
        help="From this time: 7d (ago), or ISO 8601 such as 2026-11-01.")] = None,
    as_json: JsonOpt = False,
    csv: Annotated[bool, typer.Option("--csv", help="CSV output (for a spreadsheet).")] = False,
    prune: Annotated[bool, typer.Option(
        "--prune", help="Drop rows older than auth.audit_retention first.")] = False,
    config: ConfigOpt = None, db: DbOpt = None,
) -> None:
    """The audit trail: every write, who, when, from where, before and after (admins)."""
    from datetime import UTC, datetime

    from hcc_common.durations import parse_duration

    store, cfg = _store(config, db)
    who = acting(store, "audit")
    start = None
    if since is not None:
        try:
            start = time.time() - parse_duration(since)
        except ValueError:
            try:
                when = datetime.fromisoformat(since)
            except ValueError:
                fail(tr("--since: a duration (7d) or an ISO 8601 time"), 2)
            start = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    if prune:
        n = accounts.prune_audit(store.db, cfg.auth.audit_retention_s, time.time())
        record(store, who, "audit_prune", "audit_log", after={"rows": n})
    rows = accounts.audit_rows(store.db, since=start, limit=1_000_000)
    if csv:
        typer.echo(audit_view.csv_text(rows), nl=False)
        return
    for r in rows:
        j = audit_view.row_json(r)
        typer.echo(json.dumps(j, ensure_ascii=False) if as_json else
                   f"{j['at']} {r.account} ({r.via}, {r.peer}) {r.action} "
                   f"{(r.center + ' ') if r.center else ''}{r.target}")
