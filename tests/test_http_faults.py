"""HTTP, TCP and name failures say what happened, each against a real local server made to fail
that way: a certificate expired, for another name, or self-signed (made by the test), 404 and
500, a server that takes the connection and stalls, a slow one, a page without its text, a
health endpoint saying it is unhealthy, a port nobody listens on, a name nobody knows. And the
technician's words: Vietnamese tags and one clean line of detail."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import json_lines, run_cli
from lab.procs import free_port

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(tmp: Path, *, san: str = "127.0.0.1", days_left: float = 30,
             self_signed: bool = False) -> tuple[Path, Path, Path]:
    """A CA and a server certificate (its SAN, its remaining validity), as files."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (x509.CertificateBuilder().subject_name(_name("hcc test CA"))
               .issuer_name(_name("hcc test CA")).public_key(ca_key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - dt.timedelta(days=400))
               .not_valid_after(NOW + dt.timedelta(days=400))
               .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
               .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    alt: x509.GeneralName = x509.IPAddress(__import__("ipaddress").ip_address(san)) \
        if san[0].isdigit() else x509.DNSName(san)
    builder = (x509.CertificateBuilder().subject_name(_name(san))
               .issuer_name(_name(san) if self_signed else ca_cert.subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(NOW - dt.timedelta(days=60))
               .not_valid_after(NOW + dt.timedelta(days=days_left))
               .add_extension(x509.SubjectAlternativeName([alt]), critical=False))
    cert = builder.sign(key if self_signed else ca_key, hashes.SHA256())
    paths = tmp / "ca.pem", tmp / "srv.pem", tmp / "srv.key"
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class Page(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b"<html>Kiosk ready</html>"
    delay_s = 0.0

    def do_GET(self) -> None:
        time.sleep(self.delay_s)
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_a: object) -> None:
        pass


def serve(tls: tuple[Path, Path] | None = None) -> http.server.ThreadingHTTPServer:
    Page.status, Page.body, Page.delay_s = 200, b"<html>Kiosk ready</html>", 0.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    server.daemon_threads = True
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check(tmp: Path, http_yaml: str, *, kind: str = "http", lang: str = "en",
          as_json: bool = True) -> dict[str, object] | str:
    cfg = tmp / "devices.yaml"
    dtype = "charger" if kind in ("shelly", "tasmota") else "kiosk"
    cfg.write_text(f"""\
center: {{id: c1, name: "Trung tâm thử"}}
agent: {{id: pi-test, state_dir: "{tmp / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
defaults: {{timeout: 2s}}
devices:
  - {{id: d1, name: Ki-ốt tra cứu, type: {dtype}, host: 127.0.0.1, {kind}: {http_yaml}}}
""")
    args = ["check", "--config", str(cfg), "--device", "d1", "--lang", lang]
    out = run_cli("hcc-agent", *args, *(["--json"] if as_json else []))
    if not as_json:
        return out.stdout
    [row] = json_lines(out.stdout)
    return row


def codes(row: object) -> list[tuple[str, str]]:
    assert isinstance(row, dict)
    return [(f["code"], f["severity"]) for f in row["faults"]]


@pytest.fixture
def pki_dir(tmp_path: Path) -> Iterator[Path]:
    d = tmp_path / "pki"
    d.mkdir()
    yield d


def test_tls_expired_wrong_name_and_untrusted_each_say_so(tmp_path: Path, pki_dir: Path) -> None:
    ca, cert, key = make_pki(pki_dir, days_left=-2)
    s = serve((cert, key))
    row = check(tmp_path, f"{{url: 'https://127.0.0.1:{s.server_port}/', ca_file: '{ca}'}}")
    assert codes(row) == [("device.tls_expired", "critical")]
    assert isinstance(row, dict) and row["status"] == "critical"  # on and answering
    assert "Renew" in row["faults"][0]["hint"]  # type: ignore[index]
    s.shutdown()
    ca, cert, key = make_pki(pki_dir, san="kiosk-7.hcc.lan")
    s = serve((cert, key))
    row = check(tmp_path, f"{{url: 'https://127.0.0.1:{s.server_port}/', ca_file: '{ca}'}}")
    assert codes(row) == [("device.tls_wrong_name", "critical")]
    s.shutdown()
    _, cert, key = make_pki(pki_dir, self_signed=True)
    s = serve((cert, key))
    row = check(tmp_path, f"{{url: 'https://127.0.0.1:{s.server_port}/'}}")
    assert codes(row) == [("device.tls_untrusted", "critical")]
    s.shutdown()


def test_http_status_content_health_slowness_and_a_stall(tmp_path: Path) -> None:
    s = serve()
    url = f"http://127.0.0.1:{s.server_port}/health"
    try:
        Page.status = 404
        row = check(tmp_path, f"{{url: '{url}'}}")
        assert codes(row) == [("device.http_error", "critical")]
        assert "HTTP 404" in row["faults"][0]["message"]  # type: ignore[index]
        Page.status = 500
        assert codes(check(tmp_path, f"{{url: '{url}'}}")) == [
            ("device.http_server_error", "critical")]
        Page.status, Page.body = 200, b"<html>Please log in</html>"
        assert codes(check(tmp_path, f"{{url: '{url}', body_contains: Kiosk ready}}")) == [
            ("device.content_mismatch", "critical")]
        Page.body = json.dumps({"status": "degraded", "printer": "offline"}).encode()
        row = check(tmp_path, f"{{url: '{url}', json_field: status, json_equals: ok}}")
        assert codes(row) == [("device.unhealthy", "critical")]
        assert "status = degraded" in row["faults"][0]["message"]  # type: ignore[index]
        Page.body = json.dumps({"status": "ok"}).encode()
        assert codes(check(tmp_path, f"{{url: '{url}', json_field: status, json_equals: ok}}")) \
            == []
        Page.delay_s = 0.6
        assert codes(check(tmp_path, f"{{url: '{url}', slow: 300ms}}")) == [
            ("device.slow", "warning")]
    finally:
        s.shutdown()
    # a server that takes the connection and never answers: the app hangs (not "unplugged")
    stall = socket.socket()
    stall.bind(("127.0.0.1", 0))
    stall.listen(8)
    try:
        row = check(tmp_path, f"{{url: 'http://127.0.0.1:{stall.getsockname()[1]}/'}}")
        assert codes(row) == [("device.http_timeout", "critical")]
    finally:
        stall.close()


def test_refused_and_unknown_names_are_not_power_and_cable_advice(tmp_path: Path) -> None:
    port = free_port()
    row = check(tmp_path, f"{{url: 'http://127.0.0.1:{port}/'}}")
    assert codes(row) == [("device.refused", "critical")]
    assert isinstance(row, dict) and row["status"] == "critical"
    assert "service is not running" in row["faults"][0]["hint"]  # type: ignore[index]
    assert codes(check(tmp_path, f"{{port: {port}}}", kind="tcp")) == [
        ("device.refused", "critical")]
    row = check(tmp_path, "{url: 'http://no-such-kiosk.invalid/'}")
    assert codes(row) == [("device.name_unknown", "critical")]
    assert isinstance(row, dict) and row["status"] == "unreachable"


def test_check_output_in_vietnamese_tags_and_one_line_details(tmp_path: Path) -> None:
    out = check(tmp_path, f"{{url: 'http://127.0.0.1:{free_port()}/'}}", lang="vi",
                as_json=False)
    assert isinstance(out, str)
    assert "- [nghiêm trọng] Ki-ốt tra cứu: từ chối kết nối (127.0.0.1)" in out
    assert "→ Thiết bị vẫn bật nhưng dịch vụ chưa chạy" in out
    assert "[critical]" not in out and "For more information" not in out


def test_a_plug_answering_404_says_so_in_one_line(tmp_path: Path) -> None:
    """Issue 17: a Shelly plug answering 404 got "not responding → check the cable", and its
    detail spilled httpx's "For more information check: …" line."""
    from lab.fakes import FakePlug, PlugServer

    server = PlugServer(FakePlug(), kind="tasmota").start()  # no Shelly API here: 404
    try:
        row = check(tmp_path, f"{{port: {server.port}}}", kind="shelly")
        assert codes(row) == [("device.http_error", "critical")]
        assert isinstance(row, dict) and row["status"] == "critical"
        assert "HTTP 404" in row["faults"][0]["message"]  # type: ignore[index]
        text = check(tmp_path, f"{{port: {server.port}}}", kind="shelly", lang="vi",
                     as_json=False)
        assert isinstance(text, str) and "không mở được trang (HTTP 404)" in text
        assert "For more information" not in text and "developer.mozilla.org" not in text
    finally:
        server.stop()
