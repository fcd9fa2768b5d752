"""The agent's footprint on a Raspberry Pi's userland: RSS and CPU per polling cycle of
`hcc-agent run` with 30 real-capture SNMP devices, in a Debian 12 arm64 root run by qemu-user
(installed offline with install.sh from the --pi wheelhouse, lab/pi_root.py), next to the same
agent on this x86 machine in the same run.

    bench/run pi_footprint [--quick] [--seconds S] [--interval I]

Both agents poll the same snmpsim and report to the same mosquitto, one after the other. CPU per
cycle is the process's user+system time over the measured window divided by the cycles in it
(window / interval). Under emulation each arm64 instruction costs several x86 ones and the RSS
includes qemu's translated code: these are not a Pi's figures, only the ratio to x86 in one run
says something (and a Pi's cores are slower than this machine's again).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from lab import pi_root
from lab.procs import Mosquitto, SnmpSim

ROOT = Path(__file__).resolve().parent.parent
SNMPREC = ROOT / "tests/fixtures/snmprec"
DEVICES = 30
KINDS = {"printer": "printer", "ap": "wifi_ap", "pdu": "charger", "ats": "charger",
         "ups": "ups", "router": "network"}


def fixtures() -> list[Path]:
    """30 captures: every top-level one (printers, PDUs, ATS, UPSes, a router), then APs."""
    top = sorted(SNMPREC.glob("*.snmprec"))
    aps = sorted(p for p in (SNMPREC / "wifi").glob("ap-*.snmprec")
                 if not any(w in p.stem for w in ("nothing", "generr", "empty")))
    return (top + aps)[:DEVICES]


def devices_yaml(port: int, broker: str, state_dir: str, interval: int, names: list[str]) -> str:
    rows = "\n".join(
        f"  - {{id: d{i:02d}, name: \"{n}\", type: {KINDS[n.split('-')[0]]}, host: 127.0.0.1, "
        f"snmp: {{port: {port}, community: {n}}}}}" for i, n in enumerate(names))
    return (f"center: {{id: bench}}\nagent: {{id: pi-1, state_dir: \"{state_dir}\", "
            f"heartbeat: {interval}s}}\nmqtt: {{url: \"{broker}\"}}\n"
            f"defaults: {{interval: {interval}s, timeout: 2s}}\ndevices:\n{rows}\n")


@dataclass(frozen=True)
class Footprint:
    cpu_per_cycle_s: float
    rss_mb: float
    hwm_mb: float
    polled: int  # devices whose last poll fell in the measured window


def measure(argv: list[str], status: Path, interval: int, seconds: float) -> Footprint:
    """Start the agent, wait until every device has been polled once, then measure a window."""
    popen = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not all_polled(status, 1.0):
            if popen.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"agent did not poll every device: "
                                   f"{popen.stderr.read().decode()[-2000:] if popen.stderr else ''}")
            time.sleep(1)
        proc = agent_process(popen.pid)
        time.sleep(interval)  # past the first cycle's imports and first contacts
        t0, c0 = time.time(), cpu(proc)
        time.sleep(seconds)
        t1, c1 = time.time(), cpu(proc)
        mem = proc.memory_full_info()
        hwm = hwm_mb(proc.pid)
        polled = polled_since(status, t0)
    finally:
        popen.terminate()
        try:
            popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()
    cycles = (t1 - t0) / interval
    return Footprint((c1 - c0) / cycles, mem.rss / 2**20, hwm, polled)


def agent_process(pid: int) -> psutil.Process:
    """The agent itself: the deepest process started (unshare → chroot → python, or python)."""
    proc = psutil.Process(pid)
    while children := proc.children():
        proc = children[0]
    return proc


def cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def read_status(status: Path) -> dict[str, dict[str, object]]:
    try:
        devices = json.loads(status.read_text())["devices"]
    except (OSError, ValueError, KeyError):
        return {}
    return devices if isinstance(devices, dict) else {}


def polled_since(status: Path, since: float) -> int:
    polls = [d.get("last_poll") for d in read_status(status).values()]
    return sum(1 for p in polls if isinstance(p, float) and p >= since)


def all_polled(status: Path, since: float) -> bool:
    return polled_since(status, since) == DEVICES


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a 30 s window")
    ap.add_argument("--seconds", type=float, default=90.0, help="measured window per agent")
    ap.add_argument("--interval", type=int, default=10, help="poll interval and heartbeat (s)")
    args = ap.parse_args()
    seconds = 30.0 if args.quick else args.seconds
    why_not = pi_root.cannot_run()
    if why_not:
        print(f"pi_footprint: cannot run here: {why_not}", file=sys.stderr)
        return 1
    t = time.monotonic()
    pi_root.ensure_emulation()
    pi_root.base_root()
    prepared = time.monotonic() - t
    t = time.monotonic()
    house = pi_root.pi_wheelhouse(sys.executable)
    wheels = time.monotonic() - t
    files = fixtures()
    names = [f.stem for f in files]
    base = Path(tempfile.mkdtemp(prefix="hcc-bench-pi-", dir="/tmp"))
    base.chmod(0o755)
    pi = base / "root"
    sim = broker = None
    try:
        t = time.monotonic()
        done = pi_root.installed_root(pi, house, "--center", "bench", "--agent", "pi-1")
        if done.returncode != 0:
            raise RuntimeError(f"install.sh in the arm64 root failed: {done.stderr[-2000:]}")
        installed = time.monotonic() - t
        sim = SnmpSim(base / "sim", files).start()
        for n in names:
            sim.wait_ready(n)
        broker = Mosquitto(base / "broker").start()
        print(f"arm64 root ready in {prepared:.0f} s (cached after the first debootstrap), "
              f"wheelhouse {wheels:.0f} s, offline install under emulation {installed:.0f} s",
              flush=True)
        print(f"{DEVICES} devices, every {args.interval} s, {seconds:.0f} s measured per agent",
              flush=True)
        (pi / "etc/hcc-agent/devices.yaml").write_text(
            devices_yaml(sim.port, broker.url, "/var/lib/hcc-agent", args.interval, names))
        x86_state = base / "x86-state"
        x86_config = base / "x86.yaml"
        x86_config.write_text(devices_yaml(sim.port, broker.url, str(x86_state), args.interval,
                                           names))
        x86 = measure([str(ROOT / ".venv/bin/hcc-agent"), "run", "--config", str(x86_config)],
                      x86_state / "status.json", args.interval, seconds)
        arm = measure(pi_root.chroot_argv(pi, "/opt/hcc-fleet/venv/bin/hcc-agent", "run",
                                          user="hcc-agent"),
                      pi / "var/lib/hcc-agent/status.json", args.interval, seconds)
    finally:
        if broker is not None:
            broker.stop()
        if sim is not None:
            sim.stop()
        pi_root.remove_root(pi)
        shutil.rmtree(base, ignore_errors=True)
    for name, f in (("x86_64 (this machine)", x86), ("arm64 (qemu-user)", arm)):
        print(f"{name:<22} CPU {f.cpu_per_cycle_s * 1000:7.0f} ms per cycle, RSS "
              f"{f.rss_mb:5.0f} MB (peak {f.hwm_mb:.0f}), {f.polled}/{DEVICES} devices polled "
              f"in the window")
    print("under emulation CPU time is not a Pi's: compare the ratio, within this run")
    print(f"x86_cpu_ms_per_cycle={x86.cpu_per_cycle_s * 1000:.0f} "
          f"arm64_cpu_ms_per_cycle={arm.cpu_per_cycle_s * 1000:.0f} "
          f"cpu_ratio={arm.cpu_per_cycle_s / x86.cpu_per_cycle_s:.1f} "
          f"x86_rss_mb={x86.rss_mb:.0f} arm64_rss_mb={arm.rss_mb:.0f} "
          f"rss_ratio={arm.rss_mb / x86.rss_mb:.1f} devices={DEVICES} interval_s={args.interval}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
