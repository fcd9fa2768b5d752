"""Releases (signed manifests of a wheelhouse) and the rollout state machine: pure, fast tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import rollout as rl
from hcc_common import release as rel
from hcc_common.signing import SignatureError, generate, public_of, sign, trusted, verify


def wheelhouse(folder: Path, version: str = "1.2.0", extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"hcc_fleet-{version}-py3-none-any.whl").write_bytes(b"project wheel " + version.encode())
    (folder / "paho_mqtt-2.2.0-py3-none-any.whl").write_bytes(b"dependency")
    if extra:
        (folder / extra).write_bytes(b"native")
    return folder


def test_manifest_lists_every_file_with_its_hash_and_verifies(tmp_path: Path) -> None:
    key = generate()
    house = wheelhouse(tmp_path / "w", extra="orjson-3.10.0-cp311-cp311-manylinux_2_28_aarch64.whl")
    (house / "psutil-7.2.2-cp36-abi3-manylinux_2_28_aarch64.whl").write_bytes(b"abi3")
    m = rel.build(house, "1.2.0", 1000.0)
    assert [f.name for f in m.files] == ["hcc_fleet-1.2.0-py3-none-any.whl",
                                         "orjson-3.10.0-cp311-cp311-manylinux_2_28_aarch64.whl",
                                         "paho_mqtt-2.2.0-py3-none-any.whl",
                                         "psutil-7.2.2-cp36-abi3-manylinux_2_28_aarch64.whl"]
    assert m.platforms == ("manylinux_2_28_aarch64",) and m.python == "3.11"
    data = rel.sign_manifest(m, [key])
    got, kid = rel.verify_manifest(data, trusted([public_of(key)]))
    assert got == m and kid == public_of(key).key_id
    assert rel.file_problems(m, tmp_path / "w") == []
    assert rel.incompatible(m, "aarch64", "3.11") is None
    assert "x86_64" in (rel.incompatible(m, "x86_64", "3.11") or "")
    assert "3.13" in (rel.incompatible(m, "aarch64", "3.13") or "")


def test_a_release_needs_the_project_wheel_of_its_version(tmp_path: Path) -> None:
    with pytest.raises(rel.ReleaseError, match=r"exactly one hcc_fleet wheel of version 2\.0"):
        rel.build(wheelhouse(tmp_path / "w"), "2.0", 0.0)
    with pytest.raises(rel.ReleaseError, match="--version"):
        rel.build(wheelhouse(tmp_path / "w"), "../x", 0.0)


def test_tampered_manifest_or_file_refused(tmp_path: Path) -> None:
    key, other = generate(), generate()
    house = wheelhouse(tmp_path / "w")
    m = rel.build(house, "1.2.0", 0.0)
    data = rel.sign_manifest(m, [key])
    keys = trusted([public_of(key)])
    altered = data.replace(m.files[0].sha256.encode(), b"0" * 64)
    with pytest.raises(rel.ReleaseError, match="bad signature"):
        rel.verify_manifest(altered, keys)
    with pytest.raises(rel.ReleaseError, match="does not trust"):
        rel.verify_manifest(rel.sign_manifest(m, [other]), keys)
    (house / m.files[0].name).write_bytes(b"project wheel 1.2.1")  # same size, other bytes
    assert rel.file_problems(m, house) == [f"{m.files[0].name}: SHA-256 differs from the "
                                           "manifest (altered)"]
    (house / m.files[1].name).write_bytes(b"dep")
    assert "truncated" in rel.file_problems(m, house)[1]


def test_release_and_command_signatures_never_stand_for_each_other(tmp_path: Path) -> None:
    key = generate()
    keys = trusted([public_of(key)])
    m = rel.build(wheelhouse(tmp_path / "w"), "1.2.0", 0.0)
    as_command = sign(m.body(), [key])  # the command domain
    import orjson
    with pytest.raises(rel.ReleaseError, match="bad signature"):
        rel.verify_manifest(orjson.dumps(as_command), keys)
    signed_release = orjson.loads(rel.sign_manifest(m, [key]))
    with pytest.raises(SignatureError):
        verify(signed_release, keys)


def test_manifest_file_names_cannot_leave_the_slot() -> None:
    body = {"version": "1.0", "files": [{"name": "../../etc/passwd", "size": 1, "sha256": "0" * 64}],
            "platforms": [], "python": None, "min_config_schema": 1, "created": 0}
    with pytest.raises(rel.ReleaseError, match="refused"):
        rel.parse_manifest(body)


def test_update_command_bound_to_its_box_and_not_replayed() -> None:
    key = generate()
    keys = trusted([public_of(key)])
    cmd = rel.UpdateCommand(center="ba-dinh", agent="box1", version="1.2.0", rollout=3, issued=100.0)
    enc = rel.encode_update(cmd, [key])
    got = rel.decode_update(enc.topic, enc.payload)
    assert got.version == "1.2.0" and rel.update_refused(got, keys, None) is None
    assert "replay" in (rel.update_refused(got, keys, 200.0) or "")
    # the same bytes on another box's topic: refused before the signature is even looked at
    from hcc_common.wire import WireError
    with pytest.raises(WireError, match="another box"):
        rel.decode_update(rel.update_topic("ba-dinh", "box2"), enc.payload)
    forged = enc.payload.replace(b"1.2.0", b"9.9.9")
    assert "bad signature" in (rel.update_refused(rel.decode_update(enc.topic, forged), keys, None) or "")


def test_versions_order() -> None:
    assert rel.is_older("1.9", "1.10") and not rel.is_older("1.10", "1.9")
    assert rel.is_older("1.2rc1", "1.2") and not rel.is_older("1.2", "1.2")


BOXES = [(f"c{i}", "box") for i in range(7)]


def healthy(version: str) -> rl.BoxReport:
    return rl.BoxReport(online=True, software=version, update_version=version, update_state="ok")


def test_canary_first_then_batches_each_after_the_last_is_healthy() -> None:
    r = rl.plan(1, "2.0", BOXES, canary=1, batch=3)
    online = {b: rl.BoxReport(online=True, software="1.0") for b in BOXES}
    r, acts = rl.step(r, online, 10.0)
    assert acts == [rl.Send("c0", "box", "2.0")]
    r, acts = rl.step(r, online, 20.0)
    assert acts == []  # the canary is not healthy yet: nothing more goes out
    online[("c0", "box")] = healthy("2.0")
    r, acts = rl.step(r, online, 30.0)
    assert [a.center for a in acts if isinstance(a, rl.Send)] == ["c1", "c2", "c3"]
    assert [a for a in acts if isinstance(a, rl.Healthy)] == [rl.Healthy("c0", "box", "2.0")]
    for c in ("c1", "c2", "c3"):
        online[(c, "box")] = healthy("2.0")
    r, acts = rl.step(r, online, 40.0)
    assert [a.center for a in acts if isinstance(a, rl.Send)] == ["c4", "c5", "c6"]
    for c in ("c4", "c5", "c6"):
        online[(c, "box")] = healthy("2.0")
    r, acts = rl.step(r, online, 50.0)
    assert r.state == "done" and r.counts()["healthy"] == 7


def test_a_rolled_back_canary_halts_before_touching_the_others() -> None:
    r = rl.plan(1, "2.0", BOXES, canary=1, batch=3)
    online = {b: rl.BoxReport(online=True, software="1.0") for b in BOXES}
    r, _ = rl.step(r, online, 10.0)
    online[("c0", "box")] = rl.BoxReport(online=True, software="1.0", update_version="2.0",
                                         update_state="rolled_back",
                                         update_reason="agent exited at start (code 3)")
    r, acts = rl.step(r, online, 20.0)
    assert acts == [rl.Failed("c0", "box", "2.0", "agent exited at start (code 3)")]
    assert r.state == "halted" and "exited at start" in r.reason
    assert rl.status_json(r)["wave"] == 0  # stopped at the canary
    r, acts = rl.step(r, online, 30.0)
    assert acts == [] and r.counts()["waiting"] == 6
    r = rl.resume(r)
    r, acts = rl.step(r, online, 40.0)
    assert [a.center for a in acts if isinstance(a, rl.Send)] == ["c1", "c2", "c3"]


def test_pause_on_failure_pauses_and_timeout_counts_only_online() -> None:
    r = rl.plan(1, "2.0", BOXES[:2], canary=1, batch=1, pause_on_failure=True, health_timeout_s=60)
    reports = {b: rl.BoxReport(online=False) for b in BOXES[:2]}
    r, acts = rl.step(r, reports, 0.0)
    assert acts == [rl.Send("c0", "box", "2.0")]
    r, acts = rl.step(r, reports, 1000.0)  # offline all along: it waits, no failure
    assert acts == [] and r.state == "running"
    reports[("c0", "box")] = rl.BoxReport(online=True, software="1.0")
    r, _ = rl.step(r, reports, 1010.0)
    r, acts = rl.step(r, reports, 1050.0)
    assert acts == []
    r, acts = rl.step(r, reports, 1071.0)
    assert isinstance(acts[0], rl.Failed) and "after 60 s" in acts[0].reason
    assert r.state == "paused"


def test_offline_box_updates_when_it_returns_unless_aborted() -> None:
    r = rl.plan(1, "2.0", BOXES[:3], canary=1, batch=5)
    reports = {b: rl.BoxReport(online=True, software="1.0") for b in BOXES[:3]}
    reports[("c2", "box")] = rl.BoxReport(online=False)
    r, _ = rl.step(r, reports, 0.0)
    reports[("c0", "box")] = healthy("2.0")
    r, acts = rl.step(r, reports, 1.0)
    assert {a.center for a in acts if isinstance(a, rl.Send)} == {"c1", "c2"}
    aborted = rl.abort(r)
    aborted, acts = rl.step(aborted, reports, 2.0)
    assert set(acts) == {rl.Withdraw("c1", "box"), rl.Withdraw("c2", "box")}
    assert rl.step(aborted, reports, 3.0)[1] == []
    # not aborted: c2 comes back and reports the new version
    reports[("c1", "box")] = healthy("2.0")
    r, _ = rl.step(r, reports, 5.0)
    assert r.state == "running" and r.wave == -1  # only the offline box is left: it waits
    reports[("c2", "box")] = healthy("2.0")
    r, _ = rl.step(r, reports, 6.0)
    assert r.state == "done"


def test_an_offline_box_holds_back_no_other_wave_but_a_wave_all_offline_waits() -> None:
    r = rl.plan(1, "2.0", BOXES[:4], canary=1, batch=2)
    reports = {b: rl.BoxReport(online=False) for b in BOXES[:4]}
    r, acts = rl.step(r, reports, 0.0)
    r, acts = rl.step(r, reports, 100.0)
    assert acts == []  # the canary is offline: nothing proves the release yet
    reports[("c0", "box")] = healthy("2.0")
    reports[("c1", "box")] = rl.BoxReport(online=True, software="1.0")
    r, acts = rl.step(r, reports, 101.0)
    assert {a.center for a in acts if isinstance(a, rl.Send)} == {"c1", "c2"}
    reports[("c1", "box")] = healthy("2.0")
    r, acts = rl.step(r, reports, 102.0)  # c2 offline does not hold c3 back
    assert [a.center for a in acts if isinstance(a, rl.Send)] == ["c3"]


def test_plan_by_centers_and_bad_requests() -> None:
    r = rl.plan(1, "2.0", BOXES, centers=["c5", "c6"], batch=10)
    assert [b.center for b in r.boxes if b.wave == 0] == ["c5", "c6"]
    with pytest.raises(rl.RolloutError, match="no box in nowhere"):
        rl.plan(1, "2.0", BOXES, centers=["nowhere"])
    with pytest.raises(rl.RolloutError, match="batch"):
        rl.plan(1, "2.0", BOXES, batch=0)
    with pytest.raises(rl.RolloutError, match="not running"):
        rl.pause(rl.abort(r))
