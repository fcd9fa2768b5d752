"""More Wi-Fi families (issue 25): LANCOM LCOS LX, ExtremeXOS wireless, airFiber 60, HiveOS
and ePMP images that keep only their station lists; on the project's own fixtures written from
the vendors' MIBs (tests/fixtures/snmprec/wifi/): pure decoding, then through snmpsim."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.checks.snmp import read_device
from agent.profile_loader import SYSTEM_OIDS, _parse, choose, load_profiles, probes
from agent.snmpdecode import DeviceContext, Sample, Thresholds
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


# (fixture, profile it must pick, the client count its MIB gives)
FAMILIES = [
    ("ap-lancom-lx", "lancom_ap", 3),          # lcosLXStatusWLANStationTable rows
    ("ap-lancom-lx-empty", "lancom_ap", 0),    # its only client list, empty: 0, not unknown
    ("ap-lancom-lcos", "lancom_lcos_ap", 5),   # classic LCOS: lcsStatusWlanStationTable rows
    ("ap-extreme-xos", "extreme_ap", 7),       # the total, not the interface rows (14)
    ("ap-extreme-xos-clients", "extreme_ap", 3),  # no total: associated/forwarding rows only
    ("ap-ubnt-af60", "airos_ap", 1),           # af60StationTable rows
    ("ap-aerohive-rows", "aerohive_ap", 4),    # no ahClientCount: ahAssociationTable rows
    ("ap-epmp-rows", "cambium_epmp", 2),       # no count scalar: cambiumAPConnectedSTATable
    ("ap-meraki-dashboard", "meraki_ap", 12),  # MR33 5 + CW9166 7 (+ MR36 offline, 0); not
                                               # the MS switch's 20 nor the MX's 40
]


@pytest.mark.parametrize(("name", "profile", "clients"), FAMILIES)
def test_each_product_line_reads_its_client_count(name: str, profile: str, clients: int) -> None:
    chosen, metrics, faults = read(name)
    assert chosen == profile
    assert metrics["wifi_clients"] == clients, metrics.get("wifi_clients_source")
    assert faults == []


def test_lancom_lx_is_told_by_its_mib_behind_a_generic_sysobjectid() -> None:
    """The LX fixture without stations sends net-snmp's generic id: the lcosLXStatus probe alone
    names the family (not the IEEE 802.11 fallback, not 'unsupported')."""
    values = load(WIFI / "ap-lancom-lx-empty.snmprec")
    assert values[SYSTEM_OIDS["sys_object_id"]] == "1.3.6.1.4.1.8072.3.2.10"
    assert read("ap-lancom-lx-empty")[0] == "lancom_ap"


def test_extreme_total_missing_gives_no_count_rather_than_the_interface_sum() -> None:
    """Without extremeAPTotalAssociatedStations the per-interface counts are not added up
    (physical rows hold their virtual ones' sum) and detected-only clients are not counted."""
    profile = PROFILES["extreme_ap"]
    values = load(WIFI / "ap-extreme-xos.snmprec")
    values.pop("1.3.6.1.4.1.1916.1.25.2.1.3.0")
    assert values["1.3.6.1.4.1.1916.1.25.1.11.1.2.1001.0.1.2.3.4.5"] == 1  # detected only
    sample = Sample(reading_for(profile, values), DeviceContext("wifi_ap", True, (), Thresholds()),
                    values=profile.values, clients=profile.clients)
    metrics, _ = read_device(profile, sample, "wifi_ap")
    assert "wifi_clients" not in metrics


@pytest.mark.parametrize("sentinel", [2147483647, -1])
def test_a_count_that_is_a_sentinel_is_unknown(sentinel: int) -> None:
    profile = PROFILES["aerohive_ap"]
    values = {"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.26928.1",
              "1.3.6.1.4.1.26928.1.2.9.0": sentinel}
    sample = Sample(reading_for(profile, values), DeviceContext("wifi_ap", True, (), Thresholds()),
                    values=profile.values, clients=profile.clients)
    metrics, _ = read_device(profile, sample, "wifi_ap")
    assert "wifi_clients" not in metrics


# -- through snmpsim and hcc-agent check ---------------------------------------------------------
@pytest.fixture(scope="module")
def wifi_sim(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    names = ["ap-lancom-lx", "ap-extreme-xos", "ap-ubnt-af60", "ap-aerohive-rows",
             "ap-meraki-dashboard"]
    sim = SnmpSim(tmp_path_factory.mktemp("wifi-sim-more"), [WIFI / f"{n}.snmprec" for n in names])
    sim.start(wait_for=names[0])
    for n in names[1:]:
        sim.wait_ready(n)
    yield sim
    sim.stop()


def test_real_agent_reads_these_families(tmp_path: Path, wifi_sim: SnmpSim) -> None:
    devices = {"lx": ("ap-lancom-lx", "lancom_ap", 3), "xos": ("ap-extreme-xos", "extreme_ap", 7),
               "af60": ("ap-ubnt-af60", "airos_ap", 1),
               "hive": ("ap-aerohive-rows", "aerohive_ap", 4),
               "meraki": ("ap-meraki-dashboard", "meraki_ap", 12)}
    lines = ["center: {id: c1, name: C}", f'agent: {{id: b1, state_dir: "{tmp_path / "s"}"}}',
             'mqtt: {url: "mqtt://127.0.0.1:1"}', "defaults: {interval: 30s, timeout: 6s}",
             "devices:"]
    for ident, (community, _, _) in devices.items():
        lines.append(f"  - {{id: {ident}, type: wifi_ap, host: 127.0.0.1, "
                     f"snmp: {{port: {wifi_sim.port}, community: {community}, retries: 1}}}}")
    cfg = tmp_path / "devices.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    out = run_cli("hcc-agent", "check", "--config", str(cfg), "--json", "--lang", "en",
                  timeout=120)
    rows = {r["device"]: r for r in json_lines(out.stdout)}
    for ident, (_, profile, clients) in devices.items():
        assert rows[ident]["metrics"]["snmp_profile"] == profile, rows[ident]
        assert rows[ident]["metrics"]["wifi_clients"] == clients, rows[ident]
        assert rows[ident]["status"] == "ok", rows[ident]


# Profiles without a `clients:` list go through the older path (a clients_total scalar, per
# radio/VAP columns): the same sentinels are no count there either.
LEGACY_SENTINELS = [
    ("cambium_pmp", {"1.3.6.1.4.1.161.19.3.1.7.1.0": 2147483647}),
    ("extreme_wc", {"1.3.6.1.4.1.4329.15.3.6.1.0": 4294967295}),
    ("unifi_ap", {"1.3.6.1.4.1.41112.1.6.1.2.1.8.1": 4294967295}),
]


@pytest.mark.parametrize(("profile_id", "values"), LEGACY_SENTINELS)
def test_a_sentinel_is_no_count_on_the_older_path(profile_id: str, values: dict[str, int]) -> None:
    profile = PROFILES[profile_id]
    assert not profile.clients  # this test is about the path without a `clients:` list
    sample = Sample(reading_for(profile, dict(values)),
                    DeviceContext("wifi_ap", True, (), Thresholds()), values=profile.values)
    metrics, _ = read_device(profile, sample, "wifi_ap")
    assert "wifi_clients" not in metrics, metrics


CLOUD = """id: cloud_ap
class: ap
match: {probe: [1.3.6.9]}
scalars: {total: 1.3.6.9.1.0}
tables:
  devices:
    oid: 1.3.6.9.2.1
    columns: {clients: 5, product: 9}
clients:
  - sum: [devices.clients]
    where: {devices.product: '^MR'}
decoders: [wifi_clients]
"""


def test_where_keeps_only_the_rows_it_names() -> None:
    profile = _parse("cloud_ap.yaml", CLOUD)
    values: dict[str, object] = {
        "1.3.6.9.2.1.5.1": 3, "1.3.6.9.2.1.9.1": "MR46-HW",
        "1.3.6.9.2.1.5.2": 30, "1.3.6.9.2.1.9.2": "MS120-8",
        "1.3.6.9.2.1.5.3": 4,  # no product code: not known to be an AP, left out
    }
    sample = Sample(reading_for(profile, values), DeviceContext("wifi_ap", True, (), Thresholds()),
                    clients=profile.clients)
    metrics, _ = read_device(profile, sample, "wifi_ap")
    assert metrics["wifi_clients"] == 3


@pytest.mark.parametrize(("bad", "reason"), [
    ("  - total: [total]\n    where: {devices.product: '^MR'}", "not total"),
    ("  - sum: [devices.clients]\n    where: {devices.model: '^MR'}", "devices.model"),
    ("  - sum: [devices.clients]\n    where: {devices.product: '(MR'}", "bad regular expression"),
])
def test_a_bad_where_is_a_config_error_naming_its_line(bad: str, reason: str) -> None:
    text = CLOUD.replace("  - sum: [devices.clients]\n    where: {devices.product: '^MR'}", bad)
    assert text != CLOUD
    with pytest.raises(ConfigError) as err:
        _parse("cloud_ap.yaml", text)
    assert reason in str(err.value)
    assert err.value.line is not None and err.value.line > CLOUD.splitlines().index("clients:")


def test_unifi_without_its_vap_table_falls_back_to_the_ieee_station_rows() -> None:
    profile = PROFILES["unifi_ap"]
    values: dict[str, object] = {"1.3.6.1.2.1.1.2.0": "1.3.6.1.4.1.41112",
                                 "1.2.840.10036.1.9.1.2.5.0.1.2.3.4.5": "00:01:02:03:04:05",
                                 "1.2.840.10036.1.9.1.2.5.0.1.2.3.4.6": "00:01:02:03:04:06"}
    sample = Sample(reading_for(profile, values), DeviceContext("wifi_ap", True, (), Thresholds()),
                    values=profile.values)
    metrics, _ = read_device(profile, sample, "wifi_ap")
    assert metrics["wifi_clients"] == 2
    assert metrics["wifi_clients_source"] == "ieee80211"


def test_classic_lcos_without_a_station_table_has_no_count_not_zero() -> None:
    """LCOS images that keep no station table (the L-322 and OAP-321 of the development set)
    report no count: an absent table is no answer, unlike LCOS LX's empty one."""
    values = load(WIFI / "ap-lancom-lcos.snmprec")
    kept = {k: v for k, v in values.items() if not k.startswith("1.3.6.1.4.1.2356.11.1.3.32")}
    system = {k: kept.get(oid) for k, oid in SYSTEM_OIDS.items()}
    profile = choose(PROFILES, "wifi_ap", system, present(probes(PROFILES), kept))
    assert profile.id == "lancom_lcos_ap"
    sample = Sample(reading_for(profile, kept), DeviceContext("wifi_ap", True, (), Thresholds()),
                    values=profile.values, clients=profile.clients)
    metrics, faults = read_device(profile, sample, "wifi_ap")
    assert "wifi_clients" not in metrics
    assert metrics["radio.WLAN-1.oper"] is not None
    assert [f.code for f in faults] == []
