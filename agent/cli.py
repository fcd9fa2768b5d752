"""hcc-agent: the technician's command on the center's box (run, check, status, validate)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from agent import config as agent_config
from agent.checks import host
from agent.checks.base import Combined
from agent.checks.context import CheckContext
from agent.cli_text import LANG, h
from agent.heartbeat import BOX_NAME, STATUS_FILE
from agent.poller import poll
from hcc_common import faults as vocab
from hcc_common import logs
from hcc_common.cliutil import lang_or_exit, speak_to_click
from hcc_common.devices_config import Config, Device, error_lines
from hcc_common.durations import format_duration
from hcc_common.mqtt_settings import broker_from_url
from hcc_common.terminal import echo_line
from hcc_common.yamlconf import ConfigError, each_error

app = typer.Typer(
    help=h("app"), no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    # click's plain help: whole sentences rewrapped to the terminal, no "<bool>" type tags
    rich_markup_mode=None,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help=h("config"),
                                                show_default=False)]
PathArg = Annotated[Path | None, typer.Argument(help=h("path"), show_default=False)]
LangOpt = Annotated[str | None, typer.Option("--lang", help=h("lang"))]


speak_to_click(LANG)


@app.callback()
def _options(lang: LangOpt = None) -> None:
    # --lang before the command: read at start (start_lang) to choose the help texts' language
    return None


def config_path(config: Path | None, path: Path | None = None) -> Path:
    """--config, or the positional path, or the box's /etc/hcc-agent/devices.yaml when there
    is one (an installed box), else ./devices.yaml."""
    return path or config or agent_config.default_config_path()


def _load(path: Path, lang: str | None = None, exit_code: int = 1) -> Config:
    try:
        return agent_config.load(path)
    except ConfigError as exc:
        language = lang if lang in ("vi", "en") else LANG
        for line in error_lines(exc, language):  # every mistake, each with its file:line
            typer.echo(line, err=True)
        raise typer.Exit(exit_code) from None


@app.command(help=h("validate"))
def validate(path: PathArg = None, config: ConfigOpt = None, lang: LangOpt = None,
             elsewhere: Annotated[bool, typer.Option(
                 "--elsewhere", help=h("validate.elsewhere"))] = False) -> None:
    target = config_path(config, path)
    language = lang_or_exit(lang)
    if elsewhere:
        from hcc_common.filecheck import files_elsewhere

        with files_elsewhere():
            cfg = _load(target, language)
    else:
        cfg = _load(target, language)
    if language == "vi":
        typer.echo(f"{target}: hợp lệ — trung tâm {cfg.center.id}, máy giám sát {cfg.agent.id}, "
                   f"{len(cfg.devices)} thiết bị")
    else:
        typer.echo(f"{target}: OK — center {cfg.center.id}, agent {cfg.agent.id}, "
                   f"{len(cfg.devices)} device(s)")


@app.command(help=h("discover"))
def discover(
    subnets: Annotated[list[str] | None, typer.Argument(
        help=h("discover.subnets"))] = None,
    config: ConfigOpt = None,
    community: Annotated[list[str] | None, typer.Option(
        "--community", help=h("discover.community"))] = None,
    write: Annotated[bool, typer.Option(
        "--write", help=h("discover.write"))] = False,
    concurrency: Annotated[int, typer.Option(help=h("discover.concurrency"))] = 32,
    rate: Annotated[float, typer.Option(help=h("discover.rate"))] = 50.0,
    timeout: Annotated[float, typer.Option(help=h("discover.timeout"))] = 1.0,
    snmp_port: Annotated[int, typer.Option(help=h("discover.snmp_port"))] = 161,
    http_port: Annotated[int, typer.Option(help=h("discover.http_port"))] = 80,
    neighbours_too: Annotated[bool, typer.Option(
        "--neighbours/--no-neighbours", help=h("discover.neighbours"))] = True,
    reload: Annotated[bool, typer.Option(help=h("discover.reload"))] = True,
) -> None:
    """Find the center's devices (SNMP printers, APs, PDUs, UPSes; Shelly and Tasmota plugs;
    IPP printers over DNS-SD) and print devices.yaml entries for them, or add them (--write)."""
    config = config_path(config).absolute()
    from agent import discover as disc

    if write:
        _writable_or_exit(config, "sudo hcc-agent discover --write")

    nets = list(subnets or disc.own_lan())
    try:
        hosts = disc.hosts_of(nets)
    except disc.DiscoverError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if neighbours_too:
        in_nets = set(disc.hosts_of(nets))
        hosts += [h for h in disc.neighbours() if h not in in_nets]
    if not hosts:
        typer.echo("error: no subnet to sweep: give one, e.g. 192.0.2.0/24", err=True)
        raise typer.Exit(2)
    from rich.progress import Progress

    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(f"probing {len(hosts)} hosts", total=len(hosts))
        found = asyncio.run(disc.discover(
            hosts, communities=community or ["public"], snmp_port=snmp_port,
            http_port=http_port, concurrency=concurrency, rate=rate, timeout=timeout,
            on_probed=lambda: progress.advance(task)))
    found += disc.browse(nets)
    typer.echo(f"# {len(found)} device(s) found in {', '.join(nets)} ({len(hosts)} hosts probed)",
               err=True)
    if write:
        from hcc_common.keepfile import NotWritable

        try:
            added = disc.merge(config, found)
        except NotWritable as exc:
            _not_writable(exc, "sudo hcc-agent discover --write")
        _load(config)  # the same validator as always: what was written must load
        typer.echo(f"{config}: {len(added)} device(s) added, "
                   f"{len(found) - len(added)} already there")
        if added:
            _tell_the_service(reload)
        return
    import yaml

    taken: set[str] = set()
    entries = [disc.entry(f, taken) for f in found]
    typer.echo(yaml.safe_dump({"devices": entries}, allow_unicode=True, sort_keys=False).rstrip())


def _not_writable(exc: OSError, remedy: str) -> typer.Exit:
    typer.echo(f"error: {exc}: the config is root's (the service only reads it); run: {remedy}",
               err=True)
    raise typer.Exit(1)


def _writable_or_exit(config: Path, remedy: str) -> None:
    """Before any work: a file we cannot replace is said at once, in one line, not after a
    sweep of the LAN and with a traceback."""
    from hcc_common.keepfile import NotWritable

    if not os.access(config.parent, os.W_OK | os.X_OK):
        _not_writable(NotWritable(config, "permission denied"), remedy)


SERVICE = "hcc-agent"


def _systemd_runs_the_service() -> bool:
    import shutil
    import subprocess

    if not Path("/run/systemd/system").is_dir() or shutil.which("systemctl") is None:
        return False
    state = subprocess.run(["systemctl", "is-active", "--quiet", SERVICE], timeout=30,
                           check=False)
    return state.returncode == 0


def _tell_the_service(reload: bool) -> None:
    """The running agent applies an edited devices.yaml by itself within a heartbeat (it
    watches the file); a reload (SIGHUP) applies it now, device by device, no restart."""
    import subprocess

    if reload and _systemd_runs_the_service():
        done = subprocess.run(["systemctl", "reload", SERVICE], capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode == 0:
            typer.echo(f"{SERVICE} reloaded: the new devices are polled now")
            return
        typer.echo(f"warning: systemctl reload {SERVICE}: {done.stderr.strip()}", err=True)
    typer.echo(f"a running {SERVICE} applies the change within a heartbeat by itself "
               f"(now: sudo systemctl reload {SERVICE})")


@app.command(help=h("enroll"))
def enroll(
    url: Annotated[str, typer.Argument(help=h("enroll.url"))],
    code: Annotated[str, typer.Argument(help=h("enroll.code"))],
    fingerprint: Annotated[str, typer.Option(
        help=h("enroll.fingerprint"))],
    config: ConfigOpt = None,
    restart: Annotated[bool, typer.Option(
        help=h("enroll.restart"))] = True,
) -> None:
    """Give this box its own broker credentials: trade the code over HTTPS (pinned to the
    fingerprint), write the password and CA beside devices.yaml (root:hcc-agent, 0640), set its
    mqtt: section, validate it and restart the service."""
    config = config_path(config).absolute()
    import shutil
    import subprocess

    from agent.enroll import EnrollFailed, fetch, write

    try:
        got = fetch(url, code, fingerprint)
    except EnrollFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    try:
        write(config, got)
        from agent.updater import remember_controller

        remember_controller(config.parent, url, fingerprint)  # where releases come from
    except OSError as exc:
        typer.echo(f"error: cannot write beside {config}: {exc.strerror} (run with sudo)",
                   err=True)
        raise typer.Exit(1) from None
    cfg = _load(config)
    typer.echo(f"enrolled: {cfg.center.id}/{cfg.agent.id} as {got.username} on "
               f"{got.broker_url}; credentials in {config.parent}")
    if not got.controller_keys:
        typer.echo("warning: the controller sent no signing key: this box will refuse every "
                   "pushed config (cảnh báo: không có khóa của trung tâm, box sẽ từ chối cấu "
                   "hình đẩy xuống)", err=True)
    if restart and Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        done = subprocess.run(["systemctl", "restart", "hcc-agent"], capture_output=True,
                              text=True, timeout=60, check=False)
        if done.returncode != 0:
            typer.echo(f"error: the service did not restart: {done.stderr.strip()}", err=True)
            raise typer.Exit(1)
        typer.echo("hcc-agent restarted: watch it with `journalctl -u hcc-agent -f`")


@app.command(help=h("run"))
def run(
    config: ConfigOpt = None,
    broker: Annotated[str | None, typer.Option(help=h("run.broker"))] = None,
    log_level: Annotated[str, typer.Option(help=h("run.log_level"))] = "info",
) -> None:
    """Poll every device at its interval and report over MQTT until stopped (the service mode)."""
    config = config_path(config)
    from agent.runtime import run_forever

    logs.setup(log_level)
    try:
        cfg = agent_config.load(config)
    except ConfigError as exc:
        # named in the journal, and an exit status systemd does not restart on (the unit's
        # RestartPreventExitStatus): restarting every 5 s cannot fix a file
        for one in each_error(exc):
            typer.echo(f"config error: {one}", err=True)
        typer.echo(f"hcc-agent stopped: fix {config} (hcc-agent validate), then: "
                   "sudo systemctl restart hcc-agent", err=True)
        raise typer.Exit(agent_config.EXIT_CONFIG) from None
    if broker is not None:
        try:
            broker_from_url(broker)
        except ConfigError as exc:
            typer.echo(f"error: {exc.reason}", err=True)
            raise typer.Exit(1) from None
    run_forever(cfg, broker)


def _check_all(devices: list[Device], with_box: bool, cfg: Config) -> list[tuple[dict[str, str], Combined]]:
    async def main() -> list[tuple[dict[str, str], Combined]]:
        ctx = CheckContext(center=cfg.center)
        try:
            polled = await asyncio.gather(*(poll(d, ctx) for d in devices))
            rows = [({"device": d.id, "name": d.name, "type": d.type}, c)
                    for d, c in zip(devices, polled, strict=True)]
            if with_box:
                outcome = await host.run(cfg.agent.state_dir)
                from agent.checks.base import combine

                rows.append(({"device": cfg.agent.id, "name": BOX_NAME, "type": "box"},
                             combine([outcome])))
            return rows
        finally:
            ctx.close()

    return asyncio.run(main())


@app.command(help=h("check"))
def check(
    path: PathArg = None,
    config: ConfigOpt = None,
    device: Annotated[str | None, typer.Option("--device", "-d", help=h("check.device"))] = None,
    as_json: Annotated[bool, typer.Option("--json", help=h("check.json"))] = False,
    lang: LangOpt = None,
) -> None:
    """Run every check once now and show what is wrong, in plain words."""
    config = config_path(config, path)
    language = lang_or_exit(lang)
    cfg = _load(config, language)
    devices = list(cfg.devices)
    if device is not None:
        chosen = cfg.device(device)
        if chosen is None:
            known = ", ".join(d.id for d in cfg.devices)
            typer.echo(f"error: no device {device!r} in {config} (devices: {known})", err=True)
            raise typer.Exit(1)
        devices = [chosen]
    rows = _check_all(devices, device is None, cfg)
    if as_json:
        for ident, c in rows:
            typer.echo(json.dumps({
                **ident, "status": c.status,
                "faults": [{"code": f.code, "severity": f.severity,
                            "message": vocab.full_message(ident["name"], f.code, f.params, language),
                            "hint": vocab.hint(f.code, f.params, language),
                            "params": dict(f.params)} for f in c.faults],
                "metrics": dict(c.metrics), "error": c.error,
            }, ensure_ascii=False))
    else:
        _print_table(rows, language)
    worst = max((_RANK[c.status] for _, c in rows), default=0)
    raise typer.Exit(0 if worst <= 1 else 2)


_RANK = {"ok": 0, "warning": 1, "critical": 2, "unreachable": 2}
_SEVERITY_TEXT = {
    "vi": {"critical": "nghiêm trọng", "warning": "cảnh báo", "info": "thông tin"},
    "en": {"critical": "critical", "warning": "warning", "info": "info"},
}
_STATUS_TEXT = {
    "vi": {"ok": "tốt", "warning": "cảnh báo", "critical": "nghiêm trọng",
           "unreachable": "mất kết nối"},
    "en": {"ok": "ok", "warning": "warning", "critical": "critical", "unreachable": "unreachable"},
}


def _print_table(rows: list[tuple[dict[str, str], Combined]], lang: str) -> None:
    width = max((len(i["device"]) for i, _ in rows), default=6)
    for ident, c in rows:
        echo_line(f"{ident['device']:<{width}}  {_STATUS_TEXT[lang][c.status]:<13} {ident['name']}")
        for f in c.faults:
            echo_line(f"{'':<{width}}    - [{_SEVERITY_TEXT[lang].get(f.severity, f.severity)}] "
                      f"{vocab.full_message(ident['name'], f.code, f.params, lang)}")
            hint = vocab.hint(f.code, f.params, lang)
            if hint:
                echo_line(f"{'':<{width}}      → {hint}")
        if c.error and c.status == "unreachable":
            from agent.checks.failures import one_line

            # a library's message, one clean line: the technician's words are above it
            echo_line(f"{'':<{width}}      ({one_line(c.error)})")
        from agent.netprobe import step_lines

        for prefix in ("wifi_probe", "wan"):  # the probes' steps, each with its time
            for line in step_lines(c.metrics, prefix, lang):
                echo_line(f"{'':<{width}}    {line}")


def broker_problem(raw: object, broker: str) -> str | None:
    """Why the box last failed to reach its broker (status.json), in the technician's words."""
    from hcc_common.faults import default_lang
    from hcc_common.net_failure import Cause, NetFailure, words

    if not isinstance(raw, dict) or raw.get("cause") not in set(Cause):
        return None
    status = raw.get("status")
    failure = NetFailure(Cause(raw["cause"]), str(raw.get("detail", ""))[:200],
                         status if isinstance(status, int) else None)
    return words(failure, broker, default_lang())


