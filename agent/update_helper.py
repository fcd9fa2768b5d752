"""The box's installer (root, hcc-agent-update.service): install a release the agent staged into
its own slot /opt/hcc-fleet/releases/<V> (its own venv, offline), switch the `current` link
atomically, restart the agent, and switch back by itself if the new version does not confirm
its health in time. It verifies the signed instruction, the signed manifest and every hash
again itself: the agent's user could have written anything in its state directory.

A box cut off from the controller never moves on its own: the installer acts only on a signed
instruction (which the agent fetched); the one exception is going back to the version that ran
before, when the new one fails its health check (docs/security.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from agent import updater as up
from hcc_common import release as rel
from hcc_common.signing import TrustedKeys
from hcc_common.wire import WireError

log = logging.getLogger("hcc.agent.install")
RELEASES = "releases"
CURRENT = "current"
INSTALLER_STATE = ".installer.json"  # root-owned: the newest instruction taken (no replay)
KEEP = 2  # slots kept: the running one and the one before (never the running one deleted)


@dataclass(frozen=True)
class Box:
    center: str
    agent: str
    state_dir: Path
    running: str  # the version the agent runs now


def slot(root: Path, version: str) -> Path:
    return root / RELEASES / version


def current_version(root: Path) -> str | None:
    """The version `current` points at (None: no slot yet, the installer's venv runs)."""
    link = root / CURRENT
    try:
        target = os.readlink(link)
    except OSError:
        return None
    return Path(target).name if Path(target).parent.name == RELEASES else None


def switch(root: Path, version: str | None) -> None:
    """Point `current` at releases/<V> (None: at "." the venv install.sh made) in one rename:
    at no moment is there no `current`."""
    tmp = root / f".{CURRENT}.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(f"{RELEASES}/{version}" if version is not None else ".", tmp)
    os.replace(tmp, root / CURRENT)
    fd = os.open(root, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename survives a power cut
    finally:
        os.close(fd)


def install_slot(root: Path, manifest: rel.Manifest, staged: Path, python: str,
                 run: Callable[[list[str]], subprocess.CompletedProcess[str]]) -> Path:
    """Copy the files (only those the manifest names), check them again, make the venv and
    install offline, in the slot itself (a venv's scripts name its path). Raises UpdateRefused;
    a half-made slot is removed. The running slot is never the one made."""
    target = slot(root, manifest.version)
    if current_version(root) == manifest.version:
        raise up.UpdateRefused(f"{manifest.version} is the running slot")
    shutil.rmtree(target, ignore_errors=True)
    try:
        (target / "wheels").mkdir(parents=True)
        for f in manifest.files:
            shutil.copyfile(staged / f.name, target / "wheels" / f.name)
        problems = rel.file_problems(manifest, target / "wheels")
        if problems:
            raise up.UpdateRefused("; ".join(problems))
        for argv, what in (([python, "-m", "venv", str(target / "venv")], "venv not made"),
                           ([str(target / "venv/bin/python"), "-m", "pip", "install",
                             "--no-index", "--disable-pip-version-check", "-q",
                             "--find-links", str(target / "wheels"),
                             f"hcc-fleet=={manifest.version}"], "offline install failed")):
            done = run(argv)
            if done.returncode != 0:
                raise up.UpdateRefused(f"{what}: {(done.stderr or done.stdout)[-300:]}")
    except OSError as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise up.UpdateRefused(f"cannot install: {exc}") from None
    except up.UpdateRefused:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def prune(root: Path, keep: int = KEEP) -> list[str]:
    """Delete old slots beyond the newest `keep` by install time; never the running one nor
    the one before it (the rollback target)."""
    running = current_version(root)
    folder = root / RELEASES
    slots = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
    gone = []
    for p in slots[keep:]:
        if p.name != running:
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
    return gone


class Installer:
    """One run: take the agent's request (or finish a health check a reboot cut short)."""

    def __init__(self, box: Box, keys: TrustedKeys, settings: up.UpdateSettings, *,
                 restart: Callable[[], None],
                 run: Callable[[list[str]], subprocess.CompletedProcess[str]] | None = None,
                 python: str = sys.executable, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.time) -> None:
        self.box, self.keys, self.settings = box, keys, settings
        self.root = settings.root
        self.restart, self.python, self.sleep, self.clock = restart, python, sleep, clock
        self.run = run or (lambda argv: subprocess.run(argv, capture_output=True, text=True,
                                                       timeout=1800, check=False))
        self.updates = box.state_dir / up.UPDATES_DIR

    def once(self) -> str | None:
        """The outcome ("ok", "rolled_back", "refused") or None when there was nothing to do."""
        pending = up.read_json(self.updates / up.PENDING_FILE)
        if pending is not None:
            return self._watch(pending)  # a reboot or crash while the new one was checked
        request = up.read_json(self.updates / up.REQUEST_FILE)
        if request is None:
            return None
        (self.updates / up.REQUEST_FILE).unlink(missing_ok=True)
        version = str(request.get("version", "?"))[:40]
        try:
            manifest = self._verified(request)
        except up.UpdateRefused as exc:
            log.error("update refused", extra={"version": version, "reason": str(exc)})
            up.set_status(self.box.state_dir, version, "refused", str(exc))
            return "refused"
        previous = current_version(self.root)
        if previous == manifest.version:
            up.set_status(self.box.state_dir, version, "ok")
            return "ok"
        up.set_status(self.box.state_dir, version, "installing")
        try:
            install_slot(self.root, manifest, self.updates / manifest.version, self.python,
                         self.run)
        except up.UpdateRefused as exc:
            log.error("update not installed", extra={"version": version, "reason": str(exc)})
            up.set_status(self.box.state_dir, version, "refused", str(exc))
            return "refused"
        now = self.clock()
        pending = {"version": manifest.version, "previous": previous, "switched_at": now,
                   "deadline": now + self.settings.health_timeout_s}
        up.write_json(self.updates / up.PENDING_FILE, pending)
        (self.updates / up.HEALTH_FILE).unlink(missing_ok=True)
        switch(self.root, manifest.version)
        log.info("switched; restarting the agent", extra={"version": manifest.version,
                                                          "previous": previous or "-"})
        self.restart()
        return self._watch(pending)

    def _verified(self, request: dict[str, object]) -> rel.Manifest:
        body = request.get("command")
        if type(body) is not dict:
            raise up.UpdateRefused("no instruction in the request")
        try:
            cmd = rel.decode_update(rel.update_topic(self.box.center, self.box.agent),
                                    orjson.dumps(body))
        except WireError as exc:
            raise up.UpdateRefused(f"instruction refused: {exc}") from None
        state = up.read_json(self.root / RELEASES / INSTALLER_STATE) or {}
        newest = state.get("issued")
        why = rel.update_refused(cmd, self.keys, float(newest) if isinstance(
            newest, int | float) else None)
        if why is not None:
            raise up.UpdateRefused(f"instruction refused: {why}")
        if rel.is_older(cmd.version, self.box.running) and not cmd.allow_downgrade:
            raise up.UpdateRefused(f"{cmd.version} is older than the running {self.box.running}")
        staged = self.updates / cmd.version
        try:
            manifest, _kid = rel.verify_manifest((staged / rel.MANIFEST_FILE).read_bytes(),
                                                 self.keys)
        except OSError as exc:
            raise up.UpdateRefused(f"manifest not staged: {exc.strerror}") from None
        except rel.ReleaseError as exc:
            raise up.UpdateRefused(str(exc)) from None
        if manifest.version != cmd.version:
            raise up.UpdateRefused(f"the manifest is of {manifest.version}, not {cmd.version}")
        up.write_json(self.root / RELEASES / INSTALLER_STATE, {"issued": cmd.issued})
        return manifest

    def _watch(self, pending: dict[str, object]) -> str:
        """Wait for the new version's health; else go back to the previous one by itself."""
        version = str(pending.get("version"))
        switched = float(pending.get("switched_at") or 0.0)  # type: ignore[arg-type]
        deadline = float(pending.get("deadline") or 0.0)  # type: ignore[arg-type]
        while True:
            health = up.read_json(self.updates / up.HEALTH_FILE)
            if health is not None and health.get("version") == version \
                    and float(health.get("at") or 0) >= switched:
                (self.updates / up.PENDING_FILE).unlink(missing_ok=True)
                up.set_status(self.box.state_dir, version, "ok")
                gone = prune(self.root)
                log.info("update healthy", extra={"version": version, "pruned": gone})
                return "ok"
            if self.clock() >= deadline:
                break
            self.sleep(min(1.0, max(0.0, deadline - self.clock())))
        previous = pending.get("previous")
        reason = (f"{version} did not confirm its health within "
                  f"{self.settings.health_timeout_s:.0f} s (agent not running, a device loop "
                  f"not started, or the controller not reached); back on "
                  f"{previous or 'the installed version'}")
        switch(self.root, previous if isinstance(previous, str)
               and slot(self.root, previous).is_dir() else None)
        (self.updates / up.PENDING_FILE).unlink(missing_ok=True)
        up.set_status(self.box.state_dir, version, "rolled_back", reason)
        log.error("update rolled back", extra={"version": version, "reason": reason})
        self.restart()
        return "rolled_back"


def main(argv: list[str] | None = None) -> int:
    """python -m agent.update_helper --config /etc/hcc-agent/devices.yaml (as root, by
    hcc-agent-update.service when the agent asks)."""
    from agent.config import load
    from agent.inventory import software_version
    from agent.trust import load_keys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--config", type=Path, default=Path("/etc/hcc-agent/devices.yaml"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    cfg = load(args.config)
    settings = up.load_settings(args.config.parent)
    keys, problem = load_keys(cfg.agent.controller_keys)
    if problem:
        log.error("controller keys unreadable: nothing is installed", extra={"reason": problem})
        return 1
    box = Box(cfg.center.id, cfg.agent.id, cfg.agent.state_dir, software_version())

    def restart() -> None:
        subprocess.run(list(settings.restart), check=False, timeout=120)

    outcome = Installer(box, keys, settings, restart=restart).once()
    log.info("installer done", extra={"outcome": outcome or "nothing to do"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
