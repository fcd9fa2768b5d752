"""QR labels for a center's amenities: A4 sheets (3 × 4 labels), each with the QR code of its
report page, the amenity's name and a Vietnamese line, printed to PDF by headless Chromium."""

from __future__ import annotations

import html
from pathlib import Path

from controller import citizen, pdf_queue, reporting
from controller.config import CenterInfo
from controller.store import Store

CALL = "Thiết bị gặp sự cố? Quét mã để báo"
CALL_EN = "Something wrong? Scan to report"
PER_PAGE = 12
STYLE = """@page { size: A4; margin: 10mm; }
body { margin: 0; font-family: "DejaVu Sans", sans-serif; }
.sheet { display: grid; grid-template-columns: repeat(3, 1fr); grid-auto-rows: 68mm;
  gap: 0; page-break-after: always; }
.sheet:last-child { page-break-after: auto; }
.label { border: 1px dashed #999; padding: 3mm; text-align: center; overflow: hidden; }
.label svg { width: 40mm; height: 40mm; }
.name { font-weight: bold; font-size: 11pt; margin-top: 1mm; }
.call { font-size: 9pt; margin-top: 1mm; }
.en { font-size: 7.5pt; color: #444; }"""


def report_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/r/{token}"


def labels_html(center: CenterInfo, urls: list[tuple[str, str]]) -> str:
    """(amenity name, URL) pairs as sheets of labels; every text escaped."""
    import segno  # pure Python, no dependencies: an SVG that prints sharp at any size

    cells = []
    for name, url in urls:
        svg = segno.make(url, error="m").svg_inline(scale=4, border=4)
        cells.append(f'<div class="label">{svg}<div class="name">{html.escape(name)}</div>'
                     f'<div class="call">{html.escape(CALL)}</div>'
                     f'<div class="en">{html.escape(CALL_EN)}</div></div>')
    sheets = ["".join(cells[i:i + PER_PAGE]) for i in range(0, len(cells), PER_PAGE)]
    return ('<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            f"<title>QR – {html.escape(center.name)}</title><style>{STYLE}</style></head><body>"
            + "".join(f'<section class="sheet">{s}</section>' for s in sheets)
            + "</body></html>")


def make_pdf(store: Store, center: CenterInfo, base_url: str, out: Path,
             rotate: bool = False) -> int:
    """Every amenity of the center on labels (tokens made on first use, or new ones with
    `rotate`: the old labels stop working). Returns how many labels."""
    if not center.amenities:
        raise ValueError(f"center {center.id!r} declares no amenities in controller.yaml")
    if not base_url.startswith(("http://", "https://")):
        raise ValueError("the controller's public address is needed in the QR codes: set "
                         "http.public_url in controller.yaml, or give --base-url")
    urls = [(a.name, report_url(base_url, citizen.token_for(store, center.id, a.id,
                                                            rotate=rotate)))
            for a in center.amenities]
    with pdf_queue.QUEUE.slot():
        reporting.html_to_pdf(labels_html(center, urls), out)
    return len(urls)
