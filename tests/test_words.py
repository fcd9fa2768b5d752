"""Every word a technician reads: the CLIs' help and output, config errors, the pages' words and
the demo's commentary in Vietnamese by default and in English on request, through the one
catalog (hcc_common/texts.py); the box's config found where install put it; the fault
vocabulary complete in both languages with the glossary's terms."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from agent.config import default_config_path
from conftest import BIN, run_cli
from hcc_common import faults as vocab
from hcc_common.glossary import AVOID, TERMS


def test_help_is_vietnamese_by_default_and_english_on_request() -> None:
    out = run_cli("hcc-agent", "--help")
    assert out.returncode == 0
    assert "theo dõi các thiết bị của một trung tâm" in out.stdout
    assert "Hiện trợ giúp này rồi thoát." in out.stdout and "Lệnh:" in out.stdout
    assert "<bool>" not in out.stdout
    check = run_cli("hcc-agent", "check", "--help").stdout
    assert "Kiểm tra ngay mọi thiết bị một lần" in check and "Chỉ thiết bị có mã này." in check
    english = run_cli("hcc-agent", "check", "--help", "--lang", "en").stdout
    assert "Run every check once now" in english and "Only this device id." in english
    assert "Show this message and exit." in english
    assert "watches the devices" in run_cli("hcc-agent", "--lang", "en", "--help").stdout


def test_validate_errors_in_vietnamese_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "devices.yaml"
    bad.write_text("center: {id: c1}\nagent: {id: a}\nmqtt: {url: 'mqtt://x'}\ndevices:\n"
                   "  - {id: p, type: printer, host: 10.0.0.5, snmp: {}, intervall: 30s}\n")
    vi = run_cli("hcc-agent", "validate", str(bad))  # a path without --config works
    assert vi.returncode == 1
    assert vi.stderr.strip() == (f"lỗi: {bad}:5: devices[0].intervall: khóa không hợp lệ "
                                 "(có phải 'interval'?)")
    en = run_cli("hcc-agent", "validate", str(bad), "--lang", "en")
    assert "unknown key (did you mean 'interval'?)" in en.stderr
    missing = run_cli("hcc-agent", "validate", str(tmp_path / "none.yaml"))
    assert missing.stderr.strip() == f"lỗi: {tmp_path / 'none.yaml'}: không tìm thấy tệp"
    assert ":0:" not in missing.stderr


def test_the_box_reads_etc_hcc_agent_devices_yaml_by_default(tmp_path: Path) -> None:
    assert default_config_path(tmp_path / "absent.yaml") == Path("devices.yaml")
    present = tmp_path / "devices.yaml"
    present.write_text("x")
    assert default_config_path(present) == present
    etc = Path("/etc/hcc-agent/devices.yaml")
    if os.geteuid() != 0 or etc.exists():
        pytest.skip("needs root and no installed /etc/hcc-agent/devices.yaml to stand one in")
    etc.parent.mkdir(exist_ok=True)
    try:
        etc.write_text("center: {id: c-etc}\nagent: {id: pi-etc, state_dir: "
                       f"'{tmp_path / 'state'}'}}\nmqtt: {{url: 'mqtt://127.0.0.1:1'}}\n"
                       "devices: []\n")
        out = run_cli("hcc-agent", "validate")  # no --config, from anywhere
        assert out.returncode == 0 and "/etc/hcc-agent/devices.yaml: hợp lệ" in out.stdout
        assert "trung tâm c-etc" in out.stdout
        checked = run_cli("hcc-agent", "check", "--json")  # check reads it too
        assert checked.returncode in (0, 2), checked.stderr
        assert '"device": "pi-etc"' in checked.stdout  # the box of that config
    finally:
        shutil.rmtree(etc.parent)


def test_every_fault_speaks_both_languages_with_the_glossary_terms() -> None:
    for d in vocab.VOCABULARY.values():
        for text in (d.vi, d.en, d.hint_vi, d.hint_en):
            assert text.strip(), d.code
        assert d.vi != d.en, d.code  # translated, not copied
        for wrong, right in AVOID.items():
            assert not re.search(wrong, d.vi + " " + d.hint_vi, re.IGNORECASE), \
                f"{d.code}: '{wrong}' — the glossary says '{right}'"
    # the terms the glossary fixes are the ones the faults use
    used = " ".join(d.vi for d in vocab.VOCABULARY.values()).lower()
    for term in ("không phản hồi", "mất kết nối", "kẹt giấy", "sắp hết"):
        assert term in used and term in {t.vi for t in TERMS}


def test_glossary_doc_is_generated_from_the_module() -> None:
    from hcc_common.glossary import render

    doc = Path(__file__).parent.parent / "docs" / "glossary.md"
    assert doc.read_text(encoding="utf-8") == render(), \
        "run: python -m hcc_common.glossary > docs/glossary.md"


def test_every_controller_help_text_has_its_vietnamese() -> None:
    import typer.main

    from controller.cli import app
    from controller.cli_text import VI

    missing = []

    def walk(command: object) -> None:
        for text in [getattr(command, "help", None),
                     *(getattr(p, "help", None) for p in getattr(command, "params", []))]:
            if isinstance(text, str) and text.strip() and text.strip() not in VI:
                missing.append(text.strip()[:60])
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(typer.main.get_command(app))
    assert missing == []
    out = run_cli("hcc-controller", "report", "--help")
    assert "Báo cáo của thành phố cho một tháng" in out.stdout and "Tùy chọn:" in out.stdout
    assert "The city's report" in run_cli("hcc-controller", "report", "--help", "--lang",
                                          "en").stdout


def _sources() -> list[Path]:
    root = Path(__file__).parent.parent
    return sorted(p for top in ("agent", "controller", "hcc_common", "lab")
                  for p in (root / top).rglob("*.py"))


def _literal(node: ast.expr) -> str | None:
    """A call's text as written: a string, an f-string (its fields as {}), or a sum of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return (_literal(node.left) or "") + (_literal(node.right) or "")
    return None


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else \
        func.attr if isinstance(func, ast.Attribute) else ""


