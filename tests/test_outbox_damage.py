"""A damaged outbox (cut in half, or 16 KiB of garbage in the middle; at start or while
running) is set aside with its -wal/-shm, its readable rows kept, and the agent goes on."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from agent.outbox import EVENT, Outbox
from agent.outbox_repair import damaged_copies
from agent.pushed_config import ConfigStore
from conftest import run_cli
from hcc_common import wire

ROWS = 3000


def report(session: int, seq: int) -> wire.Encoded:
    return wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="printer-1",
                                   session=session, seq=seq, ts=1.8e9, device_type="printer",
                                   device_name="Máy in quầy 1", status="ok", metrics={"pages": seq}))


def full_outbox(path: Path) -> tuple[int, int]:
    box = Outbox(path)
    session, _, _ = box.start_session()
    for seq in range(1, ROWS + 1):
        box.put(report(session, seq), session, seq, EVENT)
    box.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return session, ROWS


def damage(path: Path, kind: str) -> None:
    size = path.stat().st_size
    if kind == "truncate":
        os.truncate(path, size // 2)  # truncate -s 50%
    else:
        with open(path, "r+b") as fh:  # 16 KiB of garbage in the middle
            fh.seek(size // 2)
            fh.write(os.urandom(16 * 1024))


@pytest.mark.parametrize("kind", ["truncate", "garbage"])
def test_damaged_at_start_is_set_aside_and_its_rows_salvaged(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "outbox.sqlite"
    session, last = full_outbox(path)
    damage(path, kind)
    box = Outbox(path)
    new, prev, prev_seq = box.start_session()
    assert (prev, prev_seq) == (session, last) and new != session
    [d] = box.damage
    kept = damaged_copies(tmp_path)
    assert [p.name for p in kept] == [d.moved_to] and d.moved_to.startswith("outbox.damaged-")
    assert kept[0].stat().st_size > 0  # the damaged file itself is kept for a person
    # a good share of the rows is back, each one whole: it decodes as the report it was
    assert ROWS // 3 < d.salvaged <= ROWS and box.count() == d.salvaged
    seqs = []
    for row in box.pending(0, ROWS):
        got = wire.decode(row.topic, row.payload)
        assert isinstance(got, wire.Result) and got.session == session
        assert got.metrics["pages"] == got.seq
        seqs.append(got.seq)
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)  # oldest first, once each
    # the fresh outbox works as any other
    box.put(report(new, 1), new, 1, EVENT)
    assert box.count() == d.salvaged + 1 and box.oldest() == (session, seqs[0])
    box.close()
    assert Outbox(path).damage == []  # fresh and sound now: not set aside again


def test_damage_found_while_running_is_set_aside_and_storing_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    session, _, _ = box.start_session()
    for seq in range(1, ROWS + 1):
        box.put(report(session, seq), session, seq, EVENT)
    box.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # the SD card goes bad under the running agent
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size // 2)
        fh.write(os.urandom(16 * 1024))
    box.db.execute("PRAGMA cache_size=0")  # read from the disk, not from SQLite's cache
    generation = box.generation
    for seq in range(ROWS + 1, ROWS + 201):  # and later writes go on, through the damage
        box.put(report(session, seq), session, seq, EVENT)
    rows = box.pending(0, 2 * ROWS)
    assert box.generation == generation + 1 and len(box.damage) == 1
    got = [wire.decode(r.topic, r.payload) for r in rows]
    assert all(g.session == session for g in got)  # type: ignore[union-attr]
    assert {g.seq for g in got} >= set(range(ROWS + 1, ROWS + 201))  # type: ignore[union-attr]
    assert len(damaged_copies(tmp_path)) == 1
    box.close()


def test_damaged_pushed_config_state_is_set_aside_not_fatal(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.dir.mkdir()
    for bad in ("[1, 2]", '{"active": 5}', "\x00\xff garbage", '{"refused": ["x"]}'):
        (store.dir / "state.json").write_text(bad, encoding="latin-1")
        st = store.state()
        assert st.active is None and st.refused == {}
        assert not (store.dir / "state.json").exists()
    kept = sorted(p.name for p in store.dir.iterdir())
    assert kept and all(n.startswith("state.json.damaged-") for n in kept)
    (store.dir / "state.json").write_text(json.dumps({"active": "abc", "good": None,
                                                      "refused": {}, "local_at_push": None}))
    assert store.state().active == "abc"  # a sound one still reads


def test_a_damaged_controller_database_is_a_clear_error_and_left_as_is(tmp_path: Path) -> None:
    """The controller's database holds every alert and all history: never replaced silently."""
    db = tmp_path / "hcc.db"
    garbage = os.urandom(8192)
    db.write_bytes(garbage)
    cfg = tmp_path / "controller.yaml"
    cfg.write_text(f'mqtt: {{url: "mqtt://127.0.0.1:1"}}\ndb: "{db}"\n')
    done = run_cli("hcc-controller", "run", "--config", str(cfg), timeout=30)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "(controller.yaml db:) bị hỏng" in done.stderr and "không bị thay" in done.stderr
    assert db.read_bytes() == garbage


def test_a_file_that_is_no_database_at_all_is_set_aside_too(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    full_outbox(path)
    with open(path, "r+b") as fh:
        fh.write(os.urandom(4096))  # the header and first page gone
    box = Outbox(path)
    [d] = box.damage
    assert box.start_session()[1:] == (0, 0) and box.count() == d.salvaged
    assert (tmp_path / d.moved_to).read_bytes()[4096:8192] != b""  # kept for a person


def test_an_unreadable_pushed_config_runs_the_local_file(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    from agent.config import load

    local = tmp_path / "devices.yaml"
    local.write_text(f'center: {{id: ba-dinh}}\nagent: {{id: pi-1, state_dir: "{tmp_path}"}}\n'
                     'mqtt: {url: "mqtt://127.0.0.1:1883"}\ndevices: []\n')
    running = load(local)
    store = ConfigStore(tmp_path)
    store.dir.mkdir()
    (store.dir / "state.json").write_text(json.dumps({"active": "abc", "good": "abc",
                                                      "refused": {}, "local_at_push": None}))
    store.path("ba-dinh", "abc").write_bytes(b"\xff\xfe\x00 half a file")
    assert store.load_active(running) is None
    assert "active pushed config unreadable" in caplog.text


def test_the_box_warns_while_a_damaged_copy_is_kept(tmp_path: Path) -> None:
    """The box's own check (heartbeat and `hcc-agent check`) raises host.outbox_damaged, in
    words a technician reads, until the damaged copy is removed."""
    from agent.checks import host
    from hcc_common import faults as vocab

    (tmp_path / "outbox.damaged-20261204T010203Z").write_bytes(b"x")
    (tmp_path / "outbox.damaged-20261204T010203Z-wal").write_bytes(b"x")  # not counted twice
    metrics = host._read(tmp_path)
    [f] = [f for f in host.faults_of(metrics) if f.code == "host.outbox_damaged"]
    assert f.severity == "warning" and f.params["count"] == 1
    text = vocab.full_message("Máy giám sát", f.code, f.params, "vi")
    assert "outbox.damaged-20261204T010203Z" in text and "bị hỏng" in text
    assert "thay thẻ nhớ" in vocab.hint(f.code, f.params, "vi")
    (tmp_path / "outbox.damaged-20261204T010203Z").unlink()
    assert not [f for f in host.faults_of(host._read(tmp_path)) if f.code == "host.outbox_damaged"]
