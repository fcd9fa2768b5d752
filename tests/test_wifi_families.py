"""Wi-Fi vendor families and identity quirks (issue 25), on the project's own fixtures written
from the vendors' MIBs (tests/fixtures/snmprec/wifi/): pure decoding, then a few through snmpsim."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.checks.snmp import read_device
from agent.profile_loader import (
    SYSTEM_OIDS,
    _parse,
    choose,
    descr_forms,
    load_profiles,
    names_maker,
    object_id,
    probes,
)
from agent.snmpdecode import DeviceContext, Reading, Sample, SnmpValue, Thresholds
from conftest import json_lines, run_cli
from hcc_common.yamlconf import ConfigError
from lab.procs import SnmpSim
from lab.snmprec import load, present, reading_for

WIFI = Path(__file__).parent / "fixtures" / "snmprec" / "wifi"
PROFILES = load_profiles()


def read(name: str, dtype: str = "wifi_ap") -> tuple[str, dict[str, object], list[str]]:
    values = load(WIFI / f"{name}.snmprec")
    system = {k: values.get(oid) for k, oid in SYSTEM_OIDS.items()}
    answering = present(probes(PROFILES, system.get("sys_object_id")), values)
    profile = choose(PROFILES, dtype, system, answering)
    sample = Sample(reading_for(profile, values), DeviceContext(dtype, True, (), Thresholds()),
                    values=profile.values, clients=profile.clients)
    metrics, found = read_device(profile, sample, dtype)
    return profile.id, dict(metrics), [f.code for f in found]


# (fixture, profile it must pick, the client count its MIB gives: never two layouts added up)
FAMILIES = [
    ("ap-aruba-controller", "aruba_ap", 37),       # own total, not + the per-ESSID 30 + 7
    ("ap-aruba-instant", "aruba_ap", 15),          # aiRadioClientNum 4 + 9 + 0 + 2
    ("ap-aruba-instant-clients", "aruba_ap", 5),   # older Instant: aiClientTable rows
    ("ap-ruckus-smartzone", "ruckus_ap", 112),
    ("ap-ruckus-unleashed", "ruckus_ap", 14),
    ("ap-ruckus-vsz", "ruckus_ap", 26),            # RUCKUS-CTRL-MIB per AP
    ("ap-cisco-9800", "cisco_ap", 20),             # CISCO-LWAPP-AP-MIB per AP
    ("ap-cisco-aireos", "cisco_ap", 12),           # per WLAN, not + per radio
    ("ap-cisco-autonomous", "cisco_ap", 11),       # CISCO-DOT11-ASSOCIATION-MIB per radio
    ("ap-huawei-fatap", "huawei_ac", 10),          # per VAP
    ("ap-h3c-ac", "h3c_ap", 15),
    ("ap-zyxel-nxc", "zyxel_ap", 23),
    ("ap-fortiwlc", "meru_wlc", 42),
    ("ap-mikrotik-capsman", "mikrotik_ap", 9),
    ("ap-grandstream", "grandstream_ap", 3),       # net-snmp's generic id: sysDescr and probe
    ("ap-grandstream-empty", "grandstream_ap", 0),  # its only client list, empty: 0, not unknown
    ("ap-xirrus", "xirrus_ap", 19),
    ("ap-octet-sysobjectid", "ruckus_ap", 31),     # sysObjectID as ".1.3.6..." text
    ("ap-quoted-sysdescr", "unifi_ap", 11),
    ("ap-airport", "airport_ap", 2),
    ("ap-mimosa", "mimosa_ap", 4),
    ("ap-airmax-stations", "airos_ap", 3),        # no per-radio count: the station rows
    ("ap-named-sysobjectid", "xirrus_ap", 8),      # "SNMPv2-SMI::enterprises.21013.1.2"
]


@pytest.mark.parametrize(("name", "profile", "clients"), FAMILIES)
def test_each_product_line_reads_its_client_count(name: str, profile: str, clients: int) -> None:
    chosen, metrics, faults = read(name)
    assert chosen == profile
    assert metrics["wifi_clients"] == clients, metrics.get("wifi_clients_source")
    assert faults == []


def test_a_sysobjectid_sent_as_text_is_matched() -> None:
    """Issue 25 item 4: an OCTET STRING sysObjectID (with or without the dot, quoted) names the
    maker as an OBJECT IDENTIFIER would; with no sysDescr and no probe it alone decides."""
    for raw in (b".1.3.6.1.4.1.25053.3.1.5.15", b"1.3.6.1.4.1.25053.3.1.5.15",
                b'"1.3.6.1.4.1.25053.3.1.5.15"', ".1.3.6.1.4.1.25053.3.1.5.15"):
        assert object_id(raw) == "1.3.6.1.4.1.25053.3.1.5.15"
        chosen = choose(PROFILES, "wifi_ap", {"sys_object_id": raw, "sys_descr": b""}, set())
        assert chosen.id == "ruckus_ap", raw
    assert object_id(b"not an oid") is None and object_id(None) is None


def test_a_generic_sysobjectid_falls_back_to_sysdescr_then_probes() -> None:
    net_snmp = "1.3.6.1.4.1.8072.3.2.10"
    assert not names_maker(net_snmp) and names_maker("1.3.6.1.4.1.41112")
    by_descr = choose(PROFILES, "wifi_ap", {"sys_object_id": net_snmp,
                                            "sys_descr": b"Linux Grandstream GWN7660"}, set())
    assert by_descr.id == "grandstream_ap"
    # nothing in sysDescr: the distinctive object each candidate answers decides
    by_probe = choose(PROFILES, "wifi_ap", {"sys_object_id": net_snmp, "sys_descr": b"Linux 4.4"},
                      {"1.3.6.1.4.1.2011.6.139.17.1.1.1.9"})
    assert by_probe.id == "huawei_ac"


def test_a_sysdescr_starting_with_a_quote_still_matches_anchored_patterns() -> None:
    assert descr_forms(b'"UAP-AC-Pro 6.5.28"')[-1] == "UAP-AC-Pro 6.5.28"
    chosen = choose(PROFILES, "wifi_ap", {"sys_object_id": "1.3.6.1.4.1.8072.3.2.10",
                                          "sys_descr": b'"UAP-AC-Pro 6.5.28"'}, set())
    assert chosen.id == "unifi_ap"
    for odd in (b"\x00\x00UAP-nanoHD 5.43", b"'U6-Lite 6.6.55'", b"  UAP-AC-LR 4.3"):
        assert choose(PROFILES, "wifi_ap", {"sys_descr": odd}, set()).id == "unifi_ap", odd


PER_MODEL = """\
id: per_model_ap
class: ap
match:
  sys_object_id_prefixes: [1.3.6.1.4.1.99999]
  probe: ["{sys_object_id}.1.1"]
