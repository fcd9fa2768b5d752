"""The agent's composition root: its services (poller, sender, config, heartbeat, updates) wired and run."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from agent.birth import Birth, first_inventory
from agent.config_manager import ConfigManager, start_running
from agent.device_poller import DevicePoller
from agent.heartbeat import BOX_NAME, Heartbeat, StatusFile
from agent.outbox import Limits
from agent.pushed_config import ConfigStore
from agent.report_sender import ReportSender, open_outbox
from agent.running import RunningConfig
from agent.update_watch import UpdateWatch
from agent.uplink import Uplink, UplinkHandlers
from hcc_common import sdnotify, wire
from hcc_common.devices_config import Config
from hcc_common.mqtt_io import Incoming

__all__ = ["BOX_NAME", "AgentServices", "build", "run_forever"]

log = logging.getLogger("hcc.agent")
T = TypeVar("T")


@dataclass
class AgentServices:
    running: RunningConfig
    uplink: Uplink
    sender: ReportSender
    poller: DevicePoller
    configs: ConfigManager
    heartbeat: Heartbeat
    updates: UpdateWatch


def build(config: Config, broker_url: str | None = None, limits: Limits = Limits()) -> AgentServices:
    """Every service of the box, each handed what it needs and nothing else."""
    config_store = ConfigStore(config.agent.state_dir)
    running = start_running(config, config_store)
    state_dir = running.config.agent.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    opened = open_outbox(state_dir, limits)
    inventory = first_inventory(running)
    from agent.updater import AgentUpdates

    # software updates: signed instructions in, outcomes in the birth (agent/updater.py)
    agent_updates = AgentUpdates(state_dir, Path(running.local_config.path).parent,
                                 (running.config.center.id, running.config.agent.id),
                                 _credentials(running.config), str(inventory.get("software")))
    birth = Birth(running, opened, config_store, agent_updates, inventory)

    # what the link hears goes to the service it is for (set below: the link comes first,
    # its will and birth name this run's session)
    def on_message(incoming: Incoming) -> None:
        route_command(incoming, services)

    def on_published(mid: int) -> None:
        services.sender.published(mid)

    def on_connected() -> None:
        services.sender.connected()

    uplink = Uplink(running.config, broker_url, session=opened.session, birth=birth.message,
                    handlers=UplinkHandlers(on_message, on_published, on_connected))

    def announce() -> None:
        birth.refresh()
        uplink.announce()

    sender = ReportSender(opened, uplink, running)
    poller = DevicePoller(running, sender)
    configs = ConfigManager(running, config_store, poller, uplink, announce)
    status = StatusFile(running, sender, poller, uplink)
    services = AgentServices(
        running=running, uplink=uplink, sender=sender, poller=poller, configs=configs,
        heartbeat=Heartbeat(running, sender, status, configs, birth, uplink),
        updates=UpdateWatch(agent_updates, running, poller, sender, uplink, announce))
    return services


def route_command(incoming: Incoming, services: AgentServices) -> None:
    """The controller's retained commands to this box: a config, a config pull, an update,
    or an acknowledgement."""
    kind = wire.command_kind(incoming.topic)
    if kind is not None:
        from hcc_common import config_pull

        if config_pull.is_pull(incoming.topic):
            # not a command to run anything: the box sends the file it runs, to the
            # controllers only (the broker's ACL: no box reads config/current)
            services.configs.answer_pull(incoming)
            return
        if kind == "update":
            from hcc_common.release import decode_update

            if not incoming.payload:
                return  # an empty one is a withdrawn instruction
            cmd = _decoded(decode_update, incoming, "update instruction")
            if cmd is not None:
                services.updates.take(cmd)
            return
        if kind != "config":  # no other command exists: nothing else is taken
            log.warning("unknown command from the controller ignored",
                        extra={"topic": incoming.topic[:200]})
            return
        push = _decoded(wire.decode_config, incoming, "config")
        if push is not None:
            asyncio.get_running_loop().create_task(services.configs.apply_pushed(push))
        return
    ack = _decoded(wire.decode_ack, incoming, "acknowledgement")
    if ack is not None:
        services.sender.controller_ack(ack)


async def run(services: AgentServices, stop: asyncio.Event) -> None:
    """Run every service until `stop`; then the pollers end, the last reports are stored and
    sent, and the box says goodbye."""
    s, config = services, services.running.config
    log.info("agent starting", extra={"center": config.center.id, "agent": config.agent.id,
                                     "session": s.sender.session,
                                     "devices": len(config.devices),
                                     "broker": s.uplink.settings.url})
    s.sender.start(stop)
    s.uplink.start(asyncio.get_running_loop())
    receiver = None
    if config.traps is not None:
        from agent.traps import TrapReceiver

        receiver = TrapReceiver(config.traps, s.poller.on_trap)
        receiver.start()
    s.configs.started = True
    s.poller.start(stop)
    tasks = [asyncio.create_task(s.heartbeat.run(stop)),
             asyncio.create_task(s.updates.confirm_health(stop))]
    tasks.append(asyncio.create_task(sdnotify.watchdog(stop)))
    sdnotify.notify(f"READY=1\nSTATUS=watching {len(config.devices)} devices")
    try:
        await stop.wait()
    finally:
        tasks += list(s.poller.tasks.values())
        for t in tasks:
            t.cancel()
        sdnotify.notify("STOPPING=1")
        await asyncio.gather(*tasks, return_exceptions=True)
        await s.sender.finish()  # the last group: stored, then handed to the broker
        running = s.running.config
        bye = wire.StateMessage(running.center.id, running.agent.id, "offline",
                                s.sender.session, time.time())
        await asyncio.get_running_loop().run_in_executor(None, s.uplink.stop, wire.encode(bye))
        s.poller.close()
        if receiver is not None:
            receiver.close()
        await s.sender.close()
        log.info("agent stopped")


def _decoded(decode: Callable[[str, bytes], T], incoming: Incoming, what: str) -> T | None:
    try:
        return decode(incoming.topic, incoming.payload)
    except wire.WireError as exc:
        log.warning(f"unreadable {what} from the controller",
                    extra={"topic": incoming.topic[:200], "reason": str(exc)[:300]})
        return None


def run_forever(config: Config, broker_url: str | None) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        services = build(config, broker_url)
        reloads: set[asyncio.Task[None]] = set()

        def on_hup() -> None:  # systemctl reload hcc-agent (ExecReload=kill -HUP)
            if not services.configs.started:
                return  # not started yet: it reads the file as it starts
            task = loop.create_task(services.configs.reload_local())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        await run(services, stop)

    asyncio.run(main())


def _credentials(config: Config) -> tuple[str, str] | None:
    """The box's broker user and password: what it fetches releases with (agent/updater.py)."""
    if config.mqtt.username is None or config.mqtt.password_file is None:
        return None
    try:
        return config.mqtt.username, Path(config.mqtt.password_file).read_text().strip()
    except OSError:
        return None
