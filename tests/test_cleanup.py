"""Issue 26 (22): the tests clean up after themselves: the conformance runner's snmpsim index
stays in the run's own folder (removed with it), not in the system's temporary directory."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from bench.conformance import load_corpus, run_agent
from conftest import SNMPREC

pytestmark = pytest.mark.integration


def test_the_conformance_runner_leaves_no_cache_behind(tmp_path: Path) -> None:
    corpus_dir = tmp_path / "corpus"
    corpus_dir.mkdir()
    shutil.copy(SNMPREC / "printer-laser.snmprec", corpus_dir)
    before = set(Path(tempfile.gettempdir()).glob("hcc-conformance-*"))
    work = tmp_path / "work"
    work.mkdir()
    rows, _stderr, _elapsed = run_agent(corpus_dir, load_corpus(corpus_dir), work, "en")
    assert "printer-laser" in rows
    left = set(Path(tempfile.gettempdir()).glob("hcc-conformance-*")) - before
    assert not left, left
    assert (work / "snmp-cache").is_dir()  # where it was: inside the run's folder
