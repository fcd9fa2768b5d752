"""Enrollment with real processes: a one-time code made centrally, traded by a fresh box over
HTTPS pinned to the controller's certificate, for its own broker user on a TLS broker; single use;
a replacement box's enrollment revokes the old credentials."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import tls_center
from conftest import BIN, json_lines, run_cli, wait_until
from lab.procs import spawn

pytestmark = pytest.mark.integration


def connects(ca: Path, port: int, user: str, password: str) -> bool:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="probe", protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context(cafile=str(ca)))
    c.username_pw_set(user, password)
    answer: list[bool] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: answer.append(not rc.is_failure)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        wait_until(lambda: answer, 10, "an answer")
    finally:
        c.loop_stop()
        c.disconnect()
    return answer[0]


def test_a_fresh_box_enrolls_and_a_replacement_revokes_it(tmp_path: Path) -> None:
    center = tls_center.start(tmp_path)
    out, port, db = center.broker_dir, center.port, center.db
    agent = None
    try:
        code, fp = center.enroll_code("ba-dinh", "pi-9")
        box = tmp_path / "box"
        box.mkdir()
        cfg = box / "devices.yaml"
        cfg.write_text(f"""\
# written by install.sh on a fresh Pi
center: {{id: may-moi}}
agent: {{id: pi-x, heartbeat: 2s, state_dir: "{box / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1883"}}
devices: []
""")
        url = center.url
        wrong = run_cli("hcc-agent", "enroll", url, code, "--fingerprint", "ab" * 32,
                        "--config", str(cfg), "--no-restart")
        assert wrong.returncode == 1 and "không phải chứng chỉ bạn được cung cấp" in wrong.stderr
        done = run_cli("hcc-agent", "enroll", url, code, "--fingerprint", fp, "--config",
                       str(cfg), "--no-restart")
        assert done.returncode == 0, done.stderr
        assert "đã đăng ký: ba-dinh/pi-9 với tài khoản pi-9@ba-dinh" in done.stdout
        text = cfg.read_text()
        assert text.startswith("# written by install.sh on a fresh Pi")  # comments kept
        assert (box / "mqtt.password").stat().st_mode & 0o777 == 0o640
        # the controller's signing key, made on first use beside its database (0600), is the
        # one the box now trusts for pushed configs
        from agent.config import load as load_agent_config
        from hcc_common.signing import load_private, parse_public_keys, public_of

        signing_key = db.parent / "signing.key"
        assert signing_key.stat().st_mode & 0o777 == 0o600
        trusted = parse_public_keys((box / "controller.pub").read_text())
        assert trusted == (public_of(load_private(signing_key.read_bytes())),)
        assert load_agent_config(cfg).agent.controller_keys == (str(box / "controller.pub"),)
        again = run_cli("hcc-agent", "enroll", url, code, "--fingerprint", fp, "--config",
                        str(cfg), "--no-restart")
        assert again.returncode == 1 and "unknown, used or expired" in again.stderr
        # the box runs with its own user, and the controller knows it
        agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                      tmp_path / "agent.log")
        rows = wait_until(lambda: [a for a in json_lines(run_cli(
            "hcc-controller", "agents", "--json", "--db", str(db)).stdout)
            if a["agent"] == "pi-9" and a.get("software")], 30, "the enrolled box reporting")
        assert rows[0]["center"] == "ba-dinh"  # type: ignore[index]
        old_password = (box / "mqtt.password").read_text().strip()
        assert connects(out / "ca.crt", port, "pi-9@ba-dinh", old_password)
        # a replacement box enrolls as the same pi-9: the old password stops working
        code2, _ = center.enroll_code("ba-dinh", "pi-9")
        box2 = tmp_path / "box2"
        box2.mkdir()
        cfg2 = box2 / "devices.yaml"
        cfg2.write_text(cfg.read_text().replace(str(box), str(box2)))
        assert run_cli("hcc-agent", "enroll", url, code2, "--fingerprint", fp, "--config",
                       str(cfg2), "--no-restart").returncode == 0
        time.sleep(1.0)  # the broker re-reads its password file on SIGHUP
        assert not connects(out / "ca.crt", port, "pi-9@ba-dinh", old_password)
        assert connects(out / "ca.crt", port, "pi-9@ba-dinh",
                        (box2 / "mqtt.password").read_text().strip())
    finally:
        if agent is not None:
            agent.stop()
        center.stop()
    assert "Traceback" not in center.procs[1].log()
