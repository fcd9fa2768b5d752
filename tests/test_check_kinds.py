"""Every check kind against a real peer: ippeveprinter, HTTP(S) servers, plug fakes, plugins, sysfs."""

from __future__ import annotations

import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import json_lines, run_cli
from lab.fakes import FakePlug, PlugServer
from lab.procs import IppEvePrinter, free_port, which

PLUGINS = Path("/usr/lib/nagios/plugins")


def check(tmp: Path, device_yaml: str, *extra: str) -> dict[str, object]:
    cfg = tmp / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: c1, name: "Trung tâm thử", opening_hours: {{mon-sun: "00:00-24:00"}}}}
agent: {{id: pi-test, state_dir: "{tmp / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
defaults: {{timeout: 3s}}
devices:
  - {device_yaml}
""")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "d1", "--json",
                  "--lang", "en", *extra)
    rows = json_lines(out.stdout)
    assert len(rows) == 1, out.stderr
    return rows[0]


def codes(row: dict[str, object]) -> list[str]:
    return sorted(f["code"] for f in row["faults"])  # type: ignore[union-attr, index]


# -- IPP ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ipp_printer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IppEvePrinter]:
    p = IppEvePrinter(tmp_path_factory.mktemp("ipp")).start()
    yield p
    p.stop()


def test_ipp_printer_healthy_then_low_toner_and_empty_tray(tmp_path: Path, ipp_printer) -> None:
    dev = f"{{id: d1, name: Máy in, type: printer, host: 127.0.0.1, ipp: {{port: {ipp_printer.port}}}}}"
    ipp_printer.set_supplies(waste_level=60, toner_level=75)
    ipp_printer.set_main_tray(250)
    row = check(tmp_path, dev)
    assert row["status"] == "ok", row
    assert row["metrics"]["ipp_state"] == "idle"
    assert row["metrics"]["supply.2.pct"] == 75.0
    ipp_printer.set_supplies(waste_level=60, toner_level=3)
    ipp_printer.set_main_tray(0)
    row = check(tmp_path, dev)
    assert codes(row) == ["printer.toner_low", "printer.tray_empty"]
    toner = next(f for f in row["faults"] if f["code"] == "printer.toner_low")
    assert toner["severity"] == "critical" and toner["message"] == "Máy in: Black Toner low (3%)"
    ipp_printer.set_supplies(waste_level=60, toner_level=75)
    ipp_printer.set_main_tray(250)


def test_ipp_nobody_listening_is_a_service_down_not_a_dead_printer(tmp_path: Path) -> None:
    # the host refuses the port: it is on, its IPP service is not (issue 27: this was
    # "not responding → check the power and the cable")
    row = check(tmp_path, f"{{id: d1, type: printer, host: 127.0.0.1, ipp: {{port: {free_port()}}}}}")
    assert row["status"] == "critical"
    assert codes(row) == ["device.refused"]


# -- HTTP ---------------------------------------------------------------------------------------
def make_cert(tmp: Path, days: int) -> tuple[Path, Path, Path]:
    """A CA and a localhost server certificate valid for `days` days, made with openssl."""
    ca_key, ca, key, csr, cert = (tmp / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr",
                                                     "srv.pem"))
    run = lambda *a: subprocess.run([which("openssl"), *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "30", "-subj", "/CN=hcc test CA")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=localhost")
    ext = tmp / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", str(days), "-extfile", str(ext))
    return ca, cert, key


class _Page(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b"<html>Kiosk ready</html>"

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_a: object) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[http.server.ThreadingHTTPServer, Path]]:
    ca, cert, key = make_cert(tmp_path, days=5)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server, ca
    server.shutdown()


def test_https_status_body_latency_and_certificate_expiry(tmp_path: Path, web, monkeypatch) -> None:
    server, ca = web
    port = server.server_address[1]
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # trust our own CA, as a center's IT would
    dev = (f"{{id: d1, name: Ki-ốt, type: kiosk, host: 127.0.0.1, http: {{scheme: https, "
           f"port: {port}, path: /, body_contains: Kiosk ready, cert_warn_days: 14}}}}")
    row = check(tmp_path, dev)
    assert row["metrics"]["http_status"] == 200
    assert row["metrics"]["http_latency_ms"] > 0
    assert row["metrics"]["tls_cert_days_left"] in (4, 5)
    assert codes(row) == ["device.cert_expiring"]
    _Page.status, _Page.body = 503, b"maintenance"
    try:
        row = check(tmp_path, dev)
    finally:
        _Page.status, _Page.body = 200, b"<html>Kiosk ready</html>"
    assert codes(row) == ["device.cert_expiring", "device.http_server_error"]
    assert any("HTTP 503" in f["message"] for f in row["faults"])


def test_http_refused_is_a_service_down_not_a_cable(tmp_path: Path) -> None:
    """Issue 17: a refused connection got "check the power and the cable"; the device is on."""
    row = check(tmp_path, f"{{id: d1, type: kiosk, host: 127.0.0.1, http: {{port: {free_port()}}}}}")
    assert row["status"] == "critical" and codes(row) == ["device.refused"]


# -- smart plugs ----------------------------------------------------------------------------------
@pytest.fixture
def plug() -> Iterator[tuple[FakePlug, int]]:
    p = FakePlug()
    server = PlugServer(p).start()
    yield p, server.port
    server.stop()


@pytest.mark.parametrize("kind", ["shelly", "tasmota"])
def test_smart_plug_charger_faults(tmp_path: Path, plug, kind: str) -> None:
    p, port = plug
    dev = f"{{id: d1, name: Trạm sạc, type: charger, host: 127.0.0.1, {kind}: {{port: {port}}}}}"
    row = check(tmp_path, dev)
    assert row["status"] == "ok" and row["metrics"]["plug.power_w"] == 35.0
    p.power_w = 0.2
    assert codes(check(tmp_path, dev)) == ["charger.no_power_draw"]
    p.power_w, p.temperature_c = 2600.0, 85.0
    assert codes(check(tmp_path, dev)) == ["charger.overload", "charger.overtemp"]
    p.on, p.power_w, p.temperature_c = False, 0.0, 30.0
    assert codes(check(tmp_path, dev)) == ["charger.outlet_off"]


def test_shelly_reported_errors(tmp_path: Path, plug) -> None:
    p, port = plug
    p.errors = ["overtemp"]
    dev = f"{{id: d1, type: charger, host: 127.0.0.1, shelly: {{port: {port}}}}}"
    assert codes(check(tmp_path, dev)) == ["charger.overtemp"]
    assert p.requests[-1] == "/rpc/Switch.GetStatus?id=0"


# -- monitoring plugins, ping, USB ---------------------------------------------------------------
@pytest.mark.parametrize(("code", "status", "fault"), [
    (0, "ok", []), (1, "warning", ["device.plugin_warning"]),
    (2, "critical", ["device.plugin_critical"]), (3, "warning", ["device.check_failed"])])
def test_nagios_plugin_exit_codes(tmp_path: Path, code: int, status: str, fault: list[str]) -> None:
    row = check(tmp_path, f'{{id: d1, type: robot, command: "{PLUGINS}/check_dummy {code} robot says hi"}}')
    assert row["status"] == status and codes(row) == fault
    assert row["metrics"]["plugin_status"] == ["ok", "warning", "critical", "unknown"][code]


def test_nagios_plugin_perfdata_becomes_metrics(tmp_path: Path) -> None:
    row = check(tmp_path, f'{{id: d1, type: other, command: "{PLUGINS}/check_disk -w 1% -c 1% -p /"}}')
    assert row["status"] == "ok"
    assert isinstance(row["metrics"]["plugin.root"], int) and row["metrics"]["plugin.root"] > 0


def test_ping_loopback(tmp_path: Path) -> None:
    row = check(tmp_path, "{id: d1, type: robot, host: 127.0.0.1, ping: {count: 2}}")
    assert row["status"] == "ok", row
    assert row["metrics"]["ping_loss_pct"] == 0.0 and row["metrics"]["ping_rtt_ms"] >= 0


def test_usb_presence_from_sysfs(tmp_path: Path) -> None:
    sysfs = tmp_path / "usb"
    reader = sysfs / "1-1.2"
    reader.mkdir(parents=True)
    (reader / "idVendor").write_text("04f9\n")
    (reader / "idProduct").write_text("0042\n")
    (sysfs / "1-1.2:1.0").mkdir()  # an interface entry, with no ids, as in real sysfs
    dev = (f'{{id: d1, name: Máy đọc, type: reading_device, usb: {{vendor: "04F9", '
           f'product: "0042", sysfs_root: "{sysfs}"}}}}')
    assert check(tmp_path, dev)["status"] == "ok"
    (reader / "idProduct").write_text("0043\n")
    row = check(tmp_path, dev)
    assert codes(row) == ["device.usb_missing"]
    assert row["faults"][0]["message"] == "Máy đọc: USB device 04f9:0042 is not connected"


def test_clock_check_survives_protectclock(tmp_path: Path) -> None:
    """Issue 13: under the unit's ProtectClock=yes, adjtimex is refused (EPERM) and the clock
    check went silent. The next sources answer: timedated over D-Bus, then timesyncd's flag."""
    from agent.checks.host import clock_synchronised, timesyncd_synchronised

    def refused() -> bool | None:
        return None  # what kernel_clock_synchronised returns under the filter

    flag = tmp_path / "timesync" / "synchronized"
    assert timesyncd_synchronised(flag) is None  # no timesyncd here: unknown
    flag.parent.mkdir()
    assert timesyncd_synchronised(flag) is False  # timesyncd runs, not synchronised yet
    flag.touch()
    assert clock_synchronised((refused, lambda: None, lambda: timesyncd_synchronised(flag)))
    assert clock_synchronised((refused, lambda: False, lambda: True)) is False  # first wins
    assert clock_synchronised((refused, refused)) is None