def _load_catalog() -> Mapping[str, str]:
    import agent.cli_text  # noqa: F401  (each registers its part of the one catalog)
    import controller.cli_text  # noqa: F401
    import hcc_common.config_words  # noqa: F401
    import lab.demo  # noqa: F401
    from hcc_common import texts

    return texts.catalog()


# What prints to a person: a literal English sentence in one of these is a text without its
# Vietnamese (it must go through tr(), whose catalog has it). `# words: code` on the line marks
# a command or a config line shown to be typed as it is.
OUTPUT_CALLS = frozenset({"echo", "secho", "echo_line", "fail", "_fail", "print", "BadParameter"})
ENGLISH = re.compile(r"[A-Za-z]{2,}[ ,:'()]+[A-Za-z]{2,}")


def test_no_text_is_printed_without_its_vietnamese() -> None:
    found = []
    for path in _sources():
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and _name(node.func) in OUTPUT_CALLS
                    and node.args):
                continue
            text = _literal(node.args[0])
            if text is None or not ENGLISH.search(text.replace("{}", " ")):
                continue
            if "# words: code" in lines[node.lineno - 1]:
                continue
            found.append(f"{path.name}:{node.lineno}: {text[:60]}")
    assert found == []


def test_every_text_in_the_code_has_its_vietnamese() -> None:
    """Each tr("…") literal is in the catalog, and each entry keeps its {names}: a text whose
    Vietnamese is missing fails here, not in front of a technician."""
    catalog = _load_catalog()
    missing = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _name(node.func) in ("tr", "say") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and \
                        ENGLISH.search(first.value) and first.value not in catalog:
                    missing.append(f"{path.name}:{node.lineno}: {first.value[:60]}")
    assert missing == []
    names = re.compile(r"\{(\w*)[^{}]*\}")
    for english, vietnamese in catalog.items():
        assert vietnamese.strip(), english
        assert sorted(set(names.findall(english))) == sorted(set(names.findall(vietnamese))), \
            english
        for wrong, right in AVOID.items():
            assert not re.search(wrong, vietnamese, re.IGNORECASE), \
                f"{english!r}: '{wrong}' — the glossary says '{right}'"


