"""A controller with amenities served by real uvicorn on loopback, its SMS gateway fake, for the
citizens' report tests (tests/test_citizen.py, tests/test_citizen_web.py)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from conftest import cli_account
from controller import config as config_mod
from controller.config import ControllerConfig
from controller.feed import StorePerThread
from controller.store import Store
from lab.procs import free_port, wait_tcp
from lab.providers import FakeSmsGateway

TOKEN = "desk-token-0123456789"
OPEN311_KEY = "city-app-key-0123456789"
SMS_KEY = "SMS-KEY-1"

YAML = """\
db: {db}
http:
  listen: 127.0.0.1:{port}
  public_url: http://127.0.0.1:{port}
  tokens: {{desk: {token}}}
  read_open: true   # the desk page reads without signing in here; writes use the token
notify:
  group_wait: 1s
  receivers:
    - name: sms-gw
      sms:
        url: {sms}/api/send
        secret: {sms_key}
        fields: {{ApiKey: "{{secret}}", Phone: "{{phone}}", Content: "{{text}}",
                  Brandname: HCC-HANOI, SmsType: "2"}}
        ok: {{field: CodeResult, equals: "100"}}
citizen:
  reply_via: sms-gw
  per_address_per_hour: {per_address}
  per_amenity_per_hour: {per_amenity}
  max_photo_bytes: 2000000
  open311_keys: {{city-app: {open311_key}}}
centers:
  - id: q1
    name: "Trung tâm Quận 1"
    lat: 10.7769
    long: 106.7009
    opening_hours: {{mon-sun: "00:00-23:59"}}
    amenities:
      - {{id: water-lobby, type: water, name: "Nước uống – sảnh chờ", place: "Sảnh chờ"}}
      - {{id: braille-3, type: signage, name: "Bảng chữ nổi – quầy 3", place: "Quầy 3"}}
      - {{id: printer-2, type: printer, name: "Máy in quầy 2", device: printer-2}}
      - {{id: charger-1, type: charger, name: "Trạm sạc – sảnh"}}
  - id: q3
    name: "Trung tâm Quận 3"
    lat: 10.7840
    long: 106.6860
    opening_hours: {{}}
    amenities:
      - {{id: water-1, type: water, name: "Nước uống – tầng 1"}}
"""


@dataclass
class Site:
    url: str
    config: ControllerConfig
    stores: StorePerThread
    sms: FakeSmsGateway
    path: Path

    @property
    def store(self) -> Store:
        return self.stores.get()

    def token(self, center: str, amenity: str) -> str:
        from controller import citizen

        return citizen.token_for(self.store, center, amenity)

    def desk(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"}


def start(tmp: Path, per_address: int = 6, per_amenity: int = 30) -> Iterator[Site]:
    import uvicorn

    from controller.api import create_app

    sms = FakeSmsGateway(SMS_KEY, "HCC-HANOI")
    port = free_port()
    path = tmp / "controller.yaml"
    path.write_text(YAML.format(db=tmp / "c.db", port=port, token=TOKEN, sms=sms.url,
                                sms_key=SMS_KEY, per_address=per_address,
                                per_amenity=per_amenity, open311_key=OPEN311_KEY),
                    encoding="utf-8")
    cfg = config_mod.load(path)
    stores = StorePerThread(cfg.db)
    Store(cfg.db)  # the schema
    cli_account(cfg.db)  # the CLI (qr) acts as the tests' admin
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, stores, None), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(port, 15)
    try:
        yield Site(f"http://127.0.0.1:{port}", cfg, stores, sms, path)
    finally:
        server.should_exit = True
        thread.join(10)
        sms.stop()


NONCE = re.compile(r'name="nonce" value="([^"]+)"')


def post_report(site: Site, token: str, problem: str, *, phone: str = "", note: str = "",
                photo: bytes | None = None, headers: dict[str, str] | None = None
                ) -> httpx.Response:
    """As the browser does: load the page (its nonce), post the form as multipart."""
    page = httpx.get(f"{site.url}/r/{token}", timeout=30)
    assert page.status_code == 200, page.text
    found = NONCE.search(page.text)
    assert found is not None
    files = {"photo": ("p.jpg", photo, "image/jpeg")} if photo is not None else \
        {"photo": ("", b"", "application/octet-stream")}
    return httpx.post(f"{site.url}/r/{token}", timeout=30, headers=headers or {},
                      data={"nonce": found.group(1), "problem": problem, "note": note,
                            "phone": phone}, files=files)
