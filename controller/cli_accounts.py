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


# authz.WORDS in Vietnamese, for the CLI's refusals
WORDS_VI = {
    "read": "xem mục này", "ack": "nhận cảnh báo", "resolve": "đóng cảnh báo",
    "note": "thêm ghi chú", "silence": "tạm tắt cảnh báo", "escalate": "báo lên cấp trên",
    "metrics": "xem số liệu của cả thành phố", "users": "quản lý tài khoản và token",
    "audit": "xem nhật ký thao tác", "config_push": "gửi cấu hình xuống máy giám sát",
    "enroll": "đăng ký máy giám sát", "release": "phát hành phần mềm",
    "rollouts": "xem tiến độ cập nhật của cả thành phố",
    "staff_link": "lấy đường dẫn dành cho nhân viên của trung tâm",
    "rotate_codes": "đổi mã QR của trung tâm",
}


def _say(vi: str, en: str) -> str:
    from hcc_common.cliutil import start_lang

    return vi if start_lang() == "vi" else en


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
        return _say(f"tài khoản {name!r} (lấy từ {source}) đã bị khóa; nhờ quản trị viên mở "
                    "lại hoặc dùng --as TÊN với tài khoản của bạn",
                    f"the account {name!r} (from {source}) is disabled: ask an admin, or use "
                    "--as NAME with your own account")
    if accounts.count_accounts(store.db) == 0:
        first = again("user", "add", name, "--role", "admin")
        return _say("chưa có tài khoản nào: hcc-controller luôn thao tác dưới tên một tài "
                    f"khoản. Tạo quản trị viên đầu tiên (chính bạn, {name}) bằng lệnh:\n  {first}",
                    "no account yet: hcc-controller always acts as an account. Make the first "
                    f"admin (you, {name}) with:\n  {first}")
    add = again("user", "add", name, "--role", "ROLE")
    return _say(f"không có tài khoản nào tên {name!r} (lấy từ {source}) để thao tác: dùng --as "
                f"TÊN với tài khoản của bạn, hoặc nhờ quản trị viên tạo:\n  {add}",
                f"no enabled account {name!r} (from {source}) for the CLI: use --as NAME with "
                f"your own account, or ask an admin to make it:\n  {add}")


def acting(store: Store, action: str, center: str | None = None,
           missing: str | None = None) -> Principal:
    """The account the CLI acts as, allowed to do `action` (on `center`); exits otherwise
    (out of scope with `missing`, the words for a thing that does not exist)."""
    name = account_name()
    found = accounts.get_account(store.db, name)
    if found is None or found.disabled:
        typer.echo(_say("lỗi: ", "error: ") + refusal(store, name, found), err=True)
        raise typer.Exit(1)
    who = found.principal(_groups(), "cli")
    decision = authz.decide(who, action, center)
    if decision is Decision.NOT_FOUND:
        typer.echo(f"error: {missing or f'no center {center!r}'}", err=True)
        raise typer.Exit(1)
    if decision is Decision.FORBIDDEN:
        typer.echo(_say(f"lỗi: {name} là {who.role}: vai trò {who.role} không được "
                        f"{WORDS_VI.get(action, action)}",
                        f"error: {name} is a {who.role}: a {who.role} may not "
                        f"{authz.WORDS.get(action, action)}"), err=True)
        raise typer.Exit(1)
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
        typer.echo(_say(f"chú ý: không ghi được nhật ký thao tác ({exc})",
                        f"note: not written to the audit trail ({exc})"), err=True)
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
            typer.echo(f"error: --password-file: {password_file}: {exc.strerror}", err=True)
            raise typer.Exit(1) from None
        return lines[0] if lines else ""
    if sys.stdin.isatty():
        first = getpass.getpass("Mật khẩu / password: ")
        if getpass.getpass("Nhập lại / again: ") != first:
            typer.echo("error: the two passwords differ", err=True)
            raise typer.Exit(1)
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
        typer.echo(_say("lỗi: tài khoản đầu tiên phải là quản trị viên: "
                        + again("user", "add", name, "--role", "admin"),
                        "error: the first account must be an admin: "
                        + again("user", "add", name, "--role", "admin")), err=True)
        raise typer.Exit(2)
    who: Principal | str = f"bootstrap:{os_user()}" if first else acting(store, "users")
    try:
        made = accounts.add_account(store.db, name=name, role=role, centers=center or [],
                                    groups=group or [], password=_read_password(password_file),
                                    now=time.time(), known_groups=cfg.auth.groups)
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    record(store, who, "user_add", name, after=_account_json(made))
    scope = "mọi trung tâm" if made.role in authz.CITY_WIDE else \
        ", ".join([*made.centers, *(f"nhóm {g}" for g in made.groups)])
    typer.echo(f"đã tạo tài khoản {made.name}: {made.role}, {scope}")


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
        typer.echo(f"{a.name:<20} {a.role:<10} {scope}" + ("  (đã khóa)" if a.disabled else ""))


