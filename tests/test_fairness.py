"""Fairness: devices that hold the agent busy (a huge walk, dead devices) never make others time out.

A poll's deadline counts only the device's own waiting (agent/poll_clock.py): not the time it
queued behind other devices for a request slot, nor the time the loop spent on their answers.
Real parts: snmpsim for the ordinary devices, a real UDP SNMP responder with a huge table
(lab/snmp_responder.py), a UDP port where nobody answers for the dead ones.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from agent import poll_clock
from conftest import BIN, json_lines, run_cli, wait_until
from lab.procs import Mosquitto, spawn
from lab.snmp_responder import HugeTable, SlowHugeResponder

SMALL = 6
CLIENTS = 20_000  # 800 GETBULKs: the old bound of 64 requests read 1,600 of them
# bsnMobileStationEntry: one row per Wi-Fi client of an AireOS controller
STATIONS = "1.3.6.1.4.1.14179.2.1.4.1"


def config(tmp: Path, snmp_port: int, extra: str, broker: str = "mqtt://127.0.0.1:1",
           heartbeat: str = "") -> Path:
    small = "".join(f"""\
  - id: printer-{i}
    name: "Máy in quầy {i}"
    type: printer
    host: 127.0.0.1
    profile: printer
    snmp: {{port: {snmp_port}, community: printer-laser}}
""" for i in range(SMALL))
    path = tmp / "devices.yaml"
    path.write_text(f"""\
center: {{id: test-center, name: "Trung tâm thử"}}
agent: {{id: pi-test, state_dir: "{tmp / 'state'}"{heartbeat}}}
mqtt: {{url: "{broker}"}}
defaults: {{interval: 30s, timeout: 1s}}
devices:
{small}{extra}""")
    return path


@pytest.fixture
def huge_controller() -> Iterator[SlowHugeResponder]:
    table = HugeTable("1.3.6.1.4.1.9.1.1279", "Cisco Controller", STATIONS, (1, 2, 3, 4),
                      rows=CLIENTS)
    responder = SlowHugeResponder(table, community="wlc").start()
    yield responder
    responder.stop()


DEAD = 200  # 200 x 1 s of timeouts over 24 request slots: about 8 s of queue


def dead_devices(port: int) -> str:
    return "".join(f"""\
  - id: dead-{i}
    name: "Thiết bị hỏng {i}"
    type: kiosk
    host: 127.0.0.1
    snmp: {{port: {port}, community: dead{i}, retries: 1}}
""" for i in range(DEAD))


def test_dead_devices_filling_every_request_slot_do_not_time_the_others_out(
        tmp_path: Path, snmp_devices) -> None:
    """Each dead device holds a request slot for its whole timeout; the live ones queue behind
    them for longer than their own deadline (5 s here). Queueing is not their slowness: they
    were reported unreachable ("no complete answer within 5s") before."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    dead = DEAD
    extra = dead_devices(silent.getsockname()[1])
    try:
        out = run_cli("hcc-agent", "check", "--config",
                      str(config(tmp_path, snmp_devices.port, extra)), "--json", timeout=120)
    finally:
        silent.close()
    rows = {r["device"]: r for r in json_lines(out.stdout)}
    for i in range(SMALL):
        assert (rows[f"printer-{i}"]["status"], rows[f"printer-{i}"]["error"]) == ("ok", None)
    assert {rows[f"dead-{i}"]["status"] for i in range(dead)} == {"unreachable"}


def test_a_controller_with_a_huge_client_table_does_not_time_the_others_out(
        tmp_path: Path, snmp_devices, huge_controller: SlowHugeResponder) -> None:
    """A WLC with 20,000 stations in its station table (its only client count), beside ordinary
    devices: they all answer in time, and the controller's table is read whole."""
    extra = f"""\
  - id: wlc-1
    name: "Bộ điều khiển Wi-Fi"
    type: wifi_ap
    host: 127.0.0.1
    profile: cisco_ap
    timeout: 8s
    snmp: {{port: {huge_controller.port}, community: wlc}}
"""
    out = run_cli("hcc-agent", "check", "--config",
                  str(config(tmp_path, snmp_devices.port, extra)), "--json", timeout=120)
    rows = {r["device"]: r for r in json_lines(out.stdout)}
    for i in range(SMALL):
        assert (rows[f"printer-{i}"]["status"], rows[f"printer-{i}"]["error"]) == ("ok", None)
    wlc = rows["wlc-1"]
    assert (wlc["status"], wlc["metrics"]["wifi_clients"]) == ("ok", CLIENTS)


