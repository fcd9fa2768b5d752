"""Signed controller-to-box commands: canonical bytes, Ed25519 sign and verify, key ids, trusted keys.

A box runs what a pushed config tells it to (checks, programs, broker settings), so a command
is only taken when the controller's key signed it. Whoever holds a box's broker password can
publish on its topics (an ACL mistake, a stolen box), but cannot sign.

The signature covers every field of the message but `sig` itself, in one canonical form, behind
a domain tag: the box and the target center/agent named in the message are signed, so a command
for box A does not verify as one for box B, and the `issued` value (see wire.py) is signed, so
an old command cannot pass for a new one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

ALGORITHM = "ed25519"
SIG_FIELD = "sig"
# Bytes before the canonical JSON: a signature made for anything else never verifies here.
DOMAIN = b"hcc-fleet/v1 controller command\n"
# A message may carry a few signatures (during a key rotation: the new key and the old one).
MAX_SIGNATURES = 4
_INLINE = re.compile(r"^ed25519:([A-Za-z0-9+/]{43}=)$")
_PEM = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


class SignatureError(ValueError):
    """A command that is unsigned, signed by a key this box does not trust, or altered."""


class KeyFormatError(ValueError):
    """Text that is not a public or private key of the kind used here."""


@dataclass(frozen=True)
class PublicKey:
    """A controller public key: its 32 raw bytes and the id a box and a log show for it."""

    raw: bytes

    @property
    def key_id(self) -> str:
        return key_id(self.raw)

    @property
    def inline(self) -> str:
        """The one-line form a devices.yaml may hold: ed25519:<base64 of the 32 bytes>."""
        return f"{ALGORITHM}:{base64.b64encode(self.raw).decode()}"

    def pem(self) -> str:
        key = Ed25519PublicKey.from_public_bytes(self.raw)
        return key.public_bytes(serialization.Encoding.PEM,
                                serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@dataclass(frozen=True)
class TrustedKeys:
    """The keys a box takes commands from (empty: it takes none)."""

    keys: tuple[PublicKey, ...] = ()

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(k.key_id for k in self.keys)

    def get(self, kid: str) -> PublicKey | None:
        return next((k for k in self.keys if k.key_id == kid), None)

    def __bool__(self) -> bool:
        return bool(self.keys)


def key_id(raw: bytes) -> str:
    """ed25519:<first 16 hex digits of the SHA-256 of the raw key>: short enough to read out."""
    return f"{ALGORITHM}:{hashlib.sha256(raw).hexdigest()[:16]}"


def trusted(keys: Iterable[PublicKey]) -> TrustedKeys:
    """A key set without repeats, in the order given."""
    seen: dict[bytes, PublicKey] = {}
    for k in keys:
        seen.setdefault(k.raw, k)
    return TrustedKeys(tuple(seen.values()))


# -- keys as text -------------------------------------------------------------------------------
def parse_public_keys(text: str) -> tuple[PublicKey, ...]:
    """Every key in a text: PEM blocks (`-----BEGIN PUBLIC KEY-----`) and/or one-line
    `ed25519:<base64>` forms, one a line (# starts a comment). Raises KeyFormatError."""
    found: list[PublicKey] = []
    for block in _PEM.findall(text):
        found.append(_from_pem(block))
    rest = _PEM.sub("", text)
    for number, line in enumerate(rest.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if line:
            found.append(parse_inline(line, f"line {number}"))
    if not found:
        raise KeyFormatError("no public key found (expected a PEM block or ed25519:<base64>)")
    return tuple(found)


def parse_inline(text: str, where: str = "key") -> PublicKey:
    m = _INLINE.match(text.strip())
    if m is None:
        raise KeyFormatError(f"{where}: expected ed25519:<44 base64 characters>, "
                             f"got {text.strip()[:20]!r}")
    try:
        return PublicKey(base64.b64decode(m.group(1), validate=True))
    except binascii.Error:
        raise KeyFormatError(f"{where}: not base64") from None


def _from_pem(block: str) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(block.encode())
    except ValueError as exc:
        raise KeyFormatError(f"unreadable PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFormatError(f"not an Ed25519 key ({type(key).__name__})")
    return public_of_key(key)


def public_of_key(key: Ed25519PublicKey) -> PublicKey:
    return PublicKey(key.public_bytes(serialization.Encoding.Raw,
                                      serialization.PublicFormat.Raw))


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"unreadable private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFormatError(f"not an Ed25519 private key ({type(key).__name__})")
    return key


def public_of(key: Ed25519PrivateKey) -> PublicKey:
    return public_of_key(key.public_key())


# -- signing ------------------------------------------------------------------------------------
def canonical(body: Mapping[str, object], domain: bytes = DOMAIN) -> bytes:
    """The bytes a signature covers: the domain tag, then the message without `sig` as JSON
    with sorted keys and no spaces. Both sides build it from the decoded values (a float is
    written as Python's shortest exact form, the same on both), never from the bytes sent."""
    unsigned = {k: v for k, v in body.items() if k != SIG_FIELD}
    try:
        text = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        # (a sender may nest lists as deep as the JSON decoder allows: refused, not a crash)
        raise SignatureError(f"message cannot be put in canonical form: {exc}") from None
    return domain + text.encode("utf-8", "strict")


def sign(body: Mapping[str, object], keys: Sequence[Ed25519PrivateKey],
         domain: bytes = DOMAIN) -> dict[str, object]:
    """The message with a `sig` list: one {key, ed25519} entry per signing key. `domain`:
    what kind of document this is (a command; a release manifest, hcc_common/release.py)."""
    if not keys:
        raise ValueError("no signing key")
    data = canonical(body, domain)
    sigs = [{"key": public_of(k).key_id,
             ALGORITHM: base64.b64encode(k.sign(data)).decode()} for k in keys[:MAX_SIGNATURES]]
    return {**{k: v for k, v in body.items() if k != SIG_FIELD}, SIG_FIELD: sigs}


def verify(body: Mapping[str, object], keys: TrustedKeys, domain: bytes = DOMAIN) -> str:
    """The id of the trusted key whose signature holds. Raises SignatureError saying why not:
    no key here, unsigned, signed only by keys this box does not trust, or altered."""
    if not keys:
        raise SignatureError("this box holds no controller key, so it takes no command")
    sigs = body.get(SIG_FIELD)
    if sigs is None:
        raise SignatureError("unsigned")
    if type(sigs) is not list or not sigs or len(sigs) > MAX_SIGNATURES:
        raise SignatureError(f"sig must be a list of 1 to {MAX_SIGNATURES} signatures")
    data = canonical(body, domain)
    unknown: list[str] = []
    for entry in sigs:
        if type(entry) is not dict or type(entry.get("key")) is not str \
                or type(entry.get(ALGORITHM)) is not str:
            raise SignatureError("each signature must be {key, ed25519}")
        kid = str(entry["key"])[:40]
        key = keys.get(kid)
        if key is None:
            unknown.append(kid)
            continue
        try:
            value = base64.b64decode(str(entry[ALGORITHM]), validate=True)
            Ed25519PublicKey.from_public_bytes(key.raw).verify(value, data)
        except (binascii.Error, InvalidSignature, ValueError):
            raise SignatureError(f"bad signature for key {kid} (altered, or not for this "
                                 "box)") from None
        return kid
    raise SignatureError(f"signed by {', '.join(unknown)}, which this box does not trust "
                         f"(it trusts {', '.join(keys.ids)})")
