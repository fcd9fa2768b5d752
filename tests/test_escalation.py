"""A center-offline alert through an on-call roster, end to end: a real broker, agent and
controller process, and local fakes of Telegram, Zalo and an SMS gateway. Telegram to the
technician on duty; nobody acknowledges within the window, so Zalo to the team lead; the
technician presses "Đã nhận" in Telegram: the alert is acknowledged as her, through Telegram,
the escalation stops (no SMS to the head of IT), and the dashboard shows who and how."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest
from web import chromium, emulate

from conftest import cli_account, run_cli, wait_until
from lab.procs import Mosquitto, free_port, wait_tcp
from lab.providers import FakeSmsGateway, FakeTelegram, FakeZalo
from stack import Stack

pytestmark = pytest.mark.integration

STEP2_S, STEP3_S = 4, 14


def test_center_offline_escalates_from_telegram_to_zalo_until_a_press_acks_it(
        tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker").start()
    tg = FakeTelegram("777:TOKEN", chats={111: "Lan", 222: "Minh", 333: "Hùng"})
    zl = FakeZalo("app-9", "app-secret", "RT0", followers={"u-minh", "u-hung"})
    gw = FakeSmsGateway("KEY-9", "HCC-HANOI")
    port = free_port()
    controller_extra = f"""\
alert_rules: [{{name: fast, fault: "*"}}]
centers: [{{id: ba-dinh, name: "Trung tâm PVHCC phường Ba Đình"}}]
http: {{listen: "127.0.0.1:{port}", public_url: "https://hcc.city.vn", read_open: true}}
notify:
  escalate_every: 1s
  receivers:
    - {{name: tg, telegram: {{token: "777:TOKEN", api_url: "{tg.url}", poll_timeout: 1s}}}}
    - {{name: oa, zalo: {{app_id: app-9, app_secret: app-secret, refresh_token: RT0,
                        api_url: "{zl.url}", oauth_url: "{zl.url}"}}}}
    - name: sms
      sms:
        url: "{gw.url}/api/send"
        secret: KEY-9
        fields: {{ApiKey: "{{secret}}", Phone: "{{phone}}", Content: "{{text}}",
                  Brandname: HCC-HANOI, SmsType: "2"}}
        ok: {{field: CodeResult, equals: "100"}}
people:
  - {{id: lan, name: "Nguyễn Thị Lan", telegram: "111", zalo: u-lan}}
  - {{id: minh, name: "Trần Văn Minh", telegram: "222", zalo: u-minh}}
  - {{id: hung, name: "Lê Hùng", zalo: u-hung, sms: "0901000333"}}
oncall:
  - name: ba-dinh-team
    centers: [ba-dinh]
    severities: [critical]
    shifts: [{{days: mon-sun, hours: "00:00-24:00", person: lan}}]
    escalation:
      - {{after: 0s, to: on_duty, via: [tg]}}
      - {{after: {STEP2_S}s, to: [minh], via: [oa]}}
      - {{after: {STEP3_S}s, to: [hung], via: [oa, sms]}}
"""
    listener = socket.socket()  # the kiosk answers: only the box going away raises an alert
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    devices = ("  - {id: kiosk-1, name: Ki-ốt 1, type: kiosk, host: 127.0.0.1, "
               f"tcp: {{port: {listener.getsockname()[1]}}}}}")
    s = Stack(tmp_path, broker, devices, keepalive=2, controller_extra=controller_extra)
    try:
        s.start_controller()
        # Lan's press acts as her account: a technician of ba-dinh
        cli_account(s.db, "lan", "technician", ("ba-dinh",))
        wait_tcp(port, 30)
        out = run_cli("hcc-controller", "oncall", "--config", str(s.ctl_cfg), "--center",
                      "ba-dinh")
        assert out.returncode == 0 and "Nguyễn Thị Lan" in out.stdout, out.stderr
        assert f"+{round(STEP2_S / 60)} phút: Trần Văn Minh qua oa" in out.stdout
        s.start_agent()
        wait_until(lambda: s.agents() and s.agents()[0]["received"] >= 2, 30, "first reports")
        assert s.agent is not None
        s.agent.kill()
        alert = wait_until(lambda: s.open_alert(None, "agent.offline"), 20, "center offline")
        assert isinstance(alert, dict)
        opened = time.monotonic()
        # step 1: Telegram to the technician on duty, with the buttons
        wait_until(lambda: any(m["chat_id"] == "111" for m in tg.sent), 15, "telegram to Lan")
        msg = next(m for m in tg.sent if m["chat_id"] == "111")
        assert "PVHCC phường Ba Đình" in msg["text"]
        assert msg["reply_markup"]["inline_keyboard"][0][0] == {
            "text": "Đã nhận", "callback_data": f"ack:{alert['id']}"}
        # nobody acknowledged: step 2, Zalo to the team lead (after a token refresh)
        wait_until(lambda: zl.sent, 20, "zalo to Minh")
        assert time.monotonic() - opened >= STEP2_S - 1
        assert zl.sent[0]["recipient"] == {"user_id": "u-minh"}
        assert "CHƯA AI NHẬN" in zl.sent[0]["message"]["text"] and zl.refreshes == 1
        # Lan presses "Đã nhận" in Telegram
        tg.press(111, f"ack:{alert['id']}")
        acked = wait_until(lambda: next((a for a in s.alerts() if a["id"] == alert["id"]
                                         and a["state"] == "acknowledged"), None), 15,
                           "the press acknowledging the alert")
        assert isinstance(acked, dict)
        assert acked["acked_by"] == "Nguyễn Thị Lan (lan)"
        wait_until(lambda: tg.answers, 10, "the press answered")
        assert tg.answers[0]["text"] == f"Đã nhận cảnh báo #{alert['id']}. Cảm ơn Nguyễn Thị Lan!"
        # the escalation stopped: no step 3 (Zalo and SMS to the head of IT)
        time.sleep(max(0.0, STEP3_S + 3 - (time.monotonic() - opened)))
        assert gw.sent == [] and [m["recipient"]["user_id"] for m in zl.sent] == ["u-minh"]
        detail = httpx.get(f"http://127.0.0.1:{port}/api/v1/alerts/{alert['id']}").json()
        steps = [(h["event"], h["actor"], h["note"]) for h in detail["history"]]
        assert ("escalated", "tg", "bước 1: Nguyễn Thị Lan qua tg") in steps
        assert ("escalated", "oa", "bước 2: Trần Văn Minh qua oa") in steps
        assert not any(n and "bước 3" in n for _, _, n in steps)
        assert ("acknowledged", "Nguyễn Thị Lan (lan)", "qua telegram") in steps
        # the dashboard shows who acknowledged it, and through which channel
        with chromium(tmp_path) as driver:
            driver.get(f"http://127.0.0.1:{port}/")  # type: ignore[attr-defined]
            wait_until(lambda: "Nguyễn Thị Lan (lan)" in driver.execute_script(  # type: ignore[attr-defined]
                "return document.getElementById('alerts').innerText"), 15,
                "the ack on the dashboard")
            shown = driver.execute_script(  # type: ignore[attr-defined]
                "return document.getElementById('alerts').innerText")
            assert "↑ bước 2: Trần Văn Minh qua oa" in shown  # the last step taken
            emulate(driver, 1366, 900, "dashboard-escalation.png")
        assert tg.problems == [] and zl.problems == [] and gw.problems == []
        assert not s.tracebacks(), s.tracebacks()
    finally:
        s.stop()
        listener.close()
        broker.stop()
        tg.stop()
        zl.stop()
        gw.stop()
