"""The CLI opens the database once per command: no connection opened only to check that the
database is there or to read its path, and left open."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from controller import cli
from controller.state import AlertKey, OpenAlert
from controller.store import Store
from tests.conftest import cli_account


def counting(monkeypatch: pytest.MonkeyPatch) -> list[Store]:
    opened: list[Store] = []

    class Counted(Store):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(cli, "Store", Counted)
    return opened


COMMANDS = {
    "ack": lambda alert_id: ["ack", str(alert_id), "--note", "đang tới"],
    "silence": lambda _alert_id: ["silence", "--center", "ba-dinh", "--duration", "1h",
                                  "--reason", "bảo trì"],
    "silence-end": lambda _alert_id: ["silence", "--end", "1"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_on_an_existing_database_opens_it_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    db = tmp_path / "hcc.db"
    store = Store(db)
    key = AlertKey(center="ba-dinh", agent="pi-1", device="prn2", code="printer.jammed")
    [change] = store.write([OpenAlert(key=key, severity="critical", device_name="Máy in",
                                        params={}, at=1.0)])
    store.add_silence(center="ba-dinh", device=None, type_=None, code=None, starts_at=0.0,
                      ends_at=4e9, author="Lan", reason="bảo trì")
    store.close()
    row = change.alert
    cli_account(db)
    opened = counting(monkeypatch)
    out = CliRunner().invoke(cli.app, [*COMMANDS[command](row.id), "--db", str(db)])
    assert out.exit_code == 0, out.output
    assert len(opened) == 1


def test_enrolling_before_the_first_run_makes_the_database_with_one_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "new.db"
    opened = counting(monkeypatch)
    made = cli._store_for_writing(cli._config(None, str(db)))
    assert db.exists() and opened == [made]
    again = cli._store_for_writing(cli._config(None, str(db)))  # now it exists
    assert opened == [made, again]
