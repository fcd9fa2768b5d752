"""Generate the broker's security: a CA and server certificate, a password per box and per
controller, an ACL that lets each box write only under its own topics, client ids bound to
users, persistence that survives a crash, and the mosquitto config that ties them."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import pwd
import secrets
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hcc_common import wire

CONTROLLER_USER = "hcc-controller"
# Debian's mosquitto, started as root, drops to this user before it reads passwords and keys.
BROKER_USER = "mosquitto"
# Broker queue per box while the controller is away: a bound on the broker's memory, not on
# what is kept (agents hold every report until the controller confirms it, and send again
# what the controller finds missing).
QUEUED_PER_BOX = 2000
QUEUED_BYTES_MAX = 1024 * 1024 * 1024
# How often the broker writes its state (retained births and acks, sessions, queues) to disk.
AUTOSAVE_S = 60


class BrokerConfigError(Exception):
    pass


def agent_user(center: str, agent: str) -> str:
    """One user per box. '@' is not in the id alphabet, so the name splits one way only; with
    use_username_as_clientid it is also the box's client id, which nobody else can take."""
    return f"{agent}@{center}"


def parse_box(text: str) -> tuple[str, str]:
    """CENTER/AGENT -> (center, agent), both checked."""
    center, sep, agent = text.partition("/")
    if not sep or not wire.valid_id(center) or not wire.valid_id(agent):
        raise BrokerConfigError(f"{text!r}: expected CENTER/AGENT, e.g. ba-dinh/pi-1")
    return center, agent


@dataclass(frozen=True)
class Generated:
    conf: Path
    ca_cert: Path
    passwd: Path
    acl: Path
    credentials: dict[str, Path]


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_ca(cert_path: Path, key_path: Path, name: str = "hcc-fleet broker CA") -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make_server_cert(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path,
                     hostnames: Sequence[str], days: int = 825) -> None:
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise BrokerConfigError(f"{ca_key}: expected an EC private key")
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for h in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(loaded, hashes.SHA256()))
    _write_private(key_path, _key_pem(key))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def box_acl(center: str, agent: str) -> str:
    return "\n".join([f"# box {agent} of center {center}: writes only its own reports, reads"
                      " its acknowledgements and commands",
                      f"user {agent_user(center, agent)}",
                      f"topic write hcc/v1/{center}/{agent}/#",
                      f"topic read {wire.ack_topic(center, agent)}",
                      f"topic read hcc/v1/{center}/{agent}/cmd/#", ""])


def controller_acl(user: str) -> str:
    return "\n".join(["# a controller reads every center, writes the alert feed, the acks and",
                      "# the configs pushed to boxes",
                      f"user {user}", "topic read hcc/v1/#", "topic write hcc/v1/alerts/#",
                      f"topic write hcc/v1/{wire.ACK_SEGMENT}/#", "topic write hcc/v1/+/+/cmd/#",
                      ""])


def acl_text(boxes: Sequence[tuple[str, str]], controllers: Sequence[str]) -> str:
    head = "# Generated by hcc-controller broker-config.\n"
    return "\n".join([head, *(controller_acl(u) for u in controllers),
                      *(box_acl(c, a) for c, a in boxes)])


def conf_text(out: Path, port: int, bind: str, run_as: str | None, boxes: int) -> str:
    queued = max(10_000, boxes * QUEUED_PER_BOX)
    lines = [
        "# Generated by hcc-controller broker-config.",
        "per_listener_settings false",
        f"listener {port} {bind}",
        f"cafile {out / 'ca.crt'}",
        f"certfile {out / 'server.crt'}",
        f"keyfile {out / 'server.key'}",
        "tls_version tlsv1.2",
        "require_certificate false",
        "allow_anonymous false",
        f"password_file {out / 'passwd'}",
        f"acl_file {out / 'acl'}",
        # A client id is its user: nobody can connect as the controller or as another box,
        # kick it off and wipe its queued session.
        "use_username_as_clientid true",
        "persistence true",
        f"persistence_location {out / 'data'}/",
        # Without this mosquitto saves only at a clean exit, and a kill -9 loses every session.
        f"autosave_interval {AUTOSAVE_S}",
        # mosquitto's default of 1000 queued messages would drop a controller's backlog after a
        # short outage. Sized from the fleet; past it nothing is lost for good either: the
        # agents keep what the controller has not confirmed, and send it again.
        f"max_queued_messages {queued}",
        f"max_queued_bytes {min(QUEUED_BYTES_MAX, queued * 1024)}",
        "max_inflight_messages 100",
        "log_dest stderr",
        "log_type error", "log_type warning", "log_type notice",
    ]
    if run_as is not None:
        lines.append(f"user {run_as}")
    return "\n".join(lines) + "\n"


