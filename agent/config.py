"""The box's devices.yaml: where it is, and how the box reads it. The schema itself is shared
with the center (hcc_common/devices_config.py, hcc_common/check_kinds/)."""

from __future__ import annotations

from pathlib import Path

# the box reads its file with the shared schema, every kind of the registry, its own profiles
from hcc_common.devices_config import load as load

DEFAULT_CONFIG = "devices.yaml"
# `hcc-agent run` exits with this on a config error (EX_CONFIG, sysexits.h): the unit's
# RestartPreventExitStatus, since restarting every 5 s cannot fix a file.
EXIT_CONFIG = 78
INSTALLED_CONFIG = Path("/etc/hcc-agent/devices.yaml")


def default_config_path(installed: Path = INSTALLED_CONFIG) -> Path:
    """An installed box's config when there is one, else devices.yaml here."""
    try:
        return installed if installed.exists() else Path(DEFAULT_CONFIG)
    except OSError:  # /etc/hcc-agent is root:hcc-agent 0750: there, but not this user's to read
        return installed  # loading it then says so, naming the file


def service_state_dirs(config_path: Path) -> list[Path]:
    """Where the service keeps its state for this config: the unit's StateDirectory= beside an
    installed /etc/hcc-agent/devices.yaml (ROOT/etc/hcc-agent -> ROOT/var/lib/hcc-agent, so an
    image or a test root too), unless the config sets agent.state_dir itself."""
    folder = config_path.parent
    if folder.parent.name != "etc":
        return []
    return [folder.parent.parent / "var" / "lib" / folder.name]
