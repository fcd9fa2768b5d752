"""Conformance on real captures: serve every capture of a corpus with snmpsim, run the agent on each
as a technician would configure it (`profile: auto`, the device type of its class), and score
what it reports against the reference results beside each capture (`<name>.expected.json`).

    bench/run conformance [--corpus ../shared/testbed/librenms] [--details FILE] [--lang vi|en]

Prints a table per class, then one line:
captures=… class_detected=… supplies_matched=…/… clients_matched=…/… outlets_matched=…/…
ups_matched=…/… false_critical=… false_warning=… crashes=…
A folder of captures without reference files (e.g. ../shared/testbed/snmprec) is scored on
faults only, the class taken from the file name (printer-…, ap-…, pdu-…, ups-…).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from agent.profile_loader import load_profiles
from bench.conformance_score import DEVICE_TYPE, DeviceScore, score
from hcc_common import wire
from lab.procs import SnmpSim

BIN = Path(sys.executable).parent
DEFAULT_CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "testbed" / "librenms"
PREFIX_CLASS = {"printer": "printer", "ap": "ap", "pdu": "pdu", "ups": "ups"}


def load_corpus(folder: Path) -> list[dict[str, Any]]:
    """One expected document per capture (a minimal one where the corpus has none)."""
    out = []
    for capture in sorted(folder.glob("*.snmprec")):
        if "@" in capture.stem:
            continue  # served for its SNMP context; the agent polls the main community
        ref = folder / f"{capture.stem}.expected.json"
        if ref.exists():
            out.append(json.loads(ref.read_text()))
        else:
            cls = PREFIX_CLASS.get(capture.stem.split("-", 1)[0], "other")
            out.append({"name": capture.stem, "class": cls, "sysObjectID": "unknown"})
    return out


class AgentRunFailed(Exception):
    """The agent did not run the corpus (a config it refused, a crash before any device): said
    with its own stderr, never scored as every capture crashing."""


def device_ids(names: list[str]) -> dict[str, str]:
    """A valid devices.yaml id for every capture name, whatever it holds ('+', spaces, capitals,
    a leading '_'), unique across the corpus."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[^a-z0-9_.-]+", "-", name.lower()).strip("-_.")[:56] or "capture"
        if not base[0].isalnum():
            base = "c" + base
        ident, n = base, 2
        while ident in taken or not wire.valid_id(ident):
            ident, n = f"{base[:52]}-{n}", n + 1
        taken.add(ident)
        out[name] = ident
    return out


def run_agent(folder: Path, corpus: list[dict[str, Any]], work: Path, lang: str,
              cache_dir: Path | None = None) -> tuple[dict[str, dict[str, Any]], str, float]:
    files = sorted(folder.glob("*.snmprec"))
    # snmpsim indexes each capture on first use (minutes for a large corpus). Its index lives in
    # the run's own folder, removed with it (22 MB left in /tmp by every run, issue 26), unless
    # --cache-dir names a folder to keep it in between runs.
    key = hashlib.sha256("".join(f"{f.name}:{f.stat().st_size}" for f in files).encode())
    cache = (cache_dir / f"hcc-conformance-{key.hexdigest()[:12]}" if cache_dir is not None
             else work / "snmp-cache")
    sim = SnmpSim(work / "sim", files)
    sim.cache = cache
    cache.mkdir(parents=True, exist_ok=True)
    sim.start(wait_for=files[0].stem)
    try:
        for f in files:
            sim.wait_ready(f.stem)
        lines = ["center: {id: conformance, name: Conformance}",
                 f'agent: {{id: bench, state_dir: "{work / "state"}"}}',
                 'mqtt: {url: "mqtt://127.0.0.1:1"}',
                 "defaults: {interval: 30s, timeout: 6s}", "devices:"]
        ids = device_ids([doc["name"] for doc in corpus])
        for doc in corpus:
            name = doc["name"]
            lines.append(f"  - {{id: {json.dumps(ids[name])}, name: {json.dumps(name)}, "
                         f"type: {DEVICE_TYPE[doc['class']]}, host: 127.0.0.1, "
                         f"snmp: {{port: {sim.port}, community: {json.dumps(name)}, retries: 1}}}}")
        cfg = work / "devices.yaml"
        cfg.write_text("\n".join(lines) + "\n")
        started = time.monotonic()
        out = subprocess.run([str(BIN / "hcc-agent"), "check", "--config", str(cfg), "--json",
                              "--lang", lang], capture_output=True, text=True, check=False,
                             timeout=1800)
        elapsed = time.monotonic() - started
    finally:
        sim.stop()
    rows = {}
    for line in out.stdout.splitlines():
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # not a result line
            rows[row["device"]] = row
    if not rows:
        raise AgentRunFailed(f"hcc-agent check exited {out.returncode} after {elapsed:.1f} s "
                             f"with no device result; its stderr:\n{out.stderr.strip()}")
    by_name = {name: rows[ident] for name, ident in ids.items() if ident in rows}
    return by_name, out.stderr, elapsed


