"""Who is asking, over HTTP: the session cookie or a bearer token turned into a Principal, the
CSRF and Origin check on every write, sign-in and sign-out routes, and the 401/403/404 that
controller.authz decides (the rule itself lives there, not here)."""


import asyncio
import contextlib
import hmac
import logging
import threading
import time
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from controller import accounts, authz
from controller.auth_config import AuthSettings
from controller.authz import Decision, Principal
from controller.db import Db

log = logging.getLogger("hcc.auth")

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "x-csrf-token"
SIGN_IN_PATH = "/api/v1/session"
# argon2id checks at once (64 MiB each); more sign-ins wait their turn in the thread pool
PASSWORD_CHECKS = threading.BoundedSemaphore(4)
ANONYMOUS = Principal(name="anonymous", role="viewer", centers=None, via="anonymous")


def cookie_name(secure: bool) -> str:
    # __Host-: the browser keeps it only if Secure, for this host and path / (no subdomain may
    # set or shadow it); over plain HTTP the prefix is not allowed
    return "__Host-hcc_session" if secure else "hcc_session"


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", []):
        if k == name:
            return str(v.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if raw is None:
        return None
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return None


def origin_matches(origin: str, host: str | None) -> bool:
    """An Origin header names this very server (scheme://host[:port] against the Host)."""
    if host is None:
        return False
    _, sep, rest = origin.partition("://")
    return bool(sep) and rest.rstrip("/").lower() == host.lower()


# Paths of forms that act as nobody and guard themselves with a single-use form token
# (controller/citizen_web.py: /r/<token>; controller/checklist.py: /staff/<token>).
ANONYMOUS_FORM_PREFIXES = ("/r/", "/staff/")


class CsrfGuard:
    """Every write (any method but GET/HEAD/OPTIONS) of any route, a future one too: a foreign
    Origin is refused; a request carrying the session cookie must carry its CSRF token in
    X-CSRF-Token. Bearer-token clients send no cookie and need none (nothing ambient)."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.cookie = cookie_name(secure)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            origin = _header(scope, b"origin")
            reason = None
            if origin is not None and not origin_matches(origin, _header(scope, b"host")):
                reason = "a write from another site's page is refused (Origin)"
            else:
                session_id = _cookie(scope, self.cookie)
                token = _header(scope, CSRF_HEADER.encode())
                # signing in (again) is the one write a stale cookie may not block: the
                # Origin check above and SameSite=Strict guard it
                signing_in = scope["method"] == "POST" and scope["path"] == SIGN_IN_PATH
                # the citizens' and staff's plain HTML forms act as nobody (a session gives
                # them no power) and carry their own single-use form token: a desk member
                # signed in on the same phone must still be able to report
                anonymous_form = str(scope["path"]).startswith(ANONYMOUS_FORM_PREFIXES)
                if session_id and not signing_in and not anonymous_form and (
                        token is None or not hmac.compare_digest(
                        token, accounts.csrf_token(session_id))):
                    reason = "the CSRF token is missing or wrong: reload the page"
            if reason is not None:
                response = Response(f'{{"detail": "{reason}"}}', status_code=403,
                                    media_type="application/json")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Problem(BaseModel):
    detail: str


class SignInBody(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


def peer_of(request: Request) -> str:
    return request.client.host if request.client is not None else "?"


class Guard:
    """The HTTP side of authentication for one app: resolves principals and turns authz
    decisions into HTTP errors."""

    def __init__(self, *, settings: AuthSettings, db: Callable[[], Db],
                 legacy_tokens: Mapping[str, str], read_open: bool, secure: bool) -> None:
        self.settings, self.db, self.read_open, self.secure = settings, db, read_open, secure
        self.legacy_tokens = dict(legacy_tokens)
        self.cookie = cookie_name(secure)
        self.bad_sign_ins: dict[str, list[float]] = {}
        self._warned: set[str] = set()
        try:
            if accounts.count_accounts(db()) == 0:
                log.warning("no accounts yet: nobody can sign in; make the first admin on "
                            "this host (docs/operations.md): `sudo -u hcc-controller "
                            "hcc-controller user add \"$USER\" --role admin`")
        except Exception:  # noqa: BLE001 - a database not there yet: said again at sign-in
            pass
        if self.legacy_tokens:
            log.warning("http.tokens is deprecated: each token acts as an admin of every center; "
                        "make accounts and their tokens (hcc-controller user add, token add) "
                        "and remove http.tokens", extra={"holders": sorted(
                            set(self.legacy_tokens.values()))})

    # -- who is asking ----------------------------------------------------------------------
    def principal(self, request: Request) -> Principal | None:
        now = time.time()
        auth = request.headers.get("authorization")
        if auth is not None and auth.lower().startswith("bearer "):
            secret = auth[7:].strip()
            holder = self.legacy_tokens.get(secret)
            if holder is not None:
                if holder not in self._warned:
                    self._warned.add(holder)
                    log.warning("a deprecated http.tokens token was used: it acts as admin",
                                extra={"holder": holder})
                return Principal(name=holder, role="admin", centers=None, via="legacy-token")
            account = accounts.token_account(self.db(), secret, now)
            return account.principal(self.settings.groups, "token") if account else None
        session_id = request.cookies.get(self.cookie)
        if session_id:
            account = accounts.session_account(self.db(), self.settings, session_id, now)
            if account is not None:
                return account.principal(self.settings.groups, "session")
        return None

    def reader(self, request: Request) -> Principal:
        who = self.principal(request)
        if who is not None:
            return who
        if self.read_open:
            return ANONYMOUS
        raise HTTPException(401, "sign in, or give a bearer token, to read",
                            headers={"WWW-Authenticate": "Bearer"})

    def signed_in(self, request: Request) -> Principal:
        """Someone known (never the anonymous reader): writes, PDFs, the speed test."""
        who = self.principal(request)
        if who is None:
            raise HTTPException(401, "sign in, or give a valid bearer token",
                                headers={"WWW-Authenticate": "Bearer"})
        return who

    @staticmethod
    def check(who: Principal, action: str, center: str | None = None, what: str = "") -> None:
        """authz.decide as HTTP: 404 out of scope (the same words as a missing thing), 403 not
        allowed to."""
        decision = authz.decide(who, action, center)
        if decision is Decision.NOT_FOUND:
            raise HTTPException(404, what or f"no center {center!r}")
        if decision is Decision.FORBIDDEN:
            raise HTTPException(403, f"a {who.role} may not {authz.WORDS.get(action, action)}")

    def audit(self, request: Request, who: Principal, action: str, target: str,
              center: str | None = None, before: Any = None, after: Any = None) -> None:
        accounts.audit(self.db(), who=who, peer=peer_of(request), action=action, target=target,
                       center=center, before=before, after=after, now=time.time())


def install(app: FastAPI, guard: Guard) -> None:
    """The sign-in and sign-out routes."""
    web = resources.files("controller") / "web"
    SignedIn = Annotated[Principal, Depends(guard.signed_in)]

    def me(who: Principal, session_id: str | None) -> dict[str, Any]:
        return {"name": who.name, "role": who.role, "via": who.via,
                "centers": None if who.centers is None else sorted(who.centers),
                "csrf": accounts.csrf_token(session_id) if session_id else None,
                "can": {a: authz.allowed(who, a) for a in ("ack", "resolve", "silence",
                                                           "users", "audit")}}

    @app.get("/signin", response_class=HTMLResponse, include_in_schema=False)
    def signin_page() -> HTMLResponse:
        return HTMLResponse((web / "signin.html").read_text(encoding="utf-8"),
                            headers={"Cache-Control": "no-store"})

    @app.post(SIGN_IN_PATH, summary="Sign in with a name and password: sets the session "
              "cookie; the answer holds the CSRF token to send with each write",
              responses={401: {"model": Problem, "description": "Wrong name or password, or "
                               "the account is locked for a while."},
                         403: {"model": Problem, "description": "From another site's page."},
                         429: {"model": Problem, "description": "Too many wrong sign-ins from "
                               "this address: Retry-After says when."}})
    def sign_in(body: SignInBody, request: Request, response: Response) -> dict[str, Any]:
        peer, now = peer_of(request), time.time()
        recent = [t for t in guard.bad_sign_ins.get(peer, []) if now - t < 60.0]
        if len(recent) >= guard.settings.peer_attempts_per_min:
            raise HTTPException(429, "too many wrong sign-ins from this address: wait a minute",
                                headers={"Retry-After": "60"})
        db = guard.db()
        with PASSWORD_CHECKS:  # each argon2id check holds 64 MiB: a flood cannot add up
            result = accounts.check_password(db, guard.settings, body.name, body.password, now)
        if result.account is None and result.locked_until is None and guard.settings.ldap:
            result = directory_sign_in(guard.settings, db, body.name, body.password, now)
        if result.account is None:
            guard.bad_sign_ins[peer] = [*recent, now][-50:]
            if len(guard.bad_sign_ins) > 10_000:  # bounded: a sweep of addresses cannot grow it
                guard.bad_sign_ins.pop(next(iter(guard.bad_sign_ins)))
            accounts.audit(db, who=body.name if accounts.get_account(db, body.name) else "?",
                           peer=peer, action="sign_in_failed", target=body.name[:64],
                           after={"locked_until": result.locked_until}, now=now)
            # the same answer for a wrong name, a wrong password and a locked account
            raise HTTPException(401, "wrong name or password, or the account is locked for a "
                                     "while")
        stale = request.cookies.get(guard.cookie)
        if stale:  # a new id at each sign-in: one planted before (fixation) is worth nothing
            accounts.end_session(db, stale)
        session_id = accounts.new_session(db, result.account.name, peer, now)
        who = result.account.principal(guard.settings.groups, "session")
        accounts.audit(db, who=who, peer=peer, action="sign_in", target=who.name, now=now)
        response.set_cookie(guard.cookie, session_id, max_age=int(guard.settings.session_max_s),
                            path="/", secure=guard.secure, httponly=True, samesite="strict")
        response.headers["Cache-Control"] = "no-store"
        return me(who, session_id)

    @app.get("/api/v1/session", summary="Who is signed in (401 if nobody)",
             responses={401: {"model": Problem, "description": "Nobody signed in."}})
    def whoami(request: Request, who: SignedIn, response: Response) -> dict[str, Any]:
        response.headers["Cache-Control"] = "no-store"
        return me(who, request.cookies.get(guard.cookie) if who.via == "session" else None)

    @app.delete("/api/v1/session", summary="Sign out: the session ends on the server too",
                responses={403: {"model": Problem, "description": "Without the session's CSRF "
                                 "token, or from another site's page."}})
    def sign_out(request: Request, response: Response) -> dict[str, str]:
        session_id = request.cookies.get(guard.cookie)
        if session_id:
            who = guard.principal(request)
            accounts.end_session(guard.db(), session_id)
            if who is not None:
                guard.audit(request, who, "sign_out", who.name)
        response.delete_cookie(guard.cookie, path="/", secure=guard.secure, httponly=True,
                               samesite="strict")
        return {"signed_out": "ok"}


def directory_sign_in(settings: AuthSettings, db: Db, name: str, password: str,
                      now: float) -> accounts.SignIn:
    """Sign-in through LDAP for a name no local password holds: the directory's groups give
    the role and scope, kept in the account row the session points to."""
    from controller import ldap_auth
    from hcc_common import wire

    assert settings.ldap is not None
    if not wire.valid_id(name):
        return accounts.SignIn(None)
    local = accounts.get_account(db, name)
    if local is not None and (local.has_password or local.disabled):
        return accounts.SignIn(None)
    try:
        found = ldap_auth.authenticate(settings.ldap, name, password)
    except ldap_auth.LdapError as exc:
        raise HTTPException(503, str(exc)) from None
    if found is None:
        return accounts.SignIn(None)
    return accounts.SignIn(accounts.sync_directory_account(
        db, name=name, role=found.role, centers=found.centers, groups=found.groups, now=now))


def page_or_signin(guard: Guard, request: Request) -> Principal | RedirectResponse:
    """A page's reader, or the way to the sign-in page for a browser that is not signed in."""
    who = guard.principal(request)
    if who is not None:
        return who
    if guard.read_open:
        return ANONYMOUS
    return RedirectResponse("/signin", status_code=303)


async def accounts_upkeep(stop: asyncio.Event, settings: AuthSettings, stores: Any,
                          every_s: float = 3600.0) -> None:
    """Hourly: sessions past their expiry deleted, audit rows past the retention pruned."""
    while not stop.is_set():
        def run() -> int:
            db = stores.get().db
            accounts.prune_sessions(db, settings, time.time())
            return accounts.prune_audit(db, settings.audit_retention_s, time.time())
        try:
            pruned = await asyncio.to_thread(run)
            if pruned:
                log.info("audit rows past their retention pruned", extra={"rows": pruned})
        except Exception as exc:  # noqa: BLE001 - a database hiccup: try again next hour
            log.warning("accounts upkeep failed", extra={"error": str(exc)[:300]})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
