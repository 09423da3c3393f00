"""The node-side path policy for ADD/COPY, WORKDIR and CACHEFILE."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from directord.cache import Cache
from directord.components import cachefile, lib, workdir


@pytest.fixture
def confined(tmp_path: Path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    lib.configure_paths([str(allowed)])
    yield allowed
    lib.configure_paths([])


@pytest.mark.parametrize("path", ["relative/dir", "", "/srv/with\x00nul"])
def test_paths_must_be_absolute_and_clean(path: str) -> None:
    with pytest.raises(lib.PathRefused, match="absolute"):
        lib.checked_path(path, "destination")


@pytest.mark.parametrize("path", ["/proc/self/environ", "/sys/kernel", "/dev/sda", "/dev"])
def test_kernel_filesystems_are_refused(path: str) -> None:
    with pytest.raises(lib.PathRefused, match="may not touch"):
        lib.checked_path(path, "destination")


def test_confinement_resolves_symlinks(confined: Path, tmp_path: Path) -> None:
    assert lib.checked_path(str(confined / "new" / "file"), "destination").endswith("file")
    escape = confined / "escape"
    escape.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(lib.PathRefused, match="outside the node's --allowed-paths"):
        lib.checked_path(str(escape / "file"), "destination")
    with pytest.raises(lib.PathRefused):
        lib.checked_path(str(tmp_path / "outside"), "destination")


def test_verbs_report_a_refused_path_as_a_failed_job(confined: Path, tmp_path: Path, cache: Cache) -> None:
    _, stderr, outcome, _ = workdir.Component().client(cache, {"workdir": str(tmp_path / "outside")})
    assert outcome is False and "--allowed-paths" in stderr
    assert not (tmp_path / "outside").exists()
    secret = tmp_path / "secret.yaml"
    secret.write_text("token: x\n")
    _, stderr, outcome, _ = cachefile.Component().client(cache, {"cachefile": str(secret)})
    assert outcome is False and "--allowed-paths" in stderr and cache.get("args") is None
    inside = confined / "ok.yaml"
    inside.write_text("fine: true\n")
    assert cachefile.Component().client(cache, {"cachefile": str(inside)})[2] is True


def test_oversized_cache_file_is_refused(tmp_path: Path, cache: Cache) -> None:
    big = tmp_path / "big.yaml"
    with open(big, "wb") as handle:
        handle.truncate(cachefile.MAX_BYTES + 1)
    _, stderr, outcome, _ = cachefile.Component().client(cache, {"cachefile": str(big)})
    assert outcome is False and "larger than" in stderr
    assert os.path.getsize(big) > cachefile.MAX_BYTES
