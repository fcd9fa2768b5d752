"""Trust exactly one certificate, the one whose SHA-256 enrollment pinned, whatever signed it:
the box's first contact with the controller (enrollment) and its release downloads."""

from __future__ import annotations

import hashlib
import ssl


class NotPinned(Exception):
    """The controller answered with another certificate than the pinned one."""

    def __init__(self, got: str) -> None:
        super().__init__(got)
        self.got = got  # the SHA-256 it has, to say in the refusal


def fingerprint_of(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def pinned_context(host: str, port: int, fingerprint: str, timeout: float) -> ssl.SSLContext:
    """A TLS context that trusts only the certificate `host:port` shows, once its SHA-256 is
    `fingerprint` (hex, colons and case ignored). OSError when it cannot be reached,
    NotPinned when it shows another certificate."""
    pem = ssl.get_server_certificate((host, port), timeout=timeout)
    got = fingerprint_of(pem)
    if got != fingerprint.replace(":", "").lower():
        raise NotPinned(got)
    ctx = ssl.create_default_context(cadata=pem)
    ctx.check_hostname = False  # pinned: exactly this certificate, whatever name it carries
    # that one certificate is the anchor, although a CA signed it (the box may have no CA)
    ctx.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return ctx
