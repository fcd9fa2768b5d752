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
    # Raspberry Pi OS 12 is Debian 12 arm64: Python 3.11 and glibc 2.36, so every manylinux
    # wheel up to 2_36 loads there. pip matches --platform literally (it does not widen
    # manylinux_2_x), so each one is named: a wheel tagged only manylinux_2_31 is found too.
    --pi) plat=(--python-version 3.11 --implementation cp --abi cp311 --only-binary=:all:
                --platform manylinux2014_aarch64)
          for glibc in $(seq 17 36); do plat+=(--platform "manylinux_2_${glibc}_aarch64"); done ;;
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
if ((${#plat[@]})); then
  # pip cannot build for another platform, and a dependency published only as a source archive
  # has no aarch64 wheel. A pure one (py3-none-any) runs anywhere: build those here first, so
  # the download below finds them in $out; a compiled one without an aarch64 wheel fails there,
  # naming the package.
  pure=$(mktemp -d)
  trap 'rm -rf "$pure"' EXIT
  "$PY" -m pip wheel -q --disable-pip-version-check -w "$pure" --find-links "$out" "$wheel$extra"
  find "$pure" -name '*-none-any.whl' ! -name 'hcc_fleet-*' -exec cp -n {} "$out" \;
  plat+=(--find-links "$out")
fi
# its dependencies, as wheels for the target
"$PY" -m pip download -q --disable-pip-version-check -d "$out" "${plat[@]}" "$wheel$extra"
echo "wheelhouse: $out ($(ls "$out" | wc -l) files); on the box: sudo bash scripts/install.sh --wheelhouse $out"
