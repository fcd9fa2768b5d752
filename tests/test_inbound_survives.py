"""No inbound input ends a loop: the Telegram listener, run by the real Notifier on a real store
against the Bot API fake, answers every bad press ("Nút không hợp lệ."), logs it, and still acts
on the good press after them; the MQTT link survives a handler that raises."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_channels import LAN, MINH

from conftest import cli_account
from controller.channels import telegram
from controller.config import NotifySettings, Receiver
from controller.feed import StorePerThread
from controller.notify import Notifier
from controller.state import AlertKey, OpenAlert
from controller.store import Store
from lab.providers import FakeTelegram

BAD_DATA: list[object] = ["ack:99999999999999999999",   # past any database integer
                          "resolve:" + "9" * 40, "ack:", "", "reboot:1", "ack:1:2", "ack:-1",
                          "ack:²", "ack:٣", " ack:1", 12345, None, ["ack", 1], {"ack": 1}]


@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    fake = FakeTelegram("123:ABC", chats={111: "Lan", 222: "Minh"})
    yield fake
    fake.stop()


def raw_press(tg: FakeTelegram, data: object, user: object = 111) -> str:
    """A press as the Bot API could deliver it, with `data` and `from` of any JSON type."""
    with tg.lock:
        tg.next_update += 1
        cq_id = f"cq{tg.next_update}"
        tg.open_callbacks[cq_id] = 0
        cq: dict[str, Any] = {"id": cq_id, "from": {"id": user, "is_bot": False},
                              "chat_instance": "1"}
        if data is not None:
            cq["data"] = data
        tg.updates.put({"update_id": tg.next_update, "callback_query": cq})
    return cq_id


def test_no_press_ends_the_telegram_listener(tg: FakeTelegram, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "s.db"
    key = AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed")
    (change,) = Store(db).write([OpenAlert(key=key, severity="critical",
                                           device_name="Máy in quầy 2", params={},
                                           at=time.time())])
    row = change.alert
    # a press acts as the person's account (issue 27): Lan is a technician of ba-dinh
    cli_account(db, name="lan", role="technician", centers=("ba-dinh",))
    stores = StorePerThread(db)
    receiver = Receiver(name="tg", kind="telegram",
                        settings=telegram.Settings(token="123:ABC", chats=("111",), api_url=tg.url,
                                                   poll_timeout_s=1))
    notifier = Notifier(NotifySettings(receivers=(receiver,),
                                       people={"lan": LAN, "minh": MINH}), stores)
    caplog.set_level(logging.WARNING, "hcc.controller.telegram")

    async def scenario() -> None:
        stop = asyncio.Event()
        listening = asyncio.create_task(notifier.listen_loops(stop))
        for data in BAD_DATA:
            raw_press(tg, data)
        raw_press(tg, "ack:1", user="not-a-number")   # unmapped users, of odd types
        raw_press(tg, "ack:1", user={"id": 111})
        tg.press(555, f"ack:{row.id}")
        with tg.lock:  # updates that are not presses, or not even objects
            tg.updates.put({"update_id": 5000, "callback_query": "ack:1"})
            tg.updates.put({"update_id": 5001, "callback_query": {"data": f"ack:{row.id}"}})
        tg.next_update = 5001
        tg.press(111, f"ack:{row.id}")  # after all of that, a good press is still acted on
        for _ in range(300):
            if len(tg.answers) == len(BAD_DATA) + 4:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(listening, 10)
        await notifier.close()

    asyncio.run(scenario())
    texts = [a["text"] for a in tg.answers]
    assert texts[:len(BAD_DATA)] == ["Nút không hợp lệ."] * len(BAD_DATA)
    assert texts[len(BAD_DATA):-1] == [
        "Bạn chưa có trong danh sách kỹ thuật viên: không thao tác được."] * 3
    assert texts[-1].startswith(f"Đã nhận cảnh báo #{row.id}"), texts[-1]
    assert stores.get().alert(row.id).state == "acknowledged"
    assert stores.get().alert(row.id).acked_by == f"{LAN.name} (lan)"  # the account that acted
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == len(BAD_DATA) + 4  # each bad press said in the log (one unanswerable)
    assert tg.problems == []


@pytest.mark.parametrize(("data", "expected"), [
    ("ack:42", ("ack", 42)), ("resolve:7", ("resolve", 7)), ("ack:999999999999999", ("ack", 10**15 - 1)),
    ("ack:9999999999999999", None), ("ack:²", None), ("ack:12\n", None), (42, None), (None, None)])
def test_parse_press_takes_only_our_buttons(data: object, expected: object) -> None:
    assert telegram.parse_press(data) == expected


def test_the_alert_feed_outlives_a_failing_database(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The feed behind SSE, chats and the MQTT alert topic: reads that fail (a database going
    away) are logged and tried again, and the next change is still delivered."""
    from controller.feed import AlertFeed

    db = tmp_path / "s.db"
    Store(db).close()
    stores = StorePerThread(db)
    failures = {"left": 3}
    real = Store.changes_since

    def flaky(self: Store, event_id: int, limit: int = 500, known: Any = None) -> Any:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise stores.get().db.errors[0]("disk I/O error")
        return real(self, event_id, limit, known)

    monkeypatch.setattr(Store, "changes_since", flaky)
    monkeypatch.setattr("controller.feed.FEED_RETRY_S", 0.05, raising=False)
    got: list[str] = []

    async def scenario() -> None:
        feed = AlertFeed(stores)
        feed.subscribers.append(lambda change, _silenced: got.append(change.event))
        stop = asyncio.Event()
        running = asyncio.create_task(feed.run(stop))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(lambda: Store(db).write([OpenAlert(
            key=AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed"),
            severity="critical", device_name="p", params={}, at=1.0)]))
        feed.wake()
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.05)
        stop.set()
        feed.wake()
        await asyncio.wait_for(running, 5)

    asyncio.run(scenario())
    assert failures["left"] == 0 and got == ["opened"]


