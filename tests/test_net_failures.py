"""Each way a device fails to answer is its own fault, never "not responding → check the power
and the cable" for a device that is on: https:// to a plain-HTTP port, http:// to an HTTPS one,
a TLS handshake that fails or never finishes, a refused password, an SNMP device that answers
ping but not SNMP (wrong community, SNMP off, SNMPv3 keys), a port silent on a host that answers
ping, and — the other side — a host that is really not there. All against real parts: local
servers, snmpsim, and a network namespace with no host in it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import threading
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_http_faults import Page, check, codes, make_pki, serve

from conftest import BIN, SNMPREC, json_lines, run_cli, silent_port, wait_until
from lab.procs import SnmpSim, free_port, spawn

CONFIG = """\
center: {{id: c1, name: "Trung tâm thử"}}
agent: {{id: pi-test, state_dir: "{state}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
defaults: {{timeout: 1s}}
devices:
  - {{id: d1, name: "Máy in quầy 2", type: printer, host: {host}, {checks}}}
"""


def agent_check(tmp: Path, host: str, checks: str, *, lang: str = "en",
                netns: str | None = None) -> dict[str, object]:
    cfg = tmp / "devices.yaml"
    cfg.write_text(CONFIG.format(state=tmp / "state", host=host, checks=checks))
    args = ["check", "--config", str(cfg), "--device", "d1", "--lang", lang, "--json"]
    if netns is None:
        out = run_cli("hcc-agent", *args)
    else:  # the agent inside the namespace: its only neighbours are the ones the test made
        out = subprocess.run(["ip", "netns", "exec", netns, str(BIN / "hcc-agent"), *args],
                             capture_output=True,
                             text=True, timeout=60)
    [row] = json_lines(out.stdout)
    return row


def fault_texts(row: dict[str, object]) -> list[str]:
    faults = row["faults"]
    assert isinstance(faults, list)
    return [f"{f['message']} → {f['hint']}" for f in faults]


def own_address() -> str | None:
    """This machine's own non-loopback IPv4 address: it answers ICMP, and traffic to it stays
    inside the kernel (no packet leaves the machine)."""
    try:
        out = subprocess.run(["ip", "-j", "-4", "addr", "show", "scope", "global"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            if a.get("local"):
                return str(a["local"])
    return None


def may_ping() -> bool:
    if os.geteuid() == 0:
        return True
    low, high = Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()
    return int(low) <= os.getgid() <= int(high)


@pytest.fixture
def pinged_host() -> str:
    address = own_address()
    if address is None or not may_ping():
        pytest.skip("needs a non-loopback address of this machine and ICMP for this user")
    return address


def test_https_to_a_plain_http_port_says_to_use_http(tmp_path: Path) -> None:
    s = serve()
    try:
        row = check(tmp_path, f"{{url: 'https://127.0.0.1:{s.server_port}/'}}")
        assert codes(row) == [("device.not_tls", "critical")]
        assert isinstance(row, dict) and row["status"] == "critical"  # on and answering
        text = check(tmp_path, f"{{url: 'https://127.0.0.1:{s.server_port}/'}}", lang="vi",
                     as_json=False)
        assert isinstance(text, str)
        assert f"Ki-ốt tra cứu: cổng {s.server_port} không phải HTTPS" in text
        assert "sửa địa chỉ thành http://" in text and "cáp mạng" not in text
    finally:
        s.shutdown()


def test_http_to_an_https_port_says_to_use_https(tmp_path: Path) -> None:
    _, cert, key = make_pki(tmp_path)
    s = serve((cert, key))
    try:
        row = check(tmp_path, f"{{url: 'http://127.0.0.1:{s.server_port}/'}}")
        assert codes(row) == [("device.not_http", "critical")]
        assert isinstance(row, dict) and "https://" in row["faults"][0]["hint"]  # type: ignore[index]
    finally:
        s.shutdown()


def test_a_tls_handshake_that_fails_another_way_names_tls(tmp_path: Path) -> None:
    """A device stuck on TLS 1.0/1.1 (old firmware): the box refuses it; that is TLS, not a
    cable."""
    _, cert, key = make_pki(tmp_path)
    srv = socket.create_server(("127.0.0.1", 0))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # deprecated: that is the point, an old device's TLS
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.load_cert_chain(cert, key)

    def answer() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            try:
                ctx.wrap_socket(conn, server_side=True).close()
            except (OSError, ssl.SSLError):
                conn.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        row = check(tmp_path, f"{{url: 'https://127.0.0.1:{srv.getsockname()[1]}/'}}")
        assert codes(row) == [("device.tls_failed", "critical")]
        assert isinstance(row, dict) and row["status"] == "critical"
        assert "TLS" in row["faults"][0]["message"]  # type: ignore[index]
    finally:
        srv.close()


def test_a_tls_handshake_that_never_finishes_is_not_a_dead_device(tmp_path: Path) -> None:
    stall = socket.create_server(("127.0.0.1", 0), backlog=8)  # takes connections, says nothing
    try:
        row = check(tmp_path, f"{{url: 'https://127.0.0.1:{stall.getsockname()[1]}/'}}")
        assert codes(row) == [("device.tls_timeout", "critical")]
        # still "unreachable" for the controller's debounce (unreachable_after polls in a row),
        # with this fault instead of "not responding" once it opens
        assert isinstance(row, dict) and row["status"] == "unreachable"
    finally:
        stall.close()


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_password_is_not_a_wrong_path(tmp_path: Path, status: int) -> None:
    s = serve()
    Page.status = status
    try:
        row = check(tmp_path, f"{{url: 'http://127.0.0.1:{s.server_port}/'}}")
        assert codes(row) == [("device.http_auth", "critical")]
        text = check(tmp_path, f"{{url: 'http://127.0.0.1:{s.server_port}/'}}", lang="vi",
                     as_json=False)
        assert isinstance(text, str) and f"từ chối đăng nhập (HTTP {status})" in text
        assert "mật khẩu" in text
        # a plug with a web password set answers 401 too
        row = check(tmp_path, f"{{port: {s.server_port}}}", kind="tasmota")
        assert codes(row) == [("device.http_auth", "critical")]
    finally:
        s.shutdown()


def test_ipp_over_tls_to_a_plain_port_and_to_a_closed_port(tmp_path: Path) -> None:
    s = serve()
    try:
        row = check(tmp_path, f"{{port: {s.server_port}, tls: true}}", kind="ipp")
        assert codes(row) == [("device.not_tls", "critical")]
    finally:
        s.shutdown()
    row = check(tmp_path, f"{{port: {free_port()}}}", kind="ipp")
    assert codes(row) == [("device.refused", "critical")]


def test_unknown_names_for_snmp_and_ping_say_check_the_name(tmp_path: Path) -> None:
    for checks in ("snmp: {community: public}", "ping: {count: 1}"):
        row = agent_check(tmp_path, "no-such-printer.invalid", checks)
        assert codes(row) == [("device.name_unknown", "critical")], checks


@pytest.fixture(scope="module")
def printer_sim_on_own_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpSim]:
    address = own_address()
    if address is None or not may_ping():
        pytest.skip("needs a non-loopback address of this machine and ICMP for this user")
    sim = SnmpSim(tmp_path_factory.mktemp("own"), [SNMPREC / "printer-laser.snmprec"],
                  host=address).start()
    yield sim
    sim.stop()


def test_snmp_with_a_wrong_community_answers_ping_so_says_check_snmp(
        tmp_path: Path, printer_sim_on_own_address: SnmpSim) -> None:
    sim = printer_sim_on_own_address
    ok = agent_check(tmp_path, sim.host, f"snmp: {{port: {sim.port}, community: printer-laser}}")
    assert ok["status"] == "ok", ok  # the right community reads it
    row = agent_check(tmp_path, sim.host,
                      f"snmp: {{port: {sim.port}, community: wrong-community, retries: 0}}",
                      lang="vi")
    assert codes(row) == [("device.snmp_silent", "critical")]
    assert row["status"] == "unreachable"  # debounced by the controller like a dead device
    [text] = fault_texts(row)
    assert text.startswith("Máy in quầy 2: trả lời ping nhưng không trả lời SNMP")
    assert "community" in text and "cáp mạng" not in text


def test_snmp_switched_off_on_a_host_that_answers_ping(tmp_path: Path, pinged_host: str) -> None:
    nobody = free_port(socket.SOCK_DGRAM)
    row = agent_check(tmp_path, pinged_host, f"snmp: {{port: {nobody}, retries: 0}}")
    assert codes(row) == [("device.snmp_silent", "critical")]


def test_a_silent_port_on_a_host_that_answers_ping(tmp_path: Path, pinged_host: str) -> None:
    with silent_port(pinged_host) as port:
        row = agent_check(tmp_path, pinged_host, f"tcp: {{port: {port}}}")
    assert codes(row) == [("device.port_silent", "critical")]
    assert "ping" in fault_texts(row)[0]


@pytest.fixture
def empty_lan() -> Iterator[str]:
    """A network namespace whose LAN 10.254.0.0/24 (a veth with nothing behind it) has no host
    but the box (10.254.0.1), and no route anywhere else."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 for a network namespace")
    name = f"hcc-hints-{uuid.uuid4().hex[:8]}"
    steps = [["ip", "netns", "add", name],
             ["ip", "-n", name, "link", "set", "lo", "up"],
             ["ip", "-n", name, "link", "add", "v0", "type", "veth", "peer", "name", "v1"],
             ["ip", "-n", name, "addr", "add", "10.254.0.1/24", "dev", "v0"],
             ["ip", "-n", name, "link", "set", "v0", "up"],
             ["ip", "-n", name, "link", "set", "v1", "up"]]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, timeout=10)
            if done.returncode != 0:
                pytest.skip(f"cannot make a network namespace: {done.stderr.strip()}")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def test_no_host_at_the_address_is_still_not_responding(tmp_path: Path, empty_lan: str) -> None:
    for checks in ("snmp: {community: public, retries: 0}", "tcp: {port: 80}"):
        row = agent_check(tmp_path, "10.254.0.2", checks, netns=empty_lan)
        assert row["status"] == "unreachable", (checks, row)
        assert codes(row) == [("device.unreachable", "critical")], checks