scalars:
  sys_descr: 1.3.6.1.2.1.1.1.0
  sys_object_id: 1.3.6.1.2.1.1.2.0
  clients_total: "{sys_object_id}.1.1.0"
tables:
  radios:
    oid: "{sys_object_id}.1.2.1"
    columns: {count: 3}
clients:
  - total: clients_total
  - sum: [radios.count]
decoders: [wifi_clients]
"""


def test_objects_under_the_models_own_sysobjectid_in_scalars_probes_and_tables() -> None:
    """Issue 25 item 2, for any vendor: "{sys_object_id}" is the model's own OID wherever a
    profile names an object (Gude's per-model MIBs were the only case before)."""
    profile = _parse("per_model_ap.yaml", PER_MODEL)
    model = "1.3.6.1.4.1.99999.7.3"
    assert probes({"p": profile}, f".{model}".encode()) == [f"{model}.1.1"]
    assert probes({"p": profile}, "1.3.6.1.4.1.8072.3.2.10") == []  # no model to hang under
    values: dict[str, SnmpValue] = {"1.3.6.1.2.1.1.2.0": f".{model}".encode(),
                                    f"{model}.1.2.1.3.1": 4, f"{model}.1.2.1.3.2": 5}
    reading = reading_for(profile, values)
    sample = Sample(reading, clients=profile.clients)
    metrics, _ = read_device(profile, sample, "wifi_ap")
    assert metrics["wifi_clients"] == 9
    values[f"{model}.1.1.0"] = 11
    metrics, _ = read_device(profile, Sample(reading_for(profile, values),
                                             clients=profile.clients), "wifi_ap")
    assert metrics["wifi_clients"] == 11


@pytest.mark.parametrize(("clients", "reason"), [
    ("clients: [{total: nowhere}]", "not one of this profile's scalars"),
    ("clients: [{sum: [radios.nothing]}]", "not one of this profile's table columns"),
    ("clients: [{total: clients_total, sum: [radios.count]}]", "one of total, sum"),
    ("clients: [{average: [radios.count]}]", "average"),
])
def test_a_bad_client_source_names_file_line_and_key(clients: str, reason: str) -> None:
    text = PER_MODEL.replace("clients:\n  - total: clients_total\n  - sum: [radios.count]\n",
                             clients + "\n")
    with pytest.raises(ConfigError) as err:
        _parse("per_model_ap.yaml", text)
    assert reason in str(err.value)
    assert err.value.line == text.splitlines().index(clients) + 1


def test_counts_that_are_not_readings_are_unknown() -> None:
    profile = _parse("per_model_ap.yaml", PER_MODEL)
    for sentinel in (-1, 2147483647, 4294967295):
        reading = Reading({"clients_total": sentinel}, {"radios": {"count": {"1": sentinel}}})
        metrics, _ = read_device(profile, Sample(reading, clients=profile.clients), "wifi_ap")
        assert "wifi_clients" not in metrics, sentinel


def test_an_ap_profile_that_read_nothing_of_its_class_is_not_a_silent_ok() -> None:
    """Issue 25 item 8: an AP that answered its interfaces (no radio among them) but none of its
    vendor's client objects says "model not supported", not ok."""
    values = load(WIFI / "ap-cisco-9800.snmprec")
    values = {k: v for k, v in values.items() if not k.startswith("1.3.6.1.4.1.9.9.513")
              and not (k.startswith("1.3.6.1.2.1.2.2.1.") and k[-2:] in (".2", ".3"))}
    # (left: its uplink eth0, no radio interface, none of its client objects)
    profile = PROFILES["cisco_ap"]
    sample = Sample(reading_for(profile, values), DeviceContext("wifi_ap"),
                    clients=profile.clients)
    metrics, found = read_device(profile, sample, "wifi_ap")
    assert "wifi_clients" not in metrics
    assert [f.code for f in found] == ["device.unsupported_model"]
    # an identity-only answer (system group alone) is not judged: nothing says it is wrong
    only_system = {k: v for k, v in values.items() if k.startswith("1.3.6.1.2.1.1.")}
    sample = Sample(reading_for(profile, only_system), DeviceContext("wifi_ap"))
    assert read_device(profile, sample, "wifi_ap")[1] == []


def test_a_charger_whose_outlets_are_missing_is_not_a_silent_ok() -> None:
    profile = PROFILES["apc_pdu"]
    sample = Sample(Reading({"sys_descr": b"APC Rack PDU"}, {}),
                    DeviceContext("charger", True, (3, 4)), values=profile.values)
    _, found = read_device(profile, sample, "charger")
    assert "device.unsupported_model" in [f.code for f in found]


# -- through snmpsim and hcc-agent check ---------------------------------------------------------
@pytest.fixture(scope="module")
def wifi_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    names = ["ap-aruba-instant", "ap-grandstream", "ap-octet-sysobjectid", "ap-generr",
             "ap-answers-nothing"]
    sim = SnmpSim(tmp_path_factory.mktemp("wifi-sim"), [WIFI / f"{n}.snmprec" for n in names])
    sim.start(wait_for=names[0])
    for n in names[:-1]:
        sim.wait_ready(n)
    yield sim
    sim.stop()


def test_real_agent_reads_families_and_calls_an_empty_answer_unsupported(
        tmp_path: Path, wifi_sim: SnmpSim) -> None:
    """Issue 25 items 4 and 7 end to end: an Instant cluster, a Grandstream behind net-snmp's
    generic id, a text sysObjectID; and a device that answers but holds none of the profile's
    objects is a warning to send its details, never "not responding" (critical)."""
    devices = [("iap", "ap-aruba-instant"), ("gwn", "ap-grandstream"),
               ("zd", "ap-octet-sysobjectid"), ("mute", "ap-answers-nothing"),
               ("zd-generr", "ap-generr")]
    lines = ["center: {id: c1, name: C}", f'agent: {{id: b1, state_dir: "{tmp_path / "s"}"}}',
             'mqtt: {url: "mqtt://127.0.0.1:1"}', "defaults: {interval: 30s, timeout: 6s}",
             "devices:"]
    for ident, community in devices:
        lines.append(f"  - {{id: {ident}, type: wifi_ap, host: 127.0.0.1, "
                     f"snmp: {{port: {wifi_sim.port}, community: {community}, retries: 1}}}}")
    lines.append(f"  - {{id: mute-aruba, type: wifi_ap, host: 127.0.0.1, profile: aruba_ap, "
                 f"snmp: {{port: {wifi_sim.port}, community: ap-answers-nothing, retries: 1}}}}")
    cfg = tmp_path / "devices.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--json", "--lang", "en",
                  timeout=120)
    rows = {r["device"]: r for r in json_lines(out.stdout)}
    assert rows["iap"]["metrics"]["wifi_clients"] == 15, rows["iap"]
    assert rows["gwn"]["metrics"]["snmp_profile"] == "grandstream_ap"
    assert rows["gwn"]["metrics"]["wifi_clients"] == 3
    assert rows["zd"]["metrics"]["snmp_profile"] == "ruckus_ap"
    assert rows["zd"]["metrics"]["wifi_clients"] == 31
    mute = rows["mute-aruba"]
    assert mute["status"] == "warning", mute
    assert [f["code"] for f in mute["faults"]] == ["device.unsupported_model"]
    assert rows["mute"]["status"] == "warning"  # auto: generic profile, typed an AP
    # a GET failed whole with genErr (for a SmartZone object a ZoneDirector does not hold): the
    # device answered; its other objects are read one by one, never "not responding"
    generr = rows["zd-generr"]
    assert generr["status"] == "ok", generr
    assert generr["metrics"]["wifi_clients"] == 31


@pytest.mark.parametrize(("oid", "profile"), [
    ("1.3.6.1.4.1.9.1.9999", "cisco_ap"),          # a Cisco model id in no list here
    ("1.3.6.1.4.1.2011.2.9999", "huawei_ac"),
    ("1.3.6.1.4.1.25506.1.9999", "h3c_ap"),
    ("1.3.6.1.4.1.11863.5.1", "ap_other"),          # TP-Link, any branch
    ("1.3.6.1.4.1.6486.800.1.1.2.2.2.1.1.4", "aruba_ap"),  # OmniAccess AOS-W: its longer prefix
])
def test_a_device_typed_wifi_ap_is_read_by_its_makers_family(oid: str, profile: str) -> None:
    """A model nobody listed is still its maker's: typed an access point, it is read as one
    (radios, uplink, the family's client objects), not as a bare network device."""
    assert choose(PROFILES, "wifi_ap", {"sys_object_id": oid, "sys_descr": b"x"}, set()).id \
        == profile
    # the same id typed "other" (a switch) stays generic
    assert choose(PROFILES, "other", {"sys_object_id": oid}, set()).id == "generic"
