"""Small local HTTP fakes that follow published device APIs: Shelly Gen2 RPC and Tasmota commands."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakePlug:
    """One switched plug; tests change `on`, `power_w`, `temperature_c`, `errors` as faults."""

    def __init__(self) -> None:
        self.on = True
        self.power_w = 35.0
        self.voltage_v = 229.8
        self.current_a = 0.16
        self.temperature_c = 41.5
        self.errors: list[str] = []
        self.requests: list[str] = []

    # Shelly Gen2: GET /rpc/Switch.GetStatus?id=0 (Shelly API docs, Switch component)
    def shelly_status(self, switch_id: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": switch_id, "source": "init", "output": self.on, "apower": self.power_w,
            "voltage": self.voltage_v, "freq": 50.0, "current": self.current_a,
            "aenergy": {"total": 1234.5, "by_minute": [0.0, 0.0, 0.0], "minute_ts": 1700000000},
            "temperature": {"tC": self.temperature_c, "tF": self.temperature_c * 9 / 5 + 32},
        }
        if self.errors:
            body["errors"] = list(self.errors)
        return body

    # Tasmota: GET /cm?cmnd=Power and /cm?cmnd=Status%208 (Tasmota commands docs)
    def tasmota(self, command: str) -> dict[str, Any] | None:
        cmd = command.strip().lower()
        if cmd in ("power", "power1"):
            return {"POWER": "ON" if self.on else "OFF"}
        if cmd in ("status 8", "status 10"):
            return {"StatusSNS": {
                "Time": "2026-11-27T08:00:00",
                "ENERGY": {"TotalStartTime": "2026-01-01T00:00:00", "Total": 12.3,
                           "Yesterday": 0.4, "Today": 0.2, "Power": self.power_w,
                           "ApparentPower": self.power_w, "ReactivePower": 0, "Factor": 1.0,
                           "Voltage": self.voltage_v, "Current": self.current_a},
                "ANALOG": {"Temperature": self.temperature_c}, "TempUnit": "C"}}
        return None


class PlugServer:
    """Serves a FakePlug. `kind` "shelly" or "tasmota" answers only that API (with its device
    information, as discovery asks); "both" answers both (the check tests)."""

    def __init__(self, plug: FakePlug, kind: str = "both", host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.plug = plug
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                outer.plug.requests.append(self.path)
                body: dict[str, Any] | None = None
                shelly, tasmota = kind in ("shelly", "both"), kind in ("tasmota", "both")
                if shelly and url.path == "/rpc/Switch.GetStatus":
                    body = outer.plug.shelly_status(int(query.get("id", ["0"])[0]))
                elif shelly and url.path == "/rpc/Shelly.GetDeviceInfo":
                    # Shelly Gen2 API, Shelly.GetDeviceInfo
                    body = {"name": "Sac quay 1", "id": "shellyplusplugs-a8032ab12345",
                            "mac": "A8032AB12345", "model": "SNPL-00112EU", "gen": 2,
                            "fw_id": "20231107-162425/1.0.8-g8c7bb8d", "ver": "1.0.8",
                            "app": "PlusPlugS", "auth_en": False, "auth_domain": None}
                elif tasmota and url.path == "/cm":
                    command = query.get("cmnd", [""])[0]
                    body = outer.plug.tasmota(command)
                    if body is None and command.strip().lower() == "status":
                        # Tasmota `Status` (status 0's first part)
                        body = {"Status": {"Module": 1, "DeviceName": "Tasmota",
                                           "FriendlyName": ["Sac tang 2"], "Topic": "tasmota_1",
                                           "Power": 1, "PowerOnState": 3}}
                if body is None:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> PlugServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
