"""Releases and rollouts kept in the controller's database (SQLite and PostgreSQL): a restart of
the controller keeps going, an operator's pause wins over the loop, a failure raises an alert,
an abort withdraws the retained instructions; and the CLI over the same store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import cli_account, json_lines, run_cli
from controller import config as controller_config
from controller import rollout as rl
from controller.rollout_service import FAULT, Releases, RolloutDriver
from controller.state import AgentInfo
from controller.store import Store
from hcc_common import release as rel
from hcc_common.signing import generate, private_pem, public_of, trusted
from hcc_common.wire import Encoded


def wheelhouse(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"hcc_fleet-{version}-py3-none-any.whl").write_bytes(b"wheel " + version.encode())
    (folder / "paho_mqtt-2.2.0-py3-none-any.whl").write_bytes(b"dependency")
    return folder


class Fleet:
    def __init__(self) -> None:
        self.agents = {(f"c{i}", "box"): AgentInfo(center=f"c{i}", agent="box", inventory={"software": "1.0"})
                       for i in range(4)}

    def report(self, center: str, **inventory: str) -> None:
        a = self.agents[(center, "box")]
        a.inventory = {**a.inventory, **inventory}

    def __call__(self) -> list[AgentInfo]:
        return list(self.agents.values())


def test_rollout_survives_a_restart_and_halts_on_failure(target: str, tmp_path: Path) -> None:
    key = generate()
    cfg = controller_config.load(None)
    from dataclasses import replace
    cfg = replace(cfg, db=target if "://" in target else Path(target),
                  signing=replace(cfg.signing, key_file=tmp_path / "signing.key"))
    store = Store(cfg.db)
    releases = Releases(store.db, tmp_path / "releases")
    m = releases.add(wheelhouse(tmp_path / "w", "2.0"), "2.0", [key], "test", 1.0)
    # what is kept is signed: a box verifies it with the controller's public key
    kept = (tmp_path / "releases/2.0" / rel.MANIFEST_FILE).read_bytes()
    assert rel.verify_manifest(kept, trusted([public_of(key)]))[0] == m
    assert rel.file_problems(m, tmp_path / "releases/2.0") == []
    with pytest.raises(rel.ReleaseError, match="exists already"):
        releases.add(tmp_path / "w", "2.0", [key], "test", 1.0)
    fleet = Fleet()
    releases.start("2.0", sorted(fleet.agents), canary=1, centers=[], batch=2,
                   pause_on_failure=False, allow_downgrade=False, now=1.0)
    with pytest.raises(rl.RolloutError, match="abort it first"):
        releases.start("2.0", sorted(fleet.agents), canary=1, centers=[], batch=2,
                       pause_on_failure=False, allow_downgrade=False, now=1.0)
    sent: list[Encoded] = []
    driver = RolloutDriver(store, cfg, lambda: [key], sent.append)
    driver.folder = tmp_path / "releases"
    assert driver.tick(fleet, now=10.0) == []
    assert [e.topic for e in sent] == [rel.update_topic("c0", "box")]
    cmd = rel.decode_update(sent[0].topic, sent[0].payload)
    assert cmd.version == "2.0" and rel.update_refused(cmd, trusted([public_of(key)]), None) is None
    store.close()

    # the controller restarts: the canary becomes healthy, the next batch goes out
    store = Store(cfg.db)
    driver = RolloutDriver(store, cfg, lambda: [key], sent.append)
    driver.folder = tmp_path / "releases"
    fleet.report("c0", software="2.0", update_version="2.0", update_state="ok")
    driver.tick(fleet, now=20.0)
    assert [e.topic for e in sent[1:]] == [rel.update_topic("c1", "box"),
                                          rel.update_topic("c2", "box")]
    fleet.report("c1", update_version="2.0", update_state="rolled_back",
                 update_reason="agent exited at start")
    driver._next = 0.0
    alerts = driver.tick(fleet, now=30.0)
    assert [(a.key.center, a.key.code, a.params["reason"]) for a in alerts] == [
        ("c1", FAULT, "agent exited at start")]
    r = Releases(store.db, tmp_path / "releases").rollout()
    assert r is not None and r.state == "halted" and "c1/box" in r.reason
    fleet.report("c2", software="2.0", update_version="2.0", update_state="ok")
    driver._next = 0.0
    driver.tick(fleet, now=40.0)
    assert len(sent) == 3  # halted: c3 is never touched

    # abort: the instructions not carried out are withdrawn (an empty retained message)
    releases = Releases(store.db, tmp_path / "releases")
    stored = releases.rollout()
    assert stored is not None
    releases.save(rl.abort(rl.resume(stored)), 41.0)
    driver._next = 0.0
    driver.tick(fleet, now=50.0)
    assert sent[3:] == []  # c1 failed, c0 and c2 are healthy: nothing left to withdraw
    with pytest.raises(rel.ReleaseError, match=r"no release 9\.9"):
        releases.remove("9.9")
    releases.remove("2.0")
    assert not (tmp_path / "releases/2.0").exists() and releases.all() == []
    store.close()


def test_an_operators_pause_wins_over_the_loops_step(tmp_path: Path) -> None:
    key = generate()
    cfg = controller_config.load(None)
    from dataclasses import replace
    cfg = replace(cfg, db=tmp_path / "hcc.db")
    store = Store(cfg.db)
    releases = Releases(store.db, tmp_path / "releases")
    releases.add(wheelhouse(tmp_path / "w", "2.0"), "2.0", [key], "t", 1.0)
    fleet = Fleet()
    releases.start("2.0", sorted(fleet.agents), canary=1, centers=[], batch=9,
                   pause_on_failure=False, allow_downgrade=False, now=1.0)
    read = releases.stored_rollouts()[0]
    releases.save(rl.pause(read[0]), 2.0)   # the operator, between the loop's read and write
    new, _ = rl.step(read[0], {}, 3.0)
    assert not releases.save_if(new, read[1], 3.0)
    got = releases.rollout()
    assert got is not None and got.state == "paused"
    store.close()


def test_cli_release_and_rollout(tmp_path: Path) -> None:
    db = tmp_path / "hcc.db"
    key = tmp_path / "signing.key"
    key.write_bytes(private_pem(generate()))
    key.chmod(0o600)
    cfgfile = tmp_path / "controller.yaml"
    cfgfile.write_text(f'db: "{db}"\nsigning: {{key_file: "{key}"}}\n'
                       "centers:\n  - {id: ba-dinh, name: Ba Dinh, agents: [pi-1]}\n"
                       "  - {id: tay-ho, name: Tay Ho, agents: [pi-1]}\n")
    Store(db).close()
    cli_account(db)  # the CLI acts as an admin account (issue 27)
    house = wheelhouse(tmp_path / "w", "2.1")
    bad = run_cli("hcc-controller", "release", "add", str(house), "--version", "2.2",
                  "-c", str(cfgfile))
    assert bad.returncode == 1 and "cần đúng một gói wheel hcc_fleet phiên bản 2.2" in bad.stderr
    out = run_cli("hcc-controller", "release", "add", str(house), "--version", "2.1",
                  "-c", str(cfgfile))
    assert out.returncode == 0, out.stderr
    assert "bản phát hành 2.1: 2 tệp" in out.stdout
    listed = json_lines(run_cli("hcc-controller", "release", "list", "--json",
                                "-c", str(cfgfile)).stdout)
    assert [r["version"] for r in listed] == ["2.1"]
    out = run_cli("hcc-controller", "rollout", "start", "2.1", "--centers", "tay-ho",
                  "--batch", "5", "-c", str(cfgfile))
    assert out.returncode == 0, out.stderr
    status = json.loads(run_cli("hcc-controller", "rollout", "status", "--json",
                                "-c", str(cfgfile)).stdout)
    assert status["state"] == "running" and [b["center"] for b in status["boxes"]
                                             if b["wave"] == 0] == ["tay-ho"]
    assert run_cli("hcc-controller", "rollout", "pause", "-c", str(cfgfile)).returncode == 0
    again = run_cli("hcc-controller", "rollout", "pause", "-c", str(cfgfile))
    assert again.returncode == 1 and "không chạy" in again.stderr
    busy = run_cli("hcc-controller", "release", "remove", "2.1", "-c", str(cfgfile))
    assert busy.returncode == 1 and "rollout abort" in busy.stderr
    assert run_cli("hcc-controller", "rollout", "abort", "-c", str(cfgfile)).returncode == 0
    assert run_cli("hcc-controller", "release", "remove", "2.1", "-c", str(cfgfile)).returncode == 0
    # every act is in the audit trail, as the account that did it
    trail = json_lines(run_cli("hcc-controller", "audit", "--json", "-c", str(cfgfile)).stdout)
    acts = {(row["action"], row["account"]) for row in trail}
    for action in ("release_add", "rollout_start", "rollout_pause", "rollout_abort",
                   "release_remove"):
        assert (action, "hcc-test") in acts, (action, acts)


def test_api_shows_rollouts_and_each_boxs_update(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from controller.api import create_app
    from controller.config import BrokerSettings, ControllerConfig, HttpSettings
    from controller.feed import StorePerThread

    db = tmp_path / "hcc.db"
    store = Store(db)
    store.write([AgentInfo(center="c0", agent="box", inventory={
        "software": "1.0", "update_version": "2.0", "update_state": "rolled_back",
        "update_reason": "2.0 did not confirm its health within 180 s"})])
    releases = Releases(store.db, tmp_path / "releases")
    releases.add(wheelhouse(tmp_path / "w", "2.0"), "2.0", [generate()], "t", 1.0)
    releases.start("2.0", [("c0", "box"), ("c1", "box")], canary=1, centers=[], batch=1,
                   pause_on_failure=False, allow_downgrade=False, now=1.0)
    cfg = ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                           http=HttpSettings(tokens={"t0ken": "desk"}, read_open=False))
    client = TestClient(create_app(cfg, StorePerThread(db), None))
    assert client.get("/api/v1/rollouts").status_code == 401
    got = client.get("/api/v1/rollouts", headers={"Authorization": "Bearer t0ken"}).json()
    assert [(r["version"], r["state"], r["counts"]["waiting"]) for r in got] == [
        ("2.0", "running", 2)]
    agents = client.get("/api/v1/agents", headers={"Authorization": "Bearer t0ken"}).json()
    assert agents[0]["update"] == {"version": "2.0", "state": "rolled_back",
                                   "reason": "2.0 did not confirm its health within 180 s"}
    # release files go to boxes only, with their broker credentials (none configured here)
    assert client.get("/api/v1/releases/2.0/files/manifest.json").status_code == 401
    store.close()


def test_a_failed_updates_alert_opens_and_ends_when_the_box_updates(tmp_path: Path) -> None:
    key = generate()
    cfg = controller_config.load(None)
    from dataclasses import replace
    cfg = replace(cfg, db=tmp_path / "hcc.db",
                  signing=replace(cfg.signing, key_file=tmp_path / "signing.key"))
    store = Store(cfg.db)
    releases = Releases(store.db, tmp_path / "releases")
    fleet = Fleet()
    driver = RolloutDriver(store, cfg, lambda: [key], lambda _e: None)
    for version, outcome in (("2.0", "rolled_back"), ("2.1", "ok")):
        releases.add(wheelhouse(tmp_path / f"w{version}", version), version, [key], "t", 1.0)
        releases.start(version, [("c0", "box")], canary=1, centers=[], batch=1,
                       pause_on_failure=False, allow_downgrade=False, now=1.0)
        driver._next = 0.0
        driver.tick(fleet, now=2.0)
        fleet.report("c0", update_version=version, update_state=outcome,
                     software=version if outcome == "ok" else "1.0", update_reason="boom")
        driver._next = 0.0
        store.write(driver.tick(fleet, now=3.0))  # type: ignore[arg-type]
        if outcome == "rolled_back":
            [row] = [a for a in store.alerts() if a.code == FAULT]
            assert row.state == "firing" and row.center == "c0"
            stored = releases.rollout()
            assert stored is not None
            releases.save(rl.abort(stored), 4.0)
    assert [a.state for a in store.alerts(include_resolved=True) if a.code == FAULT] == [
        "resolved"]
    store.close()
