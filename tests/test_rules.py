"""Alert rules over time: for/clear_for, hysteresis, opening hours, correlation, flap damping."""

from __future__ import annotations

import itertools
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from controller.rules import Rule, default_rules, parse_rules
from controller.state import AlertKey, Fleet, OpenAlert, ResolveAlert, Rules
from hcc_common import wire
from hcc_common.calendar import OpeningHours
from hcc_common.yamlconf import ConfigError, load_yaml

C, A = "ba-dinh", "pi-1"
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
TONER = (wire.FaultReport("printer.toner_low", "warning", {"supply": "Black", "level": 19}),)
NO_CLIENTS = (wire.FaultReport("ap.no_clients", "warning", {}),)
UNREACH = (wire.FaultReport("device.unreachable", "critical", {}),)
SEQ: dict[int, itertools.count[int]] = {}


class Feed:
    """Sends results for one device, one every `step` seconds."""

    def __init__(self, fleet: Fleet, device: str = "printer-1", dtype: str = "printer",
                 t0: float = 1_700_000_000.0, step: float = 60.0) -> None:
        self.fleet, self.device, self.dtype, self.t, self.step = fleet, device, dtype, t0, step

    def send(self, faults: tuple[wire.FaultReport, ...] = (), status: str = "ok",
             metrics: dict[str, float] | None = None) -> list[object]:
        # seqs are per agent: every device of the agent draws from one counter
        self.seq = next(SEQ.setdefault(id(self.fleet), itertools.count(1)))
        self.t += self.step
        st = status if status != "ok" or not faults else "warning"
        r = wire.Result(center=C, agent=A, device=self.device, session=1, seq=self.seq,
                        ts=self.t, device_type=self.dtype, device_name=self.device,
                        status=st,  # type: ignore[arg-type]
                        metrics=metrics or {}, faults=faults)
        return self.fleet.apply(r, self.t)


def opened(effects: list[object]) -> list[str]:
    return [e.key.code for e in effects if isinstance(e, OpenAlert)]


def resolved(effects: list[object]) -> list[str]:
    return [e.key.code for e in effects if isinstance(e, ResolveAlert)]


def test_for_delays_opening_and_clear_for_stops_flapping_at_a_threshold() -> None:
    fleet = Fleet(alert_rules=(Rule(name="toner", fault="printer.toner_low", for_s=120,
                                    clear_for_s=600, labels={"team": "printing"}),))
    f = Feed(fleet)
    assert opened(f.send(TONER)) == []          # t=60: pending
    assert opened(f.send(TONER)) == []          # t=120: 60 s held
    effects = f.send(TONER)                     # t=180: 120 s held
    assert opened(effects) == ["printer.toner_low"]
    assert next(e for e in effects if isinstance(e, OpenAlert)).labels == {"team": "printing"}
    # the level hovers around 20 %: reported, not reported, reported...
    for faults in ((), TONER, (), (), TONER, ()):
        effects = f.send(faults)
        assert resolved(effects) == [] and opened(effects) == []
    for _ in range(9):
        assert resolved(f.send()) == []
    assert resolved(f.send()) == ["printer.toner_low"]  # 10 minutes clear


def test_tick_opens_and_resolves_without_new_reports() -> None:
    fleet = Fleet(alert_rules=(Rule(name="r", fault="*", for_s=300),), rules=Rules(heartbeat_misses=100))
    f = Feed(fleet)
    f.send(TONER)
    assert "printer.toner_low" not in opened(fleet.tick(f.t + 100))
    assert "printer.toner_low" in opened(fleet.tick(f.t + 301))


def test_opening_hours_rule_is_quiet_at_night_and_on_holidays() -> None:
    hours = OpeningHours({d: ((time(7, 30), time(17, 0)),) for d in range(5)},
                         frozenset({datetime(2026, 9, 2).date()}))
    fleet = Fleet(alert_rules=(Rule(name="wifi", fault="ap.no_clients", when="open"),),
                  hours={C: hours})
    night = datetime(2026, 11, 26, 22, 0, tzinfo=HCM).timestamp()
    day = datetime(2026, 11, 27, 9, 0, tzinfo=HCM).timestamp()
    holiday = datetime(2026, 9, 2, 9, 0, tzinfo=HCM).timestamp()
    assert opened(Feed(fleet, "ap-1", "wifi_ap", t0=night).send(NO_CLIENTS)) == []
    assert opened(Feed(fleet, "ap-2", "wifi_ap", t0=holiday).send(NO_CLIENTS)) == []
    assert opened(Feed(fleet, "ap-3", "wifi_ap", t0=day).send(NO_CLIENTS)) == ["ap.no_clients"]


