"""systemd's notify protocol: READY when running, WATCHDOG pings from the event loop."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from pathlib import Path

from conftest import BIN
from hcc_common import sdnotify
from lab.procs import Mosquitto, spawn


def listen(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(path))
    s.settimeout(0.5)
    return s


def received(s: socket.socket, seconds: float) -> list[str]:
    out: list[str] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            out.append(s.recv(4096).decode())
        except TimeoutError:
            continue
    return out


def test_agent_and_controller_say_ready_and_keep_pinging(tmp_path: Path, broker: Mosquitto) -> None:
    for name, argv in (
        ("agent", [str(BIN / "hcc-agent"), "run", "--config", str(tmp_path / "d.yaml")]),
        ("controller", [str(BIN / "hcc-controller"), "run", "--broker", broker.url,
                        "--db", str(tmp_path / "hcc.db")]),
    ):
        (tmp_path / "d.yaml").write_text(
            f'center: {{id: c1}}\nagent: {{id: a1, state_dir: "{tmp_path / "st"}"}}\n'
            f'mqtt: {{url: "{broker.url}"}}\ndevices:\n'
            "  - {id: k1, type: kiosk, host: 127.0.0.1, tcp: {port: 9}}\n")
        sock = listen(tmp_path / f"{name}.sock")
        env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / f"{name}.sock"),
                   WATCHDOG_USEC="1000000")
        proc = spawn(name, argv, tmp_path / f"{name}.log", env=env)
        try:
            messages = received(sock, 4.0)
        finally:
            proc.stop()
            sock.close()
        assert any(m.startswith("READY=1") for m in messages), (name, messages, proc.log())
        assert sum(m == "WATCHDOG=1" for m in messages) >= 3, (name, messages)


def test_watchdog_withholds_pings_when_not_healthy(tmp_path: Path, monkeypatch) -> None:
    sock = listen(tmp_path / "w.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "w.sock"))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)

    async def run(healthy: bool) -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        await sdnotify.watchdog(stop, lambda: healthy)

    asyncio.run(run(False))
    assert received(sock, 0.6) == []
    asyncio.run(run(True))
    assert "WATCHDOG=1" in received(sock, 0.6)
    sock.close()
    assert sdnotify.notify("READY=1", environ={}) is False  # not under systemd: a no-op
