"""A small network for the client-view probe's tests: two network namespaces the test creates (a
"router" and a "client") joined by a veth pair, dnsmasq as DHCP and DNS server, an HTTP server
for the phones' 204 check, a captive portal and a download, and tc to slow the link. Nothing
leaves the namespaces."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROUTER_IP = "10.77.0.1"
NAMES = ("dichvucong.gov.vn", "connectivitycheck.gstatic.com", "portal.hcc.lan")


def available() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    for tool in ("ip", "tc", "dnsmasq"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (bootstrap installs iproute2 and dnsmasq-base)"
    probe = subprocess.run(["ip", "netns", "add", f"hccchk{os.getpid()}"], capture_output=True)
    if probe.returncode != 0:
        return f"cannot create a network namespace: {probe.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", f"hccchk{os.getpid()}"], capture_output=True)
    return None


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=check, timeout=30)


class NetLab:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        tag = uuid.uuid4().hex[:6]
        self.router, self.client = f"hr{tag}", f"hc{tag}"
        self.rif, self.cif = f"vr{tag}", f"vc{tag}"
        self.dnsmasq: subprocess.Popen[bytes] | None = None
        self.http: subprocess.Popen[bytes] | None = None
        sh("ip", "netns", "add", self.router)
        sh("ip", "netns", "add", self.client)
        sh("ip", "link", "add", self.rif, "netns", self.router, "type", "veth", "peer", "name",
           self.cif, "netns", self.client)
        for ns, ifname in ((self.router, self.rif), (self.client, self.cif)):
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", ifname, "up")
        sh("ip", "-n", self.router, "addr", "add", f"{ROUTER_IP}/24", "dev", self.rif)
        # `ip netns exec` mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf: the client's
        # wired resolver (the WAN check) is the router
        self.etc = Path("/etc/netns") / self.client
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "resolv.conf").write_text(f"nameserver {ROUTER_IP}\n")

    def wire_client(self) -> None:
        """A fixed address and route on the client, as the box's wired port has (WAN check)."""
        sh("ip", "-n", self.client, "addr", "add", "10.77.0.9/24", "dev", self.cif)
        sh("ip", "-n", self.client, "route", "replace", "default", "via", ROUTER_IP)

    # -- the router's services ------------------------------------------------------------
    def start_dnsmasq(self, *extra: str, pool: str = "10.77.0.50,10.77.0.60") -> None:
        self.stop_dnsmasq()
        args = ["ip", "netns", "exec", self.router, "dnsmasq", "--keep-in-foreground",
                "--no-resolv", "--no-hosts", "--bind-interfaces", f"--interface={self.rif}",
                f"--dhcp-range={pool},255.255.255.0,5m", f"--dhcp-option=3,{ROUTER_IP}",
                f"--dhcp-option=6,{ROUTER_IP}",
                f"--dhcp-leasefile={self.tmp / f'leases-{self.router}'}",
                f"--pid-file={self.tmp / f'dnsmasq-{self.router}.pid'}", "--log-facility=-",
                *(f"--address=/{n}/{ROUTER_IP}" for n in NAMES), *extra]
        with open(self.tmp / "dnsmasq.log", "ab") as log:
            self.dnsmasq = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=log)
        time.sleep(0.5)
        assert self.dnsmasq.poll() is None, (self.tmp / "dnsmasq.log").read_text()

    def stop_dnsmasq(self) -> None:
        if self.dnsmasq is not None:
            self.dnsmasq.terminate()
            self.dnsmasq.wait(10)
            self.dnsmasq = None

    def start_http(self, mode: str = "online", portal: bool = True) -> None:
        """mode: online (204), portal (302 to the portal), page (200 instead of 204);
        portal: whether the portal page itself answers."""
        self.stop_http()
        with open(self.tmp / "http.log", "ab") as log:
            self.http = subprocess.Popen(
                ["ip", "netns", "exec", self.router, sys.executable, "-m", "lab.probe_server",
                 ROUTER_IP, mode, "1" if portal else "0"],
                stdout=subprocess.DEVNULL, stderr=log,
                cwd=str(Path(__file__).resolve().parent.parent))
        for _ in range(50):
            if sh("ip", "netns", "exec", self.router, "sh", "-c",
                  f"exec 3<>/dev/tcp/{ROUTER_IP}/80", check=False).returncode == 0:
                return
            time.sleep(0.1)

    def stop_http(self) -> None:
        if self.http is not None:
            self.http.terminate()
            self.http.wait(10)
            self.http = None

    # -- the link -------------------------------------------------------------------------------
    def shape(self, *netem_or_tbf: str) -> None:
        """tc on the router's side (what the client downloads): e.g. ('tbf', 'rate', '2mbit',
        'burst', '16kb', 'latency', '400ms') or ('netem', 'delay', '3000ms')."""
        sh("ip", "netns", "exec", self.router, "tc", "qdisc", "replace", "dev", self.rif, "root",
           *netem_or_tbf)

    def unshape(self) -> None:
        sh("ip", "netns", "exec", self.router, "tc", "qdisc", "del", "dev", self.rif, "root",
           check=False)

    # -- the probe, as the agent runs it --------------------------------------------------------
    def probe(self, **options: Any) -> list[dict[str, Any]]:
        opts = {"interface": self.cif, "dns_names": ["dichvucong.gov.vn"],
                "check_url": "http://connectivitycheck.gstatic.com/generate_204", **options}
        done = subprocess.run(["ip", "netns", "exec", self.client, sys.executable, "-m",
                               "agent.probe_run", json.dumps(opts)],
                              capture_output=True, text=True, timeout=120,
                              cwd=str(Path(__file__).resolve().parent.parent))
        assert done.returncode == 0, done.stderr
        result: list[dict[str, Any]] = json.loads(done.stdout)
        return result

    def client_addresses(self) -> str:
        return sh("ip", "-n", self.client, "-4", "addr", "show", "dev", self.cif).stdout

    def close(self) -> None:
        self.stop_http()
        self.stop_dnsmasq()
        sh("ip", "netns", "del", self.client, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)
        sh("ip", "netns", "del", self.router, check=False)
