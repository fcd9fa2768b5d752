"""SNMPv3 at every security level against snmpsim, and traps that make a fault arrive at once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import SNMPREC, json_lines, run_cli, wait_until
from lab.procs import Mosquitto, SnmpSim, V3User, free_port, which
from stack import Stack

USERS = [V3User("hcc-priv", "SHA", "authpass123", "AES", "privpass123"),
         V3User("hcc-auth", "SHA256", "authpass456"),
         V3User("hcc-none")]


@pytest.fixture(scope="module")
def v3_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpSim]:
    sim = SnmpSim(tmp_path_factory.mktemp("v3"), [SNMPREC / "printer-laser.snmprec"],
                  v3_users=USERS).start()
    yield sim
    sim.stop()


@pytest.mark.parametrize(("user", "snmp_yaml"), [
    ("hcc-priv", "auth: sha, auth_key: authpass123, priv: aes, priv_key_file: {keyfile}"),
    ("hcc-auth", "auth: sha256, auth_key_env: HCC_TEST_AUTH"),
    ("hcc-none", ""),
])
def test_snmpv3_security_levels(tmp_path: Path, v3_sim: SnmpSim, user: str, snmp_yaml: str,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    keyfile = tmp_path / "priv.key"
    keyfile.write_text("privpass123\n")
    monkeypatch.setenv("HCC_TEST_AUTH", "authpass456")
    extra = (", " + snmp_yaml.format(keyfile=keyfile)) if snmp_yaml else ""
    cfg = tmp_path / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: c1}}
agent: {{id: a1, state_dir: "{tmp_path / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
devices:
  - {{id: p1, type: printer, host: 127.0.0.1, snmp: {{port: {v3_sim.v3_ports[user]}, version: 3,
      user: {user}, context: printer-laser{extra}}}}}
""")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "p1", "--json")
    (row,) = json_lines(out.stdout)
    assert row["status"] == "ok", row
    assert row["metrics"]["sys_descr"].startswith("HP ETHERNET")
    for secret in ("authpass123", "privpass123", "authpass456"):
        assert secret not in out.stdout + out.stderr


def test_snmpv3_wrong_key_says_so_without_the_key(tmp_path: Path, v3_sim: SnmpSim) -> None:
    cfg = tmp_path / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: c1}}
agent: {{id: a1, state_dir: "{tmp_path / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
devices:
  - {{id: p1, type: printer, host: 127.0.0.1, timeout: 1s, snmp: {{port: {v3_sim.v3_ports['hcc-priv']},
      version: 3, user: hcc-priv, auth: sha, auth_key: wrong-secret-key, priv: aes,
      priv_key: privpass123, context: printer-laser}}}}
""")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "p1", "--json")
    (row,) = json_lines(out.stdout)
    assert [f["code"] for f in row["faults"]] == ["device.snmp_auth"]
    assert row["status"] == "critical"  # it answered: on, with other keys than ours
    assert "SNMPv3 authentication failed" in str(row["error"])
    assert "wrong-secret-key" not in out.stdout + out.stderr


def test_trap_brings_a_jam_to_the_controller_before_the_next_poll(
        tmp_path: Path, broker: Mosquitto, private_snmp) -> None:
    sim = private_snmp("printer-laser")
    trap_port = free_port(2)  # SOCK_DGRAM
    devices = f"""\
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 127.0.0.1
    interval: 10m
    snmp: {{port: {sim.port}, community: printer-laser, retries: 0}}"""
    s = Stack(tmp_path, broker, devices, interval="10m", sim=sim,
              extra=f"traps: {{port: {trap_port}, bind: 127.0.0.1, community: hcc-trap}}")
    s.start_controller()
    s.start_agent()
    try:
        wait_until(lambda: any(a["received"] >= 2 for a in s.agents()), 30, "first poll")
        assert s.agent is not None
        wait_until(lambda: "trap receiver listening" in s.agent.log(), 10, "trap receiver")
        sim.set_value("printer-laser", "1.3.6.1.2.1.25.3.5.1.2.1", "4x", "0400")
        sent = time.time()
        subprocess.run([which("snmptrap"), "-v2c", "-c", "hcc-trap", f"127.0.0.1:{trap_port}",
                        "", "1.3.6.1.2.1.43.18.2.0.1"], check=True, capture_output=True)
        alert = wait_until(lambda: s.open_alert("printer-1", "printer.jammed"), 30, "jam alert")
        assert isinstance(alert, dict)
        # The next scheduled poll is 10 minutes away: only the trap can explain this alert.
        assert time.time() - sent < 60
        assert "trap source=127.0.0.1 trap=printerV2Alert" in s.agent.log()
    finally:
        s.stop()
    assert not s.tracebacks()
