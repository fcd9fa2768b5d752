"""The staff's opening checklist: a per-center staff link (until accounts exist) to a phone page
listing the center's non-networked amenities, each ticked "ổn" or with a problem; a problem
becomes a report like a citizen's (via `staff`), every answer is kept per day."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from datetime import time as dt_time
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from controller import accounts, citizen
from controller.amenities import PROBLEMS, Amenity, CitizenSettings
from controller.auth import Guard
from controller.authz import Principal
from controller.citizen_web import _doc, _e, _page
from controller.config import CenterInfo, ControllerConfig
from controller.feed import StorePerThread
from controller.state import AlertKey, OpenAlert, ResolveAlert
from controller.store import Store

log = logging.getLogger("hcc.checklist")

STAFF_KEY = "~staff"  # the staff link's row in amenity_tokens: no amenity id has a '~'
OK = "ok"


def items(center: CenterInfo) -> tuple[Amenity, ...]:
    """What the staff check: the amenities no box watches."""
    return tuple(a for a in center.amenities if not a.networked)


def staff_center(config: ControllerConfig, store: Store, token: str) -> CenterInfo | None:
    if not (10 <= len(token) <= 64) or not token.replace("-", "").replace("_", "").isalnum():
        return None
    row = store.db.execute("SELECT center FROM amenity_tokens WHERE token=? AND amenity=?",
                           (token, STAFF_KEY)).fetchone()
    if row is None:
        return None
    return next((c for c in config.centers if c.id == row[0]), None)


def today(center: CenterInfo, now: float) -> str:
    return datetime.fromtimestamp(now, ZoneInfo(center.hours.timezone)).strftime("%Y-%m-%d")


def answers(store: Store, center: str, day: str) -> dict[str, str]:
    return {str(a): str(r) for a, r in store.db.execute(
        "SELECT amenity, result FROM staff_checks WHERE center=? AND day=?", (center, day))}


def record(store: Store, settings: CitizenSettings, center: CenterInfo,
           results: dict[str, str], now: float) -> int:
    """Keep the day's answers; each problem is a report (it opens or joins the amenity's
    alert). The per-address limit is the citizens': the staff's link is known, not anonymous."""
    day = today(center, now)
    by_id = {a.id: a for a in items(center)}
    staff = CitizenSettings(per_address_per_hour=10_000,
                            per_amenity_per_hour=settings.per_amenity_per_hour)
    problems = 0
    for aid, result in results.items():
        amenity = by_id[aid]
        if result != OK:
            # reported many times already this hour: the alert is open, the answer is kept
            with contextlib.suppress(citizen.ReportRefused):
                citizen.submit(store, staff, citizen.Report(center=center, amenity=amenity,
                                                            problem=result,
                                                            address=f"staff:{center.id}",
                                                            via="staff"), now)
            problems += 1
        with store.db.transaction():
            store.db.execute("INSERT INTO staff_checks VALUES (?,?,?,?,?) ON CONFLICT (center,"
                             " day, amenity) DO UPDATE SET result=excluded.result, at=excluded.at",
                             (center.id, day, aid, result, now))
    return problems


# -- not done by the set hour: a gentle warning to the desk ----------------------------------
NOT_DONE_CODE = "citizen.checklist_not_done"
NOT_DONE_DEVICE = "~checklist"  # no amenity id has a '~'
CHECK_EVERY_S = 60.0


def overdue(center: CenterInfo, ticked: Collection[str], now: float,
            by: dt_time | None) -> tuple[Amenity, ...]:
    """The checklist's items not ticked today, once `by` (the center's local time) has passed
    on a day the center opens; () before it, on closed days and holidays, or when `by` is None.
    Pure."""
    if by is None:
        return ()
    local = datetime.fromtimestamp(now, ZoneInfo(center.hours.timezone))
    if local.time() < by or local.date() in center.hours.holidays \
            or not center.hours.weekly.get(local.weekday()):
        return ()
    return tuple(a for a in items(center) if a.id not in ticked)


def not_done_effects(center: CenterInfo, missing: Sequence[Amenity], is_open: bool,
                     now: float) -> list[OpenAlert | ResolveAlert]:
    """What the desk's warning should become: opened (info, the items named) while items are
    missing, resolved once they are all ticked or the day is over. Pure."""
    key = AlertKey(center=center.id, agent=citizen.CITIZEN_AGENT, device=NOT_DONE_DEVICE, code=NOT_DONE_CODE)
    if missing and not is_open:
        names = ", ".join(a.name for a in missing[:5]) + ("…" if len(missing) > 5 else "")
        return [OpenAlert(key=key, severity="info", device_name="Kiểm tra đầu ngày",
                          params={"missing": len(missing),
  "items": names}, at=now, labels={"source": citizen.SOURCE_LABEL})]
    if not missing and is_open:
        return [ResolveAlert(key, now, "checklist done, or a new day")]
    return []


def warn_not_done(store: Store, config: ControllerConfig, now: float) -> int:
    """One round over the centers with a checklist: open or resolve each one's warning.
    Several controllers may run it at once: the alert's key makes the opening one."""
    by = config.citizen.checklist_by
    changed = 0
    for center in config.centers:
        if not items(center):
            continue
        missing = overdue(center, answers(store, center.id, today(center, now)), now, by)
        is_open = bool([r for r in store.alerts(center=center.id, device=NOT_DONE_DEVICE)
                        if r.agent == citizen.CITIZEN_AGENT])
        effects = not_done_effects(center, missing, is_open, now)
        if effects:
            store.write(effects)
            changed += 1
    return changed


