"""The heartbeat: the box as a device, its host readings and backlog; and the status file technicians read."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time

from agent.birth import Birth
from agent.checks import host
from agent.checks.base import combine
from agent.config_manager import ConfigManager
from agent.device_poller import DevicePoller
from agent.outbox import TELEMETRY, Backlog
from agent.report_filter import Sent, is_news
from agent.report_sender import OUTBOX_FILE, ReportSender, sleep_or_stop
from agent.running import RunningConfig
from agent.status_file import rewrite_due
from agent.uplink import Uplink
from hcc_common import wire
from hcc_common.wire import MetricValue

log = logging.getLogger("hcc.agent")

STATUS_FILE = "status.json"
BOX_NAME = "Máy giám sát"  # the glossary's word; the controller says it in the reader's language


class StatusFile:
    """status.json in the state folder (`hcc-agent status` reads it): rewritten atomically,
    and only when what it shows changed or it grew old (an SD card wears)."""

    def __init__(self, running: RunningConfig, sender: ReportSender, poller: DevicePoller,
                 uplink: Uplink) -> None:
        self.running = running
        self.sender = sender
        self.poller = poller
        self.uplink = uplink
        self._shown: dict[str, object] | None = None  # status.json as last written
        self._at: float | None = None

    def write(self, host_metrics: object, backlog: Backlog) -> None:
        config, sender, outbox = self.running.config, self.sender, self.sender.outbox
        now = time.time()
        status: dict[str, object] = {
            "center": config.center.id, "agent": config.agent.id,
            "session": sender.session, "seq": sender.seq, "broker": self.uplink.settings.url,
            "connected": self.uplink.connected, "backlog": backlog.count,
            # why it last failed to reach the broker (hcc-agent status says it plainly)
            "broker_problem": vars(self.uplink.link.last_failure)
            if self.uplink.link.last_failure is not None and not self.uplink.connected else None,
            "backlog_oldest_s": backlog.oldest_age_s, "outbox_bytes": backlog.bytes,
            "dropped_telemetry": backlog.dropped_telemetry,
            "dropped_events": backlog.dropped_events, "unbuffered": sender.unbuffered,
            "traps_from_unknown": self.poller.traps_for_unknown,
            "outbox": str(config.agent.state_dir / OUTBOX_FILE) if outbox is not None else None,
            "outbox_damaged": [vars(d) for d in outbox.damage] if outbox is not None else [],
            "written_at": now, "host": host_metrics,
            # copies: the status kept to compare with must not change with the devices
            "devices": {k: dict(vars(v)) for k, v in self.poller.devices.items()},
        }
        path = config.agent.state_dir / STATUS_FILE
        if path.exists() and not rewrite_due(self._shown, self._at, status, now):
            return
        tmp = path.with_suffix(".tmp")
        try:
            # atomic: a reader sees the old file or the new one, never half of one
            tmp.write_text(json.dumps(status, ensure_ascii=False, indent=1))
            os.replace(tmp, path)
            self._shown, self._at = status, now
        except OSError as exc:
            log.warning("cannot write status file", extra={"path": str(path),
                                                           "error": exc.strerror})


class Heartbeat:
    """On a fixed grid: the box as a device, the heartbeat (host readings, backlog, the
    devices confirmed unchanged), the status file, and a look for a local edit of the config."""

    def __init__(self, running: RunningConfig, sender: ReportSender, status: StatusFile,
                 configs: ConfigManager, birth: Birth, uplink: Uplink) -> None:
        self.running = running
        self.sender = sender
        self.status = status
        self.configs = configs
        self.birth = birth
        self.uplink = uplink
        self._host_sent: Sent | None = None  # the box's readings last sent in a heartbeat

    async def run(self, stop: asyncio.Event) -> None:
        config, sender = self.running.config, self.sender
        interval = config.agent.heartbeat
        c, a = config.center.id, config.agent.id
        next_at = time.monotonic()
        while not stop.is_set():
            agent = self.running.config.agent
            # On a fixed grid, not "sleep after the work": heartbeats stay `interval` apart.
            next_at += interval
            outcome = await host.run(agent.state_dir)
            box = combine([outcome])
            now = time.time()
            by_exception = agent.report == "changes"
            # The box reports its own faults (under-voltage, disk full...) as a device of its
            # own, by exception like the others when the box is set so.
            await sender.send_or_confirm(wire.Result(
                center=c, agent=a, device=a, session=sender.session, seq=0, ts=now,
                device_type="box", device_name=BOX_NAME, status=box.status,
                metrics=box.metrics, faults=box.faults, error=box.error))
            backlog = await sender.backlog()
            host_metrics: dict[str, MetricValue] = {
                **outcome.metrics, "outbox_count": backlog.count,
                "outbox_oldest_s": backlog.oldest_age_s, "outbox_bytes": backlog.bytes,
                "outbox_dropped": backlog.dropped_telemetry + backlog.dropped_events,
                "unbuffered": sender.unbuffered}
            if by_exception:
                # the host readings only when they moved past their deadbands (or now and
                # then); an empty host tells the controller "as before"
                agent = self.running.config.agent
                if is_news(self._host_sent, "ok", (), host_metrics, now,
                           agent.refresh_s, agent.deadbands):
                    self._host_sent = Sent("ok", (), host_metrics, now)
                else:
                    host_metrics = {}
            kept = await sender.kept_from()
            if self.birth.outbox_replaced():
                self.configs.report(self.running.error)  # a fresh birth: outbox set aside
            await sender.emit(wire.Heartbeat(c, a, sender.session, 0, time.time(), interval,
                                             host_metrics, backlog=backlog.count,
                                             kept_from=kept,
                                             unchanged=sender.take_unchanged()),
                              TELEMETRY)
            await asyncio.get_running_loop().run_in_executor(
                None, self.status.write, outcome.metrics, backlog)
            # a local edit of devices.yaml while a pushed config runs: report it (drift)
            await self.configs.check_local_edit()
            now = time.monotonic()
            if next_at < now:
                next_at = now  # the box was suspended or overloaded: no burst to catch up
            await sleep_or_stop(stop, next_at - now)
