"""Reliability report: 3 agents at 10 results/s, a broker outage, then: sent, received, lost,
duplicated, replay time and outbox size. Also how 150 reconnecting clients spread out.

    .venv/bin/python -m bench.reliability [--outage 600] [--quick]
"""

from __future__ import annotations

import argparse
import json
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lab.procs import Mosquitto, Proc, spawn

BIN = Path(sys.executable).parent
AGENTS = 3
DEVICES = 10  # one result per device per second: 10 results/s per agent


def agent_yaml(i: int, broker: str, state: Path, tcp_port: int) -> str:
    devices = "\n".join(f"  - {{id: kiosk-{d}, type: kiosk, host: 127.0.0.1, tcp: {{port: {tcp_port}}}}}"
                        for d in range(DEVICES))
    return (f"center: {{id: center-{i}}}\nagent: {{id: pi-{i}, heartbeat: 30s, state_dir: \"{state}\"}}\n"
            f"mqtt: {{url: \"{broker}\", keepalive: 5}}\ndefaults: {{interval: 1s, timeout: 500ms}}\n"
            f"devices:\n{devices}\n")


def sent(state: Path) -> int:
    db = sqlite3.connect(state / "outbox.sqlite", timeout=5)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
    finally:
        db.close()


def outbox_bytes(state: Path) -> int:
    return sum(p.stat().st_size for p in state.glob("outbox.sqlite*"))


def agents(db: Path) -> dict[str, dict[str, int]]:
    out = subprocess.run([str(BIN / "hcc-controller"), "agents", "--json", "--db", str(db)],
                         capture_output=True, text=True, check=False)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return {str(r["agent"]): {k: int(r[k]) for k in ("received", "gaps", "duplicates")}
            for r in rows}


def stampede(work: Path, clients: int) -> dict[str, float]:
    """Restart a broker under `clients` connected links; measure how reconnects spread."""
    from hcc_common.mqtt_io import BrokerSettings, MqttLink

    broker = Mosquitto(work / "stampede").start()
    links = [MqttLink(BrokerSettings("127.0.0.1", broker.port, keepalive=5), f"stampede-{i}")
             for i in range(clients)]
    for link in links:
        link.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(link.connected for link in links):
        time.sleep(0.1)
    broker.stop()
    time.sleep(1.0)
    restarted = time.monotonic()
    broker.start()
    seen: dict[int, float] = {}
    while time.monotonic() - restarted < 90 and len(seen) < clients:
        for i, link in enumerate(links):
            if i not in seen and link.connected:
                seen[i] = time.monotonic() - restarted
        time.sleep(0.01)
    for link in links:
        link.stop()
    broker.stop()
    times = sorted(seen.values())
    peak = max((sum(1 for t in times if w <= t < w + 0.1) for w in [x / 10 for x in range(900)]),
               default=0)
    return {"reconnected": len(times), "p50_s": times[len(times) // 2] if times else -1.0,
            "p90_s": times[int(len(times) * 0.9)] if times else -1.0,
            "last_s": times[-1] if times else -1.0, "peak_per_100ms": float(peak)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--outage", type=float, default=600.0, help="broker outage in seconds")
    ap.add_argument("--quick", action="store_true", help="a 30 s outage, 50 reconnecting clients")
    ap.add_argument("--clients", type=int, default=150, help="clients in the stampede check")
    args = ap.parse_args()
    outage = 30.0 if args.quick else args.outage
    clients = 50 if args.quick else args.clients
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    tcp_port = listener.getsockname()[1]
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="hcc-reliability-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker").start()
        db = work / "hcc.db"
        (work / "controller.yaml").write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\n')
        states = [work / f"agent-{i}" for i in range(AGENTS)]
        try:
            procs.append(spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                              str(work / "controller.yaml")], work / "ctl.log"))
            for i, state in enumerate(states):
                cfg = work / f"agent-{i}.yaml"
                cfg.write_text(agent_yaml(i, broker.url, state, tcp_port))
                procs.append(spawn(f"agent-{i}", [str(BIN / "hcc-agent"), "run", "--config",
                                                  str(cfg)], work / f"agent-{i}.log"))
            time.sleep(10)
            print(f"broker down for {outage:.0f} s ...", flush=True)
            broker.stop()
            peak_outbox = 0
            end = time.monotonic() + outage
            while time.monotonic() < end:
                peak_outbox = max(peak_outbox, max(outbox_bytes(s) for s in states))
                time.sleep(1.0)
            backlog = {f"pi-{i}": sent(s) for i, s in enumerate(states)}
            broker.start()
            restarted = time.monotonic()
            # replay time: until the controller holds everything assigned before the restart
            while time.monotonic() - restarted < 600:
                got = agents(db)
                if all(int(got.get(a, {}).get("received", 0)) >= n for a, n in backlog.items()):
                    break
                time.sleep(0.5)
            replay_s = time.monotonic() - restarted
            for p in procs[1:]:
                p.stop()
            totals = {f"pi-{i}": sent(s) for i, s in enumerate(states)}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                got = agents(db)
                if all(int(got.get(a, {}).get("received", 0)) >= n for a, n in totals.items()):
                    break
                time.sleep(0.5)
            got = agents(db)
        finally:
            for p in reversed(procs):
                p.stop()
            broker.stop()
        n_sent = sum(totals.values())
        n_recv = sum(int(got.get(a, {}).get("received", 0)) for a in totals)
        gaps = sum(int(got.get(a, {}).get("gaps", 0)) for a in totals)
        dups = sum(int(got.get(a, {}).get("duplicates", 0)) for a in totals)
        lost = n_sent - n_recv
        for a in sorted(totals):
            r = got.get(a, {})
            print(f"{a}: sent={totals[a]} received={r.get('received')} gaps={r.get('gaps')}"
                  f" duplicates={r.get('duplicates')}")
        st = stampede(work, clients)
    print(f"stampede: {clients} clients after a broker restart: {st}")
    print(f"sent={n_sent} received={n_recv} lost={lost} gaps={gaps} duplicates={dups}"
          f" outage_s={outage:.0f} replay_s={replay_s:.1f} outbox_peak_bytes={peak_outbox}"
          f" reconnect_p50_s={st['p50_s']:.2f} reconnect_p90_s={st['p90_s']:.2f}"
          f" reconnect_peak_per_100ms={st['peak_per_100ms']:.0f}")
    return 0 if lost == 0 and gaps == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
