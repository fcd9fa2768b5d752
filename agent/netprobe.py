"""The client-view probe's pure parts: DHCP and DNS messages (RFC 2131/2132, RFC 1035), the
scan and join outputs of iw, nmcli and wpa_cli, and which probe step's failure is the fault."""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hcc_common import texts
from hcc_common.wire import FaultReport, MetricValue

# -- DHCP (RFC 2131, options RFC 2132) ------------------------------------------------------
MAGIC = b"\x63\x82\x53\x63"
DISCOVER, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE = 1, 2, 3, 4, 5, 6, 7
OPT_SUBNET, OPT_ROUTER, OPT_DNS, OPT_REQUESTED_IP, OPT_LEASE = 1, 3, 6, 50, 51
OPT_MSG_TYPE, OPT_SERVER_ID, OPT_PARAMS, OPT_END = 53, 54, 55, 255


class ProtocolError(ValueError):
    """A reply that is not what the protocol says."""


@dataclass(frozen=True)
class DhcpReply:
    kind: int
    xid: int
    yiaddr: str
    server: str | None
    router: str | None
    dns: tuple[str, ...]
    prefix: int
    lease_s: int | None


def _ip(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


def _ip_bytes(ip: str) -> bytes:
    return bytes(int(x) for x in ip.split("."))


def dhcp_message(kind: int, xid: int, mac: bytes, *, requested: str | None = None,
                 server: str | None = None, ciaddr: str = "0.0.0.0") -> bytes:
    """A client message: DISCOVER, REQUEST (with the offered address and server) or RELEASE.
    The broadcast flag asks the server to broadcast its reply (we have no address yet)."""
    flags = 0x8000 if kind in (DISCOVER, REQUEST) else 0
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, flags,
                       _ip_bytes(ciaddr), b"\0" * 4, b"\0" * 4, b"\0" * 4,
                       mac.ljust(16, b"\0"), b"\0" * 64, b"\0" * 128)
    opts = bytes([OPT_MSG_TYPE, 1, kind])
    if requested is not None:
        opts += bytes([OPT_REQUESTED_IP, 4]) + _ip_bytes(requested)
    if server is not None:
        opts += bytes([OPT_SERVER_ID, 4]) + _ip_bytes(server)
    if kind != RELEASE:
        opts += bytes([OPT_PARAMS, 3, OPT_SUBNET, OPT_ROUTER, OPT_DNS])
    return head + MAGIC + opts + bytes([OPT_END])


def parse_dhcp(packet: bytes, xid: int) -> DhcpReply | None:
    """A server reply for our transaction, or None (someone else's, or not DHCP)."""
    if len(packet) < 240 or packet[0] != 2 or packet[236:240] != MAGIC:
        return None
    got_xid = struct.unpack("!I", packet[4:8])[0]
    if got_xid != xid:
        return None
    options: dict[int, bytes] = {}
    i = 240
    while i < len(packet):
        code = packet[i]
        if code == OPT_END:
            break
        if code == 0:
            i += 1
            continue
        if i + 1 >= len(packet):
            raise ProtocolError("truncated DHCP option")
        size = packet[i + 1]
        options[code] = packet[i + 2:i + 2 + size]
        i += 2 + size
    kind = options.get(OPT_MSG_TYPE, b"\0")[0]
    mask = options.get(OPT_SUBNET)
    prefix = sum(bin(b).count("1") for b in mask) if mask else 24
    dns = options.get(OPT_DNS, b"")
    lease = options.get(OPT_LEASE)
    return DhcpReply(kind, got_xid, _ip(packet[16:20]),
                     _ip(options[OPT_SERVER_ID]) if OPT_SERVER_ID in options else None,
                     _ip(options[OPT_ROUTER][:4]) if OPT_ROUTER in options else None,
                     tuple(_ip(dns[j:j + 4]) for j in range(0, len(dns) - 3, 4)), prefix,
                     struct.unpack("!I", lease)[0] if lease and len(lease) == 4 else None)


# -- DNS (RFC 1035), A records only -------------------------------------------------------
def dns_query(name: str, qid: int) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode("idna") for p in name.rstrip(".").split("."))
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + \
        struct.pack("!HH", 1, 1)


def _skip_name(data: bytes, i: int) -> int:
    while True:
        if i >= len(data):
            raise ProtocolError("truncated name")
        n = data[i]
        if n & 0xC0 == 0xC0:
            return i + 2
        if n == 0:
            return i + 1
        i += 1 + n


