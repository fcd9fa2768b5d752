"""What the fleet changed but has not stored yet, turned into effects when the ingest shell says so."""

from __future__ import annotations

import itertools

from controller.state import Changes, Effect, Fleet, TimerState


class WriteBehind:
    """The changes of every call since they were last taken (one per fleet: a fleet read again
    from the store comes with a fresh one). Agents and timers go with each batch; readings
    that changed no status are written behind, a slice at a time."""

    def __init__(self) -> None:
        self.changes = Changes()

    @property
    def readings_waiting(self) -> bool:
        return bool(self.changes.readings)

    def agents(self, fleet: Fleet) -> list[Effect]:
        """Snapshots of the agents that changed since the last call (one per agent per batch)."""
        out: list[Effect] = [fleet.agents[k].snapshot() for k in self.changes.agents]
        self.changes.agents.clear()
        return out

    def timers(self, fleet: Fleet) -> list[Effect]:
        """The timers that started or ended since the last call, as they are now."""
        out: list[Effect] = []
        for key in self.changes.timers:
            if key in fleet.pending:
                out.append(TimerState(key, "pending", fleet.pending[key][0]))
            elif key in fleet.clearing:
                out.append(TimerState(key, "clearing", fleet.clearing[key]))
            else:
                out.append(TimerState(key, "", 0.0))
        self.changes.timers.clear()
        return out

    def devices(self, fleet: Fleet, limit: int | None = None) -> list[Effect]:
        """The latest readings of devices whose status and faults did not change since they
        were last stored, oldest first (DeviceInfo is replaced on each report, never mutated:
        no copy)."""
        waiting = self.changes.readings
        if limit is None or limit >= len(waiting):
            out: list[Effect] = [fleet.devices[k] for k in waiting]
            waiting.clear()
            return out
        keys = list(itertools.islice(waiting, limit))
        for k in keys:
            del waiting[k]
        return [fleet.devices[k] for k in keys]

    def everything(self, fleet: Fleet) -> list[Effect]:
        """All of it (before another controller reads the store, or at stop)."""
        return self.agents(fleet) + self.devices(fleet) + self.timers(fleet)
