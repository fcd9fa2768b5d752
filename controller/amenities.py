"""A center's amenities (networked or not) as controller.yaml declares them: the fixed vocabulary of
amenity types with their Vietnamese/English names and the problems a citizen may report on each,
and the parser into frozen typed objects (errors name file:line and the key)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time

from hcc_common import wire
from hcc_common.yamlconf import ANY_KEYS, Node

# A problem a citizen (or the staff) can pick: its id is also the fault code's tail,
# citizen.<id>, whose vi/en text lives in hcc_common/faults.py.
PROBLEMS: Mapping[str, tuple[str, str]] = {
    "out_of_water": ("Hết nước", "Out of water"),
    "out_of_stock": ("Hết đồ", "Nothing left"),
    "out_of_paper": ("Hết giấy", "Out of paper"),
    "tray_full": ("Khay giấy bị đầy", "Output tray full"),
    "paper_jam": ("Kẹt giấy", "Paper jam"),
    "no_charge": ("Không sạc được", "Does not charge"),
    "wifi_no_connect": ("Wi-Fi không vào được", "Cannot join the Wi-Fi"),
    "screen_broken": ("Màn hình hỏng", "Screen broken"),
    "not_working": ("Không hoạt động", "Not working"),
    "stuck": ("Bị kẹt, đứng yên", "Stuck, not moving"),
    "broken": ("Bị hỏng, gãy", "Broken"),
    "dirty": ("Bẩn, cần dọn", "Dirty, needs cleaning"),
    "missing": ("Bị mất, không thấy", "Missing"),
    "other": ("Vấn đề khác", "Something else"),
}


@dataclass(frozen=True)
class AmenityType:
    id: str
    vi: str
    en: str
    problems: tuple[str, ...]  # keys of PROBLEMS, in the order the page offers them


def _t(tid: str, vi: str, en: str, *problems: str) -> AmenityType:
    return AmenityType(tid, vi, en, (*problems, "other"))


TYPES: Mapping[str, AmenityType] = {t.id: t for t in (
    _t("water", "Nước uống", "Drinking water", "out_of_water", "dirty", "broken"),
    _t("snacks", "Đồ ăn nhẹ", "Snacks", "out_of_stock", "dirty"),
    _t("seating", "Ghế, bàn", "Seats and tables", "broken", "dirty", "missing"),
    _t("plant", "Cây xanh", "Plants", "dirty", "broken"),
    _t("signage", "Bảng chỉ dẫn", "Sign board", "broken", "missing"),
    _t("accessibility", "Hỗ trợ người khuyết tật", "Aid for people with disabilities",
       "broken", "missing", "not_working"),
    _t("forms", "Biểu mẫu in sẵn", "Printed forms", "out_of_stock", "missing"),
    _t("charger", "Trạm sạc điện thoại", "Phone charger", "no_charge", "broken"),
    _t("reading_aid", "Máy đọc, kính lúp", "Reading aid", "not_working", "broken", "missing"),
    _t("printer", "Máy in", "Printer", "out_of_paper", "paper_jam", "tray_full", "not_working"),
    _t("kiosk", "Ki-ốt tra cứu", "Kiosk", "screen_broken", "not_working"),
    _t("screen", "Màn hình gọi số", "Queue display", "screen_broken", "not_working"),
    _t("robot", "Robot lễ tân", "Reception robot", "stuck", "not_working", "screen_broken"),
    _t("wifi", "Wi-Fi cho công dân", "Wi-Fi for citizens", "wifi_no_connect"),
    _t("other", "Tiện ích khác", "Other amenity", "not_working", "broken"),
)}


def fault_code(problem: str) -> str:
    return f"citizen.{problem}"


@dataclass(frozen=True, kw_only=True)
class Amenity:
    id: str
    center: str
    type: str  # a key of TYPES
    name: str  # "Nước uống – sảnh chờ"
    place: str = ""
    device: str | None = None  # a networked amenity: the device id its box reports

    @property
    def kind(self) -> AmenityType:
        return TYPES[self.type]

    @property
    def networked(self) -> bool:
        return self.device is not None


MAX_NAME = 120


def parse_amenities(node: Node, center: str) -> tuple[Amenity, ...]:
    """A center's `amenities:` list."""
    out: list[Amenity] = []
    seen: set[str] = set()
    for item in node.as_list():
        m = item.as_mapping(("id", "type", "name", "place", "device"))
        aid = m.require("id").as_str()
        if not wire.valid_id(aid):
            raise m.require("id").error(f"{aid!r} is not a valid amenity id (letters, digits, "
                                        "- and _)")
        if aid in seen:
            raise m.require("id").error(f"amenity {aid!r} listed twice in center {center!r}")
        seen.add(aid)
        tnode = m.require("type")
        tid = tnode.as_str()
        if tid not in TYPES:
            raise tnode.error(f"unknown amenity type {tid!r}; one of: {', '.join(TYPES)}")
        name = m.require("name").as_str().strip()
        if not name or len(name) > MAX_NAME:
            raise m.require("name").error(f"a name of 1 to {MAX_NAME} characters")
        device = None
        if (dn := m.get("device")) is not None:
            device = dn.as_str()
            if not wire.valid_id(device):
                raise dn.error(f"{device!r} is not a valid device id")
        place = m.get("place")
        out.append(Amenity(id=aid, center=center, type=tid, name=name,
                           place=place.as_str() if place is not None else "", device=device))
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class CitizenSettings:
    """controller.yaml's `citizen:`: limits on anonymous reports, the reply channel, Open311 keys."""

    per_address_per_hour: int = 6     # reports one address may send (a hall's Wi-Fi is shared)
    per_amenity_per_hour: int = 30    # reports one amenity may take, from anyone
    notify_per_center_per_hour: int = 4  # citizen alerts that may message the technicians
    reply_via: str | None = None      # a notify receiver of kind sms: the reply when resolved
    # Open311 POST: api_key -> the system that holds it (the city's feedback app)
    open311_keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    max_note: int = 500
    max_photo_bytes: int = 5_000_000
    # the opening checklist not finished by this local time (on an open day) is a gentle
    # warning to the desk; None: no warning
    checklist_by: time | None = time(9, 0)


