"""Reliability report: 3 agents at 10 results/s, a broker outage, then: sent, received, lost,
duplicated, replay time and outbox size. Also how 150 reconnecting clients spread out. Then the
broker killed with SIGKILL three times under load, with agents confirming by the controller's
acknowledgement (the default) and, as the baseline, by the broker's PUBACK.

    .venv/bin/python -m bench.reliability [--outage 600] [--quick] [--case outage|broker-kill|all]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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


def agent_yaml(i: int, broker: str, state: Path, tcp_port: int, confirm: str = "controller"
               ) -> str:
    devices = "\n".join(f"  - {{id: kiosk-{d}, type: kiosk, host: 127.0.0.1, tcp: {{port: {tcp_port}}}}}"
                        for d in range(DEVICES))
    return (f"center: {{id: center-{i}}}\nagent: {{id: pi-{i}, heartbeat: 30s, state_dir: \"{state}\"}}\n"
            f"mqtt: {{url: \"{broker}\", keepalive: 5, confirm: {confirm}}}\n"
            f"defaults: {{interval: 1s, timeout: 500ms}}\n"
            f"devices:\n{devices}\n")


def sent(state: Path) -> int:
    db = sqlite3.connect(state / "outbox.sqlite", timeout=5)
    try:
        return int(db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
    finally:
        db.close()


def not_received(db: Path, agent: str, assigned: int, center: str | None = None) -> set[int]:
    """Seqs of the agent's (one) session up to `assigned` that the controller has not
    committed. Sessions are random ids: the tracker's current one ("cur")."""
    conn = sqlite3.connect(db, timeout=10)
    try:
        row = conn.execute("SELECT seqs FROM agents WHERE agent=? AND center=COALESCE(?, center)",
                           (agent, center)).fetchone()
    finally:
        conn.close()
    tracked = json.loads(row[0]) if row else {}
    s = tracked.get(str(tracked.get("cur", 1)), {})
    last = int(s.get("last", 0))
    out = {q for a, b in s.get("missing", []) for q in range(a, b + 1)}
    return out | set(range(last + 1, assigned + 1))


def kept(state: Path) -> set[int]:
    """Seqs still in an agent's outbox (sent again at its next start)."""
    conn = sqlite3.connect(state / "outbox.sqlite", timeout=5)
    try:
        return {int(r[0]) for r in conn.execute(
            "SELECT seq FROM outbox WHERE session=(SELECT value FROM meta WHERE key='session')")}
    finally:
        conn.close()


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


def start_fleet(work: Path, broker: Mosquitto, states: list[Path], tcp_port: int, confirm: str,
                procs: list[Proc]) -> None:
    """A controller (database work/hcc.db) and one agent per state folder, appended to procs."""
    (work / "controller.yaml").write_text(
        f'mqtt: {{url: "{broker.url}"}}\ndb: "{work / "hcc.db"}"\n')
    procs.append(spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                      str(work / "controller.yaml")], work / "ctl.log"))
    for i, state in enumerate(states):
        cfg = work / f"agent-{i}.yaml"
        cfg.write_text(agent_yaml(i, broker.url, state, tcp_port, confirm))
        procs.append(spawn(f"agent-{i}", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                           work / f"agent-{i}.log"))


def broker_kill(tcp_port: int, confirm: str, kills: int = 3, between_s: float = 8.0
                ) -> dict[str, int]:
    """Agents at 10 results/s each; the broker (persistence on, default autosave) is killed
    with SIGKILL `kills` times and restarted; then the agents stop and everything is counted."""
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="hcc-broker-kill-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker").start()
        db = work / "hcc.db"
        states = [work / f"agent-{i}" for i in range(AGENTS)]
        try:
            start_fleet(work, broker, states, tcp_port, confirm, procs)
            time.sleep(between_s)
            for _ in range(kills):
                broker.stop(signal.SIGKILL)
                time.sleep(2.0)
                broker.start()
                time.sleep(between_s)
            # the agents keep running until the controller holds all they made before now
            made = {f"pi-{i}": sent(s) for i, s in enumerate(states)}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if all(not_received(db, a, made[a]) == set() for a in made):
                    break
                time.sleep(0.5)
            for p in procs[1:]:
                p.stop()
            totals = {f"pi-{i}": sent(s) for i, s in enumerate(states)}
            time.sleep(2.0)
            got = agents(db)
            # made, and neither received nor kept in an outbox for the next start: lost
            lost = sum(totals[a] - got.get(a, {}).get("received", 0)
                       - len(not_received(db, a, totals[a]) & kept(s))
                       for a, s in zip(totals, states, strict=True))
            in_outboxes = sum(len(kept(s)) for s in states)
        finally:
            for p in reversed(procs):
                p.stop()
            broker.stop()
            if os.environ.get("HCC_BENCH_KEEP"):  # look at the logs afterwards
                shutil.copytree(work, Path(os.environ["HCC_BENCH_KEEP"]) / f"kill-{confirm}",
                                dirs_exist_ok=True)
    n_sent = sum(totals.values())
    n_recv = sum(got.get(a, {}).get("received", 0) for a in totals)
    return {"sent": n_sent, "received": n_recv, "lost": lost, "kept_for_next_start": in_outboxes,
            "gaps": sum(got.get(a, {}).get("gaps", 0) for a in totals),
            "duplicates": sum(got.get(a, {}).get("duplicates", 0) for a in totals)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--outage", type=float, default=600.0, help="broker outage in seconds")
    ap.add_argument("--quick", action="store_true", help="a 30 s outage, 50 reconnecting clients")
    ap.add_argument("--clients", type=int, default=150, help="clients in the stampede check")
    ap.add_argument("--case", choices=("outage", "broker-kill", "all"), default="all")
    args = ap.parse_args()
    outage = 30.0 if args.quick else args.outage
    clients = 50 if args.quick else args.clients
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    tcp_port = listener.getsockname()[1]
    ok = True
    if args.case in ("broker-kill", "all"):
        base = broker_kill(tcp_port, "broker")
        kill = broker_kill(tcp_port, "controller")
        print("broker kill -9 x3, baseline (agents confirm by the broker's PUBACK): "
              + " ".join(f"{k}={v}" for k, v in base.items()), flush=True)
        print("broker_kill: kills=3 " + " ".join(f"{k}={v}" for k, v in kill.items())
              + f" baseline_lost={base['lost']}", flush=True)
        ok = kill["lost"] == 0 and kill["gaps"] == 0
    if args.case == "broker-kill":
        return 0 if ok else 1
    procs: list[Proc] = []
    with tempfile.TemporaryDirectory(prefix="hcc-reliability-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker").start()
        db = work / "hcc.db"
        states = [work / f"agent-{i}" for i in range(AGENTS)]
        try:
            start_fleet(work, broker, states, tcp_port, "controller", procs)
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
    return 0 if ok and lost == 0 and gaps == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
