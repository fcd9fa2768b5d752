#!/usr/bin/env bash
# Installs what hcc-fleet needs on a fresh Debian / Raspberry Pi OS machine: Debian packages
# (only those missing), then a venv in .venv with the project and its test tools.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(mosquitto snmp python3-venv)
if [[ "${HCC_WITH_TEST_TOOLS:-0}" == 1 ]]; then
  # real peers for the tests: Nagios plugins, CUPS' ippeveprinter (needs avahi on D-Bus), openssl
  APT_PACKAGES+=(mosquitto-clients monitoring-plugins-basic cups-ipp-utils avahi-daemon dbus openssl
                 chromium chromium-driver poppler-utils dnsmasq-base iproute2 slapd
                 debootstrap systemd-container)  # a booted Debian 12 for docs/operations.md's steps
fi

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
# Reinstall only when the project's dependency list changed.
stamp=.venv/.hcc-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
  echo "bootstrap: installing Python packages into .venv" >&2
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,controller]' \
       > .venv/pip-install.log 2>&1; then
    cat .venv/pip-install.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
