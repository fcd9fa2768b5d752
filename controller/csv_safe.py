"""Every CSV the project writes goes through here: a cell a spreadsheet would run as a formula
(=, +, -, @, or a tab, CR or LF first) is written as text, with a leading apostrophe."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any

# What Excel, LibreOffice and Google Sheets start a formula (or DDE) with; leading blanks are
# skipped by some of them, so " =1+1" is one too.
_FORMULA_START = frozenset("=+-@\t\r\n")
# A plain number ("-3.5", "1e-3") is data: a minus sign in front of it stays a number.
_NUMBER = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")


def cell(value: object) -> object:
    """`value` as it may go into a CSV: numbers and safe text unchanged, formula text quoted.
    A carriage return becomes a line feed: the writer quotes a cell holding its line ending
    only, and a bare CR would end the row early in some readers."""
    if not isinstance(value, str) or not value:
        return value
    stripped = value.lstrip(" \t\r\n")
    if (value[0] in _FORMULA_START or stripped[:1] in _FORMULA_START) \
            and _NUMBER.fullmatch(value) is None:
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


class SafeWriter:
    """csv.writer with every cell passed through `cell`."""

    def __init__(self, out: IO[str], **kwargs: Any) -> None:
        self._w = csv.writer(out, **kwargs)

    def writerow(self, row: Iterable[object]) -> None:
        self._w.writerow([cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: IO[str], **kwargs: Any) -> SafeWriter:
    return SafeWriter(out, **kwargs)