async def not_done_loop(stop: asyncio.Event, config: ControllerConfig,
                        stores: StorePerThread) -> None:
    """Inside `hcc-controller run`, once a minute."""
    if config.citizen.checklist_by is None or not any(items(c) for c in config.centers):
        return
    while not stop.is_set():
        try:
            await asyncio.to_thread(lambda: warn_not_done(stores.get(), config, time.time()))
        except Exception as exc:  # noqa: BLE001 - logged; a database moment must not end it
            log.warning("checklist warning round failed", extra={"error": str(exc)[:300]})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CHECK_EVERY_S)


def checked_results(center: CenterInfo, form: dict[str, object]) -> dict[str, str]:
    """The answers a form gives for the center's checklist (an item not answered is left
    out); HTTPException 422 for a choice the item does not have. Pure."""
    results: dict[str, str] = {}
    for a in items(center):
        value = form.get(a.id)
        if value is None:
            continue
        if not isinstance(value, str) or (value != OK and value not in a.kind.problems):
            raise HTTPException(422, f"{a.id}: {value!r} is not one of its choices")
        results[a.id] = value
    return results


def saved_text(results: dict[str, str], problems: int) -> str:
    return (f"Đã lưu {len(results)} mục, {problems} vấn đề. "
            f"<span lang=\"en\">Saved {len(results)} items, {problems} problems.</span>")


