"""What went wrong talking to a device, as its fault: the shared classifier's cause
(hcc_common/net_failure.py) made a device fault (pure), and, when the device said nothing, a
bounded second look (does its port open, does it answer ping) that tells "it is off" from "it
is on but this service is silent"."""

from __future__ import annotations

from dataclasses import dataclass

from agent.checks.base import CheckOutcome, fault
from hcc_common.net_failure import Cause, NetFailure, http_status, one_line
from hcc_common.net_failure import classify as classify_failure
from hcc_common.wire import FaultReport

__all__ = ["Failure", "classify", "explain_silence", "from_cause", "http_outcome", "one_line",
           "outcome"]


@dataclass(frozen=True)
class Failure:
    """reachable: something answered (the device is on; its service or certificate is wrong)."""

    reachable: bool
    fault: FaultReport | None
    detail: str
    cause: Cause = Cause.OTHER


def _port_of(target: str) -> str:
    return target.rpartition(":")[2] if ":" in target else "?"


def from_cause(failure: NetFailure, target: str, port: int | None = None) -> Failure:
    """Pure: the device fault a cause means; `target` is the host (or host:port)."""
    host = target
    shown_port = str(port) if port is not None else _port_of(target)
    c = failure.cause
    by_cause: dict[Cause, FaultReport | None] = {
        Cause.REFUSED: fault("device.refused", target=target),
        Cause.NAME_UNKNOWN: fault("device.name_unknown", host=host),
        Cause.DNS_DOWN: fault("wan.dns_failed", name=host),  # the center's DNS, not the name
        Cause.NO_ROUTE: fault("device.no_route", host=host),
        Cause.HOST_DOWN: None,  # nobody has the address: off or unplugged, "not responding"
        Cause.NOT_TLS: fault("device.not_tls", port=shown_port),
        Cause.TLS_EXPIRED: fault("device.tls_expired"),
        Cause.TLS_WRONG_NAME: fault("device.tls_wrong_name", host=host),
        Cause.TLS_UNTRUSTED: fault("device.tls_untrusted"),
        Cause.TLS_FAILED: fault("device.tls_failed", reason=_tls_reason(failure.detail)),
        Cause.NOT_HTTP: fault("device.not_http", port=shown_port),
        Cause.NO_ANSWER: None,
        Cause.READ_TIMEOUT: fault("device.http_timeout"),
        Cause.AUTH: fault("device.http_auth", status=failure.status),
        Cause.HTTP_ERROR: fault("device.http_error", status=failure.status),
        Cause.HTTP_SERVER_ERROR: fault("device.http_server_error", status=failure.status),
        Cause.OTHER: None,
    }
    return Failure(failure.answered, by_cause[c], failure.detail, c)


def _tls_reason(detail: str) -> str:
    # "[SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version (_ssl.c:1000)" -> the
    # words in the middle, which name the kind of failure
    inner = detail.partition("]")[2].partition("(_ssl")[0].strip()
    return (inner or detail)[:80]


def classify(exc: BaseException, target: str, port: int | None = None) -> Failure:
    """The fault an exception from connecting to `target` means."""
    return from_cause(classify_failure(exc, target), target, port)


def outcome(kind: str, failure: Failure) -> CheckOutcome:
    found = (failure.fault,) if failure.fault is not None else ()
    return CheckOutcome(kind, failure.reachable, {}, found, error=failure.detail)


async def explain_silence(kind: str, failure: Failure, host: str | None, port: int | None,
                          *, tls: bool = False, silent_code: str = "device.port_silent",
                          timeout: float | None = None, probe_port: bool = True
                          ) -> CheckOutcome:
    """A device that said nothing in time: look once more, within a second. Its port opens:
    the service (or its TLS) hangs. It answers ping (or ARP): it is on, this service is
    silent (a firewall, SNMP off, a wrong community). Neither: "not responding" stands."""
    from agent.reachability import PROBE_TIMEOUT_S, presence

    if failure.cause is not Cause.NO_ANSWER or host is None:
        return outcome(kind, failure)
    # (probe_port=False: the check's own connect to the port was that probe)
    seen = await presence(host, port if probe_port else None,
                          min(PROBE_TIMEOUT_S, timeout or PROBE_TIMEOUT_S))
    target = f"{host}:{port}" if port is not None else host
    if seen.port_open:
        code = fault("device.tls_timeout", port=port) if tls else fault("device.http_timeout")
        return CheckOutcome(kind, True, {}, (code,),
                            error=f"{failure.detail}; the port takes connections")
    if seen.host_answers:
        return CheckOutcome(kind, True, {}, (fault(silent_code, target=target),),
                            error=f"{failure.detail}; the host answers ping")
    return outcome(kind, failure)


def http_outcome(kind: str, exc: Exception, target: str, expected: str) -> CheckOutcome:
    """A smart plug's (or any JSON API's) failure: an HTTP error status is the device answering
    (its page or API is wrong, not its cable); a reply that is not the API's JSON is wrong
    content; the rest is what classify() says."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if type(exc).__name__ == "HTTPStatusError" and isinstance(status, int):
        found = from_cause(http_status(status, target), target)
        return CheckOutcome(kind, True, {"http_status": status},
                            (found.fault,) if found.fault is not None else (),
                            error=found.detail)
    if isinstance(exc, ValueError):
        return CheckOutcome(kind, True, {}, (fault("device.content_mismatch", expected=expected),),
                            error=one_line(f"{target}: {exc}"))
    return outcome(kind, classify(exc, target))