def _hash_passwords(passwd: Path, users: dict[str, str]) -> None:
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    existing: dict[str, str] = {}
    if passwd.exists():
        for line in passwd.read_text().splitlines():
            user, sep, rest = line.partition(":")
            if sep:
                existing[user] = rest
    plain = passwd.with_suffix(".new")
    _write_private(plain, "".join(f"{u}:{p}\n" for u, p in users.items()).encode())
    try:
        subprocess.run([tool, "-U", str(plain)], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.CalledProcessError) as exc:
        plain.unlink(missing_ok=True)
        raise BrokerConfigError(f"mosquitto_passwd failed: {exc}") from None
    hashed = dict(line.split(":", 1) for line in plain.read_text().splitlines() if ":" in line)
    plain.unlink()
    existing.update(hashed)
    _write_private(passwd, "".join(f"{u}:{h}\n" for u, h in existing.items()).encode())


def default_owner() -> str | None:
    """The broker's user when it exists (Debian's mosquitto package creates it)."""
    try:
        pwd.getpwnam(BROKER_USER)
    except KeyError:
        return None
    return BROKER_USER


def _give_to(owner: str | None, paths: Sequence[Path]) -> None:
    """Make the broker's own files readable by the user the broker runs as, and nobody else."""
    if owner is None:
        return
    try:
        entry = pwd.getpwnam(owner)
    except KeyError:
        raise BrokerConfigError(f"no user {owner!r} on this machine (--owner)") from None
    for path in paths:
        try:
            os.chown(path, entry.pw_uid, entry.pw_gid)
        except PermissionError:
            raise BrokerConfigError(f"cannot give {path} to {owner}: run as root, or give "
                                    "--owner the user you run mosquitto as") from None


def generate(out: Path, boxes: Sequence[tuple[str, str]], hostnames: Sequence[str],
             port: int = 8883, bind: str = "0.0.0.0", ca_cert: Path | None = None,
             ca_key: Path | None = None, run_as: str | None = None,
             owner: str | None = None,
             controllers: Sequence[str] = (CONTROLLER_USER,)) -> Generated:
    for c, a in boxes:
        if not wire.valid_id(c) or not wire.valid_id(a):
            raise BrokerConfigError(f"{c}/{a} is not a valid CENTER/AGENT")
    for u in controllers:
        if not wire.valid_id(u):
            raise BrokerConfigError(f"{u!r} is not a valid controller user name")
    out.mkdir(parents=True, exist_ok=True)
    (out / "data").mkdir(exist_ok=True)
    if (ca_cert is None) != (ca_key is None):
        raise BrokerConfigError("give both --ca-cert and --ca-key, or neither")
    if ca_cert is not None and ca_key is not None:
        shutil.copy(ca_cert, out / "ca.crt")
        _write_private(out / "ca.key", ca_key.read_bytes())
    elif not (out / "ca.crt").exists():
        make_ca(out / "ca.crt", out / "ca.key")
    make_server_cert(out / "ca.crt", out / "ca.key", out / "server.crt", out / "server.key",
                     list(hostnames))
    users = {u: secrets.token_urlsafe(24) for u in controllers}
    users.update({agent_user(c, a): secrets.token_urlsafe(24) for c, a in boxes})
    creds = {}
    for user, password in users.items():
        path = out / "credentials" / f"{user}.password"
        _write_private(path, (password + "\n").encode())
        creds[user] = path
    _hash_passwords(out / "passwd", users)
    (out / "acl").write_text(acl_text(boxes, controllers))
    (out / "mosquitto.conf").write_text(conf_text(out, port, bind, run_as, len(boxes)))
    _give_to(owner, [out / "passwd", out / "acl", out / "server.key", out / "server.crt",
                     out / "ca.crt", out / "data", out / "mosquitto.conf"])
    return Generated(out / "mosquitto.conf", out / "ca.crt", out / "passwd", out / "acl", creds)


def issue_credentials(broker_dir: Path, center: str, agent: str, out: Path
                      ) -> tuple[str, Path, Path]:
    """A fresh password for one box (a new one replaces the old, which stops working at the
    broker's next reload): the broker's password file and ACL updated, the password written to
    `out` (0600) and the CA copied beside it. Returns (user, password file, CA)."""
    if not wire.valid_id(center) or not wire.valid_id(agent):
        raise BrokerConfigError(f"{center}/{agent} is not a valid CENTER/AGENT")
    passwd = broker_dir / "passwd"
    if not passwd.exists() or not (broker_dir / "ca.crt").exists():
        raise BrokerConfigError(f"{broker_dir} holds no broker config: run broker-config first")
    user = agent_user(center, agent)
    acl = (broker_dir / "acl").read_text()
    if f"user {user}\n" not in acl:
        (broker_dir / "acl").write_text(acl.rstrip("\n") + "\n\n" + box_acl(center, agent))
    password = secrets.token_urlsafe(24)
    st = passwd.stat()
    _hash_passwords(passwd, {user: password})
    with contextlib.suppress(PermissionError):  # keep the broker's ownership of its files
        os.chown(passwd, st.st_uid, st.st_gid)
    _write_private(out, (password + "\n").encode())
    ca = out.with_name(out.name + ".ca.crt")
    shutil.copy(broker_dir / "ca.crt", ca)
    return user, out, ca
