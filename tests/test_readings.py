"""The vocabulary of readings (hcc_common/readings.py): every reading a decoder or check makes
is declared, of its declared type and within its bounds; every kind speaks vi and en with the
glossary's words; the matcher; the modules that read it (device page labels, the wire's text
rule); docs/protocol.md's table generated from it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from agent.checks import ipp, shelly, tasmota
from agent.checks.snmp import read_device
from agent.netprobe import STEPS, StepResult, metrics_of
from agent.plugin_output import parse_perfdata
from agent.profile_loader import SYSTEM_OIDS, choose, load_profiles, probes
from agent.snmpdecode import DeviceContext, Sample, Thresholds
from controller import device_view
from controller.history import Sample as HistorySample
from hcc_common import readings as vocab
from hcc_common import wire
from hcc_common.glossary import AVOID
from lab.snmprec import load, present, reading_for

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = [ROOT / "tests" / "fixtures" / "snmprec",
            ROOT.parent / "shared" / "testbed" / "snmprec",
            ROOT.parent / "shared" / "testbed" / "librenms",
            ROOT.parent.parent / "shared" / "testbed" / "snmprec",   # a worktree of /work/wt
            ROOT.parent.parent / "shared" / "testbed" / "librenms"]
DEVICE_TYPES = ("printer", "wifi_ap", "charger", "ups", "network", "other")
PROFILES = load_profiles()


def undeclared(metrics: dict[str, object]) -> list[str]:
    """What is wrong with these readings by the vocabulary: undeclared names, a text where a
    number is declared or the other way, a number beyond its kind's bounds."""
    wrong = []
    for name, value in metrics.items():
        kind = vocab.kind_of(name)
        if kind is None:
            wrong.append(f"{name}: not declared")
        elif isinstance(value, str) != (kind.value == "text"):
            wrong.append(f"{name}={value!r}: declared {kind.value}")
        elif isinstance(value, int | float) and not isinstance(value, bool) and (
                (kind.minimum is not None and value < kind.minimum)
                or (kind.maximum is not None and value > kind.maximum)):
            wrong.append(f"{name}={value!r}: beyond {kind.minimum}..{kind.maximum}")
    return wrong


def _decoded(path: Path, dtype: str) -> dict[str, object]:
    values = load(path)
    system = {k: values.get(o) for k, o in SYSTEM_OIDS.items()}
    prof = choose(PROFILES, dtype, system, present(probes(PROFILES, system.get("sys_object_id")),
                                                    values))
    sample = Sample(reading_for(prof, values), DeviceContext(type=dtype, thresholds=Thresholds()),
                    values=prof.values, clients=prof.clients)
    metrics, _ = read_device(prof, sample, dtype)
    return {"snmp_profile": prof.id, **metrics}


