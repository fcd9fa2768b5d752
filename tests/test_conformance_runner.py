"""The conformance runner (bench/conformance.py, issue 25 item 9): ids from any capture name, the
agent's stderr when its run fails, a config error never scored as crashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import conformance
from hcc_common import wire

WIFI = Path(__file__).parent / "fixtures" / "snmprec" / "wifi"


def test_every_capture_name_gets_a_valid_unique_id() -> None:
    names = ["unifi_u6+lite", "UniFi U6+Lite", "_odd", "+", "a" * 80, "a" * 80 + "b",
             "cisco wlc/9800", "ap-1", "AP-1"]
    ids = conformance.device_ids(names)
    assert set(ids) == set(names)
    assert len(set(ids.values())) == len(names)  # unique
    assert all(wire.valid_id(i) for i in ids.values()), ids
    assert ids["ap-1"] == "ap-1"  # a valid name is kept as it is


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    shutil.copy(WIFI / "ap-xirrus.snmprec", folder / "xirrus_xr+620.snmprec")
    shutil.copy(WIFI / "ap-zyxel-nxc.snmprec", folder / "zyxel.snmprec")
    return folder


def test_a_capture_name_with_a_plus_is_run_and_scored(corpus: Path, tmp_path: Path) -> None:
    docs = conformance.load_corpus(corpus)
    for doc in docs:
        doc["class"] = "ap"
    rows, stderr, _ = conformance.run_agent(corpus, docs, tmp_path / "work", "en")
    assert set(rows) == {"xirrus_xr+620", "zyxel"}, stderr
    assert rows["xirrus_xr+620"]["metrics"]["wifi_clients"] == 19
    assert rows["zyxel"]["metrics"]["wifi_clients"] == 23


def test_a_refused_config_is_an_error_with_the_agents_stderr_not_crashes(
        corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = conformance.load_corpus(corpus)
    for doc in docs:
        doc["class"] = "ap"
    monkeypatch.setattr(conformance, "device_ids",
                        lambda names: {n: "Bad+Id" for n in names})  # what the old runner wrote
    with pytest.raises(conformance.AgentRunFailed) as err:
        conformance.run_agent(corpus, docs, tmp_path / "work", "en")
    assert "no device result" in str(err.value)
    assert "Bad+Id" in str(err.value)  # the agent's own words: which id it refused, and where
