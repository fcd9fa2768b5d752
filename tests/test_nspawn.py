"""Issue 26: docs/operations.md's box-side steps of "a new center", run as written in a Debian 12
booted with systemd-nspawn, installed offline from a wheelhouse: install.sh, `sudo hcc-agent
discover --write` (and the service user told to use sudo), the service applying it without a
restart, `hcc-agent status`, and a config error that ends the restarts and is named in the journal.
A second boot (`central`, shared by the tests that follow it) runs "change a printer" and "roll
back" and checks what systemd does with the shipped units: READY and status lines, reload in the
same process, kill -9 and the watchdog (both restarted, nothing stored lost), the controller's
config error, the sandbox from inside each service's mount namespace, `systemd-analyze security`.

The debootstrapped base root is cached between runs ($HCC_NSPAWN_CACHE, default
/var/cache/hcc-fleet-test); each test boots a copy of it. Nothing inside reaches the network."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import BIN, SNMPREC
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


def boot(tmp: Path, wheelhouse: Path, script: str) -> Path:
    """Boot a copy of the base root in `tmp` with `script` run by a oneshot unit (no `set -e`:
    every step runs and leaves its findings); returns its out/, kept in `tmp`."""
    machine = tmp / "machine"
    try:
        subprocess.run(["cp", "-a", str(base_root()), str(machine)], check=True, timeout=600)
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
                        "TimeoutStartSec=900\n[Install]\nWantedBy=multi-user.target\n")
        wants = machine / "etc/systemd/system/multi-user.target.wants"
        wants.mkdir(parents=True, exist_ok=True)
        (wants / "hcc-test.service").symlink_to("../hcc-test.service")
        (machine / "etc/hostname").write_text("phuong-1-box\n")
        with (machine / "etc/hosts").open("a") as hosts:  # as a Debian installer leaves it
            hosts.write("127.0.1.1\tphuong-1-box\n")
        Path("/run/systemd/nspawn").mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["systemd-nspawn", "-D", str(machine), "--boot", "--register=no",
                               "--keep-unit", "--console=passive"], capture_output=True,
                              timeout=1200, check=False)
        out = tmp / "out"  # kept with the test's folder; the machine is removed
        shutil.copytree(test / "out", out)
        assert (out / "log.txt").exists(), done.stdout[-3000:]
        return out
    finally:
        shutil.rmtree(machine, ignore_errors=True)


@pytest.fixture
def booted(tmp_path: Path, wheelhouse: Path) -> Callable[[str], Path]:
    """Boot a copy of the base root with `script` run by a oneshot unit; returns its out/."""
    return lambda script: boot(tmp_path, wheelhouse, script)


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
    # named in the journal: the file, the line and the key
    assert re.search(r"(lỗi cấu hình|config error): /etc/hcc-agent/devices\.yaml:\d+: "
                     r"devices\[1\]\.hostname: ",
                     (out / "journal.txt").read_text())



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
# ---- under real systemd (issue 26) -------------------------------------------------------------
# both units as systemd sees them: Type=notify, active (READY=1 came), a status line
for u in hcc-agent hcc-controller; do
  systemctl show -p Type -p ActiveState -p SubState -p StatusText $u > $O/show_$u.txt
  systemd-analyze security --no-pager $u.service > $O/security_$u.txt 2>&1
done
# the hardening, in each running service's own mount namespace: a write outside its state
# directory fails even as root; the state directory takes one (as root and as the service user)
for u in hcc-agent hcc-controller; do
  pid=$(systemctl show -p MainPID --value $u)
  cp /proc/$pid/mountinfo $O/mountinfo_$u.txt
  for f in /etc/$u/probe /opt/hcc-fleet/probe /usr/local/bin/probe /etc/probe /root/probe \
           /var/lib/$u/probe; do
    nsenter -t $pid -m -- sh -c "echo x > $f" 2>> $O/writes_$u.err
    echo "root $f $?" >> $O/writes_$u.txt
  done
  nsenter -t $pid -m -S $(id -u $u) -G $(id -g $u) -- sh -c "echo x > /var/lib/$u/probe2"
  echo "user /var/lib/$u/probe2 $?" >> $O/writes_$u.txt
  nsenter -t $pid -m -S $(id -u $u) -G $(id -g $u) -- sh -c "echo x > /etc/$u/probe2" \
    2>> $O/writes_$u.err
  echo "user /etc/$u/probe2 $?" >> $O/writes_$u.txt
  rm -f /var/lib/$u/probe /var/lib/$u/probe2 /etc/$u/probe /etc/$u/probe2
done
# an edited devices.yaml and `systemctl reload hcc-agent`: the new device polled, same process
pid0=$(systemctl show -p MainPID --value hcc-agent)
sed -i 's|^agent: {id: pi-1}|agent: {id: pi-1, report: all, heartbeat: 2s}|' /etc/hcc-agent/devices.yaml
sed -i '1i defaults: {interval: 2s, timeout: 1s}' /etc/hcc-agent/devices.yaml
ups='{id: ups-1, name: "UPS phòng máy", type: ups, host: 127.0.0.1,'
printf '  - %s snmp: {port: @SNMP@, community: ups-eaton-xups}}\n' "$ups" >> /etc/hcc-agent/devices.yaml
systemctl reload hcc-agent
echo $? > $O/reload.rc
for i in $(seq 60); do
  sudo hcc-agent status --lang en > $O/reload_status.txt 2>&1
  grep -q 'ups-1 .*polled [0-9]' $O/reload_status.txt && break
  sleep 1
done
echo "$pid0 $(systemctl show -p MainPID --value hcc-agent)" > $O/reload_pids.txt
systemctl show -p StatusText hcc-agent > $O/reload_show.txt
# kill -9: restarted by systemd, and every report it had stored reaches the controller once
agents_ok() {  # the controller's count for the box: at least $1 received, no gaps
  $ctl agents --json > $O/agents.json 2>&1
  python3 -c 'import json, sys; r = json.loads(open(sys.argv[1]).readline())
sys.exit(0 if r["received"] >= int(sys.argv[2]) and r["gaps"] == 0 else 1)' $O/agents.json $1
}
for i in $(seq 60); do agents_ok 3 && break; sleep 1; done
cp $O/agents.json $O/agents_before_kill.json
journalctl -u hcc-agent --no-pager | grep -c 'agent starting' > $O/starts_before_kill.txt
outbox() { python3 -c 'import sqlite3, sys
print(sqlite3.connect("/var/lib/hcc-agent/outbox.sqlite").execute(sys.argv[1]).fetchone()[0])' "$1"; }
pid1=$(systemctl show -p MainPID --value hcc-agent)
systemctl show -p NRestarts --value hcc-agent > $O/kill_nrestarts0.txt
kill -9 $pid1
outbox "SELECT value FROM meta WHERE key='seq'" > $O/seq1.txt  # RestartSec=5: before the restart
for i in $(seq 60); do
  p=$(systemctl show -p MainPID --value hcc-agent)
  [ "$p" != 0 ] && [ "$p" != "$pid1" ] && systemctl is-active -q hcc-agent && break
  sleep 1
done
echo "$pid1 $(systemctl show -p MainPID --value hcc-agent)" > $O/kill_pids.txt
systemctl show -p NRestarts --value hcc-agent > $O/kill_nrestarts1.txt
sleep 5
systemctl stop hcc-agent  # graceful: what it assigned is sent, or kept in its outbox
outbox "SELECT value FROM meta WHERE key='seq'" > $O/seq2.txt
expected=$(( $(cat $O/seq1.txt) + $(cat $O/seq2.txt) ))
for i in $(seq 60); do agents_ok $expected && break; sleep 1; done
sleep 2  # anything counted twice would show now
agents_ok $expected
cp $O/agents.json $O/agents_after_kill.json
sed -i 's|^agent: {id: pi-1, report: all, heartbeat: 2s}|agent: {id: pi-1}|' /etc/hcc-agent/devices.yaml
# the watchdog: a frozen agent (SIGSTOP: its loop and its pings stop) is killed and restarted
mkdir -p /etc/systemd/system/hcc-agent.service.d
printf '[Service]\nWatchdogSec=6\n' > /etc/systemd/system/hcc-agent.service.d/zz-test.conf
systemctl daemon-reload
systemctl start hcc-agent
sleep 14  # two watchdog periods: alive by its pings
systemctl show -p NRestarts -p ActiveState -p WatchdogUSec hcc-agent > $O/wd_before.txt
pid2=$(systemctl show -p MainPID --value hcc-agent)
kill -STOP $pid2
for i in $(seq 60); do
  p=$(systemctl show -p MainPID --value hcc-agent)
  [ "$p" != 0 ] && [ "$p" != "$pid2" ] && systemctl is-active -q hcc-agent && break
  sleep 1
done
echo "$pid2 $(systemctl show -p MainPID --value hcc-agent)" > $O/wd_pids.txt
systemctl show -p NRestarts -p ActiveState hcc-agent > $O/wd_after.txt
journalctl -u hcc-agent --no-pager > $O/agent_journal.txt
rm /etc/systemd/system/hcc-agent.service.d/zz-test.conf
systemctl daemon-reload
systemctl restart hcc-agent
# ---- end of the systemd checks: "change a printer" goes on from here --------------------------
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
    grep -q "cần chạy $2 .*đã khớp" $O/$1 && return 0
    sleep 1
  done
}
# "vi …/configs/phuong-1.yaml: replace the printer's name", twice
sudo -u hcc-controller sed -i 's/^\(    name: \).*/\1Máy in quầy 2/' $kept
$ctl config diff phuong-1 > $O/diff.txt 2>&1
$ctl config push phuong-1 --by "Lan (IT)" > $O/push1.txt 2>&1
v1=$(grep -o '[0-9a-f]\{12\}' $O/push1.txt | head -1)  # the version, in either language
synced status1.txt $v1
sudo -u hcc-controller sed -i 's/^\(    name: \).*/\1Máy in quầy 3/' $kept
$ctl config push phuong-1 --by "Lan (IT)" > $O/push2.txt 2>&1
v2=$(grep -o '[0-9a-f]\{12\}' $O/push2.txt | head -1)
synced status2.txt $v2
$ctl config rollback phuong-1 > $O/rollback.txt 2>&1
synced status3.txt $v1
echo "$v1 $v2" > $O/versions.txt
sudo hcc-agent status > $O/box_status.txt 2>&1
# a config error in controller.yaml: named in the journal (file:line, key), not restarted
printf 'htp: {listen: "127.0.0.1:1"}\n' >> /etc/hcc-controller/controller.yaml
systemctl restart hcc-controller
sleep 12
systemctl show -p NRestarts -p ActiveState -p ExecMainStatus hcc-controller > $O/ctl_error.txt
journalctl -u hcc-controller --no-pager > $O/ctl_journal.txt
"""


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Iterator[Path]:
    """One boot for the central steps and the systemd checks (boot time matters on 2 cores):
    the controller installed beside the box, the broker and snmpsim on the host's loopback.
    Returns the boot's out/; each test below reads its own part of it."""
    tmp = tmp_path_factory.mktemp("central")
    broker = Mosquitto(tmp / "broker").start()
    sim = SnmpSim(tmp / "sim", [SNMPREC / "printer-laser.snmprec",
                                SNMPREC / "ups-eaton-xups.snmprec"]).start()
    try:
        yield boot(tmp, wheelhouse, CENTRAL_STEPS.replace("@BROKER@", str(broker.port))
                   .replace("@SNMP@", str(sim.port)).replace("@HTTP@", str(free_port())))
    finally:
        sim.stop()
        broker.stop()


