"""The HTTP API on a real database: auth, lifecycle, filters, silences, centers, metrics, spec."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from controller.api import create_app
from controller.config import CenterInfo, ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import AlertKey, DeviceInfo, OpenAlert, order_of
from controller.store import Store
from hcc_common import wire
from hcc_common.calendar import OpeningHours
from hcc_common.mqtt_io import BrokerSettings

TOKEN = "ops-desk-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def env(tmp_path: Path) -> tuple[TestClient, Store]:
    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    store.write([
        DeviceInfo("ba-dinh", "pi-1", "printer-1", "Máy in quầy 1", "printer", "critical", now,
                   now, 0, {}, (wire.FaultReport("printer.jammed", "critical", {}),), order_of(1, 1)),
        OpenAlert(AlertKey("ba-dinh", "pi-1", "printer-1", "printer.jammed"), "critical",
                  "Máy in quầy 1", {}, now - 60),
        OpenAlert(AlertKey("hoan-kiem", "pi-2", "ap-1", "ap.no_clients"), "warning",
                  "Wi-Fi sảnh", {}, now - 30),
    ])
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db,
                           centers=(CenterInfo("ba-dinh", "Ba Đình", OpeningHours()),
                                    CenterInfo("tay-ho", "Tây Hồ", OpeningHours())),
                           # reads open: the explicit switch (off by default since issue 27)
                           http=HttpSettings(tokens={TOKEN: "ops-desk"}, read_open=True))
    return TestClient(create_app(cfg, StorePerThread(db), None,
                                 counters=lambda: {"received": 7, "malformed": 2})), store


def test_write_without_token_is_401_and_changes_nothing(env) -> None:
    client, store = env
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = client.post("/api/v1/alerts/1/ack", json={"note": "x"}, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert store.alert(1).state == "firing"


def test_ack_then_resolve_keeps_who_and_notes(env) -> None:
    client, _store = env
    r = client.post("/api/v1/alerts/1/ack", json={"note": "đang đến", "by": "Lan"}, headers=AUTH)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    assert r.json()["acked_by"] == "Lan (ops-desk)" and r.json()["ack_note"] == "đang đến"
    r = client.post("/api/v1/alerts/1/resolve", json={"note": "đã gỡ giấy"}, headers=AUTH)
    assert r.json()["state"] == "resolved" and r.json()["resolve_note"] == "đã gỡ giấy"
    history = client.get("/api/v1/alerts/1").json()["history"]
    assert [h["event"] for h in history] == ["opened", "acknowledged", "resolved"]
    assert client.post("/api/v1/alerts/999/ack", json={}, headers=AUTH).status_code == 404


def test_filters_by_center_severity_state_and_time(env) -> None:
    client, _store = env
    assert [a["code"] for a in client.get("/api/v1/alerts?center=ba-dinh").json()] == [
        "printer.jammed"]
    assert [a["code"] for a in client.get("/api/v1/alerts?severity=warning").json()] == [
        "ap.no_clients"]
    assert client.get("/api/v1/alerts?state=resolved").json() == []
    recent = client.get(f"/api/v1/alerts?since={time.time() - 45}").json()
    assert [a["code"] for a in recent] == ["ap.no_clients"]
    assert client.get("/api/v1/alerts?severity=bad").status_code == 422
    assert client.get("/api/v1/alerts?since=yesterday").status_code == 422
    jam = client.get("/api/v1/alerts?center=ba-dinh&lang=en").json()[0]
    assert jam["message"] == "Máy in quầy 1: paper jam"
    assert jam["message_vi"] == "Máy in quầy 1: kẹt giấy" and jam["hint_vi"]


def test_silence_marks_alerts_and_leaves_the_worst_color(env) -> None:
    client, _ = env
    r = client.post("/api/v1/silences", json={"center": "ba-dinh", "reason": "bảo trì máy in",
                                              "duration": "1h"}, headers=AUTH)
    assert r.status_code == 201 and r.json()["author"] == "ops-desk"
    jam = client.get("/api/v1/alerts?center=ba-dinh").json()[0]
    assert jam["silenced"] is True
    centers = {c["center"]: c for c in client.get("/api/v1/centers").json()}
    assert centers["ba-dinh"]["worst"] is None and centers["ba-dinh"]["open_alerts"] == 1
    assert centers["hoan-kiem"]["worst"] == "warning"
    assert centers["tay-ho"]["worst"] is None  # configured, nothing heard yet
    sid = r.json()["id"]
    assert client.delete(f"/api/v1/silences/{sid}", headers=AUTH).status_code == 200
    assert client.get("/api/v1/alerts?center=ba-dinh").json()[0]["silenced"] is False
    bad = client.post("/api/v1/silences", json={"reason": "x"}, headers=AUTH)
    assert bad.status_code == 422
    assert client.post("/api/v1/silences", json={"center": "a", "reason": "x"}).status_code == 401


def test_centers_show_devices_and_worst_first(env) -> None:
    client, _ = env
    centers = client.get("/api/v1/centers").json()
    assert [c["center"] for c in centers][:2] == ["ba-dinh", "hoan-kiem"]
    assert centers[0]["worst"] == "critical"
    assert centers[0]["devices"][0]["faults"] == ["printer.jammed"]


def test_centers_come_a_page_at_a_time_filtered_by_the_server(tmp_path: Path) -> None:
    """A city of many centers is never sent whole to a dashboard: a page of them, worst first,
    with the number that match; a filter by a center's or a device's name, accents kept."""
    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    effects: list[object] = [
        DeviceInfo(f"c{i:03d}", "pi-1", f"prn-{i}", f"Máy in quầy {i}", "printer", "ok", now,
                   now, 0, {}, ()) for i in range(250)]
    effects.append(DeviceInfo("c007", "pi-1", "robot-1", "Robot Lễ Tân", "robot", "ok", now, now,
                              0, {}, ()))
    # more open alerts than the store's default page: every one still colours its center
    effects += [OpenAlert(AlertKey(f"c{i:03d}", "pi-1", f"prn-{i}", f"printer.x{j}"), "warning",
                          "Máy in", {}, now - 60) for i in range(200, 250) for j in range(25)]
    effects.append(OpenAlert(AlertKey("c123", "pi-1", "prn-123", "printer.jammed"), "critical",
                             "Máy in", {}, now - 60))
    store.write(effects)  # type: ignore[arg-type]
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db, centers=tuple(
        CenterInfo(f"c{i:03d}", f"Trung tâm {i}", OpeningHours()) for i in range(250)),
        http=HttpSettings(tokens={TOKEN: "ops-desk"}, read_open=True))
    client = TestClient(create_app(cfg, StorePerThread(db), None))
    first = client.get("/api/v1/centers", params={"limit": 60})
    assert first.status_code == 200 and first.headers["x-total-count"] == "250"
    page = first.json()
    assert len(page) == 60 and page[0]["center"] == "c123" and page[0]["worst"] == "critical"
    assert {c["worst"] for c in page[1:51]} == {"warning"}  # 50 centers past the 1,000th alert
    assert page[1]["open_alerts"] == 25 and page[0]["devices"][0]["device"] == "prn-123"
    second = client.get("/api/v1/centers", params={"limit": 60, "offset": 60}).json()
    assert not {c["center"] for c in page} & {c["center"] for c in second}
    robot = client.get("/api/v1/centers", params={"q": "lễ tân"})
    assert robot.headers["x-total-count"] == "1" and robot.json()[0]["center"] == "c007"
    assert [d["device"] for d in robot.json()[0]["devices"]] == ["prn-7", "robot-1"]
    named = client.get("/api/v1/centers", params={"q": "trung tâm 12"}).json()
    assert {c["center"] for c in named} == {"c012", *(f"c{i}" for i in range(120, 130))}
    assert len(client.get("/api/v1/centers").json()) == 250  # no limit: all, as before
    assert client.get("/api/v1/centers", params={"limit": 0}).status_code == 422


def test_metrics_and_openapi(env) -> None:
    client, _ = env
    text = client.get("/metrics").text
    assert "hcc_messages_received_total 7.0" in text
    assert "hcc_messages_malformed_total 2.0" in text
    assert 'hcc_open_alerts{severity="critical"} 1.0' in text
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/alerts", "/api/v1/alerts/{alert_id}/ack", "/api/v1/silences",
                 "/api/v1/centers", "/api/v1/stream"):
        assert path in spec["paths"]


def test_response_times_per_center(env) -> None:
    client, store = env
    store.ack(1, "a", "", at=store.alert(1).opened_at + 120)
    store.resolve(1, "a", "", at=store.alert(1).opened_at + 600)
    stats = {s["center"]: s for s in client.get("/api/v1/stats").json()}
    assert stats["ba-dinh"]["mtta_s"] == pytest.approx(120, abs=1)
    assert stats["ba-dinh"]["mttr_s"] == pytest.approx(600, abs=1)
    assert stats["hoan-kiem"]["mtta_s"] is None


def test_reads_can_require_a_token(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    Store(db)
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db,
                           http=HttpSettings(tokens={TOKEN: "ops"}, read_open=False))
    client = TestClient(create_app(cfg, StorePerThread(db), None))
    assert client.get("/api/v1/alerts").status_code == 401
    assert client.get("/api/v1/alerts", headers=AUTH).status_code == 200


# -- issue 11.7: what answered 500 now answers 4xx with a reason ---------------------------------
def test_silence_duration_nan_is_422(env) -> None:
    client, _ = env
    for bad in ("nan", "inf", "-inf", "NaN"):
        res = client.post("/api/v1/silences", headers=AUTH,
                          json={"center": "ba-dinh", "duration": bad, "reason": "x"})
        assert res.status_code == 422, (bad, res.text)
        assert res.json()["detail"][0]["loc"] == ["body", "duration"]


@pytest.mark.parametrize("event_id", ["9" * 5000, str(2**63), "12a", "-1"])
def test_bad_last_event_id_is_400(env, event_id: str) -> None:
    client, _ = env
    res = client.get("/api/v1/stream", headers={"Last-Event-ID": event_id})
    assert res.status_code == 400 and "Last-Event-ID" in res.json()["detail"]


def test_history_with_a_time_no_calendar_shows_is_not_500(env) -> None:
    """A result from year 10000, stored before the wire contract bounded times."""
    from controller.state import DeviceEvent

    client, store = env
    store.write([DeviceEvent("ba-dinh", "pi-1", "printer-1", 1, 9, 253402300800.0, time.time(),
                             "critical", ("printer.jammed",), False)])
    res = client.get("/api/v1/devices/ba-dinh/printer-1/history")
    assert res.status_code == 200
    assert res.json()[0]["agent_ts"] is None


def test_metrics_follow_read_open_and_count_dead_letters(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    Store(db)
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db,
                           http=HttpSettings(tokens={TOKEN: "ops"}, read_open=False))
    client = TestClient(create_app(cfg, StorePerThread(db), None,
                                   counters=lambda: {"dead_letters": 3, "unknown_agent": 5}))
    assert client.get("/metrics").status_code == 401
    text = client.get("/metrics", headers=AUTH).text
    assert "hcc_messages_dead_letters_total 3.0" in text
    assert "hcc_messages_unknown_agent_total 5.0" in text


def test_healthz_says_when_ingest_is_stuck(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    Store(db)
    cfg = ControllerConfig(BrokerSettings("127.0.0.1", 1), db)
    state = {"ok": True}
    client = TestClient(create_app(cfg, StorePerThread(db), None, healthy=lambda: state["ok"]))
    assert client.get("/healthz").status_code == 200
    state["ok"] = False
    res = client.get("/healthz")
    assert res.status_code == 503 and "stuck" in res.json()["detail"]


def test_the_feed_carries_the_silenced_flag_to_sse_and_mqtt(tmp_path: Path) -> None:
    """Issue 14: a silenced alert went out with "silenced": false on SSE and on the MQTT alert
    topic (the feed dropped the flag). Both now get it from the one feed."""
    import asyncio

    from controller.feed import AlertFeed

    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    store.add_silence(center="ba-dinh", device=None, type_=None, code=None, starts_at=now - 10,
                      ends_at=now + 3600, author="ops", reason="maintenance")
    feed = AlertFeed(StorePerThread(db))
    # the MQTT side as serve() wires it: the controller's own publish_alert, its link captured
    import json as _json

    from controller.service import Controller

    ctl = Controller(ControllerConfig(BrokerSettings("127.0.0.1", 1), db))
    mqtt_side: list[dict[str, object]] = []

    class Link:
        def publish(self, msg: wire.Encoded) -> None:
            mqtt_side.append(_json.loads(msg.payload))

    ctl.link = Link()  # type: ignore[assignment]
    feed.subscribers.append(ctl.publish_alert)

    async def run() -> tuple[AlertChange, bool] | None:
        sse: asyncio.Queue[tuple[AlertChange, bool] | None] = asyncio.Queue()
        feed.sse_clients.add(sse)
        stop = asyncio.Event()
        task = asyncio.create_task(feed.run(stop))
        await asyncio.sleep(0.2)
        store.write([OpenAlert(AlertKey("ba-dinh", "pi-1", "printer-1", "printer.jammed"),
                               "critical", "Máy in quầy 1", {}, time.time())])
        feed.wake()
        item = await asyncio.wait_for(sse.get(), 5)
        stop.set()
        await task
        return item

    from controller.store import AlertChange

    item = asyncio.run(run())
    assert item is not None and item[1] is True
    assert mqtt_side and mqtt_side[0]["alert"]["silenced"] is True  # type: ignore[index]


def test_speedtest_needs_a_token_even_when_reads_are_open_and_is_bounded(env) -> None:
    client, _ = env
    assert client.get("/api/v1/speedtest?bytes=1000").status_code == 401  # read_open or not
    got = client.get("/api/v1/speedtest?bytes=250000", headers=AUTH)
    assert got.status_code == 200 and len(got.content) == 250_000
    assert got.headers["cache-control"] == "no-store"
    assert client.get("/api/v1/speedtest?bytes=50000001", headers=AUTH).status_code == 422
