"""hcc-agent discover: simulated devices on several loopback addresses (snmpsim, Shelly and
Tasmota fakes), bounded sweeps, and devices.yaml merged without losing the technician's edits."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.discover import DiscoverError, Found, RateLimit, entry, hosts_of, merge, neighbours
from conftest import SNMPREC, run_cli
from lab.fakes import FakePlug, PlugServer
from lab.procs import SnmpSim, free_port


def test_hosts_of_bounds_and_refuses_plainly() -> None:
    assert hosts_of(["192.168.1.0/30"]) == ["192.168.1.1", "192.168.1.2"]
    assert hosts_of(["10.0.0.5/32"]) == ["10.0.0.5"]
    with pytest.raises(DiscoverError, match="not a subnet"):
        hosts_of(["192.168.1.0/33"])
    with pytest.raises(DiscoverError, match="at most a /20"):
        hosts_of(["10.0.0.0/8"])


def test_rate_limit_spreads_probes() -> None:
    now = [0.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    limit = RateLimit(10.0, clock=lambda: now[0])
    original = asyncio.sleep
    asyncio.sleep = fake_sleep  # type: ignore[assignment]
    try:
        for _ in range(5):
            asyncio.run(limit.wait())
    finally:
        asyncio.sleep = original  # type: ignore[assignment]
    assert slept == pytest.approx([0.1, 0.2, 0.3, 0.4])  # 10 a second, none in a burst


def test_neighbour_table(tmp_path: Path) -> None:
    arp = tmp_path / "arp"
    arp.write_text("IP address       HW type     Flags       HW address            Mask     Device\n"
                   "192.168.1.20     0x1         0x2         a8:03:2a:b1:23:45     *        eth0\n"
                   "192.168.1.21     0x1         0x0         00:00:00:00:00:00     *        eth0\n")
    assert neighbours(arp) == ["192.168.1.20"]


def test_entries_get_free_ids() -> None:
    taken = {"printer-20"}
    f = Found("192.168.1.20", "printer", "HP M404", "snmp", {"community": "public", "port": 161})
    e = entry(f, taken)
    assert e == {"id": "printer-1-20", "name": "HP M404", "type": "printer",
                 "host": "192.168.1.20", "snmp": {"community": "public"}}


def test_an_entry_leaves_out_only_its_own_kinds_default_port() -> None:
    """A port is left out only where the kind's parser would give it anyway: an IPP printer
    on port 80 (its default is 631) or SNMP on port 80 keeps it, or the check polls elsewhere."""
    taken: set[str] = set()
    on_80 = [entry(Found("10.0.0.5", "printer", "P", kind, {"port": 80}), taken)
             for kind in ("ipp", "snmp", "shelly")]
    assert [e.get(k) for e, k in zip(on_80, ("ipp", "snmp", "shelly"), strict=True)] == [
        {"port": 80}, {"port": 80}, {}]
    assert entry(Found("10.0.0.6", "printer", "P", "ipp", {"port": 631, "path": "/ipp/print"}),
                 taken)["ipp"] == {"path": "/ipp/print"}


@pytest.fixture
def center(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """127.0.0.2: a printer, 127.0.0.3: a Wi-Fi AP (snmpsim, community public), 127.0.0.4: a
    Shelly plug, 127.0.0.5: a Tasmota plug, 127.0.0.6: nothing."""
    snmp_port, http_port = free_port(2), free_port()
    sims = []
    for host, fixture in (("127.0.0.2", "printer-laser"), ("127.0.0.3", "ap-wifi")):
        folder = tmp_path / host
        folder.mkdir()
        shutil.copy(SNMPREC / f"{fixture}.snmprec", folder / "public.snmprec")
        sims.append(SnmpSim(tmp_path / f"sim-{host}", [folder / "public.snmprec"], snmp_port,
                            host=host).start("public"))
    plugs = [PlugServer(FakePlug(), "shelly", "127.0.0.4", http_port).start(),
             PlugServer(FakePlug(), "tasmota", "127.0.0.5", http_port).start()]
    yield snmp_port, http_port
    for p in plugs:
        p.stop()
    for s in sims:
        s.stop()


@pytest.mark.integration
def test_discover_finds_and_merges_keeping_comments(tmp_path: Path, center) -> None:
    snmp_port, http_port = center
    cfg = tmp_path / "devices.yaml"
    cfg.write_text("""\
