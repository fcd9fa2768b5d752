"""controller.yaml's `auth:` and `groups:` sections: sessions, lockout, audit retention, the
public status view, and named groups of centers that accounts are scoped to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.ldap_auth import LdapGroup, LdapSettings
from hcc_common import wire
from hcc_common.yamlconf import ANY_KEYS, Node
from hcc_common.yamlfields import Key, build, duration, fields_of, flag, key_names, text, whole


@dataclass(frozen=True, kw_only=True)
class AuthSettings:
    session_idle_s: float = 30 * 60.0        # signed out after this long without a request
    session_max_s: float = 12 * 3600.0       # and after this long whatever happens (a shift)
    lockout_after: int = 5                   # wrong passwords in a row lock the account …
    lockout_s: float = 15 * 60.0             # … for this long
    peer_attempts_per_min: int = 10          # wrong sign-ins per client address and minute
    token_max_s: float = 366 * 86400.0       # an API token lives at most a year
    audit_retention_s: float = 400 * 86400.0  # audit rows older than this may be pruned
    public_status: bool = False              # /status: centers up or down, to anyone
    # cookie Secure flag: None follows the server (HTTPS with tls_cert, or an https public_url)
    cookie_secure: bool | None = None
    groups: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ldap: LdapSettings | None = None         # sign-in against LDAP / Active Directory


_AUTH = (
    Key("session_idle", duration(60.0), "session_idle_s"),
    Key("session_max", duration(60.0), "session_max_s"),
    Key("lockout_after", whole(1, 1000)),
    Key("lockout_for", duration(1.0), "lockout_s"),
    Key("sign_in_attempts_per_minute", whole(1, 1000), "peer_attempts_per_min"),
    Key("token_max", duration(60.0), "token_max_s"),
    Key("audit_retention", duration(86400.0), "audit_retention_s"),
    Key("public_status", flag),
    Key("cookie_secure", flag),
)


def parse(auth: Node | None, groups: Node | None) -> AuthSettings:
    found: dict[str, frozenset[str]] = {}
    if groups is not None:
        gm = groups.as_mapping(ANY_KEYS)
        for name in gm:
            if not wire.valid_id(name):
                raise gm.require(name).error(f"{name!r} is not a valid group name")
            found[name] = frozenset(_center_id(n) for n in gm.require(name).as_list())
    if auth is None:
        return AuthSettings(groups=found)
    m = auth.as_mapping(key_names(_AUTH, "ldap"))
    given = fields_of(m, _AUTH)
    if (ln := m.get("ldap")) is not None:
        given["ldap"] = _ldap(ln, found)
    return build(AuthSettings, given, groups=found)


def _ldap(node: Node | None, declared: Mapping[str, frozenset[str]]) -> LdapSettings | None:
    from controller import authz

    if node is None:
        return None
    m = node.as_mapping(("url", "user_dn", "groups_base", "timeout", "ca_file", "groups"))
    url = m.require("url")
    if not url.as_str().startswith(("ldap://", "ldaps://")):
        raise url.error("an ldap:// or ldaps:// URL")
    user_dn = m.require("user_dn")
    if "{name}" not in user_dn.as_str():
        raise user_dn.error("the DN of a person, with {name} where their name goes")
    groups: dict[str, LdapGroup] = {}
    if (gn := m.get("groups")) is not None:
        gm = gn.as_mapping(ANY_KEYS)
        for cn in gm:
            g = gm.require(cn).as_mapping(("role", "centers", "groups"))
            role = g.require("role")
            if role.as_str() not in authz.RANK:
                raise role.error(f"role must be one of {', '.join(authz.ROLES)}")
            centers = tuple(_center_id(c) for c in g.require("centers").as_list()) \
                if g.get("centers") is not None else ()
            of: list[str] = []
            for x in (g.require("groups").as_list() if g.get("groups") is not None else []):
                if x.as_str() not in declared:
                    raise x.error(f"no group {x.as_str()!r} under groups:")
                of.append(x.as_str())
            groups[cn] = LdapGroup(role=role.as_str(), centers=centers, groups=tuple(of))
    return build(LdapSettings, fields_of(m, _LDAP), url=url.as_str(), user_dn=user_dn.as_str(),
                 groups_base=m.require("groups_base").as_str(), groups=groups)


_LDAP = (
    Key("timeout", duration(0.5), "timeout_s"),
    Key("ca_file", text),
)


def _center_id(node: Node) -> str:
    text = node.as_str()
    if not wire.valid_id(text):
        raise node.error(f"{text!r} is not a valid center id")
    return text
