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

from agent import cli_text  # noqa: F401  (the Vietnamese of this module's texts)
from agent import config as agent_config
from agent.checks import host
from agent.checks.base import Combined
from agent.checks.context import CheckContext
from agent.heartbeat import STATUS_FILE
from agent.poller import poll
from hcc_common import faults as vocab
from hcc_common import logs, texts
from hcc_common.cliutil import fail, lang_or_exit, run_app
from hcc_common.config_words import localize
from hcc_common.devices_config import Config, Device, error_lines
from hcc_common.durations import format_duration
from hcc_common.mqtt_settings import broker_from_url
from hcc_common.terminal import echo_line
from hcc_common.texts import tr, translate
from hcc_common.yamlconf import ConfigError, each_error

app = typer.Typer(
    help="hcc-agent watches the devices of one service center and reports them to the city.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    # click's plain help: whole sentences rewrapped to the terminal, no "<bool>" type tags
    rich_markup_mode=None,
)

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", show_default=False,
    help="The center's devices.yaml (default: /etc/hcc-agent/devices.yaml when it exists, else "
         "./devices.yaml).")]
PathArg = Annotated[Path | None, typer.Argument(
    help="The devices.yaml to use (instead of --config).", show_default=False)]
LangOpt = Annotated[str | None, typer.Option("--lang", help="Language: vi (default) or en.")]


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
        for line in error_lines(exc, lang or texts.current()):  # every mistake, with file:line
            typer.echo(line, err=True)
        raise typer.Exit(exit_code) from None


@app.command(help=('Check devices.yaml without polling anything. Exit 0 if valid; if not, print '
        'file:line and why, and exit 1.'))
def validate(path: PathArg = None, config: ConfigOpt = None, lang: LangOpt = None,
             elsewhere: Annotated[bool, typer.Option(
                 "--elsewhere", help=('Judged away from the box (the controller): the files the config '
                                      'names (password,'
                         ' CA) are not checked.'))] = False) -> None:
    target = config_path(config, path)
    language = lang_or_exit(lang)
    if elsewhere:
        from hcc_common.filecheck import files_elsewhere

        with files_elsewhere():
            cfg = _load(target, language)
    else:
        cfg = _load(target, language)
    typer.echo(tr("{file}: OK — center {center}, agent {agent}, {count} device(s)", language,
                  file=target, center=cfg.center.id, agent=cfg.agent.id, count=len(cfg.devices)))


@app.command(help=("Find the center's devices (SNMP printers, APs, PDUs, UPSes; Shelly and Tasmota "
        'plugs; IPP printers) and print devices.yaml entries for them, or add them '
        '(--write).'))
