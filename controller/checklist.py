"""The staff's opening checklist: a per-center staff link (until accounts exist) to a phone page
listing the center's non-networked amenities, each ticked "ổn" or with a problem; a problem
becomes a report like a citizen's (via `staff`), every answer is kept per day."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Sequence
from datetime import datetime
from datetime import time as dt_time
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from controller import citizen
from controller.amenities import PROBLEMS, Amenity, CitizenSettings
from controller.citizen_web import _e, _page
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
                citizen.submit(store, staff, citizen.Report(center, amenity, result,
                                                            address=f"staff:{center.id}",
                                                            via="staff"), now)
            problems += 1
        store.db.begin()
        store.db.execute("INSERT INTO staff_checks VALUES (?,?,?,?,?) ON CONFLICT (center, day,"
                         " amenity) DO UPDATE SET result=excluded.result, at=excluded.at",
                         (center.id, day, aid, result, now))
        store.db.commit()
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
    key = AlertKey(center.id, citizen.CITIZEN_AGENT, NOT_DONE_DEVICE, NOT_DONE_CODE)
    if missing and not is_open:
        names = ", ".join(a.name for a in missing[:5]) + ("…" if len(missing) > 5 else "")
        return [OpenAlert(key, "info", "Kiểm tra đầu ngày", {"missing": len(missing),
                                                             "items": names}, now,
                          {"source": citizen.SOURCE_LABEL})]
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


def router(config: ControllerConfig, stores: StorePerThread) -> APIRouter:
    api = APIRouter()

    def page(token: str, center: CenterInfo, note: str = "") -> str:
        done = answers(stores.get(), center.id, today(center, time.time()))
        parts = [f"<p class=\"what\">{_e(center.name)}</p>{note}",
                 f"<form method=\"post\" action=\"/staff/{_e(token)}\">"]
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
        form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace"),
                                              max_num_fields=500).items()}
        results: dict[str, str] = {}
        for a in items(center):
            value = form.get(a.id)
            if value is None:
                continue
            if value != OK and value not in a.kind.problems:
                raise HTTPException(422, f"{a.id}: {value!r} is not one of its choices")
            results[a.id] = value
        problems = await asyncio.to_thread(lambda: record(stores.get(), config.citizen, center,
                                                          results, time.time()))
        note = (f"<p role=\"status\">Đã lưu {len(results)} mục, {problems} vấn đề. "
                f"<span lang=\"en\">Saved {len(results)} items, {problems} problems.</span></p>")
        return HTMLResponse(await asyncio.to_thread(page, token, center, note),
                            headers={"Cache-Control": "no-store"})

    return api
