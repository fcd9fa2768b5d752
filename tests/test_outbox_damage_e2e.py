"""Issue 23 item 5 on real processes: a real `hcc-agent run` whose outbox was cut in half, or
got 16 KiB of garbage in its middle, starts, reports, keeps the damaged file, sends what could
be salvaged, and the controller raises a warning for that box."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_outbox_damage import damage

from agent.outbox import EVENT, Outbox
from conftest import run_cli, wait_until
from hcc_common import wire
from lab.procs import Mosquitto
from stack import Stack

pytestmark = pytest.mark.integration

OLD_ROWS = 2000


@pytest.fixture
def listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def old_outbox(path: Path) -> int:
    """An outbox a previous run left: OLD_ROWS results of printer-9 nobody confirmed."""
    box = Outbox(path)
    session, _, _ = box.start_session()
    now = time.time()
    for seq in range(1, OLD_ROWS + 1):
        box.put(wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="printer-9",
                                        session=session, seq=seq, ts=now - OLD_ROWS + seq,
                                        device_type="printer", device_name="Máy in quầy 9",
                                        status="ok", metrics={"pages": seq})), session, seq, EVENT)
    box.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    box.close()
    return session


@pytest.mark.parametrize("kind", ["truncate", "garbage"])
def test_a_damaged_outbox_never_stops_the_agent(tmp_path: Path, broker: Mosquitto,
                                                 listener: int, kind: str) -> None:
    s = Stack(tmp_path, broker, f"""\
  - id: kiosk-1
    type: kiosk
    host: 127.0.0.1
    tcp: {{port: {listener}}}""")
    state = tmp_path / "agent-state"
    old_session = old_outbox(state / "outbox.sqlite")
    damage(state / "outbox.sqlite", kind)
    s.start_controller()
    s.start_agent()
    try:
        assert s.agent is not None
        status_file = state / "status.json"
        wait_until(status_file.exists, 60, "the agent's status file (it started)")
        status = json.loads(status_file.read_text())
        [d] = status["outbox_damaged"]
        assert d["moved_to"].startswith("outbox.damaged-") and (state / d["moved_to"]).exists()
        assert OLD_ROWS // 3 < d["salvaged"] <= OLD_ROWS
        assert (state / "outbox.sqlite").exists()  # a fresh one
        log = s.agent.log()
        assert "outbox damaged: set aside" in log and "Traceback" not in log
        shown = run_cli("hcc-agent", "status", "--lang", "en", "--config", str(s.agent_cfg))
        assert shown.returncode == 0 and f"DAMAGED and set aside as {d['moved_to']}" in \
            shown.stdout, shown.stdout + shown.stderr

        def box() -> dict[str, object]:
            return next((a for a in s.agents() if a["agent"] == "pi-1"), {})

        # it reports: the kiosk is seen, and the birth says the outbox was set aside
        wait_until(lambda: box().get("outbox_damaged") == d["moved_to"], 60,
                   "the birth naming the damaged outbox")
        # the salvaged reports arrive: the controller received them all, once each
        wait_until(lambda: int(box().get("received", 0)) >= d["salvaged"], 60,  # type: ignore[call-overload]
                   "the salvaged reports")
        row = box()
        assert row["duplicates"] == 0
        # what could not be read is a gap of the old run, honestly counted
        assert int(row["gaps"]) == OLD_ROWS - d["salvaged"]  # type: ignore[call-overload]
        # and the controller raises a warning for that box
        alert = wait_until(lambda: s.open_alert("pi-1", "host.outbox_damaged"), 60,
                           "the outbox-damaged warning")
        assert alert["severity"] == "warning"  # type: ignore[index]
        # the salvaged reports are the old run's history, not today's state
        con = sqlite3.connect(s.db, timeout=10)
        try:
            current = dict(con.execute("SELECT device, session FROM devices").fetchall())
        finally:
            con.close()
        assert current.get("kiosk-1") not in (None, old_session) and "printer-9" not in current
    finally:
        s.stop()
    assert not s.tracebacks()
