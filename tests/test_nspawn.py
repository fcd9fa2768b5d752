"""Issue 26: docs/operations.md's box-side steps of "a new center", run as written in a Debian 12
booted with systemd-nspawn, installed offline from a wheelhouse: install.sh, `sudo hcc-agent
discover --write` (and the service user told to use sudo), the service applying it without a
restart, `hcc-agent status`, and a config error that ends the restarts and is named in the journal.

The debootstrapped base root is cached between runs ($HCC_NSPAWN_CACHE, default
/var/cache/hcc-fleet-test); each test boots a copy of it. Nothing inside reaches the network."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import BIN
from lab.procs import Mosquitto, SnmpSim, free_port

pytestmark = [pytest.mark.slow, pytest.mark.integration,
              pytest.mark.skipif(os.geteuid() != 0 or shutil.which("systemd-nspawn") is None
                                 or shutil.which("debootstrap") is None,
                                 reason="needs root, systemd-container and debootstrap")]
ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("HCC_NSPAWN_CACHE", "/var/cache/hcc-fleet-test"))
MIRROR = "http://deb.debian.org/debian"
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,sudo"


def base_root() -> Path:
    """Debian 12 minbase with systemd, python3-venv and sudo: made once, kept in CACHE."""
    base = CACHE / "bookworm-base"
    if (base / "usr/bin/python3").exists():
        return base
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "base.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "bookworm",
                    str(tmp), MIRROR], check=True, capture_output=True, timeout=1800)
    tmp.rename(base)
    return base


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    env = dict(os.environ, PYTHON=str(BIN / "python"))  # a Python 3.11, as Debian 12's
    subprocess.run(["bash", str(ROOT / "scripts/build-wheelhouse.sh"), str(out), "--controller"],
                   check=True, capture_output=True, timeout=1800, env=env)
    return out


@pytest.fixture
def booted(tmp_path: Path, wheelhouse: Path) -> Iterator[Callable[[str], Path]]:
    """Boot a copy of the base root with `script` run by a oneshot unit; returns its out/."""
    made: list[Path] = []

    def boot(script: str) -> Path:
        machine = tmp_path / "machine"
        subprocess.run(["cp", "-a", str(base_root()), str(machine)], check=True, timeout=600)
        made.append(machine)
        src = machine / "opt/src"
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
            ".venv", ".git", "__pycache__", "*.egg-info", ".mypy_cache", ".ruff_cache"))
        shutil.copytree(wheelhouse, machine / "opt/wheels")
        test = machine / "opt/test"
        (test / "out").mkdir(parents=True)
        (test / "steps.sh").write_text("set -x\nexec >/opt/test/out/log.txt 2>&1\ncd /opt/src\n"
                                       + script + "\n")
        unit = machine / "etc/systemd/system/hcc-test.service"
        unit.write_text("[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\n"
                        "ExecStart=/bin/bash /opt/test/steps.sh\n"
                        "ExecStopPost=/bin/systemctl poweroff --no-block\n"
                        "TimeoutStartSec=600\n[Install]\nWantedBy=multi-user.target\n")
        wants = machine / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "hcc-test.service").symlink_to("../hcc-test.service")
        (machine / "etc/hostname").write_text("phuong-1-box\n")
        with (machine / "etc/hosts").open("a") as hosts:  # as a Debian installer leaves it
            hosts.write("127.0.1.1\tphuong-1-box\n")
        Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["systemd-nspawn", "-D", str(machine), "--boot", "--register=no",
                               "--keep-unit", "--console=passive"], capture_output=True,
                              timeout=900, check=False)
        out = tmp_path / "out"  # kept with the test's folder; the machine is removed
        shutil.copytree(test / "out", out)
        assert (out / "log.txt").exists(), done.stdout[-3000:]
        return out

    yield boot
    for m in made:
        shutil.rmtree(m, ignore_errors=True)


def test_a_new_center_as_operations_md_says(booted: Callable[[str], Path],
                                            private_snmp: Callable[..., SnmpSim]) -> None:
    sim = private_snmp("printer-laser")
    out = booted(f"""
# install.sh as docs/operations.md says, offline from the wheelhouse
bash scripts/install.sh --wheelhouse /opt/wheels --center phuong-1 --agent pi-1 \\
  --broker mqtt://127.0.0.1:1 > /opt/test/out/install.txt
echo $? > /opt/test/out/install.rc
systemctl is-active hcc-agent > /opt/test/out/active.txt
command -v hcc-agent > /opt/test/out/path.txt
# as the service user: said in one line, nothing changed
sudo -u hcc-agent hcc-agent discover 127.0.0.1/32 --no-neighbours --snmp-port {sim.port} \\
  --community printer-laser --write 2> /opt/test/out/as_user.err