def test_the_running_agent_polls_fairly_too(tmp_path: Path, snmp_devices,
                                            broker: Mosquitto) -> None:
    """`hcc-agent run` polls through the same deadline: the first poll of every live device
    behind the dead ones is ok in its status file (was "no complete answer within 5s")."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    cfg = config(tmp_path, snmp_devices.port, dead_devices(silent.getsockname()[1]),
                 broker=broker.url, heartbeat=", heartbeat: 1s")
    status_file = tmp_path / "state" / "status.json"
    agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                  tmp_path / "agent.log")

    def all_polled() -> dict[str, dict[str, object]] | None:
        try:
            devices: dict[str, dict[str, object]] = json.loads(status_file.read_text())["devices"]
        except (OSError, ValueError, KeyError):
            return None
        return devices if all(d["last_poll"] is not None for d in devices.values()) else None

    try:
        devices = wait_until(all_polled, 120, "every device's first poll")
    finally:
        agent.stop()
        silent.close()
    assert isinstance(devices, dict)
    for i in range(SMALL):
        assert (devices[f"printer-{i}"]["status"], devices[f"printer-{i}"]["error"]) == (
            "ok", None), agent.log()[-2000:]
    assert {devices[f"dead-{i}"]["status"] for i in range(DEAD)} == {"unreachable"}


def busy_loop_scenario(wait: Callable[[float, Awaitable[bytes]], Awaitable[bytes]]) -> bytes:
    """A device's answer (a real datagram on loopback) arrives while another device's work
    holds the loop (0.6 s, past the 0.3 s deadline); reading it takes one more step."""
    async def scenario() -> bytes:
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            rx.bind(("127.0.0.1", 0))
            rx.setblocking(False)

            async def device() -> bytes:
                data = await loop.sock_recv(rx, 100)
                await asyncio.sleep(0)  # decoding the answer: one more step of the loop
                return data

            async def other_device() -> None:
                await asyncio.sleep(0.05)
                tx.sendto(b"answer", rx.getsockname())
                time.sleep(0.6)  # decoding a huge walk: nothing else runs meanwhile

            hog = asyncio.create_task(other_device())
            try:
                return await wait(0.3, device())
            finally:
                await hog

    return asyncio.run(scenario())


def test_an_answer_that_came_while_the_loop_was_busy_is_not_a_timeout() -> None:
    """asyncio.wait_for (the poll deadline before, and the tcp and command checks' timeouts)
    raised TimeoutError here: its timer and the answer are processed in the same loop pass."""
    assert busy_loop_scenario(poll_clock.within) == b"answer"


def test_a_device_that_never_answers_still_times_out() -> None:
    async def scenario() -> None:
        await poll_clock.within(0.2, asyncio.Event().wait())

    with pytest.raises(TimeoutError):
        asyncio.run(scenario())


def test_time_queued_for_a_slot_is_not_the_polls_own() -> None:
    async def scenario() -> str:
        slots = asyncio.Semaphore(1)

        async def holder() -> None:
            async with poll_clock.queued_for(slots):
                await asyncio.sleep(0.5)

        async def device() -> str:
            await asyncio.sleep(0.01)
            async with poll_clock.queued_for(slots):
                await asyncio.sleep(0.05)
            return "done"

        holding = asyncio.create_task(holder())
        await asyncio.sleep(0)
        result = await poll_clock.within(0.3, device())
        await holding
        return result

    assert asyncio.run(scenario()) == "done"


def test_dead_devices_wait_in_a_lane_of_their_own_after_a_timeout(snmp_devices) -> None:
    """After one unanswered request, a device's requests no longer take the slots the live
    devices need (30 of them held all 24 before); its next answer brings it back."""
    from agent.snmp_client import MAX_IN_FLIGHT, SnmpClient, SnmpError, SnmpTarget

    async def scenario() -> tuple[bool, bool, bool, bool]:
        client = SnmpClient()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
            silent.bind(("127.0.0.1", 0))
            dead = [SnmpTarget("127.0.0.1", silent.getsockname()[1], "2c", f"d{i}", 0.3, 0)
                    for i in range(MAX_IN_FLIGHT + 6)]
            first = await asyncio.gather(*(client.get(t, ["1.3.6.1.2.1.1.1.0"]) for t in dead),
                                         return_exceptions=True)
            marked = all(isinstance(r, SnmpError) for r in first) and set(dead) <= client.unanswered
            again = [asyncio.ensure_future(client.get(t, ["1.3.6.1.2.1.1.1.0"])) for t in dead]
            await asyncio.sleep(0.1)
            live_slots_free = not client.slots.locked()
            await asyncio.gather(*again, return_exceptions=True)
            live = SnmpTarget("127.0.0.1", snmp_devices.port, "2c", "printer-laser", 2.0, 1)
            client.unanswered.add(live)  # as if it had missed an answer once
            answer = await client.get(live, ["1.3.6.1.2.1.1.1.0"])
            client.close()
            return marked, live_slots_free, live not in client.unanswered, \
                answer["1.3.6.1.2.1.1.1.0"] is not None

    assert asyncio.run(scenario()) == (True, True, True, True)
