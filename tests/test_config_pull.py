"""Issue 26 (11): `hcc-controller config pull CENTER` brings the devices.yaml a box runs into the
controller's configs/ (the running controller asks the box over MQTT), and `config status` says
plainly that nothing was pushed yet. A box's answer nobody asked for is not kept."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import run_cli, wait_until
from hcc_common import config_pull
from lab.procs import Mosquitto
from stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    yield s.getsockname()[1]
    s.close()


def test_pull_brings_the_boxs_file_and_push_takes_it(tmp_path: Path, broker: Mosquitto,
                                                      listener: int) -> None:
    configs = tmp_path / "configs"
    s = Stack(tmp_path, broker, f"  - {{id: kiosk-1, type: kiosk, host: 127.0.0.1, tcp: "
                                f"{{port: {listener}}}}}  # the box's own comment",
              controller_extra=f'config_dir: "{configs}"\n')
    s.start_controller()
    s.start_agent()
    try:
        wait_until(lambda: s.agents(), 30, "the box known centrally")
        none = run_cli("hcc-controller", "config", "status", "--config", str(s.ctl_cfg))
        assert none.returncode == 0 and "chưa gửi cấu hình nào" in none.stdout
        pulled = run_cli("hcc-controller", "config", "pull", "ba-dinh", "--config",
                         str(s.ctl_cfg), timeout=90)
        assert pulled.returncode == 0, pulled.stderr
        kept = configs / "ba-dinh.yaml"
        assert kept.read_text() == s.agent_cfg.read_text()  # as the box has it, comments too
        assert kept.stat().st_mode & 0o007 == 0  # its communities stay the service's
        assert "ba-dinh/pi-1" in pulled.stdout and "devices.yaml của chính nó" in pulled.stdout
        # edited centrally: a second pull does not overwrite it without --force
        kept.write_text(kept.read_text() + "# edited at the desk\n")
        again = run_cli("hcc-controller", "config", "pull", "ba-dinh", "--config",
                        str(s.ctl_cfg), timeout=90)
        assert again.returncode == 1 and "--force" in again.stderr
        assert kept.read_text().endswith("# edited at the desk\n")
        pushed = run_cli("hcc-controller", "config", "push", "ba-dinh", "--by", "an",
                         "--config", str(s.ctl_cfg))
        assert pushed.returncode == 0, pushed.stderr
    finally:
        s.stop()


def test_an_answer_nobody_asked_for_is_not_kept(tmp_path: Path, broker: Mosquitto,
                                                 listener: int) -> None:
    s = Stack(tmp_path, broker, f"  - {{id: kiosk-1, type: kiosk, host: 127.0.0.1, tcp: "
                                f"{{port: {listener}}}}}")
    s.start_controller()
    try:
        box = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="intruder",
                          protocol=mqtt.MQTTv5)
        box.connect("127.0.0.1", broker.port)
        box.loop_start()
        forged = config_pull.encode_current(config_pull.CurrentConfig(
            "ba-dinh", "pi-1", "ab" * 16, "0123456789ab", "local", "center: {id: x}\n"))

        def set_aside() -> bool:
            # sent again until seen: the controller subscribes a moment after it starts
            box.publish(forged.topic, forged.payload, qos=1).wait_for_publish(10)
            db = sqlite3.connect(s.db, timeout=10)
            try:
                rows = db.execute("SELECT reason FROM dead_letters").fetchall()
            finally:
                db.close()
            return any("nobody asked" in r[0] for r in rows)

        try:
            wait_until(set_aside, 30, "the forged answer set aside", interval=1.0)
        finally:
            box.loop_stop()
            box.disconnect()
        db = sqlite3.connect(s.db, timeout=10)
        try:
            kept = db.execute("SELECT count(*) FROM config_pulls WHERE content IS NOT NULL"
                              ).fetchone()[0]
        finally:
            db.close()
        assert kept == 0
    finally:
        s.stop()
