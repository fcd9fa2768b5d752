"""What the box says of itself in its birth (retained): session, running config, updates, outbox."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from agent.inventory import inventory
from agent.outbox import Outbox
from agent.pushed_config import ConfigStore
from agent.report_sender import Opened
from agent.running import RunningConfig
from agent.trust import describe
from hcc_common import wire
from hcc_common.wire import MetricValue

if TYPE_CHECKING:
    from agent.updater import AgentUpdates


class Birth:
    """The inventory, refreshed when something in it changes (never on paho's thread, which
    builds the birth message from what was last refreshed)."""

    def __init__(self, running: RunningConfig, opened: Opened, config_store: ConfigStore,
                 updates: AgentUpdates, inventory_now: dict[str, MetricValue]) -> None:
        self.running = running
        self.opened = opened
        self.outbox: Outbox | None = opened.outbox
        self.config_store = config_store
        self.updates = updates
        # computed once: the birth is built on paho's thread, which must not read files
        self.inventory = inventory_now
        self.outbox_generation = 0  # of the outbox as last told
        self.refresh()

    def refresh(self) -> None:
        running = self.running
        pushed = running.pushed
        self.inventory = {**self.inventory, "config_version": running.version,
                          "config_source": "pushed" if pushed else "local",
                          "devices": len(running.config.devices)}
        if pushed:
            self.inventory["local_config_version"] = running.local_version
            at_push = self.config_store.state().local_at_push
            # a local edit while a pushed config runs: ignored, and said so
            self.inventory["local_drift"] = int(at_push is not None
                                                and at_push != running.local_version)
        else:
            self.inventory.pop("local_config_version", None)
            self.inventory.pop("local_drift", None)
        # whether and with which keys this box verifies pushed configs (docs/security.md)
        self.inventory["config_push"] = describe(running.trusted, running.trust_problem)[:200]
        self.inventory.update(self.updates.inventory())
        if running.error:
            self.inventory["config_error"] = running.error[:300]
        else:
            self.inventory.pop("config_error", None)
        damage = self.outbox.damage if self.outbox is not None else []
        if damage:  # a damaged outbox was set aside in this run: the controller is told
            self.inventory["outbox_damaged"] = damage[-1].moved_to
            self.inventory["outbox_salvaged"] = sum(d.salvaged for d in damage)
            self.inventory["outbox_unreadable"] = sum(d.unreadable for d in damage)
        self.outbox_generation = self.outbox.generation if self.outbox is not None else 0

    def outbox_replaced(self) -> bool:
        """A damaged outbox was set aside since the inventory was last refreshed."""
        return self.outbox is not None and self.outbox.generation != self.outbox_generation

    def message(self) -> wire.Encoded:
        config, o = self.running.config, self.opened
        return wire.encode(wire.StateMessage(config.center.id, config.agent.id, "online",
                                             o.session, time.time(), o.prev_session or None,
                                             o.prev_last_seq if o.prev_session else None,
                                             float(config.mqtt.keepalive), self.inventory))


def first_inventory(running: RunningConfig) -> dict[str, MetricValue]:
    """The box's software and hardware, read once at start."""
    return inventory(Path(running.config.path), len(running.config.devices))
