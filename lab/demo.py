"""The demo: broker, controller, agent and simulated devices on this machine; a fault comes and goes."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hcc_common import texts
from hcc_common.texts import tr
from lab.procs import Mosquitto, Proc, SnmpSim, free_port, spawn, wait_tcp

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "snmprec"
BIN = Path(sys.executable).parent
DEMO_TOKEN = "demo-token-not-secret-0001"
DEMO_PASSWORD = "demo-password-not-secret"


def demo_devices_yaml(broker_url: str, printer_port: int, other_port: int, state: Path) -> str:
    return f"""\
center: {{id: ba-dinh, name: "Trung tâm PVHCC phường Ba Đình", timezone: Asia/Ho_Chi_Minh}}
agent: {{id: pi-demo, heartbeat: 5s, state_dir: "{state}"}}
mqtt: {{url: "{broker_url}", keepalive: 5}}
defaults: {{interval: 3s, timeout: 1s}}
devices:
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 127.0.0.1
    snmp: {{port: {printer_port}, community: printer-laser}}
  - id: ap-hall
    name: "Wi-Fi sảnh chờ"
    type: wifi_ap
    host: 127.0.0.1
    snmp: {{port: {other_port}, community: ap-wifi}}
  - id: pdu-charging
    name: "Trạm sạc điện thoại"
    type: charger
    host: 127.0.0.1
    snmp: {{port: {other_port}, community: pdu-switched}}
