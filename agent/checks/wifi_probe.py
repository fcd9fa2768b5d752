"""Check kind `wifi_probe`: the box's own radio as a citizen: scan for the public SSID, join it,
lease an address, resolve names, reach the internet (or a captive portal), time a download,
leave. Each step is timed; the first failing step is the fault."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence

from agent import netprobe
from agent.checks.base import CheckOutcome
from agent.checks.context import CheckContext
from agent.checks.spec import Argv, CheckSpec
from agent.netprobe import StepResult
from agent.poll_clock import within
from hcc_common.check_kinds.probe import ProbeSettings
from hcc_common.check_kinds.wifi_probe import SCHEMA, WifiProbeSettings
from hcc_common.devices_config import Device

KIND = SCHEMA.kind
PREFIX = "wifi_probe"


async def run_command(argv: Sequence[str], timeout_s: float, netns: str | None = None,
                      env: dict[str, str] | None = None) -> tuple[int, str]:
    """A tool's exit code and output, in the probe's namespace when there is one; a tool that
    hangs is killed at `timeout_s` (exit code -1)."""
    cmd = ["ip", "netns", "exec", netns, *argv] if netns else list(argv)
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, **(env or {})})
    except OSError as exc:
        return 127, f"{cmd[0]}: {exc.strerror or exc}"
    try:
        out, _ = await within(timeout_s, proc.communicate())  # busy loop not counted
    except TimeoutError:
        proc.kill()
        await proc.wait()
        return -1, f"timed out after {timeout_s:g} s"
    return proc.returncode if proc.returncode is not None else -1, \
        out.decode(errors="replace")


def _fill(argv: Sequence[str], **values: str) -> list[str]:
    return [a.format(**values) for a in argv]


async def network_steps(s: ProbeSettings, interface: str, netns: str | None, *, dhcp: bool,
                        gateway: bool, timeout_s: float) -> list[StepResult]:
    """Run agent.probe_run where the interface lives; its JSON results as StepResults."""
    opts = {"interface": interface, "dhcp": dhcp, "gateway": gateway,
            "dns_names": list(s.dns_names), "check_url": s.check_url, "speed_url": s.speed_url,
            "speed_bytes": s.speed_bytes, "timeout_s": min(timeout_s, 10.0),
            # the device's timeout bounds each step; the poller's deadline is 4 of them
            "dhcp_timeout_s": timeout_s}
    env = {"HCC_PROBE_TOKEN": s.speed_token} if s.speed_token else {}
    code, out = await run_command([sys.executable, "-m", "agent.probe_run", json.dumps(opts)],
                                  120.0, netns, env)
    if code != 0:
        step = "dhcp" if dhcp else ("gateway" if gateway else "dns")
        return [StepResult(step, False, None, {"error": out.strip()[-200:]})]
    return [StepResult(r["step"], r["ok"], r["seconds"], r["detail"], r["skipped"])
            for r in json.loads(out.strip().splitlines()[-1])]


async def probe_steps(device: Device, s: WifiProbeSettings) -> list[StepResult]:
    steps: list[StepResult] = []
    ssid = s.ssids[0]
    if s.scan:
        code, out = await run_command(_fill(s.scan, interface=s.interface, ssid=ssid), 30.0,
                                      s.netns)
        seen = netprobe.parse_nmcli_scan(out) if s.scan[0] == "nmcli" else \
            netprobe.parse_iw_scan(out)
        ours = [b for b in seen if b.ssid in s.ssids]
        if code != 0 or not ours:
            steps.append(StepResult("scan", False, None, {"ssid": ", ".join(s.ssids),
                                                          "bss_seen": len(seen)}))
            return steps
        best = max(ours, key=lambda b: b.signal_dbm if b.signal_dbm is not None else -200)
        ssid = best.ssid
        detail: dict[str, float | int | str] = {"bssids": len(ours)}
        if best.signal_dbm is not None:
            detail["signal_dbm"] = best.signal_dbm
        if best.channel is not None:
            detail["channel"] = best.channel
        steps.append(StepResult("scan", True, None, detail))
    if s.join_parser != "none":
        code, out = await run_command(_fill(s.join, interface=s.interface, ssid=ssid), 40.0,
                                      s.netns)
        joined = netprobe.parse_wpa_status(out) if s.join_parser == "wpa_cli" else \
            netprobe.parse_nmcli_connect(out, code)
        steps.append(StepResult("join", joined.ok, None, {"ssid": ssid,
                                                          "reason": joined.reason}))
        if not joined.ok:
            return steps
    try:
        steps += await network_steps(s, s.interface, s.netns, dhcp=True, gateway=False,
                                     timeout_s=device.timeout)
    finally:
        if s.join_parser != "none" and s.leave:
            # leave: the probe must not hold a lease or an airtime slot between runs
            await run_command(_fill(s.leave, interface=s.interface, ssid=ssid), 20.0, s.netns)
    return steps


async def run(device: Device, s: WifiProbeSettings, ctx: CheckContext) -> CheckOutcome:
    steps = await probe_steps(device, s)
    return outcome(steps, s.dhcp_slow_s)


def outcome(steps: Sequence[StepResult], dhcp_slow_s: float) -> CheckOutcome:
    """The box itself answered, whatever the network did: the fault says what citizens meet."""
    found = netprobe.first_fault(steps, dhcp_slow_s)
    metrics = netprobe.metrics_of(steps, PREFIX)
    return CheckOutcome(KIND, True, metrics, (found,) if found is not None else ())


def programs(s: WifiProbeSettings) -> tuple[Argv, ...]:
    """The tools as they are run: templates filled with the interface and each SSID. (The
    probe's own helper, agent.probe_run, and `ip netns exec` are the agent's, not the config's.)"""
    templates = [s.scan] if s.scan else []
    if s.join_parser != "none":
        templates += [t for t in (s.join, s.leave) if t]
    out: list[Argv] = []
    for template in templates:
        for ssid in s.ssids or ("",):
            try:
                out.append(tuple(_fill(template, interface=s.interface, ssid=ssid)))
            except (KeyError, IndexError, ValueError):
                out.append(tuple(template))  # fails at run time too; judged as written
    return tuple(out)


SPEC = CheckSpec(schema=SCHEMA, run=run, programs=programs)