def test_metric_rule_with_hysteresis() -> None:
    fleet = Fleet(alert_rules=(Rule(name="slow", metric="http_latency_ms", op=">", value=500,
                                    clear=300, severity="warning", code="kiosk.slow"),))
    f = Feed(fleet, "kiosk-1", "kiosk")
    assert opened(f.send(metrics={"http_latency_ms": 800})) == ["kiosk.slow"]
    assert resolved(f.send(metrics={"http_latency_ms": 400})) == []   # between: still slow
    assert resolved(f.send(metrics={"http_latency_ms": 250})) == ["kiosk.slow"]


def test_center_offline_is_one_alert_not_thirty() -> None:
    """The center's switch dies: the box can reach neither the devices nor the broker. When it is
    back, the outbox delivers 30 devices' worth of "unreachable": history, not 30 alerts."""
    fleet = Fleet(alert_rules=(Rule(name="all", fault="*"),), rules=Rules(unreachable_after=1))
    fleet.apply(wire.StateMessage(C, A, "online", 1, 0.0), 0.0)
    effects = fleet.apply(wire.StateMessage(C, A, "offline", 1, 10.0), 10.0)
    assert opened(effects) == ["agent.offline"]
    effects = fleet.apply(wire.StateMessage(C, A, "online", 2, 1000.0), 1000.0)
    assert resolved(effects) == ["agent.offline"]
    for i in range(30):  # made at t=500, during the outage, delivered now
        effects += Feed(fleet, f"d{i}", "kiosk", t0=500.0, step=1.0).send(UNREACH, "unreachable")
    assert opened(effects) == []
    assert not fleet.open_alerts


def test_lan_down_groups_unreachable_devices() -> None:
    fleet = Fleet(alert_rules=(Rule(name="all", fault="*"),), rules=Rules(unreachable_after=1))
    feeds = [Feed(fleet, f"d{i}", "kiosk", step=1.0) for i in range(5)]
    for feed in feeds:
        feed.send()
    effects = []
    for feed in feeds:
        effects += feed.send(UNREACH, "unreachable")
    codes = sorted(k.code for k in fleet.open_alerts)
    assert codes == ["center.lan_down"]
    assert opened(effects).count("center.lan_down") == 1
    for feed in feeds:
        effects = feed.send()
    assert "center.lan_down" in resolved(effects) or not fleet.open_alerts


def test_flapping_alert_is_damped() -> None:
    fleet = Fleet(alert_rules=(Rule(name="all", fault="*"),))
    f = Feed(fleet, step=60.0)
    jam = (wire.FaultReport("printer.jammed", "critical", {}),)
    opens = 0
    for _ in range(3):
        opens += len(opened(f.send(jam)))
        f.send()
    assert opens == 3
    f.send(jam)
    # the third open within 30 minutes: now it must stay clear 15 minutes to resolve
    assert resolved(f.send()) == []
    effects = []
    for _ in range(16):
        effects += f.send()
    assert resolved(effects) == ["printer.jammed"]


def test_shipped_rules_parse_and_cover_every_fault() -> None:
    rules = default_rules()
    assert rules[-1].fault == "*"
    quiet = next(r for r in rules if r.fault == "ap.no_clients")
    assert quiet.when == "open"


def test_rule_errors_name_file_line_and_key() -> None:
    text = "- name: x\n  fault: '*'\n  clear_for: soon\n"
    with pytest.raises(ConfigError) as exc:
        parse_rules(load_yaml("rules.yaml", text))
    assert str(exc.value).startswith("rules.yaml:3: [0].clear_for: bad duration 'soon'")
    with pytest.raises(ConfigError) as exc:
        parse_rules(load_yaml("rules.yaml", "- name: y\n  metric: a\n  op: '~'\n  value: 1\n"))
    assert "rules.yaml:3: [0].op: '~' is not one of" in str(exc.value)
    key = AlertKey(center=C, agent=A, device="d", code="x")
    assert key.subject == ""


def test_per_agent_rate_limit_bounds_a_flood_and_refills() -> None:
    from controller.ingest import RateLimiter

    limiter = RateLimiter(rate=10.0, burst=100.0)
    a, b = ("ba-dinh", "pi-1"), ("tay-ho", "pi-1")
    allowed = sum(limiter.allow(a, 0.0, 0.0) for _ in range(1000))
    assert allowed == 100                       # the burst, then nothing
    assert limiter.allow(b, 0.0, 0.0)           # another agent is not affected
    assert sum(limiter.allow(a, 1.0, 1.0) for _ in range(100)) == 10  # 10/s refill


