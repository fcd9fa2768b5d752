"""A box's message off the contract, through a real broker into a real controller: a dead letter
with its reason, and nothing of it stored (no device, no reading, no history row)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from test_ingest_safety import publish, received_from, start_controller

from conftest import json_lines, run_cli, wait_until
from hcc_common import wire
from lab.procs import Mosquitto, free_port

XSS = "<img src=x onerror=alert(document.domain)>"


@pytest.mark.integration
def test_off_contract_results_are_dead_letters_and_store_nothing(tmp_path: Path,
                                                                  broker: Mosquitto) -> None:
    """Reproduces issues 23.4 and 23.8 through a real broker and controller: markup in
    `runtime_min` was stored and shown; 601 results of 2,500 `supply.N.pct` readings grew the
    database from 28.5 to 81 MB (a 58 KB history row each). Now each is a dead letter with its
    reason, none leaves a device, a reading or a history row, and the next report is stored."""
    def report(device: str, seq: int, metrics: dict[str, wire.MetricValue]) -> tuple[str, bytes]:
        body = json.loads(wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device=device,
                                                  session=1, seq=seq, ts=1_700_000_000.0 + seq,
                                                  device_type="printer", device_name="Máy in",
                                                  status="ok")).payload)
        body["metrics"] = metrics  # as a stolen box's own code would send them
        return wire.result_topic("ba-dinh", "pi-1", device), json.dumps(body).encode()

    db, port = str(tmp_path / "hcc.db"), free_port()
    poison = [report("ups-1", 1, {"runtime_min": XSS, "wifi_clients": XSS}),
              *[report("printer-big", 2 + i, {f"supply.{n}.pct": 50.0 for n in range(2500)})
                for i in range(20)],
              report("printer-hist", 30, {f"supply.{n}.pct": 50.0 for n in range(101)})]
    ctl = start_controller(tmp_path, broker, db, port)
    try:
        publish(broker, [*poison, report("printer-ok", 40, {"supply.1.pct": 50.0})])
        wait_until(lambda: received_from(db, "ba-dinh") >= 1, 20, "the report after the poison")
    finally:
        ctl.stop()
    dead = json_lines(run_cli("hcc-controller", "deadletters", "--json", "--limit", "100",
                              "--db", db).stdout)
    reasons = {str(d["topic"]).rsplit("/", 1)[1]: str(d["reason"]) for d in dead}
    assert len(dead) == len(poison), [d["topic"] for d in dead]
    assert "metrics.runtime_min must be a number, got text" in reasons["ups-1"]
    assert f"metrics holds 2500 readings, at most {wire.MAX_READINGS}" in reasons["printer-big"]
    assert "101 readings the history keeps, at most 100" in reasons["printer-hist"]
    con = sqlite3.connect(db)
    try:
        assert [r[0] for r in con.execute("SELECT device FROM devices")] == ["printer-ok"]
        assert [r[0] for r in con.execute("SELECT DISTINCT device FROM history_raw")] == \
            ["printer-ok"]
    finally:
        con.close()
