#!/usr/bin/env bash
# Prints systemd's own verdict on the unit files: `systemd-analyze verify` and the security
# exposure figure (`systemd-analyze security --offline=true`) of each unit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# A stand-in install, so that verify finds the ExecStart programs (under the temporary root).
bash scripts/install.sh --root "$root" --no-venv >/dev/null
bash scripts/install.sh --root "$root" --no-venv --controller >/dev/null
mkdir -p "$root/units"
for unit in hcc-agent hcc-controller; do
  sed "s|/opt/hcc-fleet/|$root/opt/hcc-fleet/|g" "systemd/$unit.service" > "$root/units/$unit.service"
  if out=$(systemd-analyze verify "$root/units/$unit.service" 2>&1) && [ -z "$out" ]; then
    echo "$unit: systemd-analyze verify: clean"
  else
    echo "$unit: systemd-analyze verify:"; echo "$out"
  fi
  exposure=$(systemd-analyze security --offline=true "systemd/$unit.service" 2>/dev/null \
             | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "$unit: security exposure $exposure"
done