echo $? > /opt/test/out/as_user.rc
# as the docs say: sudo
sudo hcc-agent discover 127.0.0.1/32 --no-neighbours --snmp-port {sim.port} \\
  --community printer-laser --write --config /etc/hcc-agent/devices.yaml \
  > /opt/test/out/discover.txt 2> /opt/test/out/discover.err
stat -c '%U:%G %a' /etc/hcc-agent/devices.yaml > /opt/test/out/owner.txt
systemctl show -p MainPID --value hcc-agent > /opt/test/out/pid_before.txt
for i in $(seq 60); do
  sudo hcc-agent status --lang en > /opt/test/out/status.txt 2>&1 &&
    grep -q 'polled [0-9]' /opt/test/out/status.txt && break
  sleep 1
done
systemctl show -p MainPID --value hcc-agent > /opt/test/out/pid_after.txt
sudo -u hcc-agent hcc-agent status > /opt/test/out/status_user.txt 2>&1  # in Vietnamese
# a config error: named in the journal, not restarted every 5 s
printf '  - {{id: bad, type: printer, hostname: 192.0.2.9, ping: true}}\\n' >> /etc/hcc-agent/devices.yaml
sudo hcc-agent validate --lang en > /opt/test/out/validate.txt 2>&1
systemctl restart hcc-agent
sleep 15
systemctl show -p NRestarts -p ActiveState -p ExecMainStatus hcc-agent > /opt/test/out/error.txt
journalctl -u hcc-agent --no-pager > /opt/test/out/journal.txt
""")
    log = (out / "log.txt").read_text()
    assert (out / "install.rc").read_text().strip() == "0", log[-3000:]
    assert (out / "active.txt").read_text().strip() == "active", log[-3000:]
    assert (out / "path.txt").read_text().strip() == "/usr/local/bin/hcc-agent"
    assert (out / "as_user.rc").read_text().strip() == "1"
    as_user = (out / "as_user.err").read_text()
    assert "sudo hcc-agent discover --write" in as_user and "Traceback" not in as_user
    assert "đã thêm 1 thiết bị" in (out / "discover.txt").read_text(), log[-3000:]
    assert "đã nạp lại" in (out / "discover.txt").read_text(), (out / "discover.err").read_text()
    assert (out / "owner.txt").read_text().strip() == "root:hcc-agent 640"
    status = (out / "status.txt").read_text()
    assert "polled" in status and "never" not in status, status
    # applied by a reload: the same process
    assert (out / "pid_before.txt").read_text() == (out / "pid_after.txt").read_text()
    assert "trung tâm phuong-1" in (out / "status_user.txt").read_text()
    validate = (out / "validate.txt").read_text()
    assert "did you mean 'host'" in validate and "devices.yaml:" in validate
    error = dict(line.split("=", 1) for line in (out / "error.txt").read_text().split())
    assert error == {"NRestarts": "0", "ActiveState": "failed", "ExecMainStatus": "78"}, error
    assert "lỗi cấu hình: /etc/hcc-agent/devices.yaml:" in (out / "journal.txt").read_text()



CENTRAL_STEPS = r"""
O=/opt/test/out
ctl="sudo -u hcc-controller hcc-controller"
bash scripts/install.sh --wheelhouse /opt/wheels --center phuong-1 --agent pi-1 \
  --broker mqtt://127.0.0.1:@BROKER@ > $O/install.txt
sudo hcc-agent discover 127.0.0.1/32 --no-neighbours --snmp-port @SNMP@ \
  --community printer-laser --write > $O/discover.txt
bash scripts/install.sh --wheelhouse /opt/wheels --controller > $O/install_ctl.txt
echo $? > $O/install_ctl.rc
# operations.md's first admin, as written; the operator here is root (its login shell's $USER)
export USER=root
sudo -u hcc-controller hcc-controller user add "$USER" --role admin > $O/admin.txt 2>&1
echo $? > $O/admin.rc
stat -c '%U' /var/lib/hcc-controller/hcc.db > $O/db_owner.txt
# install.sh's next step: edit controller.yaml (here: the host's broker, a free port), restart
sed -i 's|mqtt://127.0.0.1:1883|mqtt://127.0.0.1:@BROKER@|; s|127.0.0.1:8080|127.0.0.1:@HTTP@|' \
  /etc/hcc-controller/controller.yaml
