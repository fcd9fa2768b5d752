"""Wi-Fi client counts from vendor MIBs (a total, or per radio/SSID counts summed, as each
profile names them) or the IEEE 802.11 MIB. A count the device does not give is unknown, never 0."""

from __future__ import annotations

from collections.abc import Callable

from agent.snmpdecode.core import (
    ClientSource,
    Decoded,
    Reading,
    Sample,
    Table,
    integer,
    row_indices,
    text,
)
from hcc_common import readings
from hcc_common.wire import FaultReport, MetricValue

# Table name in the profile -> column holding per-radio/VAP/SSID station counts.
COUNT_COLUMNS = {
    "unifi_vaps": "stations",        # UBNT-UniFi-MIB unifiVapNumStations
    "cisco_radios": "users",         # AIRESPACE-WIRELESS-MIB bsnApIfNoOfUsers
    "aruba_essids": "stations",      # WLSX-WLAN-MIB wlanESSIDNumStations
}
# IEEE 802.11 MIB has no count: one dot11RSNAStatsEntry exists per associated station.
DOT11_STATIONS = ("dot11_rsna_stations", "address")


def _whole(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


# A count above this is not one (a "not available" 2147483647 or an unset 0xFFFFFFFF): no site
# has that many stations on one controller.
MAX_CLIENTS = 1_000_000


def _known(value: int | None) -> int | None:
    return value if value is not None and 0 <= value <= MAX_CLIENTS else None


def _sum(table: Table, column: str) -> int | None:
    known = [c for v in table.get(column, {}).values() if (c := _known(integer(v))) is not None]
    return sum(known) if known else None


def _total(raw: object) -> int | None:
    # (a script's output through NET-SNMP extend is text: "3")
    if isinstance(raw, bytes):
        return _known(_whole(text(raw)))
    return _known(integer(raw)) if isinstance(raw, int) else None


def _column(reading: Reading, ref: str) -> dict[str, object]:
    table, _, column = ref.partition(".")
    return dict(reading.table(table).get(column, {}))


def _kept(reading: Reading, source: ClientSource) -> Callable[[str], bool]:
    """Whether a row index passes the source's `where` patterns (every row when it has none)."""
    columns = [(_column(reading, ref), pattern) for ref, pattern in source.where]

    def kept(index: str) -> bool:
        for column, pattern in columns:
            raw = column.get(index)
            value = text(raw) if isinstance(raw, (int, bytes, str)) else None
            if value is None or not pattern.search(value):
                return False
        return True
    return kept


def from_source(reading: Reading, source: ClientSource) -> int | None:
    """The count one of the profile's sources gives, or None when the device holds none of it."""
    kept = _kept(reading, source)
    if source.kind == "total":
        for ref in source.refs:
            total = _total(reading.scalars.get(ref))
            if total is not None:
                return total
        return None
    if source.kind in ("rows", "stations"):
        rows: set[str] = set()
        for ref in source.refs:
            rows.update(i for i in _column(reading, ref) if kept(i))
        if source.kind == "stations":
            return len(rows)  # the MIB's only list of clients: empty is an empty hall
        # no row is no answer: an AP that keeps no station table is not an empty hall
        return len(rows) if rows else None
    counts = [_known(integer(v)) for ref in source.refs  # sum
              for i, v in _column(reading, ref).items() if isinstance(v, int) and kept(i)]
    known = [c for c in counts if c is not None]
    return sum(known) if known else None


def client_count(s: Sample) -> tuple[int | None, str | None]:
    if s.clients:
        # the profile's product lines, in its order: each device answers only its own objects
        for source in s.clients:
            count = from_source(s.reading, source)
            if count is not None:
                return count, f"{source.kind}:{'+'.join(source.refs)}"
        return None, None
    # a total the device keeps itself (a controller's or an AP's own counter)
    for name in ("clients_total", "clients_total_text"):
        raw = s.reading.scalars.get(name)
        # (a script's output through NET-SNMP extend is text: "3")
        total = _known(integer(raw) if not isinstance(raw, bytes) else _whole(text(raw)))
        if total is not None:  # (a sentinel such as 2147483647 is no count)
            return total, "total"
    # per radio, band, SSID or VAP counts: every profile table named "clients..." with a
    # "count" column, summed (a controller counting 2.4 and 5 GHz apart has two)
    sums = [(name, _sum(s.reading.table(name), "count"))
            for name in s.reading.tables if name.startswith("clients")]
    known = [(name, v) for name, v in sums if v is not None]
    if known:
        return sum(v for _, v in known), "+".join(name for name, _ in known)
    for name, column in COUNT_COLUMNS.items():
        table = s.reading.table(name)
        if table.get(column):
            return _sum(table, column), name
    # One dot11RSNAStatsEntry per associated station. An empty (or absent) table says nothing:
    # many APs implement the MIB without filling it, so it is unknown, not "0 clients".
    stations = row_indices(s.reading.table(DOT11_STATIONS[0]))
    if stations:
        return len(stations), "ieee80211"
    return None, None


def decode_wifi_clients(s: Sample) -> Decoded:
    count, source = client_count(s)
    metrics: dict[str, MetricValue] = {}
    found: list[FaultReport] = []
    if count is None:
        return Decoded()
    metrics[readings.WIFI_CLIENTS.key] = count
    metrics[readings.WIFI_CLIENTS_SOURCE.key] = str(source)
    # An empty hall is judged by the controller (rule quiet-wifi: 0 clients for a while during
    # opening hours), not from one poll: a single reading of 0 is not yet a fault.
    return Decoded(metrics, tuple(found))
