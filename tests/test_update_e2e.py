"""Fleet updates with real processes: a TLS broker and an HTTPS controller (tls_center), two
enrolled boxes whose agents run as real processes, releases built from this project with pip
(offline, from the local wheel index) and installed for real into slot directories; only the
systemd restart is the test's (it restarts the agent process from the `current` slot).

A good release goes to the canary first, then to the other box; reports queued during the switch
all arrive (0 lost); a release whose agent exits at start is rolled back by itself on the canary
and the rollout halts before touching the other; a tampered release is refused."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tls_center
from conftest import BIN, json_lines, run_cli, wait_until
from lab.procs import Proc, spawn

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dependencies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's dependencies as wheels (scripts/build-wheelhouse.sh; no internet here:
    pip's configured local index)."""
    out = tmp_path_factory.mktemp("deps")
    done = subprocess.run(["bash", str(ROOT / "scripts/build-wheelhouse.sh"), str(out)],
                          capture_output=True, text=True, timeout=600, check=False,
                          env={**__import__("os").environ, "PYTHON": sys.executable})
    assert done.returncode == 0, done.stderr
    for wheel in out.glob("hcc_fleet-*.whl"):
        wheel.unlink()
    return out


def wheelhouse(tmp: Path, deps: Path, version: str, *, exits_at_start: bool = False) -> Path:
    """This project as release `version` (its pyproject's version changed), with its
    dependencies; `exits_at_start`: an agent that dies as it starts (a broken release)."""
    src = tmp / f"src-{version}"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    for name in files:
        if name.startswith(("agent/", "controller/", "hcc_common/", "lab/")) or name in (
                "pyproject.toml", "README.md"):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / name, src / name)
    py = src / "pyproject.toml"
    py.write_text(py.read_text().replace('version = "0.1.0"', f'version = "{version}"', 1))
    if exits_at_start:
        runtime = src / "agent/runtime.py"
        runtime.write_text(runtime.read_text() + "\nraise SystemExit(3)  # the broken release\n")
    out = tmp / f"wh-{version}"
    shutil.copytree(deps, out)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                           str(out), str(src)], capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, done.stderr
    return out


class Box:
    """An enrolled box: its agent process, and its installer (hcc-agent-update.service's
    job) in a thread of the test, the restart being the test's."""

    def __init__(self, tmp: Path, center: tls_center.TlsCenter, center_id: str) -> None:
        self.dir = tmp / center_id
        self.dir.mkdir()
        self.root = self.dir / "opt"
        self.cfg = self.dir / "devices.yaml"
        self.cfg.write_text(f"""\
center: {{id: {center_id}}}
agent: {{id: pi-1, heartbeat: 1s, state_dir: "{self.dir / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1883", keepalive: 4}}
devices: []
""")
        code, fp = center.enroll_code(center_id, "pi-1")
        done = run_cli("hcc-agent", "enroll", center.url, code, "--fingerprint", fp,
                       "--config", str(self.cfg), "--no-restart")
        assert done.returncode == 0, done.stderr
        settings = json.loads((self.dir / "update.json").read_text())
        assert settings == {"url": center.url, "fingerprint": fp}  # written by enroll
        (self.dir / "update.json").write_text(json.dumps({
            **settings, "root": str(self.root), "rate_bytes_s": 50_000_000,
            "health_timeout_s": 60}))
        self.center_id = center_id
        self.agent: Proc | None = None
        self.stopping = threading.Event()
        self.outcomes: list[str] = []
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._installer, daemon=True)

    def binary(self) -> Path:
        current = self.root / "current/venv/bin/hcc-agent"
        return current if current.exists() else BIN / "hcc-agent"

    def start(self) -> None:
        self.agent = spawn(f"agent-{self.center_id}", [str(self.binary()), "run", "--config",
                                                        str(self.cfg)], self.dir / "agent.log")

    def restart(self) -> None:
        if self.agent is not None:
            self.agent.stop()
        self.start()

    def _installer(self) -> None:
        from agent import update_helper as uh
        from agent import updater as up
        from agent.config import load
        from agent.trust import load_keys

        cfg = load(self.cfg)
        keys, _problem = load_keys(cfg.agent.controller_keys)
        settings = up.load_settings(self.dir)
        while not self.stopping.wait(0.3):
            try:
                running = uh.current_version(self.root) or "0.1.0"
                box = uh.Box(cfg.center.id, cfg.agent.id, cfg.agent.state_dir, running)
                outcome = uh.Installer(box, keys, settings, restart=self.restart).once()
                if outcome is not None:
                    self.outcomes.append(outcome)
            except BaseException as exc:  # noqa: BLE001 - reported by the test
                self.errors.append(exc)
                return

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(60)
        if self.agent is not None:
            self.agent.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[tls_center.TlsCenter, list[Box]]]:
    center = tls_center.start(tmp_path)
    boxes: list[Box] = []
    try:
        boxes = [Box(tmp_path, center, c) for c in ("a-canary", "b-other")]
        for b in boxes:
            b.start()
            b.thread.start()
        yield center, boxes
    finally:
        for b in boxes:
            b.stop()
        center.stop()


