"""Fairness: a controller's 500,000-record walk beside 30 small devices, in one `check`.

Each small device's poll time beside the controller is printed next to its time alone (polled
by itself, same run). The controller is an AireOS-like WLC generated at run time: only its
station table (bsnMobileStationTable, 10 columns x 50,000 clients = 500,000 records), so the
agent walks it to the end for the client count. Its snmpsim runs apart from the small
devices' one (two processes), as on a LAN each device answers for itself.

    bench/run fairness [--quick] [--records N] [--dead N] [--agent-tree DIR]

`--dead N` adds N dead devices (a UDP port nobody answers on), each holding one of the
agent's request slots for its whole timeout while the others queue.

`--agent-tree` polls with another checkout's agent/ (the commit before a change, for
before/after figures on the same machine). snmpsim answers about 2,600 rows a second in bulk:
the 50,000-row walk takes about 20 s of it; snmpsim indexes the file once (about 30 s, cached
in the temp folder across runs).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lab.procs import SnmpSim

ROOT = Path(__file__).resolve().parent.parent
SNMPREC = ROOT / "tests/fixtures/snmprec"
STATIONS = "1.3.6.1.4.1.14179.2.1.4.1"  # AIRESPACE-WIRELESS-MIB bsnMobileStationEntry
COLUMNS = 10
# (fixture, device type): the small devices, taken in turn
SMALL_KINDS = (("printer-laser", "printer"), ("ap-wifi", "wifi_ap"),
               ("pdu-switched", "charger"), ("router-generic", "other"))

# The measured side, in its own process so it imports the agent of --agent-tree.
AGENT_SIDE = r"""
import asyncio, json, sys, time
from agent import config as agent_config
from agent.checks.context import CheckContext
from agent.poller import poll
cfg = agent_config.load(sys.argv[1])
big = sys.argv[2]
small = [d for d in cfg.devices if d.id != big and not d.id.startswith("dead")]

async def timed(d, ctx):
    t = time.perf_counter()
    c = await poll(d, ctx)
    return d.id, time.perf_counter() - t, c

async def main():
    out = {"alone": {}, "together": {}, "beside": {}}
    ctx = CheckContext(center=cfg.center)
    for d in small:  # alone: one device at a time
        i, s, c = await timed(d, ctx)
        out["alone"][i] = [s, c.status, c.error]
    ctx.close()
    ctx = CheckContext(center=cfg.center)  # the small ones together, without the controller
    for i, s, c in await asyncio.gather(*(timed(d, ctx) for d in small)):
        out["together"][i] = [s, c.status, c.error]
    ctx.close()
    ctx = CheckContext(center=cfg.center)  # a fresh one: the controller is detected again
    for i, s, c in await asyncio.gather(*(timed(d, ctx) for d in cfg.devices)):
        out["beside"][i] = [s, c.status, c.error, c.metrics.get("wifi_clients")]
    ctx.close()
    print(json.dumps(out))

