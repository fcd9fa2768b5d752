"""A controller and an agent as real processes against a private broker, for end-to-end tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from conftest import BIN, cli_account, json_lines, run_cli, wait_until
from lab.procs import Mosquitto, Proc, SnmpSim, spawn


def write_key_pair(private: Path, public: Path) -> None:
    """A controller signing key (0600) and its public half (PEM)."""
    from hcc_common.signing import generate, private_pem, public_of

    key = generate()
    private.write_bytes(private_pem(key))
    private.chmod(0o600)
    public.write_text(public_of(key).pem())


class Stack:
    def __init__(self, tmp: Path, broker: Mosquitto, devices_yaml: str, *, keepalive: int = 4,
                 heartbeat: str = "2s", interval: str = "1s", extra: str = "",
                 controller_extra: str = "", sim: SnmpSim | None = None,
                 confirm: str = "controller", report: str | None = None) -> None:
        self.tmp, self.broker, self.sim = tmp, broker, sim
        self.db = tmp / "hcc.db"
        self.ctl_cfg = tmp / "controller.yaml"
        self.ctl_cfg.write_text(f'mqtt: {{url: "{broker.url}"}}\ndb: "{self.db}"\n'
                                f"rules: {{unreachable_after: 2}}\n{controller_extra}")
        # the controller's signing key where it looks by default (beside its database), and
        # its public half where the box trusts it, as enrollment leaves them
        self.signing_key, self.controller_pub = tmp / "signing.key", tmp / "controller.pub"
        write_key_pair(self.signing_key, self.controller_pub)
        self.agent_cfg = tmp / "devices.yaml"
        said = f"report: {report}, " if report else ""  # else the default (by exception)
        self.agent_cfg.write_text(f"""\
center: {{id: ba-dinh, name: "Trung tâm PVHCC phường Ba Đình"}}
agent: {{id: pi-1, heartbeat: {heartbeat}, {said}state_dir: "{tmp / 'agent-state'}",
        controller_keys: ["{self.controller_pub}"]}}
mqtt: {{url: "{broker.url}", keepalive: {keepalive}, confirm: {confirm}}}
defaults: {{interval: {interval}, timeout: 500ms}}
{extra}
devices:
{devices_yaml}
""")
        self.controller: Proc | None = None
        self.agent: Proc | None = None

    def start_controller(self) -> None:
        self.controller = spawn("controller", [str(BIN / "hcc-controller"), "run", "--config",
                                               str(self.ctl_cfg)], self.tmp / "controller.log")
        wait_until(self._schema_made, 15, "the controller's database")
        cli_account(self.db)  # the CLI's writes act as an account

    def _schema_made(self) -> bool:
        """The file appears before its tables: a test reading it at once would find none."""
        if not self.db.exists():
            return False
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute("SELECT 1 FROM sqlite_master WHERE name='devices'"
                               ).fetchone() is not None
        finally:
            con.close()

    def start_agent(self) -> None:
        self.agent = spawn("agent", [str(BIN / "hcc-agent"), "run", "--config",
                                     str(self.agent_cfg)], self.tmp / "agent.log")

    def alerts(self) -> list[dict[str, object]]:
        out = run_cli("hcc-controller", "alerts", "--json", "--all", "--db", str(self.db))
        assert out.returncode == 0, out.stderr
        return json_lines(out.stdout)

    def open_alert(self, device: str | None, code: str) -> dict[str, object] | None:
        return next((a for a in self.alerts() if a["device"] == device and a["code"] == code
                     and a["state"] != "resolved"), None)

    def agents(self) -> list[dict[str, object]]:
        return json_lines(run_cli("hcc-controller", "agents", "--json", "--db", str(self.db)).stdout)

    def stop(self) -> None:
        for p in (self.agent, self.controller):
            if p is not None:
                p.stop()

    def tracebacks(self) -> str:
        return "\n".join(p.log()[-3000:] for p in (self.controller, self.agent)
                         if p is not None and "Traceback" in p.log())
