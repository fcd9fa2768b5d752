"""Fault latency, p50/p99: a fault on a simulated device to the alert on the live feed (the wait
for the next poll excluded), a trap to the alert, and a box's power loss to the offline alert.

    bench/run latency [--quick] [--samples K] [--report all|changes]
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from lab.fakes import FakePlug, PlugServer
from lab.procs import Mosquitto, free_port, spawn, wait_tcp, which

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CODE = "charger.outlet_off"
KEEPALIVE = 3


class Feed:
    def __init__(self, url: str) -> None:
        self.events: list[tuple[float, dict[str, object]]] = []
        threading.Thread(target=self._run, args=(url,), daemon=True).start()

    def _run(self, url: str) -> None:
        with httpx.stream("GET", url + "/api/v1/stream", timeout=None) as r:
            for line in r.iter_lines():
                if line.startswith("data: "):
                    self.events.append((time.time(), json.loads(line[6:])))

    def wait(self, event: str, code: str, after: float, timeout: float = 60) -> float:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for t, e in self.events:
                if t >= after and e["event"] == event and e["alert"]["code"] == code:  # type: ignore[index]
                    return t
            time.sleep(0.005)
        raise TimeoutError(f"no {event} {code}")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="8 samples of each")
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--report", choices=("all", "changes"), default="all",
                    help="the agent's wire mode (changes: report by exception)")
    args = ap.parse_args()
    k = 8 if args.quick else args.samples
    with tempfile.TemporaryDirectory(prefix="hcc-bench-latency-") as tmp:
        work = Path(tmp)
        broker = Mosquitto(work / "broker").start()
        # a Shelly plug feeding a charger: its fault comes and goes at once, no file caches
        plug = FakePlug()
        plug_server = PlugServer(plug).start()
        http = free_port()
        trap = free_port(2)
        db = work / "hcc.db"
        (work / "controller.yaml").write_text(
            f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\nhttp: {{listen: "127.0.0.1:{http}"}}\n'
            "alert_rules: [{name: all, fault: '*'}]\n"
            # the bench opens the same fault again and again: that is not flapping here
            "rules: {flap_opens: 1000}\n")

        def agent_yaml(interval: str) -> Path:
            p = work / f"devices-{interval}.yaml"
            p.write_text(
                f'center: {{id: c1}}\nagent: {{id: a1, heartbeat: 2s, report: {args.report}, '
                f'state_dir: "{work / "st"}"}}\n'
                f'mqtt: {{url: "{broker.url}", keepalive: {KEEPALIVE}}}\n'
                f"traps: {{port: {trap}, bind: 127.0.0.1}}\n"
                f"devices:\n  - {{id: p1, type: charger, host: 127.0.0.1, interval: {interval},"
                f" timeout: 1s, shelly: {{port: {plug_server.port}}}}}\n")
            return p

        ctl = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                   str(work / "controller.yaml"), "--log-level", "warning"],
                    work / "ctl.log")
        agent = None
        try:
            wait_tcp(http, 30)
            feed = Feed(f"http://127.0.0.1:{http}")
            time.sleep(1)
            agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config",
                                    str(agent_yaml("2s"))], work / "agent.log")
            time.sleep(4)
            poll_lat: list[float] = []
            for _ in range(k):
                plug.on = False
                start = time.time()
                seen = feed.wait("opened", CODE, start)
                hist = httpx.get(f"http://127.0.0.1:{http}/api/v1/devices/c1/p1/history").json()
                from datetime import datetime

                made = max(datetime.fromisoformat(h["agent_ts"].replace("Z", "+00:00")).timestamp()
                           for h in hist if CODE in h["faults"])
                # agent_ts has whole seconds in the API; the device_events row has the exact one
                import sqlite3

                row = sqlite3.connect(db).execute(
                    "SELECT MAX(agent_ts) FROM device_events WHERE faults LIKE '%outlet_off%'"
                ).fetchone()
                made = float(row[0]) if row and row[0] else made
                poll_lat.append(seen - made)
                plug.on = True
                feed.wait("resolved", CODE, start)
            agent.stop()
            agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config",
                                    str(agent_yaml("10m"))], work / "agent2.log")
            time.sleep(4)
            trap_lat: list[float] = []
            snmptrap = which("snmptrap")
            for _ in range(k):
                plug.on = False
                start = time.time()
                subprocess.run([snmptrap, "-v2c", "-c", "public", f"127.0.0.1:{trap}", "",
                                "1.3.6.1.2.1.43.18.2.0.1"], check=True, capture_output=True)
                trap_lat.append(feed.wait("opened", CODE, start) - start)
                plug.on = True
                subprocess.run([snmptrap, "-v2c", "-c", "public", f"127.0.0.1:{trap}", "",
                                "1.3.6.1.2.1.43.18.2.0.1"], check=True, capture_output=True)
                feed.wait("resolved", CODE, start)
            off_lat: list[float] = []
            for _ in range(max(3, k // 2)):
                assert agent.popen is not None
                agent.popen.send_signal(signal.SIGSTOP)  # frozen: no FIN, as after a power cut
                start = time.time()
                off_lat.append(feed.wait("opened", "agent.offline", start, 30) - start)
                agent.popen.send_signal(signal.SIGCONT)
                feed.wait("resolved", "agent.offline", start, 60)
                time.sleep(1)
        except TimeoutError:
            print([(round(t, 2), e["event"], e["alert"]["code"]) for t, e in feed.events],  # type: ignore[index]
                  file=sys.stderr)
            raise
        finally:
            if agent is not None:
                agent.stop()
            ctl.stop()
            plug_server.stop()
            broker.stop()
    print(f"fault to feed, poll wait excluded: p50={statistics.median(poll_lat) * 1000:.0f} ms "
          f"p99={pct(poll_lat, 0.99) * 1000:.0f} ms ({len(poll_lat)} samples)")
    print(f"trap to feed: p50={statistics.median(trap_lat) * 1000:.0f} ms "
          f"p99={pct(trap_lat, 0.99) * 1000:.0f} ms")
    print(f"power loss to offline alert (keepalive {KEEPALIVE} s): "
          f"p50={statistics.median(off_lat):.2f} s p99={pct(off_lat, 0.99):.2f} s "
          f"(bound 1.5 x keepalive = {1.5 * KEEPALIVE:.1f} s)")
    print(f"fault_p99_ms={pct(poll_lat, 0.99) * 1000:.0f} trap_p99_ms={pct(trap_lat, 0.99) * 1000:.0f}"
          f" offline_p99_s={pct(off_lat, 0.99):.2f} offline_bound_s={1.5 * KEEPALIVE:.1f}"
          f" samples={k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
