"""Software releases for the boxes: the signed manifest of a wheelhouse, its checks, and the signed
cmd/update instruction that tells one box to run a release (pure, no I/O but reading files).

A release is a wheelhouse (scripts/build-wheelhouse.sh) and a manifest naming each of its files
with its size and SHA-256, the platforms and Python it was built for and the oldest config schema
the release reads. The controller signs the manifest with the key that signs configs
(hcc_common/signing.py) but behind its own domain tag, so a release signature can never pass for
a command and a command's for a release. A box installs nothing whose manifest does not verify
against a controller key it trusts, nor any file whose hash differs from the manifest's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from hcc_common.signing import SIG_FIELD, SignatureError, TrustedKeys, sign, verify
from hcc_common.wire import (
    MAX_TS,
    SCHEMA_VERSION,
    TOPIC_ROOT,
    Encoded,
    WireError,
    command_body,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# Bytes before a manifest's canonical JSON: a command's signature never verifies as a release's.
RELEASE_DOMAIN = b"hcc-fleet/v1 release manifest\n"
MANIFEST_FILE = "manifest.json"
PROJECT = "hcc_fleet"  # the wheel of the project itself (its other files are dependencies)
# the config schema this code reads (agent devices.yaml); a release names the oldest it reads
CONFIG_SCHEMA = 1
MAX_FILES = 500
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_MANIFEST_BYTES = 256 * 1024
MAX_UPDATE_BYTES = 16 * 1024
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){0,3}([a-z][a-z0-9]{0,10})?$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ReleaseError(ValueError):
    """A release that must not be made or installed; the text says which part and why."""


@dataclass(frozen=True)
class ReleaseFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True, kw_only=True)
class Manifest:
    version: str
    files: tuple[ReleaseFile, ...]
    # wheel platform tags of the files that are not pure Python (empty: runs anywhere)
    platforms: tuple[str, ...]
    python: str | None  # "3.11" when a file is built for one CPython, None when pure
    min_config_schema: int
    created: float

    def body(self) -> dict[str, object]:
        return {"v": SCHEMA_VERSION, "kind": "release", "version": self.version,
                "files": [{"name": f.name, "size": f.size, "sha256": f.sha256}
                          for f in self.files],
                "platforms": list(self.platforms), "python": self.python,
                "min_config_schema": self.min_config_schema, "created": self.created}

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def valid_version(text: str) -> bool:
    return bool(_VERSION.match(text))


def version_key(text: str) -> tuple[tuple[int, ...], str]:
    """Orders versions: 1.10 after 1.9; a suffix (1.2rc1) before the plain release."""
    m = _VERSION.match(text)
    if m is None:
        raise ReleaseError(f"version {text[:40]!r}: expected digits and dots (e.g. 1.4.2)")
    numbers = text[:len(text) - len(m.group(2) or "")]
    parts = tuple(int(p) for p in numbers.split("."))
    parts = parts + (0,) * (4 - len(parts))
    return parts, m.group(2) or "~"  # "~" sorts after any letter: a final release is newest


def is_older(candidate: str, running: str) -> bool:
    try:
        return version_key(candidate) < version_key(running)
    except ReleaseError:
        return False  # a running "unknown" (a source checkout): anything may replace it


def _wheel_tags(name: str) -> tuple[str, str, str, str, str] | None:
    """(project, version, python tag, abi tag, platform tag) of a wheel file name, else None."""
    if not name.endswith(".whl"):
        return None
    parts = name[:-4].split("-")
    if len(parts) not in (5, 6):
        return None
    return parts[0], parts[1], parts[-3], parts[-2], parts[-1]


def build(wheelhouse: Path, version: str, created: float,
          min_config_schema: int = CONFIG_SCHEMA) -> Manifest:
    """The manifest of a wheelhouse directory. Raises ReleaseError: a bad version, no project
    wheel of exactly that version, a file of another kind, too many or too large files."""
    if not valid_version(version):
        raise ReleaseError(f"--version {version[:40]!r}: expected digits and dots (e.g. 1.4.2)")
    if not wheelhouse.is_dir():
        raise ReleaseError(f"{wheelhouse}: not a directory (build it with "
                           "scripts/build-wheelhouse.sh)")
    files: list[ReleaseFile] = []
    platforms: set[str] = set()
    pythons: set[str] = set()
    project: list[str] = []
    for path in sorted(wheelhouse.iterdir()):
        if path.name == MANIFEST_FILE:
            continue
        if not path.is_file() or not _FILE_NAME.match(path.name):
            raise ReleaseError(f"{path}: not a plain file a wheelhouse holds")
        if not path.name.endswith((".whl", ".tar.gz", ".zip")):
            raise ReleaseError(f"{path}: not a wheel or source archive")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ReleaseError(f"{path}: {size} bytes, more than {MAX_FILE_BYTES}")
        files.append(ReleaseFile(path.name, size, sha256_of(path)))
        tags = _wheel_tags(path.name)
        if tags is not None:
            if tags[0] == PROJECT:
                project.append(tags[1])
            for plat in tags[4].split("."):
                if plat != "any":
                    platforms.add(plat)
            # cp311-abi3 runs on any CPython from 3.11 on: it binds no one version
            for py in tags[2].split(".") if tags[3] != "abi3" else ():
                m = re.match(r"^cp3(\d+)$", py)
                if m:
                    pythons.add(f"3.{m.group(1)}")
    if len(files) > MAX_FILES:
        raise ReleaseError(f"{wheelhouse}: {len(files)} files, more than {MAX_FILES}")
    if project != [version]:
        found = ", ".join(project) or "none"
        raise ReleaseError(f"{wheelhouse}: needs exactly one {PROJECT} wheel of version "
                           f"{version} (found: {found})")
    if len(pythons) > 1:
        raise ReleaseError(f"{wheelhouse}: wheels for several Pythons ({', '.join(sorted(pythons))})")
    return Manifest(version=version, files=tuple(files), platforms=tuple(sorted(platforms)),
                    python=next(iter(pythons), None), min_config_schema=min_config_schema,
                    created=created)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sign_manifest(manifest: Manifest, keys: Sequence[Ed25519PrivateKey]) -> bytes:
    """The manifest file's bytes: its body and the signatures over it (release domain)."""
    return orjson.dumps(sign(manifest.body(), keys, RELEASE_DOMAIN), option=orjson.OPT_INDENT_2)


