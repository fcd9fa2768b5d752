"""hcc-agent enroll: trade a one-time code for this box's broker credentials over HTTPS, pinned to
the controller certificate's fingerprint, and write them where the service reads them."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.pinning import NotPinned, pinned_context
from hcc_common.enrollment import ENROLL_PATH, Credentials
from hcc_common.faults import default_lang
from hcc_common.keepfile import write_kept
from hcc_common.net_failure import classify, words

KEYS_FILE = "controller.pub"


class EnrollFailed(Exception):
    """Said to the technician as is: what went wrong and what to do."""


def fetch(url: str, code: str, fingerprint: str, timeout: float = 15.0) -> Credentials:
    """POST the code to the controller, trusting exactly the certificate whose SHA-256 the
    operator was given (the box has no CA yet: this is what makes the first contact safe)."""
    import httpx

    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise EnrollFailed(f"{url}: give the controller's https:// address")
    port = parts.port or 443
    where = f"{parts.hostname}:{port}"
    try:
        ctx = pinned_context(parts.hostname, port, fingerprint, timeout)
    except OSError as exc:
        # refused, a name unknown, not TLS there, silence: each says where to look
        raise EnrollFailed(said(exc, where)) from None
    except NotPinned as exc:
        raise EnrollFailed(f"the controller's certificate is not the one you were given "
                           f"(it has {exc.got[:16]}…): do not enroll, call the central team"
                           ) from None
    try:
        r = httpx.post(f"https://{parts.hostname}:{port}{ENROLL_PATH}", json={"code": code},
                       verify=ctx, timeout=timeout)
    except httpx.HTTPError as exc:
        raise EnrollFailed(said(exc, where)) from None
    if r.status_code != 200:
        detail = r.json().get("detail") if r.headers.get("content-type", "").startswith(
            "application/json") else r.text
        raise EnrollFailed(f"the controller refused: {detail}")
    body: dict[str, Any] = r.json()
    try:
        return Credentials.from_json(body)
    except ValueError as exc:
        raise EnrollFailed(str(exc)) from None


def said(exc: BaseException, where: str) -> str:
    """A failure to reach the controller in the technician's words, with the library's own
    line after them for whoever reads the log."""
    failure = classify(exc, where)
    return f"{words(failure, where, default_lang())} ({failure.detail})"


def _private(path: Path, text: str, like: Path | None = None) -> None:
    """Readable by root and the service's group only (0640), as the installer sets config: the
    group is the config folder's (install.sh --user X), never a name assumed here."""
    write_kept(path, text, like=like)


def write(config_path: Path, e: Credentials) -> None:
    """Password and CA beside devices.yaml; devices.yaml's center, agent and mqtt: section
    set to them, keeping its comments and layout."""
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap

    config_path = Path(os.path.abspath(config_path))  # the service reads it from elsewhere
    folder = config_path.parent
    _private(folder / "mqtt.password", e.password + "\n", like=config_path)
    _private(folder / "ca.crt", e.ca_pem, like=config_path)
    if e.controller_keys:
        # the controller's public key(s): pushed configs are taken only when signed by one
        _private(folder / KEYS_FILE, e.controller_keys, like=config_path)
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    doc = yaml.load(config_path.read_text(encoding="utf-8"))
    for key, ident in (("center", e.center), ("agent", e.agent)):
        section = doc.get(key)
        if not isinstance(section, dict):
            section = doc[key] = CommentedMap()
        section["id"] = ident
    mqtt = doc.get("mqtt")
    if not isinstance(mqtt, dict):
        mqtt = doc["mqtt"] = CommentedMap()
    mqtt["url"] = e.broker_url
    mqtt["username"] = e.username
    mqtt["password_file"] = str(folder / "mqtt.password")
    mqtt["ca_file"] = str(folder / "ca.crt")
    if e.controller_keys:
        doc["agent"]["controller_keys"] = [str(folder / KEYS_FILE)]
    text = io.StringIO()
    yaml.dump(doc, text)
    write_kept(config_path, text.getvalue())  # its owner, group and mode kept
