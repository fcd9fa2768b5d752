"""A Raspberry Pi's userland here: Debian 12 arm64 run through qemu-user and binfmt_misc, the agent
installed into it offline from the --pi wheelhouse with scripts/install.sh, as on a real box.

Raspberry Pi OS 12 is Debian 12 (bookworm) arm64. What is slow to make is cached between runs in
$HCC_PI_CACHE (default /var/cache/hcc-fleet-test): the debootstrapped root (about 7 minutes, its
second stage runs emulated) and the wheelhouse's downloads, keyed by pyproject.toml's hash. Each
user of it installs into its own copy of the root. Only Debian packages and wheels are downloaded.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("HCC_PI_CACHE", "/var/cache/hcc-fleet-test"))
MIRROR = os.environ.get("HCC_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# install.sh also needs useradd (passwd), install/chown (coreutils) and find (findutils): all in
# minbase. python3-venv brings ensurepip's pip, so the venv is made with no network.
PACKAGES = ("python3", "python3-venv")
BINFMT = Path("/proc/sys/fs/binfmt_misc")
QEMU_CONF = Path("/usr/lib/binfmt.d/qemu-aarch64.conf")
HOST_PACKAGES = ("qemu-user-static", "debootstrap")
# the project as install.sh reads it: what a clone holds, without the developer's leftovers
SOURCE_IGNORE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", ".mypy_cache",
                                       ".ruff_cache", ".pytest_cache")


def cannot_run() -> str | None:
    """Why this machine cannot run an arm64 root, or None when it can."""
    if os.geteuid() != 0:
        return "needs root (binfmt_misc registration, debootstrap, chroot)"
    if "binfmt_misc" not in Path("/proc/filesystems").read_text() and not (BINFMT / "status").exists():
        return "the kernel has no binfmt_misc: foreign binaries cannot run here"
    if shutil.which("apt-get") is None and not (shutil.which("debootstrap") and QEMU_CONF.exists()):
        return "neither qemu-user-static and debootstrap nor apt-get to install them"
    return None


def ensure_emulation() -> None:
    """qemu-user-static and debootstrap installed, binfmt_misc mounted, aarch64 registered.

    The registration's F flag makes the kernel open the interpreter now, so it also runs inside
    the chroot, where /usr/libexec/qemu-binfmt does not exist."""
    missing = [p for p in HOST_PACKAGES
               if subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                                 text=True, check=False).stdout.find("install ok installed") < 0]
    if missing:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        install = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
                   "--no-install-recommends", *missing]
        if subprocess.run(install, capture_output=True, timeout=900, env=env,
                          check=False).returncode != 0:  # a fresh machine: no package lists yet
            subprocess.run(["apt-get", "-q", "update"], check=True, capture_output=True,
                           timeout=900, env=env)
            subprocess.run(install, check=True, capture_output=True, timeout=900, env=env)
    if not (BINFMT / "status").exists():
        subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], check=True,
                       capture_output=True, timeout=30)
    if not (BINFMT / "qemu-aarch64").exists():
        (BINFMT / "register").write_text(QEMU_CONF.read_text().strip() + "\n")
    elif (BINFMT / "qemu-aarch64").read_text().startswith("disabled"):
        (BINFMT / "qemu-aarch64").write_text("1\n")


def base_root() -> Path:
    """Debian 12 arm64 minbase with python3 and python3-venv: debootstrapped once, then cached."""
    base = CACHE / "bookworm-arm64"
    if (base / "usr/bin/python3").exists():
        return base
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = CACHE / "bookworm-arm64.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run(["debootstrap", "--arch=arm64", "--variant=minbase",
                    f"--include={','.join(PACKAGES)}", "bookworm", str(tmp), MIRROR],
                   check=True, capture_output=True, timeout=3600)
    tmp.rename(base)  # only a finished root is ever used
    return base


def pi_wheelhouse(python: str) -> Path:
    """scripts/build-wheelhouse.sh --pi, kept per pyproject.toml and script: the dependencies are
    downloaded once; later calls only rebuild the project's own wheel (its code changes), with no
    network."""
    key = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()
                         + (ROOT / "scripts/build-wheelhouse.sh").read_bytes()).hexdigest()[:16]
    house = CACHE / f"wheels-pi-{key}"
    complete = house / ".complete"
    if complete.exists():
        for old in house.glob("hcc_fleet-*.whl"):
            old.unlink()
        subprocess.run([python, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                        "--no-deps", "-w", str(house), str(ROOT)], check=True,
                       capture_output=True, text=True, timeout=600)
        return house
    shutil.rmtree(house, ignore_errors=True)
    house.mkdir(parents=True)
    subprocess.run(["bash", str(ROOT / "scripts/build-wheelhouse.sh"), str(house), "--pi"],
                   check=True, capture_output=True, text=True, timeout=1800,
                   env=dict(os.environ, PYTHON=python))
    complete.write_text("")
    return house


def chroot(root: Path, *argv: str, timeout: float = 600.0, user: str | None = None,
           ) -> subprocess.CompletedProcess[str]:
    """Run argv in the arm64 root, with its own /proc (in a mount namespace that ends with it, so
    nothing stays mounted in the folder). The host's network is shared: 127.0.0.1 is the host's."""
    return subprocess.run(chroot_argv(root, *argv, user=user), capture_output=True, text=True,
                          timeout=timeout, check=False, env=CHROOT_ENV)


CHROOT_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
              "LANG": "C.UTF-8", "HOME": "/root"}


def chroot_argv(root: Path, *argv: str, user: str | None = None) -> list[str]:
    # as `sudo -u USER` does: that user's HOME and a clean environment
    as_user = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
               "--reset-env"] if user else []
    return ["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c",
            'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"', str(root), *as_user, *argv]


def installed_root(dest: Path, wheelhouse: Path, *install_args: str) -> subprocess.CompletedProcess[str]:
    """A copy of the base root at dest, with the agent installed offline as a box's technician
    does: the project's folder and the wheelhouse copied in, `install.sh --wheelhouse`."""
    subprocess.run(["cp", "-a", str(base_root()), str(dest)], check=True, timeout=900)
    shutil.copytree(ROOT, dest / "opt/src", ignore=SOURCE_IGNORE)
    shutil.copytree(wheelhouse, dest / "opt/wheels")
    return chroot(dest, "bash", "/opt/src/scripts/install.sh", "--wheelhouse", "/opt/wheels",
                  "--no-start", *install_args, timeout=1800)


def remove_root(root: Path) -> None:
    """Remove a copy; refuses while anything is mounted inside (never delete through a mount)."""
    mounts = Path("/proc/mounts").read_text().split()
    if any(m == str(root) or m.startswith(f"{root}/") for m in mounts):
        raise RuntimeError(f"{root} still has mounts: not removed")
    shutil.rmtree(root, ignore_errors=True)
