"""Channels act as people (issue 27): a Telegram press carries the role and centers of the
presser's account, by the same rule as the API; the fake Bot API answers the presses, the
controller's own Notifier and store take them, and the audit trail names the account."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from controller import accounts
from controller.channels import telegram
from controller.channels.base import Person, SendContext
from controller.config import NotifySettings
from controller.feed import StorePerThread
from controller.notify import Notifier
from controller.state import AlertKey, OpenAlert
from controller.store import Store
from lab.providers import FakeTelegram

LAN = Person("lan", "Nguyễn Thị Lan", {"telegram": "111"})      # technician of ba-dinh
MINH = Person("minh", "Trần Văn Minh", {"telegram": "222"})     # viewer of ba-dinh
KHACH = Person("khach", "Khách", {"telegram": "333"})           # on a roster, no account


def test_a_press_has_the_accounts_role_and_scope(tmp_path: Path) -> None:
    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    store.write([OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="prn-1",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in quầy 1", params={}, at=now - 60),
                 OpenAlert(key=AlertKey(center="tay-ho", agent="pi-2", device="prn-9",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in Tây Hồ", params={}, at=now - 30)])
    a, b = (next(x.id for x in store.alerts() if x.center == c) for c in ("ba-dinh", "tay-ho"))
    accounts.add_account(store.db, name="lan", role="technician", centers=["ba-dinh"],
                         groups=[], password=None, now=now)
    accounts.add_account(store.db, name="minh", role="viewer", centers=["ba-dinh"], groups=[],
                         password=None, now=now)
    people = {"lan": LAN, "minh": MINH, "khach": KHACH}
    notifier = Notifier(NotifySettings(people=people), StorePerThread(db))
    fake = FakeTelegram("123:ABC", chats={111: "Lan", 222: "Minh", 333: "Khách"})
    settings = telegram.Settings(token="123:ABC", chats=("111",), api_url=fake.url,
                                 poll_timeout_s=1)
    presses = [(111, f"ack:{b}"),      # ward A's technician, ward B's alert: as if none
               (222, f"ack:{a}"),      # a viewer: may not
               (333, f"ack:{a}"),      # no account: may not
               (111, f"ack:{a}")]      # A's technician, A's alert: done

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=5.0) as http:
            ctx = SendContext(http, None, people)
            stop = asyncio.Event()
            task = asyncio.create_task(telegram.listen(settings, ctx, "telegram", notifier.act,
                                                       stop))
            for user, data in presses:
                await asyncio.to_thread(fake.press, user, data)
                for _ in range(200):
                    if len(fake.answers) == presses.index((user, data)) + 1:
                        break
                    await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, 10)

    try:
        asyncio.run(scenario())
    finally:
        fake.stop()
    answers = [x["text"] for x in fake.answers]
    assert answers[0] == f"Không có cảnh báo #{b}."  # the same words as for no such alert
    assert answers[1] == "Tài khoản minh (viewer) không được thao tác này."
    assert answers[2].startswith("Khách chưa có tài khoản")
    assert answers[3] == f"Đã nhận cảnh báo #{a}. Cảm ơn Nguyễn Thị Lan!"
    assert store.alert(b).state == "firing"
    assert store.alert(a).acked_by == "Nguyễn Thị Lan (lan)"
    [row] = accounts.audit_rows(store.db)
    assert (row.account, row.via, row.action, row.center) == ("lan", "telegram", "ack", "ba-dinh")
    assert fake.problems == []