def read(out: Path, name: str) -> str:
    return (out / name).read_text() if (out / name).exists() else f"({name} not written)"


def shown(out: Path, name: str) -> dict[str, str]:
    """`systemctl show -p A -p B` output as a dict."""
    return dict(line.split("=", 1) for line in read(out, name).splitlines() if "=" in line)


def test_change_a_printer_and_roll_back_as_operations_md_says(central: Path) -> None:
    """The central steps: the controller installed beside the box (one machine, the broker on
    the host's loopback), the box's file pulled, a printer renamed, diffed, pushed, in sync,
    renamed again, rolled back; each command as operations.md writes it."""
    out = central
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


def test_both_units_start_as_notify_with_a_status_line(central: Path) -> None:
    """Type=notify and active: systemd got READY=1 (else it would still be "activating")."""
    agent, controller = shown(central, "show_hcc-agent.txt"), shown(central, "show_hcc-controller.txt")
    assert agent == {"Type": "notify", "ActiveState": "active", "SubState": "running",
                     "StatusText": "watching 1 devices"}, agent
    assert controller == {"Type": "notify", "ActiveState": "active", "SubState": "running",
                          "StatusText": "ingesting"}, controller


def exposure(text: str, unit: str) -> float:
    match = re.search(rf"Overall exposure level for {re.escape(unit)}: ([0-9.]+)", text)
    assert match, text[-2000:]
    return float(match[1])