@user_app.command("disable")
def user_disable(name: NameArg, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Disable an account: no sign-in; its sessions end and its tokens stop at once."""
    store, _ = _store(config, db)
    who = acting(store, "users")
    before = accounts.get_account(store.db, name)
    try:
        after = accounts.disable_account(store.db, name, time.time())
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    record(store, who, "user_disable", name, before=before and _account_json(before),
           after=_account_json(after))
    typer.echo(f"đã khóa tài khoản {name}")


@user_app.command("password")
def user_password(name: NameArg, password_file: Annotated[Path | None, typer.Option(
        "--password-file", help="A file whose first line is the password (default: asked).")]
        = None, config: ConfigOpt = None, db: DbOpt = None) -> None:
    """Set an account's password (and lift its lockout)."""
    store, _ = _store(config, db)
    who = acting(store, "users")
    password = _read_password(password_file)
    if password is None:
        typer.echo("error: give --password-file", err=True)
        raise typer.Exit(2)
    try:
        accounts.set_password(store.db, name, password)
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    record(store, who, "user_password", name)
    typer.echo(f"đã đặt mật khẩu cho {name}")


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
        typer.echo(f"error: --valid: {exc}", err=True)
        raise typer.Exit(2) from None
    if not 60 <= seconds <= cfg.auth.token_max_s:
        typer.echo(f"error: --valid: between 1m and {int(cfg.auth.token_max_s // 86400)}d",
                   err=True)
        raise typer.Exit(2)
    try:
        secret, token = accounts.add_token(store.db, account=name, label=label, valid_s=seconds,
                                           now=time.time())
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    os.chmod(out, 0o600)
    record(store, who, "token_add", f"{name}/{label}", after={"id": token.id, "label": label,
                                                              "expires_at": token.expires_at})
    typer.echo(f"token #{token.id} {label} của {name}: đã ghi vào {out}, hết hạn "
               f"{time.strftime('%Y-%m-%d', time.gmtime(token.expires_at))}")


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
        typer.echo("error: give --label or --id", err=True)
        raise typer.Exit(2)
    try:
        gone = accounts.revoke_token(store.db, account=name, label=label, token_id=token_id,
                                     now=time.time())
    except accounts.AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    for t in gone:
        record(store, who, "token_revoke", f"{name}/{t.label}", after={"id": t.id})
        typer.echo(f"đã thu hồi token #{t.id} {t.label} của {name}")


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
                   f"#{t.id} {t.account:<16} {t.label:<20} hết hạn {row['expires_at']} "
                   f"dùng lần cuối {row['last_used'] or '-'}"
                   + (" (đã thu hồi)" if t.revoked_at else ""))


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
                typer.echo("error: --since: a duration (7d) or an ISO 8601 time", err=True)
                raise typer.Exit(2) from None
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
