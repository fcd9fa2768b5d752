"""A TLS broker made by broker-config and a controller serving HTTPS with enrollment, as real
processes, for the enrollment and new-center tests."""

from __future__ import annotations

import getpass
import re
from dataclasses import dataclass
from pathlib import Path

from conftest import BIN, cli_account, run_cli
from controller.brokerconf import generate, make_server_cert
from lab.procs import Proc, free_port, spawn, wait_tcp


@dataclass
class TlsCenter:
    broker_dir: Path
    port: int          # the broker's TLS port
    https: int         # the controller's HTTPS port
    config: Path       # controller.yaml
    db: Path
    procs: list[Proc]  # broker, controller

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https}"

    def enroll_code(self, center: str, agent: str) -> tuple[str, str]:
        """(code, fingerprint) from `hcc-controller enroll`."""
        made = run_cli("hcc-controller", "enroll", center, "--agent", agent, "--config",
                       str(self.config))
        assert made.returncode == 0, made.stderr
        code = re.search(rf"mã cho {center}/{agent}: (\S+)", made.stdout)  # Vietnamese by default
        fp = re.search(r"--fingerprint ([0-9a-f]{64})", made.stdout)
        assert code is not None and fp is not None, made.stdout
        return code.group(1), fp.group(1)

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()


def start(tmp: Path, extra: str = "") -> TlsCenter:
    port, https = free_port(), free_port()
    out = tmp / "broker"
    generate(out, [], ["127.0.0.1"], port, "127.0.0.1", run_as=getpass.getuser())
    broker = spawn("mosquitto", ["mosquitto", "-c", str(out / "mosquitto.conf")],
                   tmp / "mosquitto.log")
    wait_tcp(port)
    make_server_cert(out / "ca.crt", out / "ca.key", tmp / "http.crt", tmp / "http.key",
                     ["127.0.0.1"])
    db = tmp / "hcc.db"
    cfg = tmp / "controller.yaml"
    cfg.write_text(f"""\
mqtt: {{url: "mqtts://127.0.0.1:{port}", username: hcc-controller,
       password_file: "{out}/credentials/hcc-controller.password", ca_file: "{out}/ca.crt"}}
db: "{db}"
http: {{listen: "127.0.0.1:{https}", tls_cert: "{tmp / 'http.crt'}",
        tls_key: "{tmp / 'http.key'}"}}
enroll: {{broker_dir: "{out}", broker_url: "mqtts://127.0.0.1:{port}",
         reload: "kill -HUP {broker.popen.pid}"}}
{extra}""")
    ctl = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config", str(cfg)],
                tmp / "controller.log")
    center = TlsCenter(out, port, https, cfg, db, [broker, ctl])
    try:
        wait_tcp(https, 20)
        cli_account(db)  # the CLI's writes (enroll, config push) act as an account
    except BaseException:
        center.stop()
        raise
    return center
