"""The broker's own files and limits, against a real mosquitto started from the generated config:
a box writes only the topics it publishes (never its own cmd/), enrollments running at once
leave every password working and the controller's ACL intact, a message over the broker's size
limit is refused while normal ones pass."""

from __future__ import annotations

import getpass
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

import tls_center
from conftest import wait_until
from controller import brokerconf
from controller.brokerconf import (
    BrokerConfigError,
    check_acl,
    controller_acl,
    generate,
    parse_acl,
)
from controller.enroll import code_hash, new_code
from controller.store import Store
from hcc_common import wire
from hcc_common.enrollment import ENROLL_PATH
from hcc_common.mqtt_settings import MAX_PACKET_BYTES
from lab.procs import Proc, free_port, spawn, wait_tcp

pytestmark = pytest.mark.integration

BOXES = [("ba-dinh", "pi-1"), ("ba-dinh", "pi-2")]


@dataclass
class Probe:
    """A paho client that records what it receives, its PUBACK reason codes and disconnects."""

    client: mqtt.Client
    got: list[tuple[str, bytes, bool]] = field(default_factory=list)
    pubacks: dict[int, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> int:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        return int(info.mid)

    def topics(self) -> list[str]:
        return [t for t, _, _ in self.got]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def probe(out: Path, port: int, user: str, subscribe: str | None = None) -> Probe:
    password = (out / "credentials" / f"{user}.password").read_text().strip()
    return connect(out / "ca.crt", port, user, password, subscribe)


def connect(ca: Path, port: int, user: str, password: str,
            subscribe: str | None = None) -> Probe:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user, protocol=mqtt.MQTTv5)
    c.tls_set_context(ssl.create_default_context(cafile=str(ca)))
    c.username_pw_set(user, password)
    p = Probe(c)
    ready = threading.Event()

    def on_connect(cl: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        p.events.append(f"connack {rc}")
        if subscribe is not None:
            cl.subscribe(subscribe, qos=1)
        else:
            ready.set()

    c.on_connect = on_connect
    c.on_subscribe = lambda _c, _u, _m, _rc, _p: ready.set()
    c.on_message = lambda _c, _u, m: p.got.append((m.topic, bytes(m.payload), bool(m.retain)))
    c.on_publish = lambda _c, _u, mid, rc, _p: p.pubacks.__setitem__(mid, int(rc.value))
    c.on_disconnect = lambda _c, _u, _f, rc, _p: p.events.append(f"disconnected {rc}")
    c.connect("127.0.0.1", port)
    c.loop_start()
    wait_until(lambda: ready.is_set() or any(e.startswith("disconnected") for e in p.events),
               10, f"{user} connected")
    return p


def trust(broker_dir: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(broker_dir / "ca.crt"))


@pytest.fixture
def generated_broker(tmp_path: Path) -> Iterator[tuple[Path, int, Proc]]:
    port = free_port()
    out = tmp_path / "broker"
    generate(out, BOXES, ["127.0.0.1"], port, "127.0.0.1", run_as=getpass.getuser())
    proc = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                 tmp_path / "mosquitto.log")
    wait_tcp(port)
    yield out, port, proc
    proc.stop()


# -- item: a box may not publish under its own cmd/ ----------------------------------------------
def test_a_box_writes_only_what_it_publishes_never_its_own_commands(generated_broker) -> None:
    out, port, _ = generated_broker
    ctl = probe(out, port, "hcc-controller", subscribe="hcc/v1/#")
    box = probe(out, port, "pi-1@ba-dinh")
    try:
        attack = b'config: {center: {id: ba-dinh}, devices: [{command: "/bin/sh -c id"}]}'
        forbidden = [wire.config_topic("ba-dinh", "pi-1"),       # its own pushed config
                     "hcc/v1/ba-dinh/pi-1/cmd/restart",          # any command of its own
                     wire.config_topic("ba-dinh", "pi-2"),       # another box's
                     wire.ack_topic("ba-dinh", "pi-1"),          # acks (its own or others')
                     wire.alerts_topic("ba-dinh"),               # the alert feed
                     "hcc/v1/ba-dinh/pi-1/anything-else",        # a topic no box publishes
                     "hcc/v1/ba-dinh/pi-2/heartbeat"]            # another box's reports
        refused = [box.publish(t, attack, retain=True) for t in forbidden]
        allowed = [wire.state_topic("ba-dinh", "pi-1"), wire.heartbeat_topic("ba-dinh", "pi-1"),
                   wire.result_topic("ba-dinh", "pi-1", "printer-1")]
        for t in allowed:
            box.publish(t, b'{"marker": 1}', retain=t.endswith("/state"))
        # one publisher's messages reach a subscriber in order: once the last allowed one is
        # here, any forbidden one sent before it would be too
        wait_until(lambda: allowed[-1] in ctl.topics(), 10, "the box's own reports")
        assert ctl.topics() == allowed
        wait_until(lambda: all(m in box.pubacks for m in refused), 10, "the broker's answers")
        assert {box.pubacks[m] for m in refused} == {135}  # MQTT 5: not authorized
        # nothing was retained either: a fresh subscriber gets the box's state, no command
        late = probe(out, port, "hcc-controller", subscribe="hcc/v1/#")
        wait_until(lambda: late.got, 10, "the retained birth")
        assert [t for t, _, retained in late.got if retained] == [allowed[0]]
        late.close()
    finally:
        box.close()
        ctl.close()


