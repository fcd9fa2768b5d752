#!/usr/bin/env bash
# The whole test suite: lint (ruff), types (mypy, strict on the pure core), then pytest last.
set -euo pipefail
cd "$(dirname "$0")/.."
HCC_WITH_TEST_TOOLS=1 bash scripts/bootstrap.sh
echo "== ruff"; .venv/bin/ruff check .
echo "== mypy"; .venv/bin/mypy agent controller hcc_common lab bench
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
