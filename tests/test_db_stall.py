"""A database stall is not a fleet outage: with the store's disk full (SQLite on a small tmpfs) or
its PostgreSQL stopped (a private server of the test's own), real agents through a real broker get
no agent.offline alert, no notification goes out for one, and no report is lost."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BIN, run_cli, wait_until
from lab.procs import Mosquitto, Proc, free_port, spawn
from lab.receivers import HttpReceiver
from stack import Stack

ROOT = os.geteuid() == 0
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
AGENTS = ("pi-1", "pi-2")
# several times an agent's silence limit (1.5 x keepalive 3 s); HCC_TEST_STALL_S=70 for the
# issue's own figure
STALL_S = float(os.environ.get("HCC_TEST_STALL_S", "20"))


class PrivatePostgres:
    """A PostgreSQL server of the test's own (initdb + pg_ctl as the postgres user, in a temp
    directory, on a free port), so stopping it stops nobody else's database."""

    def __init__(self) -> None:
        self.bin = PG_BIN[-1].parent
        self.dir = Path(tempfile.mkdtemp(prefix="hcc-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True,
                       capture_output=True, timeout=120, cwd=self.dir)

    def init(self) -> PrivatePostgres:
        self._as_postgres(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                          "-U", "postgres", "--no-sync")
        return self

    def start(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-l",
                          str(self.dir / "server.log"), "-o",
                          f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                          "-c fsync=off", "start")

    def stop(self) -> None:
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast",
                          "stop")

    def remove(self) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D",
                        str(self.data), "-m", "immediate", "stop"], capture_output=True,
                       check=False, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


class StallStack(Stack):
    """The usual stack with two agents of one center, a webhook for every alert, and a store
    that may be PostgreSQL."""

    def __init__(self, tmp: Path, broker: Mosquitto, devices: str, db: str,
                 webhook: HttpReceiver) -> None:
        # counts of reports flowing (30 more after the stall): every result a message of its
        # own, said since by exception is the default
        super().__init__(tmp, broker, devices, keepalive=3, heartbeat="2s", interval="1s",
                         report="all", controller_extra=f"""\
alert_rules: [{{name: fast, fault: "*"}}]
notify:
  group_wait: 1s
  receivers: [{{name: hook, webhook: {{url: "{webhook.url}/hook"}}}}]
  routes: [{{receivers: [hook]}}]
""")
        self.db = db  # type: ignore[assignment]  # a path or a PostgreSQL URL, as --db takes
        # a clock 10 s off is a skew here: what the broker queued during the stall must not
        # look like one
        self.ctl_cfg.write_text(self.ctl_cfg.read_text().replace(
            f'db: "{tmp / "hcc.db"}"', f'db: "{db}"').replace(
            "rules: {unreachable_after: 2}", "rules: {unreachable_after: 2, clock_skew: 10s}"))
        self.others: list[Proc] = []

    def _schema_made(self) -> bool:
        if not self.db.startswith("postgresql://"):  # type: ignore[attr-defined]
            path = Path(self.db)
            if not path.exists():
                return False
            con = sqlite3.connect(path, timeout=10)
            try:
                return con.execute("SELECT 1 FROM sqlite_master WHERE name='devices'"
                                   ).fetchone() is not None
            finally:
                con.close()
        import psycopg

        try:
            with psycopg.connect(self.db, connect_timeout=3) as conn:  # type: ignore[arg-type]
                return conn.execute("SELECT to_regclass('devices')").fetchone()[0] is not None
        except psycopg.Error:
            return False

    def start_agents(self) -> None:
        self.start_agent()
        for agent in AGENTS[1:]:
            cfg = self.tmp / f"devices-{agent}.yaml"
            cfg.write_text(self.agent_cfg.read_text()
                           .replace("id: pi-1,", f"id: {agent},")
                           .replace(str(self.tmp / "agent-state"), str(self.state(agent))))
            self.others.append(spawn(agent, [str(BIN / "hcc-agent"), "run", "--config",
                                             str(cfg)], self.tmp / f"{agent}.log"))

    def state(self, agent: str) -> Path:
        return self.tmp / ("agent-state" if agent == "pi-1" else f"agent-state-{agent}")

    def received(self) -> dict[str, int]:
        return {str(r["agent"]): int(r["received"]) for r in self.agents()}  # type: ignore[call-overload]

    def stop_agents(self) -> None:
        for p in [self.agent, *self.others]:
            if p is not None:
                p.stop()

    def stop(self) -> None:
        self.stop_agents()
        super().stop()