def discover(
    subnets: Annotated[list[str] | None, typer.Argument(
        help="Subnets to sweep, e.g. 192.0.2.0/24 (default: this box's own LAN).")] = None,
    config: ConfigOpt = None,
    community: Annotated[list[str] | None, typer.Option(
        "--community", help='SNMP v2c community to try (repeatable; default: public).')] = None,
    write: Annotated[bool, typer.Option(
        "--write", help='Add what is new to --config, keeping its comments and order.')] = False,
    concurrency: Annotated[int, typer.Option(help='Hosts probed at once.')] = 32,
    rate: Annotated[float, typer.Option(help='Hosts probed per second, at most.')] = 50.0,
    timeout: Annotated[float, typer.Option(help='Seconds to wait for each answer.')] = 1.0,
    snmp_port: Annotated[int, typer.Option(help='SNMP port to probe.')] = 161,
    http_port: Annotated[int, typer.Option(help='HTTP port of smart plugs.')] = 80,
    neighbours_too: Annotated[bool, typer.Option(
        "--neighbours/--no-neighbours", help="Also probe hosts in the box's ARP table.")] = True,
    reload: Annotated[bool, typer.Option(help=('After --write, have the running hcc-agent service read '
                                               'the file now (systemctl '
            'reload; no restart).'))] = True,
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
        fail(tr(str(exc)), 2)
    if neighbours_too:
        in_nets = set(disc.hosts_of(nets))
        hosts += [h for h in disc.neighbours() if h not in in_nets]
    if not hosts:
        fail(tr("no subnet to sweep: give one, e.g. 192.0.2.0/24"), 2)
    from rich.progress import Progress

    with Progress(transient=True, disable=not sys.stderr.isatty()) as progress:
        task = progress.add_task(tr("probing {count} hosts", count=len(hosts)), total=len(hosts))
        found = asyncio.run(disc.discover(
            hosts, communities=community or ["public"], snmp_port=snmp_port,
            http_port=http_port, concurrency=concurrency, rate=rate, timeout=timeout,
            on_probed=lambda: progress.advance(task)))
    found += disc.browse(nets)
    typer.echo("# " + tr("{count} device(s) found in {nets} ({hosts} hosts probed)",
                         count=len(found), nets=", ".join(nets), hosts=len(hosts)), err=True)
    if write:
        from hcc_common.keepfile import NotWritable

        try:
            added = disc.merge(config, found)
        except NotWritable as exc:
            _not_writable(exc, "sudo hcc-agent discover --write")
        _load(config)  # the same validator as always: what was written must load
        typer.echo(tr("{file}: {added} device(s) added, {kept} already there", file=config,
                      added=len(added), kept=len(found) - len(added)))
        if added:
            _tell_the_service(reload)
        return
    import yaml

    taken: set[str] = set()
    entries = [disc.entry(f, taken) for f in found]
    typer.echo(yaml.safe_dump({"devices": entries}, allow_unicode=True, sort_keys=False).rstrip())


def _not_writable(exc: OSError, remedy: str) -> typer.Exit:
    fail(tr("{why}: the config is root's (the service only reads it); run: {remedy}",
            why=exc, remedy=remedy))


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
            typer.echo(tr("{service} reloaded: the new devices are polled now", service=SERVICE))
            return
        typer.echo(tr("warning: systemctl reload {service}: {why}", service=SERVICE,
                      why=done.stderr.strip()), err=True)
    typer.echo(tr("a running {service} applies the change within a heartbeat by itself "
                  "(now: sudo systemctl reload {service})", service=SERVICE))


@app.command(help=('Give this box its own broker credentials: trade the code over HTTPS (pinned to '
        'the fingerprint), write the password and CA beside devices.yaml, set its mqtt: '
        'section, validate it and restart the service.'))
def enroll(
    url: Annotated[str, typer.Argument(help='The controller, e.g. https://hcc.city.vn:8443')],
    code: Annotated[str, typer.Argument(help='The one-time code from hcc-controller enroll.')],
    fingerprint: Annotated[str, typer.Option(
        help="The controller certificate's SHA-256, as hcc-controller enroll printed it.")],
    config: ConfigOpt = None,
    restart: Annotated[bool, typer.Option(
        help='Restart the hcc-agent service afterwards.')] = True,
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
        fail(translate(str(exc)))
    try:
        write(config, got)
        from agent.updater import remember_controller

        remember_controller(config.parent, url, fingerprint)  # where releases come from
    except OSError as exc:
        fail(tr("cannot write beside {file}: {why} (run with sudo)", file=config,
                why=exc.strerror))
    cfg = _load(config)
    typer.echo(tr("enrolled: {center}/{agent} as {user} on {broker}; credentials in {folder}",
                  center=cfg.center.id, agent=cfg.agent.id, user=got.username,
                  broker=got.broker_url, folder=config.parent))
    if not got.controller_keys:
        typer.echo(tr("warning: the controller sent no signing key: this box will refuse every "
                      "pushed config"), err=True)
    if restart and Path("/run/systemd/system").is_dir() and shutil.which("systemctl"):
        done = subprocess.run(["systemctl", "restart", "hcc-agent"], capture_output=True,
                              text=True, timeout=60, check=False)
        if done.returncode != 0:
            fail(tr("the service did not restart: {why}", why=done.stderr.strip()))
        typer.echo(tr("hcc-agent restarted: watch it with `journalctl -u hcc-agent -f`"))


@app.command(help=('Poll every device at its interval and report over MQTT until stopped (the '
        'service mode).'))
def run(
    config: ConfigOpt = None,
    broker: Annotated[str | None, typer.Option(help='Override mqtt.url, e.g. mqtt://host:1883')] = None,
    log_level: Annotated[str, typer.Option(help='debug, info, warning or error')] = "info",
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
            typer.echo(tr("config error: {message}", message=localize(one)), err=True)
        typer.echo(tr("hcc-agent stopped: fix {file} (hcc-agent validate), then: "
                      "sudo systemctl restart hcc-agent", file=config), err=True)
        raise typer.Exit(agent_config.EXIT_CONFIG) from None
    if broker is not None:
        try:
            broker_from_url(broker)
        except ConfigError as exc:
            fail(translate(exc.reason))
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

                rows.append(({"device": cfg.agent.id, "name": vocab.type_name("box"), "type": "box"},
                             combine([outcome])))
            return rows
        finally:
            ctx.close()

    return asyncio.run(main())


@app.command(help='Run every check once now and show what is wrong, in plain words.')
def check(
    path: PathArg = None,
    config: ConfigOpt = None,
    device: Annotated[str | None, typer.Option("--device", "-d", help='Only this device id.')] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One JSON object per device (JSON Lines).")] = False,
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
            fail(tr("no device {device} in {file} (devices: {known})", device=repr(device),
                    file=config, known=known))
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


def _print_table(rows: list[tuple[dict[str, str], Combined]], lang: str) -> None:
    width = max((len(i["device"]) for i, _ in rows), default=6)
    for ident, c in rows:
        echo_line(f"{ident['device']:<{width}}  {tr(c.status, lang):<13} {ident['name']}")
        for f in c.faults:
            echo_line(f"{'':<{width}}    - [{tr(f.severity, lang)}] "
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
    from hcc_common.net_failure import Cause, NetFailure, words

    if not isinstance(raw, dict) or raw.get("cause") not in set(Cause):
        return None
    status = raw.get("status")
    failure = NetFailure(Cause(raw["cause"]), str(raw.get("detail", ""))[:200],
                         status if isinstance(status, int) else None)
    return words(failure, broker, texts.current())


@app.command(help=("Show what the running agent last did: broker link, backlog, each device's last "
        'poll.'))
def status(
    config: ConfigOpt = None,
    lang: LangOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print the raw status as JSON.')] = False,
) -> None:
    """Show what the running agent last did: broker link, backlog, each device's last poll."""
    config = config_path(config).absolute()
    lang_or_exit(lang)
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
            fail(tr("cannot read {file}: run with sudo", file=path))
        except (OSError, ValueError) as exc:
            fail(tr("status file {file} unreadable ({why}): the running agent rewrites it at its "
                    "next heartbeat", file=path, why=exc))
    if data is None:
        where = tr(" or ").join(str(p / STATUS_FILE) for p in places)
        fail(tr("no status yet at {file}: is hcc-agent running with this config?", file=where))
    if not isinstance(data, dict):
        fail(tr("status file {file} is not an agent status: the running agent rewrites it at its "
                "next heartbeat", file=path))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    age = time.time() - float(data.get("written_at", 0))
    typer.echo(tr("center {center}  agent {agent}  session {session}", center=data["center"],
                  agent=data["agent"], session=data["session"]))
    link = tr("connected") if data["connected"] else tr("NOT connected")
    typer.echo(tr("broker {broker}: {link}  (status written {age} ago)", broker=data["broker"],
                  link=link, age=format_duration(age)))
    problem = broker_problem(data.get("broker_problem"), str(data["broker"]))
    if problem is not None:
        typer.echo(f"  → {problem}")
    typer.echo(tr("outbox: {waiting} waiting, oldest {oldest}, {kib} KiB; dropped {routine} "
                  "routine + {faults} fault reports; sent unbuffered {unbuffered}",
                  waiting=data["backlog"], oldest=format_duration(data["backlog_oldest_s"]),
                  kib=data["outbox_bytes"] // 1024, routine=data["dropped_telemetry"],
                  faults=data["dropped_events"], unbuffered=data["unbuffered"])
               + ("" if data.get("outbox") else "  " + tr("(NO DISK BUFFER: see the log)")))
    for d in data.get("outbox_damaged") or []:
        echo_line(tr("outbox DAMAGED and set aside as {moved}: {salvaged} report(s) salvaged and "
                     "sent, {unreadable} unreadable ({why})", moved=d.get("moved_to"),
                     salvaged=d.get("salvaged"), unreadable=d.get("unreadable"),
                     why=str(d.get("reason", ""))[:80]))
    for dev_id, st in data.get("devices", {}).items():
        last = st.get("last_poll")
        when = tr("never") if last is None else tr("{age} ago",
                                                   age=format_duration(time.time() - last))
        codes = st.get("faults") or []
        faults = ", ".join(f"{vocab.message(code)} ({code})" for code in codes) or "-"
        state = tr(str(st.get("status")))
        echo_line(tr("  {device} {status} polled {when} faults: {faults}",
                     device=f"{dev_id:<16}", status=f"{state:<12}", when=f"{when:<10}",
                     faults=faults))


def main() -> None:
    try:
        run_app(app)
    except KeyboardInterrupt:
        sys.exit(130)