# The parsers whose reasons a technician reads from `hcc-agent validate`
CONFIG_PARSERS = ("agent/config.py", "hcc_common/yamlconf.py", "hcc_common/calendar.py",
                  "hcc_common/secret_values.py", "hcc_common/mqtt_settings.py",
                  "agent/profile_loader.py")


def test_every_reason_validate_gives_has_its_vietnamese() -> None:
    from hcc_common.config_words import reason_vi

    root = Path(__file__).parent.parent
    untranslated = []
    for name in CONFIG_PARSERS:
        path = root / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = _name(node.func)
            args = node.args[3:4] if called == "ConfigError" else node.args[:1] \
                if called in ("error", "ValueError", "bad") else []
            for arg in args:
                text = _literal(arg)
                if text is None or not ENGLISH.search(text):
                    continue
                # a field right after a word is a suffix (" (did you mean …)"), else a value
                sample = re.sub(r"(?<=\w)\{\}$", "", text).replace("{}", "'x'")
                if reason_vi(sample) == sample:
                    untranslated.append(f"{name}:{node.lineno}: {text[:60]}")
    assert untranslated == []


def test_the_vietnamese_reasons_read_the_listed_mistakes(tmp_path: Path) -> None:
    """What a new user met in English: each now said in Vietnamese by hcc-agent validate."""
    cases = {
        "devices:\n  - {id: p, type: printer, host: 10.0.0.5, snmp: {}}\n"
        "  - {id: p, type: printer, host: 10.0.0.6, snmp: {}}\n":
            "mã thiết bị 'p' bị dùng hai lần (lần đầu ở dòng 5)",
        "devices:\n  - {id: 'Máy In', type: printer, host: 10.0.0.5, snmp: {}}\n":
            "không phải mã hợp lệ",
        "devices: []\n": "",
        "devices:\n  - {id: p, type: printer, host: 10.0.0.5, snmp: {}, intervall: 30s}\n":
            "khóa không hợp lệ (có phải 'interval'?)",
        "devices:\n  - {id: p, type: printer\n": "lỗi cú pháp YAML (",
    }
    head = "center: {id: c1}\nagent: {id: a}\nmqtt: {url: 'mqtt://x'}\n"
    centers = {"center: {id: c1, timezone: Mars/Base}\n": "múi giờ 'Mars/Base' không hợp lệ",
               "center: {id: c1, opening_hours: {mon: '8-25'}}\n": "giờ '8-25' không hợp lệ"}
    for center, said in centers.items():
        bad = tmp_path / "devices.yaml"
        bad.write_text(center + head.split("\n", 1)[1] + "devices: []\n")
        vi = run_cli("hcc-agent", "validate", str(bad))
        assert vi.returncode == 1 and said in vi.stderr, vi.stderr
    del cases["devices: []\n"]
    for body, said in cases.items():
        bad = tmp_path / "devices.yaml"
        bad.write_text(head + body)
        vi = run_cli("hcc-agent", "validate", str(bad))
        assert vi.returncode == 1 and said in vi.stderr, (body, vi.stderr)
        assert "did you mean" not in vi.stderr and "is not" not in vi.stderr, vi.stderr
        assert not re.search(r"\b(duplicate|unknown|expected|bad|error)\b", vi.stderr), vi.stderr
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert "tệp trống" in run_cli("hcc-agent", "validate", str(empty)).stderr
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text(head + "devices:\n  - {id: p, type: printer\n")
    assert "kiểm tra thụt lề" in run_cli("hcc-agent", "validate", str(syntax)).stderr  # a hint


# English words a Vietnamese screen must not show (beside ids, paths, URLs and codes)
ENGLISH_WORDS = re.compile(
    r"\b(error|warning|critical|firing|acknowledged|resolved|since|connected|waiting|oldest|"
    r"dropped|routine|polled|never|ago|faults|center|agent|session|broker|outbox|silenced|"
    r"no alert|condition cleared|written|enrolled|the|and|of|for|with)\b")