def verify_manifest(data: bytes, keys: TrustedKeys) -> tuple[Manifest, str]:
    """The manifest and the id of the key that signed it. Raises ReleaseError: unsigned, signed
    by no trusted key, altered, or not a manifest of this schema."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ReleaseError(f"manifest of {len(data)} bytes, more than {MAX_MANIFEST_BYTES}")
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ReleaseError(f"manifest is not JSON: {exc}") from None
    if type(body) is not dict or body.get("kind") != "release" or body.get("v") != SCHEMA_VERSION:
        raise ReleaseError("not a release manifest of this schema version")
    try:
        kid = verify(body, keys, RELEASE_DOMAIN)
    except SignatureError as exc:
        raise ReleaseError(f"release signature refused: {exc}") from None
    return parse_manifest(body), kid


def parse_manifest(body: Mapping[str, object]) -> Manifest:
    """Pure: the typed manifest of a decoded (and verified) body; ReleaseError if malformed."""
    version = body.get("version")
    if type(version) is not str or not valid_version(version):
        raise ReleaseError("manifest: version missing or malformed")
    raw = body.get("files")
    if type(raw) is not list or not raw or len(raw) > MAX_FILES:
        raise ReleaseError(f"manifest: files must be a list of 1 to {MAX_FILES}")
    files: list[ReleaseFile] = []
    for item in raw:
        if type(item) is not dict:
            raise ReleaseError("manifest: each file must be {name, size, sha256}")
        name, size, digest = item.get("name"), item.get("size"), item.get("sha256")
        # a name is a plain file name: a manifest cannot make a box write outside the slot
        if type(name) is not str or not _FILE_NAME.match(name) or ".." in name:
            raise ReleaseError(f"manifest: file name {str(name)[:60]!r} refused")
        if type(size) is not int or not 0 <= size <= MAX_FILE_BYTES:
            raise ReleaseError(f"manifest: {name}: size must be 0..{MAX_FILE_BYTES}")
        if type(digest) is not str or not _SHA256.match(digest):
            raise ReleaseError(f"manifest: {name}: sha256 must be 64 lowercase hex digits")
        files.append(ReleaseFile(name, size, digest))
    if len({f.name for f in files}) != len(files):
        raise ReleaseError("manifest: a file is named twice")
    platforms = body.get("platforms")
    if type(platforms) is not list or not all(type(p) is str and len(p) < 80 for p in platforms):
        raise ReleaseError("manifest: platforms must be a list of wheel platform tags")
    python = body.get("python")
    if python is not None and (type(python) is not str or not re.match(r"^3\.\d{1,2}$", python)):
        raise ReleaseError("manifest: python must be like 3.11, or null")
    schema = body.get("min_config_schema")
    if type(schema) is not int or schema < 1:
        raise ReleaseError("manifest: min_config_schema must be a whole number >= 1")
    created = body.get("created")
    if type(created) not in (int, float) or not 0 <= float(created) <= MAX_TS:  # type: ignore[arg-type]
        raise ReleaseError("manifest: created must be a time")
    return Manifest(version=version, files=tuple(files), platforms=tuple(platforms),
                    python=python, min_config_schema=schema,
                    created=float(created))  # type: ignore[arg-type]


def incompatible(manifest: Manifest, machine: str, python: str,
                 config_schema: int = CONFIG_SCHEMA) -> str | None:
    """Pure: why this box (CPU `machine` as platform.machine() says, `python` as "3.11") cannot
    run the release, or None."""
    arch = {"arm64": "aarch64", "amd64": "x86_64"}.get(machine.lower(), machine.lower())
    foreign = [p for p in manifest.platforms if not p.endswith(arch)]
    if foreign:
        return (f"release {manifest.version} is built for {', '.join(foreign)}, "
                f"this box is {arch}")
    if manifest.python is not None and manifest.python != python:
        return (f"release {manifest.version} is built for Python {manifest.python}, "
                f"this box has {python}")
    if manifest.min_config_schema > config_schema:
        return (f"release {manifest.version} needs config schema {manifest.min_config_schema}, "
                f"this box's is {config_schema}")
    return None


def file_problems(manifest: Manifest, folder: Path) -> list[str]:
    """Every file of the manifest missing from `folder`, of another size or hash (empty: all
    good). Files the manifest does not name are not looked at (and never installed)."""
    problems: list[str] = []
    for f in manifest.files:
        path = folder / f.name
        try:
            size = path.stat().st_size
        except OSError:
            problems.append(f"{f.name}: missing")
            continue
        if size != f.size:
            problems.append(f"{f.name}: {size} bytes, the manifest says {f.size} (truncated?)")
        elif sha256_of(path) != f.sha256:
            problems.append(f"{f.name}: SHA-256 differs from the manifest (altered)")
    return problems


# -- cmd/update: controller -> one box ---------------------------------------------------------
def update_topic(center: str, agent: str) -> str:
    """Controller -> one box, retained: the release it should run."""
    return f"{TOPIC_ROOT}/{center}/{agent}/cmd/update"


@dataclass(frozen=True, kw_only=True)
class UpdateCommand:
    """Run release `version` (signed, for this box only, `issued` only growing for a box: an
    older instruction never replaces a newer one). `allow_downgrade`: the operator chose an
    older version on purpose (a rollback of the fleet)."""

    center: str
    agent: str
    version: str
    rollout: int
    issued: float
    allow_downgrade: bool = False
    signed: Mapping[str, object] | None = None

    def body(self) -> dict[str, object]:
        return {"v": SCHEMA_VERSION, "kind": "update", "center": self.center,
                "agent": self.agent, "version": self.version, "rollout": self.rollout,
                "issued": self.issued, "allow_downgrade": self.allow_downgrade}


def encode_update(cmd: UpdateCommand, keys: Sequence[Ed25519PrivateKey]) -> Encoded:
    if not keys:
        raise ValueError("an update instruction is never sent unsigned")
    return Encoded(update_topic(cmd.center, cmd.agent),
                   orjson.dumps(sign(cmd.body(), keys)), retain=True)


def decode_update(topic: str, payload: bytes) -> UpdateCommand:
    """Raises WireError for anything off-contract (the signature is checked by the box)."""
    parts = topic.split("/")
    if len(parts) != 6 or parts[:2] != ["hcc", "v1"] or parts[4:] != ["cmd", "update"]:
        raise WireError(f"not an update topic: {topic[:120]!r}")
    body = command_body(payload, "update", MAX_UPDATE_BYTES, (parts[2], parts[3]))
    center, agent = parts[2], parts[3]  # the body names the same box (command_body)
    version, rollout, issued = body.get("version"), body.get("rollout"), body.get("issued")
    if type(version) is not str or not valid_version(version):
        raise WireError("update: version malformed")
    if type(rollout) is not int or rollout < 0:
        raise WireError("update: rollout must be a whole number")
    if type(issued) not in (int, float) or not 0 < float(issued) <= MAX_TS:  # type: ignore[arg-type]
        raise WireError("update: issued must be a time")
    downgrade = body.get("allow_downgrade", False)
    if type(downgrade) is not bool:
        raise WireError("update: allow_downgrade must be true or false")
    if SIG_FIELD not in body:
        raise WireError("update: unsigned")
    return UpdateCommand(center=center, agent=agent, version=version, rollout=rollout,
                         issued=float(issued), allow_downgrade=downgrade,  # type: ignore[arg-type]
                         signed=body)


def update_refused(cmd: UpdateCommand, keys: TrustedKeys, newest: float | None) -> str | None:
    """Pure: why the box must not act on this instruction (signature, replay), or None."""
    if cmd.signed is None:
        return "unsigned"
    try:
        verify(cmd.signed, keys)
    except SignatureError as exc:
        return str(exc)
    if newest is not None and cmd.issued < newest:
        return f"older than the instruction already taken (issued {cmd.issued:.3f}): a replay"
    return None
