"""Configuration is code: only the controller's signature makes a box take a pushed config.

Real mosquitto, real agent processes. The broker here has no ACL at all, the worst case of an
ACL mistake: anyone on it may publish on a box's cmd/ topics, as a stolen box's password did
(issue 23, item 1). Every forged, replayed or over-reaching command is refused with a clear
log line, and the file its command check would create never appears."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from conftest import run_cli, wait_until
from hcc_common import signing, wire
from lab.procs import Mosquitto
from stack import Stack, write_key_pair

pytestmark = pytest.mark.integration


def publish_retained(broker: Mosquitto, topic: str, payload: bytes) -> None:
    """What an attacker with a box's broker password does: a retained message on its cmd/."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="attacker", protocol=mqtt.MQTTv5)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        c.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()


def evil_config(stack: Stack, marker: Path, device: str = "evil") -> str:
    return stack.agent_cfg.read_text() + (
        f'  - {{id: {device}, type: other, command: ["/bin/sh", "-c", "id > {marker}"]}}\n')


def push_of(stack: Stack, content: str, center: str = "ba-dinh", agent: str = "pi-1",
            author: str = "attacker", issued: float | None = None) -> wire.ConfigPush:
    return wire.ConfigPush(center, agent, wire.config_version(content), content, author,
                           time.time(), issued=issued)


def controller_key(stack: Stack) -> Ed25519PrivateKey:
    return signing.load_private(stack.signing_key.read_bytes())


def retained(broker: Mosquitto, topic: str) -> dict[str, object]:
    """The retained message on a topic (a box's birth), decoded."""
    got: list[bytes] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="reader", protocol=mqtt.MQTTv5)
    c.on_message = lambda _c, _u, m: got.append(bytes(m.payload))
    c.on_connect = lambda cl, _u, _f, _rc, _p: cl.subscribe(topic, qos=1)
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    try:
        wait_until(lambda: got, 10, f"the retained message on {topic}")
    finally:
        c.disconnect()
        c.loop_stop()
    return dict(json.loads(got[-1]))


def inventory(broker: Mosquitto) -> dict[str, object]:
    inv = retained(broker, wire.state_topic("ba-dinh", "pi-1"))["inventory"]
    assert isinstance(inv, dict)
    return inv


def test_unsigned_retained_config_is_refused_even_after_a_wiped_state_dir(
        tmp_path: Path, broker: Mosquitto) -> None:
    marker = tmp_path / "pwned"
    s = Stack(tmp_path, broker, "  - {id: kiosk-1, type: kiosk, host: 127.0.0.1, "
                                "tcp: {port: 9}}")
    msg = wire.encode_config(push_of(s, evil_config(s, marker)))
    publish_retained(broker, msg.topic, msg.payload)
    for run in range(2):
        s.start_agent()
        assert s.agent is not None
        try:
            wait_until(lambda: "pushed config refused" in s.agent.log()  # type: ignore[union-attr]
                       or marker.exists(), 30, "the retained config seen")
            time.sleep(3.0)  # a check of the applied config would have run by now (interval 1s)
            assert not marker.exists(), "the attacker's command ran"
            assert "unsigned" in s.agent.log()
            assert "Traceback" not in s.agent.log()
        finally:
            s.agent.stop()
        # a wiped state dir forgets nothing that mattered: the refusal is not a memory
        shutil.rmtree(tmp_path / "agent-state", ignore_errors=True)
        (tmp_path / "agent.log").rename(tmp_path / f"agent-{run}.log")


