"""A staged rollout of a release as a pure state machine: canary first, then batches, each only once
the one before is healthy; a failure halts it. No I/O: the service feeds it what the boxes' births
say and publishes the instructions it returns (controller/rollout_service.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

RolloutState = Literal["running", "paused", "halted", "aborted", "done"]
BoxState = Literal["waiting", "sent", "healthy", "failed"]
ACTIVE: tuple[RolloutState, ...] = ("running", "paused", "halted")
# A box that took the instruction but has not shown the new version healthy for this long while
# online has failed (the box's own health timeout is shorter: it rolls back first, and says so).
HEALTH_TIMEOUT_S = 600.0


class RolloutError(ValueError):
    """An operator request that cannot be done (the text says why)."""


@dataclass(frozen=True, kw_only=True)
class Box:
    center: str
    agent: str
    wave: int  # 0: the canary; then 1, 2, ... batches of K
    state: BoxState = "waiting"
    sent_at: float | None = None
    # when the health clock started: sent to an online box, or when an offline one came back
    clock_from: float | None = None
    offline: bool = False  # sent, and the box is not connected
    reason: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.center, self.agent


@dataclass(frozen=True, kw_only=True)
class Rollout:
    id: int
    version: str
    state: RolloutState
    boxes: tuple[Box, ...]
    batch: int
    pause_on_failure: bool = False
    allow_downgrade: bool = False
    created: float = 0.0
    reason: str = ""
    health_timeout_s: float = HEALTH_TIMEOUT_S
    # aborted, and the instructions not yet carried out withdrawn from the broker
    withdrawn: bool = False

    @property
    def wave(self) -> int:
        """The wave under way: the first not passed (-1: all passed). A wave has passed when
        one of its boxes at least is healthy (or failed) and none is left but healthy, failed or offline
        (an offline box takes its instruction when it returns; it holds back no other center,
        but a wave whose boxes are all offline proves nothing and waits)."""
        for w in sorted({b.wave for b in self.boxes}):
            members = [b for b in self.boxes if b.wave == w]
            pending = any(b.state == "waiting" or (b.state == "sent" and not b.offline)
                          for b in members)
            # (a failed box halted the rollout already: resumed, its wave counts as passed)
            if pending or not any(b.state in ("healthy", "failed") for b in members):
                return w
        return -1

    def counts(self) -> dict[str, int]:
        out = {"waiting": 0, "sent": 0, "healthy": 0, "failed": 0}
        for b in self.boxes:
            out[b.state] += 1
        return out


@dataclass(frozen=True, kw_only=True)
class BoxReport:
    """What the controller last heard from a box (its birth's inventory)."""

    online: bool
    software: str | None = None
    update_version: str | None = None
    update_state: str | None = None  # "ok", "rolled_back", "refused" (agent/updater.py)
    update_reason: str = ""


@dataclass(frozen=True)
class Send:
    """Publish the signed cmd/update for this box (retained: an offline box gets it on return)."""

    center: str
    agent: str
    version: str


@dataclass(frozen=True)
class Withdraw:
    """Clear the box's retained cmd/update (an aborted rollout: a returning box gets nothing)."""

    center: str
    agent: str


@dataclass(frozen=True)
class Failed:
    """Tell the desk: an alert for this box, and the channels."""

    center: str
    agent: str
    version: str
    reason: str


@dataclass(frozen=True)
class Healthy:
    """The box runs the release healthy: an earlier failed update's alert is over."""

    center: str
    agent: str
    version: str


Action = Send | Withdraw | Failed | Healthy


def plan(rollout_id: int, version: str, boxes: Sequence[tuple[str, str]], *, canary: int = 1,
         centers: Sequence[str] = (), batch: int = 10, pause_on_failure: bool = False,
         allow_downgrade: bool = False, now: float = 0.0,
         health_timeout_s: float = HEALTH_TIMEOUT_S) -> Rollout:
    """The waves: the canary (the first `canary` boxes in center order, or every box of
    `centers`), then the others in batches of `batch`."""
    if batch < 1:
        raise RolloutError("--batch must be at least 1")
    ordered = sorted(set(boxes))
    if not ordered:
        raise RolloutError("no box to update (none enrolled or declared)")
    if centers:
        unknown = sorted(set(centers) - {c for c, _a in ordered})
        if unknown:
            raise RolloutError(f"--centers: no box in {', '.join(unknown)}")
        first = [b for b in ordered if b[0] in set(centers)]
    else:
        if canary < 1:
            raise RolloutError("--canary must be at least 1")
        first = ordered[:canary]
    rest = [b for b in ordered if b not in set(first)]
    waves = [Box(center=c, agent=a, wave=0) for c, a in first]
    waves += [Box(center=c, agent=a, wave=1 + i // batch) for i, (c, a) in enumerate(rest)]
    return Rollout(id=rollout_id, version=version, state="running", boxes=tuple(waves),
                   batch=batch, pause_on_failure=pause_on_failure,
                   allow_downgrade=allow_downgrade, created=now,
                   health_timeout_s=health_timeout_s)


def step(r: Rollout, reports: Mapping[tuple[str, str], BoxReport], now: float
         ) -> tuple[Rollout, list[Action]]:
    """One turn: judge the boxes sent the instruction, then (running) send the current wave."""
    if r.state == "aborted" and not r.withdrawn:
        return replace(r, withdrawn=True), [Withdraw(b.center, b.agent) for b in r.boxes
                                            if b.reason == "aborted"]
    if r.state in ("aborted", "done"):
        return r, []
    actions: list[Action] = []
    boxes: list[Box] = []
    failures: list[str] = []
    for b in r.boxes:
        nb = _judge(r, b, reports.get(b.key), now)
        if nb.state == "failed" and b.state != "failed":
            actions.append(Failed(b.center, b.agent, r.version, nb.reason))
            failures.append(f"{b.center}/{b.agent}: {nb.reason}")
        elif nb.state == "healthy" and b.state != "healthy":
            actions.append(Healthy(b.center, b.agent, r.version))
        boxes.append(nb)
    r = replace(r, boxes=tuple(boxes))
    if failures and r.state == "running":
        # a failure halts the rollout: no further wave until an operator resumes it
        r = replace(r, state="paused" if r.pause_on_failure else "halted",
                    reason="; ".join(failures)[:500])
    if r.state != "running":
        return r, actions
    wave = r.wave
    if wave < 0:
        if any(b.state == "sent" for b in r.boxes):
            return r, actions  # only boxes that are offline left: they update on return
        return replace(r, state="done"), actions
    boxes = list(r.boxes)
    for i, b in enumerate(boxes):
        if b.wave == wave and b.state == "waiting":
            report = reports.get(b.key)
            online = report is not None and report.online
            boxes[i] = replace(b, state="sent", sent_at=now, clock_from=now if online else None,
                               offline=not online)
            actions.append(Send(b.center, b.agent, r.version))
    return replace(r, boxes=tuple(boxes)), actions


def _judge(r: Rollout, b: Box, report: BoxReport | None, now: float) -> Box:
    if b.state != "sent":
        return b
    b = replace(b, offline=False) if report is not None and report.online else b
    if report is None or not report.online:
        # offline: the retained instruction waits for it; its health clock waits too
        return replace(b, clock_from=None, offline=True)
    if report.update_version == r.version and report.update_state in ("rolled_back", "refused"):
        return replace(b, state="failed", reason=(report.update_reason
                                                  or report.update_state)[:300])
    if report.software == r.version and report.update_state == "ok" \
            and report.update_version == r.version:
        return replace(b, state="healthy", reason="")
    if b.clock_from is None:
        return replace(b, clock_from=now)  # back online: its clock starts now
    if now - b.clock_from > r.health_timeout_s:
        return replace(b, state="failed",
                       reason=f"not healthy on {r.version} after {r.health_timeout_s:.0f} s "
                              f"online (runs {report.software or '?'})")
    return b


def pause(r: Rollout) -> Rollout:
    if r.state != "running":
        raise RolloutError(f"rollout {r.id} is {r.state}, not running")
    return replace(r, state="paused")


def resume(r: Rollout) -> Rollout:
    """Go on after a pause or a halt: the failed boxes stay failed (they run their old version);
    the next wave starts once the current one's other boxes are healthy."""
    if r.state not in ("paused", "halted"):
        raise RolloutError(f"rollout {r.id} is {r.state}: only a paused or halted one resumes")
    return replace(r, state="running", reason="")


def abort(r: Rollout) -> Rollout:
    """Stop for good: boxes not yet updated get nothing more (the next step withdraws the
    instructions they have not carried out: an offline box that returns finds none); boxes
    already on the new version stay on it (a rollback is a rollout of the old version)."""
    if r.state in ("aborted", "done"):
        raise RolloutError(f"rollout {r.id} is already {r.state}")
    boxes = tuple(replace(b, state="failed", reason="aborted") if b.state == "sent" else b
                  for b in r.boxes)
    return replace(r, state="aborted", boxes=boxes)


def status_json(r: Rollout) -> dict[str, Any]:
    """A rollout as the CLI and the API show it: progress and each box with its reason."""
    wave = r.wave
    if r.state in ("halted", "paused", "aborted"):
        # where it stopped: the last wave a box was sent in (a failed wave counts as passed)
        wave = max((b.wave for b in r.boxes if b.state != "waiting"), default=0)
    return {"id": r.id, "version": r.version, "state": r.state, "reason": r.reason,
            "wave": wave, "waves": 1 + max(b.wave for b in r.boxes), "counts": r.counts(),
            "boxes": [{"center": b.center, "agent": b.agent, "wave": b.wave, "state": b.state,
                       "offline": b.offline, "reason": b.reason} for b in r.boxes]}
