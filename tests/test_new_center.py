"""A new center from zero, the whole story of issue 13 on real processes and TLS: a fresh box
enrolls, discovers the center's (simulated) devices, then is configured centrally: a push applied
in place, a broken one refused with file:line, one that cuts the broker rolled back, and the same
one again restarting nothing."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import tls_center
from conftest import BIN, SNMPREC, json_lines, run_cli, wait_until
from lab.fakes import FakePlug, PlugServer
from lab.procs import Proc, SnmpSim, free_port, spawn

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_new_center_enroll_discover_configure(tmp_path: Path) -> None:
    snmp_port, http_port = free_port(2), free_port()
    configs = tmp_path / "configs"
    center = tls_center.start(tmp_path, f'config_dir: "{configs}"\n')
    port, https, db, ctl_cfg = center.port, center.https, center.db, center.config
    procs: list[Proc] = list(center.procs)
    # the center's devices: a printer at 127.0.0.2, a Shelly plug at 127.0.0.4
    folder = tmp_path / "printer"
    folder.mkdir()
    shutil.copy(SNMPREC / "printer-laser.snmprec", folder / "public.snmprec")
    sim = SnmpSim(tmp_path / "sim", [folder / "public.snmprec"], snmp_port,
                  host="127.0.0.2").start("public")
    plug = PlugServer(FakePlug(), "shelly", "127.0.0.4", http_port).start()
    try:
        # 1. enroll the fresh box over HTTPS
        code, fp = center.enroll_code("phuong-1", "pi-1")
        box = tmp_path / "box"
        box.mkdir()
        cfg = box / "devices.yaml"
        cfg.write_text(f'center: {{id: new-box}}\nagent: {{id: pi-x, heartbeat: 2s, '
                       f'config_confirm: 3s, state_dir: "{box / "state"}"}}\n'
                       'mqtt: {url: "mqtt://127.0.0.1:1883"}\ndevices: []\n')
        enrolled = run_cli("hcc-agent", "enroll", f"https://127.0.0.1:{https}", code,
                           "--fingerprint", fp, "--config", str(cfg), "--no-restart")
        assert enrolled.returncode == 0, enrolled.stderr
        # 2. discover the center's devices into its devices.yaml
        found = run_cli("hcc-agent", "discover", "127.0.0.0/29", "--config", str(cfg),
                        "--snmp-port", str(snmp_port), "--http-port", str(http_port),
                        "--no-neighbours", "--write")
        assert found.returncode == 0, found.stderr
        assert "đã thêm 2 thiết bị" in found.stdout
        agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                      tmp_path / "agent.log")
        procs.append(agent)

        def status() -> dict[str, object]:
            rows = json_lines(run_cli("hcc-controller", "config", "status", "--json",
                                      "--config", str(ctl_cfg)).stdout)
            return rows[0] if rows else {}

        def devices() -> int:
            rows = [a for a in json_lines(run_cli("hcc-controller", "agents", "--json", "--db",
                                                  str(db)).stdout) if a["agent"] == "pi-1"]
            return int(rows[0]["devices"]) if rows and rows[0].get("devices") is not None else -1

        wait_until(lambda: devices() == 2, 30, "the box reporting its 2 devices")
        # 3. configured centrally: the box's file plus a kiosk, pushed and applied in place
        good = tmp_path / "phuong-1.yaml"
        good.write_text(cfg.read_text() + "  - {id: kiosk-1, type: kiosk, host: 127.0.0.1, "
                                          f"tcp: {{port: {free_port()}}}}}\n")
        pushed = run_cli("hcc-controller", "config", "push", "phuong-1", str(good),
                         "--config", str(ctl_cfg))
        assert pushed.returncode == 0, pushed.stderr
        version = pushed.stdout.split("phiên bản ")[1].split()[0]
        wait_until(lambda: status().get("state") == "in sync", 30, "applied")
        wait_until(lambda: devices() == 3, 30, "3 devices after the push")
        assert "Traceback" not in agent.log()
        # 4. a broken one: refused with file:line
        broken = tmp_path / "broken.yaml"
        broken.write_text(good.read_text().replace("type: kiosk", "type: kisok"))
        refused = run_cli("hcc-controller", "config", "push", "phuong-1", str(broken),
                          "--config", str(ctl_cfg))
        assert refused.returncode == 1 and re.search(r"phuong-1\.yaml:\d+: ", refused.stderr), \
            refused.stderr
        # 5. one that cuts the broker: rolled back by the box itself
        cut = tmp_path / "cut.yaml"
        cut.write_text(good.read_text().replace(f"127.0.0.1:{port}", f"127.0.0.1:{free_port()}"))
        assert run_cli("hcc-controller", "config", "push", "phuong-1", str(cut), "--config",
                       str(ctl_cfg)).returncode == 0
        wait_until(lambda: "rolled back" in str(status().get("error")), 60, "rolled back")
        assert status()["applied"] == version
        # 6. the same good one again: nothing restarts
        started = agent.log().count("device loop started")
        assert run_cli("hcc-controller", "config", "push", "phuong-1", str(good), "--config",
                       str(ctl_cfg)).returncode == 0
        wait_until(lambda: "config unchanged" in agent.log(), 30, "the same version seen")
        wait_until(lambda: status().get("state") == "in sync", 30, "in sync again")
        assert agent.log().count("device loop started") == started
    finally:
        for p in reversed(procs):
            p.stop()
        plug.stop()
        sim.stop()
    assert all("Traceback" not in p.log() for p in procs)
