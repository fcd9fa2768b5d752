"""Red-team review of issue 23's classes, growth per box: a stolen box reports made-up fault
codes (100 per result, each a new one: the catch-all rule `fault: "*"` alerts on every code)
and opened an alert, and a notification, for each without bound. Now a device holds at most
Rules.max_alerts_per_device alerts; past it one warning for the box says so."""

from __future__ import annotations

from pathlib import Path

from controller.rules import Rule
from controller.state import AlertKey, Fleet, OpenAlert, Rules
from hcc_common import wire

C = "ba-dinh"
SIMPLE = (Rule(name="all", fault="*"),)


def flood(seq: int, agent: str = "pi-1", device: str = "printer-1") -> wire.Result:
    faults = tuple(wire.FaultReport(f"printer.made_up_{seq}_{i}", "critical", {})
                   for i in range(100))
    return wire.Result(center=C, agent=agent, device=device, session=1, seq=seq, ts=float(seq),
                       device_type="printer", device_name="Máy in", status="critical", metrics={},
                       faults=faults)


def opened(effects: list[object]) -> list[AlertKey]:
    return [e.key for e in effects if isinstance(e, OpenAlert)]


def test_made_up_fault_codes_open_a_bounded_number_of_alerts() -> None:
    fleet = Fleet(alert_rules=SIMPLE, rules=Rules(max_alerts_per_device=32))
    keys: list[AlertKey] = []
    for seq in range(1, 51):  # 5,000 distinct codes
        keys += opened(fleet.apply(flood(seq), float(seq)))
    device_alerts = [k for k in keys if k.device == "printer-1"]
    assert len(device_alerts) <= 32, len(device_alerts)
    warning = [k for k in keys if k.code == "agent.too_many_alerts"]
    assert warning == [AlertKey(center=C, agent="pi-1", device="", code="agent.too_many_alerts")]  # once
    # another box's real fault still opens
    jam = wire.Result(center=C, agent="pi-2", device="printer-9", session=1, seq=1, ts=60.0,
                      device_type="printer", device_name="Máy in 9", status="critical", metrics={},
                      faults=(wire.FaultReport("printer.jammed", "critical", {}),))
    assert opened(fleet.apply(jam, 60.0)) == [AlertKey(center=C, agent="pi-2", device="printer-9",
                                                       code="printer.jammed")]


def test_the_cap_is_set_in_controller_yaml(tmp_path: Path) -> None:
    from controller.config import load

    cfg = tmp_path / "controller.yaml"
    cfg.write_text("rules: {max_alerts_per_device: 64}\n")
    assert load(cfg, {}).rules.max_alerts_per_device == 64
