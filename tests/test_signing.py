"""Fast tests of the pure parts of signed commands: hcc_common/signing.py (canonical bytes, key
ids, sign/verify, key texts), the box's verdict on a push (agent/pushed_config.unverified) and
which programs a pushed config may run (agent/command_policy.py)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from agent.command_policy import on_allowlist, programs, refusal
from agent.config import load as load_config
from agent.pushed_config import unverified
from hcc_common import signing, wire
from hcc_common.yamlconf import ConfigError

KEY = signing.generate()
OTHER = signing.generate()
TRUST = signing.trusted([signing.public_of(KEY)])


def body(**extra: object) -> dict[str, object]:
    return {"v": 1, "kind": "config", "center": "ba-dinh", "agent": "pi-1", "version": "abc",
            "content": "Trạm: máy in\n", "author": "an", "ts": 1_700_000_000.123,
            "issued": 1_700_000_000.5, **extra}


def test_sign_then_verify_through_the_wire_bytes() -> None:
    signed = signing.sign(body(), [KEY])
    # what a box gets: the JSON bytes, decoded by another library
    decoded = orjson.loads(wire._dump(signed))
    assert signing.verify(decoded, TRUST) == signing.public_of(KEY).key_id


@pytest.mark.parametrize("field,value", [("agent", "pi-2"), ("center", "tay-ho"),
                                         ("content", "devices: []\n"), ("issued", 1.0),
                                         ("author", "attacker"), ("ts", 1_700_000_000.124)])
def test_any_change_of_a_signed_field_breaks_the_signature(field: str, value: object) -> None:
    signed = signing.sign(body(), [KEY])
    signed[field] = value
    with pytest.raises(signing.SignatureError, match="bad signature"):
        signing.verify(signed, TRUST)


def test_an_added_field_breaks_it_too() -> None:
    signed = signing.sign(body(), [KEY])
    signed["extra"] = 1
    with pytest.raises(signing.SignatureError):
        signing.verify(signed, TRUST)


def test_unsigned_unknown_key_and_no_key_are_refused_with_the_reason() -> None:
    with pytest.raises(signing.SignatureError, match="unsigned"):
        signing.verify(body(), TRUST)
    with pytest.raises(signing.SignatureError, match="does not trust"):
        signing.verify(signing.sign(body(), [OTHER]), TRUST)
    with pytest.raises(signing.SignatureError, match="holds no controller key"):
        signing.verify(signing.sign(body(), [KEY]), signing.TrustedKeys())


@pytest.mark.parametrize("sig", ["x", [], [{"key": 1}], [{}] * 5,
                                 [{"key": "ed25519:0", "ed25519": "!!"}]])
def test_malformed_signatures_are_refused_not_crashes(sig: object) -> None:
    with pytest.raises(signing.SignatureError):
        signing.verify(body(sig=sig), TRUST)


def test_a_signature_by_a_trusted_key_over_garbage_is_bad() -> None:
    kid = signing.public_of(KEY).key_id
    with pytest.raises(signing.SignatureError, match="bad signature"):
        signing.verify(body(sig=[{"key": kid, "ed25519": "AAAA"}]), TRUST)


def test_two_signatures_verify_with_either_key_during_a_rotation() -> None:
    both = signing.sign(body(), [OTHER, KEY])
    assert signing.verify(both, TRUST) == signing.public_of(KEY).key_id
    only_other = signing.trusted([signing.public_of(OTHER)])
    assert signing.verify(both, only_other) == signing.public_of(OTHER).key_id


def test_canonical_bytes_ignore_key_order_and_sig_and_carry_the_domain() -> None:
    a = signing.canonical(body())
    b = signing.canonical(dict(reversed(list(body(sig=["x"]).items()))))
    assert a == b and a.startswith(signing.DOMAIN)


def test_key_texts_round_trip_and_ids_are_stable() -> None:
    pub = signing.public_of(KEY)
    assert pub.key_id.startswith("ed25519:") and len(pub.key_id) == len("ed25519:") + 16
    text = f"# the controller\n{pub.pem()}\n{signing.public_of(OTHER).inline}  # next\n"
    keys = signing.parse_public_keys(text)
    assert [k.key_id for k in keys] == [pub.key_id, signing.public_of(OTHER).key_id]
    assert signing.parse_inline(pub.inline) == pub
    assert signing.load_private(signing.private_pem(KEY)).public_key().public_bytes_raw() \
        == pub.raw
    assert signing.trusted([pub, pub]).ids == (pub.key_id,)


@pytest.mark.parametrize("text", ["", "ed25519:short", "ssh-ed25519 AAAA",
                                  "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"])
def test_bad_key_texts_say_so(text: str) -> None:
    with pytest.raises(signing.KeyFormatError):
        signing.parse_public_keys(text)


def test_a_private_key_of_another_kind_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with pytest.raises(signing.KeyFormatError, match="not an Ed25519"):
        signing.load_private(pem)


# -- the box's verdict ----------------------------------------------------------------------------
def push(content: str = "x: 1\n", issued: float | None = 100.0, keys: tuple[object, ...] = (KEY,),
         center: str = "ba-dinh", agent: str = "pi-1") -> wire.ConfigPush:
    p = wire.ConfigPush(center, agent, wire.config_version(content), content, "an", time.time(),
                        issued=issued)
    enc = wire.encode_config(p, keys)  # type: ignore[arg-type]
    return wire.decode_config(enc.topic, enc.payload)


def test_a_box_takes_a_signed_push_once_and_never_an_older_one() -> None:
    assert unverified(push(), TRUST, None) is None
    assert unverified(push(), TRUST, 100.0) is None  # the same one delivered again
    why = unverified(push(issued=99.0), TRUST, 100.0)
    assert why is not None and "replay" in why


def test_a_signed_push_without_an_issued_time_is_refused() -> None:
    why = unverified(push(issued=None), TRUST, None)
    assert why is not None and "issued" in why


def test_box_a_push_on_box_b_topic_is_refused() -> None:
    a = wire.encode_config(wire.ConfigPush("ba-dinh", "pi-1", wire.config_version("x"), "x",
                                           "an", 1.0, issued=1.0), [KEY])
    with pytest.raises(wire.WireError, match="another box"):
        wire.decode_config(wire.config_topic("ba-dinh", "pi-2"), a.payload)
    # rewritten to name box B: the signature no longer holds
    forged = orjson.loads(a.payload)
    forged["agent"] = "pi-2"
    got = wire.decode_config(wire.config_topic("ba-dinh", "pi-2"), orjson.dumps(forged))
    why = unverified(got, TRUST, None)
    assert why is not None and "bad signature" in why


def test_command_kinds_of_topics() -> None:
    assert wire.command_kind("hcc/v1/ba-dinh/pi-1/cmd/config") == "config"
    assert wire.command_kind("hcc/v1/ba-dinh/pi-1/cmd/reboot") == "reboot"
    assert wire.command_kind("hcc/v1/ack/ba-dinh/pi-1") is None


# -- programs a pushed config may run --------------------------------------------------------------
BASE = """\
center: {id: ba-dinh}
agent: {id: pi-1, state_dir: /tmp/x%(agent)s}
mqtt: {url: "mqtt://127.0.0.1:1883"}
devices:
%(devices)s
"""


def cfg(tmp: Path, name: str, devices: str, agent: str = "") -> object:
    path = tmp / f"{name}.yaml"
    path.write_text(BASE % {"devices": devices, "agent": agent})
    return load_config(path)


def test_programs_of_each_kind() -> None:
    from agent.checks import REGISTRY
    from hcc_common.check_kinds import SCHEMAS

    # each kind says which programs it runs (none, unless its spec names them)
    assert set(REGISTRY) == set(SCHEMAS)
    assert {k for k, s in REGISTRY.items() if s.programs.__name__ != "no_programs"} == {
        "command", "wifi_probe"}


def test_pushed_command_must_be_local_or_allowed(tmp_path: Path) -> None:
    disk = '  - {id: disk, type: other, command: ["/usr/lib/nagios/plugins/check_disk", "-w", "10%"]}'
    shell = '  - {id: evil, type: other, command: ["/bin/sh", "-c", "id > /tmp/p"]}'
    local = cfg(tmp_path, "local", disk)
    # the local file's own command line again: fine
    assert refusal(cfg(tmp_path, "same", disk), local) is None  # type: ignore[arg-type]
    err = refusal(cfg(tmp_path, "evil", disk + "\n" + shell), local)  # type: ignore[arg-type]
    assert isinstance(err, ConfigError)
    assert err.key == "devices[1].command" and err.line == 6 and "/bin/sh" in err.reason
    # the same plugin with other arguments: only when the program is on the allowlist
    other_args = disk.replace('"10%"', '"1%"')
    assert refusal(cfg(tmp_path, "args", other_args), local) is not None  # type: ignore[arg-type]
    allowing = cfg(tmp_path, "allowing", disk,
                   ", allow_commands: [/usr/lib/nagios/plugins/]")
    assert refusal(cfg(tmp_path, "args2", other_args), allowing) is None  # type: ignore[arg-type]
    assert refusal(cfg(tmp_path, "evil2", shell), allowing) is not None  # type: ignore[arg-type]


def test_a_pushed_config_cannot_widen_the_allowlist(tmp_path: Path) -> None:
    local = cfg(tmp_path, "local", "  - {id: k, type: kiosk, host: h, tcp: {port: 1}}")
    pushed = cfg(tmp_path, "pushed", '  - {id: evil, type: other, command: ["/bin/sh"]}',
                 ", allow_commands: [/bin/sh]")
    err = refusal(pushed, local)  # type: ignore[arg-type]
    assert err is not None and err.key == "agent.allow_commands"


def test_the_wifi_probe_tools_count_as_programs(tmp_path: Path) -> None:
    probe = ('  - {id: wifi, type: wifi_ap, wifi_probe: {ssids: [HCC-Free], '
             'scan: ["/tmp/evil", "{interface}"]}}')
    local = cfg(tmp_path, "local", "  - {id: k, type: kiosk, host: h, tcp: {port: 1}}")
    pushed = cfg(tmp_path, "pushed", probe)
    assert [argv[0] for _, argv in programs(pushed.devices[0])] == [  # type: ignore[attr-defined]
        "/tmp/evil", "nmcli", "nmcli"]
    err = refusal(pushed, local)  # type: ignore[arg-type]
    assert err is not None and err.key == "devices[0].wifi_probe" and "/tmp/evil" in err.reason


@pytest.mark.parametrize("program,allowed", [
    ("/usr/lib/nagios/plugins/check_disk", True), ("/usr/lib/nagios/plugins/sub/x", False),
    ("/usr/lib/nagios/plugins/..", False), ("check_disk", False), ("/bin/true", True),
    ("/bin/true2", False)])
def test_allowlist_entries(program: str, allowed: bool) -> None:
    assert on_allowlist(program, ("/usr/lib/nagios/plugins/", "/bin/true")) is allowed


@pytest.mark.parametrize("entry", ["sh", "/", "/usr/../bin/sh", "relative/x"])
def test_bad_allowlist_entries_name_file_line_and_key(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ConfigError, match=r"local\.yaml:2: agent\.allow_commands"):
        cfg(tmp_path, "local", "  - {id: k, type: kiosk, host: h, tcp: {port: 1}}",
            f", allow_commands: [{entry!r}]")


def test_controller_keys_in_devices_yaml(tmp_path: Path) -> None:
    pub = signing.public_of(KEY)
    c = cfg(tmp_path, "keys", "  - {id: k, type: kiosk, host: h, tcp: {port: 1}}",
            f', controller_keys: ["{pub.inline}", /etc/hcc-agent/controller.pub]')
    assert c.agent.controller_keys == (pub.inline, "/etc/hcc-agent/controller.pub")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="controller_keys"):
        cfg(tmp_path, "bad", "  - {id: k, type: kiosk, host: h, tcp: {port: 1}}",
            ', controller_keys: ["ed25519:short"]')
    with pytest.raises(ConfigError, match="names no key"):
        cfg(tmp_path, "none", "  - {id: k, type: kiosk, host: h, tcp: {port: 1}}",
            ", controller_keys: []")


def test_trust_loading_reports_what_it_could_not_read(tmp_path: Path) -> None:
    from agent.trust import describe, load_keys

    pub_file = tmp_path / "controller.pub"
    pub_file.write_text(signing.public_of(KEY).pem())
    keys, problem = load_keys((str(pub_file), str(tmp_path / "missing.pub")))
    assert keys.ids == TRUST.ids and problem is not None and "missing.pub" in problem
    assert describe(keys, problem).startswith("signed by ed25519:")
    none, why = load_keys(None)
    assert not none and describe(none, why).startswith("refused: no controller key")


def test_signing_key_cli_makes_a_private_key_once(tmp_path: Path) -> None:
    from conftest import run_cli

    ctl = tmp_path / "controller.yaml"
    ctl.write_text(f'db: "{tmp_path / "hcc.db"}"\n')
    first = run_cli("hcc-controller", "signing-key", "--config", str(ctl))
    assert first.returncode == 0, first.stderr
    key = tmp_path / "signing.key"
    assert first.stdout.startswith(f"đã tạo: {key}") and key.stat().st_mode & 0o777 == 0o600
    again = run_cli("hcc-controller", "signing-key", "--config", str(ctl))
    assert again.stdout.startswith(f"khóa: {key}")
    kid = signing.public_of(signing.load_private(key.read_bytes())).key_id
    assert f"id: {kid}" in first.stdout and f"id: {kid}" in again.stdout
    key.chmod(0o644)
    loose = run_cli("hcc-controller", "signing-key", "--config", str(ctl))
    assert loose.returncode == 1 and "người khác đọc được khóa ký" in loose.stderr


def test_the_signing_key_may_not_live_with_the_broker_files(tmp_path: Path) -> None:
    from controller.config import load as load_controller

    ctl = tmp_path / "controller.yaml"
    ctl.write_text(f'enroll: {{broker_dir: "{tmp_path}/broker", broker_url: "mqtts://h:8883"}}\n'
                   f'signing: {{key_file: "{tmp_path}/broker/signing.key"}}\n')
    with pytest.raises(ConfigError, match=r"controller\.yaml:2: signing\.key_file: keep"):
        load_controller(ctl)


def test_a_deeply_nested_message_is_refused_not_a_crash() -> None:
    nested = "[" * 1000 + "]" * 1000
    payload = (b'{"v":1,"kind":"config","center":"ba-dinh","agent":"pi-1","version":"'
               + wire.config_version("x").encode() + b'","content":"x","author":"a","ts":1,'
               b'"issued":1,"deep":' + nested.encode() + b',"sig":[{"key":"k","ed25519":"A"}]}')
    got = wire.decode_config(wire.config_topic("ba-dinh", "pi-1"), payload)
    why = unverified(got, TRUST, None)
    assert why is not None and "canonical" in why


def test_threads_making_the_signing_key_at_once_all_read_the_same_whole_key(
        tmp_path: Path) -> None:
    # CI: 20 enrollments at once on a fresh controller; some read signing.key while the first
    # was still writing it (an empty file: MalformedFraming, HTTP 503). A file made on first use
    # must appear whole or not at all.
    import threading

    from controller.signing_key import load_or_create

    for attempt in range(20):
        path = tmp_path / f"k{attempt}" / "signing.key"
        start = threading.Barrier(8)
        got: list[object] = []

        def make(path: Path, start: threading.Barrier, got: list[object]) -> None:
            start.wait(10)
            try:
                got.append(signing.public_of(load_or_create(path)[0]).key_id)
            except Exception as exc:  # noqa: BLE001 - the failure under test
                got.append(exc)

        threads = [threading.Thread(target=make, args=(path, start, got)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(got) == 8 and len(set(map(str, got))) == 1, got
        assert isinstance(got[0], str)
        assert path.stat().st_mode & 0o777 == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["signing.key"]  # no temporary left
