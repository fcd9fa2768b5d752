"""Software updates on the box, the agent's part: take a signed cmd/update, download the release
from the controller over HTTPS pinned to its certificate (resumed, rate-limited), verify the
manifest's signature and every hash, and hand it to the installer (agent/update_helper.py, run
as root by hcc-agent-update.service); then confirm the new version healthy and report outcomes.

The agent runs unprivileged and cannot write /opt/hcc-fleet: it only stages verified files in
its state directory and asks. The installer verifies everything again itself (it trusts
nothing the agent's user could have written), installs, switches and watches the health check.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from agent.pinning import NotPinned, pinned_context
from hcc_common import release as rel
from hcc_common.net_failure import classify, words
from hcc_common.signing import TrustedKeys
from hcc_common.wire import MetricValue

log = logging.getLogger("hcc.agent.update")

SETTINGS_FILE = "update.json"  # beside devices.yaml
UPDATES_DIR = "updates"        # in the agent's state directory
REQUEST_FILE = "request.json"  # agent -> installer: install this (signed command + version)
PENDING_FILE = "pending.json"  # installer: switched to V, health not yet confirmed
HEALTH_FILE = "health.json"    # new agent -> installer: V runs, loops started, controller acked
STATUS_FILE = "status.json"    # installer/agent -> birth inventory: the last outcome
CHUNK = 64 * 1024


class UpdateRefused(Exception):
    """An update this box does not install; the text is the reason reported to the desk."""


@dataclass(frozen=True, kw_only=True)
class UpdateSettings:
    """Where releases come from and how they are fetched and installed (update.json)."""

    url: str | None = None            # the controller's https:// address (its API)
    fingerprint: str | None = None    # SHA-256 of its certificate, as enrollment pinned it
    rate_bytes_s: int = 256 * 1024    # a 4G center shares its link with the counters
    timeout_s: float = 30.0
    health_timeout_s: float = 180.0
    root: Path = Path("/opt/hcc-fleet")  # releases/<V>, current -> releases/<V>
    # how the installer restarts the agent (tests give their own)
    restart: tuple[str, ...] = ("systemctl", "restart", "hcc-agent.service")
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def load_settings(config_dir: Path) -> UpdateSettings:
    """update.json beside devices.yaml; none: no update can be fetched (refused, reported)."""
    path = config_dir / SETTINGS_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        return UpdateSettings()
    except (OSError, ValueError) as exc:
        raise UpdateRefused(f"{path}: unreadable: {exc}") from None
    if type(raw) is not dict:
        raise UpdateRefused(f"{path}: expected a JSON object")
    known = {"url", "fingerprint", "rate_bytes_s", "timeout_s", "health_timeout_s", "root",
             "restart"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise UpdateRefused(f"{path}: unknown key {unknown[0]!r}")
    try:
        return UpdateSettings(
            url=str(raw["url"]) if raw.get("url") else None,
            fingerprint=str(raw["fingerprint"]).replace(":", "").lower()
            if raw.get("fingerprint") else None,
            rate_bytes_s=int(raw.get("rate_bytes_s", 256 * 1024)),
            timeout_s=float(raw.get("timeout_s", 30.0)),
            health_timeout_s=float(raw.get("health_timeout_s", 180.0)),
            root=Path(raw.get("root", "/opt/hcc-fleet")),
            restart=tuple(str(a) for a in raw.get("restart",
                                                  ("systemctl", "restart", "hcc-agent.service"))))
    except (TypeError, ValueError) as exc:
        raise UpdateRefused(f"{path}: {exc}") from None


def remember_controller(config_dir: Path, url: str, fingerprint: str) -> None:
    """At enrollment: the controller's address and pinned certificate, for fetching releases
    (update.json; other settings an operator set there are kept)."""
    path = config_dir / SETTINGS_FILE
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        raw = {}
    if type(raw) is not dict:
        raw = {}
    raw.update({"url": url, "fingerprint": fingerprint.replace(":", "").lower()})
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(raw, indent=1) + "\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# -- status, as the birth's inventory carries it ------------------------------------------------
def write_json(path: Path, body: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body, ensure_ascii=False))
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        body = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return body if type(body) is dict else None


def set_status(state_dir: Path, version: str, state: str, reason: str = "") -> None:
    write_json(state_dir / UPDATES_DIR / STATUS_FILE,
               {"version": version, "state": state, "reason": reason[:300], "at": time.time()})


def inventory_fields(state_dir: Path) -> dict[str, MetricValue]:
    """update_version/update_state/update_reason for the birth (controller/rollout.py reads
    them): ok, rolled_back, refused; "installing" while the installer works."""
    st = read_json(state_dir / UPDATES_DIR / STATUS_FILE)
    if st is None or type(st.get("version")) is not str:
        return {}
    return {"update_version": str(st["version"])[:40], "update_state": str(st.get("state"))[:20],
            "update_reason": str(st.get("reason", ""))[:300]}


# -- the pinned, resumable, rate-limited download ----------------------------------------------
def _pinned(host: str, port: int, fingerprint: str, timeout: float) -> ssl.SSLContext:
    try:
        return pinned_context(host, port, fingerprint, timeout)
    except OSError as exc:
        raise UpdateRefused(f"cannot reach the controller {host}:{port}: {exc}") from None
    except NotPinned as exc:
        raise UpdateRefused(f"the controller's certificate is not the pinned one "
                            f"(it has {exc.got[:16]}…): nothing downloaded") from None


class Fetcher:
    """GET release files from the controller, authenticated as this box (its broker user and
    password), resuming a partial file with Range and keeping to `rate_bytes_s`."""

    def __init__(self, settings: UpdateSettings, user: str, password: str,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not settings.url or not settings.fingerprint:
            raise UpdateRefused("no controller address or certificate fingerprint in "
                                f"{SETTINGS_FILE}: this box cannot fetch releases")
        parts = urlsplit(settings.url)
        if parts.scheme != "https" or not parts.hostname:
            raise UpdateRefused(f"{SETTINGS_FILE}: url must be the controller's https:// address")
        self.base = f"https://{parts.hostname}:{parts.port or 443}"
        self.settings = settings
        self.auth = (user, password)
        self.sleep = sleep
        self.ctx = _pinned(parts.hostname, parts.port or 443, settings.fingerprint,
                                  settings.timeout_s)

    def url(self, version: str, name: str) -> str:
        return (f"{self.base}/api/v1/releases/{quote(version, safe='')}/files/"
                f"{quote(name, safe='')}")

    def get(self, version: str, name: str, dest: Path, size: int | None = None) -> None:
        """Download to `dest`, continuing a partial one; raises UpdateRefused."""
        import httpx

        have = dest.stat().st_size if dest.exists() else 0
        if size is not None and have >= size:
            if have == size:
                return  # complete already (its hash is checked afterwards)
            dest.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        started, sent = time.monotonic(), 0
        try:
            with httpx.stream("GET", self.url(version, name), headers=headers, auth=self.auth,
                              verify=self.ctx, timeout=self.settings.timeout_s) as r:
                if r.status_code == 200 and have:
                    have = 0  # the server sent it whole: start over
                elif r.status_code not in (200, 206):
                    raise UpdateRefused(f"{name}: the controller answered {r.status_code}")
                with dest.open("ab" if have else "wb") as fh:
                    for chunk in r.iter_bytes(CHUNK):
                        fh.write(chunk)
                        sent += len(chunk)
                        if size is not None and have + sent > size:
                            raise UpdateRefused(f"{name}: larger than the manifest says")
                        # the rate: never ahead of rate_bytes_s since this request began
                        ahead = sent / max(1, self.settings.rate_bytes_s) - (
                            time.monotonic() - started)
                        if ahead > 0:
                            self.sleep(ahead)
        except httpx.HTTPError as exc:
            # refused, a certificate, a name unknown, silence: each its own words (issue 27)
            where = httpx.URL(self.url(version, name))
            said = words(classify(exc, f"{where.host}:{where.port or 443}"),
                         f"{where.host}:{where.port or 443}", "en")
            raise UpdateRefused(f"{name}: download failed: {said}; it resumes at the next "
                                "try") from None
        except OSError as exc:
            raise UpdateRefused(f"{name}: cannot write {dest}: {exc.strerror}") from None


# -- taking an instruction ------------------------------------------------------------------------
def box_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def stage(cmd: rel.UpdateCommand, keys: TrustedKeys, running: str, state_dir: Path,
          fetch: Callable[[str, str, Path, int | None], None], *,
          machine: str | None = None, python: str | None = None) -> Path:
    """Download and verify a release into <state_dir>/updates/<V>/ and ask the installer for
    it. Returns the staging folder; raises UpdateRefused with the reason (nothing is left for
    the installer then, and the running version is untouched)."""
    if rel.is_older(cmd.version, running) and not cmd.allow_downgrade:
        raise UpdateRefused(f"{cmd.version} is older than the running {running} "
                            "(roll out with --allow-downgrade to go back)")
    folder = state_dir / UPDATES_DIR / cmd.version
    folder.mkdir(parents=True, exist_ok=True)
    manifest_path = folder / rel.MANIFEST_FILE
    manifest_path.unlink(missing_ok=True)  # always the controller's newest word
    fetch(cmd.version, rel.MANIFEST_FILE, manifest_path, None)
    try:
        manifest, _kid = rel.verify_manifest(manifest_path.read_bytes(), keys)
    except rel.ReleaseError as exc:
        raise UpdateRefused(str(exc)) from None
    if manifest.version != cmd.version:
        raise UpdateRefused(f"the manifest is of {manifest.version}, the instruction says "
                            f"{cmd.version}")
    why = rel.incompatible(manifest, machine or platform.machine(), python or box_python())
    if why is not None:
        raise UpdateRefused(why)
    free = shutil.disk_usage(folder).free
    # the files, and a venv about three times their size beside them
    need = 4 * manifest.total_bytes
    if free < need:
        raise UpdateRefused(f"disk full: {free // 1_000_000} MB free, {need // 1_000_000} MB "
                            "needed")
    for f in manifest.files:
        fetch(cmd.version, f.name, folder / f.name, f.size)
    problems = rel.file_problems(manifest, folder)
    if problems:
        for f in manifest.files:  # a bad file is fetched again whole next time
            if any(p.startswith(f.name + ":") for p in problems):
                (folder / f.name).unlink(missing_ok=True)
        raise UpdateRefused("; ".join(problems))
    assert cmd.signed is not None
    write_json(state_dir / UPDATES_DIR / REQUEST_FILE,
               {"version": cmd.version, "command": dict(cmd.signed)})
    return folder


def confirm_health(state_dir: Path, running: str, session: int) -> bool:
    """The new version tells the installer it is healthy (all device loops started, the
    controller acknowledged this session): True when a pending switch to it was confirmed."""
    pending = read_json(state_dir / UPDATES_DIR / PENDING_FILE)
    if pending is None or pending.get("version") != running:
        return False
    write_json(state_dir / UPDATES_DIR / HEALTH_FILE,
               {"version": running, "session": session, "at": time.time()})
    return True


TAKEN_FILE = "taken.json"  # the `issued` of the newest instruction this agent acted on


class AgentUpdates:
    """The running agent's side: instructions in, outcomes into the birth, health out."""

    def __init__(self, state_dir: Path, config_dir: Path, box: tuple[str, str],
                 credentials: tuple[str, str] | None, running: str) -> None:
        self.state_dir, self.config_dir, self.box = state_dir, config_dir, box
        self.credentials, self.running = credentials, running
        self.confirmed = False
        # one instruction at a time: a newer one arriving mid-download waits, then goes on
        # from the files already there (resumed) if it names the same release
        self._taking = threading.Lock()

    def inventory(self) -> dict[str, MetricValue]:
        return inventory_fields(self.state_dir)

    def take(self, cmd: rel.UpdateCommand, keys: TrustedKeys) -> str | None:
        """Blocking (run it off the event loop): verify, download, stage. Returns the outcome
        to report ("staged", "refused", "ok") or None when there is nothing new."""
        with self._taking:
            return self._take(cmd, keys)

    def _take(self, cmd: rel.UpdateCommand, keys: TrustedKeys) -> str | None:
        taken = read_json(self.state_dir / UPDATES_DIR / TAKEN_FILE) or {}
        newest = taken.get("issued")
        if isinstance(newest, int | float) and cmd.issued <= newest:
            return None  # the retained instruction again (after a restart): acted on already
        why = rel.update_refused(cmd, keys, None)
        if why is not None:
            log.error("update instruction refused", extra={"version": cmd.version, "reason": why})
            set_status(self.state_dir, cmd.version, "refused", f"instruction refused: {why}")
            return "refused"
        write_json(self.state_dir / UPDATES_DIR / TAKEN_FILE, {"issued": cmd.issued})
        if cmd.version == self.running:
            set_status(self.state_dir, cmd.version, "ok")
            return "ok"
        try:
            settings = load_settings(self.config_dir)
            if self.credentials is None:
                raise UpdateRefused("this box has no broker credentials to fetch releases with")
            fetcher = Fetcher(settings, *self.credentials)
            stage(cmd, keys, self.running, self.state_dir, fetcher.get)
        except UpdateRefused as exc:
            log.error("update refused", extra={"version": cmd.version, "reason": str(exc)})
            set_status(self.state_dir, cmd.version, "refused", str(exc))
            return "refused"
        log.info("release staged for the installer", extra={"version": cmd.version})
        set_status(self.state_dir, cmd.version, "staged")
        return "staged"

    def confirm(self, session: int) -> bool:
        if self.confirmed:
            return False
        self.confirmed = confirm_health(self.state_dir, self.running, session)
        return self.confirmed
