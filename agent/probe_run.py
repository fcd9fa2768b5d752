"""The client-view probe's network steps, run where the probe's interface lives (its own network
namespace on the box): get a DHCP lease and time it, resolve names against the DNS server it
hands out, check the internet as phones do (an HTTP 204, or a captive portal), time a download,
then give the lease back. Run as `python -m agent.probe_run '<json options>'`; prints JSON."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from urllib.parse import urljoin, urlsplit

from agent import netprobe
from agent.netprobe import StepResult

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


@dataclass(frozen=True, kw_only=True)
class ProbeOptions:
    interface: str
    dhcp: bool = True            # the Wi-Fi probe leases an address; the wired WAN check does not
    gateway: bool = False        # ping the default gateway first (the WAN check)
    dns_names: tuple[str, ...] = ("dichvucong.gov.vn",)
    check_url: str = "http://connectivitycheck.gstatic.com/generate_204"
    speed_url: str | None = None
    speed_token: str | None = field(default=None, repr=False)
    speed_bytes: int = 2_000_000
    timeout_s: float = 5.0
    dhcp_timeout_s: float = 10.0


# -- DHCP -----------------------------------------------------------------------------------
def _mac(interface: str) -> bytes:
    with open(f"/sys/class/net/{interface}/address") as fh:
        return bytes(int(x, 16) for x in fh.read().strip().split(":"))


@contextlib.contextmanager
def _dhcp_socket(interface: str) -> Iterator[socket.socket]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
        s.bind(("0.0.0.0", 68))
        yield s
    finally:
        s.close()


def _exchange(s: socket.socket, msg: bytes, xid: int, want: tuple[int, ...],
              deadline: float) -> netprobe.DhcpReply | None:
    s.sendto(msg, ("255.255.255.255", 67))
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            data, _ = s.recvfrom(4096)
        except TimeoutError:
            return None
        reply = netprobe.parse_dhcp(data, xid)
        if reply is not None and reply.kind in want:
            return reply


def dhcp_lease(interface: str, timeout_s: float) -> netprobe.DhcpReply | None:
    """DISCOVER, OFFER, REQUEST, ACK; None when no server offered or acknowledged in time."""
    mac = _mac(interface)
    xid = random.getrandbits(32)
    deadline = time.monotonic() + timeout_s
    with _dhcp_socket(interface) as s:
        offer = _exchange(s, netprobe.dhcp_message(netprobe.DISCOVER, xid, mac), xid,
                          (netprobe.OFFER,), deadline)
        if offer is None:
            return None
        ack = _exchange(s, netprobe.dhcp_message(netprobe.REQUEST, xid, mac,
                                                 requested=offer.yiaddr, server=offer.server),
                        xid, (netprobe.ACK, netprobe.NAK), deadline)
    if ack is None or ack.kind != netprobe.ACK:
        return None
    return ack


def dhcp_release(interface: str, lease: netprobe.DhcpReply) -> None:
    """Give the address back, so the probe never holds one of the citizens' leases."""
    if lease.server is None:
        return
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, interface.encode())
        s.sendto(netprobe.dhcp_message(netprobe.RELEASE, random.getrandbits(32),
                                       _mac(interface), server=lease.server,
                                       ciaddr=lease.yiaddr), (lease.server, 67))


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=False, capture_output=True, timeout=10)


