"""A real SNMPv2c responder on loopback: a device with a huge table, answering as slowly as asked.

snmpsim serves a few hundred values a second from one process, too slow to play a controller
with tens of thousands of clients. This one computes its rows instead of storing them: the
system group plus `rows` rows of each column under `table`, answered after `delay` seconds.
It answers GET, GETNEXT and GETBULK (max-repetitions honoured) of community `community`.
"""

from __future__ import annotations

import bisect
import socket
import threading
import time
from dataclasses import dataclass, field

from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api
from pysnmp.proto.rfc1902 import Integer32, ObjectIdentifier, OctetString, TimeTicks

V2C = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


@dataclass
class HugeTable:
    """The device's MIB: a few scalars, then `columns` × `rows` integer cells under `table`."""

    sys_object_id: str
    sys_descr: str
    table: str  # the table's entry OID, e.g. bsnMobileStationEntry
    columns: tuple[int, ...]
    rows: int
    _scalars: list[tuple[tuple[int, ...], object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._scalars = sorted([
            (_key("1.3.6.1.2.1.1.1.0"), OctetString(self.sys_descr)),
            (_key("1.3.6.1.2.1.1.2.0"), ObjectIdentifier(self.sys_object_id)),
            (_key("1.3.6.1.2.1.1.3.0"), TimeTicks(123456)),
            (_key("1.3.6.1.2.1.1.5.0"), OctetString("huge")),
        ])
        self._entry = _key(self.table)

    def _cell(self, column: int, row: int) -> tuple[tuple[int, ...], object]:
        return (*self._entry, column, row), Integer32(row % 1000)

    def get(self, oid: tuple[int, ...]) -> object | None:
        for k, v in self._scalars:
            if k == oid:
                return v
        e = len(self._entry)
        if oid[:e] == self._entry and len(oid) == e + 2 and oid[e] in self.columns \
                and 1 <= oid[e + 1] <= self.rows:
            return self._cell(oid[e], oid[e + 1])[1]
        return None

    def next(self, oid: tuple[int, ...]) -> tuple[tuple[int, ...], object] | None:
        """The first object after `oid` in lexicographic order, None at the end of the MIB."""
        keys = [k for k, _ in self._scalars]
        at = bisect.bisect_right(keys, oid)
        scalar = self._scalars[at] if at < len(keys) else None
        cell = self._next_cell(oid)
        if scalar is None:
            return cell
        if cell is None or scalar[0] < cell[0]:
            return scalar
        return cell

    def _next_cell(self, oid: tuple[int, ...]) -> tuple[tuple[int, ...], object] | None:
        e = len(self._entry)
        if oid < self._entry:
            return self._cell(self.columns[0], 1)
        if oid[:e] != self._entry:
            return None  # past the table
        rest = oid[e:]
        for column in self.columns:
            if rest < (column,):
                return self._cell(column, 1)
            if rest[0] == column:
                # (a longer index than ours sorts after the row it starts, before the next)
                row = rest[1] + 1 if len(rest) > 1 else 1
                if row <= self.rows:
                    return self._cell(column, row)
        return None


class SlowHugeResponder:
    """Serves a HugeTable on 127.0.0.1 from a thread, each answer `delay` s after the request."""

    def __init__(self, table: HugeTable, community: str = "public", delay: float = 0.0) -> None:
        self.table = table
        self.community = community
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.answered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> SlowHugeResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = self.answer(data)
            if answer is None:
                continue
            if self.delay:
                time.sleep(self.delay)
            try:
                self.sock.sendto(answer, peer)
                self.answered += 1
            except OSError:
                return

    def answer(self, data: bytes) -> bytes | None:
        try:
            msg, _ = decoder.decode(data, asn1Spec=V2C.Message())
        except Exception:  # noqa: BLE001 - not SNMPv2c: a real agent drops it too
            return None
        if str(V2C.apiMessage.get_community(msg)) != self.community:
            return None
        pdu = V2C.apiMessage.get_pdu(msg)
        response = V2C.apiMessage.get_response(msg)
        rsp_pdu = V2C.apiMessage.get_pdu(response)
        asked = [_key(str(oid)) for oid, _ in V2C.apiPDU.get_varbinds(pdu)]
        out: list[tuple[ObjectIdentifier, object]] = []
        if pdu.isSameTypeWith(V2C.GetRequestPDU()):
            for oid in asked:
                value = self.table.get(oid)
                out.append((ObjectIdentifier(oid),
                            value if value is not None else V2C.NoSuchObject("")))
        elif pdu.isSameTypeWith(V2C.GetNextRequestPDU()):
            out = [self._next(oid) for oid in asked]
        elif pdu.isSameTypeWith(V2C.GetBulkRequestPDU()):
            non_rep = int(V2C.apiBulkPDU.get_non_repeaters(pdu))
            reps = max(1, int(V2C.apiBulkPDU.get_max_repetitions(pdu)))
            out = [self._next(oid) for oid in asked[:non_rep]]
            cursor = list(asked[non_rep:])
            for _ in range(reps):
                row = [self._next(oid) for oid in cursor]
                out.extend(row)
                cursor = [_key(str(oid)) for oid, _ in row]
                if all(isinstance(v, type(V2C.EndOfMibView(""))) for _, v in row):
                    break
        else:
            return None
        V2C.apiPDU.set_varbinds(rsp_pdu, out)
        return bytes(encoder.encode(response))

    def _next(self, oid: tuple[int, ...]) -> tuple[ObjectIdentifier, object]:
        found = self.table.next(oid)
        if found is None:
            return ObjectIdentifier(oid), V2C.EndOfMibView("")
        return ObjectIdentifier(found[0]), found[1]
