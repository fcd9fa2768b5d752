"""The vocabulary of readings: every reading a box may send, declared once (name or pattern, value
type, unit, gauge or counter, deadband, history, chart, device-page group, vi/en label, bounds)."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

# A pattern's placeholders and what each may hold. A part of a device is one name segment
# (supply.3.pct); outlets, interfaces and radios may be named by several ("outlet.1.2.power_w",
# an interface "eth0.100"), so those take dotted paths.
PLACEHOLDERS: Mapping[str, str] = {
    "index": r"[^.]+",
    "path": r"[^.]+(?:\.[^.]+)*",
    "probe": r"wifi_probe|wan",            # the Wi-Fi probe (as a citizen) and the WAN check
    "step": r"scan|join|gateway|dhcp|dns|internet|portal|speed",  # agent/netprobe.py STEPS
    "label": r"[a-z0-9_]+",                # a plugin's perfdata label, made safe by the agent
}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

# Units that are words: (vi, en); symbols (%, W, ms) read the same in both
UNIT_WORDS: Mapping[str, tuple[str, str]] = {
    "min": ("phút", "min"), "pages": ("trang", "pages"), "days": ("ngày", "days"),
    "s": ("giây", "s"),
}

ValueType = Literal["number", "text"]
Kind = Literal["gauge", "counter", "state", "text"]


@dataclass(frozen=True, kw_only=True)
class ChartGroup:
    """One chart of the device page; its lines are the kept readings of its `chart`."""

    id: str
    vi: str
    en: str
    hourly_vi: str = ""  # the title over 7 or 30 days when it differs (counters: per hour)
    hourly_en: str = ""

    def title(self, lang: str, hourly: bool) -> str:
        if hourly and self.hourly_vi:
            return self.hourly_vi if lang == "vi" else self.hourly_en
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True, kw_only=True)
class PartGroup:
    """The parts of a device drawn together on its page (supplies, trays, outlets, radios, UPS)."""

    id: str
    vi: str
    en: str

    def title(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True, kw_only=True)
class ReadingKind:
    """One family of readings: an exact name, or a pattern with typed placeholders."""

    key: str                         # "page_count", "supply.{index}.pct"
    value: ValueType = "number"      # on the wire: a number, or text a device says
    kind: Kind = "gauge"             # gauge, counter (only goes up), state (0/1, a code), text
    unit: str = ""                   # "%", "min", "W", "ms"... ("" for a count or a word)
    deadband: float = 0.0            # how far it may move before it is news (agent/report_filter)
    history: bool = False            # kept in the history (controller/history.py)
    chart: str | None = None         # the device page's chart that draws it (CHARTS)
    group: str | None = None         # the device page's part group (GROUPS): its field is `field`
    field: str | None = None         # the reading's field in its part ("pct", "name", "oper")
    vi: str
    en: str
    minimum: float | None = None     # sanity bounds of a number (a decoder's output stays in)
    maximum: float | None = None
    pattern: re.Pattern[str] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.value == "text") != (self.kind == "text") and self.kind != "state":
            raise ValueError(f"{self.key}: text is of kind text or state, and only text is text")
        regex = "".join(
            f"(?P<{part}>{PLACEHOLDERS[part]})" if i % 2 else re.escape(part)
            for i, part in enumerate(_PLACEHOLDER.split(self.key)))
        object.__setattr__(self, "pattern", re.compile(f"^(?:{regex})$"))

    @property
    def exact(self) -> bool:
        return "{" not in self.key

    def label(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en

    def unit_in(self, lang: str) -> str:
        """The unit as the reader writes it ("phút" in Vietnamese, "min" in English)."""
        words = UNIT_WORDS.get(self.unit)
        return self.unit if words is None else words[0] if lang == "vi" else words[1]

    def name(self, **parts: str | int) -> str:
        """The reading's name for these parts: SUPPLY_PCT.name(index=3) -> "supply.3.pct"."""
        out = self.key.format(**parts)
        if self.pattern.match(out) is None:
            raise ValueError(f"{out!r} is not a {self.key}")
        return out


