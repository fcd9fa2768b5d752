"""A poll's deadline that counts only the device's own waiting: not queueing, not a busy loop.

One event loop polls every device. A poll's wall-clock time also holds time it spent queued
for a request slot behind other devices (dead ones hold theirs for a whole timeout) and time
the loop spent running other devices' work (decoding a big walk). Neither is the device's
slowness: an answer that arrived while the loop was busy is not a timeout. So a `PollBudget`
moves its deadline by the time its poll waited for a slot (`queued`) and by the time the
loop was stalled (`LoopStalls`), and `within` enforces that moving deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
import weakref
from collections.abc import AsyncIterator, Awaitable
from typing import TypeVar

T = TypeVar("T")

# How often the stall monitor looks at the loop; a late wake-up past this is a stall.
TICK_S = 0.05
# A wall-clock bound on any poll, whatever its extensions: a guard against an endless queue.
HARD_CAP_FACTOR = 10.0


class LoopStalls:
    """Seconds the running loop was late to wake a sleeper: time it was busy with others."""

    def __init__(self) -> None:
        self._total = 0.0
        self._due: float | None = None  # when the monitor's current sleep should end
        self._users = 0
        self._task: asyncio.Task[None] | None = None

    def total(self) -> float:
        """Stalled seconds so far, including a stall the monitor has not woken up from yet."""
        pending = 0.0
        if self._due is not None:
            pending = max(0.0, time.monotonic() - self._due)
        return self._total + pending

    def hold(self) -> None:
        self._users += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def release(self) -> None:
        self._users -= 1
        if self._users <= 0 and self._task is not None:
            self._task.cancel()
            self._task = None
            self._due = None

    async def _watch(self) -> None:
        while True:
            self._due = time.monotonic() + TICK_S
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            self._total += max(0.0, now - self._due)
            self._due = None


_STALLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopStalls] = (
    weakref.WeakKeyDictionary())


def loop_stalls() -> LoopStalls:
    loop = asyncio.get_running_loop()
    stalls = _STALLS.get(loop)
    if stalls is None:
        stalls = _STALLS[loop] = LoopStalls()
    return stalls


class PollBudget:
    """`limit` seconds of a poll's own time, from now."""

    def __init__(self, limit: float, stalls: LoopStalls) -> None:
        self.limit = limit
        self._queued = 0.0  # finished waits for a slot
        self._waiting = 0  # waits for a slot under way (their union counts, once)
        self._waiting_since = 0.0
        self._stalls = stalls
        self._started = time.monotonic()
        self._stalled_at_start = stalls.total()

    def begin_wait(self) -> None:
        if self._waiting == 0:
            self._waiting_since = time.monotonic()
        self._waiting += 1

    def end_wait(self) -> None:
        self._waiting -= 1
        if self._waiting == 0:
            self._queued += time.monotonic() - self._waiting_since

    def queued(self) -> float:
        """Seconds spent waiting for a request slot, a wait under way included."""
        if self._waiting:
            return self._queued + time.monotonic() - self._waiting_since
        return self._queued

    def deadline(self) -> float:
        """Monotonic time the poll must be done by; later by each second it did not own."""
        stalled = self._stalls.total() - self._stalled_at_start
        own = self._started + self.limit + self.queued() + stalled
        return min(own, self._started + self.limit * HARD_CAP_FACTOR)

    def remaining(self) -> float:
        return self.deadline() - time.monotonic()


CURRENT: contextvars.ContextVar[PollBudget | None] = contextvars.ContextVar(
    "hcc_poll_budget", default=None)


@contextlib.asynccontextmanager
async def queued_for(slots: asyncio.Semaphore) -> AsyncIterator[None]:
    """Hold one of `slots`; the wait for it is queueing, not the device's time."""
    budget = CURRENT.get()
    if budget is not None:
        budget.begin_wait()
    try:
        await slots.acquire()
    finally:
        if budget is not None:
            budget.end_wait()
    try:
        yield
    finally:
        slots.release()


async def within(limit: float, work: Awaitable[T]) -> T:
    """Run `work` in a task of its own under a `PollBudget` of `limit` s; TimeoutError past it."""
    stalls = loop_stalls()
    stalls.hold()
    budget = PollBudget(limit, stalls)
    token = CURRENT.set(budget)
    try:
        task = asyncio.ensure_future(work)  # copies the context: the task sees its budget
    finally:
        CURRENT.reset(token)
    try:
        while not task.done():
            remaining = budget.remaining()
            if remaining <= 0:
                # Once more through the loop before calling it: answers already received are
                # processed first (an answer that arrived is not a timeout).
                await asyncio.sleep(0)
                if task.done() or budget.remaining() > 0:
                    continue
                task.cancel()
                await asyncio.wait({task})
                if task.cancelled():
                    raise TimeoutError
                break  # it finished while being cancelled: keep its result
            await asyncio.wait({task}, timeout=remaining)
        return task.result()
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stalls.release()
