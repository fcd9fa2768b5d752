"""Local fakes of the outside services the controller notifies through, each written from the
provider's documented contract: the Telegram Bot API, the Zalo Official Account API (message v3
and OAuth v4 token refresh), and a Vietnamese brand-name SMS gateway. Each checks what the
client sends (method, path, headers, body shape, limits) and records every deviation in
`problems`, and answers with the provider's own success and error replies."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

Reply = tuple[int, Any]


class _Fake:
    """A threaded HTTP server that hands each request to `handle(method, path, headers, body)`."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self, method: str) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length) if length else b""
                status, reply = outer.handle(method, self.path, dict(self.headers), body)
                data = json.dumps(reply, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self._any("POST")

            def do_GET(self) -> None:
                self._any("GET")

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    def problem(self, text: str) -> None:
        with self.lock:
            self.problems.append(text)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _json(body: bytes, headers: dict[str, str]) -> Any:
    ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    if "application/json" not in ctype:
        raise ValueError(f"Content-Type is {ctype!r}, not application/json")
    return json.loads(body)


class FakeTelegram(_Fake):
    """The Bot API (core.telegram.org/bots/api): POST /bot<token>/<method> with a JSON body;
    replies {"ok": true, "result": …} or {"ok": false, "error_code": …, "description": …}
    (429 with parameters.retry_after). getUpdates long-polls up to `timeout` seconds; `press`
    queues a callback_query as a user's button press would."""

    def __init__(self, token: str, chats: dict[int, str] | None = None) -> None:
        self.token = token
        self.chats = chats or {}  # chat id -> first name (private chats: chat id = user id)
        self.sent: list[dict[str, Any]] = []
        self.answers: list[dict[str, Any]] = []
        self.updates: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_update = 1000
        self.rate_limited = 0  # the next N sendMessage calls get 429
        self.open_callbacks: dict[str, int] = {}
        self.polls = 0
        super().__init__()

    def press(self, user_id: int, data: str, message_id: int = 1) -> str:
        """A user pressing an inline button: a callback_query update for getUpdates."""
        with self.lock:
            self.next_update += 1
            cq_id = f"cq{self.next_update}"
            self.open_callbacks[cq_id] = user_id
            update = {"update_id": self.next_update, "callback_query": {
                "id": cq_id, "from": {"id": user_id, "is_bot": False,
                                      "first_name": self.chats.get(user_id, "x")},
                "message": {"message_id": message_id, "date": int(time.time()),
                            "chat": {"id": user_id, "type": "private"}},
                "chat_instance": "1", "data": data}}
        self.updates.put(update)
        return cq_id

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        prefix = f"/bot{self.token}/"
        if not path.startswith("/bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        if not path.startswith(prefix):
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        name = path[len(prefix):]
        try:
            args = _json(body, headers) if body else {}
        except ValueError as exc:
            self.problem(f"{name}: {exc}")
            return 400, {"ok": False, "error_code": 400, "description": "Bad Request"}
        return getattr(self, f"api_{name}", self.api_unknown)(args)

    def api_unknown(self, args: dict[str, Any]) -> Reply:
        return 404, {"ok": False, "error_code": 404, "description": "Not Found"}

    def api_sendMessage(self, args: dict[str, Any]) -> Reply:
        text = args.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 4096:
            self.problem(f"sendMessage: text must be 1-4096 characters, got {text!r:.80}")
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message text is empty"}
        markup = args.get("reply_markup")
        if markup is not None:
            rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                self.problem("sendMessage: reply_markup.inline_keyboard must be rows of buttons")
            for button in (b for r in rows or [] for b in r):
                data = button.get("callback_data", "")
                if not button.get("text") or not 1 <= len(data.encode()) <= 64:
                    self.problem(f"sendMessage: a button needs text and 1-64 bytes of "
                                 f"callback_data: {button}")
        with self.lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return 429, {"ok": False, "error_code": 429,
                             "description": "Too Many Requests: retry after 1",
                             "parameters": {"retry_after": 1}}
        try:
            chat = int(args.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat = 0
        if chat not in self.chats:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: chat not found"}
        with self.lock:
            self.sent.append(args)
            mid = len(self.sent)
        return 200, {"ok": True, "result": {"message_id": mid, "date": int(time.time()),
                                            "chat": {"id": chat, "type": "private"},
                                            "text": text}}

    def api_getUpdates(self, args: dict[str, Any]) -> Reply:
        timeout = args.get("timeout", 0)
        if not isinstance(timeout, int) or timeout < 0:
            self.problem(f"getUpdates: timeout must be a whole number of seconds: {timeout!r}")
        allowed = args.get("allowed_updates")
        if allowed is not None and "callback_query" not in allowed:
            self.problem("getUpdates: allowed_updates leaves out callback_query")
        with self.lock:
            self.polls += 1
        out = []
        with contextlib.suppress(queue.Empty):
            out.append(self.updates.get(timeout=min(float(timeout or 0), 2.0)))
        offset = args.get("offset")
        return 200, {"ok": True, "result": [u for u in out
                                            if offset is None or u["update_id"] >= offset]}

    def api_answerCallbackQuery(self, args: dict[str, Any]) -> Reply:
        cq = args.get("callback_query_id")
        with self.lock:
            if cq not in self.open_callbacks:
                self.problem(f"answerCallbackQuery: unknown callback_query_id {cq!r}")
                return 400, {"ok": False, "error_code": 400,
                             "description": "Bad Request: query is too old or query ID is "
                                            "invalid"}
            del self.open_callbacks[cq]
            self.answers.append(args)
        if len(str(args.get("text", ""))) > 200:
            self.problem("answerCallbackQuery: text longer than 200 characters")
        return 200, {"ok": True, "result": True}


class FakeZalo(_Fake):
    """Zalo OA API v3 (developers.zalo.me): POST /v3.0/oa/message/cs with the token in the
    `access_token` header and {"recipient": {"user_id"}, "message": {"text"}}; HTTP 200 always,
    {"error": 0, "message": "Success", "data": {…}} or a negative error code (-216 invalid
    token, -220 expired, -32 rate limit, -213 not a follower). Token refresh: POST
    /v4/oa/access_token, form-encoded, `secret_key` header; refresh tokens are single-use."""

    def __init__(self, app_id: str, app_secret: str, refresh_token: str,
                 followers: set[str]) -> None:
        self.app_id, self.app_secret = app_id, app_secret
        self.refresh_tokens = {refresh_token}
        self.access_tokens: set[str] = set()
        self.followers = followers
        self.sent: list[dict[str, Any]] = []
        self.refreshes = 0
        self.rate_limited = 0
        self.counter = 0
        # a test sets a barrier: each refresh waits until that many are in flight (two
        # controllers refreshing at once, deterministically)
        self.refresh_gate: threading.Barrier | None = None
        super().__init__()

    def expire_tokens(self) -> None:
        with self.lock:
            self.access_tokens.clear()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        lower = {k.lower(): v for k, v in headers.items()}
        if path == "/v4/oa/access_token" and method == "POST":
            return self._refresh(lower, body)
        if path == "/v3.0/oa/message/cs" and method == "POST":
            return self._send(lower, body)
        return 404, {"error": 404, "message": "Not found"}

    def _refresh(self, headers: dict[str, str], body: bytes) -> Reply:
        if "application/x-www-form-urlencoded" not in headers.get("content-type", ""):
            self.problem("token refresh: the body must be form-encoded")
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if headers.get("secret_key") != self.app_secret:
            self.problem("token refresh: wrong or missing secret_key header")
            return 200, {"error": -14002, "error_name": "Invalid secret_key",
                         "error_description": "secret_key is invalid"}
        if form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
            self.problem(f"token refresh: app_id and grant_type=refresh_token needed: {form}")
            return 200, {"error": -14003, "error_name": "Invalid parameter",
                         "error_description": "app_id or grant_type is invalid"}
        if self.refresh_gate is not None:
            with contextlib.suppress(threading.BrokenBarrierError):
                self.refresh_gate.wait(10)
        with self.lock:
            token = form.get("refresh_token", "")
            if token not in self.refresh_tokens:
                return 200, {"error": -14014, "error_name": "Invalid refresh token",
                             "error_description": "Refresh token is invalid or used"}
            self.refresh_tokens.discard(token)  # single-use
            self.counter += 1
            self.refreshes += 1
            access, refresh = f"AT{self.counter}", f"RT{self.counter}"
            self.access_tokens.add(access)
            self.refresh_tokens.add(refresh)
        return 200, {"access_token": access, "refresh_token": refresh, "expires_in": "90000"}

    def _send(self, headers: dict[str, str], body: bytes) -> Reply:
        try:
            args = _json(body, headers)
        except ValueError as exc:
            self.problem(f"message/cs: {exc}")
            return 200, {"error": -201, "message": "body is invalid!"}
        token = headers.get("access_token")
        if token is None:
            self.problem("message/cs: no access_token header")
        with self.lock:
            if token not in self.access_tokens:
                return 200, {"error": -216, "message": "Access token is invalid"}
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return 200, {"error": -32, "message": "Your application reached limit call api"}
        user = (args.get("recipient") or {}).get("user_id")
        text = (args.get("message") or {}).get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 2000:
            self.problem(f"message/cs: message.text must be 1-2000 characters: {text!r:.60}")
            return 200, {"error": -201, "message": "message.text is invalid!"}
        if user not in self.followers:
            return 200, {"error": -213, "message": "User has not followed OA"}
        with self.lock:
            self.sent.append(args)
            mid = f"m{len(self.sent)}"
        return 200, {"error": 0, "message": "Success",
                     "data": {"message_id": mid, "user_id": user}}


class FakeSmsGateway(_Fake):
    """A brand-name SMS gateway's JSON API as Vietnamese providers document it (eSMS-like):
    POST a JSON body with the API key, phone, content, brand name and SMS type; the reply's
    CodeResult is "100" when accepted, an error code otherwise (e.g. "101" bad key, "104"
    brand name not registered, "99" unknown). Checks that content fits one SMS."""

    def __init__(self, api_key: str, brand: str) -> None:
        self.api_key, self.brand = api_key, brand
        self.sent: list[dict[str, Any]] = []
        self.fail_with: str | None = None
        self.http_errors = 0
        super().__init__()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if method != "POST" or urlparse(path).path != "/api/send":
            return 404, {"CodeResult": "404", "ErrorMessage": "not found"}
        with self.lock:
            if self.http_errors > 0:
                self.http_errors -= 1
                return 503, {"CodeResult": "503", "ErrorMessage": "busy"}
        try:
            args = _json(body, headers)
        except ValueError as exc:
            self.problem(f"send: {exc}")
            return 400, {"CodeResult": "99", "ErrorMessage": "bad request"}
        for key in ("ApiKey", "Phone", "Content", "Brandname", "SmsType"):
            if not args.get(key):
                self.problem(f"send: field {key} is missing")
        content = str(args.get("Content", ""))
        gsm = all(ord(c) < 128 for c in content)
        limit = 160 if gsm else 70
        if len(content) > limit:
            self.problem(f"send: {len(content)} characters do not fit one SMS ({limit})")
        if args.get("ApiKey") != self.api_key:
            return 200, {"CodeResult": "101", "ErrorMessage": "Authorize Failed"}
        if args.get("Brandname") != self.brand:
            return 200, {"CodeResult": "104", "ErrorMessage": "Brandname not registered"}
        if self.fail_with is not None:
            return 200, {"CodeResult": self.fail_with, "ErrorMessage": "refused"}
        with self.lock:
            self.sent.append(args)
        return 200, {"CodeResult": "100", "CountRegenerate": 0,
                     "SMSID": f"sms-{len(self.sent)}", "Sandbox": args.get("Sandbox", "0")}


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
