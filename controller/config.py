"""controller.yaml, parsed once into frozen typed objects; every field has an embedded default."""

from __future__ import annotations

import os
from collections.abc import Mapping as TMapping
from dataclasses import dataclass, field
from pathlib import Path

from controller.state import Rules
from hcc_common.mqtt_io import BrokerSettings
from hcc_common.yamlconf import ConfigError, load_yaml

DEFAULT_BROKER = "mqtt://127.0.0.1:1883"


@dataclass(frozen=True)
class ControllerConfig:
    broker: BrokerSettings
    db: Path
    rules: Rules = field(default_factory=Rules)
    client_id: str = "hcc-controller"
    path: str | None = None


def default_db(env: TMapping[str, str]) -> Path:
    state = env.get("STATE_DIRECTORY")
    if state:
        return Path(state.split(":")[0]) / "hcc.db"
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME", "/tmp")) / ".local" / "state")
    return Path(base) / "hcc-controller" / "hcc.db"


def broker_from_url(url: str, where: str = "--broker") -> BrokerSettings:
    from agent.config import broker_from_url as parse

    try:
        host, port, tls = parse(url)
    except ConfigError as exc:
        raise ConfigError(where, 0, "url", exc.reason) from None
    return BrokerSettings(host, port, tls)


def load(path: str | Path | None, env: TMapping[str, str] | None = None) -> ControllerConfig:
    environ = os.environ if env is None else env
    if path is None:
        return ControllerConfig(broker_from_url(DEFAULT_BROKER), default_db(environ))
    root = load_yaml(path).as_mapping(("mqtt", "db", "rules", "client_id"))
    broker = broker_from_url(DEFAULT_BROKER)
    if (m := root.get("mqtt")) is not None:
        from agent.config import parse_mqtt

        s = parse_mqtt(m)
        password = None
        if s.password_file is not None:
            try:
                password = Path(s.password_file).read_text().strip()
            except OSError as exc:
                pf = m.as_mapping(("url", "keepalive", "username", "password_file", "ca_file"))
                raise pf.require("password_file").error(
                    f"cannot read password file: {exc.strerror}") from None
        broker = BrokerSettings(s.host, s.port, s.tls, s.keepalive, s.username, password,
                                s.ca_file)
    db = default_db(environ)
    if (n := root.get("db")) is not None:
        db = Path(n.as_str()).expanduser()
    rules = Rules()
    if (n := root.get("rules")) is not None:
        r = n.as_mapping(("unreachable_after", "heartbeat_misses", "clock_skew"))
        rules = Rules(
            unreachable_after=(r.get("unreachable_after").as_int(1, 1000)  # type: ignore[union-attr]
                               if r.get("unreachable_after") is not None else 3),
            heartbeat_misses=(r.get("heartbeat_misses").as_float()  # type: ignore[union-attr]
                              if r.get("heartbeat_misses") is not None else 3.0),
            clock_skew_s=(r.get("clock_skew").as_duration()  # type: ignore[union-attr]
                          if r.get("clock_skew") is not None else 120.0),
        )
    cid = root.get("client_id")
    return ControllerConfig(broker, db, rules, cid.as_str() if cid is not None else
                            "hcc-controller", str(path))
