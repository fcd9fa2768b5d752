"""Release files fetched from a real controller over HTTPS: pinned to its certificate, for a box
authenticated with its broker credentials, resumed with HTTP Range, kept to a rate."""

from __future__ import annotations

import hashlib
import ssl
import time
from pathlib import Path

import pytest

import tls_center
from agent import updater as up
from conftest import run_cli
from controller.brokerconf import issue_credentials
from controller.release_api import passwd_matches

pytestmark = pytest.mark.integration


def test_passwd_matches_mosquitto_hashes(tmp_path: Path) -> None:
    import subprocess

    pw = tmp_path / "pw"
    pw.write_text("pi-1@ba-dinh:s3cret\n")
    subprocess.run(["mosquitto_passwd", "-U", str(pw)], check=True, timeout=30)
    hashed = pw.read_text().strip().split(":", 1)[1]
    assert passwd_matches(hashed, "s3cret")
    assert not passwd_matches(hashed, "s3cret ") and not passwd_matches(hashed, "")
    assert not passwd_matches("$6$plain$text", "s3cret")
    assert not passwd_matches("$7$99999999$AAAA$AAAA", "s3cret")  # no unbounded work


def test_pinned_authenticated_resumed_rate_limited_download(tmp_path: Path) -> None:
    center = tls_center.start(tmp_path)
    try:
        house = tmp_path / "w"
        house.mkdir()
        blob = bytes(range(256)) * 2048  # 512 KiB
        (house / "hcc_fleet-0.2.0-py3-none-any.whl").write_bytes(blob)
        added = run_cli("hcc-controller", "release", "add", str(house), "--version", "0.2.0",
                        "--config", str(center.config))
        assert added.returncode == 0, added.stderr
        _user, pw_file, _ca = issue_credentials(center.broker_dir, "ba-dinh", "pi-1",
                                                tmp_path / "pw")
        password = pw_file.read_text().strip()
        pem = ssl.get_server_certificate(("127.0.0.1", center.https))
        fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
        name = "hcc_fleet-0.2.0-py3-none-any.whl"
        rate = 1_000_000
        sleeps: list[float] = []
        settings = up.UpdateSettings(url=center.url, fingerprint=fp, rate_bytes_s=rate)
        fetch = up.Fetcher(settings, "pi-1@ba-dinh", password, sleep=sleeps.append)
        # a download cut at 100 KiB resumes there: a wrong prefix stays (the rest is appended)
        dest = tmp_path / "dl.whl"
        dest.write_bytes(b"\0" * 100_000)
        started = time.monotonic()
        fetch.get("0.2.0", name, dest, len(blob))
        elapsed = time.monotonic() - started
        got = dest.read_bytes()
        assert len(got) == len(blob) and got[100_000:] == blob[100_000:]
        assert got[:100_000] == b"\0" * 100_000  # resumed, not fetched again
        # the rate: what was slept and what passed cover the bytes at 1 MB/s
        assert sleeps and sum(sleeps) + elapsed >= 0.9 * (len(blob) - 100_000) / rate
        dest.unlink()
        fetch.get("0.2.0", name, dest, len(blob))
        assert dest.read_bytes() == blob
        # a file the manifest does not list, a wrong password, a wrong pin: refused
        with pytest.raises(up.UpdateRefused, match="404"):
            fetch.get("0.2.0", "../../signing.key", tmp_path / "x", None)
        wrong = up.Fetcher(settings, "pi-1@ba-dinh", "not-it")
        with pytest.raises(up.UpdateRefused, match="401"):
            wrong.get("0.2.0", name, tmp_path / "y", None)
        with pytest.raises(up.UpdateRefused, match="not the pinned one"):
            up.Fetcher(up.UpdateSettings(url=center.url, fingerprint="ab" * 32),
                       "pi-1@ba-dinh", password)
        assert not (tmp_path / "x").exists() or (tmp_path / "x").stat().st_size == 0
    finally:
        center.stop()