@app.command(help=h("status"))
def status(
    config: ConfigOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help=h("status.json"))] = False,
) -> None:
    """Show what the running agent last did: broker link, backlog, each device's last poll."""
    config = config_path(config).absolute()
    cfg = _load(config)
    # the config's own state_dir, else where the service keeps it (StateDirectory=, which a
    # shell has no $STATE_DIRECTORY for): `hcc-agent status` on the box, as root or its user
    places = list(dict.fromkeys([cfg.agent.state_dir,
                                 *agent_config.service_state_dirs(config)]))
    data = None
    path = places[0] / STATUS_FILE
    for place in places:
        path = place / STATUS_FILE
        try:
            data = json.loads(path.read_text())
            break
        except FileNotFoundError:
            continue
        except PermissionError:
            typer.echo(f"error: cannot read {path}: run with sudo", err=True)
            raise typer.Exit(1) from None
        except (OSError, ValueError) as exc:
            typer.echo(f"status file {path} unreadable ({exc}): the running agent rewrites it at"
                       " its next heartbeat", err=True)
            raise typer.Exit(1) from None
    if data is None:
        where = " or ".join(str(p / STATUS_FILE) for p in places)
        typer.echo(f"no status yet at {where}: is hcc-agent running with this config?",
                   err=True)
        raise typer.Exit(1)
    if not isinstance(data, dict):
        typer.echo(f"status file {path} is not an agent status: the running agent rewrites it"
                   " at its next heartbeat", err=True)
        raise typer.Exit(1)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    age = time.time() - float(data.get("written_at", 0))
    typer.echo(f"center {data['center']}  agent {data['agent']}  session {data['session']}")
    typer.echo(f"broker {data['broker']}: {'connected' if data['connected'] else 'NOT connected'}"
               f"  (status written {format_duration(age)} ago)")
    problem = broker_problem(data.get("broker_problem"), str(data["broker"]))
    if problem is not None:
        typer.echo(f"  → {problem}")
    typer.echo(f"outbox: {data['backlog']} waiting, oldest {format_duration(data['backlog_oldest_s'])}"
               f", {data['outbox_bytes'] // 1024} KiB; dropped {data['dropped_telemetry']} routine"
               f" + {data['dropped_events']} fault reports; sent unbuffered {data['unbuffered']}"
               + ("" if data.get("outbox") else "  (NO DISK BUFFER: see the log)"))
    for d in data.get("outbox_damaged") or []:
        typer.echo(f"outbox DAMAGED and set aside as {d.get('moved_to')}: {d.get('salvaged')}"
                   f" report(s) salvaged and sent, {d.get('unreadable')} unreadable"
                   f" ({d.get('reason', '')[:80]})")
    for dev_id, st in data.get("devices", {}).items():
        last = st.get("last_poll")
        when = "never" if last is None else f"{format_duration(time.time() - last)} ago"
        faults = ", ".join(st.get("faults") or []) or "-"
        echo_line(f"  {dev_id:<16} {st.get('status'):<12} polled {when:<10} faults: {faults}")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
