"""The city's alert feed over HTTP: JSON API, Server-Sent Events, Prometheus metrics, dashboard."""


import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from importlib import resources
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from pydantic import AfterValidator, BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controller import (
    audit_view,
    auth,
    csp,
    desk,
    device_view,
    history_store,
    pdf_queue,
    report_render,
    reporting,
)
from controller.authz import Principal
from controller.body_limit import BodyLimit
from controller.config import ControllerConfig, HttpSettings
from controller.desk import DeskError, silence_window
from controller.feed import SSE_QUEUE_MAX, AlertFeed, StorePerThread
from controller.report import Period
from controller.store import AlertChange, AlertNotFound, AlertRow, Store
from controller.views import agent_json, change_json, iso, shown_event, silence_json
from hcc_common import faults as vocab
from hcc_common.enrollment import ENROLL_PATH

SSE_KEEPALIVE_S = 15.0
# Live streams at once: every desk tab of the city holds one; each is a task, a queue and a
# connection (http_limits.MAX_CONNECTIONS bounds them all), and reads are open to anonymous
# clients by default.
SSE_MAX_CLIENTS = 300
SPEEDTEST_MAX = 50_000_000
MAX_EVENT_ID = 2**63 - 1
# SQLite ids are signed 64-bit: a larger number is not an id, and must not reach the database.
Id = Annotated[int, Path(ge=1, le=2**63 - 1)]
STATES = ("firing", "acknowledged", "resolved")
SEVERITIES = ("critical", "warning", "info")


class NoteBody(BaseModel):
    note: str = Field(default="", max_length=2000, description="Why; shown in the history.")
    by: str | None = Field(default=None, max_length=100,
                           description="Technician's name, if not the token holder.")


class EnrollBody(BaseModel):
    code: str = Field(min_length=8, max_length=32, description="The one-time code, e.g. 7K2M-9QXD-4F1A")


class SilenceBody(BaseModel):
    center: str | None = Field(default=None, max_length=64)
    device: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=32)
    code: str | None = Field(default=None, max_length=64, description="Fault code or glob.")
    duration: str = Field(default="2h", max_length=16, description="e.g. 30m, 2h, 1d")
    starts_at: float | None = Field(default=None, ge=0, le=4102444800,
                                    description="Unix time; default now (a maintenance window "
                                                "starts later)")
    reason: str = Field(min_length=1, max_length=500)


# Times a query may name: beyond them no alert exists, and a calendar cannot count.
WHEN_YEARS = (1970, 2100)


def _in_years(value: datetime | None) -> datetime | None:
    if value is not None and not WHEN_YEARS[0] <= value.year <= WHEN_YEARS[1]:
        raise ValueError(f"a time between {WHEN_YEARS[0]} and {WHEN_YEARS[1]}")
    return value


# Unix seconds or ISO 8601 (pydantic reads both); a time without a zone is UTC.
When = Annotated[datetime | None, AfterValidator(_in_years),
                 Query(description="Unix seconds or ISO 8601, e.g. 2026-11-29T08:00:00+07:00; "
                                   "years 1970 to 2100")]


def _seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()


def invalid(loc: tuple[str, ...], msg: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (the schema's HTTPValidationError)."""
    return HTTPException(422, [{"loc": list(loc), "msg": msg, "type": "value_error"}])


class Problem(BaseModel):
    detail: str


SSE_CATCH_UP_MAX = 10_000  # changes a reconnecting live stream is sent (event ids are dense)

# Responses every route may give besides its own, documented in the OpenAPI spec as they are.
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Sign in or give a bearer token (read_open is off)."}}
WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "Sign in or give a valid bearer token."},
    403: {"model": Problem, "description": "Your role may not do this, or a write from the page "
                                           "came without its CSRF token or from another site."}}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No such id, or not in your centers."}}


