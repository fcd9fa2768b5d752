"""The citizens' phone page at /r/<token> (no sign-in, a plain HTML form that works without JS
under the strict CSP) and the desk's view of the reports (phone numbers and photos: a token)."""

from __future__ import annotations

import asyncio
import html
import time
from importlib import resources
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Header, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel

from controller import authz, citizen
from controller.amenities import PROBLEMS, Amenity
from controller.auth import Guard
from controller.config import CenterInfo, ControllerConfig
from controller.feed import StorePerThread
from controller.store import AlertNotFound

Id = Annotated[int, Path(ge=1, le=2**63 - 1)]


class Problem(BaseModel):
    detail: str


def _doc(**codes: str) -> dict[int | str, dict[str, Any]]:
    return {int(k[1:]): {"model": Problem, "description": v} for k, v in codes.items()}
FORM_OVERHEAD = 64_000  # the form's other fields and the multipart framing, beside the photo


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _page(title_vi: str, title_en: str, body: str) -> str:
    return ("<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{_e(title_vi)} · {_e(title_en)}</title>"
            "<link rel=\"stylesheet\" href=\"/r/static/citizen.css\"></head><body><main>"
            f"<h1>{_e(title_vi)} <span lang=\"en\">{_e(title_en)}</span></h1>{body}"
            "</main></body></html>")


def form_html(token: str, center: CenterInfo, amenity: Amenity, nonce: str, max_note: int,
              max_photo_mb: int, error: tuple[str, str] | None = None) -> str:
    where = f" — {amenity.place}" if amenity.place else ""
    parts = [f"<p class=\"what\">{_e(amenity.name)}{_e(where)}<br>"
             f"<small>{_e(center.name)}</small></p>"]
    if error is not None:
        parts.append(f"<p class=\"error\" role=\"alert\">{_e(error[0])} "
                     f"<span lang=\"en\">{_e(error[1])}</span></p>")
    parts.append(f"<form method=\"post\" action=\"/r/{_e(token)}\" "
                 "enctype=\"multipart/form-data\">"
                 f"<input type=\"hidden\" name=\"nonce\" value=\"{_e(nonce)}\">"
                 "<fieldset><legend>Vấn đề gì? <span lang=\"en\">What is wrong?</span></legend>")
    for i, pid in enumerate(amenity.kind.problems):
        vi, en = PROBLEMS[pid]
        parts.append(f"<label class=\"choice\"><input type=\"radio\" name=\"problem\" "
                     f"value=\"{_e(pid)}\"{' required' if i == 0 else ''}> {_e(vi)} "
                     f"<span lang=\"en\">{_e(en)}</span></label>")
    parts.append(
        "</fieldset>"
        "<label for=\"note\">Ghi chú (không bắt buộc) <span lang=\"en\">Note (optional)</span>"
        f"</label><textarea id=\"note\" name=\"note\" rows=\"3\" maxlength=\"{max_note}\">"
        "</textarea>"
        f"<label for=\"photo\">Ảnh (không bắt buộc, tối đa {max_photo_mb} MB) "
        "<span lang=\"en\">Photo (optional)</span></label>"
        "<input type=\"file\" id=\"photo\" name=\"photo\" accept=\"image/jpeg,image/png,"
        "image/webp\">"
        "<label for=\"phone\">Số điện thoại để nhận tin khi đã xử lý (không bắt buộc) "
        "<span lang=\"en\">Phone number for a reply when fixed (optional)</span></label>"
        "<input type=\"tel\" id=\"phone\" name=\"phone\" inputmode=\"tel\" autocomplete=\"tel\" "
        "maxlength=\"20\" placeholder=\"09xx xxx xxx\">"
        "<button type=\"submit\">Gửi báo cáo <span lang=\"en\">Send</span></button></form>"
        "<p class=\"small\">Không cần đăng nhập. Số điện thoại chỉ dùng để báo lại cho bạn. "
        "<span lang=\"en\">No sign-in. Your number is used only to tell you it is fixed."
        "</span></p>")
    return _page("Báo sự cố", "Report a problem", "".join(parts))


