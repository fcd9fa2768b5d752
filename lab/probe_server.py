"""The router side of the probe's test network: the phones' 204 check, a captive portal (a
redirect to a login page, which answers or not), and a bounded download. Run in a namespace:
python -m lab.probe_server ADDRESS MODE PORTAL_UP."""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

PORTAL_PORT = 8081


def main() -> None:
    address, mode, portal_up = sys.argv[1], sys.argv[2], sys.argv[3] == "1"

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/speedtest":
                size = min(int(parse_qs(parts.query).get("bytes", ["1000000"])[0]), 50_000_000)
                self.send_response(200)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"\0" * 65536
                left = size
                while left > 0:
                    self.wfile.write(chunk[:min(left, len(chunk))])
                    left -= min(left, len(chunk))
                return
            if mode == "online":
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif mode == "portal":
                self.send_response(302)
                self.send_header("Location", f"http://portal.hcc.lan:{PORTAL_PORT}/login")
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                body = b"<html>login</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, *_a: Any) -> None:
            pass

    class Portal(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = "<html>Đăng nhập Wi-Fi</html>".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_a: Any) -> None:
            pass

    if portal_up:
        portal = ThreadingHTTPServer((address, PORTAL_PORT), Portal)
        threading.Thread(target=portal.serve_forever, daemon=True).start()
    ThreadingHTTPServer((address, 80), Handler).serve_forever()


if __name__ == "__main__":
    main()