@dataclass(frozen=True)
class Match:
    """A reading's kind and the parts its name holds ({"index": "3"} for supply.3.pct)."""

    kind: ReadingKind
    parts: Mapping[str, str]


CHARTS: tuple[ChartGroup, ...] = (
    ChartGroup(id="supplies", vi="Mực và vật tư (%)", en="Toner and supplies (%)"),
    ChartGroup(id="pages", vi="Bộ đếm trang", en="Page counter",
               hourly_vi="Trang in mỗi giờ", hourly_en="Pages per hour"),
    ChartGroup(id="clients", vi="Thiết bị Wi-Fi", en="Wi-Fi clients"),
    ChartGroup(id="power", vi="Công suất (W)", en="Power (W)"),
    ChartGroup(id="ups", vi="Bộ lưu điện", en="UPS"),
    ChartGroup(id="latency", vi="Thời gian phản hồi (ms)", en="Response time (ms)"),
    ChartGroup(id="speed", vi="Tốc độ tải như khách dùng (Mbit/s)",
               en="Download speed as users see it (Mbit/s)"),
    ChartGroup(id="probe", vi="Thời gian từng bước (ms)", en="Each step's time (ms)"),
)
GROUPS: tuple[PartGroup, ...] = (
    PartGroup(id="supply", vi="Mực và vật tư", en="Toner and supplies"),
    PartGroup(id="tray", vi="Khay giấy", en="Paper trays"),
    PartGroup(id="outlet", vi="Ổ cắm", en="Outlets"),
    PartGroup(id="radio", vi="Sóng Wi-Fi", en="Wi-Fi radios"),
    PartGroup(id="ups", vi="Bộ lưu điện", en="UPS"),
)

_PCT = {"unit": "%", "deadband": 1.0, "minimum": 0.0, "maximum": 100.0}
_MS = {"unit": "ms", "deadband": 100.0, "minimum": 0.0}


def _k(key: str, vi: str, en: str, **kw: object) -> ReadingKind:
    return ReadingKind(key=key, vi=vi, en=en, **kw)  # type: ignore[arg-type]


def _t(key: str, vi: str, en: str, **kw: object) -> ReadingKind:
    return ReadingKind(key=key, vi=vi, en=en, value="text", **{"kind": "text", **kw})  # type: ignore[arg-type]