def test_the_mqtt_link_outlives_a_handler_that_raises(broker: Any) -> None:
    """A message its handler cannot take (a bug, a surprise) is logged; the link stays up and
    the next message arrives. It ended paho's loop thread: the box, or the controller's MQTT
    process, went dark until restarted."""
    from conftest import wait_until
    from hcc_common.mqtt_io import BrokerSettings, Incoming, MqttLink
    from hcc_common.wire import Encoded

    got: list[bytes] = []

    def handler(m: Incoming) -> None:
        if m.payload == b"poison":
            raise ValueError("a handler bug")
        got.append(m.payload)

    settings = BrokerSettings("127.0.0.1", broker.port)
    link = MqttLink(settings, "probe-sub", subscriptions=["t/#"], on_message=handler)
    sender = MqttLink(settings, "probe-pub")
    link.start()
    sender.start()
    try:
        wait_until(lambda: link.connected and sender.connected, 10, "both connected")
        # until the subscription is in place (its SUBACK is not waited for on connect)
        wait_until(lambda: sender.publish(Encoded("t/0", b"hello", False)) and got, 10,
                   "the subscription")
        sender.publish(Encoded("t/1", b"poison", False))
        sender.publish(Encoded("t/1", b"fine", False))
        wait_until(lambda: b"fine" in got, 10, "the message after the poison")
        assert set(got) == {b"hello", b"fine"} and link.connected
    finally:
        sender.stop()
        link.stop()


def test_a_message_over_the_broker_limit_is_not_sent_and_the_link_stays_up(broker: Any) -> None:
    """The broker (max_packet_size) drops a client that sends more; paho would send the same
    QoS 1 message again after each reconnect, a loop that darkens the box."""
    from conftest import wait_until
    from hcc_common.mqtt_io import BrokerSettings, MqttLink
    from hcc_common.mqtt_settings import MAX_PACKET_BYTES
    from hcc_common.wire import Encoded

    link = MqttLink(BrokerSettings("127.0.0.1", broker.port), "probe-big")
    link.start()
    try:
        wait_until(lambda: link.connected, 10, "connected")
        assert not link.publish(Encoded("t/big", b"x" * MAX_PACKET_BYTES, False))
        assert link.dropped == 1
        assert link.publish(Encoded("t/ok", b"x" * 1000, False))
        wait_until(lambda: link.unacked() == 0, 10, "the normal message acknowledged")
        assert link.connected
    finally:
        link.stop()
