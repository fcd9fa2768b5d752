"""Several controllers on one database each read every alert change (their live streams need
them all), but each change's outward effects (notifications, the MQTT alert topic) happen once:
controller/feed.take_outward, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

from controller.feed import AlertFeed, StorePerThread, take_outward
from controller.state import AlertKey, OpenAlert, ResolveAlert
from controller.store import AlertChange, Store


def _write_changes(store: Store, n: int, start: float) -> None:
    for i in range(n):
        key = AlertKey("ba-dinh", "pi-1", f"prn-{i}", "printer.jammed")
        store.write([OpenAlert(key, "critical", f"Máy in {i}", {}, start + i)])
        store.write([ResolveAlert(key, start + i + 0.5, "cleared")])


def test_two_controllers_send_each_change_once_and_stream_every_one(target: str) -> None:
    Store(target).close()  # the schema

    async def run() -> tuple[list[list[int]], list[list[int]]]:
        feeds = [AlertFeed(StorePerThread(target)) for _ in range(2)]
        sent: list[list[int]] = [[], []]
        streamed: list[list[int]] = [[], []]
        for i, feed in enumerate(feeds):
            feed.subscribers.append(lambda c, _s, i=i: sent[i].append(c.event_id))
            queue: asyncio.Queue[tuple[AlertChange, bool] | None] = asyncio.Queue()
            feed.sse_clients.add(queue)
            streamed[i] = []

            async def drain(q: asyncio.Queue[tuple[AlertChange, bool] | None] = queue,
                            out: list[int] = streamed[i]) -> None:
                while (item := await q.get()) is not None:
                    out.append(item[0].event_id)

            asyncio.get_running_loop().create_task(drain())
        stop = asyncio.Event()
        tasks = [asyncio.create_task(f.run(stop)) for f in feeds]
        await asyncio.sleep(1.0)  # both started, at the newest change
        writer = Store(target)
        await asyncio.to_thread(_write_changes, writer, 40, time.time())
        total = writer.last_event_id()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
                s and s[-1] == total for s in streamed):
            await asyncio.sleep(0.1)
        stop.set()
        for f in feeds:
            f.wake()
        await asyncio.gather(*tasks)
        writer.close()
        return sent, streamed

    sent, streamed = asyncio.run(run())
    assert len(streamed[0]) == len(streamed[1]) == 80  # each live stream got every change
    assert not set(sent[0]) & set(sent[1])  # no change went out twice
    assert sorted(sent[0] + sent[1]) == streamed[0]  # and none was lost


def test_the_mark_splits_overlapping_reads(target: str) -> None:
    """The race made deterministic: controller A reads events 10..20 and B 10..25."""
    a, b = Store(target), Store(target)
    try:
        assert take_outward(a, 10, 20) == 10   # A: 11..20 are A's
        assert take_outward(b, 10, 25) == 20   # B: only 21..25, after A's
        assert take_outward(a, 20, 25) == 25   # A again: B has them, none are A's
        assert take_outward(b, 0, 5) == 5      # an old read: nothing goes out again
    finally:
        a.close()
        b.close()