def test_forged_replayed_and_overreaching_configs_are_refused_good_ones_applied(
        tmp_path: Path, broker: Mosquitto) -> None:
    marker, allowed_marker = tmp_path / "pwned", tmp_path / "allowed-ran"
    script = tmp_path / "check_ok.sh"
    script.write_text(f"#!/bin/sh\ntouch {allowed_marker}\necho 'OK - fine'\n")
    script.chmod(0o755)
    s = Stack(tmp_path, broker, "  - {id: kiosk-1, type: kiosk, host: 127.0.0.1, "
                                "tcp: {port: 9}}")
    # the box's own file allows one program (and only it) in pushed configs
    s.agent_cfg.write_text(s.agent_cfg.read_text().replace(
        "controller_keys:", f'allow_commands: ["{script}"], controller_keys:'))
    key, wrong = controller_key(s), signing.generate()
    topic = wire.config_topic("ba-dinh", "pi-1")
    s.start_agent()
    assert s.agent is not None
    log = s.agent.log

    def send(payload: bytes, expect: str) -> None:
        seen = log().count(expect)
        publish_retained(broker, topic, payload)
        wait_until(lambda: log().count(expect) > seen, 30, expect)

    try:
        wait_until(lambda: "device loop started" in log(), 30, "the agent running")
        assert inventory(broker)["config_push"] == f"signed by {signing.public_of(key).key_id}"
        now = time.time()
        # 1. signed, but by a key the box does not trust
        send(wire.encode_config(push_of(s, evil_config(s, marker), issued=now), [wrong]).payload,
             "which this box does not trust")
        # 2. box A's signed config replayed to box B (this box is B): as is, and rewritten
        for_a = wire.encode_config(push_of(s, evil_config(s, marker), agent="pi-0", issued=now),
                                   [key])
        send(for_a.payload, "names another box than its topic")
        rewritten = json.loads(for_a.payload)
        rewritten["agent"] = "pi-1"
        send(json.dumps(rewritten).encode(), "bad signature")
        # 3. signed by the controller, but adding a program the box's own file does not allow
        send(wire.encode_config(push_of(s, evil_config(s, marker), author="desk", issued=now),
                                [key]).payload, "a pushed config may not add programs")
        wait_until(lambda: "devices[1].command" in str(inventory(broker).get("config_error")),
                   10, "the refusal in the birth")
        # 4. the good path: signed, for this box, an allowed program: applied in place
        good = s.agent_cfg.read_text() + (f'  - {{id: ok, type: other, command: ["{script}"]}}\n')
        send(wire.encode_config(push_of(s, good, author="desk", issued=now + 1), [key]).payload,
             "pushed config applied")
        wait_until(allowed_marker.exists, 30, "the allowed program run")
        # 5. an older signed config replayed over the newer one
        older = s.agent_cfg.read_text() + "  - {id: kiosk-2, type: kiosk, host: 127.0.0.1, " \
                                          "tcp: {port: 9}}\n"
        send(wire.encode_config(push_of(s, older, author="desk", issued=now), [key]).payload,
             "a replay")
        time.sleep(3.0)  # a check of any applied command would have run (interval 1 s)
        assert not marker.exists(), "a forged or refused command ran"
        assert "kiosk-2" not in log()
        assert log().count("pushed config applied") == 1
        assert "Traceback" not in log()
    finally:
        s.stop()


def test_a_box_without_a_key_refuses_pushed_configs_and_says_so(
        tmp_path: Path, broker: Mosquitto) -> None:
    marker = tmp_path / "pwned"
    s = Stack(tmp_path, broker, "  - {id: kiosk-1, type: kiosk, host: 127.0.0.1, "
                                "tcp: {port: 9}}")
    s.agent_cfg.write_text(re.sub(r",\s*controller_keys: \[[^]]*\]", "",
                                  s.agent_cfg.read_text()))
    assert "controller_keys" not in s.agent_cfg.read_text()
    s.start_agent()
    assert s.agent is not None
    try:
        wait_until(lambda: "device loop started" in s.agent.log(), 30,  # type: ignore[union-attr]
                   "the agent running")
        assert str(inventory(broker)["config_push"]).startswith("refused: no controller key")
        msg = wire.encode_config(push_of(s, evil_config(s, marker), author="desk",
                                         issued=time.time()), [controller_key(s)])
        publish_retained(broker, msg.topic, msg.payload)
        wait_until(lambda: "holds no controller key" in s.agent.log(), 30,  # type: ignore[union-attr]
                   "the refusal")
        time.sleep(3.0)
        assert not marker.exists()
    finally:
        s.stop()


