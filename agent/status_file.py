"""When the agent rewrites status.json: on a change of what it shows, else at most every
STATUS_REFRESH_S (an SD card is not rewritten at every heartbeat for a clock that moved)."""

from __future__ import annotations

from collections.abc import Mapping

# A status with nothing new still shows its age ("status written 2 min ago"): refreshed this often.
STATUS_REFRESH_S = 300.0
# Fields that move at every heartbeat without telling a technician anything new: times,
# counters and the box's own readings (CPU, temperature). The backlog shows as "some or none".
VOLATILE = frozenset({"written_at", "seq", "host", "backlog", "backlog_oldest_s",
                      "outbox_bytes"})
VOLATILE_DEVICE = frozenset({"last_poll"})


def shown(status: Mapping[str, object]) -> dict[str, object]:
    """What a rewrite would change for the reader, without the fields that only age."""
    out = {k: v for k, v in status.items() if k not in VOLATILE}
    out["backlog_waiting"] = bool(status.get("backlog"))
    devices = status.get("devices")
    if isinstance(devices, Mapping):
        # a device's first poll shows (last_poll from None to a time); later ones only age
        out["devices"] = {k: {f: (x is not None if f in VOLATILE_DEVICE else x)
                              for f, x in v.items()}
                          if isinstance(v, Mapping) else v for k, v in devices.items()}
    return out


def rewrite_due(previous: Mapping[str, object] | None, written_at: float | None,
                status: Mapping[str, object], now: float,
                refresh_s: float = STATUS_REFRESH_S) -> bool:
    """Rewrite when nothing was written yet, what it shows changed, or it is refresh_s old."""
    if previous is None or written_at is None:
        return True
    return shown(previous) != shown(status) or not 0 <= now - written_at < refresh_s
