"""Bad datastore input: one clear line (a DatastoreError / PluginNotFound) and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from directord import plugins
from directord.datastores.file import DB_NAME, FileDatastore
from directord.datastores.redis import RedisDatastore
from directord.exceptions import DatastoreError, PluginNotFound


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert text and "\n" not in text
    assert exc.value.exit_code == 2
    return text


def test_file_path_that_cannot_be_created() -> None:
    with pytest.raises(DatastoreError) as exc:
        FileDatastore("file:///proc/forbidden/store")
    text = _one_line(exc)
    assert "/proc/forbidden/store" in text and text.startswith("cannot use file datastore")


def test_file_path_under_a_regular_file(tmp_path: Path) -> None:
    regular = tmp_path / "plain.txt"
    regular.write_text("not a directory")
    with pytest.raises(DatastoreError) as exc:
        FileDatastore((regular / "sub").as_uri())
    text = _one_line(exc)
    assert str(regular / "sub") in text and "Not a directory" in text


def test_file_path_is_a_regular_file(tmp_path: Path) -> None:
    regular = tmp_path / "plain.db"
    regular.write_text("x")
    with pytest.raises(DatastoreError) as exc:
        FileDatastore(regular.as_uri())
    assert str(regular) in _one_line(exc)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite, just some junk bytes" * 100)
    with pytest.raises(DatastoreError) as exc:
        FileDatastore(tmp_path.as_uri())
    text = _one_line(exc)
    assert str(tmp_path / DB_NAME) in text and "not a database" in text


@pytest.mark.parametrize("url", ["file://relative/dir", "file:relative", "file://otherhost/abs/dir"])
def test_file_url_must_be_absolute(url: str) -> None:
    with pytest.raises(DatastoreError, match="file:///absolute/dir") as exc:
        FileDatastore(url)
    _one_line(exc)


def test_unreachable_redis_fails_fast(closed_port: int) -> None:
    port = closed_port
    started = time.monotonic()
    with pytest.raises(DatastoreError) as exc:
        RedisDatastore(f"redis://:s3cret@127.0.0.1:{port}/0")
    assert time.monotonic() - started < 5
    text = _one_line(exc)
    assert text.startswith(f"cannot reach redis at 127.0.0.1:{port}: ")
    assert "s3cret" not in text


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/abc", "redis://127.0.0.1:6379/0?job_ttl=soon",
                                 "redis://127.0.0.1:notaport/0"])
def test_bad_redis_urls(url: str) -> None:
    with pytest.raises(DatastoreError) as exc:
        RedisDatastore(url)
    _one_line(exc)


def test_unknown_scheme() -> None:
    with pytest.raises(PluginNotFound) as exc:
        plugins.load_datastore("ftp://x")
    text = _one_line(exc)
    assert text.startswith("unknown datastore 'ftp'; installed: file, memory, redis, redis+sentinel, rediss,")


def test_builtin_schemes_resolve() -> None:
    assert plugins.load_datastore("file:///tmp/x") is FileDatastore
    assert plugins.load_datastore("redis://h:1/0") is RedisDatastore
    assert plugins.load_datastore("rediss://h:1/0") is RedisDatastore


@pytest.mark.parametrize(("url", "expected"), [
    ("file:///proc/forbidden", "directord: cannot use file datastore /proc/forbidden: "),
    ("redis://127.0.0.1:{port}/0", "directord: cannot reach redis at 127.0.0.1:{port}: "),
    ("ftp://x", "directord: unknown datastore 'ftp'; installed: "),
])
def test_server_start_fails_with_one_line(tmp_path: Path, closed_port: int, url: str, expected: str) -> None:
    port = closed_port
    env = {**os.environ, "DIRECTORD_SOCKET_PATH": str(tmp_path / "sock"), "DIRECTORD_CONFIG_FILE": "/nonexistent"}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from directord.shell import main; sys.exit(main())",
         "server", "--datastore", url.format(port=port)],
        capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(expected.format(port=port))
    assert not (tmp_path / "sock").exists()
