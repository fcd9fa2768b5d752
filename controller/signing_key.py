"""The controller's signing key on disk: made once (0600, never overwritten), read to sign every
command to a box, and its public half handed to boxes at enrollment."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from controller.config import ControllerConfig
from hcc_common.atomic_file import create_once
from hcc_common.signing import KeyFormatError, PublicKey, generate, load_private, private_pem, public_of


class SigningKeyError(Exception):
    """A key file that cannot be read or made: the text says which and why."""


def load_or_create(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key in `path`, made first if there is none (True: just made). Made whole or not at
    all (atomic_file.create_once, 0600), so threads or processes starting at once all end up
    with the one key, never a half-written file."""
    try:
        return _read(path), False
    except FileNotFoundError:
        pass
    key = generate()
    try:
        made = create_once(path, private_pem(key), 0o600)
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot create the signing key: {exc.strerror}") from None
    if not made:
        return _read(path), False  # made meanwhile by another thread or process
    return key, True


def _read(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise SigningKeyError(f"{path}: cannot read the signing key: {exc.strerror}") from None
    if os.name == "posix":
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                raise SigningKeyError(f"{path}: the signing key is readable by others "
                                      f"(chmod 600 {path})")
    try:
        return load_private(data)
    except KeyFormatError as exc:
        raise SigningKeyError(f"{path}: {exc}") from None


def signing_keys(config: ControllerConfig) -> list[Ed25519PrivateKey]:
    """The keys every command is signed with: the current one (made if missing), then the old
    ones of a rotation (these must exist)."""
    keys = [load_or_create(config.signing_key)[0]]
    for path in config.signing.also_sign_with:
        try:
            keys.append(_read(path))
        except FileNotFoundError:
            raise SigningKeyError(f"{path}: signing.also_sign_with names a missing key") from None
    return keys


def public_keys(config: ControllerConfig) -> list[PublicKey]:
    """What a box must trust: the public halves of the keys commands are signed with."""
    return [public_of(k) for k in signing_keys(config)]


def public_pem(config: ControllerConfig) -> str:
    """The file `hcc-agent enroll` writes beside the box's password (controller.pub)."""
    return "".join(f"# {k.key_id}\n{k.pem()}" for k in public_keys(config))
