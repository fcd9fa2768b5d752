"""The pages' Content-Security-Policy and companion headers, in one place: no script but the
project's own files, no inline script or handler, no plugin, no framing, no <base> rewrite."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

PAGE_POLICY = ("default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
               "frame-ancestors 'none'")
# Sent with every response (JSON and files too: nothing is sniffed into HTML, no URL leaks to
# another site). "same-origin", not "no-referrer": under no-referrer a browser sends
# `Origin: null` with a plain HTML form's POST (the citizens' phone page works without JS),
# which the CSRF guard must refuse as it would a sandboxed frame's.
HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
           "X-Frame-Options": "DENY"}


def style_hash(css: str) -> str:
    """The CSP source allowing exactly the inline <style> element holding `css`."""
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def page_policy(styles: Iterable[str] = ()) -> str:
    """PAGE_POLICY, plus the inline stylesheets `styles` by their hashes (the report is one
    self-contained file: the same bytes are printed to PDF and mailed)."""
    hashes = " ".join(style_hash(css) for css in styles)
    return PAGE_POLICY + (f"; style-src 'self' {hashes}" if hashes else "")


def file_policy(styles: Iterable[str]) -> str:
    """For a report opened as a file (a mail attachment, the page Chromium prints): nothing
    loads or runs, only its own stylesheet applies."""
    hashes = " ".join(style_hash(css) for css in styles)
    return (f"default-src 'none'; style-src {hashes}; img-src data:; base-uri 'none'; "
            f"form-action 'none'")
