"""What this box is, for the fleet inventory: software and config version, OS, model, devices."""

from __future__ import annotations

import hashlib
import platform
from importlib import metadata
from pathlib import Path

import psutil

from hcc_common.wire import MetricValue

OS_RELEASE = Path("/etc/os-release")
# A Raspberry Pi (and most ARM boards) name themselves here, e.g. "Raspberry Pi 4 Model B Rev 1.4".
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")


def software_version() -> str:
    try:
        return metadata.version("hcc-fleet")
    except metadata.PackageNotFoundError:
        return "unknown"


def config_version(path: Path) -> str:
    """The first 12 hex digits of the config file's SHA-256: the same text, the same version."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "unknown"


def os_name(os_release: Path = OS_RELEASE) -> str:
    try:
        for line in os_release.read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return f"{platform.system()} {platform.release()}"


def model(device_tree: Path = DEVICE_TREE_MODEL) -> str:
    try:
        return device_tree.read_bytes().rstrip(b"\0").decode("utf-8", "replace").strip()
    except OSError:
        return platform.machine()


def inventory(config_path: Path, devices: int) -> dict[str, MetricValue]:
    return {"software": software_version(), "config_version": config_version(config_path),
            "os": os_name(), "model": model(), "devices": devices,
            "boot_time": round(psutil.boot_time())}
