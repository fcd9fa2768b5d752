"""Accounts, sign-in sessions, API tokens and the audit trail, in the controller's database
(SQLite or PostgreSQL): passwords as argon2id hashes, session ids and tokens as SHA-256 hashes
(256 random bits: nothing to brute-force), audit rows append-only."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from controller import authz
from controller.auth_config import AuthSettings
from controller.db import Db, PostgresDb
from hcc_common import wire

log = logging.getLogger("hcc.accounts")

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
  name TEXT PRIMARY KEY, role TEXT NOT NULL,
  centers TEXT NOT NULL DEFAULT '[]', center_groups TEXT NOT NULL DEFAULT '[]',
  password_hash TEXT, disabled INTEGER NOT NULL DEFAULT 0,
  failed INTEGER NOT NULL DEFAULT 0, locked_until REAL,
  created_at REAL NOT NULL
);
-- Signed-in browsers: only the hash of the cookie's id is kept.
CREATE TABLE IF NOT EXISTS web_sessions (
  id_hash TEXT PRIMARY KEY, account TEXT NOT NULL, peer TEXT NOT NULL,
  created_at REAL NOT NULL, last_seen REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT, token_hash TEXT NOT NULL UNIQUE,
  account TEXT NOT NULL, label TEXT NOT NULL, created_at REAL NOT NULL,
  expires_at REAL NOT NULL, last_used REAL, revoked_at REAL
);
-- Every write, who did it and from where, with the state before and after. Append-only: the
-- triggers below refuse an UPDATE, and a DELETE of a row younger than the retention.
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at REAL NOT NULL,
  account TEXT NOT NULL, via TEXT NOT NULL, peer TEXT NOT NULL,
  action TEXT NOT NULL, center TEXT, target TEXT NOT NULL,
  before_json TEXT, after_json TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);
CREATE TABLE IF NOT EXISTS audit_policy (id INTEGER PRIMARY KEY, retention_s REAL NOT NULL);
"""

_SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
    "WHEN OLD.at >= (julianday('now') - 2440587.5) * 86400.0 - "
    "COALESCE((SELECT retention_s FROM audit_policy WHERE id = 1), 1e12) "
    "BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
)
_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION hcc_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND OLD.at < EXTRACT(EPOCH FROM clock_timestamp())
       - COALESCE((SELECT retention_s FROM audit_policy WHERE id = 1), 1e12) THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'the audit trail is append-only';