# Declaration order is match order: a specific name before the pattern that also covers it.
KINDS: tuple[ReadingKind, ...] = (
    # -- every SNMP device: the system group (snmpdecode/system.py), the profile (checks/snmp.py)
    _t("sys_descr", "Mô tả hệ thống", "System description"),
    _t("sys_object_id", "Mã loại thiết bị (SNMP)", "SNMP object id"),
    _t("sys_name", "Tên thiết bị (SNMP)", "SNMP name"),
    _t("model", "Kiểu máy", "Model"),
    _t("snmp_profile", "Hồ sơ SNMP", "SNMP profile"),
    _k("uptime_s", "Thời gian chạy liên tục", "Uptime", kind="counter", unit="s",
       deadband=math.inf, minimum=0.0),
    # -- interfaces (snmpdecode/interfaces.py)
    _k("interfaces_up", "Cổng mạng đang chạy", "Interfaces up", minimum=0.0),
    _t("if.{path}.oper", "Trạng thái cổng mạng", "Interface state", kind="state"),
    _k("if.{path}.errors_per_s", "Lỗi cổng mạng mỗi giây", "Interface errors per second",
       unit="/s", deadband=1.0, minimum=0.0),
    # -- printers: Printer-MIB (snmpdecode/printer.py) and IPP's markers (checks/ipp.py)
    _t("supply.{index}.name", "Tên vật tư", "Supply name", group="supply", field="name"),
    _t("supply.{index}.state", "Tình trạng vật tư", "Supply state", kind="state",
       group="supply", field="state"),
    _k("supply.{index}.pct", "Mức mực / vật tư", "Supply level", history=True,
       chart="supplies", group="supply", field="pct", **_PCT),
    _k("supply.{index}.fill_pct", "Mức đầy hộp mực thải", "Waste container fill", **_PCT),
    _t("marker.{index}.name", "Tên hộp mực", "Marker name", group="supply", field="name"),
    _k("marker.{index}.pct", "Mức mực", "Marker level", history=True, chart="supplies",
       group="supply", field="pct", **_PCT),
    _t("tray.{index}.name", "Tên khay giấy", "Tray name", group="tray", field="name"),
    _t("tray.{index}.state", "Tình trạng khay giấy", "Tray state", kind="state",
       group="tray", field="state"),
    _k("tray.{index}.pct", "Mức giấy trong khay", "Paper level", history=True, group="tray",
       field="pct", **_PCT),
    _k("page_count", "Bộ đếm trang", "Page counter", kind="counter", unit="pages",
       deadband=50.0, history=True, chart="pages", minimum=0.0),
    _t("printer_status", "Trạng thái máy in", "Printer status", kind="state"),
    _t("printer_errors", "Lỗi máy in", "Printer errors", kind="state"),
    _t("ipp_state", "Trạng thái máy in (IPP)", "Printer state (IPP)", kind="state"),
    _t("ipp_reasons", "Lý do (IPP)", "State reasons (IPP)", kind="state"),
    # -- UPS (snmpdecode/power.py)
    _k("battery_charge_pct", "Pin", "Battery", history=True, chart="ups", group="ups",
       field="battery_charge_pct", **_PCT),
    _k("runtime_min", "Thời gian chạy pin", "Runtime on battery", unit="min", deadband=2.0,
       history=True, chart="ups", group="ups", field="runtime_min", minimum=0.0),
    _k("load_pct", "Tải", "Load", history=True, chart="ups", group="ups", field="load_pct",
       unit="%", deadband=1.0, minimum=0.0, maximum=200.0),
    _t("battery_status", "Tình trạng pin", "Battery status", kind="state", group="ups",
       field="battery_status"),
    _t("output_source", "Nguồn điện ra", "Output source", kind="state", group="ups",
       field="output_source"),
    _t("replace_battery", "Cần thay pin", "Replace battery", kind="state", group="ups",
       field="replace_battery"),
    _k("ups_alarms", "Số báo động của bộ lưu điện", "UPS alarms", minimum=0.0),
    # -- ATS (snmpdecode/ats.py): the words the profile maps its codes to
    _t("power_source", "Nguồn đang dùng", "Power source", kind="state"),
    _t("power_source.{index}.status", "Tình trạng nguồn vào", "Input source status",
       kind="state"),
    _t("power_redundancy", "Dự phòng nguồn", "Power redundancy", kind="state"),
    # -- power strips and chargers (snmpdecode/outlets.py), smart plugs (checks/shelly, tasmota)
    _t("outlet.{path}.name", "Tên ổ cắm", "Outlet name", group="outlet", field="name"),
    _t("outlet.{path}.state", "Trạng thái ổ cắm", "Outlet state", kind="state",
       group="outlet", field="state"),
    _k("outlet.{path}.number", "Số ổ cắm", "Outlet number", kind="state", group="outlet",
       field="number"),
    _k("outlet.{path}.power_w", "Công suất ổ cắm", "Outlet power", unit="W", deadband=5.0,
       history=True, chart="power", group="outlet", field="power_w", minimum=0.0),
    _k("outlet.{path}.current_a", "Dòng điện ổ cắm", "Outlet current", unit="A",
       deadband=0.2, group="outlet", field="current_a", minimum=0.0),
    _k("outlets_on", "Số ổ cắm đang bật", "Outlets on", minimum=0.0),
    _k("outlets_read", "Số ổ cắm đọc được", "Outlets read", minimum=0.0),
    _k("power_w", "Công suất", "Power", unit="W", deadband=5.0, history=True, chart="power",
       minimum=0.0),
    _k("current_a", "Dòng điện", "Current", unit="A", deadband=0.2, minimum=0.0),
    _k("plug.on", "Ổ cắm thông minh bật", "Smart plug on", kind="state", minimum=0.0,
       maximum=1.0),
    _k("plug.power_w", "Công suất ổ cắm thông minh", "Smart plug power", unit="W",
       deadband=5.0, history=True, chart="power", minimum=0.0),
    _k("plug.voltage_v", "Điện áp", "Voltage", unit="V", deadband=3.0, minimum=0.0),
    _k("plug.current_a", "Dòng điện ổ cắm thông minh", "Smart plug current", unit="A",
       deadband=0.2, minimum=0.0),
    _k("plug.temperature_c", "Nhiệt độ ổ cắm thông minh", "Smart plug temperature", unit="°C",
       deadband=1.0),
    # -- Wi-Fi access points (snmpdecode/wifi.py, interfaces.py)
    _k("wifi_clients", "Thiết bị đang kết nối", "Connected clients", deadband=2.0,
       history=True, chart="clients", minimum=0.0),
    _t("wifi_clients_source", "Nguồn đếm thiết bị Wi-Fi", "Wi-Fi client count source"),
    _t("radio.{path}.oper", "Trạng thái sóng Wi-Fi", "Radio state", kind="state",
       group="radio", field="oper"),
    # -- HTTP, ping, TCP, USB, a plugin (agent/checks/*)
    _k("http_status", "Mã trả lời HTTP", "HTTP status", kind="state", minimum=0.0),
    _k("http_latency_ms", "Thời gian phản hồi HTTP", "HTTP response time", history=True,
       chart="latency", **_MS),
    _k("tls_cert_days_left", "Số ngày còn lại của chứng chỉ bảo mật",
       "Days left on the security certificate", unit="days"),
    _k("ping_rtt_ms", "Thời gian ping", "Ping time", history=True, chart="latency", **_MS),
    _k("ping_loss_pct", "Tỉ lệ mất gói ping", "Ping loss", **_PCT),
    _k("tcp_connect_ms", "Thời gian kết nối TCP", "TCP connect time", history=True,
       chart="latency", **_MS),
    _k("usb_present", "Thiết bị USB có mặt", "USB devices present", minimum=0.0),
    _t("plugin_status", "Kết quả của plugin", "Plugin status", kind="state"),
    _k("plugin.{label}", "Số liệu của plugin", "Plugin reading"),
    # -- the Wi-Fi probe and the WAN check (agent/netprobe.py, probe_run.py)
    _k("{probe}_download_mbps", "Tốc độ tải", "Download speed", unit="Mbit/s", deadband=1.0,
       history=True, chart="speed", minimum=0.0),
    _k("{probe}_dhcp_ms", "Thời gian nhận địa chỉ (DHCP)", "DHCP time", history=True,
       chart="probe", **_MS),
    _k("{probe}_dns_ms", "Thời gian phân giải tên (DNS)", "DNS time", history=True,
       chart="probe", **_MS),
    _k("{probe}_internet_ms", "Thời gian tới Internet", "Time to the Internet", history=True,
       chart="probe", **_MS),
    _k("{probe}_{step}_ms", "Thời gian của bước", "Step time", **_MS),
    _k("{probe}_{step}_ok", "Bước thành công", "Step succeeded", kind="state", minimum=0.0,
       maximum=1.0),
    _k("{probe}_signal_dbm", "Cường độ sóng", "Signal strength", unit="dBm", history=True,
       maximum=0.0),
    _k("{probe}_channel", "Kênh Wi-Fi", "Wi-Fi channel", kind="state", minimum=0.0),
    _k("{probe}_lease_s", "Thời hạn địa chỉ (DHCP)", "DHCP lease", unit="s", minimum=0.0),
    _k("{probe}_portal", "Có trang đăng nhập", "Captive portal", kind="state", minimum=0.0,
       maximum=1.0),
    # -- the box itself (checks/host.py, its heartbeat in agent/heartbeat.py)
    _k("cpu_percent", "CPU", "CPU", unit="%", deadband=25.0, minimum=0.0, maximum=100.0),
    _k("memory_percent", "Bộ nhớ", "Memory", unit="%", deadband=5.0, minimum=0.0,
       maximum=100.0),
    _k("disk_percent", "Ổ đĩa", "Disk", unit="%", deadband=1.0, minimum=0.0, maximum=100.0),
    _k("load1", "Tải CPU (1 phút)", "Load (1 min)", deadband=1.0, minimum=0.0),
    _k("cpu_temp_c", "Nhiệt độ CPU", "CPU temperature", unit="°C", deadband=3.0),
    _k("throttled_flags", "Cờ giảm tốc (Raspberry Pi)", "Throttled flags", kind="state",
       minimum=0.0),
    _k("clock_synced", "Đồng hồ đã đồng bộ", "Clock synchronised", kind="state",
       minimum=0.0, maximum=1.0),
    _k("outbox_damaged_files", "Hàng đợi hỏng", "Damaged outboxes", deadband=math.inf,
       minimum=0.0),
    _t("outbox_damaged_last", "Hàng đợi hỏng gần nhất", "Last damaged outbox"),
    _k("outbox_count", "Tin chờ gửi", "Messages waiting", deadband=math.inf, minimum=0.0),
    _k("outbox_oldest_s", "Tin chờ lâu nhất", "Oldest waiting message", unit="s",
       deadband=math.inf, minimum=0.0),
    _k("outbox_bytes", "Dung lượng hàng đợi", "Outbox size", unit="B", deadband=math.inf,
       minimum=0.0),
    _k("outbox_dropped", "Tin đã bỏ", "Messages dropped", kind="counter", deadband=math.inf,
       minimum=0.0),
)
BY_KEY: Mapping[str, ReadingKind] = {k.key: k for k in KINDS}
CHART_BY_ID: Mapping[str, ChartGroup] = {c.id: c for c in CHARTS}
GROUP_BY_ID: Mapping[str, PartGroup] = {g.id: g for g in GROUPS}
_EXACT: Mapping[str, ReadingKind] = {k.key: k for k in KINDS if k.exact}
_PATTERNS: tuple[ReadingKind, ...] = tuple(k for k in KINDS if not k.exact)