def _english_words(text: str) -> list[str]:
    plain = re.sub(r"(https?|mqtts?)://\S+|/\S+|\S+\.(yaml|json|db)\b|\b[\w-]+\.[\w_]+\b|"
                   r"\bhcc-\w+|\$\w+", " ", text)
    return ENGLISH_WORDS.findall(plain)


def test_hcc_agent_status_speaks_vietnamese_and_english_with_lang(tmp_path: Path) -> None:
    import json
    import time

    state = tmp_path / "state"
    state.mkdir()
    cfg = tmp_path / "devices.yaml"
    cfg.write_text(f"center: {{id: c1}}\nagent: {{id: pi1, state_dir: '{state}'}}\n"
                   "mqtt: {url: 'mqtt://127.0.0.1:1'}\ndevices:\n"
                   "  - {id: p1, type: printer, host: 127.0.0.1, snmp: {}}\n")
    now = time.time()
    (state / "status.json").write_text(json.dumps({
        "center": "c1", "agent": "pi1", "session": "s1", "broker": "mqtt://127.0.0.1:1",
        "connected": False, "written_at": now - 5, "backlog": 3, "backlog_oldest_s": 65,
        "outbox_bytes": 4096, "dropped_telemetry": 1, "dropped_events": 0, "unbuffered": 0,
        "outbox": False, "outbox_damaged": [{"moved_to": "x.bad", "salvaged": 2,
                                             "unreadable": 1, "reason": "bad page"}],
        "devices": {"p1": {"status": "unreachable", "last_poll": now - 30,
                           "faults": ["device.unreachable"]},
                    "p2": {"status": "ok", "last_poll": None, "faults": []}}}))
    vi = run_cli("hcc-agent", "status", "--config", str(cfg))
    assert vi.returncode == 0, vi.stderr
    assert "trung tâm c1" in vi.stdout and "CHƯA kết nối" in vi.stdout
    assert "không phản hồi" in vi.stdout and "chưa lần nào" in vi.stdout
    assert _english_words(vi.stdout) == [], vi.stdout
    for args in (("status", "--lang", "en"), ("--lang", "en", "status")):
        en = run_cli("hcc-agent", *args, "--config", str(cfg))
        assert "center c1" in en.stdout and "NOT connected" in en.stdout, en.stdout
        assert "not responding" in en.stdout and "polled never" in en.stdout
    # $HCC_LANG chooses too, and every command takes --lang (discover declares none of its own)
    english = subprocess.run([str(BIN / "hcc-agent"), "status", "--config", str(cfg)],
                             capture_output=True, text=True, check=False,
                             env={**os.environ, "HCC_LANG": "en"})
    assert "NOT connected" in english.stdout
    assert "Find the center's devices" in run_cli("hcc-agent", "discover", "--lang", "en",
                                                   "--help").stdout
    missing = run_cli("hcc-agent", "status", "--config", str(tmp_path / "none.yaml"))
    assert missing.stderr.startswith("lỗi: ") and "không tìm thấy tệp" in missing.stderr


