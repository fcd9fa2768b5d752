"""The CLI acts as a named account, never anonymously (issue 27): user, token and audit commands,
the bootstrap admin, --as / $SUDO_USER / $USER, the same rule as the API for ack, resolve and
silence, tokens usable on the API, the audit trail naming each act, help texts in Vietnamese."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time
from pathlib import Path

from fastapi.testclient import TestClient

from conftest import BIN
from controller import accounts
from controller.api import create_app
from controller.config import ControllerConfig, HttpSettings
from controller.feed import StorePerThread
from controller.state import AlertKey, OpenAlert
from controller.store import Store
from hcc_common.mqtt_io import BrokerSettings

PASSWORD = "mật-khẩu-thật-dài-2026"


def cli(*args: str, user: str = "ops", **env: str) -> subprocess.CompletedProcess[str]:
    """hcc-controller as `user` at a terminal: no $HCC_AS (the tests' default account) unless
    given."""
    environ = {k: v for k, v in os.environ.items() if k not in ("HCC_AS", "SUDO_USER")}
    environ.update({"USER": user, "LANG": "C.UTF-8", **env})
    return subprocess.run([str(BIN / "hcc-controller"), *args], capture_output=True, text=True,
                          timeout=60, check=False, env=environ)


def test_the_cli_acts_as_an_account_by_the_same_rule(tmp_path: Path) -> None:
    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    store.write([OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="prn-1",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in quầy 1", params={}, at=now - 60),
                 OpenAlert(key=AlertKey(center="tay-ho", agent="pi-2", device="prn-9",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in Tây Hồ", params={}, at=now - 30)])
    a, b = (next(x.id for x in store.alerts() if x.center == c) for c in ("ba-dinh", "tay-ho"))
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    d = ("--db", str(db))
    # nobody yet: the first account must be an admin, made by whoever runs it
    first = cli("user", "add", "lan", "--role", "technician", "--center", "ba-dinh", *d)
    assert first.returncode == 2 and "tài khoản đầu tiên phải là quản trị viên" in first.stderr
    assert f"hcc-controller user add lan --role admin --db {db}" in first.stderr
    assert cli("user", "add", "boss", "--role", "admin", "--password-file", str(pw), *d,
               user="root", SUDO_USER="boss").returncode == 0
    # an OS user with no account is refused, never anonymous
    nobody = cli("ack", str(a), *d, user="khach")
    assert nobody.returncode == 1 and "không có tài khoản nào tên 'khach'" in nobody.stderr
    assert f"hcc-controller user add khach --role ROLE --db {db}" in nobody.stderr
    english = cli("--lang", "en", "ack", str(a), *d, user="khach")
    assert "no enabled account 'khach' (from $USER)" in english.stderr
    assert store.alert(a).state == "firing"
    # under sudo, the person who ran sudo
    made = cli("user", "add", "lan", "--role", "technician", "--center", "ba-dinh",
               "--password-file", str(pw), *d, user="root", SUDO_USER="boss")
    assert made.returncode == 0, made.stderr
    # the technician of ba-dinh: tay-ho's alert does not exist, ba-dinh's is acknowledged
    other = cli("--as", "lan", "ack", str(b), "--note", "x", *d)
    assert other.returncode == 1 and f"không có cảnh báo {b}" in other.stderr and "tay-ho" not in other.stderr
    ok = cli("--as", "lan", "ack", str(a), "--note", "đang đến", "--by", "Lan", *d)
    assert ok.returncode == 0, ok.stderr
    assert store.alert(a).acked_by == "Lan (lan)" and store.alert(b).state == "firing"
    silenced = cli("--as", "lan", "silence", "--center", "ba-dinh", "--reason", "x", *d)
    assert silenced.returncode == 1 and "không được tạm tắt cảnh báo" in silenced.stderr
    assert store.silences() == []
    # $USER when there is no --as and no sudo
    assert cli("resolve", str(a), "--note", "xong", *d, user="lan").returncode == 0
    # a token for lan: written mode 600, its role and scope on the API
    out = tmp_path / "lan.token"
    made_token = cli("--as", "boss", "token", "add", "lan", "--label", "phone", "--out",
                     str(out), *d)
    assert made_token.returncode == 0, made_token.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    secret = out.read_text().strip()
    assert secret.startswith("hcc_") and secret not in db.read_bytes().decode("latin-1")
    api = TestClient(create_app(ControllerConfig(broker=BrokerSettings("127.0.0.1", 1), db=db,
                                                 http=HttpSettings()), StorePerThread(db), None))
    auth = {"Authorization": f"Bearer {secret}"}
    assert [x["center"] for x in api.get("/api/v1/alerts?state=all", headers=auth).json()] == [
        "ba-dinh"]
    listed = json.loads(cli("--as", "boss", "token", "list", "lan", "--json", *d).stdout)
    assert listed["label"] == "phone" and listed["last_used"] is not None
    assert cli("--as", "lan", "token", "add", "lan", "--label", "x", "--out",
               str(tmp_path / "x"), *d).returncode == 1  # a technician makes no tokens
    assert cli("--as", "boss", "token", "revoke", "lan", "--label", "phone", *d).returncode == 0
    assert api.get("/api/v1/alerts", headers=auth).status_code == 401
    # the audit trail: each act, who, how
    denied = cli("--as", "lan", "audit", *d)
    assert denied.returncode == 1 and "không được xem nhật ký thao tác" in denied.stderr
    rows = [json.loads(line) for line in cli("--as", "boss", "audit", "--json", "--since", "1h",
                                             *d).stdout.splitlines()]
    acts = [(r["account"], r["via"], r["action"], r["target"]) for r in rows]
    assert acts == [("bootstrap:boss", "system", "user_add", "boss"),
                    ("boss", "cli", "user_add", "lan"),
                    ("lan", "cli", "ack", f"alert {a}"),
                    ("lan", "cli", "resolve", f"alert {a}"),
                    ("boss", "cli", "token_add", "lan/phone"),
                    ("boss", "cli", "token_revoke", "lan/phone")]
    assert rows[2]["before"]["state"] == "firing" and rows[2]["after"]["state"] == "acknowledged"
    csv = cli("--as", "boss", "audit", "--csv", *d).stdout
    assert csv.splitlines()[0] == "id,at,account,via,peer,action,center,target,before,after"
    # disabled: the account acts no more
    assert cli("--as", "boss", "user", "disable", "lan", *d).returncode == 0
    assert cli("--as", "lan", "ack", str(b), *d).returncode == 1
    listing = cli("--as", "boss", "user", "list", *d).stdout
    assert "lan" in listing and "đã khóa" in listing
    assert accounts.get_account(store.db, "lan").disabled  # type: ignore[union-attr]


def test_accounts_help_is_vietnamese() -> None:
    out = cli("user", "add", "--help", LANG="vi_VN.UTF-8")
    assert "Tạo tài khoản" in out.stdout and "kỹ thuật viên" in out.stdout
    out = cli("--help", LANG="vi_VN.UTF-8")
    assert "Thao tác dưới tên tài khoản này" in out.stdout


def test_with_no_account_yet_the_refusal_gives_the_first_admin_command(tmp_path: Path) -> None:
    """Under sudo the CLI acts as $SUDO_USER: the command it prints makes exactly that account,
    and typed as printed it lets the refused command through."""
    import shlex

    db = tmp_path / "hcc.db"
    Store(db).close()  # the controller has run: its database, no account in it
    push = tmp_path / "p.yaml"
    push.write_text('center: {id: phuong-1}\nagent: {id: pi-1}\n'
                    'mqtt: {url: "mqtt://127.0.0.1:1883"}\ndevices: []\n')
    first = cli("config", "push", "phuong-1", str(push), "--db", str(db), user="root",
                SUDO_USER="lan")
    assert first.returncode == 1 and "chưa có tài khoản nào" in first.stderr, first.stderr
    line = first.stderr.strip().splitlines()[-1].strip()
    assert line == f"sudo hcc-controller user add lan --role admin --db {db}"
    argv = shlex.split(line)
    assert argv[:2] == ["sudo", "hcc-controller"]
    made = cli(*argv[2:], user="root", SUDO_USER="lan")
    assert made.returncode == 0 and "đã tạo tài khoản lan: admin" in made.stdout, made.stderr
    again = cli("config", "push", "phuong-1", str(push), "--db", str(db), user="root",
                SUDO_USER="lan")
    assert again.returncode == 0, again.stderr


def test_reads_through_the_database_act_as_an_account_and_keep_to_its_centers(
        tmp_path: Path) -> None:
    """Reads on the controller's host are no anonymous back door: root with no account is
    refused with the command to type; a technician of ba-dinh lists ba-dinh only; the whole
    city's counters need an account that sees every center."""
    db = tmp_path / "hcc.db"
    store = Store(db)
    now = time.time()
    store.write([OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="prn-1",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in quầy 1", params={}, at=now - 60),
                 OpenAlert(key=AlertKey(center="tay-ho", agent="pi-2", device="prn-9",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in Tây Hồ", params={}, at=now - 30)])
    d = ("--db", str(db))
    for read in (("alerts",), ("agents",), ("config", "status"), ("stats",)):
        nobody = cli(*read, *d, user="root")
        assert nobody.returncode == 1 and "chưa có tài khoản nào" in nobody.stderr, read
        assert f"hcc-controller user add root --role admin --db {db}" in nobody.stderr
        assert nobody.stdout == ""  # nothing shown before the refusal
    accounts.add_account(store.db, name="boss", role="admin", centers=[], groups=[],
                         password=None, now=now)
    accounts.add_account(store.db, name="lan", role="technician", centers=["ba-dinh"],
                         groups=[], password=None, now=now)
    everyone = json_lines_of(cli("--as", "boss", "alerts", "--json", *d))
    assert sorted(x["center"] for x in everyone) == ["ba-dinh", "tay-ho"]
    own = json_lines_of(cli("--as", "lan", "alerts", "--json", *d))
    assert [x["center"] for x in own] == ["ba-dinh"]
    other = cli("--as", "lan", "alerts", "--center", "tay-ho", *d)
    assert other.returncode == 1 and "Tây Hồ" not in other.stdout
    city = cli("--as", "lan", "stats", *d)
    assert city.returncode == 1 and "technician" in city.stderr
    assert cli("--as", "boss", "stats", *d).returncode == 0


def json_lines_of(done: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_changes_to_the_central_hosts_files_are_in_the_audit_trail(tmp_path: Path) -> None:
    """broker-config, credentials, http-cert and a new signing key change what boxes and
    browsers trust: each is written in the audit trail as the person who ran it (via host),
    and no password reaches the trail."""
    db = tmp_path / "state" / "hcc.db"
    db.parent.mkdir()
    Store(db).close()
    yaml = tmp_path / "controller.yaml"
    yaml.write_text(f"db: {db}\nsigning:\n  key_file: {tmp_path / 'state' / 'signing.key'}\n",
                    encoding="utf-8")
    c = ("--config", str(yaml))
    broker = tmp_path / "broker"
    steps = [("broker-config", "--out", str(broker), "--box", "ba-dinh/pi-1", "--owner", "", *c),
             ("credentials", "ba-dinh", "--agent", "pi-1", "--broker-dir", str(broker),
              "--out", str(tmp_path / "pi-1.password"), *c),
             ("http-cert", "--out", str(tmp_path / "http"), "--hostname", "hcc.example", *c),
             ("signing-key", *c), ("signing-key", *c)]
    for step in steps:
        done = cli(*step, user="root", SUDO_USER="lan")
        assert done.returncode == 0, (step, done.stderr)
    rows = accounts.audit_rows(Store(db).db)
    assert [(r.account, r.via, r.action) for r in rows] == [
        ("lan", "host", "broker_config"), ("lan", "host", "credentials"),
        ("lan", "host", "http_cert"), ("lan", "host", "signing_key")]  # shown again: no row
    assert rows[1].center == "ba-dinh" and rows[1].target == "ba-dinh/pi-1"
    password = (tmp_path / "pi-1.password").read_text().strip()
    trail = json.dumps([r.after for r in rows])
    assert password not in trail and "PRIVATE KEY" not in trail
    # before the controller's first run there is no trail yet: the step still works
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(f"db: {tmp_path / 'none' / 'hcc.db'}\n", encoding="utf-8")
    assert cli("http-cert", "--out", str(tmp_path / "h2"), "--hostname", "x.example",
               "--config", str(fresh)).returncode == 0
    assert not (tmp_path / "none").exists()


# Every hcc-controller command, as a reader or as a writer. A writer's code (or a function of
# its module it calls) writes an audit row; a new command must be put in one of the two sets.
READS = {"run", "alerts", "agents", "partitions", "stats", "deadletters", "oncall",
         "config status", "config diff", "release list", "rollout status", "user list",
         "token list"}
WRITES = {"ack", "resolve", "silence", "broker-config", "http-cert", "signing-key",
          "credentials", "qr", "report", "enroll", "audit", "config push", "config pull",
          "config rollback", "release add", "release remove", "rollout start", "rollout pause",
          "rollout resume", "rollout abort", "user add", "user disable", "user password",
          "token add", "token revoke"}


def test_every_command_that_changes_something_writes_the_audit_trail() -> None:
    import ast
    import inspect
    import textwrap

    import typer.main

    from controller.cli import app

    def walk(cmd: object, prefix: tuple[str, ...] = ()) -> object:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, (*prefix, name))
        else:
            yield " ".join(prefix), cmd.callback  # type: ignore[attr-defined]

    def code_of(fn: object) -> str:
        """The function's source and that of the functions of its module it calls."""
        src = textwrap.dedent(inspect.getsource(fn))  # type: ignore[arg-type]
        module = inspect.getmodule(fn)
        called = {n.func.id for n in ast.walk(ast.parse(src))
                  if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        helpers = [getattr(module, c) for c in called if inspect.isfunction(getattr(module, c,
                                                                                    None))]
        return src + "".join(inspect.getsource(h) for h in helpers
                             if inspect.getmodule(h) is module)

    commands = dict(walk(typer.main.get_command(app)))
    assert set(commands) == READS | WRITES, "put each new command in READS or WRITES"
    assert not READS & WRITES
    unaudited = [name for name in sorted(WRITES)
                 if not any(w in code_of(commands[name]) for w in ("record(", "record_host_act("))]
    assert unaudited == []
