"""Citizens' reports on amenities: per-amenity QR tokens, a report turned into (or joined to) an
alert of source `citizen`, rate limits, the notification cap, and the SMS reply once resolved.
Pure checks first (phone, note, form nonce, photo), then the database shell."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from controller.amenities import PROBLEMS, Amenity, CitizenSettings, fault_code
from controller.config import CenterInfo, ControllerConfig
from controller.feed import StorePerThread
from controller.state import AlertKey, OpenAlert
from controller.store import AlertRow, Store

log = logging.getLogger("hcc.controller.citizen")
CITIZEN_AGENT = "citizen"  # the agent of citizen alerts: no box reports as it, the rules skip it
SOURCE_LABEL = "citizen"
TOKEN_BYTES = 16  # 128 bits: another amenity's code cannot be guessed
NONCE_VALID_S = 2 * 3600.0
PHOTO_MAX_SIDE = 1600
PHOTO_MAX_PIXELS = 40_000_000  # a phone's camera is below; a decompression bomb is not
HOUR_S = 3600.0



class ReportRefused(Exception):
    """A report that is not taken: `status` is the HTTP status, the text says why (vi / en)."""

    def __init__(self, status: int, field: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.field, self.vi, self.en = status, field, vi, en


# -- pure checks ------------------------------------------------------------------------------
# Vietnamese mobile numbers: 10 digits from 03, 05, 07, 08, 09 (or +84 / 84 instead of the 0).
_PHONE = re.compile(r"0[35789]\d{8}")


def normalize_phone(text: str) -> str | None:
    """'+84 912 345 678', '0912.345.678' -> '0912345678'; '' -> None; anything else: ValueError."""
    digits = re.sub(r"[\s.\-()]", "", text)
    if not digits:
        return None
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    if not _PHONE.fullmatch(digits):
        raise ValueError("not a Vietnamese mobile number")
    return digits


def clean_note(text: str, limit: int) -> str:
    """Plain text of at most `limit` characters: control and format characters dropped (no
    bidi tricks), whitespace folded. It is shown as text, never as HTML."""
    kept = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in text)
    folded = " ".join(unicodedata.normalize("NFC", kept).split())
    if len(folded) > limit:
        raise ValueError(f"at most {limit} characters")
    return folded


def make_nonce(key: bytes, token: str, now: float) -> str:
    """The form's one-time nonce: random (two phones loading the page in the same second get
    two), bound to this amenity's page and its time, signed."""
    issued, salt = str(int(now)), secrets.token_hex(8)
    mac = hmac.new(key, f"{token}|{issued}|{salt}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{issued}.{salt}.{mac}"


def nonce_ok(key: bytes, token: str, nonce: str, now: float) -> bool:
    parts = nonce.split(".")
    if len(parts) != 3:
        return False
    issued, salt, mac = parts
    if not issued.isdigit() or len(issued) > 12 or len(salt) != 16 or len(mac) != 32:
        return False
    want = hmac.new(key, f"{token}|{issued}|{salt}".encode(), hashlib.sha256).hexdigest()[:32]
    return hmac.compare_digest(want, mac) and 0 <= now - int(issued) <= NONCE_VALID_S


def strip_photo(data: bytes, max_bytes: int) -> bytes:
    """The photo re-encoded as a plain JPEG: no EXIF (GPS, phone model), no other metadata, at
    most PHOTO_MAX_SIDE pixels a side. Pillow decodes it (bounded: its decompression-bomb
    limit), and only the pixels are written back. ValueError when it is no image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > max_bytes:
        raise ValueError(f"a photo of at most {max_bytes // 1_000_000} MB")
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.format not in ("JPEG", "PNG", "WEBP", "GIF", "HEIF", "MPO"):
                raise ValueError("a JPEG, PNG or WebP photo")
            if img.width * img.height > PHOTO_MAX_PIXELS:  # read from the header: not decoded
                raise ValueError("a photo of at most 40 megapixels")
            upright = ImageOps.exif_transpose(img)  # the phone's rotation, then EXIF is gone
            pixels = upright.convert("RGB")
            pixels.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
            clean = Image.new("RGB", pixels.size)
            clean.paste(pixels)  # a new image: nothing of the original's info dict comes along
            out = io.BytesIO()
            clean.save(out, "JPEG", quality=80, optimize=True)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable photo ({type(exc).__name__})") from None


def reply_text(amenity_name: str) -> str:
    return f"Cam on ban da bao: {amenity_name} da duoc xu ly. Trung tam Phuc vu hanh chinh cong"


def address_hash(address: str) -> str:
    """Addresses are counted, not kept: the rate limit needs only to tell them apart."""
    return hashlib.sha256(f"hcc-citizen|{address}".encode()).hexdigest()[:32]


# -- the database shell --------------------------------------------------------------------------
def token_for(store: Store, center: str, amenity: str, *, rotate: bool = False) -> str:
    """The amenity's token, made on first use; `rotate` replaces it (old labels stop working)."""
    row = store.db.execute("SELECT token FROM amenity_tokens WHERE center=? AND amenity=?",
                           (center, amenity)).fetchone()
    if row is not None and not rotate:
        return str(row[0])
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with store.db.transaction():
        store.db.execute("DELETE FROM amenity_tokens WHERE center=? AND amenity=?",
                         (center, amenity))
        store.db.execute("INSERT INTO amenity_tokens VALUES (?,?,?,?)",
                         (center, amenity, token, time.time()))
    return token


def find_amenity(config: ControllerConfig, store: Store, token: str
                 ) -> tuple[CenterInfo, Amenity] | None:
    if not (10 <= len(token) <= 64) or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        return None
    row = store.db.execute("SELECT center, amenity FROM amenity_tokens WHERE token=?",
                           (token,)).fetchone()
    if row is None:
        return None
    return amenity_by_id(config, str(row[0]), str(row[1]))


def amenity_by_id(config: ControllerConfig, center: str, amenity: str
                  ) -> tuple[CenterInfo, Amenity] | None:
    for c in config.centers:
        if c.id == center:
            for a in c.amenities:
                if a.id == amenity:
                    return c, a
    return None


def form_key(store: Store) -> bytes:
    """The key that signs form nonces, shared by every controller on the database."""
    state = store.channel_state("citizen-form")
    if state is None or not isinstance(state.get("key"), str):
        state = store.first_channel_state("citizen-form", {"key": secrets.token_hex(32)},
                                          time.time())
    if not isinstance(state.get("key"), str):  # a damaged row: replace it
        state = {"key": secrets.token_hex(32)}
        store.set_channel_state("citizen-form", state, time.time())
    return bytes.fromhex(str(state["key"]))


def use_nonce(store: Store, nonce: str, now: float) -> bool:
    """True the first time a nonce is used; old ones are forgotten once they expired anyway."""
    with store.db.transaction():
        store.db.execute("DELETE FROM citizen_nonces WHERE used_at < ?", (now - NONCE_VALID_S,))
        row = store.db.execute("INSERT INTO citizen_nonces VALUES (?,?) ON CONFLICT DO NOTHING"
                               " RETURNING nonce", (nonce, now)).fetchone()
    return row is not None


@dataclass(frozen=True, kw_only=True)
class Report:
    center: CenterInfo
    amenity: Amenity
    problem: str
    note: str = ""
    phone: str | None = None
    photo_jpeg: bytes | None = None
    address: str = ""
    via: str = "qr"  # qr, or open311:<system>


@dataclass(frozen=True)
class Taken:
    report_id: int
    alert: AlertRow
    joined: bool  # it joined an alert that was open already
    off_hours: bool


def _recent(store: Store, where: str, args: Sequence[object]) -> int:
    row = store.db.execute(f"SELECT COUNT(*) FROM citizen_reports WHERE {where}", args).fetchone()
    return int(row[0])


def submit(store: Store, settings: CitizenSettings, report: Report, now: float) -> Taken:
    """Take a report: check the limits, join the amenity's open alert or open one, keep the
    report (note, phone, photo) beside it. ReportRefused says why not."""
    amenity = report.amenity
    if report.problem not in amenity.kind.problems:
        raise ReportRefused(422, "problem", "Hãy chọn một vấn đề trong danh sách.",
                            "Pick one of the problems listed.")
    who = address_hash(report.address)
    if _recent(store, "address_hash=? AND at > ?", (who, now - HOUR_S)) \
            >= settings.per_address_per_hour:
        raise ReportRefused(429, "address", "Bạn đã gửi nhiều báo cáo. Xin thử lại sau.",
                            "You sent many reports: please try again later.")
    if _recent(store, "center=? AND amenity=? AND at > ?",
               (amenity.center, amenity.id, now - HOUR_S)) >= settings.per_amenity_per_hour:
        raise ReportRefused(429, "amenity", "Tiện ích này đã được báo nhiều lần, nhân viên "
                            "đang xử lý.", "This amenity was reported many times already: "
                            "the staff are on it.")
    off_hours = not report.center.hours.is_open_ts(now)
    alert = _open_alert_of(store, amenity)
    joined = alert is not None
    if alert is None:
        key = AlertKey(center=amenity.center, agent=CITIZEN_AGENT, device=amenity.id,
                       code=fault_code(report.problem))
        labels = {"source": SOURCE_LABEL, "amenity": amenity.id, "amenity_type": amenity.type}
        if off_hours:
            labels["off_hours"] = "yes"
        opened = store.write([OpenAlert(key=key, severity="warning", device_name=amenity.name,
                                        params={"reports": 1}, at=now, labels=labels)])
        alert = opened[0].alert if opened else _open_alert_of(store, amenity)
        if alert is None:  # resolved at the very moment it opened: a new report is welcome
            raise ReportRefused(503, "", "Chưa ghi được, xin thử lại.", "Not saved: try again.")
        joined = not opened  # another report opened it at the same moment
    db = store.db
    with db.transaction():
        row = db.execute(
            "INSERT INTO citizen_reports (alert_id, center, amenity, problem, note, phone,"
            " has_photo, address_hash, at, off_hours, via, reply_state)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id",
            (alert.id, amenity.center, amenity.id, report.problem, report.note, report.phone,
             int(report.photo_jpeg is not None), who, now, int(off_hours), report.via,
             "waiting" if report.phone else "none")).fetchone()
        report_id = int(row[0])
        if report.photo_jpeg is not None:
            db.execute("INSERT INTO citizen_photos VALUES (?,?)",
                       (report_id, base64.b64encode(report.photo_jpeg).decode()))
        count = int(db.execute("SELECT COUNT(*) FROM citizen_reports WHERE alert_id=?",
                               (alert.id,)).fetchone()[0])
        if alert.agent == CITIZEN_AGENT:  # a device alert's params are its box's
            db.execute("UPDATE alerts SET params=? WHERE id=?",
                       (json.dumps({**alert.params, "reports": count}), alert.id))
        if joined:
            vi, en = PROBLEMS[report.problem]
            mark = " (ngoài giờ / off hours)" if off_hours else ""
            db.execute("INSERT INTO alert_events (alert_id, at, event, actor, note)"
                       " VALUES (?,?,'reported',?,?)",
                       (alert.id, now, "citizen", f"Người dân báo thêm: {vi} / {en}{mark} "
                                                  f"— {count} lượt báo"))
    return Taken(report_id, store.alert(alert.id), joined, off_hours)


def _open_alert_of(store: Store, amenity: Amenity) -> AlertRow | None:
    """The open alert a report on this amenity joins: its device's (the box saw it too: a
    confirmation), else the amenity's citizen alert."""
    if amenity.device is not None:
        rows = [r for r in store.alerts(center=amenity.center, device=amenity.device)
                if r.agent != CITIZEN_AGENT]
        if rows:
            return rows[0]
    rows = [r for r in store.alerts(center=amenity.center, device=amenity.id)
            if r.agent == CITIZEN_AGENT]
    return rows[0] if rows else None


def reports_of(store: Store, alert_id: int) -> list[dict[str, Any]]:
    """What the desk sees of an alert's reports (the phone number too)."""
    rows = store.db.execute(
        "SELECT id, problem, note, phone, has_photo, at, off_hours, via, reply_state, reply_at,"
        " reply_error FROM citizen_reports WHERE alert_id=? ORDER BY id", (alert_id,)).fetchall()
    return [{"id": int(r[0]), "problem": r[1], "problem_vi": PROBLEMS[r[1]][0],
             "problem_en": PROBLEMS[r[1]][1], "note": r[2], "phone": r[3],
             "photo": bool(r[4]), "at": float(r[5]), "off_hours": bool(r[6]), "via": r[7],
             "reply": r[8], "reply_at": r[9], "reply_error": r[10]} for r in rows]


def photo(store: Store, report_id: int) -> bytes | None:
    row = store.db.execute("SELECT jpeg_b64 FROM citizen_photos WHERE report_id=?",
                           (report_id,)).fetchone()
    return base64.b64decode(row[0]) if row is not None else None


class NotifyCap:
    """The hourly cap on messages to technicians about citizen alerts, per center: a flood of
    reports stays on the desk (grouped into alerts by amenity) and messages at most
    `per_hour` openings an hour; an alert whose opening was held back is not announced
    resolved either. Memory is bounded: a window of timestamps per center, a set of ids."""

    KEPT = 10_000

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self.sent: dict[str, list[float]] = {}
        self.held: dict[int, None] = {}  # insertion-ordered: the oldest forgotten first
        self.held_count: dict[str, int] = {}

    def allow(self, event: str, alert: AlertRow, now: float) -> bool:
        if alert.labels.get("source") != SOURCE_LABEL:
            return True
        if event != "opened":
            return alert.id not in self.held
        recent = [t for t in self.sent.get(alert.center, []) if now - t < HOUR_S]
        if len(recent) >= self.per_hour:
            self.held[alert.id] = None
            if len(self.held) > self.KEPT:
                del self.held[next(iter(self.held))]
            self.held_count[alert.center] = self.held_count.get(alert.center, 0) + 1
            self.sent[alert.center] = recent
            return False
        self.sent[alert.center] = [*recent, now]
        return True


def due_replies(store: Store) -> list[tuple[int, str, str]]:
    """(report id, phone, amenity name) of reporters waiting for a reply whose alert is
    resolved now."""
    return [(int(r[0]), str(r[1]), str(r[2])) for r in store.db.execute(
        "SELECT r.id, r.phone, a.device_name FROM citizen_reports r JOIN alerts a"
        " ON a.id = r.alert_id WHERE r.reply_state='waiting' AND a.state='resolved'"
        " ORDER BY r.id LIMIT 50").fetchall()]


def claim_reply(store: Store, report_id: int, now: float) -> bool:
    """Once per report, whichever controller gets there first."""
    with store.db.transaction():
        row = store.db.execute("UPDATE citizen_reports SET reply_state='sending', reply_at=?"
                               " WHERE id=? AND reply_state='waiting' RETURNING id",
                               (now, report_id)).fetchone()
    return row is not None


def reply_done(store: Store, report_id: int, error: str | None, now: float) -> None:
    with store.db.transaction():
        store.db.execute("UPDATE citizen_reports SET reply_state=?, reply_at=?, reply_error=?"
                         " WHERE id=?", ("failed" if error else "sent", now, error, report_id))


async def send_replies(stores: StorePerThread, config: ControllerConfig, http: Any) -> int:
    """Text every reporter whose alert was resolved, through the SMS receiver `reply_via`
    names (its gateway template). The number was given for this; it goes nowhere else.
    Database work in threads, the gateway on the loop. Returns how many were sent."""
    from controller.channels import sms

    via = config.citizen.reply_via
    receiver = next((r for r in config.notify.receivers if r.name == via), None)
    if receiver is None:
        return 0
    settings: sms.Settings = receiver.settings
    sent = 0
    for report_id, phone, name in await asyncio.to_thread(lambda: due_replies(stores.get())):
        if not await asyncio.to_thread(_claim, stores, report_id):
            continue
        text = sms.fit(reply_text(name), settings.unicode)
        error = None
        try:
            r = await http.request(**sms.request(settings, phone, text))
            if r.status_code >= 400:
                error = f"HTTP {r.status_code}"
            elif settings.ok_field is not None:
                reply = r.json()
                got = str(reply.get(settings.ok_field)) if isinstance(reply, dict) else None
                if got != settings.ok_value:
                    error = f"gateway refused: {settings.ok_field}={got}"
        except Exception as exc:  # noqa: BLE001 - a reply that failed is recorded, not retried
            error = type(exc).__name__
        await asyncio.to_thread(_done, stores, report_id, error)
        sent += error is None
    return sent


REPLY_EVERY_S = 5.0


def _claim(stores: StorePerThread, report_id: int) -> bool:
    return claim_reply(stores.get(), report_id, time.time())


def _done(stores: StorePerThread, report_id: int, error: str | None) -> None:
    reply_done(stores.get(), report_id, error, time.time())


async def reply_loop(stop: asyncio.Event, config: ControllerConfig,
                     stores: StorePerThread) -> None:
    """Inside `hcc-controller run`: the replies go out within seconds of a resolution, also
    after a restart (the waiting ones are in the database)."""
    import httpx

    from controller.channels.base import HTTP_TIMEOUT_S

    if config.citizen.reply_via is None:
        return
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S) as http:
        while not stop.is_set():
            try:
                await send_replies(stores, config, http)
            except Exception:  # a database moment must not end the replies
                log.exception("citizen replies failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), REPLY_EVERY_S)
