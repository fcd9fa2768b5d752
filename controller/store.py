"""The controller's store (SQLite or PostgreSQL): every aggregate's persistence
(controller/persistence/) over one connection, its schema made at open, and the ingest batch
written in one transaction."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from pathlib import Path

from controller import accounts, citizen_schema, history_store, leases
from controller.db import connect
from controller.persistence import (
    alerts,
    channel_state,
    config_pushes,
    dead_letters,
    devices,
    enrollment,
    notifications,
    report_runs,
    silences,
)
from controller.persistence.alerts import AlertChange, AlertNotFound, AlertRow
from controller.persistence.dead_letters import DeadLetter
from controller.persistence.silences import Silence
from controller.state import (
    AgentInfo,
    AlertKey,
    DeviceEvent,
    DeviceInfo,
    Effect,
    OpenAlert,
    Reading,
    ResolveAlert,
    TimerState,
)

# the records most importers want, from where they always were
__all__ = ["AlertChange", "AlertNotFound", "AlertRow", "DeadLetter", "Silence", "Store"]

SCHEMA = "".join(m.SCHEMA for m in (
    alerts, devices, silences, notifications, dead_letters, config_pushes, enrollment,
    report_runs, channel_state, history_store, leases, citizen_schema))


class Store(alerts.Alerts, devices.Devices, silences.Silences, notifications.Notifications,
            dead_letters.DeadLetters, config_pushes.ConfigPushes, enrollment.Enrollments,
            report_runs.ReportRuns, channel_state.ChannelStates):
    """Every aggregate at once over one connection: each one's methods are its own module's;
    this class adds only opening (the schema), reconnecting and the ingest batch."""

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        """`path` is an SQLite file, or a postgresql:// URL."""
        self.path = str(path)
        self.readonly = readonly
        super().__init__(connect(path, readonly))
        if not readonly:
            self.db.schema(SCHEMA)
            for table, column, definition in devices.MIGRATIONS:
                self.db.add_column(table, column, definition)
            accounts.ensure_schema(self.db)

    def close(self) -> None:
        self.db.close()

    def reopen(self) -> None:
        """A new connection after the old one broke (a PostgreSQL failover or restart)."""
        with contextlib.suppress(*self.db.errors):
            self.db.close()  # it is broken already; only the new one matters
        self.db = connect(self.path, self.readonly)

    def write(self, effects: Sequence[Effect],
              stats: dict[str, int] | None = None) -> list[AlertChange]:
        """Persist effects in one transaction; returns the alert changes (for the live feed and
        the log), each alert as the statement that changed it wrote it: nothing read again."""
        changes: list[AlertChange] = []
        agents: dict[tuple[str, str], AgentInfo] = {}
        device_infos: dict[tuple[str, str, str], DeviceInfo] = {}
        events: list[DeviceEvent] = []
        readings: list[Reading] = []
        timers: dict[AlertKey, TimerState] = {}
        with self.db.transaction() as cur:
            for e in effects:
                if isinstance(e, AgentInfo):
                    agents[(e.center, e.agent)] = e  # only the last snapshot matters
                elif isinstance(e, DeviceInfo):
                    device_infos[(e.center, e.agent, e.device)] = e
                elif isinstance(e, DeviceEvent):
                    events.append(e)
                elif isinstance(e, Reading):
                    readings.append(e)
                elif isinstance(e, TimerState):
                    timers[e.key] = e
                elif isinstance(e, OpenAlert):
                    opened = alerts.open_alert(cur, e)
                    if opened is not None:
                        changes.append(opened)
                elif isinstance(e, ResolveAlert):
                    resolved = alerts.resolve_key(cur, e.key, e.at, e.reason)
                    if resolved is not None:
                        changes.append(resolved)
            devices.write_agents(cur, agents.values())
            devices.write_device_events(cur, events)
            devices.write_devices(cur, device_infos.values())
            history_store.write_readings(cur, readings, time.time())
            alerts.write_timers(cur, timers.values())
            if stats:
                devices.write_stats(cur, stats)
        return changes