@lru_cache(maxsize=65536)
def match(name: str) -> Match | None:
    """The kind of the reading `name` and its parts; None for a name the vocabulary does not
    declare. Cached: a fleet sends few distinct names, each in every result."""
    kind = _EXACT.get(name)
    if kind is not None:
        return Match(kind, {})
    for kind in _PATTERNS:
        m = kind.pattern.match(name)
        if m is not None:
            return Match(kind, m.groupdict())
    return None


def kind_of(name: str) -> ReadingKind | None:
    m = match(name)
    return None if m is None else m.kind


def deadband(name: str) -> float:
    """How far the reading may move before it is news (0 for an undeclared one: any change)."""
    kind = kind_of(name)
    return 0.0 if kind is None else kind.deadband


def kept(name: str) -> bool:
    """Whether the history keeps this reading (and charts and reports may use it)."""
    kind = kind_of(name)
    return kind is not None and kind.history


def is_counter(name: str) -> bool:
    kind = kind_of(name)
    return kind is not None and kind.kind == "counter"


def label(name: str, lang: str) -> str:
    """The reading's name for a person (its own name when the vocabulary does not know it)."""
    kind = kind_of(name)
    return name if kind is None else kind.label(lang)


# The keys other modules rely on, as constants (decoders emit through them)
PAGE_COUNT = BY_KEY["page_count"]
WIFI_CLIENTS = BY_KEY["wifi_clients"]
WIFI_CLIENTS_SOURCE = BY_KEY["wifi_clients_source"]
RUNTIME_MIN = BY_KEY["runtime_min"]
BATTERY_CHARGE_PCT = BY_KEY["battery_charge_pct"]
LOAD_PCT = BY_KEY["load_pct"]
SUPPLY_NAME = BY_KEY["supply.{index}.name"]
SUPPLY_PCT = BY_KEY["supply.{index}.pct"]
MARKER_NAME = BY_KEY["marker.{index}.name"]
MARKER_PCT = BY_KEY["marker.{index}.pct"]
PROBE_DOWNLOAD = BY_KEY["{probe}_download_mbps"]
MODEL = BY_KEY["model"]
SYS_DESCR = BY_KEY["sys_descr"]
# The supplies a report counts toner use of: Printer-MIB supplies and IPP markers
SUPPLY_LEVELS = (SUPPLY_PCT, MARKER_PCT)
SUPPLY_NAMES = (SUPPLY_NAME, MARKER_NAME)


