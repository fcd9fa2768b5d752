"""Central configuration with real processes: a config pushed by the controller is validated,
applied on the box without a restart, refused with file:line when broken, rolled back when it
cuts the broker, and a config identical to the running one restarts nothing."""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import json_lines, run_cli, wait_until
from lab.procs import Mosquitto, free_port
from stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def kiosk(i: int, port: int) -> str:
    return f"  - {{id: kiosk-{i}, type: kiosk, host: 127.0.0.1, tcp: {{port: {port}}}}}"


def status(stack: Stack) -> dict[str, object]:
    rows = json_lines(run_cli("hcc-controller", "config", "status", "--json", "--config",
                              str(stack.ctl_cfg)).stdout)
    return rows[0] if rows else {}


def reporting(stack: Stack) -> set[str]:
    """Kiosks that reported in the last 8 s (they poll every second; readings that change
    nothing are written behind every 5 s)."""
    db = sqlite3.connect(stack.db, timeout=10)
    try:
        return {r[0] for r in db.execute("SELECT device FROM devices WHERE type='kiosk' AND"
                                         " last_seen > ?", (time.time() - 8.0,))}
    finally:
        db.close()


def test_push_apply_refuse_roll_back_and_no_restart(tmp_path: Path, broker: Mosquitto,
                                                    listener: int) -> None:
    configs = tmp_path / "configs"
    # `reporting` reads last_seen, which every result moves: one message per result, said
    s = Stack(tmp_path, broker, kiosk(1, listener), controller_extra=f'config_dir: "{configs}"\n',
              extra="", report="all")
    # the box rolls back a config whose broker it cannot reach within 3 s
    s.agent_cfg.write_text(s.agent_cfg.read_text().replace(
        "heartbeat: 2s,", "heartbeat: 2s, config_confirm: 3s,"))
    s.start_controller()
    s.start_agent()
    try:
        wait_until(lambda: reporting(s) == {"kiosk-1"}, 30, "kiosk-1 reporting")
        base = s.agent_cfg.read_text()
        # 1. a new device, pushed: applied in place
        pushed = tmp_path / "ba-dinh.yaml"
        pushed.write_text(base + kiosk(2, listener) + "\n")
        out = run_cli("hcc-controller", "config", "push", "ba-dinh", str(pushed), "--by", "an",
                      "--config", str(s.ctl_cfg))
        assert out.returncode == 0, out.stderr
        good = out.stdout.split("phiên bản ")[1].split()[0]
        wait_until(lambda: status(s).get("state") == "in sync", 30, "the push applied")
        wait_until(lambda: reporting(s) == {"kiosk-1", "kiosk-2"}, 30, "kiosk-2 reporting")
        assert (configs / "ba-dinh.yaml").read_text() == pushed.read_text()  # kept centrally
        assert s.agent is not None
        assert "Traceback" not in s.agent.log()
        # 2. a broken one: refused with file:line, nothing changes
        broken = tmp_path / "broken.yaml"
        broken.write_text(base + "  - {id: kiosk-3, type: kiosk, host: 127.0.0.1, tcp: {prot: 1}}\n")
        out = run_cli("hcc-controller", "config", "push", "ba-dinh", str(broken),
                      "--config", str(s.ctl_cfg))
        assert out.returncode == 1
        assert "ba-dinh.yaml:" in out.stderr and "prot" in out.stderr, out.stderr
        assert status(s)["desired"] == good
        # 3. one that cuts the broker: applied, no connection within 3 s, rolled back
        cut = tmp_path / "cut.yaml"
        cut.write_text(pushed.read_text().replace(f"127.0.0.1:{broker.port}",
                                                  f"127.0.0.1:{free_port()}"))
        out = run_cli("hcc-controller", "config", "push", "ba-dinh", str(cut),
                      "--config", str(s.ctl_cfg))
        assert out.returncode == 0, out.stderr
        row = wait_until(lambda: (lambda r: r if "rolled back" in str(r.get("error")) else None)(
            status(s)), 60, "the box rolled back")
        assert row["applied"] == good  # type: ignore[index]
        wait_until(lambda: reporting(s) == {"kiosk-1", "kiosk-2"}, 10, "still reporting")
        # 4. the good one again: identical to what runs, no device loop restarted
        started = s.agent.log().count("device loop started")
        out = run_cli("hcc-controller", "config", "rollback", "ba-dinh", good,
                      "--config", str(s.ctl_cfg))
        assert out.returncode == 0, out.stderr
        wait_until(lambda: "config unchanged" in s.agent.log(), 30, "the same version seen")
        assert s.agent.log().count("device loop started") == started
        assert status(s)["desired"] == good
        wait_until(lambda: status(s).get("state") == "in sync", 30, "in sync again")
        # a local edit on the box has no effect while a pushed config runs: shown as drift
        s.agent_cfg.write_text(s.agent_cfg.read_text().replace(kiosk(1, listener), ""))
        wait_until(lambda: "local file edited" in str(status(s).get("state")), 30,
                   "the local edit reported")
        time.sleep(8.0)
        assert reporting(s) == {"kiosk-1", "kiosk-2"}  # the local edit changed nothing
        # the controller's own alert feed and acks never reached the dead letters
        dead = json_lines(run_cli("hcc-controller", "deadletters", "--json", "--db",
                                  str(s.db)).stdout)
        assert dead == [], json.dumps(dead)[:500]
    finally:
        s.stop()
    assert not s.tracebacks(), s.tracebacks()
