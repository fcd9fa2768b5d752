"""controller.yaml parsing is declarative: each default lives in its dataclass field alone, each
section is parsed once, and the calendar of a center is read by one parser on both sides."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent import config as agent_config
from controller import config as cc
from controller.amenities import CitizenSettings
from controller.auth_config import AuthSettings
from controller.partitions import PartitionSettings
from controller.state import Rules
from hcc_common.calendar import OpeningHours
from hcc_common.yamlconf import ConfigError

# every section written, with nothing in it that has a default
EMPTY_SECTIONS = """\
db: {db}
rules: {{}}
http: {{}}
notify: {{}}
history: {{}}
reports: {{}}
partitions: {{}}
signing: {{}}
enroll: {{broker_dir: {broker}, broker_url: "mqtts://broker.city:8883"}}
auth: {{}}
citizen: {{}}
centers:
  - {{id: q1}}
"""

# the settings types the parser fills; the sections above must each come out as their defaults
SECTION_TYPES = ("Rules", "HttpSettings", "NotifySettings", "HistorySettings", "ReportSettings",
                 "PartitionSettings", "SigningSettings", "EnrollSettings", "CenterInfo",
                 "OpeningHours", "AuthSettings", "CitizenSettings")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "controller.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def empty_sections(tmp_path: Path) -> Path:
    return write(tmp_path, EMPTY_SECTIONS.format(db=tmp_path / "hcc.db", broker=tmp_path / "mq"))


def test_empty_sections_come_out_as_the_dataclass_defaults(tmp_path: Path) -> None:
    cfg = cc.load(empty_sections(tmp_path), env={})
    assert cfg.rules == Rules()
    assert cfg.http == cc.HttpSettings()
    assert cfg.notify == cc.NotifySettings()
    assert cfg.history == cc.HistorySettings()
    assert cfg.reports == cc.ReportSettings()
    assert cfg.partitions == PartitionSettings()
    assert cfg.signing == cc.SigningSettings()
    assert cfg.enroll == cc.EnrollSettings(broker_dir=tmp_path / "mq",
                                           broker_url="mqtts://broker.city:8883")
    assert cfg.centers == (cc.CenterInfo(id="q1", name="q1", hours=OpeningHours()),)
    assert cfg.auth == AuthSettings() and cfg.citizen == CitizenSettings()


def test_a_minimal_file_equals_the_config_of_no_file(tmp_path: Path) -> None:
    db = tmp_path / "hcc.db"
    cfg = cc.load(write(tmp_path, f"db: {db}\n"), env={})
    expected = dataclasses.replace(cc.load(None, env={}), db=db, path=str(tmp_path / "controller.yaml"))
    assert cfg == expected
    assert cfg.auth == AuthSettings() and cfg.session_expiry_s == 7 * 86400.0 and cfg.acks


def spy_on(monkeypatch: pytest.MonkeyPatch, names: tuple[str, ...]) -> dict[str, list[dict[str, Any]]]:
    """Replace each settings type in controller.config (and the calendar's parser) by one that
    records what the parser passes it."""
    import controller.amenities as amenities
    import controller.auth_config as auth_config
    import hcc_common.calendar as calendar

    home = {"OpeningHours": calendar, "AuthSettings": auth_config, "CitizenSettings": amenities}
    seen: dict[str, list[dict[str, Any]]] = {n: [] for n in names}

    def recording(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def make(*args: Any, **kwargs: Any) -> Any:
            seen[name].append({**{f"#{i}": a for i, a in enumerate(args)}, **kwargs})
            return real(*args, **kwargs)
        return make

    for name in names:
        module = home.get(name, cc)
        monkeypatch.setattr(module, name, recording(name, getattr(module, name)))
    return seen


def test_the_parser_states_no_default_of_its_own(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A section left empty must pass its type nothing but what the file or the parser works
    # out (required fields, a center's id and name): a default written again in the parser
    # shows here as a value passed although the file does not say it.
    seen = spy_on(monkeypatch, SECTION_TYPES)
    cc.load(empty_sections(tmp_path), env={})
    worked_out = {"EnrollSettings": {"broker_dir", "broker_url"},  # required
                  "CenterInfo": {"id", "name", "hours"},
                  "NotifySettings": {"receivers", "routes"},
                  "AuthSettings": {"groups"}}
    for name in SECTION_TYPES:
        assert seen[name], f"{name} was not built: the test no longer covers it"
        for passed in seen[name]:
            assert set(passed) <= worked_out.get(name, set()), (name, passed)
    # what was worked out, is the empty it stands for
    (notify,) = seen["NotifySettings"]
    assert notify == {"receivers": (), "routes": ()}
    assert seen["AuthSettings"] == [{"groups": {}}]


def test_the_top_level_passes_only_what_the_file_or_its_sections_give(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = spy_on(monkeypatch, ("ControllerConfig",))
    cc.load(write(tmp_path, f"db: {tmp_path / 'hcc.db'}\n"), env={})
    (passed,) = seen["ControllerConfig"]
    assert not [k for k in passed if k.startswith("#")], "built by position"
    # scalars with defaults (client_id, session_expiry_s, acks, ingest_stuck_after_s,
    # config_dir, share_group) are not passed when the file leaves them out
    for name in ("client_id", "session_expiry_s", "acks", "ingest_stuck_after_s", "config_dir",
                 "share_group"):
        assert name not in passed


def test_shared_group_keeps_its_short_session_and_no_acks(tmp_path: Path) -> None:
    db = tmp_path / "hcc.db"
    cfg = cc.load(write(tmp_path, f"db: {db}\nshare_group: desk\n"), env={})
    assert (cfg.share_group, cfg.session_expiry_s, cfg.acks) == ("desk", 30.0, False)
    cfg = cc.load(write(tmp_path, f"db: {db}\nshare_group: desk\nsession_expiry: 2m\n"), env={})
    assert cfg.session_expiry_s == 120.0


def test_notify_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = cc._notify

    def counting(*args: Any, **kwargs: Any) -> cc.NotifySettings:
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(cc, "_notify", counting)
    path = write(tmp_path, f"""\
db: {tmp_path / 'hcc.db'}
notify:
  receivers:
    - {{name: city, email: {{smtp: "127.0.0.1:25", from: hcc@city.vn, to: [a@city.vn]}}}}
reports: {{monthly: {{email: [city]}}}}
citizen: {{}}
""")
    cfg = cc.load(path, env={})
    assert len(calls) == 1
    assert cfg.reports.monthly_email == ("city",) and cfg.notify.receivers[0].name == "city"


@pytest.mark.parametrize(("text", "where", "reason"), [
    ("http: {listen: nope}\n", "2: http.listen", "expected HOST:PORT"),
    ("rules: {unreachable_after: 0}\n", "2: rules.unreachable_after", "at least 1"),
    ("notify: {remind_after: 5s}\n", "2: notify.remind_after", "at least 60s"),
    ("reports:\n  pdf: {memory_limit_mb: 1}\n", "3: reports.pdf.memory_limit_mb", "at least 256"),
    ("reports:\n  monthly: {email: [], at: noon}\n", "3: reports.monthly.at", "bad time 'noon'"),
    ("history: {rwa: 1d}\n", "2: history.rwa", "did you mean 'raw'"),
    ("centers:\n  - {id: q1, timezone: Mars/Base}\n", "3: centers[0].timezone",
     "unknown time zone"),
])
def test_errors_still_name_file_line_and_key(tmp_path: Path, text: str, where: str,
                                             reason: str) -> None:
    path = write(tmp_path, f"db: {tmp_path / 'hcc.db'}\n{text}")
    with pytest.raises(ConfigError) as exc:
        cc.load(path, env={})
    assert str(exc.value).startswith(f"{path}:{where}: ")
    assert reason in str(exc.value)


CALENDAR = ('timezone: Asia/Bangkok, opening_hours: {mon-fri: "08:00-12:00, 13:00-17:00", '
            'sat: closed}, holidays: [2026-09-02]')
DEVICES = """\
center: {{id: q1, {calendar}}}
agent: {{id: pi-1}}
mqtt: {{url: "mqtt://127.0.0.1:1883"}}
devices: []
"""


def test_both_sides_read_a_center_calendar_alike(tmp_path: Path) -> None:
    box = agent_config.load("devices.yaml", text=DEVICES.format(calendar=CALENDAR), environ={})
    center = cc.load(write(tmp_path, f"centers:\n  - {{id: q1, {CALENDAR}}}\n"), env={})
    assert box.center.hours == center.centers[0].hours
    assert box.center.hours.timezone == "Asia/Bangkok" and box.center.hours.weekly[5] == ()
    bad = 'opening_hours: {mon-fry: "08:00-12:00"}'
    with pytest.raises(ConfigError) as on_box:
        agent_config.load("devices.yaml", text=DEVICES.format(calendar=bad), environ={})
    with pytest.raises(ConfigError) as on_center:
        cc.load(write(tmp_path, f"centers:\n  - {{id: q1, {bad}}}\n"), env={})
    assert on_box.value.reason == on_center.value.reason
    assert on_box.value.reason.startswith("unknown day in 'mon-fry'")


def test_a_key_may_fill_two_fields_and_a_file_value_wins_over_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, f"""\
db: {tmp_path / 'hcc.db'}
http: {{listen: "[::1]:9000", read_open: true}}
notify: {{group_wait: 1m, max_attempts: 2}}
reports: {{lead_time: 14d, monthly: {{email: [], day: 3}}}}
""")
    cfg = cc.load(path, env={})
    assert cfg.http == cc.HttpSettings(listen_host="::1", listen_port=9000, read_open=True)
    assert cfg.notify == cc.NotifySettings(group_wait_s=60.0, max_attempts=2)
    assert cfg.reports == cc.ReportSettings(lead_days=14.0, monthly_day=3)


def test_tokens_and_open311_keys_read_env_alike(tmp_path: Path) -> None:
    token, key = "t0ken-from-the-environment", "k3y-from-the-environment"
    path = write(tmp_path, f"""\
db: {tmp_path / 'hcc.db'}
http: {{tokens: {{desk: "env:DESK_TOKEN", ops: "an-inline-token-0123"}}}}
citizen: {{open311_keys: {{city-app: "env:OPEN311_KEY"}}}}
""")
    cfg = cc.load(path, env={"DESK_TOKEN": token, "OPEN311_KEY": key})
    assert cfg.http is not None
    assert cfg.http.tokens == {token: "desk", "an-inline-token-0123": "ops"}
    assert cfg.citizen.open311_keys == {key: "city-app"}
    with pytest.raises(ConfigError) as no_token:
        cc.load(path, env={"OPEN311_KEY": key})
    with pytest.raises(ConfigError) as no_key:
        cc.load(path, env={"DESK_TOKEN": token})
    assert str(no_token.value) == f"{path}:2: http.tokens.desk: environment variable DESK_TOKEN is not set"
    assert str(no_key.value) == (f"{path}:3: citizen.open311_keys.city-app: "
                                 "environment variable OPEN311_KEY is not set")


def key_tables() -> list[tuple[str, tuple[Any, ...], type]]:
    from controller import amenities, auth_config, oncall, rules
    from controller.channels import email, sms, telegram, zalo
    from controller.ldap_auth import LdapSettings
    from hcc_common import calendar, mqtt_settings

    return [
        ("top", cc._TOP_FIELDS, cc.ControllerConfig), ("rules", cc._RULES, Rules),
        ("http", cc._HTTP, cc.HttpSettings), ("notify", cc._NOTIFY, cc.NotifySettings),
        ("routes", cc._ROUTE, cc.Route), ("history", cc._HISTORY, cc.HistorySettings),
        ("reports", cc._REPORTS + cc._MONTHLY + cc._PDF, cc.ReportSettings),
        ("centers", cc._CENTER, cc.CenterInfo), ("enroll", cc._ENROLL, cc.EnrollSettings),
        ("signing", cc._SIGNING, cc.SigningSettings),
        ("partitions", cc._PARTITIONS, PartitionSettings),
        ("auth", auth_config._AUTH, AuthSettings), ("ldap", auth_config._LDAP, LdapSettings),
        ("citizen", amenities._CITIZEN, CitizenSettings),
        ("amenities", amenities._AMENITY, amenities.Amenity),
        ("escalation", oncall._STEP, oncall.Step), ("alert_rules", rules._RULE_FIELDS, rules.Rule),
        ("calendar", calendar._CALENDAR, OpeningHours),
        ("mqtt", mqtt_settings._MQTT, mqtt_settings.MqttSettings),
        ("email", email._KEYS, email.Settings), ("sms", sms._KEYS, sms.Settings),
        ("telegram", telegram._KEYS, telegram.Settings), ("zalo", zalo._KEYS, zalo.Settings),
    ]


@pytest.mark.parametrize(("section", "keys", "record"), key_tables(), ids=[t[0] for t in key_tables()])
def test_every_key_fills_a_field_that_has_a_default(section: str, keys: tuple[Any, ...],
                                                    record: type) -> None:
    # build() takes the fields by name: a misspelt `to` would fail only when a file writes the
    # key; and a key the file may leave out needs a default on its field
    fields = {f.name: f for f in dataclasses.fields(record)}
    for key in keys:
        for name in key.to if isinstance(key.to, tuple) else (key.to or key.name,):
            assert name in fields, f"{section}.{key.name} fills no field {name!r} of {record.__name__}"
            f = fields[name]
            has_default = f.default is not dataclasses.MISSING or \
                f.default_factory is not dataclasses.MISSING
            assert has_default, f"{section}.{key.name}: {record.__name__}.{name} has no default"
