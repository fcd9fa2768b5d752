"""A live stream that reconnects with Last-Event-ID gets every change it missed (not the store's
first page of 500), each with its silenced flag judged on that very alert (issue 27's class: a
default page that silently drops the rest)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import wait_until
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import AlertFeed, StorePerThread
from controller.state import AlertKey, OpenAlert
from controller.store import Store
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Store, AlertFeed]]:
    import uvicorn

    from controller.api import create_app

    db = tmp_path / "hcc.db"
    store = Store(db)
    port = free_port()
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                           centers=(CenterInfo(id="q1", name="Q1", hours=OpeningHours()),),
                           http=HttpSettings(listen_host="127.0.0.1", listen_port=port,
                                             read_open=True))
    feed = AlertFeed(StorePerThread(db))
    server = uvicorn.Server(uvicorn.Config(create_app(cfg, StorePerThread(db), feed),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))

    async def serve() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        await server.serve()
        stop.set()
        feed.wake()
        await task

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    wait_tcp(port, 15)
    yield f"http://127.0.0.1:{port}", store, feed
    server.should_exit = True
    thread.join(10)
    store.close()


def test_a_reconnecting_stream_gets_every_missed_change_with_its_silenced_flag(
        served: tuple[str, Store, AlertFeed]) -> None:
    url, store, feed = served
    now = time.time()
    first = store.last_event_id()
    store.write([OpenAlert(key=AlertKey(center="q1", agent="pi-1", device=f"prn-{i}",
                                        code="printer.jammed"), severity="critical",
                           device_name=f"Máy in {i}", params={}, at=now) for i in range(700)])
    store.add_silence(center="q1", device="prn-699", type_=None, code=None, starts_at=now - 1,
                      ends_at=now + 3600, author="desk", reason="bảo trì")
    last = store.last_event_id()
    assert last - first == 700
    wait_until(lambda: feed.last_id >= last, 20, "the feed at the newest change")
    got: list[dict[str, object]] = []
    # nothing new comes after the catch-up: a quiet stream for 5 s means it sent what it had
    with httpx.Client(timeout=httpx.Timeout(30, read=5)) as http, http.stream(
            "GET", f"{url}/api/v1/stream", headers={"Last-Event-ID": str(first)}) as stream, \
            contextlib.suppress(httpx.ReadTimeout):
        for line in stream.iter_lines():
            if line.startswith("data: "):
                got.append(json.loads(line[6:]))
                if len(got) == 700:
                    break
    assert len(got) == 700  # all of them, past the store's page of 500
    alerts = {a["device"]: a for a in (g["alert"] for g in got)}  # type: ignore[index]
    assert len(alerts) == 700
    # the silenced one is the 700th change: past the page of 500 open alerts it was judged on
    assert alerts["prn-699"]["silenced"] is True and alerts["prn-0"]["silenced"] is False
