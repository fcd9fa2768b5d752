"""Rows read straight from an SQLite file's table-leaf pages (and its WAL frames), for salvage
when SQL itself cannot walk the file: a truncated file loses the interior pages queries need,
but the leaf pages before the cut still hold whole rows. Pure: bytes in, records out."""

from __future__ import annotations

import struct
from collections.abc import Iterator

Value = int | float | str | bytes | None
LEAF_TABLE = 0x0D
HEADER_MAGIC = b"SQLite format 3\x00"
WAL_HEADER, WAL_FRAME_HEADER = 32, 24


def _varint(buf: bytes, at: int) -> tuple[int, int]:
    """(value, next offset). Raises IndexError past the end."""
    value = 0
    for i in range(8):
        b = buf[at + i]
        value = (value << 7) | (b & 0x7F)
        if b < 0x80:
            return value, at + i + 1
    return (value << 8) | buf[at + 8], at + 9


def page_size_of(header: bytes) -> int:
    if len(header) < 100 or not header.startswith(HEADER_MAGIC):
        return 0
    size = struct.unpack(">H", header[16:18])[0]
    return 65536 if size == 1 else size


def freelist_pages(data: bytes, page_size: int) -> set[int]:
    """Pages on the freelist (deleted rows live on there): left out of the salvage. An
    unreadable list gives what could be read of it."""
    found: set[int] = set()
    trunk = struct.unpack(">I", data[32:36])[0] if len(data) >= 36 else 0
    while trunk and trunk not in found and trunk * page_size <= len(data):
        found.add(trunk)
        page = data[(trunk - 1) * page_size: trunk * page_size]
        nxt, count = struct.unpack(">II", page[:8])
        for i in range(min(count, (page_size - 8) // 4)):
            found.add(struct.unpack(">I", page[8 + 4 * i: 12 + 4 * i])[0])
        trunk = nxt
    return found


def _record(payload: bytes) -> list[Value] | None:
    try:
        header_len, at = _varint(payload, 0)
        types: list[int] = []
        while at < header_len:
            t, at = _varint(payload, at)
            types.append(t)
        body = header_len
        out: list[Value] = []
        for t in types:
            if t == 0:
                out.append(None)
            elif 1 <= t <= 6:
                n = (1, 2, 3, 4, 6, 8)[t - 1]
                if body + n > len(payload):
                    return None
                out.append(int.from_bytes(payload[body:body + n], "big", signed=True))
                body += n
            elif t == 7:
                out.append(struct.unpack(">d", payload[body:body + 8])[0])
                body += 8
            elif t in (8, 9):
                out.append(t - 8)
            elif t >= 12:
                n = (t - 12) // 2
                if body + n > len(payload):
                    return None
                raw = payload[body:body + n]
                out.append(raw if t % 2 == 0 else raw.decode("utf-8"))
                body += n
            else:
                return None
        return out
    except (IndexError, UnicodeDecodeError, struct.error):
        return None


def _cells(page: bytes, offset: int, page_size: int, usable: int,
           pages: dict[int, bytes]) -> Iterator[tuple[int, list[Value]]]:
    if len(page) < offset + 8 or page[offset] != LEAF_TABLE:
        return
    ncells = struct.unpack(">H", page[offset + 3:offset + 5])[0]
    x = usable - 35
    m = ((usable - 12) * 32 // 255) - 23
    for i in range(ncells):
        try:
            ptr = struct.unpack(">H", page[offset + 8 + 2 * i: offset + 10 + 2 * i])[0]
            size, at = _varint(page, ptr)
            rowid, at = _varint(page, at)
            if size <= x:
                payload = page[at:at + size]
            else:
                k = m + (size - m) % (usable - 4)
                local = k if k <= x else m
                payload = page[at:at + local]
                nxt = struct.unpack(">I", page[at + local:at + local + 4])[0]
                seen: set[int] = set()
                while len(payload) < size and nxt and nxt not in seen and nxt in pages:
                    seen.add(nxt)
                    over = pages[nxt]
                    nxt = struct.unpack(">I", over[:4])[0]
                    payload += over[4:usable]
                payload = payload[:size]
            if len(payload) != size:
                continue  # its overflow pages are gone
        except (IndexError, struct.error):
            continue
        record = _record(payload)
        if record is not None:
            yield rowid, record


def leaf_rows(data: bytes, wal: bytes = b"") -> list[tuple[int, list[Value]]]:
    """(rowid, record) of every cell on every table-leaf page that parses, of all tables (the
    caller tells its rows by their shape). WAL frames, newer, replace the file's pages."""
    page_size = page_size_of(data)
    if page_size == 0 or page_size < 512:
        return []
    usable = page_size - data[20]
    pages = {n + 1: data[n * page_size:(n + 1) * page_size]
             for n in range(len(data) // page_size)}
    for n in freelist_pages(data, page_size):
        pages.pop(n, None)
    if len(wal) > WAL_HEADER:
        frame = WAL_FRAME_HEADER + page_size
        for at in range(WAL_HEADER, len(wal) - frame + 1, frame):
            number = struct.unpack(">I", wal[at:at + 4])[0]
            pages[number] = wal[at + WAL_FRAME_HEADER:at + frame]
    rows: list[tuple[int, list[Value]]] = []
    for number, page in sorted(pages.items()):
        rows.extend(_cells(page, 100 if number == 1 else 0, page_size, usable, pages))
    return rows
