"""Optional sign-in against LDAP or Active Directory (ldap3): a bind as the person proves the
password; the directory groups they are a member of map to a role and centers (controller.yaml
auth.ldap.groups). The mapping is pure; the bind is the thin I/O shell, with timeouts."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controller import authz

log = logging.getLogger("hcc.ldap")


@dataclass(frozen=True, kw_only=True)
class LdapGroup:
    role: str
    centers: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # controller.yaml groups: of centers


@dataclass(frozen=True, kw_only=True)
class LdapSettings:
    url: str                      # ldap://host:389 or ldaps://host:636
    user_dn: str                  # "uid={name},ou=people,dc=city,dc=vn" ({name} escaped)
    groups_base: str              # where groups with member=<the user's DN> are searched
    timeout_s: float = 5.0
    ca_file: str | None = None    # ldaps: the directory's CA
    groups: Mapping[str, LdapGroup] = field(default_factory=dict)  # by the group's cn


@dataclass(frozen=True)
class Mapped:
    role: str
    centers: tuple[str, ...]
    groups: tuple[str, ...]


class LdapError(RuntimeError):
    """The directory could not be asked (down, slow, refused the connection)."""


def mapped(member_of: Iterable[str], settings: LdapSettings) -> Mapped | None:
    """The role (the highest of the mapped groups) and scope (their union) of a person in these
    directory groups; None when no group maps: such a person may not sign in."""
    found = [settings.groups[g] for g in member_of if g in settings.groups]
    if not found:
        return None
    role = max((g.role for g in found), key=lambda r: authz.RANK[r])
    return Mapped(role, tuple(sorted({c for g in found for c in g.centers})),
                  tuple(sorted({x for g in found for x in g.groups})))


def authenticate(settings: LdapSettings, name: str, password: str) -> Mapped | None:
    """Bind as `name` with `password`; their mapped role and scope, or None (wrong password, or
    in no mapped group). Raises LdapError when the directory cannot be asked."""
    import ldap3
    from ldap3.core.exceptions import LDAPBindError, LDAPException
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import escape_rdn

    if not password:  # an empty password is an anonymous bind, which "succeeds"
        return None
    dn = settings.user_dn.replace("{name}", escape_rdn(name))
    tls = None
    if settings.url.startswith("ldaps://"):
        import ssl

        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file)
    server = ldap3.Server(settings.url, connect_timeout=settings.timeout_s, tls=tls,
                          get_info=ldap3.NONE)
    try:
        # receive_timeout: whole seconds (ldap3 packs it into SO_RCVTIMEO)
        conn = ldap3.Connection(server, dn, password,
                                receive_timeout=max(1, round(settings.timeout_s)),
                                raise_exceptions=True, read_only=True)
        try:
            conn.bind()
        except LDAPBindError:
            return None
        try:
            conn.search(settings.groups_base, f"(member={escape_filter_chars(dn)})",
                        attributes=["cn"], size_limit=1000, time_limit=int(settings.timeout_s))
            cns = [str(v) for e in conn.entries for v in e.cn.values]
        finally:
            conn.unbind()
    except LDAPException as exc:
        if "invalidCredentials" in str(exc):
            return None
        log.warning("the directory could not be asked", extra={"error": str(exc)[:300]})
        raise LdapError(f"the directory at {settings.url} could not be asked: "
                        f"{exc.__class__.__name__}") from None
    return mapped(cns, settings)
