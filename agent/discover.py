"""hcc-agent discover: find a center's devices (SNMP, Shelly and Tasmota plugs over HTTP, IPP printers
over DNS-SD, the box's neighbour table) and propose devices.yaml entries for them."""

from __future__ import annotations

import asyncio
import io
import ipaddress
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from agent.checks.spec import Found, Probe
from agent.profile_loader import load_profiles
from agent.snmp_client import SnmpClient

MAX_HOSTS = 4096  # a /20: more is a typo, not a service center
ARP_TABLE = Path("/proc/net/arp")


class DiscoverError(Exception):
    """Bad input (a subnet that is not one, too many hosts): said plainly."""


def hosts_of(subnets: Sequence[str]) -> list[str]:
    """The addresses to probe, in order; refuses what is not a subnet or is far too large."""
    out: list[str] = []
    for spec in subnets:
        try:
            net = ipaddress.ip_network(spec, strict=False)
        except ValueError:
            raise DiscoverError(f"{spec!r} is not a subnet; write e.g. 192.0.2.0/24") from None
        if net.version != 4:
            raise DiscoverError(f"{spec}: only IPv4 subnets are swept")
        if net.num_addresses > MAX_HOSTS:
            raise DiscoverError(f"{spec} holds {net.num_addresses} addresses; give at most a /20")
        out.extend(str(h) for h in (net.hosts() if net.num_addresses > 2 else net))
    return list(dict.fromkeys(out))


def own_lan() -> list[str]:
    """The box's own IPv4 LAN(s), as subnets (loopback and link-local left out)."""
    import psutil

    out = []
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name != "AF_INET" or not a.netmask:
                continue
            iface = ipaddress.ip_interface(f"{a.address}/{a.netmask}")
            if iface.is_loopback or iface.is_link_local:
                continue
            net = iface.network
            if net.num_addresses > MAX_HOSTS:  # a huge LAN: its /24 around the box
                net = ipaddress.ip_interface(f"{a.address}/24").network
            out.append(str(net))
    return out


def neighbours(path: Path = ARP_TABLE) -> list[str]:
    """Addresses in the kernel's ARP table with a complete entry (flags 0x2)."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return []
    return [p[0] for p in (line.split() for line in lines) if len(p) >= 4 and p[2] == "0x2"]


class RateLimit:
    """At most `rate` probes a second, spread evenly (a center's LAN is shared with citizens)."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.next_at = 0.0

    async def wait(self) -> None:
        now = self.clock()
        at = max(now, self.next_at)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


def browse(networks: Sequence[str]) -> list[Found]:
    """What the kinds that announce themselves (IPP over DNS-SD) say is in these subnets."""
    from agent.checks import REGISTRY

    return [f for spec in REGISTRY.values() if spec.browse is not None
            for f in spec.browse(networks)]


async def discover(hosts: Iterable[str], *, communities: Sequence[str], snmp_port: int = 161,
                   http_port: int = 80, concurrency: int = 32, rate: float = 50.0,
                   timeout: float = 1.0, on_probed: Callable[[], None] | None = None
                   ) -> list[Found]:
    """Probe each host (SNMP, then Shelly/Tasmota) with at most `concurrency` in flight and
    `rate` hosts a second; what answers is proposed, in address order."""
    import httpx

    from agent.checks import REGISTRY

    kinds = [spec.discover for spec in REGISTRY.values() if spec.discover is not None]
    limit = RateLimit(rate)
    gate = asyncio.Semaphore(concurrency)
    found: list[Found] = []
    async with httpx.AsyncClient(timeout=timeout) as web:
        ask = Probe(snmp=SnmpClient(), profiles=load_profiles(), communities=communities,
                    snmp_port=snmp_port, web=web, http_port=http_port, timeout=timeout)

        async def probe(host: str) -> None:
            await limit.wait()
            async with gate:
                # each kind that can find devices asks in the registry's order (SNMP, then the
                # plugs' HTTP APIs); the first that knows the host has it
                for discover_kind in kinds:
                    hit = await discover_kind(ask, host)
                    if hit is not None:
                        found.append(hit)
                        break
            if on_probed is not None:
                on_probed()

        await asyncio.gather(*(probe(h) for h in hosts))
    return sorted(found, key=lambda f: (ipaddress.ip_address(f.host), f.check))


# -- devices.yaml entries -----------------------------------------------------------------------
ID_PREFIX = {"printer": "printer", "wifi_ap": "ap", "charger": "charger", "ups": "ups",
             "other": "device"}


def entry(f: Found, taken: set[str]) -> dict[str, Any]:
    """A devices.yaml entry for one find, with an id not yet taken."""
    last = f.host.split(".")
    base = f"{ID_PREFIX.get(f.type, 'device')}-{last[-1]}"
    ident = base if base not in taken else f"{ID_PREFIX.get(f.type, 'device')}-{last[-2]}-{last[-1]}"
    n = 2
    while ident in taken:
        ident, n = f"{base}-{n}", n + 1
    taken.add(ident)
    out: dict[str, Any] = {"id": ident, "name": f.name, "type": f.type, "host": f.host}
    default = default_port(f.check)
    settings = {k: v for k, v in f.settings.items() if not (k == "port" and v == default)}
    out[f.check] = settings or {}
    return out


def default_port(kind: str) -> int | None:
    """The port a kind's section means when it names none: what its own parser gives an empty
    section (161 for snmp, 80 for a plug, 631 for ipp), so an entry may leave it out."""
    from hcc_common.check_kinds import SCHEMAS
    from hcc_common.check_kinds.base import SectionInput
    from hcc_common.yamlconf import load_yaml

    empty = SCHEMAS[kind].parse(load_yaml("(defaults)", "{}"), SectionInput(host="h", env={}))
    port = getattr(empty, "port", None)
    return port if isinstance(port, int) else None


def merge(path: Path, finds: Sequence[Found]) -> list[dict[str, Any]]:
    """Add what is new (by host and check) to devices.yaml, keeping the technician's comments,
    order and layout (ruamel.yaml's round trip). Returns the entries added."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 110
    # the layout of the shipped devices.yaml ("  - id: ..."): kept, so a diff shows only additions
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(path.read_text(encoding="utf-8"))
    devices = doc.get("devices")
    if devices is None or not isinstance(devices, list):
        devices = doc["devices"] = CommentedSeq()
    from agent.checks import REGISTRY

    have = {(str(d.get("host")), c) for d in devices for c in REGISTRY if c in d}
    taken = {str(d.get("id")) for d in devices}
    added = []
    for f in finds:
        if (f.host, f.check) in have:
            continue
        e = entry(f, taken)
        cm = CommentedMap(e)
        devices.append(cm)
        devices.yaml_set_comment_before_after_key(len(devices) - 1,
                                                  before=f"found by hcc-agent discover: {f.detail}",
                                                  indent=2)
        added.append(e)
    from hcc_common.keepfile import write_kept

    text = io.StringIO()
    yaml.dump(doc, text)
    # root:hcc-agent 0640 stays so: the communities in it never become world-readable
    write_kept(path, text.getvalue())
    return added
