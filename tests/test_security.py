"""Secure by default: TLS with a CA, per-center passwords, an ACL that keeps each center to its own
topics, and no secret in any log."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import BIN, json_lines, run_cli, wait_until
from controller.brokerconf import generate
from hcc_common import wire
from lab.procs import Proc, free_port, spawn, wait_tcp


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    import getpass

    port = free_port()
    out = tmp_path / "broker"
    generate(out, ["ba-dinh", "tay-ho"], ["localhost", "127.0.0.1"], port, "127.0.0.1",
             run_as=getpass.getuser())
    proc = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                 tmp_path / "mosquitto.log")
    wait_tcp(port)
    yield out, port
    proc.stop()


def client(out: Path, port: int, user: str | None, password: str | None,
           cid: str) -> tuple[mqtt.Client, list[object]]:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context(cafile=str(out / "ca.crt")))
    if user is not None:
        c.username_pw_set(user, password)
    results: list[object] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: results.append(rc)
    c.on_publish = lambda _c, _u, mid, rc, _p: results.append(("puback", mid, rc))
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c, results


def password(out: Path, user: str) -> str:
    return (out / "credentials" / f"{user}.password").read_text().strip()


def test_center_a_cannot_publish_as_center_b(tmp_path: Path, tls_broker) -> None:
    out, port = tls_broker
    db = tmp_path / "hcc.db"
    ctl_cfg = tmp_path / "controller.yaml"
    ctl_cfg.write_text(f'mqtt: {{url: "mqtts://127.0.0.1:{port}", username: hcc-controller, '
                       f'password_file: "{out}/credentials/hcc-controller.password", '
                       f'ca_file: "{out}/ca.crt"}}\ndb: "{db}"\n')
    ctl: Proc = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                     str(ctl_cfg)], tmp_path / "controller.log")
    try:
        wait_until(db.exists, 20, "controller up")
        time.sleep(1.0)
        c, results = client(out, port, "center-ba-dinh", password(out, "center-ba-dinh"), "pi-a")
        wait_until(lambda: results, 10, "connect")
        assert not results[0].is_failure  # type: ignore[attr-defined]
        def result(center: str, seq: int) -> wire.Encoded:
            return wire.encode(wire.Result(center, "pi-1", "printer-1", 1, seq, time.time(),
                                           "printer", "Máy in", "ok"))
        own = result("ba-dinh", 1)
        forged = result("tay-ho", 1)
        c.publish(forged.topic, forged.payload, qos=1)
        # the broker refuses it outright (MQTT 5 PUBACK "not authorized"; mosquitto 2.0 then
        # drops the connection, and paho reconnects)
        refused = wait_until(lambda: [r for r in results if isinstance(r, tuple)], 10, "puback")
        assert "authorized" in str(refused[0][2]).lower()  # type: ignore[index]
        wait_until(lambda: c.is_connected(), 20, "reconnect")
        c.publish(own.topic, own.payload, qos=1).wait_for_publish(10)
        wait_until(lambda: json_lines(run_cli("hcc-controller", "agents", "--json", "--db",
                                              str(db)).stdout), 20, "the own report")
        agents = json_lines(run_cli("hcc-controller", "agents", "--json", "--db", str(db)).stdout)
        assert [a["center"] for a in agents] == ["ba-dinh"]  # nothing reached it for tay-ho
        c.loop_stop()
        c.disconnect()
    finally:
        ctl.stop()
    assert "Traceback" not in ctl.log()


def test_wrong_password_and_anonymous_are_refused(tls_broker) -> None:
    out, port = tls_broker
    for user, pw in (("center-ba-dinh", "not-the-password"), (None, None)):
        c, results = client(out, port, user, pw, f"intruder-{user}")
        wait_until(lambda: results, 10, "an answer")  # noqa: B023
        assert results[0].is_failure  # type: ignore[attr-defined]
        c.loop_stop()


def test_tls_requires_the_ca(tls_broker) -> None:
    _, port = tls_broker
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="no-ca", protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context())  # the system CAs do not know ours
    with pytest.raises(ssl.SSLCertVerificationError):
        c.connect("127.0.0.1", port)


def test_acl_and_credentials_cli(tmp_path: Path, tls_broker) -> None:
    out, _ = tls_broker
    acl = (out / "acl").read_text()
    assert "user center-ba-dinh\ntopic write hcc/v1/ba-dinh/#" in acl
    assert "user hcc-controller\ntopic read hcc/v1/#" in acl
    res = run_cli("hcc-controller", "credentials", "hoan-kiem", "--broker-dir", str(out),
                  "--out", str(tmp_path / "hk.password"), "--url", "mqtts://broker.city:8883")
    assert res.returncode == 0, res.stderr
    assert "username: center-hoan-kiem" in res.stdout and "password_file:" in res.stdout
    secret_pw = (tmp_path / "hk.password").read_text().strip()
    assert secret_pw not in res.stdout and secret_pw not in res.stderr
    assert oct((tmp_path / "hk.password").stat().st_mode & 0o777) == "0o600"
    assert "user center-hoan-kiem\ntopic write hcc/v1/hoan-kiem/#" in (out / "acl").read_text()
    assert "center-hoan-kiem:$7$" in (out / "passwd").read_text()  # hashed, never plain


def test_no_secret_in_any_log(tmp_path: Path) -> None:
    """Run the agent with secrets everywhere, wrong ones too, and read every line it wrote."""
    community, auth_key = "c0mmunity-s3cret", "auth-s3cret-key-77"
    (tmp_path / "pw").write_text("mqtt-s3cret-pw\n")
    cfg = tmp_path / "devices.yaml"
    cfg.write_text(f"""\
center: {{id: c1}}
agent: {{id: a1, state_dir: "{tmp_path / 'st'}"}}
mqtt: {{url: "mqtt://127.0.0.1:{free_port()}", username: u, password_file: "{tmp_path / 'pw'}"}}
devices:
  - {{id: p1, type: printer, host: 127.0.0.1, timeout: 500ms,
      snmp: {{port: {free_port(2)}, community: {community}}}}}
  - {{id: p2, type: printer, host: 127.0.0.1, timeout: 500ms,
      snmp: {{port: {free_port(2)}, version: 3, user: x,
      auth: sha, auth_key: {auth_key}, priv: aes, priv_key: {auth_key}}}}}
""")
    outputs = [run_cli("hcc-agent", "check", "--config", str(cfg), "--json"),
               run_cli("hcc-agent", "check", "--config", str(cfg)),
               run_cli("hcc-agent", "validate", "--config", str(cfg))]
    bad = tmp_path / "bad.yaml"
    bad.write_text(cfg.read_text().replace("community:", "comunity:"))
    outputs.append(run_cli("hcc-agent", "validate", "--config", str(bad)))
    proc = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg), "--log-level",
                           "debug"], tmp_path / "agent.log")
    time.sleep(4)
    proc.stop()
    text = "\n".join(o.stdout + o.stderr for o in outputs) + proc.log()
    assert "comunity" in text and "broker unreachable" in text  # the logs did say things
    for secret in (community, auth_key, "mqtt-s3cret-pw"):
        assert secret not in text, secret
    assert json.loads(outputs[0].stdout.splitlines()[0])["device"] == "p1"
