"""Secure by default: TLS with a CA, a password per box, client ids bound to users, an ACL that
keeps each box to its own topics, a broker config that starts as Debian starts mosquitto, and no
secret in any log."""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from conftest import BIN, cli_account, json_lines, run_cli, wait_until
from controller.brokerconf import generate
from hcc_common import wire
from lab.procs import Proc, free_port, spawn, wait_tcp


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    import getpass

    port = free_port()
    out = tmp_path / "broker"
    generate(out, [("ba-dinh", "pi-1"), ("tay-ho", "pi-1")], ["localhost", "127.0.0.1"], port,
             "127.0.0.1", run_as=getpass.getuser())
    proc = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                 tmp_path / "mosquitto.log")
    wait_tcp(port)
    yield out, port
    proc.stop()


def client(out: Path, port: int, user: str | None, password: str | None,
           cid: str, clean: bool = True) -> tuple[mqtt.Client, list[object]]:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=cid, protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context(cafile=str(out / "ca.crt")))
    if user is not None:
        c.username_pw_set(user, password)
    results: list[object] = []
    c.on_connect = lambda _c, _u, _f, rc, _p: results.append(rc)
    c.on_publish = lambda _c, _u, mid, rc, _p: results.append(("puback", mid, rc))
    c.on_disconnect = lambda _c, _u, _f, rc, _p: results.append(("disconnected", rc))
    c.connect("127.0.0.1", port, clean_start=clean)
    c.loop_start()
    return c, results


def controller_session(out: Path, port: int, got: list[int]) -> mqtt.Client:
    """The controller's persistent session (clean_start off, an hour's expiry), subscribed."""
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="hcc-controller", protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context(cafile=str(out / "ca.crt")))
    c.username_pw_set("hcc-controller", password(out, "hcc-controller"))
    c.on_message = lambda _c, _u, msg: got.append(json.loads(msg.payload)["seq"])
    subscribed: list[object] = []
    c.on_connect = lambda cl, _u, _f, _rc, _p: cl.subscribe("hcc/v1/+/+/#", qos=1)
    c.on_subscribe = lambda _c, _u, _mid, rcs, _p: subscribed.append(rcs)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    wait_until(lambda: subscribed, 10, "the controller's subscription")
    return c


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
        cli_account(db)  # the CLI's reads act as an account (never anonymously)
        c, results = client(out, port, "pi-1@ba-dinh", password(out, "pi-1@ba-dinh"), "pi-a")
        wait_until(lambda: results, 10, "connect")
        assert not results[0].is_failure  # type: ignore[attr-defined]
        def result(center: str, seq: int) -> wire.Encoded:
            return wire.encode(wire.Result(center=center, agent="pi-1", device="printer-1",
                                           session=1, seq=seq, ts=time.time(),
                                           device_type="printer", device_name="Máy in", status="ok"))
        own = result("ba-dinh", 1)
        forged = result("tay-ho", 1)
        c.publish(forged.topic, forged.payload, qos=1)
        # the broker refuses it outright (MQTT 5 PUBACK "not authorized"; mosquitto 2.0 then
        # drops the connection, and paho reconnects)
        refused = wait_until(lambda: [r for r in results if isinstance(r, tuple)
                                      and r[0] == "puback"], 10, "puback")
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
    for user, pw in (("pi-1@ba-dinh", "not-the-password"), (None, None)):
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
    # exactly the topics a box publishes: never its own cmd/ (tests/test_broker_files.py)
    assert "user pi-1@ba-dinh\ntopic write hcc/v1/ba-dinh/pi-1/state\n" in acl
    assert "topic write hcc/v1/ba-dinh/pi-1/#" not in acl
    assert "user hcc-controller\ntopic read hcc/v1/#" in acl
    res = run_cli("hcc-controller", "credentials", "hoan-kiem", "--agent", "pi-2",
                  "--broker-dir", str(out),
                  "--out", str(tmp_path / "hk.password"), "--url", "mqtts://broker.city:8883")
    assert res.returncode == 0, res.stderr
    assert 'username: "pi-2@hoan-kiem"' in res.stdout and "password_file:" in res.stdout
    secret_pw = (tmp_path / "hk.password").read_text().strip()
    assert secret_pw not in res.stdout and secret_pw not in res.stderr
    assert oct((tmp_path / "hk.password").stat().st_mode & 0o777) == "0o600"
    assert ("user pi-2@hoan-kiem\ntopic write hcc/v1/hoan-kiem/pi-2/state\n"
            in (out / "acl").read_text())
    assert "pi-2@hoan-kiem:$7$" in (out / "passwd").read_text()  # hashed, never plain


