"""Issue 26 (18, 19): `report --out r.pdf` writes a PDF without --format (the format follows the
extension), and the PDF is A4 with page numbers (Vietnam prints on A4)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from test_report import build_month

from conftest import cli_account, run_cli
from controller import reporting
from controller.store import Store

needs_pdf = pytest.mark.skipif(reporting.chromium() is None or shutil.which("pdfinfo") is None,
                               reason="needs Debian chromium and poppler-utils")


@pytest.mark.parametrize(("name", "given", "expected"), [
    ("r.pdf", None, "pdf"), ("R.PDF", None, "pdf"), ("r.csv", None, "csv"),
    ("r.html", None, "html"), ("r.htm", None, "html"), ("report", None, "html"),
    ("r.pdf", "pdf", "pdf"), ("r.txt", "csv", "csv")])
def test_the_format_follows_the_extension(name: str, given: str | None, expected: str) -> None:
    assert reporting.format_for(Path(name), given) == expected


@pytest.mark.integration
@needs_pdf
def test_report_out_pdf_is_an_a4_pdf_with_page_numbers(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    build_month(Store(db))
    cli_account(db)  # the CLI reads as an account (never anonymously)
    out = tmp_path / "r.pdf"
    done = run_cli("hcc-controller", "report", "--out", str(out), "--month", "2026-11",
                   "--db", str(db), "--lang", "vi", timeout=180)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF")
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True,
                          check=True).stdout
    size = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert size is not None, info
    assert (round(float(size.group(1))), round(float(size.group(2)))) == (595, 842), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    for page in range(1, pages + 1):
        text = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-layout",
                               str(out), "-"], capture_output=True, text=True, check=True).stdout
        assert re.search(rf"\b{page}\s*/\s*{pages}\b", text), (page, text[-300:])