def test_the_generated_acl_grants_each_box_exactly_its_topics() -> None:
    blocks = {b.user: b.grants for b in parse_acl(brokerconf.acl_text(BOXES, ["hcc-controller"]))}
    assert blocks["pi-1@ba-dinh"] == (
        "topic write hcc/v1/ba-dinh/pi-1/state", "topic write hcc/v1/ba-dinh/pi-1/heartbeat",
        "topic write hcc/v1/ba-dinh/pi-1/result/+",
        "topic write hcc/v1/ba-dinh/pi-1/config/current",  # its answer to `config pull`
        "topic read hcc/v1/ack/ba-dinh/pi-1",
        "topic read hcc/v1/ba-dinh/pi-1/cmd/#")
    assert not any("#" in g for g in blocks["pi-1@ba-dinh"] if g.startswith("topic write"))


def test_acl_check_refuses_what_the_race_left_behind() -> None:
    good = brokerconf.acl_text(BOXES, ["hcc-controller"])
    check_acl(good, ["pi-1@ba-dinh"])
    # the controller's block gone, and its lines left under a box: both as issue 23 found them
    lost = good.replace(controller_acl("hcc-controller"), "")
    with pytest.raises(BrokerConfigError, match="no controller user"):
        check_acl(lost)
    with pytest.raises(BrokerConfigError, match="grants before any user"):
        check_acl(good.replace("user hcc-controller\n", ""))
    stray = good + "user pi-3@ba-dinh\n" + controller_acl("x").split("user x\n")[1]
    with pytest.raises(BrokerConfigError, match="pi-3@ba-dinh has grants other"):
        check_acl(stray)
    with pytest.raises(BrokerConfigError, match="appears twice"):
        check_acl(good + brokerconf.box_acl("ba-dinh", "pi-1"))
    with pytest.raises(BrokerConfigError, match="pi-9@x missing"):
        check_acl(good, ["pi-9@x"])


def test_an_enrollment_narrows_an_older_wider_grant(tmp_path: Path) -> None:
    out = tmp_path / "broker"
    generate(out, BOXES, ["127.0.0.1"], free_port(), "127.0.0.1")
    acl = out / "acl"
    wide = acl.read_text().replace("topic write hcc/v1/ba-dinh/pi-2/state\n",
                                   "topic write hcc/v1/ba-dinh/pi-2/#\n")
    acl.write_text(wide)  # as an older release wrote it
    brokerconf.issue_credentials(out, "tay-ho", "pi-1", tmp_path / "pw")
    blocks = {b.user: b.grants for b in parse_acl(acl.read_text())}
    assert "topic write hcc/v1/ba-dinh/pi-2/#" not in blocks["pi-2@ba-dinh"]
    assert blocks["pi-2@ba-dinh"] == parse_acl(brokerconf.box_acl("ba-dinh", "pi-2"))[0].grants
    assert "tay-ho" in acl.read_text()


