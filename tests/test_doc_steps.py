"""Issue 26: each step docs/operations.md, install.sh's next steps and the CLIs' hints give works as
written: run as the user it names, with the paths it names, with nothing missing before it."""

from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import BIN, run_cli

ROOT = Path(__file__).resolve().parent.parent
as_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None
                             or shutil.which("runuser") is None,
                             reason="needs root, setpriv and runuser (a user of the test's own)")


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A folder others may traverse (pytest's own are root's only), removed afterwards."""
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="hcc-docsteps-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def as_user(user: str) -> list[str]:
    # setpriv: the program is found as root (this worktree's venv is root's), then every file
    # it opens is the user's business, as under systemd
    return ["setpriv", "--reuid", user, "--regid", user, "--init-groups"]


def config_folder(base: Path, group: str) -> Path:
    """/etc/hcc-agent as install.sh makes it: root:GROUP 0750, devices.yaml root:GROUP 0640."""
    folder = base / "etc" / "hcc-agent"
    folder.mkdir(parents=True)
    os.chown(folder, 0, grp.getgrnam(group).gr_gid)
    folder.chmod(0o750)
    cfg = folder / "devices.yaml"
    cfg.write_text("# the box's devices\ncenter: {id: phuong-1}\nagent: {id: pi-1, "
                   f'state_dir: "{base / "state"}"}}\nmqtt: {{url: "mqtt://127.0.0.1:1"}}\n'
                   "devices: []\n")
    os.chown(cfg, 0, grp.getgrnam(group).gr_gid)
    cfg.chmod(0o640)
    return cfg


def owner(path: Path) -> tuple[str, str, int]:
    st = path.stat()
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o777


DISCOVER_NOTHING = ("discover", "127.0.0.9/32", "--no-neighbours", "--timeout", "0.2", "--write")


# -- 1, 2: discover --write: a clear word as the service user, the config's owner kept as root --
@as_root
def test_discover_write_as_the_service_user_says_to_use_sudo(service_user: str,
                                                              open_tmp: Path) -> None:
    cfg = config_folder(open_tmp, service_user)
    before = cfg.read_text()
    done = subprocess.run([*as_user(service_user), str(BIN / "hcc-agent"), *DISCOVER_NOTHING,
                           "--config", str(cfg)], capture_output=True, text=True, timeout=60,
                          check=False, env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "sudo hcc-agent discover --write" in done.stderr
    assert cfg.read_text() == before and owner(cfg) == ("root", service_user, 0o640)


@as_root
def test_discover_write_as_root_keeps_the_configs_owner_and_mode(service_user: str,
                                                                  open_tmp: Path) -> None:
    cfg = config_folder(open_tmp, service_user)
    done = run_cli("hcc-agent", *DISCOVER_NOTHING, "--config", str(cfg))
    assert done.returncode == 0, done.stderr
    assert owner(cfg) == ("root", service_user, 0o640)  # not root:root 0644


def test_the_docs_say_sudo_for_discover_write() -> None:
    texts = [(ROOT / "docs/operations.md").read_text(), (ROOT / "scripts/install.sh").read_text()]
    for text in texts:
        for line in text.splitlines():
            if "discover" in line and "--write" in line and "hcc-agent " in line:
                assert "sudo -u" not in line, line


# -- 4: hcc-agent on PATH -------------------------------------------------------------------------
def test_install_puts_the_commands_on_path(tmp_path: Path) -> None:
    root = tmp_path / "root"
    had_user = subprocess.run(["id", "hcc-agent"], capture_output=True, check=False).returncode
    done = subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root", str(root),
                           "--no-venv"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    link = root / "usr/local/bin/hcc-agent"
    # through current/: a fleet update switches that link to the new release's slot
    assert link.is_symlink() and os.readlink(link) == "/opt/hcc-fleet/current/venv/bin/hcc-agent"
    # the hints say `sudo hcc-agent …`: sudo's secure_path has /usr/local/bin
    assert "/opt/hcc-fleet/venv/bin/hcc-agent" not in done.stdout
    # into a folder, this machine gets no new user (tests leave none behind)
    assert subprocess.run(["id", "hcc-agent"], capture_output=True,
                          check=False).returncode == had_user
    out = subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root", str(root),
                          "--uninstall"], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0 and not link.is_symlink()


# -- 9: --user X end to end --------------------------------------------------------------------------
@as_root
def test_install_with_another_user_gives_its_group_and_unit(tmp_path: Path) -> None:
    root = tmp_path / "root"
    done = subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root", str(root),
                           "--no-venv", "--user", "nobody"], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
    assert owner(root / "etc/hcc-agent/devices.yaml") == ("root", group, 0o640)
    unit = (root / "etc/systemd/system/hcc-agent.service").read_text()
    assert "\nUser=nobody\n" in unit and f"\nGroup={group}\n" in unit
    assert "sudo -u nobody" in done.stdout or "sudo hcc-agent" in done.stdout


@as_root
def test_enroll_writes_the_secrets_in_the_configs_group(service_user: str,
                                                        open_tmp: Path) -> None:
    from agent.enroll import write
    from hcc_common.enrollment import Credentials

    cfg = config_folder(open_tmp, service_user)
    write(cfg, Credentials(center="phuong-1", agent="pi-1", broker_url="mqtts://127.0.0.1:8883",
                           username="pi-1@phuong-1", password="s3cret-pass",
                           ca_pem="-----BEGIN CERTIFICATE-----\n"))
    for name in ("mqtt.password", "ca.crt", "devices.yaml"):
        assert owner(cfg.parent / name) == ("root", service_user, 0o640), name


# -- 8: relative paths are written absolute -------------------------------------------------------
def test_enroll_with_a_relative_config_writes_absolute_paths(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    from agent import config as agent_config
    from agent.enroll import write
    from hcc_common.enrollment import Credentials

    box = tmp_path / "box"
    box.mkdir()
    (box / "devices.yaml").write_text('center: {id: a}\nagent: {id: pi-1, state_dir: "st"}\n'
                                      'mqtt: {url: "mqtt://127.0.0.1:1"}\ndevices: []\n')
    monkeypatch.chdir(tmp_path)
    write(Path("box/devices.yaml"), Credentials(center="a", agent="pi-1",
                                                broker_url="mqtts://127.0.0.1:8883", username="u",
                                                password="s3cret-pass", ca_pem="ca"))
    import yaml

    mqtt = yaml.safe_load((box / "devices.yaml").read_text())["mqtt"]
    assert (mqtt["password_file"], mqtt["ca_file"]) == (str(box / "mqtt.password"),
                                                        str(box / "ca.crt"))
    monkeypatch.chdir("/")
    assert agent_config.load(box / "devices.yaml").mqtt.password_file == str(box / "mqtt.password")


# -- 12: hcc-agent status finds the service's state ------------------------------------------------
def test_status_finds_the_services_state_by_default(tmp_path: Path) -> None:
    root = tmp_path / "root"
    subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root", str(root), "--no-venv"],
                   capture_output=True, check=True, timeout=120)
    state = root / "var/lib/hcc-agent"
    (state / "status.json").write_text(
        '{"center": "x", "agent": "pi-1", "session": 3, "broker": "mqtt://b:1883", '
        '"connected": true, "written_at": 0, "backlog": 0, "backlog_oldest_s": 0, '
        '"outbox_bytes": 0, "dropped_telemetry": 0, "dropped_events": 0, "unbuffered": 0, '
        '"outbox": "o", "devices": {}}')
    env = {k: v for k, v in os.environ.items() if k not in ("STATE_DIRECTORY", "XDG_STATE_HOME")}
    env["HOME"] = str(tmp_path / "home")
    done = subprocess.run([str(BIN / "hcc-agent"), "status", "--config",
                           str(root / "etc/hcc-agent/devices.yaml")], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "phiên 3" in done.stdout


FIRST_ADMIN = 'sudo -u hcc-controller hcc-controller user add "$USER" --role admin'


def as_operator(*args: str, operator: str = "lan") -> subprocess.CompletedProcess[str]:
    """hcc-controller run with sudo by the operator: $SUDO_USER is theirs, no $HCC_AS."""
    env = {k: v for k, v in os.environ.items() if k != "HCC_AS"}
    env.update({"SUDO_USER": operator, "USER": "root"})
    return subprocess.run([str(BIN / "hcc-controller"), *args], capture_output=True, text=True,
                          env=env, timeout=60, check=False)


# -- 5, 6: the controller's HTTPS certificate, and enrolling before the first run ----------------
def test_http_cert_then_enroll_before_the_controllers_first_run(tmp_path: Path) -> None:
    made = run_cli("hcc-controller", "http-cert", "--out", str(tmp_path), "--hostname",
                   "hcc.city.example", "--hostname", "192.0.2.10")
    assert made.returncode == 0, made.stderr
    cert, key = tmp_path / "http.crt", tmp_path / "http.key"
    assert cert.exists() and key.stat().st_mode & 0o007 == 0  # its group (the service) reads it
    from cryptography import x509

    names = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "hcc.city.example" in names.get_values_for_type(x509.DNSName)
    broker = tmp_path / "broker"
    broker.mkdir()
    db = tmp_path / "state" / "hcc.db"
    db.parent.mkdir()
    (tmp_path / "controller.yaml").write_text(f"""\