def test_the_controllers_alerts_and_acts_speak_vietnamese(tmp_path: Path) -> None:
    import time

    from controller import accounts
    from controller.state import AlertKey, OpenAlert, ResolveAlert
    from controller.store import Store

    db = tmp_path / "c.db"
    store = Store(db)
    now = time.time()
    box = AlertKey(center="ba-dinh", agent="pi-1", device="pi-1", code="box.disk_full")
    store.write([OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="prn-1",
                                        code="printer.jammed"), severity="critical",
                           device_name="Máy in quầy 1", params={}, at=now - 60),
                 OpenAlert(key=box, severity="warning", device_name="Máy giám sát (box)",
                           params={}, at=now - 50),
                 OpenAlert(key=AlertKey(center="ba-dinh", agent="pi-1", device="srv",
                                        code="device.plugin_critical"),
                           severity="critical", device_name="Máy chủ",
                           params={"output": "DISK CRITICAL - free 2%"}, at=now)])
    store.write([ResolveAlert(box, now - 10, "condition cleared")])
    accounts.add_account(store.db, name="root", role="admin", centers=[], groups=[],
                         password=None, now=now)
    env = {**os.environ, "HCC_AS": "root", "LANG": "C.UTF-8"}
    env.pop("HCC_LANG", None)

    def ctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN / "hcc-controller"), *args, "--db", str(db)],
                              capture_output=True, text=True, timeout=60, check=False, env=env)

    listed = ctl("alerts", "--all")
    assert "nghiêm trọng đang báo" in listed.stdout and "(từ " in listed.stdout
    assert "Máy giám sát: " in listed.stdout and "(box)" not in listed.stdout
    assert "chương trình kiểm tra báo lỗi nghiêm trọng: DISK CRITICAL" in listed.stdout
    assert _english_words(listed.stdout.replace("DISK CRITICAL", "")) == [], listed.stdout
    plugin = json_of(ctl("alerts", "--json"), "device.plugin_critical")
    assert plugin["hint"].startswith("Phần sau dấu hai chấm là lời của chương trình kiểm tra")
    jam = json_of(ctl("alerts", "--json"), "printer.jammed")
    acked = ctl("ack", str(jam["id"]), "--by", "Minh")
    assert acked.stdout.strip() == f"#{jam['id']} đã nhận: Máy in quầy 1: kẹt giấy"
    resolved = ctl("resolve", str(jam["id"]), "--note", "xong")
    assert resolved.stdout.startswith(f"#{jam['id']} đã xử lý: ")
    assert ctl("ack", "99").stderr.strip() == "lỗi: không có cảnh báo 99"
    assert ctl("--lang", "en", "ack", "99").stderr.strip() == "error: no alert 99"
    english = ctl("alerts", "--all", "--lang", "en")
    assert "critical" in english.stdout and "(since " in english.stdout
    assert "The box (hcc-agent): " in english.stdout
    # the history's actor is who acted, said once: no "(root (cli))"
    history = [h for h in store.history(int(str(jam["id"]))) if h["actor"]]
    assert {h["actor"] for h in history} == {"Minh (root)", "root"}
    bad = ctl("report", "--out", str(tmp_path / "r.html"), "--month", "2026-13")
    assert bad.stderr.strip() == "lỗi: tháng '2026-13': viết YYYY-MM, ví dụ 2026-11"


def json_of(done: subprocess.CompletedProcess[str], code: str) -> dict[str, object]:
    import json

    return next(x for x in map(json.loads, done.stdout.splitlines()) if x["code"] == code)


def test_broker_files_credentials_and_enrollment_speak_vietnamese(tmp_path: Path) -> None:
    broker = tmp_path / "broker"
    made = run_cli("hcc-controller", "broker-config", "--out", str(broker), "--box", "c1/pi-1",
                   "--owner", "")
    assert made.returncode == 0, made.stderr
    assert "cấu hình mosquitto: " in made.stdout and "CA cho các máy giám sát" in made.stdout
    creds = run_cli("hcc-controller", "credentials", "c1", "--agent", "pi-1", "--broker-dir",
                    str(broker), "--out", str(tmp_path / "pw"))
    assert creds.returncode == 0, creds.stderr
    assert "chép cả hai tệp sang máy giám sát" in creds.stdout
    words = _english_words("\n".join(line for line in creds.stdout.splitlines()
                                     if not line.startswith(("mqtt:", "#   sudo"))))
    assert words == [], creds.stdout
    code = run_cli("hcc-controller", "enroll", "c1", "--agent", "pi-1", "--db", str(tmp_path / "c.db"))
    assert code.returncode == 1 and code.stderr.startswith("lỗi: để đăng ký máy giám sát")
    demo = subprocess.run([sys.executable, "-m", "lab.demo", "--help"], capture_output=True,
                          text=True, check=False, cwd=Path(__file__).parent.parent)
    assert "ngôn ngữ lời dẫn" in demo.stdout and "tiếp tục chạy sau kịch bản" in demo.stdout


