"""The enrollment contract (POST /api/v1/enroll): what a box sends, and what the controller answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

ENROLL_PATH = "/api/v1/enroll"


@dataclass(frozen=True, kw_only=True)
class Credentials:
    """A box's own broker user, its password, the broker and its CA: what a code buys. And the
    controller's public key(s), PEM: the box takes a pushed config only when one of them signed
    it (empty from a controller older than signing: the box then refuses pushed configs)."""

    center: str
    agent: str
    broker_url: str
    username: str
    password: str
    ca_pem: str
    controller_keys: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @staticmethod
    def from_json(body: Mapping[str, object]) -> Credentials:
        fields = ("center", "agent", "broker_url", "username", "password", "ca_pem")
        missing = [f for f in fields if not isinstance(body.get(f), str)]
        if missing:
            raise ValueError(f"the controller's answer lacks {', '.join(missing)}")
        keys = body.get("controller_keys", "")
        if not isinstance(keys, str):
            raise ValueError("the controller's answer has controller_keys that are no text")
        center, agent, url, user, password, ca = (str(body[f]) for f in fields)
        return Credentials(center=center, agent=agent, broker_url=url, username=user,
                           password=password, ca_pem=ca, controller_keys=keys)