def test_an_address_the_box_has_no_route_to_says_check_the_address(
        tmp_path: Path, empty_lan: str) -> None:
    row = agent_check(tmp_path, "198.51.100.7", "tcp: {port: 80}", netns=empty_lan)
    assert codes(row) == [("device.no_route", "critical")]


# -- the box's own link to its broker -----------------------------------------------------------
def broker_status_says(tmp: Path, mqtt_url: str) -> str:
    """`hcc-agent status` of a box running against `mqtt_url`, once it tried the broker."""
    tmp.mkdir(parents=True, exist_ok=True)
    state = tmp / "state"
    cfg = tmp / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: c1}}
agent: {{id: pi-test, state_dir: "{state}", heartbeat: 1s}}
mqtt: {{url: "{mqtt_url}"}}
devices: []
""")
    box = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                tmp / "agent.log")
    try:
        def said() -> str | None:
            try:
                status = json.loads((state / "status.json").read_text())
            except (OSError, ValueError):
                return None
            if not status.get("broker_problem"):
                return None
            out = run_cli("hcc-agent", "status", "--config", str(cfg))
            return out.stdout
        text = wait_until(said, 30, "status.json naming the broker problem")
        assert isinstance(text, str)
        return text
    finally:
        box.stop()


def test_box_status_says_why_the_broker_is_not_reached(tmp_path: Path) -> None:
    port = free_port()
    text = broker_status_says(tmp_path / "refused", f"mqtt://127.0.0.1:{port}")
    assert "CHƯA kết nối" in text  # Vietnamese by default, the reason too
    assert f"→ mqtt://127.0.0.1:{port} từ chối kết nối: dịch vụ ở đó chưa chạy" in text
    s = serve()  # a plain HTTP port given as mqtts://
    try:
        text = broker_status_says(tmp_path / "plain", f"mqtts://127.0.0.1:{s.server_port}")
        assert f"→ mqtts://127.0.0.1:{s.server_port} không dùng TLS ở cổng này" in text
    finally:
        s.shutdown()


# -- enrollment: the box's first call to the controller -----------------------------------------
def test_enrollment_says_why_the_controller_is_not_reached(tmp_path: Path) -> None:
    cfg = tmp_path / "devices.yaml"
    cfg.write_text("center: {id: c1}\nagent: {id: a1}\nmqtt: {url: 'mqtt://127.0.0.1:1'}\n"
                   "devices: []\n")

    def enroll(url: str) -> str:
        out = run_cli("hcc-agent", "enroll", url, "CODE-1234", "--fingerprint", "ab" * 32,
                      "--config", str(cfg), "--no-restart")
        assert out.returncode == 1
        return out.stderr

    port = free_port()
    assert f"127.0.0.1:{port} từ chối kết nối" in enroll(f"https://127.0.0.1:{port}")
    assert "không tìm thấy tên" in enroll("https://no-such-controller.invalid:8443")
    s = serve()  # the controller's plain-HTTP port given as https://
    try:
        assert "không dùng TLS ở cổng này" in enroll(f"https://127.0.0.1:{s.server_port}")
    finally:
        s.shutdown()


# -- the box's own permission to ping -----------------------------------------------------------
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv (to run the check as a user of the test's own)")
def test_a_box_not_allowed_to_ping_says_so_not_check_the_cable(service_user: str) -> None:
    import grp
    import tempfile

    low, high = Path("/proc/sys/net/ipv4/ping_group_range").read_text().split()
    if int(low) <= grp.getgrnam(service_user).gr_gid <= int(high):
        pytest.skip("this kernel lets every group ping: nothing to refuse")
    base = Path(tempfile.mkdtemp(prefix="hcc-hints-", dir="/tmp"))
    try:
        base.chmod(0o755)
        cfg = base / "devices.yaml"
        cfg.write_text(CONFIG.format(state=base / "state", host="127.0.0.1",
                                     checks="ping: {count: 1}"))
        cfg.chmod(0o644)
        done = subprocess.run(["setpriv", "--reuid", service_user, "--regid", service_user,
                               "--init-groups", str(BIN / "hcc-agent"), "check", "--config",
                               str(cfg), "--device", "d1", "--json"], capture_output=True,
                              text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
        [row] = json_lines(done.stdout)
        assert codes(row) == [("device.check_failed", "warning")], row
        assert "ICMP not allowed" in row["faults"][0]["message"]  # type: ignore[index]
        assert "ping_group_range" in str(row["error"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_dns_server_that_does_not_answer_is_not_a_wrong_name(
        tmp_path: Path, empty_lan: str) -> None:
    # no route to any DNS server from the namespace: the resolver cannot ask (EAI_AGAIN),
    # which is the center's DNS to check, not the name in devices.yaml
    row = agent_check(tmp_path, "printer-2.hcc.invalid", "tcp: {port: 80}", netns=empty_lan)
    assert codes(row) == [("wan.dns_failed", "critical")], row


def test_pure_parts_neighbour_entries_and_broker_refusals() -> None:
    from agent.reachability import neighbour_reachable
    from hcc_common.mqtt_io import connack_failure
    from hcc_common.net_failure import Cause

    seen = '[{"dst":"10.0.0.7","dev":"eth0","lladdr":"02:00:00:00:00:07","state":["REACHABLE"]}]'
    assert neighbour_reachable(seen, "10.0.0.7")
    assert not neighbour_reachable(seen.replace("REACHABLE", "STALE"), "10.0.0.7")  # minutes old
    assert not neighbour_reachable('[{"dst":"10.0.0.7","state":["FAILED"]}]', "10.0.0.7")
    assert not neighbour_reachable("", "10.0.0.7") and not neighbour_reachable("{", "10.0.0.7")
    assert connack_failure("Not authorized", "b:8883").cause is Cause.AUTH
    assert connack_failure("Bad user name or password", "b:8883").cause is Cause.AUTH
    assert connack_failure("Server unavailable", "b:8883").cause is Cause.OTHER


def test_the_second_look_at_silent_devices_holds_up_no_other_device(
        tmp_path: Path, pinged_host: str, snmp_devices: SnmpSim) -> None:
    """Sixteen devices that answer ping but not SNMP, each looked at again, beside a printer
    that answers: the printer's poll is whole and ok, each silent one says what it is."""
    nobody = free_port(socket.SOCK_DGRAM)
    silent = "".join(f"""\
  - {{id: quiet-{i}, type: printer, host: {pinged_host}, timeout: 1s,
      snmp: {{port: {nobody}, community: c{i}, retries: 0}}}}
""" for i in range(16))
    cfg = tmp_path / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: c1}}
agent: {{id: pi-test, state_dir: "{tmp_path / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
devices:
  - {{id: live, type: printer, host: 127.0.0.1, snmp: {{port: {snmp_devices.port},
      community: printer-laser}}}}
{silent}""")
    rows = {r["device"]: r for r in json_lines(
        run_cli("hcc-agent", "check", "--config", str(cfg), "--json").stdout)}
    assert (rows["live"]["status"], rows["live"]["error"]) == ("ok", None)
    for i in range(16):
        assert codes(rows[f"quiet-{i}"]) == [("device.snmp_silent", "critical")], i
