"""hcc-controller http-cert: the dashboard's and enrollment's HTTPS certificate and key, made in
one command (self-signed: boxes pin it by its SHA-256, browsers are told once)."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hcc_common.keepfile import write_kept


@dataclass(frozen=True)
class Made:
    cert: Path
    key: Path
    fingerprint: str  # SHA-256 of the certificate, what `hcc-agent enroll --fingerprint` pins


def names_of(hostnames: Sequence[str]) -> list[x509.GeneralName]:
    """Each name as a certificate's subject alternative name: an IP address where it parses as
    one (boxes connect by IP on many LANs), else a DNS name."""
    names: list[x509.GeneralName] = []
    for h in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    return names


def make(folder: Path, hostnames: Sequence[str], days: int = 825) -> Made:
    """http.crt and http.key in `folder`, with the folder's group and no access for others (the
    service reads them as its group: root:hcc-controller 0640)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(names_of(hostnames)), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "http.crt", folder / "http.key"
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    write_kept(key_path, key_pem, mode=0o640)
    write_kept(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o640)
    der = cert.public_bytes(serialization.Encoding.DER)
    return Made(cert_path, key_path, hashlib.sha256(der).hexdigest())
