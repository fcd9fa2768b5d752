"""Check kind `http`: status code, latency, an expected text in the body, TLS certificate expiry."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime

from agent.checks.base import CheckOutcome, fault, unreachable
from agent.checks.context import CheckContext
from agent.config import Device
from hcc_common.wire import FaultReport, MetricValue

KIND = "http"
BODY_LIMIT = 1 << 20  # read at most 1 MiB looking for the expected text


def cert_days_left(not_after: str, now: datetime) -> int:
    """Days until a certificate's notAfter ('Jun  1 12:00:00 2030 GMT')."""
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
    return int((expires - now).total_seconds() // 86400)


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    import httpx  # imported on first use: most boxes never need an HTTP client (memory)

    s = device.http
    assert s is not None
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    start = time.perf_counter()
    try:
        async with httpx.AsyncClient(verify=s.verify_tls, timeout=device.timeout,
                                     follow_redirects=True) as client, \
                client.stream("GET", s.url) as response:
            stream = response.extensions.get("network_stream")
            ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
            cert = ssl_object.getpeercert() if ssl_object is not None else None
            body = b""
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
    except httpx.TimeoutException:
        return unreachable(KIND, f"no answer from {s.url} within {device.timeout:g}s")
    except httpx.HTTPError as exc:
        return unreachable(KIND, f"{s.url}: {exc.__class__.__name__}: {exc}")
    metrics["http_status"] = response.status_code
    metrics["http_latency_ms"] = round((time.perf_counter() - start) * 1000.0, 1)
    if response.status_code != s.expect_status:
        found.append(fault("device.http_error",
                           reason=f"HTTP {response.status_code} (expected {s.expect_status})"))
    elif s.body_contains is not None and s.body_contains not in body.decode("utf-8", "replace"):
        found.append(fault("device.http_error", reason=f"page lacks {s.body_contains!r}"))
    if cert and cert.get("notAfter"):
        days = cert_days_left(str(cert["notAfter"]), datetime.fromtimestamp(ctx.clock(), UTC))
        metrics["tls_cert_days_left"] = days
        if days <= s.cert_warn_days:
            found.append(fault("device.cert_expiring", "critical" if days <= 0 else None, days=days))
    return CheckOutcome(KIND, True, metrics, tuple(found))
