"""Configuration pushed by the controller: kept in the state directory, validated like any
devices.yaml, applied device by device, and remembered as good, active or refused."""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from agent.command_policy import refusal
from agent.config import load as load_config
from agent.trust import load_keys
from hcc_common.devices_config import Config, Device
from hcc_common.signing import SignatureError, TrustedKeys, verify
from hcc_common.wire import ConfigPush, config_version
from hcc_common.yamlconf import ConfigError

STATE_FILE = "state.json"
log = logging.getLogger("hcc.agent.config")


@dataclass(frozen=True)
class DeviceChanges:
    """What applying a new config does to the running device loops."""

    added: tuple[Device, ...] = ()
    removed: tuple[Device, ...] = ()
    changed: tuple[Device, ...] = ()   # the new definitions of devices whose settings changed
    unchanged: tuple[str, ...] = ()

    @property
    def nothing(self) -> bool:
        return not (self.added or self.removed or self.changed)


def device_changes(old: Config, new: Config) -> DeviceChanges:
    """Pure: devices added, removed, changed (any setting) or unchanged, by id. An unchanged
    device keeps its loop: a config identical to the running one restarts nothing."""
    before = {d.id: d for d in old.devices}
    after = {d.id: d for d in new.devices}
    return DeviceChanges(
        added=tuple(d for i, d in after.items() if i not in before),
        removed=tuple(d for i, d in before.items() if i not in after),
        changed=tuple(d for i, d in after.items() if i in before and _settings(before[i])
                      != _settings(d)),
        unchanged=tuple(i for i, d in after.items() if i in before and _settings(before[i])
                        == _settings(d)),
    )


def _settings(d: Device) -> Device:
    # the line a device sits on in its file is no setting of it
    from dataclasses import replace

    return replace(d, line=0)


@dataclass
class PushedState:
    """What the box remembers across restarts: the active pushed version, the last good one
    (to roll back to) and the versions it refused (never applied again)."""

    active: str | None = None
    good: str | None = None
    refused: dict[str, str] = field(default_factory=dict)  # version -> why
    # the local file's version when pushed configs took over: a later difference is a local
    # edit, which has no effect and is reported as drift
    local_at_push: str | None = None
    # the newest `issued` of a signed command taken: an older one is a replay
    issued: float | None = None


def unverified(push: ConfigPush, keys: TrustedKeys, newest: float | None) -> str | None:
    """Pure: why this push must not even be looked at (no valid signature of a trusted
    controller key over exactly this box, or older than one already taken), or None."""
    try:
        kid = verify(push.signed, keys)
    except SignatureError as exc:
        return str(exc)
    if push.issued is None:
        return f"signed by {kid} but without an issued time (an old controller?)"
    if newest is not None and push.issued < newest:
        return (f"older than the config already taken (issued {push.issued:.3f} < "
                f"{newest:.3f}): a replay")
    return None


class ConfigStore:
    """Pushed configs as files under <state_dir>/config/, by version, and their state."""

    def __init__(self, state_dir: Path) -> None:
        self.dir = state_dir / "config"

    def path(self, center: str, version: str) -> Path:
        # named so that a validation error reads "ba-dinh-3f2a9c1b0d4e.yaml:12: key: reason"
        return self.dir / f"{center}-{version}.yaml"

    def state(self) -> PushedState:
        path = self.dir / STATE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return PushedState()
        except (OSError, ValueError) as exc:
            return _set_aside(path, str(exc))
        found = _pushed_state(raw)
        return found if found is not None else _set_aside(path, "not a pushed-config state")

    def save_state(self, st: PushedState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps({"active": st.active, "good": st.good, "refused": st.refused,
                                   "local_at_push": st.local_at_push, "issued": st.issued}))
        os.replace(tmp, self.dir / STATE_FILE)

    def validate(self, push: ConfigPush, running: Config, local: Config) -> Config:
        """Write the pushed text and load it with the agent's own validator. Raises ConfigError
        (file:line: key: reason), also when it names another center or box, runs a program
        the local file does not allow, or names controller keys that cannot be read."""
        if config_version(push.content) != push.version:
            raise ConfigError(f"{push.center}-{push.version}.yaml", 0, "version",
                              "content does not match its version")
        self.dir.mkdir(parents=True, exist_ok=True)
        path = self.path(push.center, push.version)
        path.write_text(push.content, encoding="utf-8")
        cfg = load_config(path)
        if (cfg.center.id, cfg.agent.id) != (running.center.id, running.agent.id):
            raise ConfigError(str(path), 1, "center",
                              f"is for {cfg.center.id}/{cfg.agent.id}, this box is "
                              f"{running.center.id}/{running.agent.id}")
        if cfg.agent.state_dir != running.agent.state_dir:
            raise ConfigError(str(path), 1, "agent.state_dir",
                              "cannot be changed remotely (the outbox lives there)")
        policy = refusal(cfg, local)
        if policy is not None:
            raise policy
        if cfg.agent.controller_keys is not None:
            keys, problem = load_keys(cfg.agent.controller_keys)
            if not keys or problem:
                raise ConfigError(str(path), 1, "agent.controller_keys",
                                  f"{problem}: this box could take no further config")
        return cfg

    def load_active(self, running: Config) -> tuple[Config, str] | None:
        """The pushed config to run instead of the local file, if one is active and loads."""
        st = self.state()
        if st.active is None:
            return None
        try:
            cfg = load_config(self.path(running.center.id, st.active))
        except (ConfigError, OSError) as exc:
            # a damaged or missing pushed file never stops the box: the local file runs
            log.error("active pushed config unreadable: running the local devices.yaml",
                      extra={"version": st.active, "error": str(exc)[:300]})
            return None
        if (cfg.center.id, cfg.agent.id) != (running.center.id, running.agent.id):
            return None
        if refusal(cfg, running) is not None:
            return None  # the local file no longer allows what it runs: the local file runs
        return cfg, st.active


def _pushed_state(raw: object) -> PushedState | None:
    """The state file's fields, or None when it is not shaped like one (damaged)."""
    if not isinstance(raw, dict):
        return None
    text = (str, type(None))
    refused = raw.get("refused", {})
    if not (isinstance(raw.get("active"), text) and isinstance(raw.get("good"), text)
            and isinstance(raw.get("local_at_push"), text) and isinstance(refused, dict)
            and all(isinstance(k, str) and isinstance(v, str) for k, v in refused.items())):
        return None
    issued = raw.get("issued")
    return PushedState(raw.get("active"), raw.get("good"), dict(refused), raw.get("local_at_push"),
                       float(issued) if isinstance(issued, int | float) and not isinstance(issued, bool)
                       else None)


def _set_aside(path: Path, reason: str) -> PushedState:
    """A damaged state file never stops the box: kept beside as <name>.damaged-<time>, said in
    the log, and the box runs its local devices.yaml until the controller pushes again."""
    target = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    try:
        os.replace(path, target)
    except OSError as exc:
        log.error("pushed-config state damaged and cannot be set aside: ignored",
                  extra={"path": str(path), "reason": reason[:200], "error": exc.strerror})
        return PushedState()
    log.error("pushed-config state damaged: set aside, running the local devices.yaml",
              extra={"path": str(path), "moved_to": str(target), "reason": reason[:200]})
    return PushedState()