def level_of_name(name: str) -> str | None:
    """The level reading a supply's name names ("supply.1.name" -> "supply.1.pct"), else None."""
    m = match(name)
    if m is None or m.kind not in SUPPLY_NAMES:
        return None
    return SUPPLY_LEVELS[SUPPLY_NAMES.index(m.kind)].name(**m.parts)


# -- the wire's text rule (hcc_common/wire.py) ----------------------------------------------------
# A reading is a number unless the vocabulary declares it text: words a device says about itself
# or one of its parts, never a level, a count or a time. A string under any other name (a
# `runtime_min` or `wifi_clients` holding markup) is off the contract and becomes a dead letter.
TEXT_READINGS = frozenset(k.key for k in KINDS if k.exact and k.value == "text")
# Per part of a device: supply.3.name, tray.2.state, outlet.7.state, if.eth0.oper, radio.wifi0.oper
TEXT_SUFFIXES = (".name", ".state", ".oper")


@lru_cache(maxsize=65536)
def may_be_text(name: str) -> bool:
    """True if the reading `name` may carry text; every other reading must be a number.
    Cached: a fleet sends few distinct names, each in every result."""
    kind = kind_of(name)
    if kind is not None:
        return kind.value == "text"
    return name.endswith(TEXT_SUFFIXES)  # a part's words, of a part the vocabulary lacks