def parse_dns(data: bytes, qid: int) -> tuple[int, list[str]]:
    """(rcode, IPv4 addresses) of the answer to our query."""
    if len(data) < 12:
        raise ProtocolError("short DNS reply")
    rid, flags, qd, an, _, _ = struct.unpack("!HHHHHH", data[:12])
    if rid != qid or not flags & 0x8000:
        raise ProtocolError("not the answer to our query")
    i = 12
    for _ in range(qd):
        i = _skip_name(data, i) + 4
    out = []
    for _ in range(an):
        i = _skip_name(data, i)
        rtype, _cls, _ttl, size = struct.unpack("!HHIH", data[i:i + 10])
        i += 10
        if rtype == 1 and size == 4:
            out.append(_ip(data[i:i + 4]))
        i += size
    return flags & 0x000F, out


# -- scanning and joining: what iw, nmcli and wpa_cli print ----------------------------------
@dataclass(frozen=True)
class Bss:
    ssid: str
    bssid: str
    signal_dbm: float | None
    channel: int | None


def channel_of(freq_mhz: float) -> int | None:
    if 2412 <= freq_mhz <= 2472:
        return int((freq_mhz - 2407) // 5)
    if freq_mhz == 2484:
        return 14
    if 5000 <= freq_mhz <= 5900:
        return int((freq_mhz - 5000) // 5)
    if 5955 <= freq_mhz <= 7115:  # 6 GHz
        return int((freq_mhz - 5950) // 5)
    return None


def parse_iw_scan(text: str) -> list[Bss]:
    """`iw dev wlan1 scan`: one 'BSS xx:xx…' block per access point radio."""
    out: list[Bss] = []
    cur: dict[str, object] = {}

    def flush() -> None:
        if cur.get("bssid"):
            freq, signal = cur.get("freq"), cur.get("signal")
            out.append(Bss(str(cur.get("ssid", "")), str(cur["bssid"]),
                           signal if isinstance(signal, float) else None,
                           channel_of(freq) if isinstance(freq, float) else None))

    for line in text.splitlines():
        m = re.match(r"^BSS ([0-9a-fA-F:]{17})", line)
        if m:
            flush()
            cur = {"bssid": m.group(1).lower()}
            continue
        s = line.strip()
        if s.startswith("freq:"):
            cur["freq"] = float(s.split()[1])
        elif s.startswith("signal:"):
            cur["signal"] = float(s.split()[1])
        elif s.startswith("SSID:"):
            cur["ssid"] = s[5:].strip()
    flush()
    return out


def _nmcli_fields(line: str) -> list[str]:
    """nmcli -t separates fields with ':' and escapes ':' inside a field as '\\:'."""
    out, cur, esc = [], [], False
    for c in line:
        if esc:
            cur.append(c)
            esc = False
        elif c == "\\":
            esc = True
        elif c == ":":
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    out.append("".join(cur))
    return out


def parse_nmcli_scan(text: str) -> list[Bss]:
    """`nmcli -t -f SSID,BSSID,CHAN,SIGNAL dev wifi list`: SIGNAL is 0-100 %, turned into dBm
    the way NetworkManager derives it (dBm = pct/2 - 100)."""
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        f = _nmcli_fields(line)
        if len(f) < 4:
            continue
        pct = int(f[3]) if f[3].isdigit() else None
        out.append(Bss(f[0], f[1].lower(), pct / 2 - 100 if pct is not None else None,
                       int(f[2]) if f[2].isdigit() else None))
    return out


@dataclass(frozen=True)
class Joined:
    ok: bool
    reason: str = ""


def parse_nmcli_connect(text: str, exit_code: int) -> Joined:
    """`nmcli dev wifi connect SSID ifname wlan1`: 'successfully activated' or 'Error: …'."""
    if exit_code == 0 and "successfully activated" in text:
        return Joined(True)
    m = re.search(r"Error: (.*)", text)
    return Joined(False, (m.group(1) if m else text.strip() or f"exit {exit_code}")[:120])


def parse_wpa_status(text: str) -> Joined:
    """`wpa_cli -i wlan1 status`: wpa_state=COMPLETED once associated and authenticated."""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    state = fields.get("wpa_state", "")
    return Joined(state == "COMPLETED", "" if state == "COMPLETED" else f"wpa_state={state}")


# -- from step results to metrics and the fault ------------------------------------------------
STEPS = ("scan", "join", "gateway", "dhcp", "dns", "internet", "portal", "speed")
STEP_NAMES = {"scan": "Wi-Fi scan", "join": "Join Wi-Fi", "gateway": "Router",
              "dhcp": "IP address (DHCP)", "dns": "Name lookup (DNS)", "internet": "Internet",
              "portal": "Wi-Fi login page", "speed": "Download speed", "ok": "passed",
              "failed": "FAILED"}
# their Vietnamese, in the one catalog (hcc_common.texts)
texts.register({"Wi-Fi scan": "Dò sóng Wi-Fi", "Join Wi-Fi": "Kết nối Wi-Fi",
                "IP address (DHCP)": "Nhận địa chỉ IP (DHCP)",
                "Name lookup (DNS)": "Phân giải tên miền (DNS)", "Internet": "Vào Internet",
                "Wi-Fi login page": "Trang đăng nhập Wi-Fi", "Download speed": "Tốc độ tải",
                "passed": "đạt", "FAILED": "LỖI"}, __name__)


@dataclass(frozen=True)
class StepResult:
    step: str
    ok: bool
    seconds: float | None = None
    detail: Mapping[str, MetricValue] = field(default_factory=dict)
    skipped: bool = False


def first_fault(results: Sequence[StepResult], dhcp_slow_s: float) -> FaultReport | None:
    """The first failing step names the fault; a slow lease is a warning when all else works."""
    from hcc_common.faults import report

    for r in results:
        if r.ok or r.skipped:
            continue
        d = r.detail
        if r.step == "scan":
            return report("wifi.ssid_missing", ssid=str(d.get("ssid", "")))
        if r.step == "join":
            return report("wifi.assoc_failed", ssid=str(d.get("ssid", "")),
                          reason=str(d.get("reason", "")))
        if r.step == "dhcp":
            return report("wifi.dhcp_failed")
        if r.step == "dns":
            return report("wifi.dns_failed", name=str(d.get("name", "")))
        if r.step == "internet":
            return report("wifi.no_internet")
        if r.step == "portal":
            return report("wifi.portal_broken")
    dhcp = next((r for r in results if r.step == "dhcp" and r.ok), None)
    if dhcp is not None and dhcp.seconds is not None and dhcp.seconds > dhcp_slow_s:
        return report("wifi.dhcp_slow", seconds=round(dhcp.seconds, 1))
    return None


def metrics_of(results: Sequence[StepResult], prefix: str) -> dict[str, MetricValue]:
    """Each step's time and outcome as readings: <prefix>_<step>_ms, <prefix>_<step>_ok."""
    out: dict[str, MetricValue] = {}
    for r in results:
        if r.skipped:
            continue
        out[f"{prefix}_{r.step}_ok"] = int(r.ok)
        if r.seconds is not None:
            out[f"{prefix}_{r.step}_ms"] = round(r.seconds * 1000.0, 1)
        for k, v in r.detail.items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                out[f"{prefix}_{k}"] = v
    return out


def step_lines(metrics: Mapping[str, MetricValue], prefix: str, lang: str) -> list[str]:
    """The probe's steps as a technician reads them, from a result's readings, in order."""
    t = {k: texts.tr(v, lang) for k, v in STEP_NAMES.items()}
    out: list[str] = []
    for step in STEPS:
        ok = metrics.get(f"{prefix}_{step}_ok")
        if ok is None:
            continue
        ms = metrics.get(f"{prefix}_{step}_ms")
        extra = []
        if isinstance(ms, int | float):
            extra.append(f"{ms:,.0f} ms")
        if step == "scan" and isinstance(sig := metrics.get(f"{prefix}_signal_dbm"), int | float):
            extra.append(f"{sig:.0f} dBm, {metrics.get(f'{prefix}_bssids', '?')} BSSID")
        if step == "speed" and isinstance(mb := metrics.get(f"{prefix}_download_mbps"),
                                          int | float):
            extra.append(f"{mb:.1f} Mbit/s")
        if step == "internet" and metrics.get(f"{prefix}_portal") == 1:
            extra.append("captive portal")
        out.append(f"{len(out) + 1}. {t[step]}: {t['ok'] if ok else t['failed']}"
                   + (f" ({', '.join(extra)})" if extra else ""))
    return out
