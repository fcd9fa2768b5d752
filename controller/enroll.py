"""Enrollment: a short one-time code, made centrally, that a new box trades over HTTPS for its own
broker credentials (a user bound to its client id), the CA and the broker's address."""

from __future__ import annotations

import hashlib
import logging
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from controller.config import EnrollSettings
from hcc_common.enrollment import Credentials

log = logging.getLogger("hcc.enroll")

# Crockford's base32 without I, L, O, U: read aloud over the phone, typed on a Pi's keyboard.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GROUPS, GROUP_LEN = 3, 4  # 12 characters: 60 bits, single use, valid for hours


class EnrollError(Exception):
    """A code that is unknown, used or expired, or credentials that could not be made."""


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(GROUPS * GROUP_LEN))
    return "-".join(raw[i:i + GROUP_LEN] for i in range(0, len(raw), GROUP_LEN))


def code_hash(code: str) -> str:
    """What the database keeps of a code (never the code): case and dashes do not matter."""
    canonical = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(canonical.encode()).hexdigest()


# mosquitto re-reads its files on SIGHUP from its main loop and clears the flag when done: a
# second SIGHUP landing while it reads is lost, and the password written just before it with
# it. Enrollments reload one at a time (the broker folder's lock) and this far apart.
RELOAD_SETTLE_S = 0.3


def reload_broker(command: tuple[str, ...]) -> None:
    """Run the broker's reload command (e.g. systemctl reload mosquitto); EnrollError if it
    fails. Called with the broker folder locked, after its files are written and checked."""
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=30,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnrollError(f"broker reload failed: {exc}") from None
    if done.returncode != 0:
        raise EnrollError(f"broker reload failed: {(done.stderr or done.stdout)[:200]}")
    time.sleep(RELOAD_SETTLE_S)


def issue(settings: EnrollSettings, center: str, agent: str,
          controller_keys: str = "") -> Credentials:
    """A new password for this box in the broker's files (the old one stops working when the
    broker reloads), then the broker reloaded. `controller_keys`: the public key(s) the box
    will verify pushed configs with (controller/signing_key.py)."""
    from controller.brokerconf import BrokerConfigError, issue_credentials

    reload = (lambda: reload_broker(settings.reload)) if settings.reload else None
    with tempfile.TemporaryDirectory(prefix="hcc-enroll-") as tmp:
        out = Path(tmp) / "password"
        try:
            user, pw_file, ca_file = issue_credentials(settings.broker_dir, center, agent, out,
                                                       reload=reload)
        except BrokerConfigError as exc:
            raise EnrollError(str(exc)) from None
        password = pw_file.read_text().strip()
        ca_pem = ca_file.read_text()
    log.info("box enrolled", extra={"center": center, "agent": agent, "user": user})
    return Credentials(center=center, agent=agent, broker_url=settings.broker_url, username=user,
                       password=password, ca_pem=ca_pem, controller_keys=controller_keys)
