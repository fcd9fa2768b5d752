"""hcc-agent check against real simulated SNMP devices (snmpsim) and real TCP ports."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from conftest import json_lines, run_cli, silent_port


def devices_yaml(tmp: Path, snmp_port: int, extra: str = "") -> Path:
    path = tmp / "devices.yaml"
    path.write_text(f"""\
center: {{id: test-center, name: "Trung tâm thử"}}
agent: {{id: pi-test, state_dir: "{tmp / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
defaults: {{interval: 30s, timeout: 1s}}
devices:
  - id: printer-1
    name: "Máy in quầy 1"
    type: printer
    host: 127.0.0.1
    snmp: {{port: {snmp_port}, community: printer-laser}}
  - id: ap-1
    name: "Wi-Fi sảnh"
    type: wifi_ap
    host: 127.0.0.1
    snmp: {{port: {snmp_port}, community: ap-wifi}}
{extra}""")
    return path


def test_check_json_reports_printer_with_sysdescr(tmp_path: Path, snmp_devices) -> None:
    cfg = devices_yaml(tmp_path, snmp_devices.port)
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "printer-1", "--json")
    rows = json_lines(out.stdout)
    assert out.returncode == 0, out.stderr
    assert len(rows) == 1
    row = rows[0]
    assert row["device"] == "printer-1" and row["type"] == "printer"
    assert row["status"] == "ok"
    assert row["faults"] == []
    metrics = row["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["sys_descr"].startswith("HP ETHERNET MULTI-ENVIRONMENT")
    assert metrics["snmp_profile"] == "printer"
    assert metrics["printer_status"] == "idle"


def test_injected_jam_is_reported_in_vietnamese(tmp_path: Path, private_snmp) -> None:
    sim = private_snmp("printer-laser")
    sim.set_value("printer-laser", "1.3.6.1.2.1.25.3.5.1.2.1", "4x", "0400")
    cfg = devices_yaml(tmp_path, sim.port)
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "printer-1", "--json",
                  "--lang", "vi")
    (row,) = json_lines(out.stdout)
    assert row["status"] == "critical"
    assert [(f["code"], f["message"]) for f in row["faults"]] == [
        ("printer.jammed", "Máy in quầy 1: kẹt giấy")]
    assert out.returncode == 2


def test_dead_device_does_not_delay_the_others(tmp_path: Path, snmp_devices) -> None:
    # A TCP port that accepts nothing and an SNMP port where nobody answers.
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    dead_port = silent.getsockname()[1]
    # A TCP port that gives no answer at all (a closed port would refuse at once, which is a
    # device that is on, not a dead one).
    with silent_port() as full_port:
        extra = "".join(f"""\
  - id: dead-{i}
    name: "Thiết bị hỏng {i}"
    type: kiosk
    host: 127.0.0.1
    timeout: 1s
    snmp: {{port: {dead_port}, retries: 1}}
    tcp: {{port: {full_port}}}
""" for i in range(16))
        cfg = devices_yaml(tmp_path, snmp_devices.port, extra)
        started = time.monotonic()
        out = run_cli("hcc-agent", "check", "--config", str(cfg), "--json")
        elapsed = time.monotonic() - started
    silent.close()
    rows = {r["device"]: r for r in json_lines(out.stdout)}
    assert rows["printer-1"]["status"] == "ok"
    assert rows["ap-1"]["status"] == "ok"
    for i in range(16):
        dead = rows[f"dead-{i}"]
        assert dead["status"] == "unreachable"
        assert [f["code"] for f in dead["faults"]] == ["device.unreachable"]
    # Sixteen dead devices polled one after another would take >= 16 x 1 s of timeouts;
    # concurrently they share one (about 2 s in all). The bound only tells serial from parallel.
    assert elapsed < 12.0, f"check took {elapsed:.1f}s: dead devices were polled serially"


def test_box_itself_is_reported(tmp_path: Path, snmp_devices) -> None:
    cfg = devices_yaml(tmp_path, snmp_devices.port)
    rows = json_lines(run_cli("hcc-agent", "check", "--config", str(cfg), "--json").stdout)
    box = next(r for r in rows if r["type"] == "box")
    assert box["device"] == "pi-test"
    for key in ("cpu_percent", "memory_percent", "disk_percent"):
        assert isinstance(box["metrics"][key], int | float)


def test_validate_exit_codes(tmp_path: Path) -> None:
    good = devices_yaml(tmp_path, 161)
    ok = run_cli("hcc-agent", "validate", "--config", str(good))
    assert ok.returncode == 0 and "hợp lệ" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("community: ap-wifi", "comunity: ap-wifi"))
    res = run_cli("hcc-agent", "validate", "--config", str(bad))
    assert res.returncode == 1
    assert f"{bad}:15: devices[1].snmp.comunity: khóa không hợp lệ (có phải 'community'?)" \
        in res.stderr
    assert "Traceback" not in res.stderr


def test_a_printer_read_only_as_a_network_device_says_so_in_vietnamese(tmp_path: Path,
                                                                       snmp_devices) -> None:
    """Issue 12: a printer the agent can only read generically showed a silent "ok". Now the
    technician reads, in plain Vietnamese, that the model is not supported and what to do."""
    cfg = devices_yaml(tmp_path, snmp_devices.port, f"""\
  - id: printer-2
    name: "Máy in quầy 2"
    type: printer
    host: 127.0.0.1
    snmp: {{port: {snmp_devices.port}, community: router-generic}}
""")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--device", "printer-2")
    assert out.returncode == 0, out.stderr  # a warning, not critical
    assert "Máy in quầy 2: chưa hỗ trợ model này" in out.stdout, out.stdout
    assert "hcc-agent check --device ID --json" in out.stdout  # what to do
    rows = json_lines(run_cli("hcc-agent", "check", "--config", str(cfg), "--device",
                              "printer-2", "--json").stdout)
    assert rows[0]["status"] == "warning"
    assert [f["code"] for f in rows[0]["faults"]] == ["device.unsupported_model"]