"""


# the demo's commentary in Vietnamese (hcc_common.texts, the one catalog); --lang en or
# $HCC_LANG=en for English
VI = texts.register({
    "   (gave up waiting for {what} after {seconds}s)": "   (thôi chờ {what} sau {seconds} giây)",
    "Starting a private mosquitto, simulated devices (snmpsim), controller and agent":
        "Khởi động mosquitto riêng, các thiết bị giả lập (snmpsim), máy chủ trung tâm và máy "
        "giám sát",
    "   broker {broker}, printer on udp/{printer}, AP and PDU on udp/{other}":
        "   máy chủ MQTT {broker}, máy in ở udp/{printer}, điểm phát Wi-Fi và ổ cắm PDU ở "
        "udp/{other}",
    "   dashboard: {url}   (sign in as demo, password {password})":
        "   bảng điều khiển: {url}   (đăng nhập bằng tài khoản demo, mật khẩu {password})",
    "Fault 1: the printer loses power (its simulator is stopped)":
        "Sự cố 1: máy in mất điện (dừng bộ giả lập của nó)",
    "the unreachable alert": "cảnh báo không phản hồi",
    "The printer is back": "Máy in đã hoạt động lại",
    "the alert to clear": "cảnh báo được đóng",
    "Fault 2: paper jam (hrPrinterDetectedErrorState bit 5 set)":
        "Sự cố 2: kẹt giấy (bật bit 5 của hrPrinterDetectedErrorState)",
    "the jam alert": "cảnh báo kẹt giấy",
    "A technician acknowledges it from the CLI: {command}":
        "Kỹ thuật viên nhận cảnh báo từ dòng lệnh: {command}",
    "The jam is cleared": "Đã gỡ giấy kẹt",
    "the jam alert to clear": "cảnh báo kẹt giấy được đóng",
    "Fault 3: the whole center goes dark (the box is killed): one alert, not three":
        "Sự cố 3: cả trung tâm mất kết nối (tắt máy giám sát): một cảnh báo, không phải ba",
    "the center-offline alert": "cảnh báo trung tâm mất kết nối",
    "The box is back": "Máy giám sát đã hoạt động lại",
    "the center to come back": "trung tâm kết nối lại",
    "Running; press Ctrl-C to stop everything": "Đang chạy; nhấn Ctrl-C để dừng tất cả",
    "Done. Everything started here is stopped now.": "Xong. Mọi thứ khởi động ở đây đã dừng.",
    "interrupted: stopping everything": "bị ngắt: đang dừng tất cả",
    "demo: the demo account: {why}": "demo: tài khoản demo: {why}",
    "keep running after the scenario": "tiếp tục chạy sau kịch bản",
    "language of the commentary: vi (default) or en": "ngôn ngữ lời dẫn: vi (mặc định) hoặc en",
}, __name__)


def say(text: str, **params: object) -> None:
    print(f"\n\033[1m== {tr(text, **params)}\033[0m", flush=True)


def alerts(db: Path) -> list[dict[str, object]]:
    out = subprocess.run([str(BIN / "hcc-controller"), "--as", "demo", "alerts", "--json", "--all",
                          "--db", str(db)],
                         capture_output=True, text=True, check=False)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def wait_for(what: str, predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    print(tr("   (gave up waiting for {what} after {seconds}s)", what=tr(what),
             seconds=f"{timeout:.0f}"))
    return False


def show(db: Path) -> None:
    subprocess.run([str(BIN / "hcc-controller"), "--as", "demo", "alerts", "--all", "--db", str(db)],
                   check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keep", action="store_true", help=tr("keep running after the scenario"))
    ap.add_argument("--lang", choices=texts.LANGS, default=texts.default_lang(),
                    help=tr("language of the commentary: vi (default) or en"))
    args = ap.parse_args()
    texts.set_lang(args.lang)
    os.environ["HCC_LANG"] = args.lang  # the CLIs the demo runs speak the same language

    def stopped(signum: int, _frame: object) -> None:
        # kill -TERM (a service manager, a closed terminal) stops everything, as Ctrl-C does:
        # the `finally` below runs, no mosquitto, controller, agent or snmpsim left behind
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stopped)
    signal.signal(signal.SIGHUP, stopped)
    procs: list[Proc] = []
    sims: list[SnmpSim] = []
    broker: Mosquitto | None = None
    with tempfile.TemporaryDirectory(prefix="hcc-demo-") as tmp:
        work = Path(tmp)
        try:
            say("Starting a private mosquitto, simulated devices (snmpsim), controller and agent")
            broker = Mosquitto(work / "broker").start()
            printer_sim = SnmpSim(work / "sim-printer", [FIXTURES / "printer-laser.snmprec"]).start()
            other_sim = SnmpSim(work / "sim-other", [FIXTURES / "ap-wifi.snmprec",
                                                     FIXTURES / "pdu-switched.snmprec"]).start()
            other_sim.wait_ready("pdu-switched")
            sims += [printer_sim, other_sim]
            cfg = work / "devices.yaml"
            cfg.write_text(demo_devices_yaml(broker.url, printer_sim.port, other_sim.port,
                                             work / "agent-state"))
            ctl_cfg = work / "controller.yaml"
            db = work / "hcc.db"
            # The shipped rules wait a minute before resolving a printer fault (hysteresis);
            # the demo clears at once so the whole story fits in a minute.
            http_port = free_port()
            ctl_cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{db}"\n'
                               "rules: {unreachable_after: 2}\n"
                               "alert_rules: [{name: demo-fast, fault: '*'}]\n"
                               'centers: [{id: ba-dinh, name: "Trung tâm PVHCC phường Ba Đình"}]\n'
                               f'http: {{listen: "127.0.0.1:{http_port}", '
                               f'tokens: {{demo-desk: "{DEMO_TOKEN}"}}}}\n')
            procs.append(spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                              str(ctl_cfg)], work / "controller.log"))
            procs.append(spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                               work / "agent.log"))
            print(tr("   broker {broker}, printer on udp/{printer}, AP and PDU on udp/{other}",
                     broker=broker.url, printer=printer_sim.port, other=other_sim.port))
            wait_tcp(http_port, 30)
            # an account to sign in with (and for the CLI to act as: never anonymously)
            (work / "demo.password").write_text(DEMO_PASSWORD + "\n")
            made = subprocess.run([str(BIN / "hcc-controller"), "user", "add", "demo", "--role",
                                   "admin", "--password-file", str(work / "demo.password"),
                                   "--db", str(db)], check=False, capture_output=True, text=True)
            if made.returncode != 0:  # no sign-in, no CLI: the story cannot be shown
                raise SystemExit(tr("demo: the demo account: {why}", why=made.stderr.strip()))
            print(tr("   dashboard: {url}   (sign in as demo, password {password})",
                     url=f"http://127.0.0.1:{http_port}/", password=DEMO_PASSWORD))
            subprocess.run([str(BIN / "hcc-agent"), "check", "--config", str(cfg)], check=False)

            def open_codes() -> set[str]:
                return {f"{a['device']}:{a['code']}" for a in alerts(db)
                        if a["state"] != "resolved"}

            say("Fault 1: the printer loses power (its simulator is stopped)")
            printer_sim.stop()
            wait_for("the unreachable alert", lambda: "printer-1:device.unreachable" in open_codes(),
                     40)
            show(db)
            say("The printer is back")
            printer_sim.start()
            wait_for("the alert to clear",
                     lambda: "printer-1:device.unreachable" not in open_codes(), 40)
            show(db)
            say("Fault 2: paper jam (hrPrinterDetectedErrorState bit 5 set)")
            printer_sim.set_value("printer-laser", "1.3.6.1.2.1.25.3.5.1.2.1", "4x", "0400")
            wait_for("the jam alert", lambda: "printer-1:printer.jammed" in open_codes(), 40)
            show(db)
            jam = next(a for a in alerts(db) if a["code"] == "printer.jammed"
                       and a["state"] != "resolved")
            say("A technician acknowledges it from the CLI: {command}",
                command=f"hcc-controller ack {jam['id']}")
            subprocess.run([str(BIN / "hcc-controller"), "--as", "demo", "ack", str(jam["id"]),
                            "--note",
                            "đang xử lý", "--by", "Kỹ thuật viên Minh", "--db", str(db)],
                           check=False)
            say("The jam is cleared")
            printer_sim.set_value("printer-laser", "1.3.6.1.2.1.25.3.5.1.2.1", "4x", "0000")
            wait_for("the jam alert to clear",
                     lambda: "printer-1:printer.jammed" not in open_codes(), 40)
            show(db)
            say("Fault 3: the whole center goes dark (the box is killed): one alert, not three")
            procs[1].kill()
            wait_for("the center-offline alert", lambda: "None:agent.offline" in open_codes(), 20)
            show(db)
            say("The box is back")
            procs[1] = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                             work / "agent.log")
            wait_for("the center to come back", lambda: "None:agent.offline" not in open_codes(), 40)
            show(db)
            if args.keep:
                say("Running; press Ctrl-C to stop everything")
                while True:
                    time.sleep(1)
            say("Done. Everything started here is stopped now.")
            return 0
        except KeyboardInterrupt:
            print("\n" + tr("interrupted: stopping everything"))
            return 130
        finally:
            for p in reversed(procs):
                p.stop()
            for s in sims:
                s.stop()
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    sys.exit(main())
