"""When a device says nothing, whether it is there at all: does its port take a TCP connection,
does the host answer ICMP echo or ARP (its neighbour entry)? Each probe is bounded by a timeout
and runs in the device's own task, so a silent device never holds up another."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import socket
from dataclasses import dataclass

# A probe is only a second opinion: a host that is there answers within a second on a LAN.
PROBE_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class Presence:
    port_open: bool | None  # None: no port was probed
    host_answers: bool | None  # None: neither ICMP nor the neighbour table could tell


async def port_opens(host: str, port: int, timeout: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), timeout)
    return True


async def _icmp_answers(host: str, timeout: float) -> bool | None:
    from icmplib import async_ping  # imported on first use (memory on boxes that never ping)
    from icmplib.exceptions import ICMPLibError, SocketPermissionError

    for privileged in (False, True):
        try:
            reply = await async_ping(host, count=1, timeout=timeout, privileged=privileged)
        except SocketPermissionError:
            continue
        except (ICMPLibError, OSError):
            return False
        return bool(reply.is_alive)
    return None  # this user may not send ICMP


def neighbour_reachable(ip_neigh_json: str, host: str) -> bool:
    """Pure: whether `ip -j neigh show to HOST` says the host answered ARP/ND lately (REACHABLE;
    a STALE entry is an answer from minutes ago, and says nothing about now)."""
    try:
        rows = json.loads(ip_neigh_json or "[]")
    except ValueError:
        return False
    return any(isinstance(r, dict) and r.get("dst") == host and "REACHABLE" in r.get("state", ())
               for r in rows if isinstance(rows, list))


async def _neighbour_answers(host: str, timeout: float) -> bool:
    try:
        proc = await asyncio.create_subprocess_exec(
            "ip", "-j", "neigh", "show", "to", host, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL)
    except OSError:
        return False
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return False
    return neighbour_reachable(out.decode("utf-8", "replace"), host)


async def host_answers(host: str, timeout: float = PROBE_TIMEOUT_S) -> bool | None:
    """ICMP echo first; a host that drops ping (a kiosk's firewall) may still have answered the
    ARP that the echo set off."""
    try:
        found = await asyncio.wait_for(asyncio.get_running_loop().getaddrinfo(
            host, None, type=socket.SOCK_DGRAM), timeout)
        address = found[0][4][0]
    except (OSError, IndexError, TimeoutError):
        return False
    if ipaddress.ip_address(str(address).partition("%")[0]).is_loopback:
        # the box's own kernel answers for its loopback: that says nothing about the device
        # (the lab's simulated devices live there, and are "off" when their simulator is)
        return None
    icmp = await _icmp_answers(str(address), timeout)
    if icmp:
        return True
    if await _neighbour_answers(str(address), timeout):
        return True
    return icmp


async def presence(host: str, port: int | None, timeout: float = PROBE_TIMEOUT_S) -> Presence:
    """Both probes at once, each within `timeout`."""
    if port is None:
        return Presence(None, await host_answers(host, timeout))
    opened, answers = await asyncio.gather(port_opens(host, port, timeout),
                                           host_answers(host, timeout))
    return Presence(opened, answers)
