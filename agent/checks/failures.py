"""What went wrong talking to a device, in words that fit: refused, timed out, name unknown, a TLS
certificate expired, for another name, or untrusted; pure (an exception in, a fault out)."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass

from agent.checks.base import CheckOutcome, fault
from hcc_common.wire import FaultReport

# OpenSSL's X509_V_ERR codes (openssl/x509_vfy.h)
CERT_EXPIRED = 10
CERT_NOT_YET_VALID = 9
NAME_MISMATCH = (62, 64)  # a host name, or an IP address, that the certificate is not for
UNTRUSTED = (18, 19, 20, 21, 2, 27)  # self-signed, self-signed in chain, no issuer, …


@dataclass(frozen=True)
class Failure:
    """reachable: something answered (the device is on; its service or certificate is wrong)."""

    reachable: bool
    fault: FaultReport | None
    detail: str


def one_line(text: str, limit: int = 200) -> str:
    """A library's message as one clean line: its first line, without 'for more information'
    links, shortened."""
    first = next((line.strip() for line in str(text).splitlines()
                  if line.strip() and not line.strip().lower().startswith("for more information")),
                 "")
    return first if len(first) <= limit else first[:limit - 1] + "…"


def _chain(exc: BaseException) -> list[BaseException]:
    out = []
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def classify(exc: BaseException, target: str) -> Failure:
    """The fault an exception from connecting to `target` means."""
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            code = getattr(e, "verify_code", None)
            if code in (CERT_EXPIRED, CERT_NOT_YET_VALID):
                return Failure(True, fault("device.tls_expired"), one_line(str(e)))
            if code in NAME_MISMATCH:
                return Failure(True, fault("device.tls_wrong_name", host=target),
                               one_line(str(e)))
            return Failure(True, fault("device.tls_untrusted"), one_line(str(e)))
        if isinstance(e, ConnectionRefusedError):
            return Failure(True, fault("device.refused", target=target),
                           f"{target}: connection refused")
        if isinstance(e, socket.gaierror):
            return Failure(False, fault("device.name_unknown", host=target),
                           f"{target}: name not found")
    name = type(exc).__name__
    if "Timeout" in name or isinstance(exc, TimeoutError):
        # ReadTimeout: it took the connection and then said nothing; the app hangs
        if "Read" in name:
            return Failure(True, fault("device.http_timeout"), f"{target}: no reply in time")
        return Failure(False, None, f"{target}: no answer in time")
    return Failure(False, None, one_line(f"{target}: {name}: {exc}"))


def outcome(kind: str, failure: Failure) -> CheckOutcome:
    if failure.reachable:
        found = (failure.fault,) if failure.fault is not None else ()
        return CheckOutcome(kind, True, {}, found, error=failure.detail)
    return CheckOutcome(kind, False, {}, (failure.fault,) if failure.fault is not None else (),
                        error=failure.detail)


def http_outcome(kind: str, exc: Exception, target: str, expected: str) -> CheckOutcome:
    """A smart plug's (or any JSON API's) failure: an HTTP error status is the device answering
    (its page or API is wrong, not its cable); a reply that is not the API's JSON is wrong
    content; the rest is what classify() says."""
    import httpx

    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        code = "device.http_server_error" if status >= 500 else "device.http_error"
        return CheckOutcome(kind, True, {"http_status": status}, (fault(code, status=status),),
                            error=f"{target}: HTTP {status}")
    if isinstance(exc, ValueError):
        return CheckOutcome(kind, True, {}, (fault("device.content_mismatch", expected=expected),),
                            error=one_line(f"{target}: {exc}"))
    return outcome(kind, classify(exc, target))