systemctl restart hcc-controller
for i in $(seq 60); do $ctl agents 2>/dev/null | grep -q phuong-1 && break; sleep 1; done
systemctl is-active hcc-controller > $O/ctl_active.txt
# a box set up by hand gets the controller's public key (operations.md, "change a printer")
$ctl signing-key > $O/signing.txt
sed -n '/BEGIN PUBLIC KEY/,/END PUBLIC KEY/p' $O/signing.txt > /tmp/controller.pub
sudo install -o root -g hcc-agent -m 0640 /tmp/controller.pub /etc/hcc-agent/controller.pub
sudo sed -i 's|^agent: {id: pi-1}|agent: {id: pi-1, controller_keys: [/etc/hcc-agent/controller.pub]}|' \
  /etc/hcc-agent/devices.yaml
sudo systemctl reload hcc-agent
$ctl config status > $O/status0.txt 2>&1
$ctl config pull phuong-1 > $O/pull.txt 2>&1
cp /var/lib/hcc-controller/configs/phuong-1.yaml $O/pulled.yaml
cp /etc/hcc-agent/devices.yaml $O/box.yaml
kept=/var/lib/hcc-controller/configs/phuong-1.yaml
synced() {  # config status until in sync with the version just pushed
  for i in $(seq 60); do
    $ctl config status > $O/$1 2>&1
    grep -q "desired $2 .*in sync" $O/$1 && return 0
    sleep 1
  done
}
# "vi …/configs/phuong-1.yaml: replace the printer's name", twice
sudo -u hcc-controller sed -i 's/^\(    name: \).*/\1Máy in quầy 2/' $kept
$ctl config diff phuong-1 > $O/diff.txt 2>&1
$ctl config push phuong-1 --by "Lan (IT)" > $O/push1.txt 2>&1
v1=$(sed -n 's/.*version \([0-9a-f]*\) pushed.*/\1/p' $O/push1.txt)
synced status1.txt $v1
sudo -u hcc-controller sed -i 's/^\(    name: \).*/\1Máy in quầy 3/' $kept
$ctl config push phuong-1 --by "Lan (IT)" > $O/push2.txt 2>&1
v2=$(sed -n 's/.*version \([0-9a-f]*\) pushed.*/\1/p' $O/push2.txt)
synced status2.txt $v2
$ctl config rollback phuong-1 > $O/rollback.txt 2>&1
synced status3.txt $v1
echo "$v1 $v2" > $O/versions.txt
sudo hcc-agent status > $O/box_status.txt 2>&1
journalctl -u hcc-controller --no-pager > $O/ctl_journal.txt
"""


def test_change_a_printer_and_roll_back_as_operations_md_says(
        booted: Callable[[str], Path], private_snmp: Callable[..., SnmpSim],
        broker: Mosquitto) -> None:
    """The central steps: the controller installed beside the box (one machine, the broker on
    the host's loopback), the box's file pulled, a printer renamed, diffed, pushed, in sync,
    renamed again, rolled back; each command as operations.md writes it."""
    sim = private_snmp("printer-laser")
    out = booted(CENTRAL_STEPS.replace("@BROKER@", str(broker.port))
                 .replace("@SNMP@", str(sim.port)).replace("@HTTP@", str(free_port())))
    log = (out / "log.txt").read_text()
    assert (out / "install_ctl.rc").read_text().strip() == "0", log[-3000:]
    assert (out / "ctl_active.txt").read_text().strip() == "active", \
        (out / "ctl_journal.txt").read_text()[-3000:]
    assert (out / "admin.rc").read_text().strip() == "0", (out / "admin.txt").read_text()
    assert "đã tạo tài khoản root: admin" in (out / "admin.txt").read_text()
    assert (out / "db_owner.txt").read_text().strip() == "hcc-controller"
    assert "chưa gửi cấu hình nào" in (out / "status0.txt").read_text()
    assert "phuong-1/pi-1" in (out / "pull.txt").read_text(), (out / "pull.txt").read_text()
    assert (out / "pulled.yaml").read_text() == (out / "box.yaml").read_text()
    assert "+    name: Máy in quầy 2" in (out / "diff.txt").read_text(), log[-3000:]
    v1, v2 = (out / "versions.txt").read_text().split()
    assert v1 != v2
    for name, version in (("status1.txt", v1), ("status2.txt", v2), ("status3.txt", v1)):
        text = (out / name).read_text()
        assert f"cần chạy {version}" in text and "đã khớp" in text, (name, text)
    assert f"đã quay lại phiên bản {v1} (trước đó {v2})" in (out / "rollback.txt").read_text()
