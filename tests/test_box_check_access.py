"""The box's own check (agent/checks/host.py) when its state folder cannot be looked into: found
running the installed agent in the arm64 root as the service user with another user's $HOME
(tests/test_pi_image.py). `hcc-agent check` ended in a PermissionError traceback, every device's
result lost with it; the box's disk is then measured at / instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BIN


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder another user can read (pytest's own are root's only)."""
    base = Path(tempfile.mkdtemp(prefix="hcc-boxcheck-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv, to run the agent as a user who cannot "
                           "look into a root-only folder")
def test_check_as_a_user_who_cannot_see_its_state_dir(open_dir: Path) -> None:
    private = open_dir / "private"
    private.mkdir(mode=0o700)  # root's: EACCES for anyone else, even to stat what is inside
    config = open_dir / "devices.yaml"
    config.write_text(f"""\
center: {{id: c1}}
agent: {{id: pi-1, state_dir: "{private / 'state'}"}}
mqtt: {{url: "mqtt://127.0.0.1:1"}}
devices: []
""")
    config.chmod(0o644)
    out = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                          str(BIN / "hcc-agent"), "check", "--config", str(config), "--json"],
                         capture_output=True, text=True, timeout=120, check=False,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(open_dir)})
    assert "Traceback" not in out.stderr, out.stderr
    (row,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["device"] == "pi-1" and row["type"] == "box"
    assert isinstance(row["metrics"]["disk_percent"], float)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv, to run as a user outside the config's group")
def test_default_config_behind_a_closed_folder_is_named_not_a_traceback(open_dir: Path) -> None:
    """The same class: /etc/hcc-agent is root:hcc-agent 0750, so for anyone else the installed
    config's exists() raises PermissionError; `hcc-agent validate` without --config ended in a
    traceback. Now it is the installed config, and loading it says it cannot be read."""
    closed = open_dir / "etc-hcc-agent"
    closed.mkdir(mode=0o750)
    (closed / "devices.yaml").write_text("devices: []\n")
    code = ("from pathlib import Path; from agent.config import default_config_path; "
            f"print(default_config_path(Path({str(closed / 'devices.yaml')!r})))")
    out = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                          str(BIN / "python"), "-c", code], capture_output=True, text=True,
                         timeout=60, check=False, cwd=Path(__file__).resolve().parent.parent,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(open_dir)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(closed / "devices.yaml")