class SecurityHeaders:
    """Every response carries csp.HEADERS, and the strict page policy unless the route set its
    own (the report allows its inline stylesheet by hash). Plain ASGI: the event stream flows
    through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in (("Content-Security-Policy", csp.PAGE_POLICY),
                                    *csp.HEADERS.items()):
                    if name.lower().encode() not in names:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Metrics:
    """prometheus_client Collector: read at scrape time, nothing kept twice."""

    def __init__(self, stores: StorePerThread, counters: Callable[[], dict[str, int]]) -> None:
        self.stores = stores
        self.counters = counters

    def collect(self) -> Iterator[Any]:
        c = self.counters()
        for name, help_ in (("received", "MQTT messages received"),
                            ("applied", "messages that passed the wire contract"),
                            ("malformed", "malformed or oversized messages dropped"),
                            ("rate_limited", "messages over the per-agent rate, left for a resend"),
                            ("dead_letters", "messages set aside: could not be decoded, applied "
                                             "or stored"),
                            ("unknown_agent", "messages from boxes a center does not have")):
            m = CounterMetricFamily(f"hcc_messages_{name}", help_)
            m.add_metric([], c.get(name, 0))
            yield m
        store = self.stores.get()
        alerts = GaugeMetricFamily("hcc_open_alerts", "open alerts", labels=["severity"])
        by_sev = store.open_by_severity()
        for sev in SEVERITIES:
            alerts.add_metric([sev], by_sev.get(sev, 0))
        yield alerts
        agents = store.agents()
        online = GaugeMetricFamily("hcc_agents_online", "agents online")
        online.add_metric([], sum(1 for a in agents if a.state == "online"))
        yield online
        total = GaugeMetricFamily("hcc_agents", "agents known")
        total.add_metric([], len(agents))
        yield total
        gaps = GaugeMetricFamily("hcc_seq_gaps", "missing sequence numbers", labels=["agent"])
        dups = CounterMetricFamily("hcc_seq_duplicates", "duplicate reports", labels=["agent"])
        for a in agents:
            gaps.add_metric([f"{a.center}/{a.agent}"], a.gaps)
            dups.add_metric([f"{a.center}/{a.agent}"], a.duplicates)
        yield gaps
        yield dups


def create_app(config: ControllerConfig, stores: StorePerThread, feed: AlertFeed | None,
               counters: Callable[[], dict[str, int]] = dict,
               wake_feed: Callable[[], None] = lambda: None,
               healthy: Callable[[], bool] = lambda: True) -> FastAPI:
    http = config.http or HttpSettings()
    centers = {c.id: c.name for c in config.centers}
    # No /docs or /redoc: they load Swagger from a CDN and run inline scripts, which the pages'
    # policy forbids; /openapi.json is the spec, for any OpenAPI viewer.
    app = FastAPI(title="hcc-fleet controller", version="1",
                  description="Alerts of the city's public-administration service centers.",
                  docs_url=None, redoc_url=None)
    secure = config.auth.cookie_secure if config.auth.cookie_secure is not None else (
        http.tls_cert is not None or http.public_url.startswith("https://"))
    app.add_middleware(auth.CsrfGuard, secure=secure)
    from controller.citizen_web import FORM_OVERHEAD

    # before CSRF and routes read a byte of it; the citizens' form takes its photo
    app.add_middleware(BodyLimit, larger=(
        ("/r/", config.citizen.max_photo_bytes + FORM_OVERHEAD),))
    app.add_middleware(SecurityHeaders)  # added last: outermost, its headers on every answer
    registry = CollectorRegistry()
    registry.register(Metrics(stores, counters))

    def store() -> Store:
        return stores.get()

    # who asks, and may they (controller/auth.py over controller/authz.py: one rule)
    guard = auth.Guard(settings=config.auth, db=lambda: store().db, legacy_tokens=http.tokens,
                       read_open=http.read_open, secure=secure)
    auth.install(app, guard)
    Reader = Annotated[Principal, Depends(guard.reader)]
    Writer = Annotated[Principal, Depends(guard.signed_in)]  # someone known, never anonymous
    check = guard.check
    from controller.release_api import release_router

    def rollout_reader(request: Request) -> Principal:
        # every box's version and rollout progress: the desk's fleet-wide view
        who = guard.signed_in(request)
        check(who, "rollouts")
        return who

    app.include_router(release_router(config, store, rollout_reader))  # release files, rollouts
    web = resources.files("controller") / "web"

    def scope(who: Principal) -> frozenset[str] | None:
        return who.centers

    def alert_for(s: Store, who: Principal, alert_id: int) -> AlertRow:
        """The alert, if `who` sees its center; else 404 as for an id that does not exist."""
        try:
            row = s.alert(alert_id)
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        check(who, "read", row.center, f"no alert {alert_id}")
        return row

    def silenced_ids(s: Store, rows: list[AlertRow]) -> set[int]:
        return desk.silenced_ids(s, rows, time.time())

    @app.get("/api/v1/alerts", summary="Alerts, newest first", responses={**READ_ERRORS,
                                                                            **NOT_FOUND})
    def list_alerts(who: Reader, center: str | None = None,
                    severity: Annotated[str | None, Query(pattern="^(critical|warning|info)$")] = None,
                    state: Annotated[str | None, Query(
                        pattern="^(firing|acknowledged|resolved|open|all)$")] = "open",
                    since: When = None, until: When = None,
                    lang: Annotated[str, Query(pattern="^(vi|en)$")] = "vi",
                    limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> list[dict[str, Any]]:
        s = store()
        if center is not None:
            check(who, "read", center)
        rows = s.alerts(include_resolved=state == "all", center=center, severity=severity,
                        state=state if state in STATES else None,
                        since=_seconds(since), until=_seconds(until),
                        limit=limit, centers=scope(who))
        return desk.present(s, rows, lang, time.time())

    @app.get("/api/v1/alerts/{alert_id}", summary="One alert with its full history",
             responses={**READ_ERRORS, **NOT_FOUND})
    def get_alert(alert_id: Id, who: Reader) -> dict[str, Any]:
        s = store()
        row = alert_for(s, who, alert_id)
        return {**desk.present(s, [row], "vi", time.time())[0],
                "history": [shown_event(h, "vi") for h in s.history(alert_id)]}

    def _act(request: Request, alert_id: int, body: NoteBody, who: Principal,
             action: str) -> dict[str, Any]:
        s = store()
        before = alert_for(s, who, alert_id)
        check(who, action, before.center)
        try:
            row = desk.act(s, alert_id, action, holder=who.name, by=body.by, note=body.note,
                           now=time.time())
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        except DeskError as exc:
            raise invalid(("body", exc.field), str(exc)) from None
        wake_feed()
        guard.audit(request, who, action, f"alert {alert_id}", row.center,
                    audit_view.alert_state(before), audit_view.alert_state(row))
        return desk.present(s, [row], "vi", time.time())[0]

    @app.post("/api/v1/alerts/{alert_id}/ack", summary="Acknowledge: someone is on it",
              responses={**WRITE_ERRORS, **NOT_FOUND})
    def ack(alert_id: Id, body: NoteBody, who: Writer, request: Request) -> dict[str, Any]:
        return _act(request, alert_id, body, who, "ack")

    @app.post("/api/v1/alerts/{alert_id}/resolve", summary="Resolve by hand, with a note",
              responses={**WRITE_ERRORS, **NOT_FOUND})
    def resolve(alert_id: Id, body: NoteBody, who: Writer, request: Request) -> dict[str, Any]:
        return _act(request, alert_id, body, who, "resolve")

    @app.get("/api/v1/silences", summary="Silences and maintenance windows not yet over",
             responses=READ_ERRORS)
    def list_silences(who: Reader) -> list[dict[str, Any]]:
        # a silence of no center covers every center, so everyone's too
        return [silence_json(x) for x in store().silences(active_at=time.time())
                if x.center is None or who.sees(x.center)]

    @app.post("/api/v1/silences", status_code=201, summary="Silence alerts for a while",
              responses={**WRITE_ERRORS, **NOT_FOUND})
    def add_silence(body: SilenceBody, who: Writer, request: Request) -> dict[str, Any]:
        if body.center is not None:
            check(who, "read", body.center)
        check(who, "silence", body.center)
        try:
            window = silence_window(center=body.center, device=body.device, type_=body.type,
                                    code=body.code, duration=body.duration, reason=body.reason,
                                    starts_at=body.starts_at, now=time.time())
        except DeskError as exc:
            loc = ("body",) if exc.field == "target" else ("body", exc.field)
            raise invalid(loc, str(exc)) from None
        silence = store().add_silence(center=body.center, device=body.device, type_=body.type,
                                      code=body.code, starts_at=window.starts_at,
                                      ends_at=window.ends_at, author=who.name,
                                      reason=body.reason)
        guard.audit(request, who, "silence", f"silence {silence.id}", body.center,
                    after=silence_json(silence))
        return silence_json(silence)

    @app.delete("/api/v1/silences/{silence_id}", summary="End a silence now",
                responses={**WRITE_ERRORS, **NOT_FOUND})
    def end_silence(silence_id: Id, who: Writer, request: Request) -> dict[str, Any]:
        s = store()
        try:
            before = s.silence(silence_id)
            if before.center is not None:
                check(who, "read", before.center, f"no silence {silence_id}")
            check(who, "silence", before.center)
            after = silence_json(s.expire_silence(silence_id, time.time()))
        except AlertNotFound:
            raise HTTPException(404, f"no silence {silence_id}") from None
        guard.audit(request, who, "silence_end", f"silence {silence_id}", before.center,
                    silence_json(before), after)
        return after

    @app.get("/api/v1/centers", summary="Every center: worst open severity, agents, devices "
             "(worst first; a page of them with limit and offset, filtered with q; the "
             "X-Total-Count header says how many match)", responses=READ_ERRORS)
    def list_centers(who: Reader, response: Response,
                     q: Annotated[str | None, Query(
                         max_length=100, description="Words a center's id or name, or one of "
                         "its devices' ids or names, contains (case and accents as written)")]
                     = None,
                     limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
                     offset: Annotated[int, Query(ge=0)] = 0) -> list[dict[str, Any]]:
        s = store()
        # every open alert, not a default page of them: a city-wide outage colours them all
        open_alerts = s.alerts(centers=scope(who), limit=10_000_000)
        quiet = silenced_ids(s, open_alerts)
        rank = {"critical": 3, "warning": 2, "info": 1}
        worst: dict[str, str | None] = {}
        counts: dict[str, int] = {}
        for a in open_alerts:
            counts[a.center] = counts.get(a.center, 0) + 1
            if a.id not in quiet and rank[a.severity] > rank.get(worst.get(a.center) or "", 0):
                worst[a.center] = a.severity
        ids = {cid for cid in centers if who.sees(cid)}
        ids.update(c for c in s.agent_centers() if who.sees(c))
        ids.update(c for c in s.device_centers() if who.sees(c))
        ids.update(counts)  # a center known only by its alerts (already in scope)
        if q:  # as the dashboard's filter always matched: the words as typed, any case
            phrase = " ".join(q.casefold().split())
            found = {c for c in ids if phrase in f"{c} {centers.get(c, '')}".casefold()}
            for c, device, name in s.device_names():
                if c in ids and c not in found and (
                        phrase in f"{device} {name}".casefold()
                        or phrase in f"{c} {centers.get(c, '')} {device} {name}".casefold()):
                    found.add(c)
            ids = found
        ordered = sorted(ids, key=lambda c: (-rank.get(worst.get(c) or "", 0), c))
        response.headers["X-Total-Count"] = str(len(ordered))
        page = ordered[offset:offset + limit] if limit is not None else ordered[offset:]
        out: dict[str, dict[str, Any]] = {
            cid: {"center": cid, "name": centers.get(cid, cid), "worst": worst.get(cid),
                  "open_alerts": counts.get(cid, 0), "agents": [], "devices": []}
            for cid in page}
        paged = limit is not None or offset or q  # else every center: one read of each table
        for ag in s.agents(centers=out if paged else None):
            if ag.center in out:
                out[ag.center]["agents"].append(agent_json(ag))
        for d in s.devices(centers=out if paged else None):
            if d.center in out:
                out[d.center]["devices"].append({
                    "device": d.device, "name": d.name, "type": d.type, "status": d.status,
                    "last_seen": iso(d.last_seen), "faults": [f.code for f in d.faults]})
        return [out[c] for c in page]

    @app.get("/api/v1/devices/{center}/{device}", summary="One device: its readings now, its "
             "faults, its alerts with who acted and their notes",
             responses={**READ_ERRORS, **NOT_FOUND})
    def device_detail(center: str, device: str, who: Reader,
                      lang: Annotated[str, Query(pattern="^(vi|en)$")] = "vi") -> dict[str, Any]:
        check(who, "read", center, f"no device {device!r} in center {center!r}")
        s = store()
        dev = s.device(center, device)
        if dev is None:
            raise HTTPException(404, f"no device {device!r} in center {center!r}")
        now = time.time()
        rows = s.alerts(include_resolved=True, center=center, device=device, limit=50)
        shown = desk.present(s, rows, lang, now)
        for a in shown:
            a["history"] = [shown_event(h, lang) for h in s.history(a["id"])]
        return {"center": center, "center_name": centers.get(center, center),
                "device": device, "agent": dev.agent, "name": dev.name, "type": dev.type,
                "type_name": vocab.type_name(dev.type, lang), "status": dev.status,
                "last_seen": iso(dev.last_seen), "checked_at": iso(dev.agent_ts),
                "faults": [{"code": f.code, "severity": f.severity,
                            "message": vocab.message(f.code, f.params, lang),
                            "hint": vocab.hint(f.code, f.params, lang)} for f in dev.faults],
                "readings": device_view.readings(dev.metrics, lang), "alerts": shown}

    @app.get("/api/v1/devices/{center}/{device}/series", summary="A device's history for charts:"
             " every reading over 24 h, hourly min/avg/max over 7 or 30 days; reachability",
             responses={**READ_ERRORS, **NOT_FOUND})
    def device_series(center: str, device: str, who: Reader,
                      range_: Annotated[str, Query(alias="range", pattern="^(24h|7d|30d)$")]
                      = "24h", lang: Annotated[str, Query(pattern="^(vi|en)$")] = "vi"
                      ) -> dict[str, Any]:
        check(who, "read", center, f"no device {device!r} in center {center!r}")
        s = store()
        dev = s.device(center, device)
        if dev is None:
            raise HTTPException(404, f"no device {device!r} in center {center!r}")
        end = time.time()
        start = end - device_view.RANGES[range_]
        names = device_view.series_names(dev.metrics)
        if device_view.RANGES[range_] <= device_view.RAW_RANGE_S:
            samples = [r.sample for r in history_store.raw(s.db, center, device, start, end)]
            return {"range": range_, **device_view.series_from_samples(samples, start, end,
                                                                       names, lang)}
        # this device's newest hours, not yet rolled up by the upkeep loop (every 5 minutes)
        history_store.rollup_all(s.db, center=center, device=device)
        hours = [r.rollup for r in history_store.hourly(s.db, start - 3600, end, center=center,
                                                         device=device)]
        return {"range": range_, **device_view.series_from_hours(hours, start, end, names,
                                                                          lang)}

    @app.get("/api/v1/report", summary="The city's report (html, pdf or csv) for a month or days",
             response_class=Response,
             responses={**READ_ERRORS, **NOT_FOUND,
                        400: {"model": Problem,
                              "description": "A period or center not understood."},
                        429: {"model": Problem, "description": "PDFs are made one at a time and "
                              "the queue is full: Retry-After says when to ask again."},
                        503: {"model": Problem, "description": "No Chromium here for a PDF, or "
                              "it went over its time or memory limit."}})
    def report_file(who: Reader, request: Request, month: str | None = None,
                    from_: Annotated[str | None, Query(alias="from")] = None,
                    to: str | None = None, center: str | None = None,
                    format_: Annotated[str, Query(alias="format", pattern="^(html|pdf|csv)$")]
                    = "html",
                    lang: Annotated[str, Query(pattern="^(vi|en)$")] = "vi") -> Response:
        # a PDF is a Chromium run: always someone signed in, read_open or not (as the speed
        # test)
        if format_ == "pdf" and who.via == "anonymous":
            raise HTTPException(401, "a PDF report needs signing in or a bearer token (HTML "
                                     "and CSV do not)", headers={"WWW-Authenticate": "Bearer"})
        center = report_center(who, center or None)
        body, period = _report(month, from_, to, center, format_, lang)
        guard.audit(request, who, "report_download", f"report {period.label} {format_}", center,
                    after={"format": format_, "month": month, "from": from_, "to": to})
        kinds = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
                 "csv": "text/csv; charset=utf-8"}
        name = f"hcc-report-{period.label.replace(' – ', '_')}{'-' + center if center else ''}"
        name = re.sub(r"[^A-Za-z0-9._-]", "_", name)  # a center id is a box's word: no quotes
        return Response(body, media_type=kinds[format_], headers={
            "Content-Disposition": f'{"inline" if format_ == "html" else "attachment"}; '
                                   f'filename="{name}.{format_}"',
            "Content-Security-Policy": csp.page_policy([report_render.STYLE])})

    def report_center(who: Principal, center: str | None) -> str | None:
        """The center a report is of: one the reader sees (404 otherwise); a reader of one
        center gets that center's; a reader of several must say which."""
        if center is not None:
            check(who, "read", center)
            return center
        if who.centers is None:
            return None
        if len(who.centers) == 1:
            return next(iter(who.centers))
        raise invalid(("query", "center"), "say which center: you see "
                      + (", ".join(sorted(who.centers)) or "none"))

    def _report(month: str | None, first: str | None, last: str | None, center: str | None,
                fmt: str, lang: str, toolbar: str = "") -> tuple[bytes, Period]:
        s = store()
        try:
            period = reporting.period_for(month, first, last, config.reports.timezone)
            # a PDF holds the PDF queue's slot from reading the data to the last page; any
            # other report one of the reports queue's
            queue = pdf_queue.QUEUE if fmt == "pdf" else pdf_queue.REPORTS
            with queue.slot():
                return reporting.make(s, config, period=period, center=center, fmt=fmt,
                                      lang=lang, toolbar=toolbar), period
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        except reporting.ReportError as exc:
            raise HTTPException(503, str(exc)) from None
        except pdf_queue.PdfBusy as exc:
            raise HTTPException(429, str(exc),
                                headers={"Retry-After": str(exc.retry_after_s)}) from None

    @app.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def report_page(request: Request, month: str | None = None, center: str | None = None,
                    lang: Annotated[str, Query(pattern="^(vi|en)$")] = "vi") -> Response:
        who = auth.page_or_signin(guard, request)
        if isinstance(who, RedirectResponse):
            return who
        tz = ZoneInfo(config.reports.timezone)
        month = month or datetime.now(tz).strftime("%Y-%m")  # this month so far
        known = {c: name for c, name in {**{d.center: d.center for d in store().devices()},
                                         **centers}.items() if who.sees(c)}
        chosen = report_center(who, center or None)
        toolbar = report_render.toolbar_html(lang, month, chosen, known)
        body, _period = _report(month, None, None, chosen, "html", lang, toolbar)
        return HTMLResponse(body, headers={"Content-Security-Policy": csp.page_policy(
            [report_render.STYLE, report_render.TOOLBAR_STYLE])})

    @app.get("/devices/{center}/{device}", response_class=HTMLResponse, include_in_schema=False)
    def device_page(center: str, device: str, request: Request) -> Response:
        who = auth.page_or_signin(guard, request)
        if isinstance(who, RedirectResponse):
            return who
        check(who, "read", center, f"no device {device!r} in center {center!r}")
        return HTMLResponse((web / "device.html").read_text(encoding="utf-8"))

    @app.get("/api/v1/devices/{center}/{device}/history", summary="A device's changes",
             responses={**READ_ERRORS, **NOT_FOUND})
    def device_history(center: str, device: str, who: Reader) -> list[dict[str, Any]]:
        check(who, "read", center, f"no device {device!r} in center {center!r}")
        return [{**h, "agent_ts": iso(h["agent_ts"]), "received_at": iso(h["received_at"])}
                for h in store().device_history(center, device)]

    @app.get("/api/v1/stats", summary="Mean time to acknowledge and to resolve, per center",
             responses=READ_ERRORS)
    def stats(who: Reader, since: When = None) -> list[dict[str, Any]]:
        return [r for r in store().response_times(_seconds(since)) if who.sees(r["center"])]

    @app.get("/api/v1/notifications", summary="Recent notifications and their delivery",
             responses=READ_ERRORS)
    def notifications(who: Reader) -> list[dict[str, Any]]:
        return [{**n, "created_at": iso(n["created_at"]), "sent_at": iso(n["sent_at"])}
                for n in store().notifications() if who.sees(n["center"])]

    @app.get("/api/v1/agents", summary="Delivery health per agent",
             responses=READ_ERRORS)
    def agents(who: Reader) -> list[dict[str, Any]]:
        return [agent_json(a) for a in store().agents() if who.sees(a.center)]

    @app.get("/api/v1/stream", summary="Live alert changes (Server-Sent Events)",
             response_class=StreamingResponse,
             responses={**READ_ERRORS,
                        400: {"model": Problem, "description": "A Last-Event-ID that is no id."},
                        503: {"model": Problem, "description": "No live feed in this process, "
                              "or too many streams open (Retry-After)."}})
    async def stream(request: Request, who: Reader,
                     last_event_id: Annotated[str | None, Header()] = None) -> StreamingResponse:
        since = None
        if last_event_id:
            text = last_event_id.strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 19
                    and int(text) <= MAX_EVENT_ID):
                raise HTTPException(400, "Last-Event-ID must be an event id this stream sent")
            since = int(text)
        if feed is None:
            raise HTTPException(503, "the live feed runs only inside hcc-controller run")
        if len(feed.sse_clients) >= SSE_MAX_CLIENTS:
            raise HTTPException(503, f"{SSE_MAX_CLIENTS} live streams are open: try again later",
                                headers={"Retry-After": "30"})
        queue: asyncio.Queue[tuple[AlertChange, bool] | None] = asyncio.Queue(SSE_QUEUE_MAX)
        feed.sse_clients.add(queue)

        async def events() -> AsyncIterator[str]:
            try:
                yield ": hcc-fleet alert stream\nretry: 2000\n\n"
                if since is not None:  # a reconnecting client gets what it missed
                    def read() -> tuple[list[AlertChange], set[int]]:
                        # every change missed, not the store's first page of them; silenced
                        # judged on those very alerts (resolved ones and past the 1,000th too)
                        s = store()
                        changes: list[AlertChange] = []
                        after = since
                        # bounded: a client far behind catches up on the newest 10,000 at most
                        after = max(after, feed.last_id - SSE_CATCH_UP_MAX)
                        while after < feed.last_id:
                            page = s.changes_since(after)
                            if not page:
                                break
                            changes += page
                            after = page[-1].event_id
                        return changes, silenced_ids(s, [c.alert for c in changes])

                    missed_changes, quiet = await asyncio.to_thread(read)
                    for missed in missed_changes:
                        if missed.event_id <= feed.last_id and who.sees(missed.alert.center):
                            yield _sse(missed, missed.alert.id in quiet)
                while True:
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=SSE_KEEPALIVE_S)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        # signed out, expired or disabled since: the stream ends too
                        if who.via != "anonymous" and await asyncio.to_thread(
                                guard.principal, request) is None:
                            return
                        yield ": keepalive\n\n"
                        continue
                    if item is None:
                        return
                    if who.sees(item[0].alert.center):  # another center's: not even its id
                        yield _sse(*item)
            finally:
                feed.sse_clients.discard(queue)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.get("/metrics", response_class=PlainTextResponse, include_in_schema=False)
    def metrics(who: Reader) -> Response:
        check(who, "metrics")  # every center's counters at once: for who sees every center
        return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")

    # Wrong codes per client address and minute: guessing 60 bits is hopeless, and stays so.
    bad_codes: dict[str, list[float]] = {}

    @app.post(ENROLL_PATH, summary="A new box trades its one-time code for credentials",
              responses={403: {"model": Problem, "description": "Unknown, used or expired code."},
                         404: {"model": Problem, "description": "Enrollment is not set up here."},
                         429: {"model": Problem, "description": "Too many wrong codes."},
                         503: {"model": Problem, "description": "Credentials could not be made."}})
    def enroll(body: EnrollBody, request: Request) -> dict[str, Any]:
        from controller.enroll import EnrollError, code_hash, issue
        from controller.enroll import log as enroll_log

        if config.enroll is None:
            raise HTTPException(404, "enrollment is not set up on this controller "
                                     "(enroll: in controller.yaml)")
        peer = request.client.host if request.client is not None else "?"
        now = time.time()
        recent = [t for t in bad_codes.get(peer, []) if now - t < 60.0]
        if len(recent) >= 10:
            raise HTTPException(429, "too many wrong codes: wait a minute")
        from controller.signing_key import SigningKeyError, public_pem

        try:
            keys = public_pem(config)  # the box verifies pushed configs with these
        except SigningKeyError as exc:
            raise HTTPException(503, f"credentials could not be made: {exc}") from None
        hashed = code_hash(body.code)
        box = store().take_enrollment(hashed, now, peer)
        if box is None:
            bad_codes[peer] = [*recent, now][-20:]
            raise HTTPException(403, "this code is unknown, used or expired: ask for a new one")
        try:
            creds = issue(config.enroll, *box, controller_keys=keys)
        except Exception as exc:  # noqa: BLE001 - whatever failed, the code is given back
            store().release_enrollment(hashed, now)
            if not isinstance(exc, EnrollError):
                enroll_log.exception("enrollment failed", extra={"center": box[0], "agent": box[1]})
            raise HTTPException(503, f"credentials could not be made: {exc}; the code still "
                                     "works, try again") from None
        from controller import accounts

        accounts.audit(store().db, who=f"box:{box[0]}/{box[1]}", peer=peer, action="enrolled",
                       target=f"{box[0]}/{box[1]}", center=box[0], now=now)
        return creds.to_json()

    @app.get("/api/v1/speedtest", summary="Bytes to time a download (the boxes' Wi-Fi and WAN "
             "probes); a bearer token is always needed", response_class=StreamingResponse,
             responses={401: {"model": Problem, "description": "No valid bearer token."},
                        403: WRITE_ERRORS[403]})
    def speedtest(_who: Writer,
                  size: Annotated[int, Query(alias="bytes", ge=1, le=SPEEDTEST_MAX)] = 2_000_000
                  ) -> StreamingResponse:
        # always someone known, read_open or not: anyone could otherwise make the controller
        # send 50 MB at will

        def chunks() -> Iterator[bytes]:
            block = bytes(65536)
            left = size
            while left > 0:
                yield block[:min(left, len(block))]
                left -= min(left, len(block))

        return StreamingResponse(chunks(), media_type="application/octet-stream",
                                 headers={"Content-Length": str(size),
                                          "Cache-Control": "no-store"})

    @app.get("/healthz", summary="Is ingest turning? 503 when it is stuck or dead",
             responses={503: {"model": Problem, "description": "Ingest is stuck or dead."}})
    def healthz() -> dict[str, str]:
        if not healthy():
            raise HTTPException(503, "ingest is stuck or dead: alerts are not being raised")
        return {"ingest": "ok"}


    # citizens' reports (anonymous by design: the QR token is the key) and Open311
    from controller import checklist, citizen_web, open311

    app.include_router(citizen_web.router(config, stores, guard))
    app.include_router(checklist.router(config, stores, guard))
    app.include_router(open311.router(config, stores))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> Response:
        who = auth.page_or_signin(guard, request)
        if isinstance(who, RedirectResponse):
            return who
        return HTMLResponse((web / "index.html").read_text(encoding="utf-8"))

    audit_view.install(app, guard, store)
    if config.auth.public_status:
        audit_view.install_status(app, store, centers)

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        types = {"app.js": "text/javascript", "style.css": "text/css",
                 "device.js": "text/javascript", "common.js": "text/javascript",
                 "report.js": "text/javascript", "signin.js": "text/javascript",
                 "audit.js": "text/javascript", "status.js": "text/javascript",
                 "texts.js": "text/javascript", "checklist.js": "text/javascript",
                 "uPlot.iife.min.js": "text/javascript",
                 "uPlot.min.css": "text/css"}
        if name not in types:
            raise HTTPException(404)
        # the chart library is vendored: center LANs may have no internet for a CDN
        path = web / "vendor" / name if name.startswith("uPlot") else web / name
        return Response(path.read_text(encoding="utf-8"), media_type=types[name],
                        headers={"Cache-Control": "max-age=3600"})

    return app


def _sse(change: AlertChange, silenced: bool) -> str:
    data = json.dumps(change_json(change, silenced), ensure_ascii=False)
    return f"id: {change.event_id}\nevent: alert\ndata: {data}\n\n"
