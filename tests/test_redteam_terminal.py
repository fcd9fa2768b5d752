"""Red-team review of issue 23's classes: what a box sends never reaches an operator's terminal
or the logs as control characters (escape sequences that retitle the window or write the
clipboard, a CR that overwrites a line, a line break that forges one). Real broker, real
controller, the real CLI."""

from __future__ import annotations

import io
import logging
import re
import time
from pathlib import Path

import pytest
from test_ingest_safety import publish, start_controller

from conftest import json_lines, run_cli, wait_until
from controller.store import Store
from hcc_common import wire
from hcc_common.logs import KeyValueFormatter
from lab.procs import Mosquitto, free_port

# OSC 52 (write the clipboard), OSC 0 (retitle the window), CSI (clear the screen), a bare CR,
# 8-bit CSI, a bidi override
ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b]0;owned\x07\x1b[2J\rFAKE\x9b31m\u202e"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]")


@pytest.mark.integration
def test_a_box_s_strings_reach_the_cli_as_text(tmp_path: Path, broker: Mosquitto) -> None:
    """A dead letter is whatever broke the contract: `hcc-controller deadletters` printed its
    payload raw (escape sequences ran in the operator's terminal). A fault text may carry CR and
    LF under the contract: `hcc-controller alerts` printed them raw (a CR overwrote the line, a
    LF forged an alert line of its own)."""
    db = str(tmp_path / "hcc.db")
    ctl = start_controller(tmp_path, broker, db, free_port())
    Store(db).push_config("ba-dinh", "pi-1", "v1", "center: {id: ba-dinh}\n", "ops", time.time())
    # not JSON: raw control bytes in the payload, as a stolen box can send them
    poison = ('{"v": 1, "kind": "result", "name": "' + ESCAPES + '"}').encode()
    fault = wire.FaultReport("printer.error", "warning",
                             {"detail": "kẹt\r#999 critical fake\nFORGED line"})
    ok = wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="printer-1", session=1,
                                 seq=1, ts=time.time(), device_type="printer",
                                 device_name="Máy in quầy 2", status="warning", faults=(fault,)))
    # a box's own words about a refused config: free text, CR and LF allowed by the contract
    birth = wire.encode(wire.StateMessage("ba-dinh", "pi-1", "online", 1, time.time(),
                                          inventory={"config_error": "x.yaml:3\rin sync\nFAKE"}))
    try:
        publish(broker, [("hcc/v1/ba-dinh/pi-1/result/printer-1", poison), (ok.topic, ok.payload),
                         (birth.topic, birth.payload)])
        wait_until(lambda: json_lines(run_cli("hcc-controller", "deadletters", "--json",
                                              "--db", db).stdout), 15, "the dead letter")
        wait_until(lambda: json_lines(run_cli("hcc-controller", "alerts", "--json",
                                              "--db", db).stdout), 15, "the jam's alert")
        wait_until(lambda: any(a.get("error") for a in json_lines(run_cli(
            "hcc-controller", "config", "status", "--json", "--db", db).stdout)), 15,
            "the birth's config error")
    finally:
        ctl.stop()
    out = run_cli("hcc-controller", "deadletters", "--db", db).stdout
    assert not CONTROL.search(out), repr(out)
    assert "\\x1b]52;c;cm0gLXJmIH4=\\x07" in out and "\\rFAKE" in out  # shown, escaped
    alerts = run_cli("hcc-controller", "alerts", "--db", db).stdout
    assert not CONTROL.search(alerts), repr(alerts)
    lines = [line for line in alerts.splitlines() if line.strip()]
    assert len(lines) == 1 and "\\r#999 critical fake\\nFORGED line" in lines[0], alerts
    status = run_cli("hcc-controller", "config", "status", "--db", db).stdout
    assert not CONTROL.search(status) and "x.yaml:3\\rin sync\\nFAKE" in status, repr(status)
    assert len(status.splitlines()) == 2, status  # the box's line and its error's line
    # the JSON forms stay exact (they are for programs: JSON escapes C0 itself)
    dead = json_lines(run_cli("hcc-controller", "deadletters", "--json", "--db", db).stdout)
    assert ESCAPES in dead[0]["payload"]
    assert "Traceback" not in ctl.log()


def test_a_log_field_is_one_line_without_control_characters() -> None:
    """A log value with a CR or an escape sequence went out raw: a CR hid the start of the
    line on a terminal, `\\x1b[2K` erased it, a U+2028 broke it in some viewers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    logger = logging.getLogger("hcc.test.redteam")
    logger.addHandler(handler)
    try:
        logger.warning("device answered", extra={"error": "timeout\r level=info\x1b[2K ok",
                                                 "label": "a\u2028b\tc\nd"})
    finally:
        logger.removeHandler(handler)
    line = stream.getvalue()
    assert line.count("\n") == 1 and line.endswith("\n")
    assert not CONTROL.search(line[:-1]) and "\u2028" not in line and "\t" not in line, repr(line)
    assert 'error="timeout\\r level=info\\x1b[2K ok"' in line
    assert 'label="a\\u2028b\\tc\\nd"' in line