def parse_citizen(node: Node | None, env: Mapping[str, str],
                  sms_receivers: frozenset[str] = frozenset()) -> CitizenSettings:
    if node is None:
        return CitizenSettings()
    m = node.as_mapping(("per_address_per_hour", "per_amenity_per_hour",
                         "notify_per_center_per_hour", "reply_via", "open311_keys", "max_note",
                         "max_photo_bytes", "checklist_by"))
    d = CitizenSettings()

    def num(key: str, default: int, lo: int, hi: int) -> int:
        n = m.get(key)
        return n.as_int(lo, hi) if n is not None else default

    keys: dict[str, str] = {}
    if (kn := m.get("open311_keys")) is not None:
        km = kn.as_mapping(ANY_KEYS)
        for who in km:
            value = km.require(who).as_str()
            if value.startswith("env:"):
                if value[4:] not in env:
                    raise km.require(who).error(f"environment variable {value[4:]} is not set")
                value = env[value[4:]]
            if len(value) < 16:
                raise km.require(who).error("an API key of at least 16 characters")
            keys[value] = who
    via = m.get("reply_via")
    if via is not None and via.as_str() not in sms_receivers:
        raise via.error(f"{via.as_str()!r} is not a notify receiver of kind sms "
                        f"(those: {', '.join(sorted(sms_receivers)) or 'none'})")
    return CitizenSettings(
        per_address_per_hour=num("per_address_per_hour", d.per_address_per_hour, 1, 10_000),
        per_amenity_per_hour=num("per_amenity_per_hour", d.per_amenity_per_hour, 1, 100_000),
        notify_per_center_per_hour=num("notify_per_center_per_hour",
                                       d.notify_per_center_per_hour, 0, 10_000),
        reply_via=via.as_str() if via is not None else None, open311_keys=keys,
        max_note=num("max_note", d.max_note, 1, 2000),
        max_photo_bytes=num("max_photo_bytes", d.max_photo_bytes, 10_000, 20_000_000),
        checklist_by=_clock(m.get("checklist_by"), d.checklist_by))


def _clock(node: Node | None, default: time | None) -> time | None:
    """'09:00' (the center's local time), or off."""
    if node is None:
        return default
    text = node.as_str().strip()
    if text.lower() == "off":
        return None
    found = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", text)
    if found is None:
        raise node.error(f"{text!r} is not a time of day: write e.g. 09:00, or off")
    return time(int(found.group(1)), int(found.group(2)))
