"""Start and stop the real helper processes (mosquitto, snmpsim) with generated configs on free ports."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from hcc_common.mqtt_settings import MAX_PACKET_BYTES


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def which(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}",
                      str(Path(sys.executable).parent / name)):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError(f"{name} is not installed (run the README's test command)")


def mosquitto_conf(port: int, data_dir: Path) -> str:
    return "\n".join([
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        "persistence true",
        f"persistence_location {data_dir}/",
        # mosquitto drops QoS 1 messages silently past 1000 queued per client by default;
        # the bound here is by bytes instead, large enough for a long outage.
        "max_queued_messages 0",
        "max_queued_bytes 268435456",
        "max_inflight_messages 100",
        # as in the config broker-config writes: an oversized packet is not read
        f"max_packet_size {MAX_PACKET_BYTES}",
        f"user {getpass.getuser()}",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "",
    ])


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def spawn(name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> Proc:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as fh:
        popen = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                 stdin=subprocess.DEVNULL)
    return Proc(name, popen, log_path)


def wait_tcp(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class Mosquitto:
    """A private broker on a free port; restartable on the same port with its persistence."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.data = workdir / "mosquitto-data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(mosquitto_conf(self.port, self.data))
        self.proc: Proc | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Mosquitto:
        self.proc = spawn("mosquitto", [which("mosquitto"), "-c", str(self.conf)],
                          self.workdir / "mosquitto.log")
        wait_tcp(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.stop(sig)
            self.proc = None


@dataclass(frozen=True)
class V3User:
    user: str
    auth: str = "NONE"       # snmpsim's names: MD5, SHA, SHA256, ...
    auth_key: str = ""
    priv: str = "NONE"       # DES, AES, AES256, ...
    priv_key: str = ""


class SnmpSim:
    """snmpsim serving a folder of .snmprec files; the community string picks the file."""

    def __init__(self, workdir: Path, fixtures: list[Path], port: int | None = None,
                 v3_users: list[V3User] | None = None, host: str = "127.0.0.1") -> None:
        self.workdir = workdir
        self.host = host  # another loopback address (127.0.0.2...) plays another device
        self.port = port or free_port(socket.SOCK_DGRAM)
        # snmpsim holds one USM user per engine: each v3 user gets an engine and a port.
        self.v3_users = v3_users or []
        self.v3_ports = {u.user: free_port(socket.SOCK_DGRAM) for u in self.v3_users}
        self.data = workdir / "snmp-data"
        self.cache = workdir / "snmp-cache"
        self.data.mkdir(parents=True, exist_ok=True)
        self.cache.mkdir(parents=True, exist_ok=True)
        for f in fixtures:
            shutil.copy(f, self.data / f.name)
        self.proc: Proc | None = None

    def start(self, wait_for: str | None = None) -> SnmpSim:
        env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
        # error level: at info snmpsim prints its configuration, SNMPv3 keys included
        argv = [which("snmpsim-command-responder"), f"--cache-dir={self.cache}",
                "--log-level=error",
                "--v3-engine-id", "auto", f"--data-dir={self.data}",
                f"--agent-udpv4-endpoint={self.host}:{self.port}"]
        for u in self.v3_users:
            argv += ["--v3-engine-id", "auto", f"--data-dir={self.data}", "--v3-user", u.user]
            if u.auth != "NONE":
                argv += ["--v3-auth-proto", u.auth, "--v3-auth-key", u.auth_key]
            if u.priv != "NONE":
                argv += ["--v3-priv-proto", u.priv, "--v3-priv-key", u.priv_key]
            argv.append(f"--agent-udpv4-endpoint=127.0.0.1:{self.v3_ports[u.user]}")
        self.proc = spawn("snmpsim", argv, self.workdir / f"snmpsim-{self.port}.log", env=env)
        self.wait_ready(wait_for or next(iter(sorted(self.data.glob("*.snmprec")))).stem)
        return self

    def wait_ready(self, community: str, timeout: float = 30.0) -> None:
        """snmpsim indexes each file on first use: wait until it answers for this one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.popen.poll() is not None:
                raise RuntimeError(f"snmpsim exited: {self.proc.log()[-2000:]}")
            if snmp_get_ok(self.host, self.port, community):
                return
            time.sleep(0.2)
        raise TimeoutError(f"snmpsim on port {self.port} not answering for {community!r}")

    def set_value(self, fixture: str, oid: str, type_code: str, value: str) -> None:
        """Change one OID's value, as a real fault would; snmpsim re-reads a changed file."""
        path = self.data / f"{fixture}.snmprec"
        lines = path.read_text().splitlines()
        out, found = [], False
        for line in lines:
            if line.split("|", 1)[0] == oid:
                out.append(f"{oid}|{type_code}|{value}")
                found = True
            else:
                out.append(line)
        if not found:
            raise KeyError(f"{oid} not in {path.name}")
        before = int(path.stat().st_mtime)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("\n".join(out) + "\n")
        # snmpsim re-reads a file only if its mtime (whole seconds) changed and is newer than
        # its index, which it may have rebuilt this very second: stamp the file ahead of both.
        stamp = max(time.time() + 2.0, before + 1.0)
        os.utime(tmp, (stamp, stamp))
        os.replace(tmp, path)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None:
            self.proc.stop(sig)
            self.proc = None


def snmp_get_ok(host: str, port: int, community: str) -> bool:
    """One raw SNMPv2c GET of sysDescr over a UDP socket: no library, no process start-up."""
    # BER: SEQUENCE { version 1, community, GetRequest { reqid, 0, 0, varbinds { sysDescr.0 } } }
    comm = community.encode()
    oid = bytes([0x06, 0x08, 0x2B, 6, 1, 2, 1, 1, 1, 0])
    varbind = b"\x30" + bytes([len(oid) + 2]) + oid + b"\x05\x00"
    varbinds = b"\x30" + bytes([len(varbind)]) + varbind
    pdu_body = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + varbinds
    pdu = b"\xa0" + bytes([len(pdu_body)]) + pdu_body
    body = b"\x02\x01\x01" + b"\x04" + bytes([len(comm)]) + comm + pdu
    packet = b"\x30" + bytes([len(body)]) + body
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        try:
            s.sendto(packet, (host, port))
            data, _ = s.recvfrom(65535)
        except OSError:
            return False
    return len(data) > 0


def _unix_socket_answers(path: str) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(path)
        except OSError:
            return False
    return True


def ensure_avahi() -> None:
    """ippeveprinter refuses to start without DNS-SD: run a system D-Bus and avahi if absent.
    A machine whose daemons were killed keeps their pid files and sockets: clear those first."""
    bus = "/run/dbus/system_bus_socket"
    if not _unix_socket_answers(bus):
        for stale in (bus, "/run/dbus/pid"):
            Path(stale).unlink(missing_ok=True)
        Path("/run/dbus").mkdir(parents=True, exist_ok=True)
        subprocess.run([which("dbus-daemon"), "--system", "--fork"], check=True,
                       capture_output=True)
    if subprocess.run(["pgrep", "-x", "avahi-daemon"], capture_output=True).returncode != 0:
        Path("/run/avahi-daemon/pid").unlink(missing_ok=True)
        subprocess.run([which("avahi-daemon"), "-D", "--no-drop-root", "--no-chroot"],
                       check=True, capture_output=True)
        time.sleep(0.5)


class IppEvePrinter:
    """CUPS' ippeveprinter: a real IPP Everywhere printer whose supplies and trays are settable."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.spool = workdir / "ipp-spool"
        self.spool.mkdir(parents=True, exist_ok=True)
        self.proc: Proc | None = None

    def start(self) -> IppEvePrinter:
        ensure_avahi()
        self.proc = spawn("ippeveprinter", [
            which("ippeveprinter"), "-p", str(self.port), "-d", str(self.spool),
            "-n", "localhost", "-M", "HCC", "-m", "Test Laser", f"hcc-test-{self.port}",
        ], self.workdir / "ippeveprinter.log")
        wait_tcp(self.port)
        return self

    def set_supplies(self, waste_level: int, toner_level: int) -> None:
        self._get(f"/supplies?supply0={waste_level}&supply1={toner_level}")

    def set_main_tray(self, sheets: int) -> None:
        self._get("/media?size1=iso_a4_210x297mm&type1=stationery"
                  f"&level1={sheets}&size3=iso_dl_110x220mm&type3=stationery&level3=25")

    def _get(self, path: str) -> None:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
            r.read()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None