@pytest.mark.parametrize("folder", [c for c in CAPTURES if c.is_dir()],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_decoder_emits_only_declared_readings(folder: Path) -> None:
    """Every SNMP capture through every profile the agent would choose for each device type:
    a decoder that invents a reading name fails here until the vocabulary declares it."""
    files = sorted(folder.rglob("*.snmprec"))
    assert files
    wrong = {f"{path.relative_to(folder)} as {dtype}": bad for path in files
             for dtype in DEVICE_TYPES if (bad := undeclared(_decoded(path, dtype)))}
    assert not wrong, wrong


def test_the_other_checks_emit_only_declared_readings() -> None:
    """IPP, Shelly, Tasmota, the Wi-Fi probe / WAN steps and a plugin's perfdata."""
    ctx = DeviceContext("charger")
    ipp_metrics, _ = ipp.decode({
        "printer-state": 3, "printer-state-reasons": ["toner-low-warning"],
        "printer-supply": ["index=1;class=supplyThatIsConsumed;type=toner;unit=percent;"
                           "maxcapacity=100;level=40;colorantname=black;"],
        "printer-supply-description": ["Black"],
        "marker-names": ["Black"], "marker-levels": [40],
        "printer-input-tray": ["type=sheetFeedAutoRemovableTray;mediafeed=0;mediaxfeed=0;"
                               "maxcapacity=250;level=100;status=0;name=Tray 1;"]},
        DeviceContext())
    shelly_metrics, _ = shelly.decode({"output": True, "apower": 12.5, "voltage": 229.0,
                                       "current": 0.06, "temperature": {"tC": 30}}, ctx, "plug 0")
    tasmota_metrics, _ = tasmota.decode(
        {"POWER": "ON"}, {"StatusSNS": {"ENERGY": {"Power": 12, "Voltage": 230, "Current": 0.05},
                                        "ANALOG": {"Temperature": 31.0}}}, 0, ctx, "plug 0")
    for prefix in ("wifi_probe", "wan"):
        probe = metrics_of([StepResult(step, True, 0.05, {
            "scan": {"signal_dbm": -60, "channel": 6}, "dhcp": {"lease_s": 3600},
            "internet": {"portal": 0}, "speed": {"download_mbps": 40.5}}.get(step, {}))
            for step in STEPS], prefix)
        assert probe, prefix
        assert not undeclared(probe), undeclared(probe)
    perf = parse_perfdata("time=0.01s;1;2 'Disk /'=80%;90 size=10KB")
    assert perf and not undeclared(perf)
    for metrics in (ipp_metrics, shelly_metrics, tasmota_metrics):
        assert metrics and not undeclared(metrics), undeclared(metrics)
    assert "marker.1.pct" in ipp_metrics or "supply.1.pct" in ipp_metrics


def test_an_invented_name_or_a_wrong_type_is_caught() -> None:
    """The check above can fail: a made-up name, text under a number, a level over 100 %."""
    assert undeclared({"supply.1.pct": 50.0, "wifi_clients": 3}) == []
    assert undeclared({"wifi_client": 3}) == ["wifi_client: not declared"]
    assert undeclared({"runtime_min": "12"}) == ["runtime_min='12': declared number"]
    assert undeclared({"supply.1.pct": 180.0})[0].startswith("supply.1.pct=180.0: beyond")


def test_the_matcher_gives_the_kind_and_its_parts() -> None:
    m = vocab.match("supply.3.pct")
    assert m is not None and m.kind is vocab.SUPPLY_PCT and m.parts == {"index": "3"}
    m = vocab.match("outlet.1.2.power_w")  # a strip's bank 1, outlet 2
    assert m is not None and m.kind.key == "outlet.{path}.power_w" and m.parts == {"path": "1.2"}
    m = vocab.match("wan_dhcp_ms")
    assert m is not None and m.kind.history and m.kind.chart == "probe"
    m = vocab.match("wan_join_ms")  # a step the charts do not draw
    assert m is not None and m.kind.key == "{probe}_{step}_ms" and not m.kind.history
    assert vocab.match("supply.3.pct.x") is None and vocab.match("supply..pct") is None
    assert vocab.match("page_count") is not None and vocab.match("page_counts") is None
    assert vocab.SUPPLY_PCT.name(index=2) == "supply.2.pct"
    with pytest.raises(ValueError):
        vocab.SUPPLY_PCT.name(index="1.2")  # a supply is one name part
    assert vocab.is_counter("page_count") and not vocab.is_counter("supply.1.pct")
    assert vocab.kept("wifi_clients") and not vocab.kept("wifi_clients_source")
    assert vocab.deadband("page_count") == 50.0 and vocab.deadband("plugin.x") == 0.0
    assert math.isinf(vocab.deadband("outbox_count"))
    assert vocab.level_of_name("marker.2.name") == "marker.2.pct"
    assert vocab.level_of_name("tray.2.name") is None


def test_every_kind_speaks_both_languages_with_the_glossary_terms() -> None:
    same = {"CPU", "UPS"}  # the same word in both
    texts = [(k.key, k.vi, k.en) for k in vocab.KINDS]
    texts += [(c.id, c.vi, c.en) for c in vocab.CHARTS]
    texts += [(c.id, c.hourly_vi, c.hourly_en) for c in vocab.CHARTS if c.hourly_vi]
    texts += [(g.id, g.vi, g.en) for g in vocab.GROUPS]
    for key, vi, en in texts:
        assert vi.strip() and en.strip(), key
        assert vi != en or vi in same, key
        for wrong, right in AVOID.items():
            assert not re.search(wrong, vi, re.IGNORECASE), f"{key}: '{wrong}' — say '{right}'"
    assert len({k.key for k in vocab.KINDS}) == len(vocab.KINDS)
    charts = {c.id for c in vocab.CHARTS}
    groups = {g.id for g in vocab.GROUPS}
    for k in vocab.KINDS:
        assert k.chart is None or (k.chart in charts and k.history), k.key
        assert k.group is None or (k.group in groups and k.field), k.key
        assert k.unit_in("vi") and k.unit_in("en") if k.unit else True


def test_the_chart_legend_names_the_page_counter_in_vietnamese() -> None:
    """The failure: the legend said `page_count` (English, code) for lack of a Vietnamese name."""
    samples = [HistorySample(1000.0 + 60 * i, "ok", {"page_count": 100.0 + i, "supply.1.pct": 50.0})
               for i in range(3)]
    names = device_view.series_names({"supply.1.name": "Đen", "supply.1.pct": 50.0})
    for lang, pages, title in (("vi", "Bộ đếm trang", "Mực và vật tư (%)"),
                               ("en", "Page counter", "Toner and supplies (%)")):
        s = device_view.series_from_samples(samples, 1000.0, 1200.0, names, lang)
        assert [line["label"] for line in s["charts"]["pages"]] == [pages]
        assert [line["label"] for line in s["charts"]["supplies"]] == ["Đen"]
        assert s["order"] == ["supplies", "pages"] and s["titles"]["supplies"] == title


def test_the_device_page_gets_each_reading_with_its_label_and_unit() -> None:
    r = device_view.readings({"supply.1.name": "Black", "supply.1.pct": 40.0, "marker.1.pct": 30,
                              "runtime_min": 12, "battery_status": "normal", "uptime_s": 9,
                              "plugin.x": 1, "outlet.1.2.power_w": 35.0}, "vi")
    assert r["supplies"] == [{"id": "1", "name": "Black", "pct": 40.0}, {"id": "1", "pct": 30}]
    assert r["outlets"] == [{"id": "1.2", "power_w": 35.0}]
    assert {u["key"]: (u["label"], u["unit"]) for u in r["ups"]} == {
        "runtime_min": ("Thời gian chạy pin", "phút"), "battery_status": ("Tình trạng pin", "")}
    assert r["other"] == [{"key": "plugin.x", "value": 1, "label": "Số liệu của plugin", "unit": ""},
                          {"key": "uptime_s", "value": 9, "label": "Thời gian chạy liên tục",
                           "unit": "giây"}]
    assert r["titles"]["supply"] == "Mực và vật tư" and r["titles"]["pages"] == "Bộ đếm trang"


def test_the_wire_takes_text_where_the_vocabulary_declares_it() -> None:
    """The ATS's words (power_source) were off the text list: every ATS result a dead letter."""
    r = wire.Result(center="ba-dinh", agent="pi-1", device="ats-1", session=1, seq=1,
                    ts=1_700_000_000.0, device_type="charger", device_name="ATS", status="ok",
                    metrics={"power_source": "a", "power_source.b.status": "ok",
                     "power_redundancy": "lost", "supply.1.name": "K"})
    enc = wire.encode(r)
    assert wire.decode(enc.topic, enc.payload) == r
    bad = wire.encode(wire.Result(center="ba-dinh", agent="pi-1", device="ap-1", session=1, seq=1,
                                  ts=1_700_000_000.0, device_type="wifi_ap", device_name="AP",
                                  status="ok", metrics={"wifi_clients": 3}))
    with pytest.raises(wire.WireError):
        wire.decode(bad.topic, bad.payload.replace(b'"wifi_clients":3', b'"wifi_clients":"<b>3</b>"'))


def test_protocol_doc_table_is_generated_from_the_vocabulary() -> None:
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    begin, end = "<!-- readings:begin -->\n", "<!-- readings:end -->"
    assert begin in doc and end in doc
    assert doc.split(begin, 1)[1].split(end, 1)[0] == vocab.render_doc(), \
        "run: python -m hcc_common.readings --write-doc"


def test_a_metric_rule_names_a_numeric_reading_of_the_vocabulary() -> None:
    """A rule on a misspelt reading (or on a text) never fired, and nothing said so."""
    from controller.rules import parse_rules
    from hcc_common.yamlconf import ConfigError, load_yaml

    ok = parse_rules(load_yaml("rules.yaml", "- name: few\n  metric: wifi_clients\n  op: '<'\n"
                                             "  value: 1\n"))
    assert any(r.metric == "wifi_clients" for r in ok)
    for metric, why in (("wifi_client", "is not a numeric reading"),
                        ("printer_status", "is a text reading")):
        with pytest.raises(ConfigError) as exc:
            parse_rules(load_yaml("rules.yaml", f"- name: x\n  metric: {metric}\n  op: '>'\n"
                                                "  value: 1\n"))
        assert str(exc.value).startswith(f"rules.yaml:2: [0].metric: '{metric}' {why}")