def test_key_rotation_end_to_end(tmp_path: Path, broker: Mosquitto) -> None:
    """Old key A -> new key B with a real controller: (1) a config signed by A adds B to the
    box's keys; (2) the controller signs with B and A while boxes move; (3) with B only, and a
    config dropping A: a command signed by A alone is then refused."""
    s = Stack(tmp_path, broker, "  - {id: kiosk-1, type: kiosk, host: 127.0.0.1, "
                                "tcp: {port: 9}}")
    key_a = controller_key(s)
    new_key, new_pub = tmp_path / "new.key", tmp_path / "new.pub"
    write_key_pair(new_key, new_pub)
    id_a = signing.public_of(key_a).key_id
    id_b = signing.public_of(signing.load_private(new_key.read_bytes())).key_id
    base = s.ctl_cfg.read_text()
    pushed = tmp_path / "ba-dinh.yaml"

    def push(keys: str, device: str) -> None:
        pushed.write_text(s.agent_cfg.read_text().replace(
            f'controller_keys: ["{s.controller_pub}"]', f"controller_keys: {keys}")
            + f"  - {{id: {device}, type: kiosk, host: 127.0.0.1, tcp: {{port: 9}}}}\n")
        out = run_cli("hcc-controller", "config", "push", "ba-dinh", str(pushed), "--config",
                      str(s.ctl_cfg))
        assert out.returncode == 0, out.stderr
        assert s.agent is not None
        wait_until(lambda: f"device={device}" in s.agent.log(), 30,  # type: ignore[union-attr]
                   f"{device} applied")

    def restart_controller(signing_yaml: str) -> None:
        assert s.controller is not None
        s.controller.stop()
        s.ctl_cfg.write_text(base + signing_yaml)
        s.start_controller()

    s.start_controller()
    s.start_agent()
    try:
        # 1. signed by A: the box now trusts A and B
        push(f'["{s.controller_pub}", "{new_pub}"]', "kiosk-2")
        wait_until(lambda: inventory(broker)["config_push"] == f"signed by {id_a}, {id_b}", 30,
                   "both keys in the birth")
        # 2. the controller signs with B, and with A for boxes that have not moved yet
        restart_controller(f'signing: {{key_file: "{new_key}", '
                           f'also_sign_with: ["{s.signing_key}"]}}\n')
        push(f'["{new_pub}"]', "kiosk-3")
        wait_until(lambda: inventory(broker)["config_push"] == f"signed by {id_b}", 30,
                   "only B trusted")
        # 3. B alone; A retired
        restart_controller(f'signing: {{key_file: "{new_key}"}}\n')
        push(f'["{new_pub}"]', "kiosk-4")
        forged = wire.encode_config(push_of(s, s.agent_cfg.read_text(), author="old key",
                                            issued=time.time() + 60), [key_a])
        publish_retained(broker, forged.topic, forged.payload)
        assert s.agent is not None
        wait_until(lambda: f"signed by {id_a}, which this box does not trust"
                   in s.agent.log(), 30, "the old key refused")  # type: ignore[union-attr]
        assert "Traceback" not in s.agent.log()
    finally:
        s.stop()
    assert not s.tracebacks(), s.tracebacks()


def test_issue_23_1_a_stolen_box_password_on_the_generated_tls_broker(tmp_path: Path) -> None:
    """The reproduction as filed: the generated broker (TLS, a password per box, the ACL), and
    only box ba-dinh/pi-1's password. Whether the ACL lets the retained config through (it did)
    or not, the box does not run it, on this start or the next with a wiped state dir."""
    import getpass
    import ssl

    from conftest import BIN
    from controller.brokerconf import generate
    from lab.procs import free_port, spawn, wait_tcp

    port = free_port()
    out = tmp_path / "broker"
    generate(out, [("ba-dinh", "pi-1")], ["127.0.0.1"], port, "127.0.0.1",
             run_as=getpass.getuser())
    broker = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                   tmp_path / "mosquitto.log")
    wait_tcp(port)
    marker = tmp_path / "pwned"
    password_file = out / "credentials" / "pi-1@ba-dinh.password"
    pub = tmp_path / "controller.pub"
    write_key_pair(tmp_path / "signing.key", pub)
    cfg = tmp_path / "devices.yaml"
    local = f"""\
center: {{id: ba-dinh}}
agent: {{id: pi-1, heartbeat: 2s, state_dir: "{tmp_path / 'state'}",
        controller_keys: ["{pub}"]}}
mqtt: {{url: "mqtts://127.0.0.1:{port}", username: "pi-1@ba-dinh",
       password_file: "{password_file}", ca_file: "{out / 'ca.crt'}"}}
defaults: {{interval: 1s, timeout: 500ms}}
devices:
  - {{id: kiosk-1, type: kiosk, host: 127.0.0.1, tcp: {{port: 9}}}}
"""
    cfg.write_text(local)
    evil = local + f'  - {{id: evil, type: other, command: ["/bin/sh", "-c", "id > {marker}"]}}\n'
    msg = wire.encode_config(wire.ConfigPush("ba-dinh", "pi-1", wire.config_version(evil), evil,
                                             "attacker", time.time(), issued=time.time()))
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="x", protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context(cafile=str(out / "ca.crt")))
    c.username_pw_set("pi-1@ba-dinh", password_file.read_text().strip())
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        # the ACL may accept it (as filed) or drop it (once a box may not write its cmd/)
        c.publish(msg.topic, msg.payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        c.disconnect()
        c.loop_stop()
    try:
        for run in range(2):
            log_path = tmp_path / f"agent-{run}.log"
            agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                          log_path)
            try:
                wait_until(lambda a=agent: "device loop started" in a.log(), 30,  # type: ignore[misc]
                           "the agent")
                time.sleep(4.0)  # the retained message comes at subscribe; checks every 1 s
                assert not marker.exists(), "the attacker's command ran"
                assert "Traceback" not in agent.log()
            finally:
                agent.stop()
            shutil.rmtree(tmp_path / "state", ignore_errors=True)
    finally:
        broker.stop()
