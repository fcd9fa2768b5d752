"""Generate the broker's security: a CA and server certificate, a password per box and per
controller, an ACL that lets each box write only under its own topics, client ids bound to
users, persistence that survives a crash, and the mosquitto config that ties them."""

from __future__ import annotations

import datetime as dt
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hcc_common import wire
from hcc_common.atomic_file import folder_lock, write_atomic
from hcc_common.mqtt_settings import MAX_PACKET_BYTES

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


@dataclass(frozen=True, kw_only=True)
class Generated:
    conf: Path
    ca_cert: Path
    passwd: Path
    acl: Path
    credentials: dict[str, Path]


def _write_private(path: Path, data: bytes) -> None:
    write_atomic(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    write_atomic(path, data, 0o644)


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
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def make_server_cert(ca_cert: Path, ca_key: Path, cert_path: Path, key_path: Path,
                     hostnames: Sequence[str], days: int = 825) -> None:
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    loaded = serialization.load_pem_private_key(ca_key.read_bytes(), password=None)
    if not isinstance(loaded, ec.EllipticCurvePrivateKey):
        raise BrokerConfigError(f"{ca_key}: expected an EC private key")
    from controller.httpcert import names_of

    key = ec.generate_private_key(ec.SECP256R1())
    names = names_of(hostnames)
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
    _write_public(cert_path, cert.public_bytes(serialization.Encoding.PEM))


def box_acl(center: str, agent: str) -> str:
    """A box writes exactly the topics it publishes (wire.box_publishes) and reads only its own
    commands and acknowledgements: nothing under its own cmd/ (a retained config there is code
    the box runs), no ack, no alert, nothing of another box."""
    return "\n".join([f"# box {agent} of center {center}: writes only its own reports, reads"
                      " its acknowledgements and commands",
                      f"user {agent_user(center, agent)}",
                      *(f"topic write {t}" for t in wire.box_publishes(center, agent)),
                      f"topic read {wire.ack_topic(center, agent)}",
                      f"topic read {wire.TOPIC_ROOT}/{center}/{agent}/cmd/#", ""])


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


@dataclass(frozen=True)
class AclBlock:
    """One `user` line and the grants under it (user None: the lines before any user)."""

    user: str | None
    grants: tuple[str, ...]


def parse_acl(text: str) -> list[AclBlock]:
    """mosquitto's acl_file as blocks, comments and blank lines dropped."""
    blocks: list[AclBlock] = []
    user: str | None = None
    grants: list[str] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith("#"):
            continue
        if line.startswith("user "):
            if user is not None or grants:
                blocks.append(AclBlock(user, tuple(grants)))
            user, grants = line[5:], []
        else:
            grants.append(line)
    if user is not None or grants:
        blocks.append(AclBlock(user, tuple(grants)))
    return blocks


def _box_of(user: str) -> tuple[str, str] | None:
    agent, sep, center = user.partition("@")
    if sep and wire.valid_id(center) and wire.valid_id(agent):
        return center, agent
    return None


def _expected(user: str) -> tuple[str, ...]:
    box = _box_of(user)
    text = box_acl(*box) if box is not None else controller_acl(user)
    return parse_acl(text)[0].grants


def check_acl(text: str, must_have: Sequence[str] = ()) -> None:
    """What a broker reload may read: each user once; every box user with exactly a box's grants
    (nothing of a controller's); at least one controller with a controller's grants intact; the
    users in `must_have` present. Raises BrokerConfigError saying what is wrong."""
    blocks = parse_acl(text)
    seen: set[str] = set()
    controllers = 0
    for b in blocks:
        if b.user is None:
            if b.grants:
                raise BrokerConfigError(f"acl: grants before any user: {b.grants[0]!r}")
            continue
        if b.user in seen:
            raise BrokerConfigError(f"acl: user {b.user} appears twice")
        seen.add(b.user)
        if _box_of(b.user) is not None:
            if b.grants != _expected(b.user):
                raise BrokerConfigError(f"acl: box user {b.user} has grants other than its own")
        elif b.grants == _expected(b.user):
            controllers += 1
    if controllers == 0:
        raise BrokerConfigError("acl: no controller user with its grants (topic read hcc/v1/#"
                                " ...): run broker-config again")
    missing = [u for u in must_have if u not in seen]
    if missing:
        raise BrokerConfigError(f"acl: {', '.join(missing)} missing")


def _acl_with_box(text: str, center: str, agent: str) -> str:
    """The acl with this box's block added; every box block written as box_acl makes it now
    (an older, wider grant, or a line that strayed under a box, is not kept); controller and
    other blocks kept as they are."""
    blocks = parse_acl(text)
    user = agent_user(center, agent)
    if user not in {b.user for b in blocks}:
        blocks.append(AclBlock(user, ()))
    out = ["# Generated by hcc-controller broker-config; boxes added by enrollment.", ""]
    for b in blocks:
        box = _box_of(b.user) if b.user is not None else None
        if box is not None:
            out.append(box_acl(*box))
        elif b.user is not None:
            out.append("\n".join([f"user {b.user}", *b.grants, ""]))
        elif b.grants:
            out.append("\n".join([*b.grants, ""]))
    return "\n".join(out)


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
        # One box cannot make the broker (and the controller behind it) hold megabytes: past
        # this mosquitto stops reading the packet before it allocates it, and drops the sender.
        # Not message_size_limit: mosquitto 2.0 answers it with a PUBACK reason (149) MQTT 5
        # does not allow there, and paho then drops the connection as a protocol error.
        f"max_packet_size {MAX_PACKET_BYTES}",
        "log_dest stderr",
        "log_type error", "log_type warning", "log_type notice",
    ]
    if run_as is not None:
        lines.append(f"user {run_as}")
    return "\n".join(lines) + "\n"