# -- DNS, HTTP ------------------------------------------------------------------------------
def resolve(server: str, name: str, timeout_s: float) -> list[str]:
    qid = random.getrandbits(16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        s.sendto(netprobe.dns_query(name, qid), (server, 53))
        while True:
            data, _ = s.recvfrom(4096)
            try:
                rcode, ips = netprobe.parse_dns(data, qid)
            except netprobe.ProtocolError:
                continue
            if rcode != 0 or not ips:
                raise OSError(f"DNS answered rcode {rcode} for {name}")
            return ips


def system_dns() -> str | None:
    try:
        with open("/etc/resolv.conf") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and "." in parts[1]:
                    return parts[1]
    except OSError:
        pass
    return None


def default_gateway() -> str | None:
    try:
        with open("/proc/net/route") as fh:
            for line in fh.readlines()[1:]:
                f = line.split()
                if len(f) > 2 and f[1] == "00000000":
                    return socket.inet_ntoa(int(f[2], 16).to_bytes(4, "little"))
    except OSError:
        pass
    return None


@dataclass(frozen=True)
class Fetched:
    status: int
    location: str | None
    size: int
    seconds: float


def fetch(url: str, dns: str | None, timeout_s: float, token: str | None = None,
          limit: int = 50_000_000) -> Fetched:
    """GET `url`, its host resolved with `dns` (the network's own), reading at most `limit`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = resolve(dns, host, timeout_s)[0] if dns is not None and \
        not host.replace(".", "").isdigit() else host
    start = time.monotonic()
    if parts.scheme == "https":
        ctx = ssl.create_default_context()
        raw = socket.create_connection((address, port), timeout=timeout_s)
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port,
                                                                      timeout=timeout_s,
                                                                      context=ctx)
        conn.sock = ctx.wrap_socket(raw, server_hostname=host)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout_s)
    try:
        headers = {"Host": host if port in (80, 443) else f"{host}:{port}",
                   "User-Agent": "hcc-probe"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else "") or "/",
                     headers=headers)
        r = conn.getresponse()
        size = 0
        while size < limit:
            chunk = r.read(65536)
            if not chunk:
                break
            size += len(chunk)
        return Fetched(r.status, r.getheader("Location"), size, time.monotonic() - start)
    finally:
        conn.close()


# -- the steps --------------------------------------------------------------------------------
def run_steps(o: ProbeOptions) -> list[StepResult]:
    out: list[StepResult] = []
    lease: netprobe.DhcpReply | None = None
    dns: str | None = None
    try:
        if o.dhcp:
            t0 = time.monotonic()
            try:
                lease = dhcp_lease(o.interface, o.dhcp_timeout_s)
            except OSError as exc:
                out.append(StepResult("dhcp", False, None, {"error": str(exc)[:100]}))
                return out
            took = time.monotonic() - t0
            if lease is None:
                out.append(StepResult("dhcp", False, took))
                return out
            out.append(StepResult("dhcp", True, took, {"lease_s": lease.lease_s or 0}))
            _ip("addr", "add", f"{lease.yiaddr}/{lease.prefix}", "dev", o.interface)
            if lease.router:
                _ip("route", "replace", "default", "via", lease.router, "dev", o.interface)
            dns = lease.dns[0] if lease.dns else lease.router
        else:
            dns = system_dns()
        if o.gateway:
            gw = default_gateway() if lease is None else lease.router
            out.append(_gateway_step(gw, o.timeout_s))
            if not out[-1].ok:
                return out
        for name in o.dns_names:
            t0 = time.monotonic()
            try:
                if dns is None:
                    raise OSError("no DNS server")
                resolve(dns, name, o.timeout_s)
            except OSError as exc:
                out.append(StepResult("dns", False, time.monotonic() - t0,
                                      {"name": name, "error": str(exc)[:100]}))
                return out
        out.append(StepResult("dns", True, time.monotonic() - t0))
        out.extend(_internet_steps(o, dns))
        if any(not r.ok for r in out) or o.speed_url is None:
            return out
        try:
            got = fetch(o.speed_url, dns, max(o.timeout_s, 30.0), o.speed_token,
                        limit=o.speed_bytes)
            mbps = got.size * 8 / max(got.seconds, 1e-6) / 1e6
            out.append(StepResult("speed", got.status == 200 and got.size > 0, got.seconds,
                                  {"download_mbps": round(mbps, 2)}))
        except OSError as exc:
            out.append(StepResult("speed", False, None, {"error": str(exc)[:100]}))
        return out
    finally:
        if lease is not None:
            dhcp_release(o.interface, lease)
            _ip("addr", "del", f"{lease.yiaddr}/{lease.prefix}", "dev", o.interface)


def _gateway_step(gateway: str | None, timeout_s: float) -> StepResult:
    if gateway is None:
        return StepResult("gateway", False, None, {"error": "no default route"})
    from icmplib import ping
    from icmplib.exceptions import ICMPLibError, SocketPermissionError

    for privileged in (False, True):
        try:
            host = ping(gateway, count=2, interval=0.2, timeout=timeout_s, privileged=privileged)
            return StepResult("gateway", host.is_alive, host.avg_rtt / 1000.0
                              if host.is_alive else None)
        except SocketPermissionError:
            continue
        except (ICMPLibError, OSError):
            break
    return StepResult("gateway", False, None)


def _internet_steps(o: ProbeOptions, dns: str | None) -> list[StepResult]:
    """204: online. A redirect, or a page instead of 204: a captive portal, which must open."""
    try:
        got = fetch(o.check_url, dns, o.timeout_s)
    except OSError as exc:
        return [StepResult("internet", False, None, {"error": str(exc)[:100]})]
    if got.status == 204:
        return [StepResult("internet", True, got.seconds, {"portal": 0})]
    steps = [StepResult("internet", True, got.seconds, {"portal": 1})]
    target = urljoin(o.check_url, got.location) if got.location else None
    if target is None:
        # a page instead of 204 with no redirect: the portal served it; it opened
        return [*steps, StepResult("portal", 200 <= got.status < 400, got.seconds)]
    try:
        page = fetch(target, dns, o.timeout_s)
        steps.append(StepResult("portal", 200 <= page.status < 400, page.seconds,
                                {"portal_status": page.status}))
    except OSError as exc:
        steps.append(StepResult("portal", False, None, {"error": str(exc)[:100]}))
    return steps


def main() -> int:
    raw = json.loads(sys.argv[1])
    opts = ProbeOptions(
        interface=str(raw["interface"]), dhcp=bool(raw.get("dhcp", True)),
        gateway=bool(raw.get("gateway", False)),
        dns_names=tuple(str(n) for n in raw.get("dns_names", ("dichvucong.gov.vn",))),
        check_url=str(raw.get("check_url", ProbeOptions.check_url)),
        speed_url=raw.get("speed_url"),
        # the token does not travel on the command line, where `ps` shows it
        speed_token=os.environ.get("HCC_PROBE_TOKEN"),
        speed_bytes=int(raw.get("speed_bytes", 2_000_000)),
        timeout_s=float(raw.get("timeout_s", 5.0)),
        dhcp_timeout_s=float(raw.get("dhcp_timeout_s", 10.0)))
    results = run_steps(opts)
    print(json.dumps([asdict(r) for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