def outbox(s: StallStack, agent: str) -> tuple[int, int]:
    """(last seq assigned in the agent's current session, reports still in its outbox)."""
    db = sqlite3.connect(s.state(agent) / "outbox.sqlite", timeout=5)
    try:
        seq = int(db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
        kept = int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        return seq, kept
    finally:
        db.close()


@pytest.fixture
def listener() -> Iterator[int]:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(512)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def webhook() -> Iterator[HttpReceiver]:
    hook = HttpReceiver()
    yield hook
    hook.stop()


def devices(port: int) -> str:
    closed = free_port()  # nothing listens there: a device that is down, for a real alert
    lines = [f"  - {{id: kiosk-{i}, type: kiosk, host: 127.0.0.1, tcp: {{port: {port}}}}}"
             for i in range(3)]
    lines.append(f"  - {{id: kiosk-down, type: kiosk, host: 127.0.0.1, tcp: {{port: {closed}}}}}")
    return "\n".join(lines)


def posted_codes(hook: HttpReceiver) -> list[str]:
    """The alert codes of every notification the webhook received."""
    codes: list[str] = []
    for _path, body in hook.posts:
        for alert in body.get("alerts", [body]) if isinstance(body, dict) else body:
            code = alert.get("code") or alert.get("labels", {}).get("code")
            if code:
                codes.append(str(code))
    return codes


def ride_out_a_stall(s: StallStack, hook: HttpReceiver, stall: object, recover: object) -> None:
    """Flowing reports and a live notification path, then a stall of the store long enough to
    call every box silent several times over, then recovery: no box may be called offline."""
    s.start_controller()
    s.start_agents()
    wait_until(lambda: len(s.received()) == 2 and min(s.received().values()) >= 10, 40,
               "both agents' reports")
    # the notification path works: the device that is down was notified
    wait_until(lambda: {"device.refused", "device.unreachable"} & set(posted_codes(hook)), 40,
               "a notification for the device that is down")
    assert s.controller is not None
    stalled_from = len(s.controller.log())
    stall()  # type: ignore[operator]
    wait_until(lambda: "could not store a batch" in s.controller.log()[stalled_from:], 60,
               "the store to fail")  # type: ignore[union-attr]
    time.sleep(STALL_S)  # the stall itself: boxes go on reporting, nothing can be committed
    before = s.received()
    recover()  # type: ignore[operator]
    # after recovery, well past a silence limit of reports of each box are stored
    wait_until(lambda: all(s.received().get(a, 0) >= before.get(a, 0) + 30 for a in AGENTS),
               120, "reports committed again after the stall")
    judged = [a for a in s.alerts() if a["code"] in ("agent.offline", "agent.clock_skew")]
    assert judged == [], judged  # neither open nor opened-and-resolved
    assert not {"agent.offline", "agent.clock_skew"} & set(posted_codes(hook)), hook.posts
    # what the stall held back was applied again at each retry, charged to its rate once
    stats = json.loads(run_cli("hcc-controller", "stats", "--db", str(s.db)).stdout)
    assert stats["rate_limited"] == 0, stats
    # nothing lost: every report each agent assigned arrived once or is still in its outbox
    s.stop_agents()

    def delivered() -> bool:
        rows = {str(r["agent"]): r for r in s.agents()}
        for agent in AGENTS:
            seq, kept = outbox(s, agent)
            row = rows[agent]
            if row["gaps"] != 0 or int(row["received"]) < seq - kept:  # type: ignore[call-overload]
                return False
        return True

    wait_until(delivered, 60, "every report of both agents, without gaps", interval=0.5)
    for agent in AGENTS:
        seq, _kept = outbox(s, agent)
        row = next(r for r in s.agents() if r["agent"] == agent)
        assert int(row["received"]) <= seq, row  # type: ignore[call-overload]  # none twice
    assert not s.tracebacks(), s.tracebacks()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not ROOT:
        pytest.skip("mounting a small file system for the database needs root")
    disk = tmp_path / "db-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(disk)], check=True)
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_database_disk_full_raises_no_offline_alert(tmp_path: Path, broker: Mosquitto,
                                                    listener: int, webhook: HttpReceiver,
                                                    small_disk: Path) -> None:
    """Reproduces issue 23.10 (disk): the database's disk full for a while; when it had room
    again every online box got an agent.offline alert that opened and resolved in the same
    second, with a critical and a resolved notification each."""
    filler = small_disk / "filler"
    s = StallStack(tmp_path, broker, devices(listener), str(small_disk / "hcc.db"), webhook)

    def fill() -> None:
        subprocess.run(["dd", "if=/dev/zero", f"of={filler}", "bs=64k"], capture_output=True,
                       check=False)

    try:
        ride_out_a_stall(s, webhook, fill, filler.unlink)
    finally:
        s.stop()


@pytest.mark.skipif(not PG_BIN or not ROOT, reason="needs PostgreSQL's binaries and root")
def test_postgres_stopped_raises_no_offline_alert(tmp_path: Path, broker: Mosquitto,
                                                  listener: int, webhook: HttpReceiver) -> None:
    """Reproduces issue 23.10 (PostgreSQL): the server stopped for 20 s; every online box got an
    agent.offline alert that opened and resolved at once. The server is the test's own."""
    pg = PrivatePostgres().init()
    pg.start()
    s = StallStack(tmp_path, broker, devices(listener), pg.url, webhook)
    try:
        ride_out_a_stall(s, webhook, pg.stop, pg.start)
    finally:
        s.stop()
        pg.remove()