mqtt: {{url: "mqtt://127.0.0.1:1883"}}
db: "{db}"
http: {{listen: "127.0.0.1:8443", tls_cert: "{cert}", tls_key: "{key}"}}
enroll: {{broker_dir: "{broker}", broker_url: "mqtts://127.0.0.1:8883"}}
""")
    conf = ("--config", str(tmp_path / "controller.yaml"))
    # the operator lan runs `sudo …`: the CLI acts as $SUDO_USER; no account yet: refused, with
    # the very command to type
    refused = as_operator("enroll", "phuong-1", "--agent", "pi-1", *conf)
    assert refused.returncode == 1 and "chưa có tài khoản nào" in refused.stderr
    assert f"hcc-controller user add lan --role admin --config {conf[1]}" in refused.stderr
    # operations.md's first-admin step, as written ("$USER" is the operator's login)
    assert FIRST_ADMIN in (ROOT / "docs/operations.md").read_text()
    first = as_operator("user", "add", "lan", "--role", "admin", *conf)
    assert first.returncode == 0 and "đã tạo tài khoản lan: admin" in first.stdout, first.stderr
    done = as_operator("enroll", "phuong-1", "--agent", "pi-1", *conf)
    assert done.returncode == 0, done.stderr
    assert re.search(r"mã cho phuong-1/pi-1: \S+", done.stdout) and db.exists()
    assert "sudo hcc-agent enroll https://" in done.stdout


# -- 7: credentials prints the paths the box will use ------------------------------------------------
def test_credentials_prints_the_paths_on_the_box(tmp_path: Path) -> None:
    from controller.brokerconf import generate

    generate(tmp_path / "broker", [], ["127.0.0.1"], 8883, "127.0.0.1", owner=None)
    done = run_cli("hcc-controller", "credentials", "phuong-1", "--agent", "pi-1",
                   "--broker-dir", str(tmp_path / "broker"), "--out",
                   str(tmp_path / "phuong-1.password"))
    assert done.returncode == 0, done.stderr
    assert "password_file: /etc/hcc-agent/mqtt.password" in done.stdout
    assert "ca_file: /etc/hcc-agent/ca.crt" in done.stdout
    # and the commands that put them there, from where they were written
    assert f"{tmp_path / 'phuong-1.password'} /etc/hcc-agent/mqtt.password" in done.stdout


# -- 11: config status with nothing pushed ------------------------------------------------------------
def test_config_status_says_nothing_was_pushed(tmp_path: Path) -> None:
    from controller.store import Store

    Store(tmp_path / "hcc.db").close()
    db = ("--db", str(tmp_path / "hcc.db"))
    # as operations.md says: the first admin, then config status, both under sudo
    assert as_operator("user", "add", "lan", "--role", "admin", *db).returncode == 0
    done = as_operator("config", "status", *db)
    assert done.returncode == 0, done.stderr
    assert "chưa gửi cấu hình nào" in done.stdout


# -- 21: examples and docs use documentation addresses (RFC 5737) -------------------------------------
PRIVATE = re.compile(r"\b(10\.\d+\.\d+\.\d+|192\.168\.\d+\.\d+|172\.(?:1[6-9]|2\d|3[01])\.\d+\.\d+)")


def test_examples_and_docs_use_documentation_addresses() -> None:
    texts = [ROOT / "devices.yaml", ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
             ROOT / "agent/cli_text.py", ROOT / "agent/cli.py", ROOT / "agent/discover.py",
             ROOT / "controller/cli.py", ROOT / "scripts/install.sh"]
    found = [f"{p.name}: {m.group(0)}" for p in texts for m in PRIVATE.finditer(p.read_text())]
    assert not found, found


# -- 10: the venv from a python the service user can run ---------------------------------------
@as_root
def test_install_refuses_a_python_the_service_user_cannot_run(tmp_path: Path,
                                                               service_user: str) -> None:
    hidden = tmp_path / "root-only"
    hidden.mkdir(mode=0o700)
    (hidden / "python3").symlink_to("/usr/bin/python3")
    env = dict(os.environ, PYTHON=str(hidden / "python3"))
    done = subprocess.run(["bash", str(ROOT / "scripts/install.sh"), "--root",
                           str(tmp_path / "root"), "--user", service_user], capture_output=True,
                          text=True, timeout=120, check=False, env=env)
    assert done.returncode == 1
    assert f"cannot be run by {service_user}" in done.stderr
    assert not (tmp_path / "root/opt/hcc-fleet/venv").exists()


def test_install_picks_debians_python_over_the_first_on_path() -> None:
    text = (ROOT / "scripts/install.sh").read_text()
    # a pyenv or /root python first on PATH is root's only: the venv must not link to it
    assert 'python=/usr/bin/python3' in text and '"$python" -m venv' in text


# -- 13: validate, run as root, checks the files as the service will read them -----------------
@as_root
def test_validate_as_root_sees_a_password_the_service_cannot_read(service_user: str,
                                                                  open_tmp: Path) -> None:
    cfg = config_folder(open_tmp, service_user)
    secret = cfg.parent / "mqtt.password"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)  # root's only: the service would crash reading it
    cfg.write_text(cfg.read_text().replace('mqtt: {url: "mqtt://127.0.0.1:1"}',
                                           f'mqtt: {{url: "mqtt://127.0.0.1:1", password_file: '
                                           f'"{secret}"}}'))
    done = run_cli("hcc-agent", "validate", "--config", str(cfg), "--lang", "en")
    assert done.returncode == 1
    assert f"not readable by the service's group {service_user}" in done.stderr, done.stderr
    assert f"sudo chgrp {service_user} {secret}" in done.stderr
    os.chown(secret, 0, grp.getgrnam(service_user).gr_gid)
    secret.chmod(0o640)
    assert run_cli("hcc-agent", "validate", "--config", str(cfg)).returncode == 0


def test_broker_config_with_a_relative_out_writes_absolute_paths(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    done = subprocess.run([str(BIN / "hcc-controller"), "broker-config", "--out", "hcc",
                           "--owner", ""], capture_output=True, text=True, timeout=120,
                          check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    conf = (tmp_path / "hcc" / "mosquitto.conf").read_text()
    paths = re.findall(r"^(?:password_file|acl_file|cafile|certfile|keyfile|persistence_location)"
                       r"\s+(\S+)", conf, re.M)
    assert paths and all(p.startswith("/") for p in paths), paths
    assert f"mosquitto -c {tmp_path / 'hcc' / 'mosquitto.conf'}" in done.stdout