END $$"""
_PG_TRIGGER = ("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION hcc_audit_append_only()")

# argon2id, the library's defaults (RFC 9106's second recommended set: t=3, 64 MiB, p=4)
_HASHER = PasswordHasher()
# a hash to check against when the account does not exist: the same time either way
_DUMMY_HASH = _HASHER.hash(secrets.token_hex(16))
MIN_PASSWORD = 10
TOKEN_PREFIX = "hcc_"
# last_seen / last_used are written at most this often (not one write per request)
TOUCH_EVERY_S = 60.0


class AccountError(ValueError):
    """A request about accounts refused; the message says why."""


@dataclass(frozen=True, kw_only=True)
class Account:
    name: str
    role: str
    centers: tuple[str, ...]
    groups: tuple[str, ...]
    disabled: bool
    has_password: bool
    failed: int
    locked_until: float | None
    created_at: float

    def principal(self, groups: Mapping[str, Iterable[str]], via: str) -> authz.Principal:
        return authz.principal(name=self.name, role=self.role, centers=self.centers,
                               groups=self.groups, group_centers=groups, via=via)


def ensure_schema(db: Db) -> None:
    db.schema(SCHEMA)
    if isinstance(db, PostgresDb):
        db.execute("SELECT pg_advisory_lock(7243002)")
        try:
            db.execute(_PG_FUNCTION)
            # this schema's table (several controllers' schemas may share a server)
            if db.execute("SELECT 1 FROM pg_trigger WHERE tgname = 'audit_log_append_only' "
                          "AND tgrelid = 'audit_log'::regclass").fetchone() is None:
                db.execute(_PG_TRIGGER)
        finally:
            db.execute("SELECT pg_advisory_unlock(7243002)")
    else:
        for sql in _SQLITE_TRIGGERS:
            db.execute(sql)


# -- accounts ---------------------------------------------------------------------------------
_ACCOUNT_COLUMNS = ("name, role, centers, center_groups, password_hash, disabled, failed, "
                    "locked_until, created_at")


def _account(r: Sequence[Any]) -> Account:
    return Account(name=r[0], role=r[1], centers=tuple(json.loads(r[2])),
                   groups=tuple(json.loads(r[3])), has_password=r[4] is not None,
                   disabled=bool(r[5]), failed=int(r[6]), locked_until=r[7], created_at=r[8])


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return _HASHER.hash(password)


def add_account(db: Db, *, name: str, role: str, centers: Sequence[str], groups: Sequence[str],
                password: str | None, now: float,
                known_groups: Mapping[str, Iterable[str]] | None = None) -> Account:
    if not wire.valid_id(name):
        raise AccountError(f"{name!r} is not a valid account name (letters, digits, - _ .)")
    if role not in authz.RANK:
        raise AccountError(f"role must be one of {', '.join(authz.ROLES)}")
    for c in centers:
        if not wire.valid_id(c):
            raise AccountError(f"{c!r} is not a valid center id")
    for g in groups:
        if known_groups is not None and g not in known_groups:
            raise AccountError(f"no group {g!r} in controller.yaml (groups:)")
    if role not in authz.CITY_WIDE and not centers and not groups:
        raise AccountError(f"a {role} needs a scope: --center or --group")
    pw_hash = hash_password(password) if password is not None else None
    if get_account(db, name) is not None:
        raise AccountError(f"account {name!r} exists already")
    db.execute(f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?,?,?,?,?,0,0,NULL,?)",
               (name, role, json.dumps(sorted(set(centers))), json.dumps(sorted(set(groups))),
                pw_hash, now))
    account = get_account(db, name)
    assert account is not None
    return account


def get_account(db: Db, name: str) -> Account | None:
    r = db.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE name = ?", (name,)).fetchone()
    return _account(r) if r is not None else None


def list_accounts(db: Db) -> list[Account]:
    return [_account(r) for r in db.execute(
        f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY name")]


def count_accounts(db: Db) -> int:
    return int(db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0])


def disable_account(db: Db, name: str, now: float) -> Account:
    """Disabled: no sign-in, its sessions ended and its tokens revoked at once."""
    if get_account(db, name) is None:
        raise AccountError(f"no account {name!r}")
    db.execute("UPDATE accounts SET disabled = 1 WHERE name = ?", (name,))
    db.execute("DELETE FROM web_sessions WHERE account = ?", (name,))
    db.execute("UPDATE api_tokens SET revoked_at = ? WHERE account = ? AND revoked_at IS NULL",
               (now, name))
    account = get_account(db, name)
    assert account is not None
    return account


def set_password(db: Db, name: str, password: str) -> None:
    if get_account(db, name) is None:
        raise AccountError(f"no account {name!r}")
    db.execute("UPDATE accounts SET password_hash = ?, failed = 0, locked_until = NULL "
               "WHERE name = ?", (hash_password(password), name))
    # whoever signed in with the old password is signed out
    db.execute("DELETE FROM web_sessions WHERE account = ?", (name,))


def sync_directory_account(db: Db, *, name: str, role: str, centers: Sequence[str],
                           groups: Sequence[str], now: float) -> Account | None:
    """The account of someone the directory (LDAP) just vouched for, with the role and scope
    its groups give now; None when a local account with a password holds the name (the local
    one wins: a directory cannot take over an account it does not own) or it is disabled."""
    found = get_account(db, name)
    if found is None:
        db.execute(f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?,?,?,?,NULL,0,0,NULL,?)",
                   (name, role, json.dumps(sorted(set(centers))), json.dumps(sorted(set(groups))),
                    now))
    elif found.has_password or found.disabled:
        return None
    else:
        db.execute("UPDATE accounts SET role = ?, centers = ?, center_groups = ? WHERE name = ?",
                   (role, json.dumps(sorted(set(centers))), json.dumps(sorted(set(groups))), name))
    return get_account(db, name)


@dataclass(frozen=True)
class SignIn:
    account: Account | None       # set when the password was right
    locked_until: float | None = None


def check_password(db: Db, settings: AuthSettings, name: str, password: str,
                   now: float) -> SignIn:
    """The password checked, with the per-account lockout: `lockout_after` wrong ones in a row
    lock the account for `lockout_s` (a right one during it is refused too)."""
    r = db.execute("SELECT password_hash, disabled, failed, locked_until FROM accounts "
                   "WHERE name = ?", (name,)).fetchone() if wire.valid_id(name) else None
    stored = r[0] if r is not None and r[0] is not None else _DUMMY_HASH
    try:
        good: bool = _HASHER.verify(stored, password[:1024])
    except (VerificationError, InvalidHashError):
        good = False
    if r is None or r[0] is None:
        return SignIn(None)
    if r[3] is not None and r[3] > now:
        return SignIn(None, locked_until=float(r[3]))
    if not good or r[1]:
        if not good:
            failed = int(r[2]) + 1
            locked = now + settings.lockout_s if failed >= settings.lockout_after else None
            db.execute("UPDATE accounts SET failed = ?, locked_until = ? WHERE name = ?",
                       (0 if locked else failed, locked, name))
            if locked:
                log.warning("account locked after wrong passwords", extra={"account": name})
                return SignIn(None, locked_until=locked)
        return SignIn(None)
    if int(r[2]) or r[3] is not None:
        db.execute("UPDATE accounts SET failed = 0, locked_until = NULL WHERE name = ?", (name,))
    return SignIn(get_account(db, name))


# -- sessions ---------------------------------------------------------------------------------
def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The CSRF token of a session: derived from its id (which only the cookie holds), so any
    request can be checked without a lookup, and a page from another site can know neither."""
    return hashlib.sha256(b"hcc-csrf:" + session_id.encode()).hexdigest()