def thanks_html(amenity: Amenity, off_hours: bool, phone: bool) -> str:
    body = (f"<p class=\"what\">{_e(amenity.name)}</p><p role=\"status\">Đã nhận báo cáo của "
            "bạn, nhân viên sẽ xử lý. <span lang=\"en\">Your report was received: the staff "
            "will see to it.</span></p>")
    if off_hours:
        body += ("<p>Trung tâm đang ngoài giờ làm việc: việc sửa sẽ bắt đầu khi mở cửa. "
                 "<span lang=\"en\">The center is closed now: it will be seen to when it "
                 "opens.</span></p>")
    if phone:
        body += ("<p>Bạn sẽ nhận tin nhắn khi đã xử lý xong. <span lang=\"en\">You will get "
                 "a message when it is fixed.</span></p>")
    return _page("Cảm ơn bạn", "Thank you", body)


def router(config: ControllerConfig, stores: StorePerThread, guard: Guard) -> APIRouter:
    """The phone page and form (anonymous: the QR token is the key), and what the desk reads
    of the reports (accounts, scopes: controller/authz.py's one rule)."""
    api = APIRouter()
    settings = config.citizen
    css = (resources.files("controller") / "web" / "citizen.css").read_text(encoding="utf-8")

    def not_found() -> HTTPException:
        return HTTPException(404, "Mã QR này không còn dùng được / this code is no longer valid")

    def form_response(token: str, found: tuple[CenterInfo, Amenity],
                      error: tuple[str, str] | None = None, status: int = 200) -> HTMLResponse:
        store = stores.get()
        nonce = citizen.make_nonce(citizen.form_key(store), token, time.time())
        return HTMLResponse(form_html(token, *found, nonce, settings.max_note,
                                      settings.max_photo_bytes // 1_000_000, error),
                            status_code=status, headers={"Cache-Control": "no-store"})

    @api.get("/r/static/citizen.css", include_in_schema=False)
    def style() -> Response:
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=86400"})

    @api.get("/r/{token}", response_class=HTMLResponse, include_in_schema=False)
    def report_page(token: str) -> HTMLResponse:
        found = citizen.find_amenity(config, stores.get(), token)
        if found is None:
            raise not_found()
        return form_response(token, found)

    @api.post("/r/{token}", response_class=HTMLResponse, include_in_schema=False)
    async def report_post(token: str, request: Request,
                          content_length: Annotated[int | None, Header()] = None,
                          origin: Annotated[str | None, Header()] = None) -> HTMLResponse:
        # The body is bounded before it is read: the photo's limit plus the form around it.
        if content_length is None:
            raise HTTPException(411, "Content-Length is needed")
        if content_length > settings.max_photo_bytes + FORM_OVERHEAD:
            raise HTTPException(413, f"Ảnh quá lớn / photo too large (max "
                                     f"{settings.max_photo_bytes // 1_000_000} MB)")
        # Another site's page cannot post for a visitor: the browser's Origin names it.
        if origin is not None and origin != "null" and \
                urlsplit(origin).netloc != request.headers.get("host", ""):
            raise HTTPException(403, "a report is sent from its own page")
        found = await asyncio.to_thread(lambda: citizen.find_amenity(config, stores.get(), token))
        if found is None:
            raise not_found()
        form = await request.form(max_files=1, max_fields=8, max_part_size=16_384)
        now = time.time()

        def field(name: str) -> str:
            value = form.get(name)
            return value if isinstance(value, str) else ""

        nonce = field("nonce")
        key = await asyncio.to_thread(lambda: citizen.form_key(stores.get()))
        if not citizen.nonce_ok(key, token, nonce, now):
            return await asyncio.to_thread(form_response, token, found, (
                "Trang đã cũ, xin gửi lại.", "The page was old: please send again."), 400)
        try:
            note = citizen.clean_note(field("note"), settings.max_note)
        except ValueError:
            return await asyncio.to_thread(form_response, token, found, (
                f"Ghi chú tối đa {settings.max_note} ký tự.",
                f"A note of at most {settings.max_note} characters."), 422)
        try:
            phone = citizen.normalize_phone(field("phone")[:40])
        except ValueError:
            return await asyncio.to_thread(form_response, token, found, (
                "Số điện thoại chưa đúng (ví dụ 0912 345 678).",
                "That phone number is not right (e.g. 0912 345 678)."), 422)
        jpeg = None
        upload = form.get("photo")
        if upload is not None and not isinstance(upload, str) and upload.filename:
            data = await upload.read(settings.max_photo_bytes + 1)
            if data:
                try:
                    jpeg = await asyncio.to_thread(citizen.strip_photo, data,
                                                   settings.max_photo_bytes)
                except ValueError:
                    return await asyncio.to_thread(form_response, token, found, (
                        f"Ảnh không đọc được hoặc quá {settings.max_photo_bytes // 1_000_000}"
                        " MB.", "The photo could not be read, or is too large."), 422)
        report = citizen.Report(
            center=found[0], amenity=found[1], problem=field("problem"), note=note, phone=phone,
            photo_jpeg=jpeg, address=request.client.host if request.client is not None else "")

        def take() -> citizen.Taken | citizen.ReportRefused:
            store = stores.get()
            if not citizen.use_nonce(store, nonce, now):
                return citizen.ReportRefused(409, "nonce", "Báo cáo này đã được gửi.",
                                             "This report was sent already.")
            try:
                return citizen.submit(store, settings, report, now)
            except citizen.ReportRefused as exc:
                return exc

        taken = await asyncio.to_thread(take)
        if isinstance(taken, citizen.ReportRefused):
            return await asyncio.to_thread(form_response, token, found, (taken.vi, taken.en),
                                           taken.status)
        return HTMLResponse(thanks_html(found[1], taken.off_hours, phone is not None),
                            headers={"Cache-Control": "no-store"})

    @api.get("/api/v1/alerts/{alert_id}/citizen-reports",
             summary="What citizens reported on an alert; phone numbers only with a token",
             responses=_doc(_401="A bearer token is needed (read_open is off).",
                            _404="No such alert."))
    def reports(alert_id: Id, request: Request) -> list[dict[str, Any]]:
        who = guard.reader(request)
        store = stores.get()
        try:
            alert = store.alert(alert_id)
        except AlertNotFound:
            raise HTTPException(404, f"no alert {alert_id}") from None
        guard.check(who, "read", alert.center, f"no alert {alert_id}")
        rows = citizen.reports_of(store, alert_id)
        # a citizen's number is for the desk only (it calls back), never a ward's viewer
        desk = authz.RANK[who.role] >= authz.RANK["desk"]
        return rows if desk else [{**r, "phone": None} for r in rows]

    @api.get("/api/v1/citizen-reports/{report_id}/photo", response_class=Response,
             summary="A report's photo (JPEG, metadata stripped); signed in, within scope",
             responses=_doc(_401="Sign in, or give a valid bearer token.",
                            _404="No photo for that report."))
    def report_photo(report_id: Id, request: Request) -> Response:
        who = guard.signed_in(request)
        store = stores.get()
        row = store.db.execute("SELECT center FROM citizen_reports WHERE id=?",
                               (report_id,)).fetchone()
        if row is None:
            raise HTTPException(404, f"no photo for report {report_id}")
        guard.check(who, "read", str(row[0]), f"no photo for report {report_id}")
        data = citizen.photo(store, report_id)
        if data is None:
            raise HTTPException(404, f"no photo for report {report_id}")
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @api.get("/api/v1/citizen-figures", summary="Citizens' reports of a month for the monthly "
             "report: by amenity type and center, time to resolution, unseen by sensors",
             responses=_doc(_400="A month not understood.",
                            _401="A bearer token is needed (read_open is off)."))
    def figures(request: Request, month: str, center: str | None = None) -> dict[str, Any]:
        from dataclasses import asdict

        from controller import citizen_report
        from controller.report import month_period

        who = guard.reader(request)
        if center is not None:
            guard.check(who, "read", center)
        elif not who.all_centers:
            raise HTTPException(404, "give center=: you see only your own centers")
        try:
            period = month_period(month, config.reports.timezone)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        types = {(c.id, a.id): a.type for c in config.centers for a in c.amenities}
        rows = citizen_report.citizen_rows(stores.get(), period.start, period.end, types,
                                           [center] if center else None)
        return {"month": period.label, **asdict(citizen_report.figures(rows))}

    return api
