"""The original directord 0.12.0 wheel, for tests that compare against its shipped files.

The wheel is downloaded once with pip into the running venv (``<venv>/upstream-directord``)
and checked against a pinned SHA-256; parts of it are extracted next to it on first use.
Later runs, including concurrent ones, reuse both without touching the network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

VERSION = "0.12.0"
WHEEL = f"directord-{VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "a30fc3fad1f4a3237f976bd9fb03ab2d20349887597ffdc7dff89fdca2cc2080"
SHARE = f"directord-{VERSION}.data/data/share/directord"  # the wheel's data files (tools, components, ...)
CACHE = Path(sys.prefix) / "upstream-directord"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """One process at a time fills the cache."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def upstream_wheel() -> Path:
    """The cached wheel of directord 0.12.0, downloaded with pip if absent."""
    wheel = CACHE / WHEEL
    with _locked():
        if not wheel.is_file():
            with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
                result = subprocess.run(
                    [sys.executable, "-m", "pip", "download", "-q", f"directord=={VERSION}", "--no-deps",
                     "--only-binary=:all:", "-d", scratch],
                    capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
                if result.returncode != 0:
                    raise RuntimeError(f"pip could not download directord=={VERSION}:\n{result.stderr}")
                Path(scratch, WHEEL).replace(wheel)
        digest = _sha256(wheel)
    if digest != WHEEL_SHA256:
        raise RuntimeError(f"{wheel} has SHA-256 {digest}, not the pinned {WHEEL_SHA256}; delete it to retry")
    return wheel


def upstream_files(subdir: str) -> Path:
    """The wheel's files under ``subdir`` (a path inside the wheel, e.g. ``f"{SHARE}/tools"``), extracted."""
    prefix = subdir.strip("/") + "/"
    target = CACHE / VERSION / prefix
    wheel = upstream_wheel()
    with _locked():
        if not target.is_dir():
            with zipfile.ZipFile(wheel) as archive:
                members = [name for name in archive.namelist() if name.startswith(prefix) and not name.endswith("/")]
                if not members:
                    raise FileNotFoundError(f"{WHEEL} has nothing under {prefix}")
                scratch = Path(tempfile.mkdtemp(dir=CACHE))
                try:
                    for name in members:
                        archive.extract(name, scratch)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    (scratch / prefix).replace(target)
                finally:
                    shutil.rmtree(scratch)
    return target
