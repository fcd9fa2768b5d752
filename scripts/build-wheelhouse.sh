#!/usr/bin/env bash
# Build, on a machine with internet, everything a box needs to install hcc-fleet offline:
#   bash scripts/build-wheelhouse.sh OUT [--pi] [--controller]
#     --pi          wheels for Raspberry Pi OS 12 (aarch64, Python 3.11), built anywhere
#     --controller  include the controller's extra
# Then on the box (no internet): sudo bash scripts/install.sh --wheelhouse OUT
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: build-wheelhouse.sh OUT [--pi] [--controller]}
shift
plat=()
extra=""
while (($#)); do
  case $1 in
    --pi) plat=(--platform manylinux2014_aarch64 --platform manylinux_2_28_aarch64
                --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all:) ;;
    --controller) extra="[controller]" ;;
    *) echo "usage: build-wheelhouse.sh OUT [--pi] [--controller]" >&2; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
PY=${PYTHON:-python3}
# the project itself: pure Python, one wheel for every platform, built from a clean copy of its
# sources (a build/ left in the tree by an earlier build would put stale modules in the wheel)
clean=$(mktemp -d)
trap 'rm -rf "$clean"' EXIT
cp -r "$src/pyproject.toml" "$src/README.md" "$src/agent" "$src/controller" "$src/hcc_common" "$clean/"
find "$clean" -name __pycache__ -prune -exec rm -rf {} +
"$PY" -m pip wheel -q --disable-pip-version-check --no-deps -w "$out" "$clean"
wheel=$(ls -t "$out"/hcc_fleet-*.whl | head -1)
# its dependencies, as wheels for the target
"$PY" -m pip download -q --disable-pip-version-check -d "$out" "${plat[@]}" "$wheel$extra"
echo "wheelhouse: $out ($(ls "$out" | wc -l) files); on the box: sudo bash scripts/install.sh --wheelhouse $out"
