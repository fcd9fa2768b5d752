"""The box's update path without a network: staging refuses each kind of bad release with its
reason and leaves nothing for the installer; the installer re-verifies, switches `current`
atomically, rolls back by itself when the new version does not confirm, keeps two slots and
never deletes the running one; the download keeps its rate and resumes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agent import update_helper as uh
from agent import updater as up
from hcc_common import release as rel
from hcc_common.signing import generate, public_of, trusted

KEY = generate()
KEYS = trusted([public_of(KEY)])


def house(folder: Path, version: str, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"hcc_fleet-{version}-py3-none-any.whl").write_bytes(b"wheel " + version.encode())
    (folder / "dep-1.0-py3-none-any.whl").write_bytes(b"dependency")
    if extra:
        (folder / extra).write_bytes(b"native")
    return folder


class Controller:
    """The controller's release files as a fetch function (what Fetcher.get does over HTTPS)."""

    def __init__(self, tmp: Path) -> None:
        self.dir = tmp / "ctl"

    def add(self, version: str, extra: str = "", keys: list | None = None) -> Path:  # type: ignore[type-arg]
        src = house(self.dir / version, version, extra)
        m = rel.build(src, version, 1.0)
        (src / rel.MANIFEST_FILE).write_bytes(rel.sign_manifest(m, keys or [KEY]))
        return src

    def fetch(self, version: str, name: str, dest: Path, size: int | None) -> None:
        src = self.dir / version / name
        if not src.exists():
            raise up.UpdateRefused(f"{name}: the controller answered 404")
        dest.write_bytes(src.read_bytes())


def command(version: str, issued: float = 10.0, downgrade: bool = False) -> rel.UpdateCommand:
    enc = rel.encode_update(rel.UpdateCommand(center="c", agent="a", version=version, rollout=1,
                                              issued=issued, allow_downgrade=downgrade), [KEY])
    return rel.decode_update(enc.topic, enc.payload)


@pytest.mark.parametrize(("case", "reason"), [
    ("unsigned", "unsigned"),
    ("other key", "does not trust"),
    ("hash", "SHA-256 differs"),
    ("truncated", "truncated"),
    ("platform", "built for manylinux_2_28_aarch64, this box is x86_64"),
    ("older", "older than the running 1.0"),
])
def test_bad_releases_are_refused_with_their_reason(tmp_path: Path, case: str,
                                                    reason: str) -> None:
    ctl = Controller(tmp_path)
    version = "0.9" if case == "older" else "2.0"
    src = ctl.add(version, extra="x-1-cp311-cp311-manylinux_2_28_aarch64.whl"
                  if case == "platform" else "", keys=[generate()] if case == "other key" else None)
    if case == "unsigned":
        body = json.loads((src / rel.MANIFEST_FILE).read_bytes())
        body.pop("sig")
        (src / rel.MANIFEST_FILE).write_text(json.dumps(body))
    if case == "hash":
        (src / "dep-1.0-py3-none-any.whl").write_bytes(b"DEPENDENCY")
    if case == "truncated":
        (src / "dep-1.0-py3-none-any.whl").write_bytes(b"depend")
    state = tmp_path / "state"
    with pytest.raises(up.UpdateRefused, match=reason):
        up.stage(command(version), KEYS, "1.0", state, ctl.fetch, machine="x86_64",
                 python="3.11")
    assert not (state / up.UPDATES_DIR / up.REQUEST_FILE).exists()  # nothing to install


def test_a_full_disk_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ctl = Controller(tmp_path)
    ctl.add("2.0")
    import shutil
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(100, 100, 10))  # type: ignore[attr-defined]
    with pytest.raises(up.UpdateRefused, match="disk full"):
        up.stage(command("2.0"), KEYS, "1.0", tmp_path / "state", ctl.fetch, machine="x86_64",
                 python="3.11")