def test_systemd_analyze_security_at_most_2(central: Path) -> None:
    for unit in ("hcc-agent", "hcc-controller"):
        level = exposure(read(central, f"security_{unit}.txt"), f"{unit}.service")
        assert level <= 2.0, (unit, level, read(central, f"security_{unit}.txt"))


def test_a_write_outside_the_state_directory_fails(central: Path) -> None:
    """In the running service's own mount namespace (nsenter -m), even root cannot write to
    its config, the program, /etc or /root; its state directory takes a write, which shows the
    method works. The service's user cannot write its config either."""
    for unit in ("hcc-agent", "hcc-controller"):
        rows = [line.rsplit(" ", 1) for line in read(central, f"writes_{unit}.txt").splitlines()]
        rc = {what: code for what, code in rows}
        for path in (f"/etc/{unit}/probe", "/opt/hcc-fleet/probe", "/usr/local/bin/probe",
                     "/etc/probe", "/root/probe"):
            assert rc[f"root {path}"] != "0", (unit, path, rc)
        assert rc[f"user /etc/{unit}/probe2"] != "0", rc
        assert rc[f"root /var/lib/{unit}/probe"] == "0", rc
        assert rc[f"user /var/lib/{unit}/probe2"] == "0", rc
        errors = read(central, f"writes_{unit}.err")
        for path in (f"/etc/{unit}/probe", "/opt/hcc-fleet/probe", "/usr/local/bin/probe",
                     "/etc/probe", "/root/probe", f"/etc/{unit}/probe2"):
            # the sandbox refuses it, not only the folder's mode (ReadOnlyPaths= in the unit)
            assert f"cannot create {path}: Read-only file system" in errors, (path, errors)
        root_mount = [m.split() for m in read(central, f"mountinfo_{unit}.txt").splitlines()
                      if m.split()[4] == "/"]
        assert root_mount and "ro" in root_mount[-1][5].split(","), root_mount