asyncio.run(main())
"""


def wlc_snmprec(records: int) -> str:
    """An AireOS-like controller: the system group and `records` cells of its station table."""
    clients = max(1, records // COLUMNS)
    lines = ["1.3.6.1.2.1.1.1.0|4|Cisco Controller", "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.1279",
             "1.3.6.1.2.1.1.3.0|67|123456", "1.3.6.1.2.1.1.5.0|4|wlc-bench"]

    def mac(i: int) -> bytes:
        return (0x001A2B000000 + i).to_bytes(6, "big")

    values: dict[int, Callable[[int], str]] = {
        1: lambda i: f"4x|{mac(i).hex()}",  # bsnMobileStationMacAddress
        2: lambda i: f"64|10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
        3: lambda i: f"4|user{i}",
        4: lambda i: f"4x|{(0x00AABB000000 + i % 500).to_bytes(6, 'big').hex()}",
        5: lambda i: f"2|{i % 2}",
        6: lambda i: "4|wifi-cong-dan",
        7: lambda i: "2|3",
        8: lambda i: f"2|{i % 100}",
        9: lambda i: "2|1",
        10: lambda i: f"2|{i % 3 + 1}",
    }
    # rows sort by index within a column; MACs made in increasing order already do
    for column in range(1, COLUMNS + 1):
        value = values[column]
        lines.extend(f"{STATIONS}.{column}.{'.'.join(str(b) for b in mac(i))}|{value(i)}"
                     for i in range(clients))
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100,000 records")
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--small", type=int, default=30)
    ap.add_argument("--dead", type=int, default=0)
    ap.add_argument("--agent-tree", type=Path, default=ROOT,
                    help="the checkout whose agent/ polls (default: this one)")
    args = ap.parse_args()
    records = 100_000 if args.quick else args.records
    text = wlc_snmprec(records)
    key = hashlib.sha256(text.encode()).hexdigest()[:12]
    with tempfile.TemporaryDirectory(prefix="hcc-bench-fair-") as tmp, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))  # where the dead devices are: nobody answers
        work = Path(tmp)
        big_src = work / "big"
        big_src.mkdir()
        (big_src / "wlc.snmprec").write_text(text)
        small_src = work / "small"
        small_src.mkdir()
        small = []
        for i in range(args.small):
            fixture, dtype = SMALL_KINDS[i % len(SMALL_KINDS)]
            name = f"small{i:02d}-{fixture}"
            shutil.copy(SNMPREC / f"{fixture}.snmprec", small_src / f"{name}.snmprec")
            small.append((name, dtype))
        big = SnmpSim(work / "sim-big", sorted(big_src.glob("*.snmprec")))
        big.cache = Path(tempfile.gettempdir()) / f"hcc-bench-fair-{key}"  # the index, kept
        big.cache.mkdir(parents=True, exist_ok=True)
        sims = [SnmpSim(work / "sim-small", sorted(small_src.glob("*.snmprec"))), big]
        t = time.monotonic()
        print(f"{records:,} records ({records // COLUMNS:,} clients); snmpsim indexing ...",
              flush=True)
        try:
            try:
                big.start(wait_for="wlc")
            except TimeoutError:  # indexing 500,000 records takes longer on a loaded machine
                big.wait_ready("wlc", timeout=600)
            sims[0].start(wait_for=small[0][0])
            for name, _ in small:
                sims[0].wait_ready(name)
            print(f"ready after {time.monotonic() - t:.0f} s", flush=True)
            lines = ["center: {id: bench, name: Bench}",
                     f'agent: {{id: bench, state_dir: "{work / "state"}"}}',
                     'mqtt: {url: "mqtt://127.0.0.1:1"}',
                     "defaults: {interval: 30s, timeout: 2s}", "devices:"]
            lines += [f"  - {{id: {n}, name: {n}, type: {dt}, host: 127.0.0.1, "
                      f"snmp: {{port: {sims[0].port}, community: {n}}}}}" for n, dt in small]
            # the controller's own deadline (4 x 10 s + 1 s) holds its 20 s walk
            lines.append(f"  - {{id: wlc, name: WLC, type: wifi_ap, host: 127.0.0.1, "
                         f"interval: 120s, timeout: 10s, "
                         f"snmp: {{port: {big.port}, community: wlc}}}}")
            lines += [f"  - {{id: dead{i}, name: dead{i}, type: kiosk, host: 127.0.0.1, "
                      f"snmp: {{port: {silent.getsockname()[1]}, community: d{i}}}}}"
                      for i in range(args.dead)]
            cfg = work / "devices.yaml"
            cfg.write_text("\n".join(lines) + "\n")
            env = dict(os.environ, PYTHONPATH=str(args.agent_tree.resolve()))
            started = time.monotonic()
            out = subprocess.run([sys.executable, "-c", AGENT_SIDE, str(cfg), "wlc"],
                                 capture_output=True, text=True, timeout=900, check=False,
                                 cwd=args.agent_tree, env=env)
            elapsed = time.monotonic() - started
        finally:
            for s in sims:
                s.stop()
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return 1
    result = json.loads(out.stdout.strip().splitlines()[-1])
    alone, together, beside = result["alone"], result["together"], result["beside"]
    print("alone: polled by itself; together: the small ones at once, no controller; "
          "beside: all at once with the controller")
    print(f"{'device':<28} {'alone s':>8} {'together s':>11} {'beside s':>9}  status beside")
    for name, _ in small:
        a, g, b = alone[name], together[name], beside[name]
        status = b[1] + (f" ({b[2]})" if b[2] else "")
        print(f"{name:<28} {a[0]:>8.2f} {g[0]:>11.2f} {b[0]:>9.2f}  {status}")
    w = beside["wlc"]
    print(f"{'wlc':<28} {'':>8} {'':>11} {w[0]:>9.2f}  {w[1]}{f' ({w[2]})' if w[2] else ''}, "
          f"clients={w[3]}")
    dead = [beside[f"dead{i}"][1] for i in range(args.dead)]
    if dead:
        print(f"{args.dead} dead devices beside: {dead.count('unreachable')} unreachable")
    ok = sum(1 for n, _ in small if beside[n][1] == alone[n][1] and beside[n][1] != "unreachable")
    a_s = [alone[n][0] for n, _ in small]
    g_s = [together[n][0] for n, _ in small]
    b_s = [beside[n][0] for n, _ in small]
    print(f"agent side {elapsed:.0f} s; load average {os.getloadavg()[0]:.1f}")
    print(f"small={len(small)} small_as_alone={ok}/{len(small)} "
          f"alone_p50_s={statistics.median(a_s):.2f} alone_max_s={max(a_s):.2f} "
          f"together_p50_s={statistics.median(g_s):.2f} together_max_s={max(g_s):.2f} "
          f"beside_p50_s={statistics.median(b_s):.2f} beside_max_s={max(b_s):.2f} "
          f"wlc_s={w[0]:.1f} wlc_status={w[1]} wlc_clients={w[3]} records={records}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
