"""The client-view Wi-Fi probe and the wired WAN check. Each fault is produced by breaking the real
component in network namespaces the test creates (dnsmasq as DHCP and DNS server, an HTTP server
for the 204 check and a captive portal, tc for a slow link); association needs a radio, so scan
and join are tested on the tools' outputs. Plus the pure parts: DHCP/DNS messages, parsers,
which step is the fault, wifi.slow only in opening hours, Wi-Fi faults held while the WAN is down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent import netprobe
from agent.checks import wan as wan_check
from agent.checks import wifi_probe
from agent.checks.context import CheckContext
from conftest import run_cli
from hcc_common import faults as vocab
from hcc_common.check_kinds.wan import WanSettings
from hcc_common.check_kinds.wifi_probe import WifiProbeSettings
from hcc_common.devices_config import Device
from lab import netlab

FIX = Path(__file__).parent / "fixtures" / "probe"


# -- pure parts --------------------------------------------------------------------------------
def test_scan_and_join_outputs_of_iw_nmcli_and_wpa_cli() -> None:
    seen = netprobe.parse_iw_scan((FIX / "iw-scan.txt").read_text())
    assert [(b.ssid, b.bssid, b.signal_dbm, b.channel) for b in seen] == [
        ("HCC-WiFi-Free", "74:ac:b9:12:34:56", -58.0, 6),
        ("HCC-WiFi-Free", "74:ac:b9:12:34:57", -49.0, 36),
        ("HCC-NoiBo", "18:e8:29:aa:bb:cc", -71.0, 11)]
    nm = netprobe.parse_nmcli_scan((FIX / "nmcli-scan.txt").read_text())
    assert [(b.ssid, b.bssid, b.signal_dbm, b.channel) for b in nm] == [
        ("HCC-WiFi-Free", "74:ac:b9:12:34:56", -58.0, 6),
        ("HCC-WiFi-Free", "74:ac:b9:12:34:57", -54.0, 36),
        ("HCC-NoiBo", "18:e8:29:aa:bb:cc", -71.5, 11)]
    assert netprobe.parse_nmcli_connect((FIX / "nmcli-connect-ok.txt").read_text(), 0).ok
    failed = netprobe.parse_nmcli_connect((FIX / "nmcli-connect-fail.txt").read_text(), 4)
    assert not failed.ok and failed.reason.startswith("Connection activation failed: Secrets")
    assert netprobe.parse_wpa_status((FIX / "wpa-status-completed.txt").read_text()).ok
    assert netprobe.parse_wpa_status((FIX / "wpa-status-scanning.txt").read_text()) == \
        netprobe.Joined(False, "wpa_state=SCANNING")


def test_dhcp_and_dns_messages_round_trip() -> None:
    mac = bytes.fromhex("b827eb010203")
    discover = netprobe.dhcp_message(netprobe.DISCOVER, 0x1234, mac)
    assert discover[0] == 1 and discover[28:34] == mac and discover[10:12] == b"\x80\x00"
    # a server's OFFER, shaped as RFC 2131 says
    offer = bytearray(discover)
    offer[0] = 2
    offer[16:20] = bytes([10, 77, 0, 50])
    opts = bytes([53, 1, 2, 54, 4, 10, 77, 0, 1, 1, 4, 255, 255, 255, 0, 3, 4, 10, 77, 0, 1,
                  6, 8, 10, 77, 0, 1, 8, 8, 8, 8, 51, 4, 0, 0, 1, 44, 255])
    packet = bytes(offer[:240]) + opts
    reply = netprobe.parse_dhcp(packet, 0x1234)
    assert reply == netprobe.DhcpReply(2, 0x1234, "10.77.0.50", "10.77.0.1", "10.77.0.1",
                                       ("10.77.0.1", "8.8.8.8"), 24, 300)
    assert netprobe.parse_dhcp(packet, 0x9999) is None  # someone else's transaction
    q = netprobe.dns_query("dichvucong.gov.vn", 7)
    answer = q[:2] + b"\x81\x80" + q[4:6] + b"\x00\x01\x00\x00\x00\x00" + q[12:] + \
        b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes([10, 77, 0, 1])
    assert netprobe.parse_dns(answer, 7) == (0, ["10.77.0.1"])


def test_the_first_failing_step_is_the_fault_in_words() -> None:
    S = netprobe.StepResult
    assert netprobe.first_fault([S("scan", True), S("dhcp", True, 0.4), S("dns", False, 5.0,
                                                                           {"name": "a.vn"})],
                                5.0).code == "wifi.dns_failed"
    slow = netprobe.first_fault([S("dhcp", True, 7.2), S("dns", True, 0.1)], 5.0)
    assert slow is not None and slow.code == "wifi.dhcp_slow" and slow.params == {"seconds": 7.2}
    assert netprobe.first_fault([S("dhcp", True, 0.3), S("internet", True)], 5.0) is None
    assert vocab.full_message("Wi-Fi cho khách", "wifi.dhcp_failed", {}, "vi") == \
        "Wi-Fi cho khách: hết địa chỉ IP cấp cho khách"
    assert vocab.hint("wifi.dhcp_failed", {}, "vi") == \
        "Kiểm tra dải DHCP trên router: đã cấp hết địa chỉ hoặc máy chủ DHCP bị tắt."


def probe_device(settings: WifiProbeSettings) -> Device:
    return Device(id="wifi-probe", name="Wi-Fi cho khách", type="network", host=None,
                  interval=300.0, timeout=5.0, profile="auto", checks={"wifi_probe": settings})


def test_missing_ssid_and_a_refused_join_through_the_check(tmp_path: Path) -> None:
    missing = WifiProbeSettings(ssids=("HCC-WiFi-Free",), netns=None,
                                scan=("cat", str(FIX / "iw-scan-other.txt")))
    out = asyncio.run(wifi_probe.SPEC.check(probe_device(missing), CheckContext()))
    assert [f.code for f in out.faults] == ["wifi.ssid_missing"]
    assert out.metrics["wifi_probe_scan_ok"] == 0 and out.reachable
    refused = WifiProbeSettings(
        ssids=("HCC-WiFi-Free",), netns=None, scan=("cat", str(FIX / "iw-scan.txt")),
        join=("sh", "-c", f"cat {FIX / 'nmcli-connect-fail.txt'}; exit 4"),
        leave=("true",))
    out = asyncio.run(wifi_probe.SPEC.check(probe_device(refused), CheckContext()))
    [fault] = out.faults
    assert fault.code == "wifi.assoc_failed" and fault.params["ssid"] == "HCC-WiFi-Free"
    # the strongest radio of the SSID is the one reported
    assert out.metrics["wifi_probe_signal_dbm"] == -49.0
    assert out.metrics["wifi_probe_channel"] == 36 and out.metrics["wifi_probe_bssids"] == 2


def test_slow_wifi_is_an_alert_during_opening_hours_only() -> None:
    from controller.state import Fleet, OpenAlert
    from hcc_common import wire

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    fleet = Fleet()
    seq = 0
    opened = []
    # Saturday 22:00, Sunday 23:00 (closed), Monday 10:00 (open): 1.8 Mbit/s for 16 minutes
    for day, hour in ((28, 22), (29, 23), (30, 10)):
        start = datetime(2026, 11, day, hour, tzinfo=tz).timestamp()
        for at in (start, start + 16 * 60):
            seq += 1
            r = wire.Result(center="c1", agent="pi", device="wifi-probe", session=1, seq=seq, ts=at,
                            device_type="network", device_name="Wi-Fi cho khách", status="ok",
                            metrics={"wifi_probe_download_mbps": 1.8})
            opened += [(start, e.key.code) for e in fleet.apply(r, at)
                       if isinstance(e, OpenAlert) and e.key.device == "wifi-probe"]
    monday = datetime(2026, 11, 30, 10, tzinfo=tz).timestamp()
    assert opened == [(monday, "wifi.slow")]  # when citizens are in the hall, not at night


def test_wifi_faults_wait_while_the_centers_internet_is_down() -> None:
    from controller.state import Fleet, OpenAlert
    from hcc_common import wire

    fleet = Fleet()
    t = 1_790_000_000.0

    def result(device: str, seq: int, codes: list[str], at: float) -> wire.Result:
        return wire.Result(center="c1", agent="pi", device=device, session=1, seq=seq, ts=at,
                           device_type="network", device_name=device,
                           status="critical" if codes else "ok", metrics={},
                           faults=tuple(wire.FaultReport(c, "critical", {}) for c in codes))

    opened: list[str] = []
    for i in range(3):
        for e in fleet.apply(result("wan", 2 * i + 1, ["wan.no_internet"], t + i), t + i) + \
                fleet.apply(result("wifi-probe", 2 * i + 2, ["wifi.no_internet"], t + i), t + i):
            if isinstance(e, OpenAlert):
                opened.append(e.key.code)
    assert "wan.no_internet" in opened and "wifi.no_internet" not in opened
    later = t + 100
    fleet.apply(result("wan", 11, [], later), later)
    effects = fleet.apply(result("wifi-probe", 12, ["wifi.no_internet"], later), later)
    assert [e.key.code for e in effects if isinstance(e, OpenAlert)] == ["wifi.no_internet"]


# -- the real network parts ----------------------------------------------------------------------
@pytest.fixture
def lab(tmp_path: Path) -> Iterator[netlab.NetLab]:
    why = netlab.available()
    if why is not None:
        pytest.skip(why)
    net = netlab.NetLab(tmp_path)
    try:
        yield net
    finally:
        net.close()


def steps_of(lab: netlab.NetLab, **settings: object) -> tuple[list[str], dict[str, object]]:
    """The probe as the agent runs it (the check kind, in the client's namespace)."""
    s = WifiProbeSettings(ssids=("HCC-WiFi-Free",), interface=lab.cif, netns=lab.client,
                          scan=(), join_parser="none", dns_names=("dichvucong.gov.vn",),
                          **settings)  # type: ignore[arg-type]
    out = asyncio.run(wifi_probe.SPEC.check(probe_device(s), CheckContext()))
    return [f.code for f in out.faults], dict(out.metrics)




@pytest.mark.integration
def test_a_healthy_network_passes_every_step_and_the_lease_is_given_back(
        lab: netlab.NetLab, tmp_path: Path) -> None:
    lab.start_dnsmasq("--no-ping")
    lab.start_http("online")
    codes, m = steps_of(lab, speed_url=f"http://{netlab.ROUTER_IP}/speedtest?bytes=1000000")
    assert codes == []
    assert m["wifi_probe_dhcp_ok"] == 1 and m["wifi_probe_dns_ok"] == 1
    assert m["wifi_probe_internet_ok"] == 1 and m["wifi_probe_portal"] == 0
    assert isinstance(m["wifi_probe_download_mbps"], float) and m["wifi_probe_download_mbps"] > 50
    assert isinstance(m["wifi_probe_dhcp_ms"], float) and m["wifi_probe_dhcp_ms"] < 3000
    # leave: no address kept, and the lease released at the server
    assert "10.77.0." not in lab.client_addresses()
    time.sleep(0.3)
    leases = next(tmp_path.glob("leases-*")).read_text()
    assert "10.77.0." not in leases


@pytest.mark.integration
def test_each_broken_part_is_named(lab: netlab.NetLab) -> None:
    lab.start_http("online")
    # DHCP server down
    assert steps_of(lab)[0] == ["wifi.dhcp_failed"]
    # the pool exhausted: its only address belongs to someone else
    lab.start_dnsmasq("--no-ping", "--dhcp-host=02:00:00:00:00:99,10.77.0.50",
                      pool="10.77.0.50,10.77.0.50")
    assert steps_of(lab)[0] == ["wifi.dhcp_failed"]
    # DNS down, DHCP working
    lab.start_dnsmasq("--no-ping", "--port=0")
    assert steps_of(lab)[0] == ["wifi.dns_failed"]
    # no internet: nothing answers the phones' 204 check
    lab.start_dnsmasq("--no-ping")
    lab.stop_http()
    codes, m = steps_of(lab)
    assert codes == ["wifi.no_internet"] and m["wifi_probe_dns_ok"] == 1
    # a captive portal that opens is no fault; one that does not is
    lab.start_http("portal", portal=True)
    codes, m = steps_of(lab)
    assert codes == [] and m["wifi_probe_portal"] == 1 and m["wifi_probe_portal_ok"] == 1
    lab.start_http("portal", portal=False)
    assert steps_of(lab)[0] == ["wifi.portal_broken"]
    # a slow DHCP server: dnsmasq pings an address for about 3 s before offering it (its
    # default, as many routers do); more than dhcp_slow. (tc netem is not in this kernel.)
    lab.start_http("online")
    lab.start_dnsmasq()
    codes, m = steps_of(lab, dhcp_slow_s=2.0)
    assert codes == ["wifi.dhcp_slow"] and m["wifi_probe_dhcp_ms"] >= 2000  # type: ignore[operator]


@pytest.mark.integration
def test_a_throttled_link_measures_slow(lab: netlab.NetLab) -> None:
    lab.start_dnsmasq("--no-ping")
    lab.start_http("online")
    lab.shape("tbf", "rate", "2mbit", "burst", "32kb", "latency", "400ms")
    codes, m = steps_of(lab, speed_url=f"http://{netlab.ROUTER_IP}/speedtest?bytes=600000",
                        speed_bytes=600_000)
    mbps = m["wifi_probe_download_mbps"]
    assert codes == [] and isinstance(mbps, float) and 1.0 < mbps < 2.6  # the rule says < 5
    # what the controller makes of that reading: wifi.slow in opening hours, not at night
    from controller.state import Fleet, OpenAlert
    from hcc_common import wire

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    for hour, expected in ((22, []), (10, ["wifi.slow"])):
        fleet = Fleet()
        start = datetime(2026, 11, 30, hour, tzinfo=tz).timestamp()
        opened = []
        for seq, at in enumerate((start, start + 16 * 60), start=1):
            r = wire.Result(center="c1", agent="pi", device="wifi-probe", session=1, seq=seq, ts=at,
                            device_type="network", device_name="Wi-Fi cho khách", status="ok",
                            metrics={"wifi_probe_download_mbps": mbps})
            opened += [e.key.code for e in fleet.apply(r, at) if isinstance(e, OpenAlert)
                       and e.key.device == "wifi-probe"]
        assert opened == expected, (hour, opened)


@pytest.mark.integration
def test_the_wired_wan_check_names_gateway_dns_and_internet(lab: netlab.NetLab) -> None:
    lab.wire_client()
    lab.start_dnsmasq("--no-ping")
    lab.start_http("online")
    dev = Device(id="wan", name="Internet trung tâm", type="network", host=None, interval=60.0,
                 timeout=3.0, profile="auto",
                 checks={"wan": WanSettings(interface=lab.cif, netns=lab.client,
                                            dns_names=("dichvucong.gov.vn",))})

    def codes() -> list[str]:
        return [f.code for f in asyncio.run(wan_check.SPEC.check(dev, CheckContext())).faults]

    assert codes() == []
    lab.stop_http()
    assert codes() == ["wan.no_internet"]
    lab.start_dnsmasq("--no-ping", "--port=0")
    assert codes() == ["wan.dns_failed"]
    netlab.sh("ip", "-n", lab.router, "addr", "flush", "dev", lab.rif)
    assert codes() == ["wan.gateway_down"]


@pytest.mark.integration
def test_hcc_agent_check_prints_every_step_with_its_time_in_vietnamese(
        lab: netlab.NetLab, tmp_path: Path) -> None:
    lab.start_dnsmasq("--no-ping")
    lab.start_http("online")
    cfg = tmp_path / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: ba-dinh, name: "PVHCC Ba Đình"}}
agent: {{id: pi-1, state_dir: "{tmp_path / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
devices:
  - id: wifi-probe
    name: Wi-Fi cho khách
    type: network
    interval: 5m
    timeout: 8s
    wifi_probe:
      ssids: [HCC-WiFi-Free]
      interface: {lab.cif}
      netns: {lab.client}
      scan: []
      join_parser: none
      dns_names: [dichvucong.gov.vn]
      speed_url: "http://{netlab.ROUTER_IP}/speedtest?bytes=500000"
""")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "wifi-probe",
                  timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert any("1. Nhận địa chỉ IP (DHCP): đạt (" in x and " ms)" in x for x in lines), lines
    assert any("2. Phân giải tên miền (DNS): đạt" in x for x in lines)
    assert any("3. Vào Internet: đạt" in x for x in lines)
    assert any("4. Tốc độ tải: đạt" in x and "Mbit/s" in x for x in lines)
    lab.stop_dnsmasq()
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "wifi-probe",
                  timeout=120)
    assert out.returncode == 2
    assert "Wi-Fi cho khách: hết địa chỉ IP cấp cho khách" in out.stdout
    assert "1. Nhận địa chỉ IP (DHCP): LỖI" in out.stdout
