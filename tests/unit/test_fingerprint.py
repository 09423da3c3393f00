"""Fingerprints: the golden SHA3-224 vectors of spec 3.2 that our built-in verbs can produce."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from directord import fingerprint
from directord.fingerprint import file_sha3_224, object_sha3_224
from directord.orchestration import build_job


def test_object_golden_vector() -> None:
    assert object_sha3_224({"test": "value"}) == "4bc695abcb557b8e893a69389488afa07fcf9b42028de30db92c887b"


def test_object_digest_keeps_key_order_and_default_separators() -> None:
    # No key sorting: insertion order is part of the fingerprint.
    assert object_sha3_224({"a": 1, "b": 2}) != object_sha3_224({"b": 2, "a": 1})
    expected = hashlib.sha3_224(b'{"a": 1, "b": [1, 2]}').hexdigest()
    assert object_sha3_224({"a": 1, "b": [1, 2]}) == expected


def test_run_job_dict_golden_vector() -> None:
    job = {
        "verb": "RUN",
        "no_block": False,
        "retry": 1,
        "command": "long '{{ jinja }}' quoted string string",
        "timeout": 600,
        "run_once": False,
    }
    assert object_sha3_224(job) == "9bbc435b49b5104da33093b22402c75a263a2d1665bcfc6faa29249e"


def test_run_job_built_from_text_matches_golden_vector() -> None:
    job = build_job("RUN", "long '{{ jinja }}' quoted string string")
    assert job["command"] == "long '{{ jinja }}' quoted string string"
    assert job["job_sha3_224"] == "9bbc435b49b5104da33093b22402c75a263a2d1665bcfc6faa29249e"


def test_arg_golden_vector() -> None:
    job = build_job("ARG", "key value")
    assert job["args"] == {"key": "value"}
    assert job["job_sha3_224"] == "a5d63364114e96a96e5be4261f31a9bc0a45ecd2d5edba11336dd896"
    literal = {"verb": "ARG", "args": {"key": "value"}, "timeout": 600, "run_once": False}
    assert object_sha3_224(literal) == job["job_sha3_224"]


def test_orchestration_golden_vector() -> None:
    orchestration = {
        "targets": ["test1", "test2", "test3"],
        "jobs": [{"RUN": "command1"}, {"RUN": "command2"}, {"RUN": "command3"}],
    }
    assert object_sha3_224(orchestration) == "5bc535e8fa927e4a4ab9ca188f8b560935b32a00dacc4f9e76b05d08"


@pytest.mark.parametrize(
    ("execute", "expected"),
    [
        ("command3", "40a7e8a1ca03e22337791ff51665494440c5463269c88228caa49bc3"),
        ("command 1", "04adb60da1a30eb6da60da3ff967fc4d025c39e45ec1ab021835d946"),
    ],
)
def test_run_command_golden_vectors(execute: str, expected: str) -> None:
    job = build_job("RUN", execute)
    # build_job adds timeout and run_once before hashing (spec 3.1 step 4-5).
    assert job["timeout"] == 600
    assert job["run_once"] is False
    assert job["job_sha3_224"] == expected


def test_run_with_vars_golden_vector() -> None:
    job = build_job("RUN", "echo x", {"stdout_arg": "o", "timeout": 5})
    assert job["stdout_arg"] == "o"
    assert job["timeout"] == 5
    assert job["job_sha3_224"] == "c8187de3f789f89043f8ea6d806c5280d614d9516e4e9564a2cc6a75"


def test_job_sha_ignores_fields_added_after_hashing() -> None:
    plain = build_job("RUN", "command3")
    extra = build_job(
        "RUN", "command3", ignore_cache=True, return_raw=True,
        extra={"targets": ["n1"], "parent_id": "p", "job_name": "named", "restrict": ["x"]},
    )
    assert extra["skip_cache"] is True
    assert extra["return_raw"] is True
    assert extra["targets"] == ["n1"]
    assert extra["job_sha3_224"] == plain["job_sha3_224"]


def test_job_sha_covers_the_sha_relevant_fields() -> None:
    base = build_job("RUN", "command3")["job_sha3_224"]
    assert build_job("RUN", "--timeout 5 command3")["job_sha3_224"] != base
    assert build_job("RUN", "--run-once command3")["job_sha3_224"] != base
    assert build_job("RUN", "command4")["job_sha3_224"] != base
    # --skip-cache is not part of the fingerprint.
    assert build_job("RUN", "--skip-cache command3")["job_sha3_224"] == base


def test_whitespace_is_kept_verbatim_not_collapsed() -> None:
    # Deliberate departure from upstream: quoting and inner spacing survive
    # (only the surrounding whitespace of the text is trimmed).
    job = build_job("RUN", "echo a\necho   'b  c'\n")
    assert job["command"] == "echo a\necho   'b  c'"
    expected = object_sha3_224({
        "verb": "RUN", "no_block": False, "retry": 1, "command": "echo a\necho   'b  c'",
        "timeout": 600, "run_once": False,
    })
    assert job["job_sha3_224"] == expected


def test_options_inside_the_command_stay_in_the_command() -> None:
    job = build_job("RUN", "echo --timeout 5 hi")
    assert job["command"] == "echo --timeout 5 hi"
    assert job["timeout"] == 600


def test_file_golden_vector(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"data")
    assert file_sha3_224(str(path)) == "4516c726a95c8d5dadcf1d252fac1f2c2e0c435a2cd76db0be854bf7"


def test_file_digest_is_independent_of_chunking(tmp_path: Path) -> None:
    content = bytes(range(256)) * 200  # 51200 bytes: several 10 KiB chunks
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    expected = hashlib.sha3_224(content).hexdigest()
    assert fingerprint.FILE_CHUNK == 10240
    assert file_sha3_224(str(path)) == expected
    assert file_sha3_224(str(path), chunk_size=7) == expected


def test_file_digest_of_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert file_sha3_224(str(path)) == hashlib.sha3_224(b"").hexdigest()
