"""Ingest never dies on one message: poison is set aside as a dead letter and acknowledged, the
other centers go on, and a stuck ingest loop stops the watchdog and turns /healthz red."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from test_sdnotify import listen, received

from conftest import BIN, cli_account, json_lines, run_cli, wait_until
from hcc_common import wire
from lab.procs import Mosquitto, Proc, free_port, spawn, wait_tcp

pytestmark = pytest.mark.integration

POISON = (b'{"v":1,"kind":"heartbeat","center":"ba-dinh","agent":"pi-9",'
          b'"session":9223372036854775808,"seq":1,"ts":1764230430.0,"interval_s":30}')


def publish(broker: Mosquitto, items: list[tuple[str, bytes]]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    for topic, payload in items:
        c.publish(topic, payload, qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def report(center: str, seq: int, name: str = "Máy in") -> tuple[str, bytes]:
    e = wire.encode(wire.Result(center=center, agent="pi-1", device="printer-1", session=1, seq=seq,
                                ts=time.time(), device_type="printer", device_name=name,
                                status="ok"))
    return e.topic, e.payload


def start_controller(tmp_path: Path, broker: Mosquitto, db: str, http_port: int,
                     extra: str = "", env: dict[str, str] | None = None) -> Proc:
    cfg = tmp_path / "controller.yaml"
    cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\n'
                   f'http: {{listen: "127.0.0.1:{http_port}"}}\n{extra}')
    proc = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config", str(cfg)],
                 tmp_path / "controller.log", env=env)
    wait_tcp(http_port, 20)
    wait_until(lambda: "connected" in proc.log(), 20, "controller connected")
    cli_account(db)  # the CLI's reads below act as an account (never anonymously)
    return proc


def health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def received_from(db: str, center: str) -> int:
    rows = json_lines(run_cli("hcc-controller", "agents", "--json", "--db", db).stdout)
    return sum(int(r["received"]) for r in rows if r["center"] == center)


def test_the_issue_11_message_no_longer_stops_ingest(tmp_path: Path, broker: Mosquitto) -> None:
    """Reproduces issue 11.1: this heartbeat killed the ingest thread (OverflowError in SQLite),
    was never acknowledged and killed it again after every restart."""
    db, port = str(tmp_path / "hcc.db"), free_port()
    ctl = start_controller(tmp_path, broker, db, port)
    try:
        publish(broker, [("hcc/v1/ba-dinh/pi-9/heartbeat", POISON), report("tay-ho", 1)])
        wait_until(lambda: received_from(db, "tay-ho") == 1, 15, "the next center's report")
        stats = json.loads(run_cli("hcc-controller", "stats", "--db", db).stdout)
        assert stats["dead_letters"] == 1 and stats["malformed"] == 1  # this run's counters
        ctl.stop()
        # After a restart nothing comes back: the poison was acknowledged, once.
        ctl = start_controller(tmp_path, broker, db, port)
        publish(broker, [report("tay-ho", 2)])
        wait_until(lambda: received_from(db, "tay-ho") == 2, 15, "ingest goes on")
        assert health(port) == 200
    finally:
        ctl.stop()
    dead = json_lines(run_cli("hcc-controller", "deadletters", "--json", "--db", db).stdout)
    assert len(dead) == 1 and dead[0]["topic"] == "hcc/v1/ba-dinh/pi-9/heartbeat"
    assert "session must be a whole number" in dead[0]["reason"]
    assert "Traceback" not in ctl.log()


def test_a_message_the_database_refuses_is_set_aside_alone(tmp_path: Path,
                                                           broker: Mosquitto) -> None:
    """A message that passes the contract but that the database cannot store fails its whole
    batch: the batch is stored again message by message, the one that fails becomes a dead
    letter, and the reports around it are kept. (It was a NUL in a device name, which
    PostgreSQL text cannot hold; the contract now refuses control characters itself, so here
    the database refuses one device's row by a trigger.)"""
    from test_store import pg_or_skip

    url = pg_or_skip()
    import psycopg

    schema = f"hcc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db = f"{url}?options=-csearch_path%3D{schema}"
    port = free_port()
    ctl = start_controller(tmp_path, broker, db, port)
    with psycopg.connect(db, autocommit=True) as conn:
        wait_until(lambda: conn.execute("SELECT to_regclass('devices')").fetchone()[0], 15,
                   "the controller's tables")
        conn.execute("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                     "IF NEW.name = 'refused' THEN RAISE EXCEPTION 'refused by the test'; "
                     "END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
        conn.execute("CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON devices "
                     "FOR EACH ROW EXECUTE FUNCTION refuse()")
    try:
        publish(broker, [report("tay-ho", 1), report("ba-dinh", 1, "refused"),
                         report("tay-ho", 2), report("hoan-kiem", 1)])
        wait_until(lambda: received_from(db, "hoan-kiem") == 1, 20, "reports after the poison")
        assert received_from(db, "tay-ho") == 2
        dead = json_lines(run_cli("hcc-controller", "deadletters", "--json", "--db",
                                  db).stdout)
        assert [d["topic"] for d in dead] == ["hcc/v1/ba-dinh/pi-1/result/printer-1"]
        assert dead[0]["reason"].startswith("could not be stored: ")
        assert health(port) == 200
    finally:
        ctl.stop()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_stuck_ingest_stops_the_watchdog_and_healthz(tmp_path: Path, broker: Mosquitto) -> None:
    """Ingest that cannot commit (the database locked by someone else) makes no progress: the
    event loop is fine, but the watchdog ping stops and /healthz says 503, until it moves again."""
    db, port = str(tmp_path / "hcc.db"), free_port()
    sock = listen(tmp_path / "notify.sock")
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"), WATCHDOG_USEC="1000000")
    ctl = start_controller(tmp_path, broker, db, port, "ingest_stuck_after: 3s\n", env)
    stop = threading.Event()

    def keep_reporting() -> None:
        seq = 0
        while not stop.is_set() and seq < 400:  # bounded
            seq += 1
            publish(broker, [report("tay-ho", seq)])
            stop.wait(0.3)

    feeder = threading.Thread(target=keep_reporting, daemon=True)
    feeder.start()
    try:
        assert "WATCHDOG=1" in received(sock, 2.0)
        lock = sqlite3.connect(db, timeout=10)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            wait_until(lambda: health(port) == 503, 20, "/healthz 503")
            received(sock, 0.6)  # pings sent before it got stuck, still in the socket's queue
            pings = received(sock, 2.5)
            assert "WATCHDOG=1" not in pings, pings
        finally:
            lock.rollback()
            lock.close()
        wait_until(lambda: health(port) == 200, 30, "/healthz back to 200")
        assert "WATCHDOG=1" in received(sock, 2.5)
    finally:
        stop.set()
        feeder.join(10)
        ctl.stop()
        sock.close()
    assert "not healthy: withholding the watchdog ping" in ctl.log()


def test_what_is_over_the_rate_is_asked_for_again_not_dropped(tmp_path: Path) -> None:
    """Issue 11.5: the rate limit acknowledged and dropped what was over it. Now a message over
    the rate is not applied and not counted as received: the controller's ack lists it as
    missing, and the agent, which still holds it, sends it again later."""
    from controller.config import ControllerConfig
    from controller.ingest import RateLimiter
    from controller.service import build_ingest
    from hcc_common.mqtt_io import BrokerSettings

    ctl = build_ingest(ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=tmp_path / "hcc.db"))
    ctl.limiter = RateLimiter(rate=1.0, burst=3.0)

    def send(seq: int, ts: float) -> None:
        e = wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="printer-1", session=1,
                                    seq=seq, ts=ts, device_type="printer", device_name="Máy in",
                                    status="ok"))
        ctl.handle(e.topic, e.payload, ts)

    for seq in range(1, 7):
        send(seq, 1000.0)  # six reports within no agent time: a flood
    tracker = ctl.fleet.agents[("ba-dinh", "pi-1")].seqs
    assert tracker.received == 3 and ctl.counters.rate_limited == 3
    send(7, 1010.0)
    assert tracker.acks()[1].missing == ((4, 6),)  # asked for again
    # the resends carry their original time: they spend tokens, and live reports refill them
    send(4, 1000.0)
    send(5, 1000.0)
    send(6, 1000.0)
    assert tracker.acks()[1].missing == ((6, 6),)
    send(8, 1020.0)
    send(6, 1000.0)
    assert tracker.acks()[1].missing == () and tracker.gaps == 0
    ctl.store.close()
