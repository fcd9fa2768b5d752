"""Commands to boxes from the database: each box's desired config (signed, retained) and config pulls."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.config import ControllerConfig
from controller.store import Store
from hcc_common import config_pull, wire

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("hcc.controller")

# How often the database is asked whether a box's desired config changed.
CONFIG_CHECK_S = 2.0


class CommandKeys:
    """The keys that sign commands to boxes, read (or made) once; None (logged) when they
    cannot be: nothing unsigned is ever published."""

    def __init__(self, config: ControllerConfig) -> None:
        self.config = config
        self._keys: list[Ed25519PrivateKey] | None = None

    def __call__(self) -> list[Ed25519PrivateKey] | None:
        if self._keys is None:
            from controller.signing_key import SigningKeyError, signing_keys
            from hcc_common.signing import public_of

            try:
                self._keys = signing_keys(self.config)
            except SigningKeyError as exc:
                log.error("configs not published: no signing key", extra={"error": str(exc)})
                return None
            log.info("commands to boxes signed", extra={
                "key_file": str(self.config.signing_key),
                "keys": ",".join(public_of(k).key_id for k in self._keys)})
        return self._keys


@dataclass(frozen=True)
class PullRefused:
    """A box's config answer not kept: set aside as a dead letter with this reason."""

    reason: str
    payload: bytes
    malformed: bool


class ConfigPublisher:
    """`hcc-controller config push` and `config pull` write rows in the database; this process
    owns the MQTT connection and publishes them."""

    def __init__(self, store: Store, publish: Callable[[wire.Encoded], None], keys: CommandKeys,
                 *, serves: Callable[[str], bool] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.publish = publish
        self.keys = keys
        self.serves = serves  # with partitions: whether a center is ours
        self.clock, self.monotonic = clock, monotonic
        # the config version last published to each box (retained on its cmd/config topic)
        self._published: dict[tuple[str, str], str] = {}
        self._checked = 0.0

    def due(self) -> bool:
        """Time to look at the database again (every CONFIG_CHECK_S)."""
        now = self.monotonic()
        if now - self._checked < CONFIG_CHECK_S:
            return False
        self._checked = now
        return True

    def publish_configs(self) -> None:
        """Publish, retained, each box's desired config when it changed."""
        # only the versions, every time; a text only for a box whose version moved
        changed = {key for key, version in self.store.desired_versions().items()
                   if self._published.get(key) != version}
        if not changed:
            return
        keys = self.keys()
        if keys is None:
            return
        for row in self.store.desired_configs():
            key = (row["center"], row["agent"])
            if key not in changed:
                continue
            # signed, for this box, with the time it became desired: a box takes it only
            # as the controller's, only for itself, and never over a newer one
            self.publish(wire.encode_config(wire.ConfigPush(
                row["center"], row["agent"], row["version"], row["content"], row["author"],
                row["updated_at"], issued=row["updated_at"]), keys))
            self._published[key] = row["version"]
            log.info("config published", extra={"center": key[0], "agent": key[1],
                                                "version": row["version"]})

    def publish_pulls(self) -> None:
        """`hcc-controller config pull` asked (a row in the database): ask the box."""
        from controller import pulls

        pulls.ensure(self.store.db)
        for req in pulls.to_publish(self.store.db, self.clock()):
            if self.serves is not None and not self.serves(req.center):
                continue  # another controller's center: that one asks
            self.publish(config_pull.encode_pull(req))
            pulls.published(self.store.db, req.request, self.clock())
            log.info("config pull asked", extra={"center": req.center, "agent": req.agent})

    def take_pull(self, topic: str, payload: bytes) -> PullRefused | None:
        """A box's answer to `config pull`: kept for whoever asked, or refused."""
        from controller import pulls

        try:
            got = config_pull.decode_current(topic, payload)
        except config_pull.PullError as exc:
            return PullRefused(f"malformed: {exc}", payload[:4096], malformed=True)
        pulls.ensure(self.store.db)
        if not pulls.take(self.store.db, got, self.clock()):
            # nobody asked this box (or not lately): its file is not kept
            return PullRefused("config answer nobody asked for", b"", malformed=False)
        return None
