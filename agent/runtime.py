"""The running agent: schedules every device's polls, the heartbeat, and hands results to MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from agent import poller
from agent.checks import host
from agent.checks.base import combine, status_of
from agent.checks.context import CheckContext
from agent.config import Config, Device
from agent.hold import FaultHold
from hcc_common import wire
from hcc_common.mqtt_io import BrokerSettings, MqttLink

log = logging.getLogger("hcc.agent")

STATUS_FILE = "status.json"
BOX_NAME = "Máy giám sát (box)"


def next_session(state_dir: Path) -> int:
    """A per-start session number, persisted (a Pi has no RTC, so time cannot serve)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / "session"
    try:
        current = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        current = 0
    new = current + 1
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        fh.write(str(new))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return new


@dataclass
class DeviceStatus:
    status: str = "pending"
    last_poll: float | None = None
    faults: list[str] = field(default_factory=list)
    error: str | None = None


class Agent:
    def __init__(self, config: Config, broker_url: str | None = None) -> None:
        self.config = config
        self.session = next_session(config.agent.state_dir)
        self.seq = 0
        self.ctx = CheckContext(center=config.center)
        self.hold = FaultHold(config.holds)
        self.devices: dict[str, DeviceStatus] = {d.id: DeviceStatus() for d in config.devices}
        # Set to poll a device now instead of at its next interval (a trap arrived).
        self.wake: dict[str, asyncio.Event] = {}
        self.traps_for_unknown = 0
        settings = config.mqtt
        if broker_url is not None:
            from agent.config import broker_from_url

            host_, port, tls = broker_from_url(broker_url)
            settings = replace(settings, host=host_, port=port, tls=tls)
        self.mqtt_settings = settings
        password = None
        if settings.password_file is not None:
            password = Path(settings.password_file).read_text().strip()
        c, a = config.center.id, config.agent.id
        self.link = MqttLink(
            BrokerSettings(settings.host, settings.port, settings.tls, settings.keepalive,
                           settings.username, password, settings.ca_file),
            client_id=f"hcc-agent-{c}-{a}",
            will=wire.encode(wire.StateMessage(c, a, "offline", self.session, time.time())),
            birth=lambda: wire.encode(
                wire.StateMessage(c, a, "online", self.session, time.time())
            ),
        )

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    async def _device_loop(self, device: Device, stop: asyncio.Event) -> None:
        # Spread first polls over the interval so 30 devices do not all fire at once.
        await _sleep_or_stop(stop, random.uniform(0, min(device.interval, 5.0)))
        while not stop.is_set():
            started = time.monotonic()
            combined = await poller.poll(device, self.ctx)
            held = self.hold.apply(device.id, combined.faults, time.monotonic())
            if held != combined.faults and combined.status != "unreachable":
                combined = replace(combined, faults=held, status=status_of(held))
            result = wire.Result(
                self.config.center.id, self.config.agent.id, device.id, self.session,
                self._next_seq(), time.time(), device.type, device.name, combined.status,
                combined.metrics, combined.faults, combined.error,
            )
            self.link.publish(wire.encode(result))
            st = self.devices[device.id]
            st.status, st.last_poll = combined.status, time.time()
            st.faults, st.error = [f.code for f in combined.faults], combined.error
            log.debug("polled", extra={"device": device.id, "status": combined.status})
            elapsed = time.monotonic() - started
            jitter = random.uniform(-0.05, 0.05) * device.interval
            wake = self.wake.setdefault(device.id, asyncio.Event())
            await _sleep_or_event(stop, wake, max(0.0, device.interval - elapsed + jitter))
            wake.clear()

    def on_trap(self, source: str, trap_oid: str) -> None:
        """A trap means "something changed": poll every device at that address right away."""
        matched = [d for d in self.config.devices if d.host == source]
        if not matched:
            self.traps_for_unknown += 1
            log.warning("trap from an address no device has", extra={"source": source,
                                                                    "trap": trap_oid})
        for d in matched:
            self.wake.setdefault(d.id, asyncio.Event()).set()

    async def _heartbeat_loop(self, stop: asyncio.Event) -> None:
        interval = self.config.agent.heartbeat
        while not stop.is_set():
            outcome = await host.run(self.config.agent.state_dir)
            box = combine([outcome])
            # The box reports its own faults (under-voltage, disk full...) as a device of its own.
            self.link.publish(wire.encode(wire.Result(
                self.config.center.id, self.config.agent.id, self.config.agent.id, self.session,
                self._next_seq(), time.time(), "box", BOX_NAME, box.status, box.metrics,
                box.faults, box.error)))
            hb = wire.Heartbeat(
                self.config.center.id, self.config.agent.id, self.session, self._next_seq(),
                time.time(), interval, outcome.metrics, backlog=self.backlog(),
            )
            self.link.publish(wire.encode(hb))
            self._write_status(outcome.metrics)
            await _sleep_or_stop(stop, interval)

    def backlog(self) -> int:
        return self.link.unacked()

    def _write_status(self, host_metrics: object) -> None:
        status = {
            "center": self.config.center.id, "agent": self.config.agent.id,
            "session": self.session, "seq": self.seq, "broker": self.mqtt_settings.url,
            "connected": self.link.connected, "backlog": self.backlog(),
            "dropped": self.link.dropped, "written_at": time.time(), "host": host_metrics,
            "devices": {k: vars(v) for k, v in self.devices.items()},
        }
        path = self.config.agent.state_dir / STATUS_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, ensure_ascii=False, indent=1))
        os.replace(tmp, path)

    async def run(self, stop: asyncio.Event) -> None:
        log.info("agent starting", extra={"center": self.config.center.id,
                                         "agent": self.config.agent.id, "session": self.session,
                                         "devices": len(self.config.devices),
                                         "broker": self.mqtt_settings.url})
        self.link.start()
        receiver = None
        if self.config.traps is not None:
            from agent.traps import TrapReceiver

            receiver = TrapReceiver(self.config.traps, self.on_trap)
            receiver.start()
        tasks = [asyncio.create_task(self._device_loop(d, stop)) for d in self.config.devices]
        tasks.append(asyncio.create_task(self._heartbeat_loop(stop)))
        try:
            await stop.wait()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            bye = wire.StateMessage(self.config.center.id, self.config.agent.id, "offline",
                                    self.session, time.time())
            await asyncio.get_running_loop().run_in_executor(
                None, self.link.stop, wire.encode(bye)
            )
            self.ctx.close()
            if receiver is not None:
                receiver.close()
            log.info("agent stopped")


async def _sleep_or_event(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def run_forever(config: Config, broker_url: str | None) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Agent(config, broker_url).run(stop)

    asyncio.run(main())
