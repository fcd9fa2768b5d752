#!/usr/bin/env bash
# Install hcc-fleet as a Debian service: venv in /opt/hcc-fleet, config in /etc/hcc-agent (or
# /etc/hcc-controller), state in /var/lib/..., the systemd unit enabled.
#   sudo bash scripts/install.sh                 # the agent on a center's box
#   sudo bash scripts/install.sh --controller    # the central controller
#   bash scripts/install.sh --root /tmp/x        # into a folder (tests, image building)
#   sudo bash scripts/install.sh --uninstall     # remove program and unit; config and state stay
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
root=/
role=agent
venv=1
uninstall=0
while (($#)); do
  case $1 in
    --root) root=$2; shift ;;
    --controller) role=controller ;;
    --no-venv) venv=0 ;;
    --uninstall) uninstall=1 ;;
    *) echo "usage: install.sh [--root DIR] [--controller] [--no-venv] [--uninstall]" >&2; exit 2 ;;
  esac
  shift
done
root=${root%/}
name=hcc-$role
prefix=$root/opt/hcc-fleet
unit_dir=$root/etc/systemd/system
config_dir=$root/etc/$name
state_dir=$root/var/lib/$name

if ((uninstall)); then
  if [[ -z $root ]] && command -v systemctl >/dev/null; then
    systemctl disable --now "$name.service" 2>/dev/null || true
  fi
  rm -f "$unit_dir/$name.service" "$unit_dir/multi-user.target.wants/$name.service"
  other=hcc-agent; [[ $role == agent ]] && other=hcc-controller
  # the venv is shared by both roles: keep it while the other unit is installed
  [[ -e $unit_dir/$other.service ]] || rm -rf "$prefix"
  echo "uninstalled $name; kept $config_dir and $state_dir"
  exit 0
fi

install -d -m 0755 "$prefix" "$unit_dir" "$unit_dir/multi-user.target.wants"
install -d -m 0750 "$config_dir" "$state_dir"
if ((venv)); then
  [[ -x $prefix/venv/bin/python ]] || python3 -m venv "$prefix/venv"
  "$prefix/venv/bin/python" -m pip install -q --disable-pip-version-check "$src" \
      > "$prefix/pip-install.log" 2>&1 || { cat "$prefix/pip-install.log" >&2; exit 1; }
else
  # an empty stand-in, so unit checks find an executable (not a usable install)
  install -d "$prefix/venv/bin"
  printf '#!/bin/sh\necho "hcc-fleet: installed with --no-venv" >&2\nexit 1\n' > "$prefix/venv/bin/$name"
  chmod 0755 "$prefix/venv/bin/$name"
fi
install -m 0644 "$src/README.md" "$prefix/README.md"
install -m 0644 "$src/systemd/$name.service" "$unit_dir/$name.service"
if [[ $role == agent ]]; then
  [[ -e $config_dir/devices.yaml ]] || install -m 0640 "$src/devices.yaml" "$config_dir/devices.yaml"
else
  [[ -e $config_dir/controller.yaml ]] || cat > "$config_dir/controller.yaml" <<'YAML'
# controller.yaml: see /opt/hcc-fleet/README.md and docs/alert-desk.md
mqtt: {url: "mqtt://127.0.0.1:1883"}
http: {listen: "127.0.0.1:8080"}
YAML
fi
if [[ -z $root ]]; then
  id "$name" >/dev/null 2>&1 || useradd --system --home-dir "/var/lib/$name" --shell /usr/sbin/nologin "$name"
  chown -R "$name:$name" "$state_dir"
  chown "root:$name" "$config_dir" && chmod 0750 "$config_dir"
  systemctl daemon-reload
  systemctl enable "$name.service"
else
  ln -sf "../$name.service" "$unit_dir/multi-user.target.wants/$name.service"
fi
echo "installed $name: program $prefix, config $config_dir, state $state_dir, unit enabled"
