"""Installed like a Debian service: what lands where, what an uninstall keeps, systemd's verdict."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def install(root: Path, *args: str, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=900, check=False, env=env)


SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.fixture
def open_root() -> Iterator[Path]:
    """An install root the service user can reach (pytest's folders are root's only)."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="hcc-install-", dir="/tmp"))
    base.chmod(0o755)
    yield base / "root"
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None
                    or not SYSTEM_PYTHON.exists(),
                    reason="needs root, runuser and Debian's python3 (the service user must "
                           "run the installed agent)")
def test_installed_agent_runs_as_its_user(open_root: Path, service_user: str) -> None:
    """Issue 13: the installer left devices.yaml root:root 0640, so the hcc-agent user could
    not read it ("path … is not readable", exit 2); the tests used --root, which skipped the
    user and the ownership. Now the user is created and owns what it must read; the installed
    agent is run as that user, the way systemd runs it."""
    # no PYTHON=: the installer itself picks a python the service user can run (issue 26)
    out = install(open_root, "--center", "phuong-1", "--agent", "pi-7", "--broker",
                  "mqtts://broker.city.vn:8883", "--user", service_user)
    assert out.returncode == 0, out.stderr
    assert "next steps:" in out.stdout
    config = open_root / "etc/hcc-agent/devices.yaml"
    import grp
    import pwd

    st = config.stat()
    assert (pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name) == \
        ("root", service_user)
    assert st.st_mode & 0o777 == 0o640  # the service user reads it, nobody else
    state = open_root / "var/lib/hcc-agent"
    assert pwd.getpwuid(state.stat().st_uid).pw_name == service_user
    agent = open_root / "opt/hcc-fleet/venv/bin/hcc-agent"
    # runuser, not setpriv: setpriv finds the program as root
    as_user = [shutil.which("runuser") or "runuser", "-u", service_user, "--"]
    checked = subprocess.run([*as_user, str(agent), "validate", "--config",
                              str(config)], capture_output=True, text=True, check=False,
                             timeout=120, env={"PATH": "/usr/bin:/bin",
                                               "STATE_DIRECTORY": str(state)})
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "trung tâm phuong-1, máy giám sát pi-7, 0 thiết bị" in checked.stdout
    # what a box does not need is not installed: the controller's web and database stack
    site = next((open_root / "opt/hcc-fleet/venv/lib").glob("python3*/site-packages"))
    assert not list(site.glob("fastapi*")) and not list(site.glob("psycopg*"))
    assert list(site.glob("pysnmp*")) and list(site.glob("paho*"))


@pytest.mark.slow
def test_offline_install_from_a_wheelhouse(tmp_path: Path) -> None:
    """A Pi without internet: a wheelhouse built centrally, installed with --no-index."""
    house = tmp_path / "wheels"
    built = subprocess.run(["bash", str(ROOT / "scripts/build-wheelhouse.sh"), str(house)],
                           capture_output=True, text=True, timeout=900, check=False)
    assert built.returncode == 0, built.stderr
    assert list(house.glob("hcc_fleet-*.whl")) and list(house.glob("paho_mqtt-*.whl"))
    root = tmp_path / "root"
    out = install(root, "--wheelhouse", str(house), "--no-start")
    assert out.returncode == 0, out.stderr
    log = (root / "opt/hcc-fleet/pip-install.log").read_text()
    assert "Downloading" not in log  # nothing came from the internet
    agent = root / "opt/hcc-fleet/venv/bin/hcc-agent"
    checked = subprocess.run([str(agent), "validate", "--config",
                              str(root / "etc/hcc-agent/devices.yaml")],
                             capture_output=True, text=True, check=False, timeout=120)
    assert checked.returncode == 0, checked.stderr


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
    assert "ExecStart=/opt/hcc-fleet/current/venv/bin/hcc-agent run" in unit.read_text()
    assert os.readlink(root / "opt/hcc-fleet/current") == "."  # as installed: this venv
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
                       "SystemCallFilter=@system-service",
                       # ConfigurationDirectory= alone is writable under ProtectSystem=strict
                       f"ReadOnlyPaths=/etc/{name}"):
            assert needle in text, (name, needle)
    assert "CapabilityBoundingSet=CAP_NET_RAW" in (ROOT / "systemd/hcc-agent.service").read_text()


def test_the_wheel_holds_every_package(tmp_path: Path) -> None:
    """Issue 26, found by the nspawn test: the wheel lacked controller.channels (packages were
    listed by hand), so an installed controller died on import."""
    import zipfile

    # the wheel build-wheelhouse.sh makes (from a clean copy: no build/ leftovers)
    env = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(["bash", "-c", 'src=$1; out=$2; PY=$PYTHON; set -e; '
                           + _wheel_step(), "_", str(ROOT), str(tmp_path)],
                          capture_output=True, text=True, timeout=600, check=False, env=env)
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("hcc_fleet-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for top in ("agent", "controller", "hcc_common"):
        for init in (ROOT / top).rglob("__init__.py"):
            assert str(init.relative_to(ROOT)) in names, init
    assert "controller/rules_default.yaml" in names  # and the package data
    assert any(n.startswith("agent/profiles/") and n.endswith(".yaml") for n in names)


def _wheel_step() -> str:
    """build-wheelhouse.sh's lines that build the project's own wheel."""
    text = (ROOT / "scripts/build-wheelhouse.sh").read_text()
    start = text.index("clean=$(mktemp -d)")
    end = text.index("\n", text.index('"$PY" -m pip wheel', start))
    return text[start:end]