def test_reload_applies_an_edited_devices_yaml_without_a_restart(central: Path) -> None:
    assert read(central, "reload.rc").strip() == "0"
    status = read(central, "reload_status.txt")
    assert re.search(r"ups-1 .*polled [0-9]", status), status
    before, after = read(central, "reload_pids.txt").split()
    assert before == after != "0"
    assert shown(central, "reload_show.txt") == {"StatusText": "watching 2 devices"}


def test_kill_9_is_restarted_with_nothing_lost(central: Path) -> None:
    """Counted at the controller: every report the killed agent had stored, and every one of
    the run after it (stopped gracefully), received, with no gap. Sent twice is allowed (what
    the broker had PUBACKed is remembered in memory only: docs/reliability.md, durability
    contract); the controller drops those by (session, seq) and counts them apart."""
    # one run before the kill, so the killed run's seq counts everything sent before it
    assert read(central, "starts_before_kill.txt").strip() == "1"
    killed, restarted = read(central, "kill_pids.txt").split()
    assert restarted not in (killed, "0")
    assert int(read(central, "kill_nrestarts1.txt")) == \
        int(read(central, "kill_nrestarts0.txt")) + 1
    assigned = int(read(central, "seq1.txt")) + int(read(central, "seq2.txt"))
    before = json.loads(read(central, "agents_before_kill.json").splitlines()[0])
    row = json.loads(read(central, "agents_after_kill.json").splitlines()[0])
    assert before["received"] > 0 and int(read(central, "seq2.txt")) > 0
    assert (row["received"], row["gaps"]) == (assigned, 0), (row, assigned)


def test_the_watchdog_restarts_a_frozen_agent(central: Path) -> None:
    """WatchdogSec shortened to 6 s by a drop-in: alive through two periods by its pings, then
    frozen (SIGSTOP: its loop stops, and its pings with it): killed and restarted by systemd."""
    before, after = shown(central, "wd_before.txt"), shown(central, "wd_after.txt")
    assert before["ActiveState"] == "active" and before["WatchdogUSec"] == "6s", before
    frozen, restarted = read(central, "wd_pids.txt").split()
    assert restarted not in (frozen, "0")
    assert after["ActiveState"] == "active"
    assert int(after["NRestarts"]) == int(before["NRestarts"]) + 1, (before, after)
    assert "Watchdog timeout" in read(central, "agent_journal.txt")


def test_a_controller_config_error_is_named_and_not_restarted(central: Path) -> None:
    error = shown(central, "ctl_error.txt")
    assert error == {"NRestarts": "0", "ActiveState": "failed", "ExecMainStatus": "78"}, error
    journal = read(central, "ctl_journal.txt")
    assert re.search(r"(lỗi cấu hình|config error): /etc/hcc-controller/controller\.yaml:\d+.*htp",
                     journal), \
        journal[-3000:]
