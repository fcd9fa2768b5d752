"""Agent polling: M simulated SNMP devices (one snmpsim, M data files), 20 OIDs each, one cycle;
next to net-snmp's snmpget fetching the same OIDs from the same devices one after another.

    bench/run poll [--quick] [--devices M]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.procs import SnmpSim, which

FIXTURE = Path(__file__).resolve().parent.parent / "tests/fixtures/snmprec/printer-laser.snmprec"
OIDS = 20

# The measured side runs in its own process, so its CPU time and memory are the agent's alone.
AGENT_SIDE = r"""
import asyncio, json, os, resource, sys, time
from agent.snmp_client import SnmpClient, SnmpTarget
port, names, oids, cycles = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3].split(","), int(sys.argv[4])
async def main():
    client = SnmpClient()
    targets = [SnmpTarget("127.0.0.1", port, "2c", n, 2.0, 1) for n in names]
    async def cycle():
        t = time.perf_counter()
        answers = await asyncio.gather(*(client.get(tg, oids) for tg in targets))
        assert all(len(a) == len(oids) and all(v is not None for v in a.values()) for a in answers)
        return time.perf_counter() - t
    await cycle()  # warm-up: snmpsim indexes each file on first use
    c0 = time.process_time()
    walls = [await cycle() for _ in range(cycles)]
    cpu = (time.process_time() - c0) / cycles
    client.close()
    hwm = 0
    for line in open(f"/proc/{os.getpid()}/status"):
        if line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) // 1024
    print(json.dumps({"wall": sorted(walls)[len(walls) // 2], "cpu": cpu, "rss_mb": hwm}))
asyncio.run(main())
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="50 devices")
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--cycles", type=int, default=3)
    args = ap.parse_args()
    m = 50 if args.quick else args.devices
    lines = [ln for ln in FIXTURE.read_text().splitlines() if ln.strip()]
    oids = [ln.split("|", 1)[0] for ln in lines[:OIDS]]
    with tempfile.TemporaryDirectory(prefix="hcc-bench-poll-") as tmp:
        work = Path(tmp)
        src = work / "src"
        src.mkdir()
        names = [f"dev{i:04d}" for i in range(m)]
        for n in names:
            (src / f"{n}.snmprec").write_text(FIXTURE.read_text())
        sim = SnmpSim(work / "sim", sorted(src.glob("*.snmprec"))).start(wait_for=names[0])
        try:
            print(f"{m} devices x {OIDS} OIDs; warming snmpsim up ...", flush=True)
            out = subprocess.run([sys.executable, "-c", AGENT_SIDE, str(sim.port), ",".join(names),
                                  ",".join(oids), str(args.cycles)], capture_output=True,
                                 text=True, timeout=900, check=True,
                                 cwd=Path(__file__).resolve().parent.parent)
            agent = json.loads(out.stdout.strip().splitlines()[-1])
            snmpget = which("snmpget")
            start = time.perf_counter()
            for n in names:
                subprocess.run([snmpget, "-v2c", "-c", n, "-t", "2", "-r", "1", "-Oqv",
                                f"127.0.0.1:{sim.port}", *oids], check=True, capture_output=True)
            netsnmp = time.perf_counter() - start
        finally:
            sim.stop()
    print(f"agent: one cycle of {m} devices in {agent['wall']:.2f} s wall, "
          f"{agent['cpu']:.2f} s CPU, RSS {agent['rss_mb']} MB")
    print(f"net-snmp snmpget, one device after another: {netsnmp:.2f} s")
    print(f"poll_cycle_s={agent['wall']:.2f} baseline_snmpget_s={netsnmp:.2f} "
          f"ratio={netsnmp / agent['wall']:.2f} agent_cpu_s={agent['cpu']:.2f} "
          f"agent_rss_mb={agent['rss_mb']} devices={m} oids={OIDS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
