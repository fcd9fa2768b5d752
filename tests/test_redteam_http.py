"""Red-team review of issue 23's classes over a real HTTP server (uvicorn): what an anonymous
client sends is bounded (request bodies, nesting, live streams), and the API stays up."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import wait_until
from controller.config import ControllerConfig, HttpSettings
from controller.feed import AlertFeed, StorePerThread
from controller.store import Store
from hcc_common.mqtt_io import BrokerSettings
from lab.procs import free_port, wait_tcp

pytestmark = pytest.mark.integration
TOKEN = "desk-token-0123456789abcdef"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import uvicorn

    from controller import api as api_module

    monkeypatch.setattr(api_module, "SSE_MAX_CLIENTS", 3, raising=False)
    db = tmp_path / "c.db"
    Store(db)
    # anonymous readers: the attack
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1883), db=db,
                           http=HttpSettings(listen_host="127.0.0.1", listen_port=free_port(),
                                             tokens={TOKEN: "desk"}, read_open=True))
    assert cfg.http is not None
    stores = StorePerThread(db)
    app = api_module.create_app(cfg, stores, AlertFeed(stores))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=cfg.http.listen_port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(cfg.http.listen_port, 15)
    yield f"http://127.0.0.1:{cfg.http.listen_port}"
    server.should_exit = True
    thread.join(10)


BODY_ROUTES = ["/api/v1/enroll", "/api/v1/silences", "/api/v1/alerts/1/ack",
               "/api/v1/alerts/1/resolve"]


@pytest.mark.parametrize("path", BODY_ROUTES)
def test_an_oversized_body_is_413_before_it_is_read(api: str, path: str) -> None:
    """8 MB to any POST route, with a Content-Length or chunked, is refused with 413 (it was
    read whole into memory and parsed: 422 or 401 after the fact)."""
    big = b'{"code": "' + b"A" * 8_000_000 + b'"}'
    with httpx.Client(timeout=30) as c:
        r = c.post(api + path, content=big, headers={"Content-Type": "application/json",
                                                     "Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 413, (r.status_code, r.text[:200])
        assert "64 KiB" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(big), 65536):
                yield big[i:i + 65536]

        r = c.post(api + path, content=chunks(), headers={"Content-Type": "application/json",
                                                          "Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 413, (r.status_code, r.text[:200])
        # a normal request still gets its normal answer
        r = c.post(api + path, json={"code": "7K2M-9QXD-4F1A"},
                   headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code in (404, 422), (r.status_code, r.text[:200])


def test_live_streams_are_capped_and_a_freed_slot_is_taken_again(api: str) -> None:
    """Anonymous readers cannot open streams without bound (each holds a task and a queue):
    past SSE_MAX_CLIENTS the answer is 503 with Retry-After; a closed stream frees its slot."""
    with contextlib.ExitStack() as held:
        clients = [held.enter_context(httpx.Client(timeout=10)) for _ in range(4)]
        streams = []
        for c in clients[:3]:
            s = held.enter_context(c.stream("GET", api + "/api/v1/stream"))
            assert s.status_code == 200
            lines = s.iter_lines()  # kept: a dropped iterator closes the connection
            next(lines)  # the stream's opening comment: it is registered
            streams.append((s, lines))
        r = clients[3].get(api + "/api/v1/stream")
        assert r.status_code == 503, r.status_code
        assert r.headers.get("Retry-After")
        streams[2][0].close()
        clients[2].close()

        def admitted() -> bool:
            with httpx.Client(timeout=10) as c, c.stream("GET", api + "/api/v1/stream") as s:
                return s.status_code == 200
        wait_until(admitted, 30, "a freed stream slot")


def test_a_stream_that_does_not_read_is_ended_not_grown(tmp_path: Path) -> None:
    """A client that never reads: its queue stops at SSE_QUEUE_MAX and its stream is ended
    (it had grown by every change of the city); the other streams get every change."""
    from controller.feed import SSE_QUEUE_MAX

    feed = AlertFeed(StorePerThread(tmp_path / "c.db"))

    async def scenario() -> None:
        stuck: asyncio.Queue[object] = asyncio.Queue(SSE_QUEUE_MAX)
        reader: asyncio.Queue[object] = asyncio.Queue(SSE_QUEUE_MAX)
        feed.sse_clients.update((stuck, reader))  # type: ignore[arg-type]
        got = 0
        for i in range(SSE_QUEUE_MAX * 3):
            feed.to_streams((i, False))  # type: ignore[arg-type]
            got += reader.get_nowait() == (i, False)
        assert got == SSE_QUEUE_MAX * 3
        assert stuck not in feed.sse_clients and reader in feed.sse_clients
        assert stuck.qsize() == 1 and stuck.get_nowait() is None  # the end of its stream

    asyncio.run(scenario())


def _idle_sockets(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.settimeout(0.05)
        out.append(s)
    return out


def _closed(s: socket.socket) -> bool:
    try:
        s.recv(1024)  # b"" (closed), or what the server sends before it closes
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def test_idle_and_trickling_connections_are_closed_and_capped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Anonymous LAN hosts held connections that never finish a request head, without bound
    (uvicorn times out only the wait between requests): a thousand of them use up the
    controller's 1,024 file descriptors, and with them its notifications and API. Now a
    request head must arrive within REQUEST_HEAD_S, and past MAX_CONNECTIONS a new one is
    closed at once; a real request still gets its answer."""
    import uvicorn

    from controller import http_limits
    from controller.api import create_app

    monkeypatch.setattr(http_limits, "REQUEST_HEAD_S", 1.0)
    monkeypatch.setattr(http_limits, "MAX_CONNECTIONS", 20)
    db = tmp_path / "c.db"
    Store(db)
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1883), db=db,
                           http=HttpSettings(listen_host="127.0.0.1", listen_port=free_port()))
    assert cfg.http is not None
    server = uvicorn.Server(http_limits.server_config(
        create_app(cfg, StorePerThread(db), None), host="127.0.0.1",
        port=cfg.http.listen_port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(cfg.http.listen_port, 15)
    url = f"http://127.0.0.1:{cfg.http.listen_port}"
    held = _idle_sockets(cfg.http.listen_port, 15)
    trickle = held[0]
    try:
        trickle.sendall(b"GET /healthz HTTP/1.1\r\n")  # a head that never ends
        over = _idle_sockets(cfg.http.listen_port, 10)  # 25 > 20
        wait_until(lambda: sum(map(_closed, over)) >= 5, 10, "connections over the cap closed")
        wait_until(lambda: all(map(_closed, held)), 15, "idle and trickling ones closed")
        assert httpx.get(url + "/healthz", timeout=10).status_code in (200, 503)
    finally:
        for s in held:
            s.close()
        server.should_exit = True
        thread.join(10)
