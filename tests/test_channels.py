"""Each notification channel against a local fake of its provider's documented API (Telegram Bot
API, Zalo OA API v3 with OAuth v4 refresh, a brand-name SMS gateway), failure modes included;
SMS text fitting; rosters and escalation steps; the channel registry and config errors."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from controller.channels import REGISTRY, email, sms, telegram, zalo
from controller.channels.base import ChannelError, Outgoing, Person, SendContext
from controller.oncall import Override, Roster, Shift, Step, due_steps, on_duty
from controller.store import AlertRow
from lab.providers import FakeSmsGateway, FakeTelegram, FakeZalo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
LAN = Person("lan", "Nguyễn Thị Lan", {"telegram": "111", "zalo": "u-lan", "sms": "0901000111"})
MINH = Person("minh", "Trần Văn Minh", {"telegram": "222", "zalo": "u-minh"})


def alert(state: str = "firing", severity: str = "critical") -> AlertRow:
    return AlertRow(id=42, center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed",
                    subject="", severity=severity, state=state, device_name="Máy in quầy 2",
                    params={}, opened_at=1_790_000_000.0, acked_at=None, acked_by=None,
                    ack_note=None, resolved_at=None, resolved_by=None, resolve_note=None,
                    labels={})


def outgoing(to: Person | None = None, event: str = "opened") -> Outgoing:
    return Outgoing("alerts" if to is None else "escalation", "ba-dinh", [(event, alert())],
                    public_url="https://hcc.city.vn", center_name="PVHCC Ba Đình", to=to,
                    step=0 if to else None, waited_s=900.0 if to else None)


class MemoryTokens:
    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}

    def channel_state(self, channel: str) -> dict[str, Any] | None:
        return self.states.get(channel)

    def set_channel_state(self, channel: str, state: dict[str, Any]) -> None:
        self.states[channel] = dict(state)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def with_http(fn: Any, tokens: MemoryTokens | None = None,
                    people: dict[str, Person] | None = None) -> Any:
    async with httpx.AsyncClient(timeout=5.0) as http:
        return await fn(SendContext(http, tokens, people or {}))


# -- Telegram ------------------------------------------------------------------------------
@pytest.fixture
def tg() -> Iterator[FakeTelegram]:
    fake = FakeTelegram("123:ABC", chats={111: "Lan", 222: "Minh"})
    yield fake
    fake.stop()


def tg_settings(fake: FakeTelegram, token: str = "123:ABC") -> telegram.Settings:
    return telegram.Settings(token=token, chats=("111",), api_url=fake.url, poll_timeout_s=1)


def test_telegram_sends_the_alert_with_ack_and_resolve_buttons(tg: FakeTelegram) -> None:
    run(with_http(lambda ctx: telegram.send(tg_settings(tg), outgoing(), ctx, "tg")))
    assert tg.problems == []
    [sent] = tg.sent
    assert sent["chat_id"] == "111"
    assert "Máy in quầy 2: kẹt giấy" in sent["text"] and "PVHCC Ba Đình" in sent["text"]
    assert "https://hcc.city.vn/devices/ba-dinh/prn2" in sent["text"]
    assert sent["reply_markup"] == {"inline_keyboard": [[
        {"text": "Đã nhận", "callback_data": "ack:42"},
        {"text": "Đã xử lý", "callback_data": "resolve:42"}]]}
    # an escalation goes to the person's own chat
    run(with_http(lambda ctx: telegram.send(tg_settings(tg), outgoing(MINH), ctx, "tg")))
    assert tg.sent[-1]["chat_id"] == "222" and "chưa ai nhận sau 15 phút" in tg.sent[-1]["text"]


def test_telegram_failures_say_whether_to_retry(tg: FakeTelegram) -> None:
    bad_chat = telegram.Settings(token="123:ABC", chats=("999",), api_url=tg.url)
    with pytest.raises(ChannelError, match="chat not found") as err:
        run(with_http(lambda ctx: telegram.send(bad_chat, outgoing(), ctx, "tg")))
    assert not err.value.retryable
    with pytest.raises(ChannelError, match="401") as err:
        run(with_http(lambda ctx: telegram.send(tg_settings(tg, "999:WRONG"), outgoing(), ctx,
                                                "tg")))
    assert not err.value.retryable
    tg.rate_limited = 1
    with pytest.raises(ChannelError) as err:
        run(with_http(lambda ctx: telegram.send(tg_settings(tg), outgoing(), ctx, "tg")))
    assert err.value.retryable and err.value.retry_after == 1
    assert tg.problems == []


def test_telegram_button_press_acts_as_the_mapped_person_and_refuses_strangers(
        tg: FakeTelegram) -> None:
    acted: list[tuple[int, str, str, str]] = []

    async def act(alert_id: int, action: str, person: Person, channel: str) -> str:
        acted.append((alert_id, action, person.id, channel))
        return f"Đã nhận #{alert_id}"

    async def scenario(ctx: SendContext) -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(telegram.listen(tg_settings(tg), ctx, "tg", act, stop))
        await asyncio.to_thread(tg.press, 111, "ack:42")
        await asyncio.to_thread(tg.press, 555, "ack:42")   # nobody we know
        await asyncio.to_thread(tg.press, 222, "bogus")
        for _ in range(100):
            if len(tg.answers) == 3:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    run(with_http(scenario, people={"lan": LAN, "minh": MINH}))
    assert acted == [(42, "ack", "lan", "telegram")]
    assert [a["text"] for a in tg.answers] == [
        "Đã nhận #42", "Bạn chưa có trong danh sách kỹ thuật viên: không thao tác được.",
        "Nút không hợp lệ."]
    assert tg.answers[1]["show_alert"] is True
    assert tg.problems == []


# -- Zalo ------------------------------------------------------------------------------------
@pytest.fixture
def zl() -> Iterator[FakeZalo]:
    fake = FakeZalo("app-1", "s3cret", "RT0", followers={"u-lan", "u-minh"})
    yield fake
    fake.stop()


def zalo_settings(fake: FakeZalo, refresh: str = "RT0") -> zalo.Settings:
    return zalo.Settings(app_id="app-1", app_secret="s3cret", refresh_token=refresh,
                         users=("u-lan",), api_url=fake.url, oauth_url=fake.url)


def test_zalo_refreshes_its_token_keeps_the_new_pair_and_sends(zl: FakeZalo) -> None:
    tokens = MemoryTokens()
    run(with_http(lambda ctx: zalo.send(zalo_settings(zl), outgoing(), ctx, "oa"), tokens))
    assert zl.refreshes == 1 and tokens.states["oa"]["refresh_token"] == "RT1"
    [sent] = zl.sent
    assert sent["recipient"] == {"user_id": "u-lan"}
    assert "Máy in quầy 2: kẹt giấy" in sent["message"]["text"]
    # the token expires (or is revoked): -216, refresh with the kept token (RT0 is spent), resend
    zl.expire_tokens()
    run(with_http(lambda ctx: zalo.send(zalo_settings(zl), outgoing(MINH), ctx, "oa"), tokens))
    assert zl.refreshes == 2 and tokens.states["oa"]["refresh_token"] == "RT2"
    assert zl.sent[-1]["recipient"] == {"user_id": "u-minh"}
    assert zl.problems == []


def test_zalo_failures_say_whether_to_retry(zl: FakeZalo) -> None:
    tokens = MemoryTokens()
    zl.rate_limited = 1
    with pytest.raises(ChannelError, match="-32") as err:
        run(with_http(lambda ctx: zalo.send(zalo_settings(zl), outgoing(), ctx, "oa"), tokens))
    assert err.value.retryable and err.value.retry_after == zalo.RATE_LIMIT_WAIT_S
    stranger = Person("x", "X", {"zalo": "u-nobody"})
    with pytest.raises(ChannelError, match="-213") as err:
        run(with_http(lambda ctx: zalo.send(zalo_settings(zl), outgoing(stranger), ctx, "oa"),
                      tokens))
    assert not err.value.retryable
    # a refresh token already used (or 3 months old): a person must authorize again
    with pytest.raises(ChannelError, match="authorize the OA again") as err:
        run(with_http(lambda ctx: zalo.send(zalo_settings(zl, "RT0"), outgoing(), ctx, "oa2"),
                      MemoryTokens()))
    assert not err.value.retryable
    assert zl.problems == []


# -- SMS -------------------------------------------------------------------------------------
def test_sms_text_fits_one_message() -> None:
    text = "HCC NGHIÊM TRỌNG · PVHCC phường Đống Đa: Máy in quầy 2: kẹt giấy → Mở nắp, gỡ giấy " \
           "kẹt theo hình trên máy rồi đóng nắp lại; nếu vẫn báo kẹt, gọi kỹ thuật viên trực ngay"
    plain = sms.fit(text, unicode=False)
    assert len(plain) == 160 and plain.endswith("...") and plain.isascii()
    assert plain.startswith("HCC NGHIEM TRONG ? PVHCC phuong Dong Da: May in quay 2: ket giay")
    assert "->" in plain
    uni = sms.fit(text, unicode=True)
    assert len(uni) == 70 and "Đống Đa" in uni
    assert sms.fit("Máy in: kẹt giấy", unicode=False) == "May in: ket giay"


@pytest.fixture
def gw() -> Iterator[FakeSmsGateway]:
    fake = FakeSmsGateway("KEY-1", "HCC-HANOI")
    yield fake
    fake.stop()


def sms_settings(fake: FakeSmsGateway, key: str = "KEY-1", test: bool = False) -> sms.Settings:
    return sms.Settings(url=f"{fake.url}/api/send", secret=key, to=("0901000111",),
                        fields={"ApiKey": "{secret}", "Phone": "{phone}", "Content": "{text}",
                                "Brandname": "HCC-HANOI", "SmsType": "2"},
                        ok_field="CodeResult", ok_value="100", test=test,
                        test_fields={"Sandbox": "1"})


def test_sms_through_the_gateway_template_and_its_failures(gw: FakeSmsGateway) -> None:
    run(with_http(lambda ctx: sms.send(sms_settings(gw, test=True), outgoing(), ctx, "sms")))
    [sent] = gw.sent
    assert sent["Phone"] == "0901000111" and sent["Sandbox"] == "1"
    assert sent["Content"].startswith("HCC NGHIEM TRONG ? PVHCC Ba Dinh: May in quay 2: ket giay")
    with pytest.raises(ChannelError, match="CodeResult=101") as err:
        run(with_http(lambda ctx: sms.send(sms_settings(gw, key="WRONG"), outgoing(), ctx, "s")))
    assert not err.value.retryable
    gw.http_errors = 1
    with pytest.raises(ChannelError, match="HTTP 503") as err:
        run(with_http(lambda ctx: sms.send(sms_settings(gw), outgoing(), ctx, "sms")))
    assert err.value.retryable
    assert gw.problems == []
    assert REGISTRY["sms"].default_severities == ("critical",)


# -- rosters ---------------------------------------------------------------------------------
def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> float:
    return datetime(2026, mo, d, h, mi, tzinfo=TZ).timestamp()


ROSTER = Roster(name="hn", centers=("ba-dinh",), shifts=(
    Shift(frozenset(range(5)), *map(lambda t: datetime.strptime(t, "%H:%M").time(),
                                     ("07:00", "17:30")), "lan"),
    Shift(frozenset({5}), datetime.strptime("07:00", "%H:%M").time(),
          datetime.strptime("12:00", "%H:%M").time(), "minh")),
    overrides=(Override(datetime(2026, 12, 1).date(), datetime(2026, 12, 4).date(), "minh",
                        "lan"),),
    steps=(Step(0, ("on_duty",), ("tg",)), Step(900, ("minh",), ("oa",)),
           Step(2700, ("head",), ("oa", "sms"))))


def test_who_is_on_duty_by_shift_time_zone_and_leave() -> None:
    assert on_duty(ROSTER, local(2026, 11, 30, 8)) == "lan"         # Monday 08:00 Hanoi
    assert on_duty(ROSTER, local(2026, 11, 30, 18)) is None         # after the shift
    assert on_duty(ROSTER, local(2026, 11, 28, 9)) == "minh"        # Saturday morning
    assert on_duty(ROSTER, local(2026, 12, 2, 9)) == "minh"         # Lan on leave 1-4 Dec
    assert on_duty(ROSTER, local(2026, 12, 7, 9)) == "lan"
    # 00:30 UTC on Monday is 07:30 in Hanoi: the zone decides, not the server's clock
    assert on_duty(ROSTER, datetime(2026, 11, 30, 0, 30, tzinfo=ZoneInfo("UTC")).timestamp()) \
        == "lan"


def test_escalation_steps_fall_due_in_order_and_once() -> None:
    t0 = 1_000_000.0
    assert due_steps(ROSTER, t0, set(), t0) == [0]
    assert due_steps(ROSTER, t0, {0}, t0 + 899) == []
    assert due_steps(ROSTER, t0, {0}, t0 + 900) == [1]
    assert due_steps(ROSTER, t0, {0, 1}, t0 + 3000) == [2]


def test_roster_config_errors_name_the_line(tmp_path: Path) -> None:
    from controller.config import load
    from hcc_common.yamlconf import ConfigError

    path = tmp_path / "controller.yaml"
    base = ("notify:\n  receivers:\n    - {name: tg, telegram: {token: '1:A', chats: ['1']}}\n"
            "people:\n  - {id: lan, name: Lan, telegram: '111'}\n")
    path.write_text(base + "oncall:\n  - name: hn\n    centers: ['*']\n    shifts:\n"
                           "      - {days: mon-fri, hours: '07:00-17:00', person: lam}\n"
                           "    escalation: [{after: 0m, to: on_duty, via: [tg]}]\n")
    with pytest.raises(ConfigError) as err:
        load(path)
    assert f"{path}:10" in str(err.value) and "unknown person 'lam'" in str(err.value)
    path.write_text(base + "oncall:\n  - name: hn\n    centers: ['*']\n"
                           "    escalation: [{after: 0m, to: on_duty, via: [zalo]}]\n")
    with pytest.raises(ConfigError, match="unknown receiver 'zalo'"):
        load(path)
    path.write_text(base + "oncall:\n  - name: hn\n    centers: ['*']\n    shifts:\n"
                           "      - {days: mon-fri, hours: '07:00-17:00', person: lan}\n"
                           "    escalation: [{after: 0m, to: on_duty, via: [tg]}]\n")
    cfg = load(path)
    assert cfg.notify.rosters[0].shifts[0].person == "lan"
    assert cfg.notify.people["lan"].contacts == {"telegram": "111"}


def test_notifier_retries_what_may_pass_and_gives_up_at_once_on_what_never_will(
        tg: FakeTelegram, tmp_path: Path) -> None:
    from controller.config import NotifySettings, Receiver
    from controller.feed import StorePerThread
    from controller.notify import Batch, Notifier
    from controller.state import AlertKey, OpenAlert
    from controller.store import Store

    Store(tmp_path / "s.db").write([OpenAlert(AlertKey("ba-dinh", "pi-1", "prn2",
                                                       "printer.jammed"), "critical",
                                              "Máy in quầy 2", {}, 1_790_000_000.0)])
    stores = StorePerThread(tmp_path / "s.db")
    row = stores.get().alerts()[0]
    good = Receiver("tg", "telegram", tg_settings(tg))
    bad = Receiver("tg-bad", "telegram", telegram.Settings(token="123:ABC", chats=("999",),
                                                           api_url=tg.url))
    notifier = Notifier(NotifySettings(receivers=(good, bad), max_attempts=4), stores)
    tg.rate_limited = 2  # Telegram says "retry after 1 s" twice

    async def scenario() -> None:
        await notifier.deliver(Batch(good, "ba-dinh", "alerts", [("opened", row)]))
        await notifier.deliver(Batch(bad, "ba-dinh", "alerts", [("opened", row)]))
        await notifier.close()

    run(scenario())
    notes = {n["receiver"]: n for n in stores.get().notifications()}
    assert notes["tg"]["status"] == "sent" and notes["tg"]["attempts"] == 3
    assert notes["tg-bad"]["status"] == "failed" and "chat not found" in notes["tg-bad"]["last_error"]
    assert notes["tg-bad"]["attempts"] == 1  # a bad chat id is not tried again
    assert len(tg.sent) == 1


def test_routes_respect_each_receivers_severities() -> None:
    from controller.config import NotifySettings, Receiver, Route
    from controller.notify import route

    sms_rcv = Receiver("sms", "sms", sms.Settings(url="http://x", fields={"T": "{text}"}),
                       REGISTRY["sms"].default_severities)
    tg_rcv = Receiver("tg", "telegram", telegram.Settings(token="1:A", chats=("1",)))
    settings = NotifySettings(receivers=(sms_rcv, tg_rcv), routes=(Route(("sms", "tg")),))
    assert [r.name for r in route(settings, alert(severity="critical"))] == ["sms", "tg"]
    assert [r.name for r in route(settings, alert(severity="warning"))] == ["tg"]  # SMS costs


# -- a channel's service not reached: what happened, in the desk's words (issue 27) -----------
def test_a_channel_not_reached_says_why_and_whether_to_retry(tmp_path: Path) -> None:
    from test_http_faults import serve

    from lab.procs import free_port

    closed = free_port()
    settings = telegram.Settings(token="123:SECRET", chats=("111",),
                                 api_url=f"http://127.0.0.1:{closed}", poll_timeout_s=1)
    with pytest.raises(ChannelError) as refused:
        run(with_http(lambda ctx: telegram.send(settings, outgoing(), ctx, "tg")))
    assert f"http://127.0.0.1:{closed} từ chối kết nối" in str(refused.value)
    assert refused.value.retryable  # the service may come back
    assert "SECRET" not in str(refused.value)  # the bot's token is in the URL's path
    plain = serve()  # a plain-HTTP port given as https://: no retry will mend it
    try:
        settings = telegram.Settings(token="123:SECRET", chats=("111",),
                                     api_url=f"https://127.0.0.1:{plain.server_port}")
        with pytest.raises(ChannelError) as not_tls:
            run(with_http(lambda ctx: telegram.send(settings, outgoing(), ctx, "tg")))
    finally:
        plain.shutdown()
    assert "không dùng TLS ở cổng này" in str(not_tls.value) and not not_tls.value.retryable
    mail = email.Settings(host="127.0.0.1", port=closed, sender="hcc@city.vn", to=("a@city.vn",))
    with pytest.raises(ChannelError) as smtp:
        run(with_http(lambda ctx: email.send(mail, outgoing(), ctx, "mail")))
    assert f"127.0.0.1:{closed} từ chối kết nối" in str(smtp.value)


def test_a_webhook_that_refuses_is_a_recorded_failed_send_not_a_crash(tmp_path: Path) -> None:
    from controller.channels.base import UrlSettings
    from controller.config import NotifySettings, Receiver
    from controller.feed import StorePerThread
    from controller.notify import Batch, Notifier
    from controller.state import AlertKey, OpenAlert
    from controller.store import Store
    from lab.procs import free_port

    Store(tmp_path / "s.db").write([OpenAlert(AlertKey("ba-dinh", "pi-1", "prn2",
                                                       "printer.jammed"), "critical",
                                              "Máy in quầy 2", {}, 1_790_000_000.0)])
    stores = StorePerThread(tmp_path / "s.db")
    row = stores.get().alerts()[0]
    port = free_port()
    hook = Receiver("hook", "webhook", UrlSettings(f"http://127.0.0.1:{port}/hook"))
    notifier = Notifier(NotifySettings(receivers=(hook,), max_attempts=1), stores)

    async def scenario() -> None:
        await notifier.deliver(Batch(hook, "ba-dinh", "alerts", [("opened", row)]))
        await notifier.close()

    run(scenario())
    [note] = stores.get().notifications()
    assert note["status"] == "failed"
    assert f"127.0.0.1:{port} từ chối kết nối" in note["last_error"]