def new_session(db: Db, account: str, peer: str, now: float) -> str:
    session_id = secrets.token_urlsafe(32)
    db.execute("INSERT INTO web_sessions (id_hash, account, peer, created_at, last_seen) "
               "VALUES (?,?,?,?,?)", (_digest(session_id), account, peer[:64], now, now))
    return session_id


def session_account(db: Db, settings: AuthSettings, session_id: str, now: float) -> Account | None:
    """The account of a live session (idle and absolute expiry), its last_seen moved on."""
    h = _digest(session_id)
    r = db.execute("SELECT account, created_at, last_seen FROM web_sessions WHERE id_hash = ?",
                   (h,)).fetchone()
    if r is None:
        return None
    if now - r[1] > settings.session_max_s or now - r[2] > settings.session_idle_s:
        db.execute("DELETE FROM web_sessions WHERE id_hash = ?", (h,))
        return None
    account = get_account(db, r[0])
    if account is None or account.disabled:
        return None
    if now - r[2] >= TOUCH_EVERY_S:
        db.execute("UPDATE web_sessions SET last_seen = ? WHERE id_hash = ?", (now, h))
    return account


def end_session(db: Db, session_id: str) -> None:
    db.execute("DELETE FROM web_sessions WHERE id_hash = ?", (_digest(session_id),))


def prune_sessions(db: Db, settings: AuthSettings, now: float) -> None:
    db.execute("DELETE FROM web_sessions WHERE created_at < ? OR last_seen < ?",
               (now - settings.session_max_s, now - settings.session_idle_s))


# -- API tokens -------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ApiToken:
    id: int
    account: str
    label: str
    created_at: float
    expires_at: float
    last_used: float | None
    revoked_at: float | None


_TOKEN_COLUMNS = "id, account, label, created_at, expires_at, last_used, revoked_at"


def _token(r: Sequence[Any]) -> ApiToken:
    return ApiToken(id=int(r[0]), account=r[1], label=r[2], created_at=r[3], expires_at=r[4],
                    last_used=r[5], revoked_at=r[6])


