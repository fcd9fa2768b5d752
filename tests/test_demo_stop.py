"""Issue 26 (20): `kill -TERM` of the demo stops everything it started (mosquitto, controller,
agent, snmpsim), as Ctrl-C does."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from conftest import wait_until

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent


def test_sigterm_stops_everything_the_demo_started(tmp_path: Path) -> None:
    out = (tmp_path / "demo.out").open("w")
    demo = subprocess.Popen([sys.executable, "-m", "lab.demo"], cwd=ROOT, stdout=out,
                            stderr=subprocess.STDOUT)
    seen: list[psutil.Process] = []
    try:
        me = psutil.Process(demo.pid)

        def started() -> list[psutil.Process]:
            kids = me.children(recursive=True)
            names = " ".join(" ".join(k.cmdline()) for k in kids if k.is_running())
            return kids if all(n in names for n in ("mosquitto", "hcc-controller", "hcc-agent",
                                                    "snmpsim")) else []

        children = wait_until(started, 60, "the demo's processes")
        assert isinstance(children, list)
        seen += children
        demo.send_signal(signal.SIGTERM)
        demo.wait(30)
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert not alive, [" ".join(p.cmdline()) for p in alive]
    finally:
        if demo.poll() is None:
            demo.kill()
        for p in seen:  # left by a failing demo: orphans now, ours to end
            if p.is_running():
                p.kill()
        out.close()
