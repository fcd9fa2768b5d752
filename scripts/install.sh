#!/usr/bin/env bash
# Install hcc-fleet as a Debian / Raspberry Pi OS service: a venv in /opt/hcc-fleet, config in
# /etc/hcc-agent (or /etc/hcc-controller) readable by the service user and nobody else, state in
# /var/lib/..., the systemd unit enabled and started, and the next steps printed.
#   sudo bash scripts/install.sh [--center ID] [--agent ID] [--broker URL]   # a center's box
#   sudo bash scripts/install.sh --wheelhouse DIR     # a box without internet (build-wheelhouse.sh)
#   sudo bash scripts/install.sh --controller         # the central controller
#   sudo bash scripts/install.sh --uninstall          # remove program and unit; config and state stay
#   bash scripts/install.sh --root DIR [--user NAME]  # into a folder (tests, image building)
# The agent gets only what it needs; the controller's web and database stack is the extra
# [controller].
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
root=/
role=agent
venv=1
uninstall=0
wheelhouse=""
user=""
center=""
agent_id=""
broker="mqtt://127.0.0.1:1883"
start=1
usage="usage: install.sh [--root DIR] [--controller] [--user NAME] [--center ID] [--agent ID]
       [--broker URL] [--wheelhouse DIR] [--no-venv] [--no-start] [--uninstall]"
while (($#)); do
  case $1 in
    --root) root=$2; shift ;;
    --controller) role=controller ;;
    --user) user=$2; shift ;;
    --center) center=$2; shift ;;
    --agent) agent_id=$2; shift ;;
    --broker) broker=$2; shift ;;
    --wheelhouse) wheelhouse=$(cd "$2" && pwd); shift ;;
    --no-venv) venv=0 ;;
    --no-start) start=0 ;;
    --uninstall) uninstall=1 ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
root=${root%/}
name=hcc-$role
user=${user:-$name}
prefix=$root/opt/hcc-fleet
unit_dir=$root/etc/systemd/system
config_dir=$root/etc/$name
state_dir=$root/var/lib/$name
is_root=0; [[ $(id -u) -eq 0 ]] && is_root=1
live=0; [[ -z $root && -d /run/systemd/system ]] && live=1   # systemd is running this machine