# -- item: broker files changed atomically and serially -----------------------------------------
def test_twenty_enrollments_at_once_every_password_logs_in(tmp_path: Path) -> None:
    center = tls_center.start(tmp_path)
    try:
        store = Store(center.db)
        wait_until(lambda: store.db.execute(
            "SELECT 1 FROM sqlite_master WHERE name='enrollments'").fetchone(), 15, "the schema")
        now = time.time()
        codes = {}
        for i in range(20):
            code = new_code()
            box = ("ba-dinh" if i % 2 else "tay-ho", f"pi-{i}")
            store.add_enrollment(code_hash(code), *box, "test", now, now + 3600)
            codes[code] = box
        store.close()
        start = threading.Barrier(20)
        answers: dict[str, httpx.Response] = {}

        def enroll(code: str) -> None:
            with httpx.Client(verify=trust(center.broker_dir), timeout=120) as http:
                start.wait(30)
                answers[code] = http.post(center.url + ENROLL_PATH, json={"code": code})

        threads = [threading.Thread(target=enroll, args=(c,)) for c in codes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(180)
        assert {c: r.status_code for c, r in answers.items()} == dict.fromkeys(codes, 200), [
            r.text for r in answers.values() if r.status_code != 200][:3]
        for code, r in answers.items():
            creds = r.json()
            center_id, agent = codes[code]
            assert creds["username"] == f"{agent}@{center_id}"
            p = connect(center.broker_dir / "ca.crt", center.port, creds["username"],
                        creds["password"])
            assert p.events[0] == "connack Success", (creds["username"], p.events)
            p.close()
        acl = (center.broker_dir / "acl").read_text()
        check_acl(acl, [f"{a}@{c}" for c, a in codes.values()])  # no box has a stray line
        blocks = {b.user: b.grants for b in parse_acl(acl)}
        assert blocks["hcc-controller"] == parse_acl(controller_acl("hcc-controller"))[0].grants
        leftovers = [p.name for p in center.broker_dir.iterdir()
                     if p.name.startswith(".") and p.name != ".hcc.lock"]
        assert leftovers == []
        # the controller itself still logs in (its password survived 20 rewrites)
        ctl = probe(center.broker_dir, center.port, "hcc-controller")
        assert ctl.events[0] == "connack Success"
        ctl.close()
    finally:
        center.stop()
    assert "Traceback" not in center.procs[1].log()


def test_a_failed_enrollment_gives_the_code_back(tmp_path: Path) -> None:
    center = tls_center.start(tmp_path)
    try:
        store = Store(center.db)
        wait_until(lambda: store.db.execute(
            "SELECT 1 FROM sqlite_master WHERE name='enrollments'").fetchone(), 15, "the schema")
        code = new_code()
        now = time.time()
        store.add_enrollment(code_hash(code), "ba-dinh", "pi-7", "test", now, now + 3600)
        acl = center.broker_dir / "acl"
        good = acl.read_text()
        acl.write_text(good.replace("user hcc-controller\n", ""))  # damaged by hand
        with httpx.Client(verify=trust(center.broker_dir), timeout=60) as http:
            r = http.post(center.url + ENROLL_PATH, json={"code": code})
            assert r.status_code == 503 and "acl: grants before any user" in r.json()["detail"]
            assert "pi-7" not in acl.read_text()  # nothing written, no reload
            acl.write_text(good)
            r = http.post(center.url + ENROLL_PATH, json={"code": code})
            assert r.status_code == 200, r.text
        store.close()
    finally:
        center.stop()


# -- item: a size limit at the broker --------------------------------------------------------------
def test_the_broker_refuses_an_oversized_message_and_passes_normal_ones(generated_broker) -> None:
    out, port, proc = generated_broker
    ctl = probe(out, port, "hcc-controller", subscribe="hcc/v1/#")
    box = probe(out, port, "pi-1@ba-dinh", subscribe=wire.config_topic("ba-dinh", "pi-1"))
    try:
        result = wire.result_topic("ba-dinh", "pi-1", "printer-1")
        box.publish(result, b"y" * wire.MAX_PAYLOAD_BYTES)  # the largest report
        wait_until(lambda: ctl.got, 10, "the largest report")
        # the largest config the contract allows reaches the box
        config = b"z" * (wire.MAX_CONFIG_BYTES + 4096)
        ctl.publish(wire.config_topic("ba-dinh", "pi-1"), config, retain=True)
        wait_until(lambda: box.got, 10, "the pushed config")
        assert box.got[0][1] == config
        # past the limit the broker stops reading and drops the sender (QoS 0: paho would send
        # a QoS 1 message again on reconnecting)
        box.client.publish(result, b"w" * (MAX_PACKET_BYTES + 1), qos=0)
        wait_until(lambda: any(e.startswith("disconnected") for e in box.events), 10,
                   "the broker dropping the oversized sender")
        assert "oversize packet" in proc.log() or "too large" in proc.log(), proc.log()[-500:]
        wait_until(lambda: box.events.count("connack Success") == 2, 20, "the box back")
        box.publish(result, b"v" * 1000)
        reports = lambda: [(len(p), p[:1]) for t, p, _ in ctl.got if t == result]  # noqa: E731
        wait_until(lambda: len(reports()) == 2, 10, "the next normal report")
        assert reports() == [(wire.MAX_PAYLOAD_BYTES, b"y"), (1000, b"v")]
    finally:
        box.close()
        ctl.close()


def test_the_size_limit_holds_the_contracts_largest_message() -> None:
    conf = brokerconf.conf_text(Path("/b"), 8883, "0.0.0.0", None, 1)
    assert f"max_packet_size {MAX_PACKET_BYTES}\n" in conf
    envelope = 1024  # topic, MQTT header and properties, the JSON fields around the content
    assert max(wire.MAX_PAYLOAD_BYTES, wire.MAX_CONFIG_BYTES + 4096) + envelope <= MAX_PACKET_BYTES