def add_token(db: Db, *, account: str, label: str, valid_s: float, now: float) -> tuple[str, ApiToken]:
    """A new token for `account`: the secret (shown once) and its row."""
    found = get_account(db, account)
    if found is None or found.disabled:
        raise AccountError(f"no enabled account {account!r}")
    if not label.strip() or len(label) > 100:
        raise AccountError("a token needs a label (at most 100 characters)")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.execute("INSERT INTO api_tokens (token_hash, account, label, created_at, expires_at) "
               "VALUES (?,?,?,?,?)", (_digest(secret), account, label.strip(), now, now + valid_s))
    r = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?",
                   (_digest(secret),)).fetchone()
    return secret, _token(r)


def token_account(db: Db, secret: str, now: float) -> Account | None:
    if not secret.startswith(TOKEN_PREFIX):
        return None
    r = db.execute("SELECT id, account, expires_at, last_used, revoked_at FROM api_tokens "
                   "WHERE token_hash = ?", (_digest(secret),)).fetchone()
    if r is None or r[4] is not None or r[2] <= now:
        return None
    account = get_account(db, r[1])
    if account is None or account.disabled:
        return None
    if r[3] is None or now - r[3] >= TOUCH_EVERY_S:
        db.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", (now, r[0]))
    return account


def list_tokens(db: Db, account: str | None = None) -> list[ApiToken]:
    if account is None:
        rows = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens ORDER BY id")
    else:
        rows = db.execute(f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE account = ? "
                          "ORDER BY id", (account,))
    return [_token(r) for r in rows]


def revoke_token(db: Db, *, account: str, label: str | None, token_id: int | None,
                 now: float) -> list[ApiToken]:
    """Revoke the account's tokens with this label (or this id); those revoked."""
    hits = [t for t in list_tokens(db, account) if t.revoked_at is None
            and (label is None or t.label == label) and (token_id is None or t.id == token_id)]
    if not hits:
        raise AccountError(f"no live token of {account!r} matches")
    for t in hits:
        db.execute("UPDATE api_tokens SET revoked_at = ? WHERE id = ?", (now, t.id))
    return hits


# -- the audit trail --------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class AuditRow:
    id: int
    at: float
    account: str
    via: str
    peer: str
    action: str
    center: str | None
    target: str
    before: Any
    after: Any


def audit(db: Db, *, who: authz.Principal | str, peer: str, action: str, target: str,
          center: str | None = None, before: Any = None, after: Any = None, now: float,
          via: str = "system") -> None:
    """One row of the audit trail. `who` a string: someone acting without an account's rights
    (the controller itself, "system"; root on the central host, "host")."""
    name, via = (who.name, who.via) if isinstance(who, authz.Principal) else (who, via)
    db.execute("INSERT INTO audit_log (at, account, via, peer, action, center, target, "
               "before_json, after_json) VALUES (?,?,?,?,?,?,?,?,?)",
               (now, name, via, peer[:64], action, center, target[:200],
                None if before is None else json.dumps(before, ensure_ascii=False, default=str),
                None if after is None else json.dumps(after, ensure_ascii=False, default=str)))


def audit_rows(db: Db, *, since: float | None = None, limit: int = 10_000) -> list[AuditRow]:
    sql = ("SELECT id, at, account, via, peer, action, center, target, before_json, after_json "
           "FROM audit_log")
    args: list[object] = []
    if since is not None:
        sql += " WHERE at >= ?"
        args.append(since)
    sql += " ORDER BY id LIMIT ?"
    args.append(limit)
    return [AuditRow(id=int(r[0]), at=r[1], account=r[2], via=r[3], peer=r[4], action=r[5],
                     center=r[6], target=r[7],
                     before=json.loads(r[8]) if r[8] is not None else None,
                     after=json.loads(r[9]) if r[9] is not None else None) for r in rows_of(db, sql, args)]


def rows_of(db: Db, sql: str, args: Sequence[object]) -> list[Any]:
    return list(db.execute(sql, args))


def prune_audit(db: Db, retention_s: float, now: float) -> int:
    """Drop rows past the retention: the only delete the triggers let through."""
    db.execute("INSERT INTO audit_policy (id, retention_s) VALUES (1, ?) "
               "ON CONFLICT (id) DO UPDATE SET retention_s = excluded.retention_s", (retention_s,))
    before = int(db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
    db.execute("DELETE FROM audit_log WHERE at < ?", (now - retention_s,))
    return before - int(db.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
