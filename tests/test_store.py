"""Store conformance: the same tests against SQLite and PostgreSQL (127.0.0.1:5432, database
`test`, or $HCC_TEST_PG_URL). Without a reachable PostgreSQL those cases are skipped, saying why."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import pg_or_skip
from controller.state import (
    AgentInfo,
    AlertKey,
    DeviceEvent,
    DeviceInfo,
    OpenAlert,
    ResolveAlert,
    order_of,
)
from controller.store import AlertNotFound, Store
from hcc_common import wire

KEY = AlertKey(center="ba-dinh", agent="pi-1", device="printer-1", code="printer.jammed")


def test_effects_round_trip(target: str) -> None:
    store = Store(target)
    now = time.time()
    agent = AgentInfo(center="ba-dinh", agent="pi-1", session=2, last_seen=now, clock_skew_s=-1.5)
    dev = DeviceInfo(center="ba-dinh", agent="pi-1", device="printer-1", name="Máy in quầy 1",
                     type="printer", status="critical", last_seen=now, agent_ts=now,
                     consecutive_failures=0, metrics={"uptime_s": 0, "sys_descr": "HP"},
                     faults=(wire.FaultReport("printer.jammed", "critical", {}),),
                     order=order_of(2, 7))
    changes = store.write([agent, dev, OpenAlert(key=KEY, severity="critical",
                                                 device_name="Máy in quầy 1", params={}, at=now,
                                                 labels={"team": "printing"}),
                           DeviceEvent(center="ba-dinh", agent="pi-1", device="printer-1",
                                       session=2, seq=7, agent_ts=now, received_at=now,
                                       status="critical", faults=("printer.jammed",),
                                       replayed=False)],
                          stats={"received": 5})
    assert [(c.event, c.alert.code, c.alert.labels) for c in changes] == [
        ("opened", "printer.jammed", {"team": "printing"})]
    (a,) = store.agents()
    assert (a.session, a.clock_skew_s) == (2, -1.5)
    (d,) = store.devices()
    assert d.metrics == {"uptime_s": 0, "sys_descr": "HP"} and (d.session, d.seq) == (2, 7)
    assert store.stats() == {"received": 5}
    assert store.device_history("ba-dinh", "printer-1")[0]["faults"] == ["printer.jammed"]
    store.write([agent, dev], stats={"received": 6})  # upserts, not duplicates
    assert len(store.agents()) == 1 and len(store.devices()) == 1
    assert store.stats() == {"received": 6}


def test_one_open_alert_per_condition_then_a_new_one_after_resolving(target: str) -> None:
    store = Store(target)
    assert len(store.write([OpenAlert(key=KEY, severity="critical", device_name="p", params={},
                                      at=1.0)])) == 1
    assert store.write([OpenAlert(key=KEY, severity="critical", device_name="p", params={},
                                  at=2.0)]) == []  # already open
    assert [c.event for c in store.write([ResolveAlert(KEY, 3.0, "cleared")])] == ["resolved"]
    assert len(store.write([OpenAlert(key=KEY, severity="critical", device_name="p", params={},
                                      at=4.0)])) == 1
    assert [a.state for a in store.alerts(include_resolved=True)] == ["firing", "resolved"]
    assert store.open_alert_keys() == [KEY]


def test_lifecycle_history_and_response_times(target: str) -> None:
    store = Store(target)
    (change,) = store.write([OpenAlert(key=KEY, severity="critical", device_name="p", params={},
                                       at=100.0)])
    row = change.alert
    store.ack(row.id, "Minh", "đang đến", at=160.0)
    done = store.resolve(row.id, "Minh", "đã gỡ", at=400.0)
    assert (done.state, done.acked_by, done.resolve_note) == ("resolved", "Minh", "đã gỡ")
    assert [h["event"] for h in store.history(row.id)] == ["opened", "acknowledged", "resolved"]
    (rt,) = store.response_times()
    assert (rt["center"], rt["alerts"], rt["open"]) == ("ba-dinh", 1, 0)
    assert rt["mtta_s"] == pytest.approx(60.0) and rt["mttr_s"] == pytest.approx(300.0)
    with pytest.raises(AlertNotFound):
        store.ack(99999, "x", "")
    events = store.changes_since(0)
    assert [e.event for e in events] == ["opened", "acknowledged", "resolved"]
    assert store.changes_since(events[-1].event_id) == []


def test_silences_and_notifications(target: str) -> None:
    store = Store(target)
    s = store.add_silence(center="ba-dinh", device=None, type_=None, code="printer.*",
                          starts_at=10.0, ends_at=1e12, author="ops", reason="bảo trì")
    assert [x.id for x in store.silences(active_at=20.0)] == [s.id]
    store.expire_silence(s.id, 30.0)
    assert store.silences(active_at=40.0) == []
    n = store.record_notification("hook", "ba-dinh", "alerts", [1, 2], "pending", 0, None)
    store.record_notification("hook", "ba-dinh", "alerts", [1, 2], "sent", 2, None, n)
    (rec,) = store.notifications()
    assert (rec["status"], rec["attempts"], rec["alert_ids"]) == ("sent", 2, [1, 2])


def test_two_writers_racing_open_one_alert(target: str) -> None:
    """Two controllers see the same fault at once: the database's constraint lets one win."""
    Store(target)  # schema
    stores = [Store(target) for _ in range(4)]
    opened: list[int] = []
    barrier = threading.Barrier(len(stores))

    def race(s: Store) -> None:
        barrier.wait()
        for attempt in range(20):
            try:
                opened.extend(c.alert.id for c in s.write([OpenAlert(key=KEY, severity="critical",
                                                                  device_name="p", params={},
                                                                  at=1.0)]))
                return
            except Exception:  # noqa: BLE001 - SQLite may say "locked": a writer retries
                time.sleep(0.05 * (attempt + 1))

    threads = [threading.Thread(target=race, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(opened) == 1
    assert len(Store(target).alerts(include_resolved=True)) == 1


def test_controller_runs_on_postgres(tmp_path: Path, broker) -> None:
    """The whole controller process with db: postgresql://…, fed by a real broker."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from conftest import BIN, cli_account, json_lines, run_cli, wait_until
    from lab.procs import spawn

    url = pg_or_skip()
    import psycopg

    schema = f"hcc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db = f"{url}?options=-csearch_path%3D{schema}"
    cfg = tmp_path / "controller.yaml"
    cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\n'
                   "alert_rules: [{name: all, fault: '*'}]\n")
    ctl = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config", str(cfg)],
                tmp_path / "controller.log")
    try:
        wait_until(lambda: "connected" in ctl.log(), 20, "controller connected")
        cli_account(db)  # the CLI's reads act as an account (never anonymously)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="pg-test")
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        msg = wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="printer-1", session=1,
                                      seq=1, ts=time.time(), device_type="printer",
                                      device_name="Máy in", status="critical", metrics={},
                                      faults=(wire.FaultReport("printer.jammed", "critical", {}),)))
        c.publish(msg.topic, msg.payload, qos=1).wait_for_publish(5)
        rows = wait_until(lambda: json_lines(run_cli("hcc-controller", "alerts", "--json",
                                                     "--db", db).stdout), 20, "the alert")
        assert [r["code"] for r in rows] == ["printer.jammed"]  # type: ignore[union-attr]

        # A failover, as the controller sees it: its server connection is cut. The next batch
        # fails, is kept, and is stored once the controller has connected again.
        with psycopg.connect(url, autocommit=True) as conn:
            cut = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name ="
                " 'hcc-controller' AND pid <> pg_backend_pid()").fetchall()
        assert cut, "the controller's connection was not found"
        msg = wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="printer-2", session=1,
                                      seq=2, ts=time.time(), device_type="printer",
                                      device_name="Máy in 2", status="critical", metrics={},
                                      faults=(wire.FaultReport("printer.jammed", "critical", {}),)))
        c.publish(msg.topic, msg.payload, qos=1).wait_for_publish(5)
        rows = wait_until(lambda: len(rows := json_lines(run_cli(
            "hcc-controller", "alerts", "--json", "--db", db).stdout)) == 2 and rows, 30,
            "the second alert, after the reconnect")
        assert sorted(r["device"] for r in rows) == ["printer-1", "printer-2"]  # type: ignore[index]
        assert "could not store a batch" in ctl.log() and "state reloaded" in ctl.log()
        c.loop_stop()
    finally:
        ctl.stop()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    assert "Traceback" not in ctl.log(), ctl.log()[-2000:]


def test_two_controllers_share_the_stream_and_survive_one_dying(tmp_path: Path, broker) -> None:
    """Two controllers in one MQTT v5 shared-subscription group over one PostgreSQL: one is
    killed under load, the other carries on; every fault is alerted, none opened twice."""
    import signal

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from conftest import BIN, cli_account, json_lines, run_cli, wait_until
    from lab.procs import spawn

    url = pg_or_skip()
    import psycopg

    schema = f"hcc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    db = f"{url}?options=-csearch_path%3D{schema}"
    ctls = []
    for i in range(2):
        cfg = tmp_path / f"controller-{i}.yaml"
        cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\nclient_id: hcc-ctl-{i}\n'
                       "share_group: hcc\nsession_expiry: 3s\n"
                       "alert_rules: [{name: all, fault: '*'}]\n")
        ctls.append(spawn(f"controller-{i}", [str(BIN / "hcc-controller"), "run", "--config",
                                              str(cfg)], tmp_path / f"controller-{i}.log"))
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="load")
    c.max_inflight_messages_set(200)
    try:
        for ctl in ctls:
            wait_until(lambda ctl=ctl: "connected" in ctl.log(), 20, "controllers connected")
        cli_account(db)  # the CLI's reads act as an account (never anonymously)
        time.sleep(1.0)
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        centers = [f"c{i:03d}" for i in range(40)]
        seq = dict.fromkeys(centers, 0)

        def send(center: str, faulty: bool) -> None:
            seq[center] += 1
            faults = (wire.FaultReport("printer.jammed", "critical", {}),) if faulty else ()
            m = wire.encode(wire.Result(center=center, agent="pi-1", device="printer-1", session=1,
                                        seq=seq[center], ts=time.time(), device_type="printer",
                                        device_name="Máy in", status="critical" if faulty else "ok",
                                        metrics={}, faults=faults))
            c.publish(m.topic, m.payload, qos=1)

        for _ in range(5):                 # load, every printer jammed
            for center in centers:
                send(center, True)
        time.sleep(0.5)
        ctls[0].popen.send_signal(signal.SIGKILL)  # one dies under load
        for _ in range(5):
            for center in centers:
                send(center, True)
        wait_until(lambda: len(json_lines(run_cli("hcc-controller", "alerts", "--json", "--db",
                                                  db).stdout)) == len(centers), 60,
                   "one jam alert per center")
        rows = json_lines(run_cli("hcc-controller", "alerts", "--json", "--all", "--db",
                                  db).stdout)
        per_center = {cn: [r for r in rows if r["center"] == cn] for cn in centers}
        assert all(len(v) == 1 for v in per_center.values()), per_center  # none twice, none lost
        # mosquitto keeps routing a share to a dead member until its session expires
        time.sleep(5)
        for center in centers:             # the survivor resolves them all
            send(center, False)
        wait_until(lambda: not json_lines(run_cli("hcc-controller", "alerts", "--json", "--db",
                                                  db).stdout), 60, "all resolved")
    finally:
        c.loop_stop()
        for ctl in ctls:
            ctl.stop()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    assert "Traceback" not in ctls[1].log(), ctls[1].log()[-3000:]


def test_a_database_from_before_the_inventory_is_migrated(target: str) -> None:
    """A controller upgraded in place: its agents table gains the inventory column."""
    store = Store(target)
    store.db.execute("ALTER TABLE agents DROP COLUMN inventory")
    store.close()
    again = Store(target)
    again.write([AgentInfo(center="ba-dinh", agent="pi-1", inventory={"software": "0.2.0", "devices": 3})])
    assert again.agents()[0].inventory == {"software": "0.2.0", "devices": 3}
