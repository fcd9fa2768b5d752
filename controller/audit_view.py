"""The audit trail's outlets (JSON, CSV, the admin page) and the public status view (centers up
or down, nothing more): routes kept out of api.py, and the rows' shape in one place for the
API and the CLI."""


import io
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controller import accounts, csv_safe
from controller.views import iso

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Sign in or give a bearer token."},
    403: {"description": "Only admins read the audit trail."}}
CSV_COLUMNS = ("id", "at", "account", "via", "peer", "action", "center", "target", "before",
               "after")


def alert_state(row: Any) -> dict[str, Any]:
    """What an act changed on an alert, for the trail's before and after."""
    return {"state": row.state, "acked_by": row.acked_by, "resolved_by": row.resolved_by}


def row_json(r: accounts.AuditRow) -> dict[str, Any]:
    return {"id": r.id, "at": iso(r.at), "account": r.account, "via": r.via, "peer": r.peer,
            "action": r.action, "center": r.center, "target": r.target, "before": r.before,
            "after": r.after}


def csv_text(rows: list[accounts.AuditRow]) -> str:
    import json

    out = io.StringIO()
    w = csv_safe.writer(out)
    w.writerow(CSV_COLUMNS)
    for r in rows:
        j = row_json(r)
        w.writerow([j[c] if c not in ("before", "after") else
                    ("" if j[c] is None else json.dumps(j[c], ensure_ascii=False))
                    for c in CSV_COLUMNS])
    return out.getvalue()


def install(app: FastAPI, guard: Any, store: Callable[[], Any]) -> None:
    from controller.authz import Principal

    web = resources.files("controller") / "web"
    SignedIn = Annotated[Principal, Depends(guard.signed_in)]

    @app.get("/api/v1/audit", summary="The audit trail (admins): every write, who, when, from "
             "where, before and after", responses=ERRORS)
    def audit_json(who: SignedIn, since: float | None = None,
                   limit: int = 1000) -> list[dict[str, Any]]:
        guard.check(who, "audit")
        return [row_json(r) for r in accounts.audit_rows(store().db, since=since,
                                                         limit=max(1, min(limit, 10_000)))]

    @app.get("/api/v1/audit.csv", summary="The audit trail as CSV (admins)",
             response_class=Response, responses=ERRORS)
    def audit_csv(request: Request, who: SignedIn,
                  since: float | None = None) -> Response:
        guard.check(who, "audit")
        rows = accounts.audit_rows(store().db, since=since, limit=100_000)
        guard.audit(request, who, "audit_export", "audit.csv", after={"rows": len(rows)})
        return Response(csv_text(rows), media_type="text/csv; charset=utf-8", headers={
            "Content-Disposition": 'attachment; filename="hcc-audit.csv"'})

    @app.get("/admin/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request) -> Response:
        who = guard.principal(request)
        if who is None:
            return RedirectResponse("/signin", status_code=303)
        guard.check(who, "audit")
        return HTMLResponse((web / "audit.html").read_text(encoding="utf-8"))


def install_status(app: FastAPI, store: Callable[[], Any], names: Mapping[str, str]) -> None:
    """auth.public_status: anyone may see which centers are up; no device, alert or box."""
    web = resources.files("controller") / "web"

    @app.get("/api/v1/status", summary="Public: each center up or down (auth.public_status)")
    def status() -> list[dict[str, Any]]:
        s = store()
        up: dict[str, bool] = {c: False for c in names}
        for a in s.agents():
            if a.center in names:  # only configured centers: a box's word names none
                up[a.center] = up[a.center] or a.state == "online"
        return [{"center": c, "name": names[c], "up": up[c]} for c in sorted(names)]

    @app.get("/status", response_class=HTMLResponse, include_in_schema=False)
    def status_page() -> HTMLResponse:
        return HTMLResponse((web / "status.html").read_text(encoding="utf-8"))
