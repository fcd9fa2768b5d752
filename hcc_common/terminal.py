"""What the CLIs and the logs write is text, never terminal commands: control characters in a
box's, a device's or a provider's strings (escape sequences that clear the screen, retitle the
window, write the clipboard; a CR that overwrites a line; bidi overrides that reorder it) are
shown as escapes (`\\x1b`, `\\r`, `\\u202e`)."""

from __future__ import annotations

import re

# C0 (TAB and LF too: one value, one line), DEL, C1, the line and paragraph separators, the
# bidirectional embeddings, overrides and isolates
_VALUE_BAD = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}.get(c) or \
        (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")


def one_value(text: str) -> str:
    """`text` as one field of one line: line breaks and tabs escaped too."""
    return _VALUE_BAD.sub(_escape, text)


def echo_line(text: str, err: bool = False) -> None:
    """typer.echo of one line through `one_value`: for every line that holds a string a box, a
    device or a provider chose (a line break in it cannot forge a line of its own either)."""
    import typer

    typer.echo(one_value(text), err=err)
