"""The config the box runs: pushes verified, applied device by device, rolled back; local edits reloaded."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from agent.device_poller import DevicePoller
from agent.inventory import config_version as config_version_of
from agent.pushed_config import ConfigStore, device_changes, unverified
from agent.running import RunningConfig
from agent.trust import load_keys
from agent.uplink import Uplink
from hcc_common import sdnotify, wire
from hcc_common.devices_config import Config
from hcc_common.mqtt_io import Incoming
from hcc_common.yamlconf import ConfigError

log = logging.getLogger("hcc.agent")


def start_running(local: Config, config_store: ConfigStore) -> RunningConfig:
    """What runs at start: a config the controller pushed runs instead of the local file
    (which then only shows as drift if edited: pushed configs win, see docs/operations.md)."""
    local_version = config_version_of(Path(local.path))
    config, version = local, local_version
    active = config_store.load_active(local)
    if active is not None:
        config, version = active
    trusted, problem = load_keys(config.agent.controller_keys
                                 if config.agent.controller_keys is not None
                                 else local.agent.controller_keys)
    if problem:
        log.error("pushed configs cannot all be verified: "
                  "cấu hình từ trung tâm sẽ bị từ chối nếu không kiểm được chữ ký",
                  extra={"reason": problem})
    return RunningConfig(config=config, version=version, local_config=local,
                         local_version=local_version, trusted=trusted, trust_problem=problem)


class ConfigManager:
    """Changes the running config (nothing else does): a push from the controller, or the
    local devices.yaml edited. `announce` tells the controller, in a fresh birth."""

    def __init__(self, running: RunningConfig, config_store: ConfigStore, poller: DevicePoller,
                 uplink: Uplink, announce: Callable[[], None]) -> None:
        self.running = running
        self.config_store = config_store
        self.poller = poller
        self.uplink = uplink
        self.announce = announce
        self._lock = asyncio.Lock()
        self.started = False  # a SIGHUP before the start: the start reads the file anyway

    async def apply_pushed(self, push: wire.ConfigPush) -> None:
        """A config from the controller: validated as any devices.yaml, then applied device by
        device without a restart. The same version again changes nothing; a refused or
        rolled-back version is never applied again."""
        running = self.running
        async with self._lock:
            state = self.config_store.state()
            why = unverified(push, running.trusted, state.issued)
            if why is not None:
                # not the controller's: never remembered as refused by version (a forger
                # could otherwise bar the controller's own later push of that text)
                self.report(error=f"refused a config not signed by the controller: {why}")
                log.error("pushed config refused: not signed by a trusted controller key "
                          "(cấu hình bị từ chối: không có chữ ký hợp lệ của trung tâm)",
                          extra={"version": push.version, "author": push.author[:60],
                                 "reason": why[:300]})
                return
            state.issued = push.issued
            self.config_store.save_state(state)
            if push.version == running.version:
                log.info("config unchanged", extra={"version": push.version})
                return
            if push.version in state.refused:
                return
            try:
                new = await asyncio.to_thread(self.config_store.validate, push, running.config,
                                              running.local_config)
            except ConfigError as exc:
                state.refused[push.version] = str(exc)
                self.config_store.save_state(state)
                self.report(error=f"refused {push.version}: {exc}")
                log.error("pushed config refused", extra={"version": push.version,
                                                          "error": str(exc)})
                return
            previous, previous_version = running.config, running.version
            await self._switch(new, push.version)
            state.active = push.version
            if state.local_at_push is None:
                state.local_at_push = running.local_version
            self.config_store.save_state(state)
            log.info("pushed config applied", extra={"version": push.version,
                                                     "author": push.author})
            if new.mqtt != previous.mqtt:
                # a new broker or credentials: keep them only if the broker answers in time
                await self._confirm_or_roll_back(previous, previous_version, push.version)
            else:
                self.report(error=None, good=push.version)

    async def reload_local(self) -> None:
        """devices.yaml read again (SIGHUP: `systemctl reload hcc-agent`; or an edit seen at a
        heartbeat) and applied device by device, as a push is. A file with a mistake is not
        applied: the running devices go on, the error is logged with file:line."""
        from agent import config as agent_config

        running = self.running
        path = Path(running.local_config.path)
        async with self._lock:
            version = await asyncio.to_thread(config_version_of, path)
            if version == running.local_version:
                log.info("config unchanged", extra={"version": version})
                return
            try:
                new = await asyncio.to_thread(agent_config.load, path)
            except ConfigError as exc:
                running.local_version = version  # said once, not at every heartbeat
                log.error("devices.yaml not applied: the running devices go on",
                          extra={"error": str(exc)[:2000]})
                return
            running.local_version = version
            if running.pushed:
                running.local_config = new
                log.info("devices.yaml edited while a pushed config runs: ignored (drift)")
                self.report(running.error)
                return
            await self._switch(new, version)
            running.local_config = new
            self.announce()
            sdnotify.notify(f"STATUS=watching {len(new.devices)} devices")
            log.info("devices.yaml applied", extra={"version": version,
                                                    "devices": len(new.devices)})

    async def check_local_edit(self) -> None:
        """A local edit of devices.yaml (seen at a heartbeat): applied, or while a pushed
        config runs, reported as drift."""
        running = self.running
        local = await asyncio.to_thread(config_version_of, Path(running.local_config.path))
        if local != running.local_version:
            if running.pushed:
                running.local_version = local
                self.report(running.error)
            else:
                await self.reload_local()  # an edited devices.yaml: applied, no restart

    async def _switch(self, new: Config, version: str) -> None:
        running, poller = self.running, self.poller
        changes = device_changes(running.config, new)
        for d in (*changes.removed, *changes.changed):
            await poller.stop_device(d.id, forget=d in changes.removed)
        mqtt_changed = new.mqtt != running.config.mqtt
        running.config, running.version = new, version
        # a pushed config may name the keys further pushes need (a key rotation); without
        # any, the local file's keys still hold
        running.trusted, running.trust_problem = load_keys(
            new.agent.controller_keys if new.agent.controller_keys is not None
            else running.local_config.agent.controller_keys)
        poller.reconfigure(new)
        for d in (*changes.added, *changes.changed):
            poller.start_device(d)
        if mqtt_changed:
            await self.uplink.replace(new)
        log.info("config switched", extra={
            "version": version, "added": len(changes.added), "removed": len(changes.removed),
            "changed": len(changes.changed), "unchanged": len(changes.unchanged)})

    async def _confirm_or_roll_back(self, previous: Config, previous_version: str,
                                    version: str) -> None:
        confirm_s = self.running.config.agent.config_confirm_s
        deadline = time.monotonic() + confirm_s
        while time.monotonic() < deadline and not self.uplink.connected:
            await asyncio.sleep(0.2)
        if self.uplink.connected:
            self.report(error=None, good=version)
            return
        reason = (f"rolled back {version}: no broker connection within "
                  f"{confirm_s:g} s ({self.uplink.settings.url})")
        log.error("pushed config rolled back", extra={"version": version, "error": reason})
        state = self.config_store.state()
        state.refused[version] = reason
        state.active = previous_version if previous is not self.running.local_config else None
        self.config_store.save_state(state)
        await self._switch(previous, previous_version)
        self.report(error=reason)

    def report(self, error: str | None, good: str | None = None) -> None:
        """Tell the controller (a fresh birth, retained) which version runs, and any error."""
        self.running.error = error
        if good is not None:
            state = self.config_store.state()
            state.good = good
            self.config_store.save_state(state)
        self.announce()

    def answer_pull(self, incoming: Incoming) -> None:
        """`hcc-controller config pull`: the devices.yaml this box runs, sent to the controller
        (its own file, or the pushed version running instead of it)."""
        from hcc_common import config_pull

        try:
            req = config_pull.decode_pull(incoming.topic, incoming.payload)
        except config_pull.PullError as exc:
            log.warning("unreadable config pull from the controller", extra={"reason": str(exc)})
            return
        running = self.running
        pushed = running.pushed
        path = self.config_store.path(running.config.center.id, running.version) if pushed \
            else Path(running.local_config.path)
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            log.error("config pull: cannot read the config", extra={"error": str(exc)})
            return
        self.uplink.publish(config_pull.encode_current(config_pull.CurrentConfig(
            req.center, req.agent, req.request,
            running.version if pushed else config_version_of(Path(running.local_config.path)),
            "pushed" if pushed else "local", content)))
        log.info("config sent to the controller", extra={"request": req.request,
                                                          "source": "pushed" if pushed
                                                          else "local"})
