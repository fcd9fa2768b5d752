"""Keeps pysnmp's MIB compiler (pysmi and its web stack) out of the agent process."""

from __future__ import annotations

import sys


def import_pysnmp_without_mib_compiler() -> None:
    """The agent resolves no MIB names (profiles carry numeric OIDs), but pysnmp loads its MIB
    compiler whenever pysmi is installed (it is, beside snmpsim, in a test venv), and pysmi
    brings requests, jinja2 and lark: 11 MB of a Pi's memory for nothing. pysnmp is imported
    once here with pysmi hidden; later imports of pysmi elsewhere in the process still work."""
    if "pysnmp.smi.compiler" in sys.modules:
        return
    hidden = "pysmi" not in sys.modules
    if hidden:
        sys.modules["pysmi"] = None  # type: ignore[assignment]  # `import pysmi` now fails
    try:
        import pysnmp.smi.compiler  # noqa: F401
    finally:
        if hidden:
            del sys.modules["pysmi"]