def test_rate_limit_passes_a_backlog_made_at_a_normal_pace() -> None:
    """Reproduces issue 11.5: 3,700 reports an agent made at 31/s during a 120 s outage arrive
    within a second when the controller is back; they were counted against arrival time and
    1,662 were thrown away. The bucket now runs on the agent's own clock."""
    from controller.ingest import RateLimiter

    limiter = RateLimiter(rate=50.0, burst=2000.0)
    arrival = 1000.0  # all at once
    made = [880.0 + i / 31.0 for i in range(3700)]
    assert all(limiter.allow(("ba-dinh", "pi-1"), ts, arrival) for ts in made)
    # a live flood: many messages in little agent time is held back
    assert sum(limiter.allow(("ba-dinh", "pi-1"), 1000.0, arrival) for _ in range(5000)) < 2100
    # an agent clock far ahead buys no more than RATE_CLOCK_SLACK_S of rate
    flood = RateLimiter(rate=50.0, burst=100.0)
    future = sum(flood.allow(("x", "y"), 1e9 + i, 0.0) for i in range(100_000))
    assert future <= 100 + 50 * 300 + 1


def test_sync_open_alerts_lets_any_controller_resolve() -> None:
    """Controller B learns of an alert A opened (shared database) and resolves it."""
    b = Fleet(alert_rules=(Rule(name="all", fault="*"),))
    key = AlertKey(center=C, agent=A, device="printer-1", code="printer.jammed")
    b.sync_open_alerts({key})
    effects = Feed(b).send()  # a healthy report from the printer reaches B
    assert resolved(effects) == ["printer.jammed"]
    b.sync_open_alerts(set())  # resolved elsewhere (or by hand): B forgets it
    assert key not in b.open_alerts and not b.keys_by_device.get((C, A, "printer-1"))


def test_an_empty_hall_is_judged_over_time_during_opening_hours() -> None:
    """The shipped quiet-wifi rule: an AP that counts 0 clients for 30 minutes while the center
    is open opens ap.no_clients; one poll of 0, or 0 at night, does not."""
    from datetime import UTC, datetime

    from controller.state import Fleet, OpenAlert
    from hcc_common import wire

    fleet = Fleet()  # the shipped default rules and opening hours
    wednesday_10h = datetime(2026, 11, 25, 3, 0, tzinfo=UTC).timestamp()  # 10:00 in Hà Nội

    def poll(seq: int, at: float, clients: int | None) -> list[object]:
        metrics = {} if clients is None else {"wifi_clients": clients}
        r = wire.Result(center="ba-dinh", agent="pi-1", device="ap-1", session=1, seq=seq, ts=at,
                        device_type="wifi_ap", device_name="Wi-Fi sảnh", status="ok",
                        metrics=metrics)
        return fleet.apply(r, at) + fleet.tick(at)

    def opened(effects: list[object]) -> list[str]:
        return [e.key.code for e in effects if isinstance(e, OpenAlert)]

    assert opened(poll(1, wednesday_10h, 0)) == []
    assert opened(poll(2, wednesday_10h + 20 * 60, 0)) == []
    assert opened(poll(3, wednesday_10h + 31 * 60, 0)) == ["ap.no_clients"]
    night = Fleet()
    at = datetime(2026, 11, 25, 16, 0, tzinfo=UTC).timestamp()  # 23:00 in Hà Nội
    for i in range(5):
        r = wire.Result(center="ba-dinh", agent="pi-1", device="ap-1", session=1, seq=i + 1,
                        ts=at + i * 900, device_type="wifi_ap", device_name="Wi-Fi", status="ok",
                        metrics={"wifi_clients": 0})
        assert not [e for e in night.apply(r, at + i * 900) + night.tick(at + i * 900)
                    if isinstance(e, OpenAlert)]
    # a count the AP does not give is not 0: nothing opens
    unknown = Fleet()
    r = wire.Result(center="ba-dinh", agent="pi-1", device="ap-1", session=1, seq=1,
                    ts=wednesday_10h, device_type="wifi_ap", device_name="Wi-Fi", status="ok",
                    metrics={})
    unknown.apply(r, wednesday_10h)
    later = wire.Result(center="ba-dinh", agent="pi-1", device="ap-1", session=1, seq=2,
                        ts=wednesday_10h + 3600, device_type="wifi_ap", device_name="Wi-Fi",
                        status="ok", metrics={})
    assert opened(unknown.apply(later, wednesday_10h + 3600)
                  + unknown.tick(wednesday_10h + 3600)) == []