def _hash_passwords(passwd: Path, users: dict[str, str]) -> None:
    """Add or replace these users' hashed passwords in `passwd`. The caller holds the broker
    folder's lock: the plain passwords go to a temporary file of this call alone (two
    enrollments sharing `passwd.new` lost each other's users and failed), in the same folder
    with mode 0600, and `passwd` is replaced in one rename."""
    tool = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    existing: dict[str, str] = {}
    if passwd.exists():
        for line in passwd.read_text().splitlines():
            user, sep, rest = line.partition(":")
            if sep:
                existing[user] = rest
    fd, name = tempfile.mkstemp(dir=passwd.parent, prefix=".passwd.", suffix=".plain")
    plain = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write("".join(f"{u}:{p}\n" for u, p in users.items()).encode())
        try:
            subprocess.run([tool, "-U", str(plain)], check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            raise BrokerConfigError(f"mosquitto_passwd failed: {exc}") from None
        hashed = dict(line.split(":", 1) for line in plain.read_text().splitlines() if ":" in line)
    finally:
        plain.unlink(missing_ok=True)
        Path(name + ".tmp").unlink(missing_ok=True)  # mosquitto_passwd's own backup, if left
    if set(hashed) != set(users) or any(not h.startswith("$") for h in hashed.values()):
        raise BrokerConfigError("mosquitto_passwd left users unhashed")
    existing.update(hashed)
    mode = None if passwd.exists() else 0o600
    write_atomic(passwd, "".join(f"{u}:{h}\n" for u, h in existing.items()).encode(), mode)


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
    with folder_lock(out):
        return _generate(out, boxes, hostnames, port, bind, ca_cert, ca_key, run_as, owner,
                         controllers)


def _generate(out: Path, boxes: Sequence[tuple[str, str]], hostnames: Sequence[str],
              port: int, bind: str, ca_cert: Path | None, ca_key: Path | None,
              run_as: str | None, owner: str | None, controllers: Sequence[str]) -> Generated:
    if (ca_cert is None) != (ca_key is None):
        raise BrokerConfigError("give both --ca-cert and --ca-key, or neither")
    if ca_cert is not None and ca_key is not None:
        _write_public(out / "ca.crt", ca_cert.read_bytes())
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
    acl = acl_text(boxes, controllers)
    check_acl(acl, list(users))
    _write_public(out / "acl", acl.encode())
    _write_public(out / "mosquitto.conf", conf_text(out, port, bind, run_as, len(boxes)).encode())
    _give_to(owner, [out / "passwd", out / "acl", out / "server.key", out / "server.crt",
                     out / "ca.crt", out / "data", out / "mosquitto.conf"])
    return Generated(conf=out / "mosquitto.conf", ca_cert=out / "ca.crt", passwd=out / "passwd",
                     acl=out / "acl", credentials=creds)


def issue_credentials(broker_dir: Path, center: str, agent: str, out: Path,
                      reload: Callable[[], None] | None = None) -> tuple[str, Path, Path]:
    """A fresh password for one box (a new one replaces the old, which stops working at the
    broker's next reload): the broker's password file and ACL updated, the password written to
    `out` (0600) and the CA copied beside it. Returns (user, password file, CA).

    One change at a time, across threads and processes (the broker folder's lock); each file
    replaced whole; the new ACL read back and checked (check_acl) before it is written, and
    `reload` (the broker's) called only after both files are written, still holding the lock."""
    if not wire.valid_id(center) or not wire.valid_id(agent):
        raise BrokerConfigError(f"{center}/{agent} is not a valid CENTER/AGENT")
    passwd = broker_dir / "passwd"
    if not passwd.exists() or not (broker_dir / "ca.crt").exists():
        raise BrokerConfigError(f"{broker_dir} holds no broker config: run broker-config first")
    user = agent_user(center, agent)
    password = secrets.token_urlsafe(24)
    try:
        with folder_lock(broker_dir):
            acl_path = broker_dir / "acl"
            before = acl_path.read_text()
            acl = _acl_with_box(before, center, agent)
            check_acl(acl, [user])
            if acl != before:
                write_atomic(acl_path, acl.encode())
            _hash_passwords(passwd, {user: password})
            if reload is not None:
                reload()
        _write_private(out, (password + "\n").encode())
        ca = out.with_name(out.name + ".ca.crt")
        _write_public(ca, (broker_dir / "ca.crt").read_bytes())
    except OSError as exc:
        raise BrokerConfigError(f"{exc.filename or broker_dir}: {exc.strerror or exc}") from None
    return user, out, ca
