"""Check kind `http`: status code, latency, an expected text or JSON field, TLS certificate
expiry; a failure says what happened (refused, a certificate expired, HTTP 404, a hang)."""

from __future__ import annotations

import json
import ssl
import time
from datetime import UTC, datetime

from agent.checks import failures
from agent.checks.base import CheckOutcome, fault
from agent.checks.context import CheckContext
from agent.config import Device
from hcc_common.net_failure import http_status
from hcc_common.wire import FaultReport, MetricValue

KIND = "http"
BODY_LIMIT = 1 << 20  # read at most 1 MiB looking for the expected text


def cert_days_left(not_after: str, now: datetime) -> int:
    """Days until a certificate's notAfter ('Jun  1 12:00:00 2030 GMT')."""
    expires = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
    return int((expires - now).total_seconds() // 86400)


def json_value(body: bytes, path: str) -> object:
    """`status` or `health.state` in a JSON body; None when absent or not JSON."""
    try:
        node: object = json.loads(body)
    except ValueError:
        return None
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


async def run(device: Device, ctx: CheckContext) -> CheckOutcome:
    import httpx  # imported on first use: most boxes never need an HTTP client (memory)

    s = device.http
    assert s is not None
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    verify: bool | ssl.SSLContext = s.verify_tls
    if s.verify_tls and s.ca_file is not None:
        verify = ssl.create_default_context(cafile=s.ca_file)
    target = httpx.URL(s.url).host
    start = time.perf_counter()
    try:
        async with httpx.AsyncClient(verify=verify, timeout=device.timeout,
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
    except (httpx.HTTPError, OSError) as exc:
        url = httpx.URL(s.url)
        port = url.port or (443 if url.scheme == "https" else 80)
        return await failures.explain_silence(KIND, failures.classify(exc, target, port), target,
                                              port, tls=url.scheme == "https",
                                              timeout=device.timeout)
    latency_ms = round((time.perf_counter() - start) * 1000.0, 1)
    metrics["http_status"] = response.status_code
    metrics["http_latency_ms"] = latency_ms
    status = response.status_code
    if status != s.expect_status:
        # 401/403 is a wrong password, 5xx the device's own error, the rest a wrong path
        said = failures.from_cause(http_status(status, target), target)
        found.append(said.fault or fault("device.http_error", status=status))
    elif s.body_contains is not None and s.body_contains not in body.decode("utf-8", "replace"):
        found.append(fault("device.content_mismatch", expected=s.body_contains[:60]))
    elif s.json_field is not None:
        value = json_value(body, s.json_field)
        if value is None or (s.json_equals is not None and str(value) != s.json_equals):
            found.append(fault("device.unhealthy", field=s.json_field,
                               value="?" if value is None else str(value)[:40]))
    if s.slow_ms is not None and latency_ms > s.slow_ms and not found:
        found.append(fault("device.slow", ms=round(latency_ms)))
    if cert and cert.get("notAfter"):
        days = cert_days_left(str(cert["notAfter"]), datetime.fromtimestamp(ctx.clock(), UTC))
        metrics["tls_cert_days_left"] = days
        if days <= s.cert_warn_days:
            found.append(fault("device.cert_expiring", "critical" if days <= 0 else None, days=days))
    return CheckOutcome(KIND, True, metrics, tuple(found))
