"""Installed like a Debian service: what lands where, what an uninstall keeps, systemd's verdict."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def install(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=600, check=False)


def test_install_into_a_root_then_uninstall_keeps_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    out = install(root)
    assert out.returncode == 0, out.stderr
    agent = root / "opt/hcc-fleet/venv/bin/hcc-agent"
    assert os.access(agent, os.X_OK)
    config = root / "etc/hcc-agent/devices.yaml"
    checked = subprocess.run([str(agent), "validate", "--config", str(config)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    assert (root / "var/lib/hcc-agent").is_dir()
    unit = root / "etc/systemd/system/hcc-agent.service"
    assert "ExecStart=/opt/hcc-fleet/venv/bin/hcc-agent run" in unit.read_text()
    wants = root / "etc/systemd/system/multi-user.target.wants/hcc-agent.service"
    assert wants.is_symlink() and os.readlink(wants) == "../hcc-agent.service"
    # a technician's edits survive a reinstall
    config.write_text(config.read_text() + "# edited on site\n")
    assert install(root).returncode == 0
    assert config.read_text().endswith("# edited on site\n")
    out = install(root, "--uninstall")
    assert out.returncode == 0, out.stderr
    assert not (root / "opt/hcc-fleet").exists() and not unit.exists() and not wants.exists()
    assert config.exists() and (root / "var/lib/hcc-agent").is_dir()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_units_verify_clean_and_agent_exposure_at_most_2() -> None:
    out = subprocess.run(["bash", str(ROOT / "scripts/systemd-check.sh")], capture_output=True,
                         text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert "hcc-agent: systemd-analyze verify: clean" in out.stdout
    assert "hcc-controller: systemd-analyze verify: clean" in out.stdout
    exposure = float(out.stdout.split("hcc-agent: security exposure ")[1].split()[0])
    assert exposure <= 2.0


def test_units_are_notify_with_watchdog_and_hardened() -> None:
    for name in ("hcc-agent", "hcc-controller"):
        text = (ROOT / f"systemd/{name}.service").read_text()
        for needle in ("Type=notify", "WatchdogSec=", "Restart=on-failure", f"User={name}",
                       "StateDirectory=", "ConfigurationDirectory=", "LogsDirectory=",
                       "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes",
                       "PrivateTmp=yes", "RestrictAddressFamilies=",
                       "SystemCallFilter=@system-service"):
            assert needle in text, (name, needle)
    assert "CapabilityBoundingSet=CAP_NET_RAW" in (ROOT / "systemd/hcc-agent.service").read_text()