if ((uninstall)); then
  if ((live)); then systemctl disable --now "$name.service" 2>/dev/null || true; fi
  rm -f "$unit_dir/$name.service" "$unit_dir/multi-user.target.wants/$name.service"
  # the command on PATH, only if it is ours (a link into this venv)
  [[ $(readlink "$root/usr/local/bin/$name" 2>/dev/null) == /opt/hcc-fleet/*/bin/$name ]] &&
    rm -f "$root/usr/local/bin/$name"
  if [[ $role == agent ]]; then
    if ((live)); then systemctl disable --now hcc-agent-update.path 2>/dev/null || true; fi
    rm -f "$unit_dir"/hcc-agent-update.{service,path} "$unit_dir/paths.target.wants/hcc-agent-update.path"
  fi
  other=hcc-agent; [[ $role == agent ]] && other=hcc-controller
  # the venv is shared by both roles: keep it while the other unit is installed
  [[ -e $unit_dir/$other.service ]] || rm -rf "$prefix"
  echo "uninstalled $name; kept $config_dir and $state_dir"
  exit 0
fi

# -- Debian packages (only when installing onto this machine) ---------------------------------
if [[ -z $root ]] && ((is_root)) && ((venv)); then
  need=()
  for pkg in python3-venv; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  if ((${#need[@]})); then
    # A freshly booted Pi runs unattended-upgrades: wait for the dpkg lock, do not fail on it.
    apt_opts=(-o DPkg::Lock::Timeout=600 -q)
    [[ -n $wheelhouse ]] || apt-get "${apt_opts[@]}" update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y --no-install-recommends \
      "${need[@]}" >/dev/null
  fi
fi

# -- the service user --------------------------------------------------------------------------
# Into a folder (--root: tests, an image), this machine's users are not the image's: a user that
# does not exist here is not created here, and ownership is left to the image.
if ((is_root)) && [[ -z $root ]] && ! id "$user" >/dev/null 2>&1; then
  useradd --system --user-group --home-dir "/var/lib/$name" --shell /usr/sbin/nologin "$user"
fi
# the service's group is the user's own primary group (nobody's is nogroup, not "nobody")
group=$user
if id "$user" >/dev/null 2>&1; then group=$(id -gn "$user"); fi

# A Python the service user can run: the venv's python is a link to it. Debian's own first
# (a pyenv or a python under /root on PATH is root's only: the service would get "Permission
# denied"), and checked as that user.
python=${PYTHON:-}
if [[ -z $python ]]; then
  if [[ -x /usr/bin/python3 ]]; then python=/usr/bin/python3; else python=$(command -v python3); fi
fi
# (runuser, not setpriv: setpriv resolves the program as root, so a root-only path passes it)
if ((venv)) && ((is_root)) && command -v runuser >/dev/null && id "$user" >/dev/null 2>&1 &&
   ! runuser -u "$user" -- "$python" -c "" 2>/dev/null; then
  echo "error: $python cannot be run by $user (the service would fail with Permission denied):" \
       "give PYTHON=/usr/bin/python3 or another python $user can run" >&2
  exit 1
fi

# -- the program ---------------------------------------------------------------------------------
install -d -m 0755 "$prefix" "$unit_dir" "$unit_dir/multi-user.target.wants"
target="$src"; [[ $role == controller ]] && target="$src[controller]"
if ((venv)); then
  [[ -x $prefix/venv/bin/python ]] || "$python" -m venv "$prefix/venv"
  pip=("$prefix/venv/bin/python" -m pip install -q --disable-pip-version-check)
  if [[ -n $wheelhouse ]]; then
    # offline: everything from the wheelhouse built centrally, nothing from the internet
    pip+=(--no-index --find-links "$wheelhouse")
    target="hcc-fleet"; [[ $role == controller ]] && target="hcc-fleet[controller]"
  fi
  "${pip[@]}" "$target" > "$prefix/pip-install.log" 2>&1 || { cat "$prefix/pip-install.log" >&2; exit 1; }
else
  # an empty stand-in, so unit checks find an executable (not a usable install)
  install -d "$prefix/venv/bin"
  printf '#!/bin/sh\necho "hcc-fleet: installed with --no-venv" >&2\nexit 1\n' > "$prefix/venv/bin/$name"
  chmod 0755 "$prefix/venv/bin/$name"
fi
install -m 0644 "$src/README.md" "$prefix/README.md"
# the unit runs as the user and group chosen here (--user), not the names it ships with
sed -e "s/^User=.*/User=$user/" -e "s/^Group=.*/Group=$group/" "$src/systemd/$name.service" \
  > "$unit_dir/$name.service"
chmod 0644 "$unit_dir/$name.service"
# on PATH, so that the docs' `sudo hcc-agent …` works (sudo's secure_path has /usr/local/bin)
install -d -m 0755 "$root/usr/local/bin"
# the agent through current/ (fleet updates switch it), the controller its venv
if [[ $role == agent ]]; then bin_dir=/opt/hcc-fleet/current/venv/bin; else bin_dir=/opt/hcc-fleet/venv/bin; fi
ln -sfn "$bin_dir/$name" "$root/usr/local/bin/$name"
if [[ $role == agent ]]; then
  # fleet updates (docs/operations.md): the unit runs current/venv; as installed, current is
  # this venv; the installer unit runs when the agent has staged a signed release
  [[ -L $prefix/current ]] || ln -sfn . "$prefix/current"
  install -d -m 0755 "$prefix/releases"
  for unit in hcc-agent-update.service hcc-agent-update.path; do
    install -m 0644 "$src/systemd/$unit" "$unit_dir/$unit"
  done
fi

# -- config and state: the service user reads its config and secrets, nobody else --------------
install -d -m 0750 "$config_dir" "$state_dir"
if [[ $role == agent ]]; then
  if [[ ! -e $config_dir/devices.yaml ]]; then
    center=${center:-$(hostname -s | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_.\n-' '-')}
    cat > "$config_dir/devices.yaml" <<YAML
# This box's devices. Add them with \`hcc-agent discover --write\`, by hand (the commented
# example is /opt/hcc-fleet/README.md and devices.yaml in the project), or from the controller.
center: {id: ${center}}
agent: {id: ${agent_id:-pi-1}}
mqtt: {url: "${broker}"}
devices: []
YAML
  fi
else
  [[ -e $config_dir/controller.yaml ]] || cat > "$config_dir/controller.yaml" <<'YAML'
# controller.yaml: see /opt/hcc-fleet/README.md and docs/alert-desk.md
mqtt: {url: "mqtt://127.0.0.1:1883"}
http: {listen: "127.0.0.1:8080"}
YAML
fi
if ((is_root)) && id "$user" >/dev/null 2>&1; then
  chown root:"$group" "$config_dir"
  find "$config_dir" -maxdepth 1 -type f -exec chown root:"$group" {} + -exec chmod 0640 {} +
  chown -R "$user:$group" "$state_dir"
fi

# -- the unit --------------------------------------------------------------------------------------
if ((live)); then
  systemctl daemon-reload
  if ((start)); then systemctl enable --now "$name.service"; else systemctl enable "$name.service"; fi
  if [[ $role == agent ]]; then systemctl enable --now hcc-agent-update.path; fi
else
  ln -sf "../$name.service" "$unit_dir/multi-user.target.wants/$name.service"
  if [[ $role == agent ]]; then
    install -d "$unit_dir/paths.target.wants"
    ln -sf ../hcc-agent-update.path "$unit_dir/paths.target.wants/hcc-agent-update.path"
  fi
fi
echo "installed $name: program $prefix, config $config_dir (owner root:$group, 0640), state $state_dir"
if [[ $role == agent ]]; then
  cat <<NEXT
next steps:
  1. give the box its broker credentials:  sudo hcc-agent enroll https://CONTROLLER:8443 CODE --fingerprint SHA256
     (the code from \`hcc-controller enroll CENTER --agent ID\`; by hand: docs/operations.md)
  2. find the center's devices:            sudo hcc-agent discover --write
  3. check them now, in plain words:       sudo -u $user hcc-agent check
  4. watch the service:                    systemctl status $name; journalctl -u $name -f
NEXT
else
  cat <<NEXT
next steps:
  1. you, the first admin (the CLI acts as an account: under sudo, \$SUDO_USER):
                                           sudo -u $user hcc-controller user add "\$USER" --role admin
  2. the broker's TLS, users and ACL:      sudo hcc-controller broker-config --out /etc/mosquitto/hcc --config $config_dir/controller.yaml
  3. the dashboard's HTTPS certificate:    sudo hcc-controller http-cert --out $config_dir --hostname HOST
  4. edit $config_dir/controller.yaml (centers, notify, http, enroll), then: systemctl restart $name
  5. open the dashboard and sign in:       http://127.0.0.1:8080/
NEXT
fi
