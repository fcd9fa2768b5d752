"""What the network probes' sections (`wifi_probe`, `wan`) share: the names to resolve, the
phones' connectivity check and the download to time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hcc_common.check_kinds.base import SectionInput
from hcc_common.secret_values import secret
from hcc_common.yamlconf import Mapping


@dataclass(frozen=True, kw_only=True)
class ProbeSettings:
    """The client-view probe (`wifi_probe`) and the wired WAN check (`wan`): what to resolve,
    the phones' connectivity check, and the download to time."""

    dns_names: tuple[str, ...] = ("dichvucong.gov.vn", "google.com")
    check_url: str = "http://connectivitycheck.gstatic.com/generate_204"
    speed_url: str | None = None          # the controller's /api/v1/speedtest, or any URL
    speed_token: str | None = field(default=None, repr=False)
    speed_bytes: int = 2_000_000


KEYS = ("dns_names", "check_url", "speed_url", "speed_token", "speed_token_file",
        "speed_token_env", "speed_bytes")


def common(m: Mapping, given: SectionInput) -> dict[str, Any]:
    """The shared keys' values, by field name (the kinds' own keys are added to them)."""
    out: dict[str, Any] = {"speed_token": secret(m, "speed_token", given.env)}
    if (n := m.get("dns_names")) is not None:
        out["dns_names"] = tuple(x.as_str() for x in n.as_list())
    for key in ("check_url", "speed_url"):
        if (n := m.get(key)) is not None:
            url = n.as_str()
            if not url.startswith(("http://", "https://")):
                raise n.error("expected an http:// or https:// URL")
            out[key] = url
    if (n := m.get("speed_bytes")) is not None:
        out["speed_bytes"] = n.as_int(10_000, 50_000_000)
    return out