# Trung tâm phường 1 — sửa tay, giữ nguyên chú thích
center: {id: phuong-1}
agent: {id: pi-1}
mqtt: {url: "mqtt://127.0.0.1:1883"}
devices:
  - id: kiosk-1          # kiosk at the entrance
    type: kiosk
    host: 127.0.0.9
    tcp: {port: 443}
""")
    args = ["discover", "127.0.0.0/29", "--config", str(cfg), "--snmp-port", str(snmp_port),
            "--http-port", str(http_port), "--no-neighbours", "--timeout", "1.5"]
    shown = run_cli("hcc-agent", *args)
    assert shown.returncode == 0, shown.stderr
    assert "type: printer" in shown.stdout and "type: wifi_ap" in shown.stdout
    out = run_cli("hcc-agent", *args, "--write")
    assert out.returncode == 0, out.stderr
    assert "đã thêm 4 thiết bị" in out.stdout
    text = cfg.read_text()
    assert "# Trung tâm phường 1 — sửa tay, giữ nguyên chú thích" in text
    assert "id: kiosk-1          # kiosk at the entrance" in text
    import yaml

    devices = {d["host"]: d for d in yaml.safe_load(text)["devices"]}
    assert devices["127.0.0.2"]["type"] == "printer" and "snmp" in devices["127.0.0.2"]
    assert devices["127.0.0.3"]["type"] == "wifi_ap"
    assert devices["127.0.0.4"]["type"] == "charger" and "shelly" in devices["127.0.0.4"]
    assert devices["127.0.0.5"]["type"] == "charger" and "tasmota" in devices["127.0.0.5"]
    assert "127.0.0.6" not in devices
    assert next(iter(devices)) == "127.0.0.9"  # the technician's order first
    again = run_cli("hcc-agent", *args, "--write")
    assert "đã thêm 0 thiết bị, 4 thiết bị đã có sẵn" in again.stdout
    assert run_cli("hcc-agent", "validate", "--config", str(cfg)).returncode == 0


def test_merge_into_an_empty_list(tmp_path: Path) -> None:
    cfg = tmp_path / "devices.yaml"
    cfg.write_text('center: {id: c1}\nagent: {id: a1}\nmqtt: {url: "mqtt://127.0.0.1:1"}\n'
                   "devices: []\n")
    added = merge(cfg, [Found("10.1.1.7", "ups", "APC", "snmp", {"community": "public"})])
    assert [a["id"] for a in added] == ["ups-7"]
    assert run_cli("hcc-agent", "validate", "--config", str(cfg)).returncode == 0


def test_ipp_printers_from_dns_sd() -> None:
    from agent.checks.ipp import parse_avahi

    out = ("+;eth0;IPv4;HP\\032LaserJet\\032M404;_ipp._tcp;local\n"
           '=;eth0;IPv4;HP\\032LaserJet\\032M404;_ipp._tcp;local;hp.local;192.168.1.20;631;'
           '"rp=ipp/print" "ty=HP LaserJet M404"\n'
           '=;eth0;IPv4;Elsewhere;_ipp._tcp;local;x.local;10.9.9.9;631;"rp=ipp/print"\n')
    found = parse_avahi(out, ["192.168.1.0/24"])
    assert [(f.host, f.name, f.settings) for f in found] == [
        ("192.168.1.20", "HP LaserJet M404", {"port": 631, "path": "/ipp/print"})]