# What a box says about itself in its birth (inventory): text, except these numbers.
NUMERIC_INVENTORY = frozenset({"devices", "boot_time"})


def render_doc() -> str:
    """docs/protocol.md's table of readings (between its markers), from KINDS."""
    lines = ["| reading | value | kind | unit | deadband | history | chart | vi | en |",
             "|---|---|---|---|---|---|---|---|---|"]
    for k in KINDS:
        band = "∞" if math.isinf(k.deadband) else (f"{k.deadband:g}" if k.deadband else "")
        lines.append(f"| `{k.key}` | {k.value} | {k.kind} | {k.unit} | {band} | "
                     f"{'yes' if k.history else ''} | {k.chart or ''} | {k.vi} | {k.en} |")
    return "\n".join(lines) + "\n"



def write_doc(path: str = "docs/protocol.md") -> None:
    """Replace the table between docs/protocol.md's readings markers with render_doc()."""
    from pathlib import Path

    doc = Path(path)
    text = doc.read_text(encoding="utf-8")
    begin, end = "<!-- readings:begin -->\n", "<!-- readings:end -->"
    head, rest = text.split(begin, 1)
    doc.write_text(head + begin + render_doc() + end + rest.split(end, 1)[1], encoding="utf-8")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--write-doc"]:
        write_doc()
    else:
        print(render_doc(), end="")
