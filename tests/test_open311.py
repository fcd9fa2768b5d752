"""Open311 GeoReport v2, tested from the spec (wiki.open311.org/GeoReport_v2): GET services,
POST a request (api_key; one location: lat/long or address_id), GET requests and one request,
statuses open/closed, ISO 8601 times with a zone, and errors as an array of {code, description}."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from citizen_site import OPEN311_KEY, Site, start

# The fields the spec lists for a service and for a service request (GET requests).
SERVICE_FIELDS = {"service_code", "service_name", "description", "metadata", "type", "keywords",
                  "group"}
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"}
W3C_DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from start(tmp_path, per_address=100)


def is_spec_error(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert isinstance(body, list) and body
    for e in body:
        assert set(e) == {"code", "description"}
        assert isinstance(e["code"], int) and isinstance(e["description"], str)
        assert e["description"]


def post(site: Site, **fields: str) -> httpx.Response:
    return httpx.post(f"{site.url}/open311/v2/requests.json", data=fields, timeout=30)


def test_services_one_per_amenity_type(site: Site) -> None:
    r = httpx.get(f"{site.url}/open311/v2/services.json", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert {s["service_code"] for s in services} == {"water", "signage", "printer", "charger"}
    for s in services:
        assert set(s) == SERVICE_FIELDS
        assert s["type"] in ("realtime", "batch", "blackbox")
        assert isinstance(s["metadata"], bool)


def test_post_needs_a_valid_api_key(site: Site) -> None:
    fields = {"service_code": "water", "lat": "10.7769", "long": "106.7009"}
    is_spec_error(post(site, **fields), 403)
    is_spec_error(post(site, api_key="wrong-key-0000000000", **fields), 403)
    assert httpx.get(f"{site.url}/open311/v2/requests.json", timeout=30).json() == []


@pytest.mark.parametrize("fields", [
    {"lat": "10.7769", "long": "106.7009"},  # no service_code
    {"service_code": "pothole", "lat": "10.7769", "long": "106.7009"},  # not a service here
    {"service_code": "water"},  # no location
    {"service_code": "water", "lat": "abc", "long": "106.7009"},
    {"service_code": "water", "lat": "95", "long": "106.7009"},
    {"service_code": "water", "lat": "21.0285", "long": "105.8542"},  # Hà Nội: no center near
    {"service_code": "water", "address_id": "q1/printer-2"},  # not a water amenity
    {"service_code": "water", "address_id": "q1/water-lobby", "description": "x" * 4001},
    {"service_code": "water", "address_id": "q1/water-lobby", "phone": "12"},
    {"service_code": "water", "address_id": "q1/water-lobby", "attribute[problem]": "paper_jam"},
])
def test_post_errors_in_the_spec_format(site: Site, fields: dict[str, str]) -> None:
    is_spec_error(post(site, api_key=OPEN311_KEY, **fields), 400)
    assert httpx.get(f"{site.url}/open311/v2/requests.json", timeout=30).json() == []


def test_a_request_posted_by_location_then_read_open_and_closed(site: Site) -> None:
    r = post(site, api_key=OPEN311_KEY, service_code="water", lat="10.7770", long="106.7010",
             description="Bình nước trống", **{"attribute[problem]": "out_of_water"},
             email="a@example.org")
    assert r.status_code == 201, r.text
    [created] = r.json()
    assert {"service_request_id", "service_notice", "account_id"} <= set(created)
    rid = created["service_request_id"]
    assert isinstance(rid, str) and rid
    r2 = post(site, api_key=OPEN311_KEY, service_code="signage", address_id="q1/braille-3",
              device_id="phone-7")
    assert r2.status_code == 201
    rid2 = r2.json()[0]["service_request_id"]

    [one] = httpx.get(f"{site.url}/open311/v2/requests/{rid}.json", timeout=30).json()
    assert set(one) == REQUEST_FIELDS
    assert one["service_request_id"] == rid and one["status"] == "open"
    assert one["service_code"] == "water" and one["description"] == "Bình nước trống"
    assert (one["lat"], one["long"]) == (10.7769, 106.7009)  # the center's, from controller.yaml
    assert one["address_id"] == "q1/water-lobby"
    assert W3C_DATETIME.fullmatch(one["requested_datetime"])
    assert W3C_DATETIME.fullmatch(one["updated_datetime"])

    # the desk sees it as an alert of source citizen, and resolves it: closed in Open311
    alerts = httpx.get(f"{site.url}/api/v1/alerts", timeout=30).json()
    water = next(a for a in alerts if a["device"] == "water-lobby")
    assert water["labels"]["source"] == "citizen"
    httpx.post(f"{site.url}/api/v1/alerts/{water['id']}/resolve", headers=site.desk(),
               json={"note": "đã thay bình"}, timeout=30).raise_for_status()
    [one] = httpx.get(f"{site.url}/open311/v2/requests/{rid}.json", timeout=30).json()
    assert one["status"] == "closed" and one["status_notes"]

    every = httpx.get(f"{site.url}/open311/v2/requests.json", timeout=30).json()
    assert {x["service_request_id"] for x in every} == {rid, rid2}
    for x in every:
        assert set(x) == REQUEST_FIELDS and x["status"] in ("open", "closed")

    def ids(**params: str) -> set[str]:
        r = httpx.get(f"{site.url}/open311/v2/requests.json", params=params, timeout=30)
        assert r.status_code == 200, r.text
        return {x["service_request_id"] for x in r.json()}

    assert ids(status="closed") == {rid}
    assert ids(status="open") == {rid2}
    assert ids(status="open,closed") == {rid, rid2}
    assert ids(service_code="signage") == {rid2}
    assert ids(service_request_id=f"{rid},{rid2}") == {rid, rid2}
    assert ids(start_date="2000-01-01T00:00:00Z", end_date="2000-02-01T00:00:00+07:00") == set()
    is_spec_error(httpx.get(f"{site.url}/open311/v2/requests.json",
                            params={"status": "pending"}, timeout=30), 400)
    is_spec_error(httpx.get(f"{site.url}/open311/v2/requests.json",
                            params={"start_date": "yesterday"}, timeout=30), 400)


def test_an_unknown_request_is_a_404_in_the_spec_format(site: Site) -> None:
    for rid in ("999", "abc", "1" * 25):
        is_spec_error(httpx.get(f"{site.url}/open311/v2/requests/{rid}.json", timeout=30), 404)


def test_a_citizens_note_from_the_qr_page_is_not_published(site: Site) -> None:
    from citizen_site import post_report

    token = site.token("q1", "water-lobby")
    assert post_report(site, token, "out_of_water", note="Số tôi 0912345678",
                       phone="0912345678").status_code == 200
    [x] = httpx.get(f"{site.url}/open311/v2/requests.json", timeout=30).json()
    assert "0912345678" not in str(x)
    assert x["description"] == "Hết nước / Out of water"