def test_the_pages_take_their_vietnamese_from_the_one_catalog() -> None:
    """Each page's script has its English table only; texts.js (generated from the catalog)
    gives the Vietnamese, and has every one of them."""
    import json

    from controller import web_text

    web = Path(__file__).parent.parent / "controller" / "web"
    assert (web / "texts.js").read_text(encoding="utf-8") == web_text.render_js(), \
        "run: python -m controller.web_text > controller/web/texts.js"
    pair = re.compile(r'(\w+):\s*"((?:[^"\\]|\\.)*)"')
    for script in sorted(web.glob("*.js")):
        source = script.read_text(encoding="utf-8")
        if "const TEXT" not in source:
            continue
        assert not re.search(r"\bvi: \{", source), f"{script.name}: a Vietnamese table of its own"
        assert "TEXT.vi = inVietnamese(TEXT.en)" in source, script.name
        english = re.search(r"en: \{(.*?\")\s*\}", source, re.S)
        assert english is not None, script.name
        for key, text in pair.findall(english.group(1)):
            shown = json.loads(f'"{text}"')  # the JS string literal's text
            assert shown in web_text.VI, f"{script.name}: {key}: {shown!r} has no Vietnamese"
    for page in web.glob("*.html"):
        html = page.read_text(encoding="utf-8")
        if "/static/common.js" in html:
            assert html.index("/static/texts.js") < html.index("/static/common.js"), page.name


# Modules whose exceptions the CLIs show (their str(), through texts.translate)
SHOWN_REASONS = ("agent/enroll.py", "agent/discover.py", "hcc_common/filecheck.py",
                 "hcc_common/release.py", "hcc_common/keepfile.py", "controller/rollout.py",
                 "controller/rollout_service.py", "controller/accounts.py", "controller/desk.py",
                 "controller/report.py", "controller/reporting.py", "controller/brokerconf.py",
                 "controller/signing_key.py", "controller/httpcert.py", "controller/qr_labels.py")
# a release manifest's and an update instruction's checks: the box's journal, in English
BOX_LOG_ONLY = ("manifest", "update:", "not a release manifest", "an update instruction",
                "not an update topic", "Chromium made no PDF")


def test_every_reason_a_cli_shows_has_its_vietnamese() -> None:
    _load_catalog()
    from hcc_common.texts import translate

    root = Path(__file__).parent.parent
    untranslated = []
    for name in SHOWN_REASONS:
        source = (root / name).read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            text = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
                text = _literal(node.exc.args[0])
            elif isinstance(node, ast.Return) and name.endswith("filecheck.py") and \
                    node.value is not None:
                text = _literal(node.value)
            if text is None or not ENGLISH.search(text) or text.startswith(BOX_LOG_ONLY):
                continue
            sample = re.sub(r"(?<=\w)\{\}$", "", text).replace("{}", "'x'")
            if translate(sample, "vi") == sample:
                untranslated.append(f"{name}:{node.lineno}: {text[:60]}")
    assert untranslated == []


def test_the_readings_vocabulary_speaks_both_languages() -> None:
    """The device page's labels, chart titles and units (hcc_common/readings.py, a table of
    terms by key like the faults'): each in both languages, with the glossary's words."""
    from hcc_common import readings

    terms = [(k.key, k.vi, k.en) for k in readings.KINDS]
    terms += [(c.id, c.vi, c.en) for c in readings.CHARTS]
    terms += [(c.id, c.hourly_vi, c.hourly_en) for c in readings.CHARTS if c.hourly_vi]
    terms += [(unit, vi, en) for unit, (vi, en) in readings.UNIT_WORDS.items()]
    for key, vi, en in terms:
        assert vi.strip() and en.strip(), key
        for wrong, right in AVOID.items():
            assert not re.search(wrong, vi, re.IGNORECASE), f"{key}: '{wrong}' — say '{right}'"
