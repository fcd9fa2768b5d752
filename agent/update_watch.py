"""Software updates on the box: signed instructions taken off the event loop, the new version confirmed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.device_poller import DevicePoller
from agent.report_sender import ReportSender
from agent.running import RunningConfig
from agent.uplink import Uplink

if TYPE_CHECKING:
    from agent.updater import AgentUpdates
    from hcc_common.release import UpdateCommand

log = logging.getLogger("hcc.agent")


class UpdateWatch:
    """Takes cmd/update instructions (agent/updater.py does the work) and, after an update,
    tells the installer this version runs well; each outcome goes out in a fresh birth."""

    def __init__(self, updates: AgentUpdates, running: RunningConfig, poller: DevicePoller,
                 sender: ReportSender, uplink: Uplink, announce: Callable[[], None]) -> None:
        self.updates = updates
        self.running = running
        self.poller = poller
        self.sender = sender
        self.uplink = uplink
        self.announce = announce

    def take(self, cmd: UpdateCommand) -> None:
        """A signed cmd/update: verified, downloaded and staged off the event loop."""
        async def take() -> None:
            outcome = await asyncio.get_running_loop().run_in_executor(
                None, self.updates.take, cmd, self.running.trusted)
            if outcome is not None:
                self.announce()

        asyncio.get_running_loop().create_task(take())

    async def confirm_health(self, stop: asyncio.Event) -> None:
        """After an update: every device loop started and the controller acknowledged this
        run (or the broker did, mqtt.confirm: broker) -> the installer may keep this version."""
        while not stop.is_set():
            reached = self.uplink.connected and (self.sender.controller_acked_session
                                                 or not self.uplink.confirm_by_controller)
            if self.poller.all_running() and reached:
                if self.updates.confirm(self.sender.session):
                    log.info("update confirmed healthy", extra={"version": self.updates.running})
                    # the installer's verdict, once given, to the controller in a fresh birth
                    while not stop.is_set() and self.updates.inventory().get(
                            "update_state") == "installing":
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), 0.5)
                    self.announce()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)

