"""The controller's HTTP routes for releases: the files of a release served to enrolled boxes
(authenticated with their broker credentials, resumable with HTTP Range), and the rollouts as
the desk reads them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from controller import rollout as rl
from controller.config import ControllerConfig
from controller.rollout_service import Releases, release_dir
from controller.store import Store
from hcc_common.release import MANIFEST_FILE
from hcc_common.wire import valid_id

RELEASE_FILES_PATH = "/api/v1/releases/{version}/files/{name}"


def passwd_matches(line_hash: str, password: str) -> bool:
    """Pure: whether `password` is the one of a mosquitto_passwd entry ($7$: PBKDF2-SHA512,
    the format mosquitto 2 writes); anything else never matches."""
    parts = line_hash.split("$")
    if len(parts) != 5 or parts[1] != "7" or not parts[2].isdigit():
        return False
    iterations = int(parts[2])
    if not 1 <= iterations <= 1_000_000:
        return False
    try:
        salt, want = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4],
                                                                                  validate=True)
    except binascii.Error:
        return False
    got = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return hmac.compare_digest(got, want)


class BoxAuth:
    """Boxes as the broker knows them: user agent@center and its password (the broker's
    password file, which enrollment writes). A box stolen with its password can fetch a
    release, which is signed and public anyway; it can make no box install anything."""

    def __init__(self, passwd: Path | None) -> None:
        self.passwd = passwd
        self._cache: tuple[float, dict[str, str]] = (-1.0, {})

    def _users(self) -> dict[str, str]:
        if self.passwd is None:
            return {}
        try:
            mtime = self.passwd.stat().st_mtime
        except OSError:
            return {}
        if mtime != self._cache[0]:
            users = {}
            for line in self.passwd.read_text().splitlines():
                user, sep, hashed = line.partition(":")
                if sep:
                    users[user] = hashed
            self._cache = (mtime, users)
        return self._cache[1]

    def box(self, authorization: str | None) -> tuple[str, str] | None:
        if authorization is None or not authorization.lower().startswith("basic "):
            return None
        try:
            user, _sep, password = base64.b64decode(authorization[6:].strip(),
                                                    validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        agent, at, center = user.partition("@")
        if not at or not valid_id(agent) or not valid_id(center):
            return None
        hashed = self._users().get(user)
        if hashed is None or not passwd_matches(hashed, password):
            return None
        return center, agent


def release_router(config: ControllerConfig, store: Callable[[], Store],
                   reader: Callable[..., object]) -> APIRouter:
    router = APIRouter()
    auth = BoxAuth(config.enroll.broker_dir / "passwd" if config.enroll is not None else None)
    folder = release_dir(config)

    def releases() -> Releases:
        return Releases(store().db, folder)

    @router.get(RELEASE_FILES_PATH, summary="A file of a release, for an enrolled box",
                responses={401: {"description": "The box's broker credentials are needed."},
                           404: {"description": "No such release or file."}})
    def release_file(version: Annotated[str, PathParam(max_length=40)],
                     name: Annotated[str, PathParam(max_length=210)],
                     authorization: Annotated[str | None, Header()] = None) -> FileResponse:
        if auth.box(authorization) is None:
            raise HTTPException(401, "a box's broker credentials are needed",
                                headers={"WWW-Authenticate": 'Basic realm="hcc-fleet boxes"'})
        path = releases().file(version, name)  # only names the manifest lists
        if path is None or not path.is_file():
            raise HTTPException(404, f"no file {name[:80]} in release {version[:40]}")
        media = "application/json" if name == MANIFEST_FILE else "application/octet-stream"
        return FileResponse(path, media_type=media)  # Range requests: resumed downloads

    @router.get("/api/v1/rollouts", summary="Rollouts, newest first, with each box's progress",
                dependencies=[Depends(reader)],
                responses={401: {"description": "Sign in, or give a valid bearer token."},
                           403: {"description": "Only for an account that sees every center "
                                                "(the desk's fleet-wide view)."}})
    def rollouts() -> list[dict[str, Any]]:
        return [rl.status_json(r) for r in reversed(releases().rollouts())]

    return router
