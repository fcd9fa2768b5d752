"""Conformance on real captures: serve every .snmprec in a folder with snmpsim and show what the
agent makes of each device (profile, metrics, faults). Real devices in normal service must show
no fault; a copy with a changed value must show exactly that fault.

    .venv/bin/python -m bench.conformance ../shared/testbed/snmprec [--json] [--outlets 1,2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from lab.procs import SnmpSim
from lab.snmprec import load

BIN = Path(sys.executable).parent
TYPES = {"printer": "printer", "ap": "wifi_ap", "pdu": "charger", "router": "other"}
LEGACY_OUTLET_STATE = "1.3.6.1.4.1.318.1.1.12.3.5.1.1.4."


def device_type(stem: str) -> str:
    return TYPES.get(stem.split("-", 1)[0], "other")


def outlets_in_use(path: Path) -> list[int]:
    """Without --outlets, a PDU's chargers are the outlets switched on in the file as given:
    the capture shows the center in normal service, with chargers plugged into those."""
    values = load(path)
    return sorted(int(oid[len(LEGACY_OUTLET_STATE):]) for oid, v in values.items()
                  if oid.startswith(LEGACY_OUTLET_STATE) and v == 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("folder", type=Path, help="folder of .snmprec captures")
    ap.add_argument("--json", action="store_true", help="print hcc-agent check's JSON lines")
    ap.add_argument("--outlets", help="charger outlets on every PDU, e.g. 1,2 (default: those on)")
    ap.add_argument("--baseline", type=Path,
                    help="folder of the untouched captures, to pick charger outlets from")
    ap.add_argument("--lang", default="en", choices=("en", "vi"))
    args = ap.parse_args()
    files = sorted(args.folder.glob("*.snmprec"))
    if not files:
        print(f"no .snmprec files in {args.folder}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="hcc-conformance-") as tmp:
        work = Path(tmp)
        sim = SnmpSim(work / "sim", files).start(wait_for=files[0].stem)
        try:
            for f in files:
                sim.wait_ready(f.stem)
            lines = ["center: {id: conformance, name: Conformance}",
                     f'agent: {{id: bench, state_dir: "{work / "state"}"}}',
                     'mqtt: {url: "mqtt://127.0.0.1:1"}',
                     "defaults: {interval: 30s, timeout: 3s}", "devices:"]
            for f in files:
                dtype = device_type(f.stem)
                extra = ""
                if dtype == "charger":
                    if args.outlets:
                        outlets = [int(x) for x in args.outlets.split(",")]
                    else:
                        source = (args.baseline / f.name) if args.baseline else f
                        outlets = outlets_in_use(source)
                    extra = f", outlets: {outlets}"
                lines.append(f"  - {{id: {f.stem}, name: {f.stem}, type: {dtype}, host: 127.0.0.1,"
                             f" snmp: {{port: {sim.port}, community: {f.stem}}}{extra}}}")
            cfg = work / "devices.yaml"
            cfg.write_text("\n".join(lines) + "\n")
            out = subprocess.run([str(BIN / "hcc-agent"), "check", "--config", str(cfg), "--json",
                                  "--lang", args.lang], capture_output=True, text=True, check=False)
            if out.stderr.strip():
                print(out.stderr, file=sys.stderr)
            rows = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
        finally:
            sim.stop()
    total_faults = 0
    for row in rows:
        if row["type"] == "box":
            continue
        if args.json:
            print(json.dumps(row, ensure_ascii=False))
            continue
        m = row["metrics"]
        print(f"\n{row['device']}  type={row['type']}  profile={m.get('snmp_profile')}  "
              f"status={row['status']}")
        print(f"  sysDescr: {str(m.get('sys_descr', ''))[:100]}")
        shown = {k: v for k, v in m.items()
                 if k not in ("sys_descr", "snmp_profile") and not k.endswith(".name")}
        print("  metrics: " + ", ".join(f"{k}={v}" for k, v in list(shown.items())[:40]))
        for fault in row["faults"]:
            print(f"  FAULT {fault['code']} [{fault['severity']}]: {fault['message']}")
        total_faults += len(row["faults"])
    if not args.json:
        print(f"\ndevices={len([r for r in rows if r['type'] != 'box'])} faults={total_faults}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
