"""Open311 GeoReport v2 (JSON) over the citizens' reports: services (one per amenity type),
service requests posted by other systems (an api_key each) and read back with their status;
errors in the spec's format, an array of {code, description}."""

from __future__ import annotations

import asyncio
import math
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from controller import citizen
from controller.amenities import PROBLEMS, TYPES, Amenity
from controller.config import CenterInfo, ControllerConfig
from controller.feed import StorePerThread

PREFIX = "/open311/v2"
MAX_DESCRIPTION = 4000  # the spec's limit; ours (citizen.max_note) may be smaller
NEAREST_M = 2000.0  # a lat/long further than this from every center names none
MAX_BODY = 64_000
DEFAULT_DAYS = 90  # the spec: without dates, the last 90 days …
MAX_RESULTS = 1000  # … and at most 1000 requests


class Open311Error(BaseModel):
    code: int
    description: str


def _doc(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": list[Open311Error], "description": "GeoReport v2 errors"} for c in codes}


def errors(status: int, *items: tuple[int, str]) -> JSONResponse:
    return JSONResponse([{"code": code, "description": text} for code, text in items],
                        status_code=status)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine): centers are a few km apart, any formula would do."""
    la1, lo1, la2, lo2 = map(math.radians, (*a, *b))
    h = math.sin((la2 - la1) / 2) ** 2 + math.cos(la1) * math.cos(la2) * \
        math.sin((lo2 - lo1) / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(math.sqrt(h))


def service_json(type_id: str) -> dict[str, Any]:
    t = TYPES[type_id]
    return {"service_code": t.id, "service_name": f"{t.vi} / {t.en}",
            "description": "Vấn đề: " + ", ".join(PROBLEMS[p][0] for p in t.problems) +
                           " / Problems: " + ", ".join(PROBLEMS[p][1] for p in t.problems),
            "metadata": False, "type": "realtime", "keywords": ",".join(t.problems),
            "group": "hcc"}


def router(config: ControllerConfig, stores: StorePerThread) -> APIRouter:
    api = APIRouter(prefix=PREFIX, tags=["Open311 GeoReport v2"])
    settings = config.citizen
    centers = {c.id: c for c in config.centers}
    offered = [t for t in TYPES if any(a.type == t for c in config.centers for a in c.amenities)]

    def locate(form: dict[str, str], type_id: str) -> tuple[CenterInfo, Amenity] | str:
        """The amenity a request is about: address_id 'center/amenity', else the nearest
        center to lat/long and its first amenity of the service's type."""
        if form.get("address_id"):
            cid, _, aid = form["address_id"].partition("/")
            found = citizen.amenity_by_id(config, cid, aid)
            if found is None or found[1].type != type_id:
                return f"address_id {form['address_id']!r} is no amenity of {type_id!r}"
            return found
        try:
            here = (float(form["lat"]), float(form["long"]))
        except (KeyError, ValueError):
            return "a location is required: lat and long, or address_id (center/amenity)"
        if not (-90 <= here[0] <= 90 and -180 <= here[1] <= 180):
            return "lat and long out of range"
        near = sorted((metres(here, c.location), c) for c in config.centers
                      if c.location is not None and any(a.type == type_id for a in c.amenities))
        if not near or near[0][0] > NEAREST_M:
            return f"no center with a {type_id!r} within {NEAREST_M:.0f} m of that point"
        center = near[0][1]
        return center, next(a for a in center.amenities if a.type == type_id)

    def request_json(r: Any) -> dict[str, Any]:
        (rid, cid, aid, problem, note, at, via, state, resolved_at, last_at) = r
        center = centers.get(cid)
        amenity = citizen.amenity_by_id(config, cid, aid)
        type_id = amenity[1].type if amenity is not None else "other"
        closed = state == "resolved"
        own = str(via).startswith("open311:")  # a citizen's note on the QR page is not public
        return {
            "service_request_id": str(rid),
            "status": "closed" if closed else "open",
            "status_notes": "Đã xử lý / Fixed" if closed else None,
            "service_name": service_json(type_id)["service_name"],
            "service_code": type_id,
            "description": note if own and note else
            f"{PROBLEMS[problem][0]} / {PROBLEMS[problem][1]}",
            "agency_responsible": center.name if center is not None else cid,
            "service_notice": None,
            "requested_datetime": iso(float(at)),
            "updated_datetime": iso(float(resolved_at) if closed and resolved_at is not None
                                    else float(last_at)),
            "expected_datetime": None,
            "address": (f"{amenity[1].name}, {center.name}" if amenity and center else cid),
            "address_id": f"{cid}/{aid}",
            "zipcode": None,
            "lat": center.location[0] if center is not None and center.location else None,
            "long": center.location[1] if center is not None and center.location else None,
            "media_url": None,
        }

    SELECT = ("SELECT r.id, r.center, r.amenity, r.problem, r.note, r.at, r.via, a.state,"
              " a.resolved_at, (SELECT MAX(e.at) FROM alert_events e WHERE e.alert_id=a.id)"
              " FROM citizen_reports r JOIN alerts a ON a.id = r.alert_id")

    @api.get("/services.json", summary="One service per amenity type the centers have")
    def services(jurisdiction_id: str | None = None) -> list[dict[str, Any]]:
        return [service_json(t) for t in offered]

    @api.post("/requests.json", summary="Post a service request (form-encoded, api_key needed)",
              status_code=201, responses=_doc(400, 403, 413, 429, 503))
    async def post_request(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY:
            return errors(413, (413, "request too large"))
        try:
            raw = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=40)
        except (UnicodeDecodeError, ValueError):
            return errors(400, (400, "the body must be UTF-8 application/x-www-form-urlencoded"))
        form = {k: v[0] for k, v in raw.items()}
        who = settings.open311_keys.get(form.get("api_key", ""))
        if who is None:
            return errors(403, (403, "api_key is missing or not valid"))
        type_id = form.get("service_code", "")
        if type_id not in offered:
            return errors(400, (400, f"service_code {type_id!r} is not a service here: "
                                     f"GET {PREFIX}/services.json"))
        found = locate(form, type_id)
        if isinstance(found, str):
            return errors(400, (400, found))
        description = form.get("description", "")
        if len(description) > MAX_DESCRIPTION:
            return errors(400, (400, f"description: at most {MAX_DESCRIPTION} characters"))
        problem = form.get("attribute[problem]") or "other"
        if problem not in found[1].kind.problems:
            return errors(400, (400, f"attribute[problem] must be one of "
                                     f"{', '.join(found[1].kind.problems)}"))
        try:
            note = citizen.clean_note(description, settings.max_note)
            phone = citizen.normalize_phone(form.get("phone", "")[:40])
        except ValueError as exc:
            return errors(400, (400, f"description or phone: {exc}"))
        # one system posts for many people: its own limits count per person it names
        person = form.get("account_id") or form.get("device_id") or form.get("email") or ""
        report = citizen.Report(center=found[0], amenity=found[1], problem=problem, note=note,
                                phone=phone, photo_jpeg=None,
                                address=f"open311:{who}:{person[:100]}", via=f"open311:{who}"[:80])

        def take() -> citizen.Taken | citizen.ReportRefused:
            try:
                return citizen.submit(stores.get(), settings, report, time.time())
            except citizen.ReportRefused as exc:
                return exc

        taken = await asyncio.to_thread(take)
        if isinstance(taken, citizen.ReportRefused):
            return errors(taken.status, (taken.status, taken.en))
        notice = ("Ngoài giờ làm việc: sẽ xử lý khi trung tâm mở cửa / the center is closed: it "
                  "will be seen to when it opens") if taken.off_hours else None
        return JSONResponse([{"service_request_id": str(taken.report_id),
                              "service_notice": notice, "account_id": None}], status_code=201)

    @api.get("/requests.json", summary="Service requests, newest first (last 90 days by default)",
             responses=_doc(400))
    def get_requests(service_request_id: str | None = None, service_code: str | None = None,
                     start_date: str | None = None, end_date: str | None = None,
                     status: str | None = None, jurisdiction_id: str | None = None
                     ) -> JSONResponse:
        where: list[str] = []
        args: list[object] = []
        if service_request_id:
            ids = service_request_id.split(",")
            if len(ids) > MAX_RESULTS or not all(i.strip().isdigit() and len(i.strip()) < 19
                                                 for i in ids):
                return errors(400, (400, "service_request_id: comma-separated ids"))
            where.append(f"r.id IN ({','.join('?' for _ in ids)})")
            args += [int(i) for i in ids]
        else:
            try:
                end = _date(end_date) if end_date else time.time()
                start = _date(start_date) if start_date else end - DEFAULT_DAYS * 86400
            except ValueError:
                return errors(400, (400, "start_date and end_date: ISO 8601 with a time zone, "
                                         "e.g. 2026-12-01T00:00:00+07:00"))
            where += ["r.at >= ?", "r.at <= ?"]
            args += [start, end]
        if status:
            wanted = set(status.split(","))
            if not wanted <= {"open", "closed"}:
                return errors(400, (400, "status: open, closed or open,closed"))
            if wanted == {"open"}:
                where.append("a.state != 'resolved'")
            elif wanted == {"closed"}:
                where.append("a.state = 'resolved'")
        if service_code:
            aids = [(c.id, a.id) for c in config.centers for a in c.amenities
                    if a.type == service_code]
            if not aids:
                return JSONResponse([])
            where.append("(" + " OR ".join("(r.center=? AND r.amenity=?)" for _ in aids) + ")")
            args += [x for pair in aids for x in pair]
        rows = stores.get().db.execute(
            f"{SELECT} WHERE {' AND '.join(where)} ORDER BY r.id DESC LIMIT {MAX_RESULTS}",
            args).fetchall()
        return JSONResponse([request_json(r) for r in rows])

    @api.get("/requests/{request_id}.json", summary="One service request",
             responses=_doc(404))
    def get_request(request_id: str, jurisdiction_id: str | None = None) -> JSONResponse:
        if not request_id.isdigit() or len(request_id) > 18:
            return errors(404, (404, f"no service request {request_id!r}"))
        row = stores.get().db.execute(f"{SELECT} WHERE r.id = ?", (int(request_id),)).fetchone()
        if row is None:
            return errors(404, (404, f"no service request {request_id}"))
        return JSONResponse([request_json(row)])

    return api


def _date(text: str) -> float:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("a time zone is required")
    return when.timestamp()
