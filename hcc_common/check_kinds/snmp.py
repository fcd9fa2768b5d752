"""devices.yaml section `snmp`: port, version, community or SNMPv3 user and keys, retries."""

from __future__ import annotations

from dataclasses import dataclass, field

from hcc_common.check_kinds.base import KindSchema, SectionInput, always
from hcc_common.secret_values import secret
from hcc_common.yamlconf import Node

AUTH_PROTOCOLS = ("none", "md5", "sha", "sha224", "sha256", "sha384", "sha512")
PRIV_PROTOCOLS = ("none", "des", "aes", "aes192", "aes256")


@dataclass(frozen=True)
class SnmpV3:
    user: str
    auth_protocol: str = "none"
    auth_key: str | None = field(default=None, repr=False)
    priv_protocol: str = "none"
    priv_key: str | None = field(default=None, repr=False)
    context: str = ""

    @property
    def level(self) -> str:
        if self.auth_protocol == "none":
            return "noAuthNoPriv"
        return "authNoPriv" if self.priv_protocol == "none" else "authPriv"


@dataclass(frozen=True)
class SnmpSettings:
    port: int
    version: str
    community: str = field(repr=False)
    retries: int
    v3: SnmpV3 | None = None


def secret_keys(key: str) -> tuple[str, str, str]:
    return (key, f"{key}_file", f"{key}_env")


KEYS = ("port", "version", "retries", "user", "auth", "priv", "context",
        *secret_keys("community"), *secret_keys("auth_key"), *secret_keys("priv_key"))


def parse(node: Node, given: SectionInput) -> SnmpSettings:
    env = given.env
    m = node.as_mapping(KEYS)
    port = m.get("port")
    version_node = m.get("version")
    version = version_node.as_choice(("1", "2c", "3")) if version_node is not None else "2c"
    retries = m.get("retries")
    v3 = None
    if version == "3":
        auth_node, priv_node, ctx_node = m.get("auth"), m.get("priv"), m.get("context")
        auth = auth_node.as_choice(AUTH_PROTOCOLS) if auth_node is not None else "none"
        priv = priv_node.as_choice(PRIV_PROTOCOLS) if priv_node is not None else "none"
        if auth == "none" and priv != "none":
            raise m.require("priv").error("privacy (priv) needs authentication (auth) too")
        auth_key = secret(m, "auth_key", env) if auth != "none" else None
        priv_key = secret(m, "priv_key", env) if priv != "none" else None
        for proto, key, name in ((auth, auth_key, "auth_key"), (priv, priv_key, "priv_key")):
            if proto != "none" and (key is None or len(key) < 8):
                raise m.node.error(f"snmp v3 with {name.split('_')[0]}: {proto} needs "
                                   f"{name} (or {name}_file / {name}_env) of 8+ characters")
        v3 = SnmpV3(m.require("user").as_str(), auth, auth_key, priv, priv_key,
                    ctx_node.as_str() if ctx_node is not None else "")
    return SnmpSettings(
        port=port.as_int(1, 65535) if port is not None else 161,
        version=version,
        community=secret(m, "community", env, "public") or "public",
        retries=retries.as_int(0, 5) if retries is not None else 1,
        v3=v3,
    )


SCHEMA = KindSchema(kind="snmp", settings=SnmpSettings, parse=parse, needs_host=always)
