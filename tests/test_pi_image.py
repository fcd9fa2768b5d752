"""Issue 26, "a Raspberry Pi image, emulated": the --pi wheelhouse installed offline with install.sh
into a Debian 12 arm64 root (Raspberry Pi OS 12's userland) run here by qemu-user, then the
installed `hcc-agent validate` and `hcc-agent check` inside it against snmpsim on the host.

The root and the wheelhouse's downloads are cached between runs (lab/pi_root.py); the first run
debootstraps (about 7 minutes). Nothing inside the root reaches the network but 127.0.0.1."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lab import pi_root
from lab.procs import SnmpSim

why_not = pi_root.cannot_run()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(why_not is not None, reason=why_not or "")]


@pytest.fixture(scope="module")
def emulated() -> Path:
    pi_root.ensure_emulation()
    return pi_root.base_root()


@pytest.fixture(scope="module")
def wheelhouse(emulated: Path) -> Path:
    return pi_root.pi_wheelhouse(sys.executable)


@pytest.fixture
def pi(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("pi") / "root"
    done = pi_root.installed_root(root, wheelhouse, "--center", "phuong-1", "--agent", "pi-1",
                                  "--broker", "mqtt://127.0.0.1:1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installed hcc-agent" in done.stdout
    yield root
    pi_root.remove_root(root)


def test_the_root_is_debian_12_arm64_with_the_python_the_wheels_are_for(emulated: Path,
                                                                         wheelhouse: Path) -> None:
    out = pi_root.chroot(emulated, "python3", "-c", "import platform, sys; "
                         "print(platform.machine(), sys.implementation.cache_tag)")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["aarch64", "cpython-311"]
    assert (emulated / "etc/debian_version").read_text().startswith("12.")
    wheels = sorted(p.name for p in wheelhouse.glob("*") if not p.name.startswith("."))
    assert any(w.startswith("hcc_fleet-") for w in wheels)
    assert all(w.endswith(".whl") for w in wheels), wheels  # nothing to build on the box
    for w in wheels:  # each one loads on bookworm arm64 with CPython 3.11
        python, abi, platform = w[:-4].split("-")[-3:]
        if platform == "any":
            assert abi == "none" and "py3" in python.split("."), w
        else:
            assert "aarch64" in platform and "x86_64" not in platform, w
            assert python in ("cp311", "cp36", "cp37", "cp38", "cp39", "cp310") and \
                abi in ("cp311", "abi3"), w
            glibc = [int(m) for m in re.findall(r"manylinux_2_(\d+)", platform)]
            assert "manylinux2014" in platform or min(glibc) <= 36, w
    # the agent's compiled dependencies are there for aarch64
    for name in ("cryptography", "orjson", "psutil", "pyyaml"):
        assert any(w.startswith(f"{name}-") and "aarch64" in w for w in wheels), name


def devices_yaml(port: int) -> str:
    return f"""\
center: {{id: phuong-1, name: "Phường 1"}}
agent: {{id: pi-1}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
defaults: {{interval: 30s, timeout: 2s}}
devices:
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 127.0.0.1
    snmp: {{port: {port}, community: printer-laser}}
  - id: ups-1
    name: "UPS phòng máy"
    type: ups
    host: 127.0.0.1
    snmp: {{port: {port}, community: ups-eaton-xups}}
"""


def test_installed_offline_then_validate_and_check_the_hosts_devices(
        pi: Path, private_snmp: Callable[..., SnmpSim]) -> None:
    log = (pi / "opt/hcc-fleet/pip-install.log").read_text()
    assert "Downloading" not in log  # everything came from the wheelhouse
    agent = "/opt/hcc-fleet/venv/bin/hcc-agent"
    machine = pi_root.chroot(pi, "/opt/hcc-fleet/venv/bin/python", "-c",
                             "import platform, psutil, orjson, cryptography; "
                             "print(platform.machine())")
    assert machine.stdout.strip() == "aarch64", machine.stderr  # the aarch64 wheels load
    sim = private_snmp("printer-laser", "ups-eaton-xups")
    sim.wait_ready("ups-eaton-xups")
    config = pi / "etc/hcc-agent/devices.yaml"
    config.write_text(devices_yaml(sim.port))  # keeps install.sh's owner and mode
    # validate, as the service user (install.sh made it and gave it the config)
    checked = pi_root.chroot(pi, agent, "validate", user="hcc-agent")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "trung tâm phuong-1, máy giám sát pi-1, 2 thiết bị" in checked.stdout
    # a toner running low on the host's printer: read live, through the emulated agent
    sim.set_value("printer-laser", "1.3.6.1.2.1.43.11.1.1.9.1.1", "2", "7")
    out = pi_root.chroot(pi, agent, "check", "--json", user="hcc-agent")
    rows = {r["device"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {"printer-1", "ups-1", "pi-1"}, out.stdout + out.stderr
    printer = rows["printer-1"]
    assert printer["metrics"]["model"] == "HP LaserJet MFP M428fdw"
    assert printer["metrics"]["supply.1.pct"] == 7.0 and printer["metrics"]["supply.2.pct"] == 88.0
    assert [f["code"] for f in printer["faults"]] == ["printer.toner_low"]
    assert printer["status"] == "warning"
    ups = rows["ups-1"]
    assert ups["metrics"]["battery_charge_pct"] == 64.0
    assert {f["code"] for f in ups["faults"]} == {"ups.on_battery", "ups.replace_battery"}
    assert rows["pi-1"]["type"] == "box" and "memory_percent" in rows["pi-1"]["metrics"]
    # and in the technician's words
    table = pi_root.chroot(pi, agent, "check", "--lang", "vi", user="hcc-agent")
    assert "Máy in quầy 1" in table.stdout and "sắp hết (7%)" in table.stdout, table.stdout
