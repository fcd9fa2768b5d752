"""The enrollment contract (POST /api/v1/enroll): what a box sends, and what the controller answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

ENROLL_PATH = "/api/v1/enroll"


@dataclass(frozen=True)
class Credentials:
    """A box's own broker user, its password, the broker and its CA: what a code buys."""

    center: str
    agent: str
    broker_url: str
    username: str
    password: str
    ca_pem: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)

    @staticmethod
    def from_json(body: Mapping[str, object]) -> Credentials:
        fields = ("center", "agent", "broker_url", "username", "password", "ca_pem")
        missing = [f for f in fields if not isinstance(body.get(f), str)]
        if missing:
            raise ValueError(f"the controller's answer lacks {', '.join(missing)}")
        return Credentials(*(str(body[f]) for f in fields))