def router(config: ControllerConfig, stores: StorePerThread,
           guard: Guard | None = None) -> APIRouter:
    api = APIRouter()

    def page(token: str, center: CenterInfo, note: str = "", *, signed_in_as: str = "",
             csrf: str = "") -> str:
        done = answers(stores.get(), center.id, today(center, time.time()))
        # a staff link posts a plain form; a signed-in technician's page posts through
        # checklist.js (a session's writes carry its CSRF token in a header)
        form = (f"<form method=\"post\" action=\"/staff/{_e(token)}\">" if token else
                f"<form id=\"checklist\" data-center=\"{_e(center.id)}\" "
                f"data-csrf=\"{_e(csrf)}\">")
        who = (f"<p class=\"who\">{_e(signed_in_as)}</p>" if signed_in_as else "")
        parts = [f"<p class=\"what\">{_e(center.name)}</p>{who}"
                 f"<p id=\"saved\" role=\"status\">{note}</p>", form]
        for a in items(center):
            parts.append(f"<fieldset><legend>{_e(a.name)}</legend>")
            for pid in (OK, *a.kind.problems):
                vi, en = ("Ổn", "OK") if pid == OK else PROBLEMS[pid]
                checked = " checked" if done.get(a.id) == pid else ""
                parts.append(f"<label class=\"choice\"><input type=\"radio\" "
                             f"name=\"{_e(a.id)}\" value=\"{_e(pid)}\"{checked}> {_e(vi)} "
                             f"<span lang=\"en\">{_e(en)}</span></label>")
            parts.append("</fieldset>")
        parts.append("<button type=\"submit\">Lưu <span lang=\"en\">Save</span></button></form>")
        if not token:
            parts.append("<script src=\"/static/checklist.js\"></script>")
        return _page("Kiểm tra đầu ngày", "Opening checklist", "".join(parts))

    @api.get("/staff/{token}", response_class=HTMLResponse, include_in_schema=False)
    def checklist_page(token: str) -> HTMLResponse:
        center = staff_center(config, stores.get(), token)
        if center is None:
            raise HTTPException(404, "no such staff link")
        return HTMLResponse(page(token, center), headers={"Cache-Control": "no-store"})

    @api.post("/staff/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def checklist_post(token: str, request: Request) -> HTMLResponse:
        origin = request.headers.get("origin")
        if origin is not None and origin != "null" and \
                urlsplit(origin).netloc != request.headers.get("host", ""):
            raise HTTPException(403, "the checklist is sent from its own page")
        center = await asyncio.to_thread(lambda: staff_center(config, stores.get(), token))
        if center is None:
            raise HTTPException(404, "no such staff link")
        body = await request.body()
        if len(body) > 64_000:
            raise HTTPException(413, "too large")
        form: dict[str, object] = {k: v[0] for k, v in parse_qs(
            body.decode(errors="replace"), max_num_fields=500).items()}
        results = checked_results(center, form)
        problems = await asyncio.to_thread(lambda: record(stores.get(), config.citizen, center,
                                                          results, time.time()))
        return HTMLResponse(await asyncio.to_thread(page, token, center,
                                                    saved_text(results, problems)),
                            headers={"Cache-Control": "no-store"})

    if guard is None:
        return api
    signed = guard

    def center_for(who: Principal, center_id: str) -> CenterInfo:
        """The center a technician may tick the list of: 404 outside the account's centers
        (as if it did not exist), 403 for a viewer."""
        center = next((c for c in config.centers if c.id == center_id), None)
        if center is None or not who.sees(center_id) or not items(center):
            raise HTTPException(404, f"no checklist for center {center_id!r}")
        signed.check(who, "note", center_id)
        return center

    @api.get("/centers/{center_id}/checklist", response_class=HTMLResponse,
             include_in_schema=False)
    def signed_in_page(center_id: str, request: Request) -> Response:
        who = signed.principal(request)
        if who is None or who.via == "anonymous":
            return RedirectResponse(f"/signin?next=/centers/{quote(center_id)}/checklist",
                                    status_code=303)
        center = center_for(who, center_id)
        session = request.cookies.get(signed.cookie) or ""
        return HTMLResponse(page("", center, signed_in_as=who.name,
                                 csrf=accounts.csrf_token(session) if session else ""),
                            headers={"Cache-Control": "no-store"})

    @api.post("/api/v1/centers/{center_id}/checklist",
              summary="The day's opening checklist of a center, ticked by a technician signed in "
                      "(or with a token) of that center",
              responses=_doc(_401="Sign in, or a bearer token.",
                             _403="A viewer, or a session's write without its CSRF token.",
                             _404="No such center, not the account's, or no checklist.",
                             _413="Too large.", _422="Not an answer the item has."))
    async def signed_in_post(center_id: str, request: Request) -> dict[str, object]:
        who = signed.signed_in(request)
        center = center_for(who, center_id)
        body = await request.body()
        if len(body) > 64_000:
            raise HTTPException(413, "too large")
        try:
            given = json.loads(body or b"{}")
        except ValueError:
            raise HTTPException(422, "a JSON object of item: answer") from None
        if not isinstance(given, dict):
            raise HTTPException(422, "a JSON object of item: answer")
        results = checked_results(center, given)
        problems = await asyncio.to_thread(lambda: record(stores.get(), config.citizen, center,
                                                          results, time.time()))
        signed.audit(request, who, "checklist", f"checklist {center_id}", center_id,
                     after=results)
        return {"saved": len(results), "problems": problems,
                "text": f"Đã lưu {len(results)} mục, {problems} vấn đề. "
                        f"Saved {len(results)} items, {problems} problems."}

    return api
