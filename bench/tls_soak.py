"""TLS soak: the documented secure setup (broker-config: TLS, a user per box, the ACL) with a
controller and two agents over mqtts, for 10 minutes. Counts what went wrong: disconnects,
duplicate and lost reports, spurious agent.offline alerts, and crashed processes.

    .venv/bin/python -m bench.tls_soak [--minutes 10] [--quick] [--rate 30]

The baseline of the same run is the offered rate: every report the agents made must arrive once.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.reliability import agents, kept, not_received, sent
from controller.brokerconf import generate
from lab.procs import Proc, free_port, spawn, wait_tcp

BIN = Path(sys.executable).parent
BOXES = (("soak-1", "pi-1"), ("soak-2", "pi-1"))
# What a crashed or corrupted process leaves in its log.
CRASH = re.compile(r"Traceback|corrupted|Segmentation|free\(\)|general protection|core dumped")


def agent_yaml(center: str, agent: str, url: str, creds: Path, ca: Path, state: Path,
               tcp_port: int, rate: int) -> str:
    devices = "\n".join(f"  - {{id: kiosk-{d}, type: kiosk, host: 127.0.0.1, tcp: {{port: {tcp_port}}}}}"
                        for d in range(rate))
    return (f"center: {{id: {center}}}\nagent: {{id: {agent}, heartbeat: 10s, state_dir: \"{state}\"}}\n"
            f"mqtt: {{url: \"{url}\", keepalive: 5, username: \"{agent}@{center}\", "
            f"password_file: \"{creds}\", ca_file: \"{ca}\"}}\n"
            f"defaults: {{interval: 1s, timeout: 500ms}}\ndevices:\n{devices}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--quick", action="store_true", help="one minute")
    ap.add_argument("--rate", type=int, default=30, help="reports per second per agent")
    args = ap.parse_args()
    seconds = 60.0 if args.quick else args.minutes * 60.0
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    tcp_port = listener.getsockname()[1]
    procs: list[Proc] = []
    crashed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hcc-tls-soak-") as tmp:
        work = Path(tmp)
        port = free_port()
        out = work / "broker"
        generate(out, BOXES, ["127.0.0.1"], port, "127.0.0.1", run_as=getpass.getuser())
        broker = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                       work / "mosquitto.log")
        wait_tcp(port)
        url = f"mqtts://127.0.0.1:{port}"
        db = work / "hcc.db"
        (work / "controller.yaml").write_text(
            f'mqtt: {{url: "{url}", username: hcc-controller, '
            f'password_file: "{out}/credentials/hcc-controller.password", '
            f'ca_file: "{out}/ca.crt"}}\ndb: "{db}"\n')
        states = [work / f"{c}-state" for c, _ in BOXES]
        try:
            procs.append(spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                              str(work / "controller.yaml")], work / "ctl.log"))
            for (center, agent), state in zip(BOXES, states, strict=True):
                cfg = work / f"{center}.yaml"
                cfg.write_text(agent_yaml(center, agent, url,
                                          out / "credentials" / f"{agent}@{center}.password",
                                          out / "ca.crt", state, tcp_port, args.rate))
                procs.append(spawn(center, [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                                   work / f"{center}.log"))
            print(f"soaking {seconds:.0f} s over TLS: {len(BOXES)} agents x {args.rate} reports/s",
                  flush=True)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                for p in procs:
                    if p.popen.poll() is not None and p.name not in crashed:
                        crashed.append(p.name)
                time.sleep(1.0)
            stopped_at = time.time()
            for p in procs[1:]:
                p.stop()
            totals = {f"{c}/{a}": sent(s) for (c, a), s in zip(BOXES, states, strict=True)}
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until the controller holds what was sent
                if sum(r["received"] for r in agents(db).values()) >= sum(totals.values()):
                    break
                time.sleep(0.5)
            rows = subprocess.run([str(BIN / "hcc-controller"), "agents", "--json", "--db",
                                   str(db)], capture_output=True, text=True, check=False).stdout
            per_agent = [json.loads(line) for line in rows.splitlines() if line.strip()]
            alerts = subprocess.run([str(BIN / "hcc-controller"), "alerts", "--all", "--json",
                                     "--db", str(db)], capture_output=True, text=True,
                                    check=False).stdout
            # agent.offline alerts opened while the agents ran (a graceful stop opens one too)
            offline = sum(1 for line in alerts.splitlines() if line.strip()
                          and json.loads(line)["code"] == "agent.offline"
                          and json.loads(line)["opened_at"] < time.strftime(
                              "%Y-%m-%dT%H:%M:%SZ", time.gmtime(stopped_at)))
            # made, and neither received nor kept in the outbox for the next start: lost
            lost = sum(totals[f"{c}/{a}"] - next((int(r["received"]) for r in per_agent
                                                  if r["center"] == c), 0)
                       - len(not_received(db, a, totals[f"{c}/{a}"], c) & kept(st))
                       for (c, a), st in zip(BOXES, states, strict=True))
        finally:
            for p in reversed(procs):
                p.stop()
            broker.stop()
        logs = {p.name: p.log() for p in [*procs, broker]}
    disconnects = sum(log.count("broker connection lost") for log in logs.values())
    crashes = len(crashed) + sum(1 for log in logs.values() if CRASH.search(log))
    n_sent = sum(totals.values())
    n_recv = sum(int(r["received"]) for r in per_agent)
    dups = sum(int(r["duplicates"]) for r in per_agent)
    gaps = sum(int(r["gaps"]) for r in per_agent)
    rate = n_recv / seconds
    print(f"offered: {n_sent} reports ({n_sent / seconds:.1f}/s); received {n_recv} ({rate:.1f}/s)")
    for name, log in logs.items():
        if CRASH.search(log):
            print(f"{name}: {CRASH.search(log).group(0)}")  # type: ignore[union-attr]
    print(f"tls_soak: seconds={seconds:.0f} sent={n_sent} received={n_recv} lost={lost}"
          f" gaps={gaps} offline_alerts={offline} disconnects={disconnects} duplicates={dups}"
          f" crashes={crashes}")
    return 0 if disconnects == dups == crashes == lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
