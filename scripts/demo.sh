#!/usr/bin/env bash
# The demo on embedded defaults: private broker, controller, agent, simulated devices, a fault.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m lab.demo "$@"