def fake_pip(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """venv and pip as far as the slot's layout goes (the real ones run in test_update_e2e)."""
    if argv[1:3] == ["-m", "venv"]:
        (Path(argv[3]) / "bin").mkdir(parents=True)
        (Path(argv[3]) / "bin/python").write_text("")
    return subprocess.CompletedProcess(argv, 0, "", "")


def installer(tmp: Path, running: str, restarts: list[str], healthy: bool,
              clock: list[float]) -> uh.Installer:
    state = tmp / "state"
    settings = up.UpdateSettings(root=tmp / "opt", health_timeout_s=30)

    def restart() -> None:
        restarts.append(uh.current_version(tmp / "opt") or "installed")
        if healthy and restarts[-1] != running:
            up.confirm_health(state, restarts[-1], 7)

    def sleep(s: float) -> None:
        clock[0] += s

    return uh.Installer(uh.Box("c", "a", state, running), KEYS, settings, restart=restart,
                        run=fake_pip, python="python3", sleep=sleep, clock=lambda: clock[0])


def test_installer_switches_keeps_two_slots_and_rolls_back_by_itself(tmp_path: Path) -> None:
    ctl = Controller(tmp_path)
    state = tmp_path / "state"
    clock = [1000.0]
    restarts: list[str] = []
    for i, version in enumerate(("2.0", "2.1", "2.2"), 1):
        ctl.add(version)
        up.stage(command(version, issued=10.0 + i), KEYS, "1.0", state, ctl.fetch,
                 machine="x86_64", python="3.11")
        assert installer(tmp_path, "1.0", restarts, True, clock).once() == "ok"
        assert os.readlink(tmp_path / "opt/current") == f"releases/{version}"
        clock[0] += 10
    assert restarts == ["2.0", "2.1", "2.2"]
    assert sorted(p.name for p in (tmp_path / "opt/releases").iterdir()
                  if not p.name.startswith(".")) == ["2.1", "2.2"]  # the last two slots
    # a version that never confirms: back to 2.2 by itself, restarted, the reason reported
    ctl.add("2.3")
    up.stage(command("2.3", issued=20.0), KEYS, "2.2", state, ctl.fetch, machine="x86_64",
             python="3.11")
    assert installer(tmp_path, "2.2", restarts, False, clock).once() == "rolled_back"
    assert restarts[-2:] == ["2.3", "2.2"]
    assert os.readlink(tmp_path / "opt/current") == "releases/2.2"
    fields = up.inventory_fields(state)
    assert fields["update_state"] == "rolled_back" and "did not confirm" in str(
        fields["update_reason"])
    # the running slot (2.2) and the one before survive the failed one's cleanup
    assert (tmp_path / "opt/releases/2.2").is_dir()


def test_installer_trusts_nothing_the_agent_user_wrote(tmp_path: Path) -> None:
    ctl = Controller(tmp_path)
    state = tmp_path / "state"
    ctl.add("2.0")
    up.stage(command("2.0"), KEYS, "1.0", state, ctl.fetch, machine="x86_64", python="3.11")
    # the agent's user swaps a staged file after the agent checked it
    (state / up.UPDATES_DIR / "2.0" / "dep-1.0-py3-none-any.whl").write_bytes(b"evilevilev")
    clock = [0.0]
    assert installer(tmp_path, "1.0", [], True, clock).once() == "refused"
    assert "SHA-256 differs" in str(up.inventory_fields(state)["update_reason"])
    assert not (tmp_path / "opt/current").exists() and not (tmp_path / "opt/releases/2.0").exists()
    # and a forged request (a new version, no controller signature) is refused too
    signed = dict(command("6.6", issued=99.0).signed or {})
    request = {"version": "6.6", "command": {**signed, "version": "6.7"}}
    up.write_json(state / up.UPDATES_DIR / up.REQUEST_FILE, request)
    assert installer(tmp_path, "1.0", [], True, clock).once() == "refused"
    assert "bad signature" in str(up.inventory_fields(state)["update_reason"])


def test_a_replayed_instruction_is_refused_by_the_installer(tmp_path: Path) -> None:
    ctl = Controller(tmp_path)
    state = tmp_path / "state"
    clock = [0.0]
    for version, issued in (("2.0", 50.0), ("2.1", 40.0)):
        ctl.add(version)
        up.stage(command(version, issued=issued), KEYS, "1.0", state, ctl.fetch,
                 machine="x86_64", python="3.11")
        outcome = installer(tmp_path, "1.0", [], True, clock).once()
    assert outcome == "refused" and "replay" in str(up.inventory_fields(state)["update_reason"])
    assert os.readlink(tmp_path / "opt/current") == "releases/2.0"


def test_switch_is_one_rename(tmp_path: Path) -> None:
    (tmp_path / "releases/1.0").mkdir(parents=True)
    (tmp_path / "releases/2.0").mkdir(parents=True)
    uh.switch(tmp_path, "1.0")
    uh.switch(tmp_path, "2.0")
    assert os.readlink(tmp_path / "current") == "releases/2.0"
    assert uh.current_version(tmp_path) == "2.0"
    uh.switch(tmp_path, None)  # back to the venv install.sh made
    assert os.readlink(tmp_path / "current") == "." and uh.current_version(tmp_path) is None
    assert not (tmp_path / ".current.tmp").exists()