def run_offline(folder: Path, corpus: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The snmp check's pure path, in-process, on the captures' values: for quick looks while
    working on a decoder. The figures to quote come from the real run (snmpsim, hcc-agent)."""
    from agent.checks.snmp import read_device
    from agent.profile_loader import SYSTEM_OIDS, choose, probes
    from agent.snmpdecode import DeviceContext, Sample, Thresholds
    from hcc_common import faults as vocab
    from lab.snmprec import load, present, reading_for

    profiles = load_profiles()
    rows = {}
    for doc in corpus:
        values = load(folder / f"{doc['name']}.snmprec")
        dtype = DEVICE_TYPE[doc["class"]]
        system = {k: values.get(o) for k, o in SYSTEM_OIDS.items()}
        answering = present(probes(profiles, system.get("sys_object_id")), values)
        prof = choose(profiles, dtype, system, answering)
        reading = reading_for(prof, values)
        ctx = DeviceContext(type=dtype, thresholds=Thresholds())
        sample = Sample(reading, ctx, values=prof.values, clients=prof.clients)
        metrics, found = read_device(prof, sample, dtype)
        rows[doc["name"]] = {
            "device": doc["name"], "metrics": metrics,
            "faults": [{"code": f.code, "severity": f.severity, "params": dict(f.params),
                        "message": vocab.full_message(doc["name"], f.code, f.params, "en")}
                       for f in found]}
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of captures")
    ap.add_argument("folder", nargs="?", type=Path, help="(same as --corpus)")
    ap.add_argument("--details", type=Path, default=Path("conformance-details.json"),
                    help="per-device details, to look at one device")
    ap.add_argument("--lang", default="en", choices=("en", "vi"))
    ap.add_argument("--offline", action="store_true",
                    help="decode the captures in-process, without snmpsim (quick, for work on a "
                         "decoder; not the figure to quote)")
    ap.add_argument("--cache-dir", type=Path, default=None,
                    help="keep snmpsim's index of the captures here between runs (default: "
                         "made and removed with the run)")
    args = ap.parse_args()
    folder: Path = args.folder or args.corpus
    if not folder.is_dir():
        print(f"no corpus at {folder} (give --corpus DIR)", file=sys.stderr)
        return 2
    corpus = load_corpus(folder)
    if not corpus:
        print(f"no .snmprec captures in {folder}", file=sys.stderr)
        return 2
    profile_classes = {p.id: p.device_class for p in load_profiles().values()}
    if args.offline:
        started = time.monotonic()
        rows, stderr = run_offline(folder, corpus), ""
        elapsed = time.monotonic() - started
    else:
        with tempfile.TemporaryDirectory(prefix="hcc-conformance-") as tmp:
            try:
                rows, stderr, elapsed = run_agent(folder, corpus, Path(tmp), args.lang,
                                                  args.cache_dir)
            except AgentRunFailed as exc:
                print(f"conformance: {exc}", file=sys.stderr)
                return 1
        if stderr.strip() and "Traceback" in stderr:
            print(f"hcc-agent stderr:\n{stderr.strip()}", file=sys.stderr)
    scores: list[DeviceScore] = []
    for doc in corpus:
        row = rows.get(doc["name"])
        s = score(doc, row, profile_classes)
        if row is not None and "Traceback" in stderr and doc["name"] in stderr:
            s.crashed = "traceback"
        scores.append(s)
    crashes = sum(1 for s in scores if s.crashed) + stderr.count("Traceback")
    details = [{"name": s.name, "class": s.cls, "profile": s.profile, "detected": s.detected,
                "supplies": s.supplies, "clients": s.clients, "outlets": s.outlets, "ups": s.ups,
                "false_critical": s.false_critical, "false_warning": s.false_warning,
                "crashed": s.crashed, "result": rows.get(s.name)} for s in scores]
    args.details.write_text(json.dumps(details, ensure_ascii=False, indent=1))
    print(f"{'class':8} {'captures':>8} {'detected':>9} {'supplies':>9} {'clients':>8} "
          f"{'outlets':>8} {'ups':>6} {'false crit':>10} {'false warn':>10}")
    for cls in ("printer", "ap", "pdu", "ups", "other"):
        group = [s for s in scores if s.cls == cls]
        if group:
            print(_line(cls, group))
    typed = [s for s in scores if s.cls != "other" and s.has_system]
    sup = [ok for s in scores for _, ok, _ in s.supplies]
    cli = [s for s in scores if s.clients is not None]
    out = [ok for s in scores for _, ok, _ in s.outlets]
    ups = [s for s in scores if s.ups is not None]
    print(f"(agent check of {len(scores)} devices took {elapsed:.0f} s; details in {args.details})")
    print(f"captures={len(scores)} class_detected={sum(s.detected for s in typed)}/{len(typed)}"
          f" supplies_matched={sum(sup)}/{len(sup)}"
          f" clients_matched={sum(s.clients_ok for s in cli)}/{len(cli)}"
          f" outlets_matched={sum(out)}/{len(out)}"
          f" ups_matched={sum(s.ups_ok for s in ups)}/{len(ups)}"
          f" false_critical={sum(len(s.false_critical) for s in scores)}"
          f" false_warning={sum(1 for s in scores if s.false_warning)}"
          f" crashes={crashes}")
    return 0


def _line(cls: str, group: list[DeviceScore]) -> str:
    typed = [s for s in group if s.has_system]
    sup = [ok for s in group for _, ok, _ in s.supplies]
    cli = [s for s in group if s.clients is not None]
    out = [ok for s in group for _, ok, _ in s.outlets]
    ups = [s for s in group if s.ups is not None]
    det = f"{sum(s.detected for s in typed)}/{len(typed)}" if cls != "other" else "-"
    return (f"{cls:8} {len(group):>8} {det:>9} {sum(sup):>4}/{len(sup):<4} "
            f"{sum(s.clients_ok for s in cli):>3}/{len(cli):<4} {sum(out):>3}/{len(out):<4} "
            f"{sum(s.ups_ok for s in ups):>2}/{len(ups):<3} "
            f"{sum(len(s.false_critical) for s in group):>10} "
            f"{sum(1 for s in group if s.false_warning):>10}")


if __name__ == "__main__":
    sys.exit(main())
