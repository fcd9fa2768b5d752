"""Each device polled on its interval (at once on a trap), its result through the fault hold to the sender."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field, replace

from agent import poller
from agent.checks.base import status_of
from agent.checks.context import CheckContext
from agent.hold import FaultHold
from agent.report_sender import ReportSender, sleep_or_event, sleep_or_stop
from agent.running import RunningConfig
from hcc_common import wire
from hcc_common.devices_config import Config, Device

log = logging.getLogger("hcc.agent")


@dataclass
class DeviceStatus:
    status: str = "pending"
    last_poll: float | None = None
    faults: list[str] = field(default_factory=list)
    error: str | None = None


class DevicePoller:
    """One task per device of the running config; devices added, changed or removed by a new
    config are started and stopped one by one, the others go on."""

    def __init__(self, running: RunningConfig, sender: ReportSender) -> None:
        self.running = running
        self.sender = sender
        config = running.config
        self.ctx = CheckContext(center=config.center)
        self.hold = FaultHold(config.holds)
        self.devices: dict[str, DeviceStatus] = {d.id: DeviceStatus() for d in config.devices}
        # Set to poll a device now instead of at its next interval (a trap arrived).
        self.wake: dict[str, asyncio.Event] = {}
        self.traps_for_unknown = 0
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self._stop: asyncio.Event | None = None

    def start(self, stop: asyncio.Event) -> None:
        self._stop = stop
        for d in self.running.config.devices:
            self.start_device(d)

    def all_running(self) -> bool:
        """Every device of the running config has its loop, and none has ended."""
        return all(d.id in self.tasks and not self.tasks[d.id].done()
                   for d in self.running.config.devices)

    def on_trap(self, source: str, trap_oid: str) -> None:
        """A trap means "something changed": poll every device at that address right away."""
        matched = [d for d in self.running.config.devices if d.host == source]
        if not matched:
            self.traps_for_unknown += 1
            log.warning("trap from an address no device has", extra={"source": source,
                                                                    "trap": trap_oid})
        for d in matched:
            self.wake.setdefault(d.id, asyncio.Event()).set()

    async def _device_loop(self, device: Device, stop: asyncio.Event) -> None:
        # Spread first polls over the interval so 30 devices do not all fire at once.
        await sleep_or_stop(stop, random.uniform(0, min(device.interval, 5.0)))
        c, a = self.running.config.center.id, self.running.config.agent.id
        while not stop.is_set():
            started = time.monotonic()
            combined = await poller.poll(device, self.ctx)
            held = self.hold.apply(device.id, combined.faults, time.monotonic())
            if held != combined.faults and combined.status != "unreachable":
                combined = replace(combined, faults=held, status=status_of(held))
            now = time.time()
            await self.sender.send_or_confirm(wire.Result(
                center=c, agent=a, device=device.id, session=self.sender.session, seq=0,
                ts=now, device_type=device.type, device_name=device.name,
                status=combined.status, metrics=combined.metrics, faults=combined.faults,
                error=combined.error))
            st = self.devices[device.id]
            st.status, st.last_poll = combined.status, time.time()
            st.faults, st.error = [f.code for f in combined.faults], combined.error
            elapsed = time.monotonic() - started
            jitter = random.uniform(-0.05, 0.05) * device.interval
            wake = self.wake.setdefault(device.id, asyncio.Event())
            await sleep_or_event(stop, wake, max(0.0, device.interval - elapsed + jitter))
            wake.clear()

    def start_device(self, device: Device) -> None:
        assert self._stop is not None
        self.devices.setdefault(device.id, DeviceStatus())
        self.tasks[device.id] = asyncio.create_task(self._device_loop(device, self._stop))
        log.info("device loop started", extra={"device": device.id})

    async def stop_device(self, device_id: str, *, forget: bool = False) -> None:
        task = self.tasks.pop(device_id, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.ctx.chosen_profiles.pop(device_id, None)
        self.ctx.previous_readings.pop(device_id, None)
        if forget:  # removed from the config: not shown in the status any more
            self.devices.pop(device_id, None)

    def reconfigure(self, new: Config) -> None:
        """The center and holds of a new config (its devices are started by the caller)."""
        self.ctx.center = new.center
        self.hold = FaultHold(new.holds)

    def close(self) -> None:
        self.ctx.close()