def test_client_ids_are_bound_to_users(tmp_path: Path, tls_broker) -> None:
    """Reproduces issue 11.3: with center A's credentials, a client that connected as
    hcc-controller wiped the controller's queued session (35 reports lost), and one that
    connected as B's box kicked B off. The broker now makes every client id its user's name."""
    out, port = tls_broker
    # the controller's persistent session, away for now: reports queue for it
    got: list[int] = []
    ctl = controller_session(out, port, got)
    ctl.loop_stop()
    ctl.disconnect()
    box_b, b_results = client(out, port, "pi-1@tay-ho", password(out, "pi-1@tay-ho"),
                              "hcc-agent-tay-ho-pi-1")
    wait_until(lambda: box_b.is_connected(), 10, "box B connected")
    sent = []
    for seq in range(1, 11):
        m = wire.encode(wire.Result(center="tay-ho", agent="pi-1", device="printer-1", session=1,
                                    seq=seq, ts=time.time(), device_type="printer",
                                    device_name="Máy in", status="ok"))
        sent.append(box_b.publish(m.topic, m.payload, qos=1))
    for info in sent:
        info.wait_for_publish(10)
    # center A's box connects as the controller (clean start) and as box B
    attackers = []
    for cid in ("hcc-controller", "hcc-agent-tay-ho-pi-1", "pi-1@tay-ho"):
        a, a_results = client(out, port, "pi-1@ba-dinh", password(out, "pi-1@ba-dinh"), cid)
        wait_until(lambda: a_results, 10, "attacker answered")  # noqa: B023
        attackers.append(a)
    time.sleep(1.0)
    assert box_b.is_connected()
    assert not [r for r in b_results if isinstance(r, tuple) and r[0] == "disconnected"]
    # the controller comes back: its queue is whole
    back = controller_session(out, port, got)
    wait_until(lambda: len(got) >= 10, 10, "the queued reports")
    assert sorted(got) == list(range(1, 11))
    for c in (back, box_b, *attackers):
        c.loop_stop()
        c.disconnect()
    assert "use_username_as_clientid true" in (out / "mosquitto.conf").read_text()


def test_broker_config_starts_as_debian_starts_mosquitto(tmp_path: Path) -> None:
    """Reproduces issue 11.8: Debian's mosquitto, started as root, drops to the mosquitto user,
    which could not read the 0600 root-owned passwd and server.key ("Unable to open pwfile").
    broker-config now gives the broker's files to that user (--owner), binds where it is told
    (--bind), and mosquitto is started exactly as the package does, as root, without `user`."""
    import os
    import pwd
    import shutil
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root: starts mosquitto as root, as the Debian package does")
    try:
        pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto user (Debian's mosquitto package creates it)")
    # a folder the broker's user can reach (pytest's tmp folders are root-only)
    base = Path(tempfile.mkdtemp(prefix="hcc-broker-", dir="/tmp"))
    base.chmod(0o755)
    try:
        port = free_port()
        out = base / "broker"
        res = run_cli("hcc-controller", "broker-config", "--out", str(out), "--box",
                      "ba-dinh/pi-1", "--hostname", "127.0.0.1", "--port", str(port),
                      "--bind", "127.0.0.1")
        assert res.returncode == 0, res.stderr
        out.chmod(0o755)
        conf = (out / "mosquitto.conf").read_text()
        assert f"listener {port} 127.0.0.1" in conf and "\nuser " not in conf
        assert "autosave_interval" in conf and "max_queued_messages 10000" in conf
        owner = pwd.getpwuid((out / "passwd").stat().st_uid).pw_name
        assert owner == "mosquitto" and (out / "passwd").stat().st_mode & 0o077 == 0
        assert pwd.getpwuid((out / "ca.key").stat().st_uid).pw_name == "root"
        proc = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                     tmp_path / "mosquitto.log")
        try:
            wait_tcp(port)
            c, results = client(out, port, "pi-1@ba-dinh", password(out, "pi-1@ba-dinh"), "x")
            wait_until(lambda: results, 10, "an answer")
            assert not results[0].is_failure, results  # type: ignore[attr-defined]
            c.loop_stop()
            c.disconnect()
        finally:
            proc.stop()
        assert "Unable to open" not in proc.log() and "Error" not in proc.log(), proc.log()
    finally:
        shutil.rmtree(base, ignore_errors=True)


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
