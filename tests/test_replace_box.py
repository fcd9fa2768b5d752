"""Issue 23 item 11, as docs/operations.md "Replace a box" says it is done, on real processes
and TLS: a dead Pi is replaced by a fresh one (new state, same paths) enrolled with the same
center and agent id, which takes its devices.yaml from the controller (the retained push). The
new box is a new stream at once: online, no "center offline", its critical fault raised, no
duplicates counted, whatever its session id."""

from __future__ import annotations

import json
import shutil
import signal
import socket
from pathlib import Path

import pytest

import tls_center
from conftest import BIN, json_lines, run_cli, wait_until
from lab.procs import Proc, spawn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# what install.sh writes on a fresh Pi (its own state dir), before enrollment
FRESH = """\
center: {{id: new-box}}
agent: {{id: pi-x, heartbeat: 2s, config_confirm: 5s, state_dir: "{state}"}}
mqtt: {{url: "mqtt://127.0.0.1:1883", keepalive: 5}}
devices: []
"""


def test_a_replaced_box_is_recognised_at_once(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    center = tls_center.start(tmp_path, f'config_dir: "{configs}"\n')
    db, ctl_cfg = center.db, center.config
    kiosk = socket.socket()
    kiosk.bind(("127.0.0.1", 0))
    kiosk.listen(64)
    kiosk_port = kiosk.getsockname()[1]
    box = tmp_path / "etc-hcc-agent"  # the same paths on the old and the new Pi
    cfg = box / "devices.yaml"
    procs: list[Proc] = []

    def install_and_enroll() -> None:
        shutil.rmtree(box, ignore_errors=True)
        box.mkdir()
        cfg.write_text(FRESH.format(state=box / "state"))
        code, fp = center.enroll_code("phuong-1", "pi-1")
        done = run_cli("hcc-agent", "enroll", center.url, code, "--fingerprint", fp,
                       "--config", str(cfg), "--no-restart")
        assert done.returncode == 0, done.stderr

    def run_box(name: str) -> Proc:
        p = spawn(name, [str(BIN / "hcc-agent"), "run", "--config", str(cfg)],
                  tmp_path / f"{name}.log")
        procs.append(p)
        return p

    def agent() -> dict[str, object]:
        rows = json_lines(run_cli("hcc-controller", "agents", "--json", "--db", str(db)).stdout)
        return next((a for a in rows if a["agent"] == "pi-1"), {})

    def open_alert(device: str, code: str | None = None) -> dict[str, object] | None:
        rows = json_lines(run_cli("hcc-controller", "alerts", "--json", "--all", "--db",
                                  str(db)).stdout)
        return next((a for a in rows if a["agent"] == "pi-1" and (a["device"] or "") == device
                     and code in (None, a["code"]) and a["state"] != "resolved"), None)

    try:
        # the old box: enrolled, configured centrally, restarted once in its life, then dead
        install_and_enroll()
        central = tmp_path / "phuong-1.yaml"
        central.write_text(cfg.read_text().replace("devices: []", f"""\
defaults: {{interval: 1s, timeout: 500ms}}
devices:
  - {{id: kiosk-1, type: kiosk, name: "Ki-ốt tra cứu", host: 127.0.0.1, tcp: {{port: {kiosk_port}}}}}
"""))
        pushed = run_cli("hcc-controller", "config", "push", "phuong-1", str(central),
                         "--config", str(ctl_cfg))
        assert pushed.returncode == 0, pushed.stderr
        old = run_box("old-box")
        wait_until(lambda: int(agent().get("received") or 0) > 20, 60, "the old box reporting")
        old.stop()
        old = run_box("old-box-again")
        received = int(agent().get("received") or 0)
        wait_until(lambda: int(agent().get("received") or 0) > received + 20, 60,
                   "the old box reporting after a restart")
        old.popen.send_signal(signal.SIGKILL)  # the Pi dies
        old.popen.wait(10)
        wait_until(lambda: open_alert("", "agent.offline"), 60, "the dead box seen offline")
        kiosk.close()  # ...and the kiosk broke meanwhile: the new box must say so
        duplicates = int(agent()["duplicates"])  # type: ignore[call-overload]

        # the new box: installed and enrolled as the doc says, fresh state, same ids
        install_and_enroll()
        assert not (box / "state").exists()
        new = run_box("new-box")
        # its critical fault is raised (the old code never did: its reports counted as old)
        alert = wait_until(lambda: open_alert("kiosk-1"), 60, "the new box's critical fault")
        assert alert["severity"] == "critical"  # type: ignore[index]  # refused: nobody listens
        status = json.loads((box / "state" / "status.json").read_text())
        row = agent()
        assert row["state"] == "online" and row["session"] == status["session"]
        assert open_alert("", "agent.offline") is None  # no "center offline" left open
        assert int(row["duplicates"]) == duplicates  # type: ignore[call-overload]
        assert "pushed config applied" in new.log()  # its devices.yaml came from the controller
    finally:
        kiosk.close()
        for p in reversed(procs):
            p.stop()
        center.stop()
    assert all("Traceback" not in p.log() for p in [*procs, *center.procs])
