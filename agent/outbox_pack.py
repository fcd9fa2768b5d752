"""Report payloads as the outbox stores them: deflated (zlib) when that is smaller, so that a
heartbeat of 30 devices (1.6 KB of JSON, ~300 B deflated) fits the leaf page of its row instead
of a leaf and two overflow pages, each one more page written per commit and per deletion. Pure."""

from __future__ import annotations

import zlib

# Wire payloads are JSON objects: a stored payload that starts with "{" is the payload itself
# (also every row of an agent from before packing); anything else is a zlib stream of one
# (a zlib stream starts with 0x78, never "{").
PLAIN = b"{"
LEVEL = 6


class PackError(ValueError):
    """A stored payload that is neither a JSON object nor a whole zlib stream (a damaged row)."""


def pack(payload: bytes) -> bytes:
    """What to store for `payload`: deflated when that is smaller, else as it is."""
    packed = zlib.compress(payload, LEVEL)
    if payload.startswith(PLAIN) and len(packed) >= len(payload):
        return payload
    return packed


def unpack(stored: bytes) -> bytes:
    """The payload a stored one stands for. Raises PackError."""
    if stored.startswith(PLAIN):
        return stored
    try:
        inflate = zlib.decompressobj()
        payload = inflate.decompress(stored)
    except zlib.error as exc:
        raise PackError(f"stored payload does not inflate: {exc}") from None
    if not inflate.eof or inflate.unused_data:
        raise PackError("stored payload is not one whole zlib stream")
    return payload
