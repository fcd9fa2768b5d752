"""Check kind `ping`: ICMP echo, unprivileged where the kernel allows it, with round-trip times."""

from __future__ import annotations

import socket

from agent.checks import failures
from agent.checks.base import CheckOutcome, fault, unreachable
from agent.checks.context import CheckContext
from agent.config import Device

KIND = "ping"


def permission_hint() -> str:
    try:
        with open("/proc/sys/net/ipv4/ping_group_range") as fh:
            group_range = fh.read().split()
    except OSError:
        group_range = ["?", "?"]
    return ("ICMP is not allowed for this user: the kernel's net.ipv4.ping_group_range is "
            f"{' '.join(group_range)}; allow the service's group (sysctl "
            "net.ipv4.ping_group_range='0 2147483647') or grant CAP_NET_RAW")


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    from icmplib import async_ping  # imported on first use (memory on boxes that never ping)
    from icmplib.exceptions import ICMPLibError, NameLookupError, SocketPermissionError

    s = device.ping
    assert s is not None and device.host is not None
    host = None
    # Unprivileged ICMP first (ping_group_range); raw sockets where we hold CAP_NET_RAW.
    for privileged in (False, True):
        try:
            host = await async_ping(device.host, count=s.count, interval=0.2,
                                    timeout=device.timeout, privileged=privileged)
            break
        except SocketPermissionError:
            continue
        except NameLookupError:
            # a name nobody knows is a wrong devices.yaml, not a device to go and look at
            return failures.outcome(KIND, failures.classify(socket.gaierror(), device.host))
        except (ICMPLibError, socket.gaierror, OSError) as exc:
            return failures.outcome(KIND, failures.classify(exc, device.host))
    if host is None:
        # the box may not send ICMP: its own setting, not a device to go and look at
        return CheckOutcome(KIND, False, {}, (fault("device.check_failed",
                                                    reason="ping: ICMP not allowed for this "
                                                           "user on the box"),),
                            error=permission_hint())
    if not host.is_alive:
        return unreachable(KIND, f"no echo reply from {device.host} ({s.count} tries)")
    return CheckOutcome(KIND, True, {"ping_rtt_ms": round(host.avg_rtt, 2),
                                     "ping_loss_pct": round(host.packet_loss * 100.0, 1)})

