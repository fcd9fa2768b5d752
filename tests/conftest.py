"""Shared fixtures: a private mosquitto, snmpsim on the project's own fixtures, and CLI runners."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from lab.procs import Mosquitto, SnmpSim

# These 2-core machines are shared (steal time): how fast hypothesis generates inputs, or how long
# one example takes, says nothing about the code under test. What the examples find still does.
settings.register_profile("shared-machine", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("shared-machine")

FIXTURES = Path(__file__).parent / "fixtures"
SNMPREC = FIXTURES / "snmprec"
BIN = Path(sys.executable).parent


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def snmp_devices(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpSim]:
    """One snmpsim serving every fixture, read-only for tests (copy one to change values)."""
    sim = SnmpSim(tmp_path_factory.mktemp("snmpsim"), sorted(SNMPREC.glob("*.snmprec"))).start()
    for f in SNMPREC.glob("*.snmprec"):
        sim.wait_ready(f.stem)
    yield sim
    sim.stop()


@pytest.fixture
def private_snmp(tmp_path: Path) -> Callable[..., SnmpSim]:
    """An snmpsim of the test's own, whose values the test may change to inject faults."""
    sims: list[SnmpSim] = []

    def make(*names: str) -> SnmpSim:
        sim = SnmpSim(tmp_path / f"sim{len(sims)}", [SNMPREC / f"{n}.snmprec" for n in names])
        sims.append(sim)
        return sim.start()

    yield make
    for s in sims:
        s.stop()


@pytest.fixture
def service_user() -> Iterator[str]:
    """A system user and its group of this test's own, removed afterwards: the suite run as
    root leaves no users behind (install.sh's tests use --user with it)."""
    name = f"hcct{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", name], check=True, capture_output=True, timeout=60)
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True, timeout=60)
        subprocess.run(["groupdel", name], check=False, capture_output=True, timeout=60)


@contextlib.contextmanager
def silent_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A TCP port whose accept queue is full: new connections get no answer at all (as behind
    a firewall that drops them; a closed port would refuse at once)."""
    full = socket.create_server((host, 0), backlog=0)
    fillers = []
    for _ in range(3):  # until the queue is full: the next connection gets no answer
        f = socket.socket()
        f.settimeout(0.5)
        if f.connect_ex(full.getsockname()) != 0:
            f.close()
            break
        fillers.append(f)
    try:
        yield full.getsockname()[1]
    finally:
        for f in fillers:
            f.close()
        full.close()


def run_cli(tool: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / tool), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def wait_until(predicate: Callable[[], object], timeout: float, what: str,
               interval: float = 0.2) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# -- the store's two databases: SQLite, and PostgreSQL at 127.0.0.1:5432 (database test) -----
PG_URL = os.environ.get("HCC_TEST_PG_URL", "postgresql://127.0.0.1:5432/test")


def pg_or_skip() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to reach it means: skip, saying why
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}: {exc}")
    return PG_URL


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    import psycopg

    url = pg_or_skip()
    schema = f"hcc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


# The CLI acts as a named account, never anonymously (issue 27): tests' CLI writes act as this
# admin, made where the test's controller keeps its database (cli_account).
CLI_ACCOUNT = "hcc-test"
os.environ["HCC_AS"] = CLI_ACCOUNT


def cli_account(db: str | Path, name: str = CLI_ACCOUNT, role: str = "admin",
                centers: tuple[str, ...] = ()) -> None:
    from controller import accounts
    from controller.store import Store

    store = Store(db)
    try:
        if accounts.get_account(store.db, name) is None:
            accounts.add_account(store.db, name=name, role=role, centers=list(centers), groups=[],
                                 password=None, now=time.time())
    finally:
        store.close()