def agents(center: tls_center.TlsCenter) -> dict[str, dict[str, object]]:
    rows = json_lines(run_cli("hcc-controller", "agents", "--json", "--db",
                              str(center.db)).stdout)
    return {str(r["center"]): r for r in rows}


def rollout(center: tls_center.TlsCenter) -> dict[str, object]:
    out = run_cli("hcc-controller", "rollout", "status", "--json", "--config", str(center.config))
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def boxes_of(status: dict[str, object]) -> dict[str, dict[str, object]]:
    return {str(b["center"]): b for b in status["boxes"]}  # type: ignore[attr-defined]


def ctl(center: tls_center.TlsCenter, *args: str) -> str:
    out = run_cli("hcc-controller", *args, "--config", str(center.config), timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_rollout_canary_first_rollback_and_tampering(
        fleet: tuple[tls_center.TlsCenter, list[Box]], dependencies: Path, tmp_path: Path) -> None:
    center, (canary, other) = fleet
    wait_until(lambda: {c for c, a in agents(center).items() if a.get("software") == "0.1.0"}
               == {"a-canary", "b-other"}, 60, "both boxes on 0.1.0")

    # -- a good release: the canary first, then the other box --------------------------------
    ctl(center, "release", "add", str(wheelhouse(tmp_path, dependencies, "0.2.0")),
        "--version", "0.2.0")
    ctl(center, "rollout", "start", "0.2.0", "--canary", "1", "--batch", "1",
        "--health-timeout", "300")
    wait_until(lambda: boxes_of(rollout(center))["a-canary"]["state"] == "sent", 30,
               "the canary sent the instruction")
    assert boxes_of(rollout(center))["b-other"]["state"] == "waiting"
    wait_until(lambda: rollout(center)["state"] == "done", 240, "the rollout done",
               interval=1.0)
    rows = agents(center)
    assert {c: r["software"] for c, r in rows.items()} == {"a-canary": "0.2.0",
                                                           "b-other": "0.2.0"}
    assert all(r["update"] == {"version": "0.2.0", "state": "ok", "reason": ""}
               for r in rows.values())
    # what each box queued in its outbox around the switch reached the controller: 0 lost
    assert [r["gaps"] for r in rows.values()] == [0, 0]
    assert (canary.root / "current").resolve() == (canary.root / "releases/0.2.0").resolve()
    assert canary.outcomes == ["ok"] and other.outcomes == ["ok"]

    # -- a release whose agent exits at start: rolled back on the canary, rollout halted ------
    ctl(center, "release", "add",
        str(wheelhouse(tmp_path, dependencies, "0.3.0", exits_at_start=True)),
        "--version", "0.3.0")
    ctl(center, "rollout", "start", "0.3.0", "--canary", "1", "--batch", "1",
        "--health-timeout", "300")
    wait_until(lambda: rollout(center)["state"] == "halted", 180, "the rollout halted",
               interval=1.0)
    status = rollout(center)
    assert boxes_of(status)["a-canary"]["state"] == "failed"
    assert "did not confirm its health" in str(boxes_of(status)["a-canary"]["reason"])
    assert boxes_of(status)["b-other"]["state"] == "waiting"  # never touched
    wait_until(lambda: agents(center)["a-canary"].get("software") == "0.2.0", 60,
               "the canary back on 0.2.0")
    assert agents(center)["b-other"]["software"] == "0.2.0"
    assert (canary.root / "current").resolve() == (canary.root / "releases/0.2.0").resolve()
    assert canary.outcomes == ["ok", "rolled_back"] and other.outcomes == ["ok"]
    alerts = json_lines(run_cli("hcc-controller", "alerts", "--json", "--db",
                                str(center.db)).stdout)
    assert [a["center"] for a in alerts if a["code"] == "agent.update_failed"] == ["a-canary"]
    ctl(center, "rollout", "abort")

    # -- a tampered release (a file altered on the controller after signing): refused --------
    ctl(center, "release", "add", str(wheelhouse(tmp_path, dependencies, "0.4.0")),
        "--version", "0.4.0")
    kept = center.db.parent / "releases/0.4.0"
    victim = sorted(kept.glob("paho_mqtt-*.whl"))[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    ctl(center, "rollout", "start", "0.4.0", "--canary", "1", "--batch", "1")
    wait_until(lambda: rollout(center)["state"] == "halted", 120, "the rollout halted",
               interval=1.0)
    reason = str(boxes_of(rollout(center))["a-canary"]["reason"])
    assert "SHA-256 differs" in reason and victim.name in reason
    assert agents(center)["a-canary"]["software"] == "0.2.0"
    assert not (canary.root / "releases/0.4.0").exists()  # nothing installed
    assert canary.errors == [] and other.errors == []
    assert "Traceback" not in center.procs[1].log()
