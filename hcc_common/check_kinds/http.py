"""devices.yaml section `http`: the URL (or path, port and scheme on the device's host), the
status and text or JSON field that mean healthy, TLS checks and what is slow."""

from __future__ import annotations

from dataclasses import dataclass

from hcc_common.check_kinds.base import KindSchema, SectionInput
from hcc_common.yamlconf import Node


@dataclass(frozen=True)
class HttpSettings:
    url: str                 # full URL; built from host when only a path is given
    expect_status: int = 200
    body_contains: str | None = None
    verify_tls: bool = True
    cert_warn_days: int = 14
    ca_file: str | None = None       # the CA that signed the device's certificate (its own)
    slow_ms: float | None = None     # slower than this: device.slow
    json_field: str | None = None    # a health endpoint's JSON field ("status", "health.state")
    json_equals: str | None = None   # … and what it says when healthy ("ok")


KEYS = ("url", "path", "port", "scheme", "expect_status", "body_contains", "verify_tls",
        "cert_warn_days", "ca_file", "slow", "json_field", "json_equals")


def has_url(node: Node) -> bool:
    return node.kind() == "mapping" and node.as_mapping(KEYS).get("url") is not None


def needs_host(node: Node) -> bool:
    """Polls the device's host unless the section gives a whole URL."""
    return not has_url(node)


def parse(node: Node, given: SectionInput) -> HttpSettings:
    m = node.as_mapping(KEYS)
    url_node = m.get("url")
    if url_node is not None:
        url = url_node.as_str()
        if not url.startswith(("http://", "https://")):
            raise url_node.error(f"URL must start with http:// or https://, got {url!r}")
    else:
        scheme = m.get("scheme")
        sch = scheme.as_choice(("http", "https")) if scheme is not None else "http"
        port = m.get("port")
        path = m.get("path")
        p = path.as_str() if path is not None else "/"
        if not p.startswith("/"):
            raise m.require("path").error("path must start with /")
        url = f"{sch}://{given.host}" \
              f"{':' + str(port.as_int(1, 65535)) if port is not None else ''}{p}"
    status = m.get("expect_status")
    body = m.get("body_contains")
    verify = m.get("verify_tls")
    warn = m.get("cert_warn_days")
    ca, slow, jf, je = m.get("ca_file"), m.get("slow"), m.get("json_field"), m.get("json_equals")
    return HttpSettings(
        url, status.as_int(100, 599) if status is not None else 200,
        body.as_str() if body is not None else None,
        verify.as_bool() if verify is not None else True,
        warn.as_int(0, 3650) if warn is not None else 14,
        ca_file=ca.as_str() if ca is not None else None,
        slow_ms=slow.as_duration(minimum=0.001) * 1000.0 if slow is not None else None,
        json_field=jf.as_str() if jf is not None else None,
        json_equals=je.as_str() if je is not None else None,
    )


SCHEMA = KindSchema(kind="http", settings=HttpSettings, parse=parse, needs_host=needs_host)
