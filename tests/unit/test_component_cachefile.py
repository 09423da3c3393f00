"""CACHEFILE: a YAML/JSON file on the node deep-merged into its args."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from directord.cache import Cache
from directord.components import cachefile
from directord.exceptions import ComponentError, TemplateError

from .helpers import built

BASE_ARGS = {"nested": {"keep": 1, "list": ["a"]}, "items": [1, 2], "plain": "old"}
EXPECTED = {
    "nested": {"keep": 1, "list": ["a", "b"], "added": True},
    "items": [1, 2, 3],
    "plain": "new",
    "fresh": {"k": "v"},
}
FILE_VALUES = {"nested": {"list": ["b"], "added": True}, "items": [3], "plain": "new", "fresh": {"k": "v"}}


def run(cache: Cache, path: str) -> tuple:
    return cachefile.Component().client(cache, {"cachefile": path})


# -- server() ------------------------------------------------------------------
def test_server_field() -> None:
    job = built("CACHEFILE", "/etc/directord/facts.yaml")
    assert job["cachefile"] == "/etc/directord/facts.yaml"
    keys = list(job)
    assert keys[: keys.index("job_sha3_224")] == ["verb", "cachefile", "timeout", "run_once"]


def test_server_keeps_a_templated_path() -> None:
    assert built("CACHEFILE", "{{ dir }}/x.yaml")["cachefile"] == "{{ dir }}/x.yaml"


def test_server_needs_a_path() -> None:
    with pytest.raises(ComponentError):
        built("CACHEFILE", "")


def test_not_cacheable_and_locked() -> None:
    assert cachefile.Component.cacheable is False
    assert cachefile.Component.requires_lock is True


# -- client() ------------------------------------------------------------------
def test_yaml_file_is_merged_with_extend(cache: Cache, tmp_path: Path) -> None:
    cache.set("args", BASE_ARGS)
    path = tmp_path / "facts.yaml"
    path.write_text(
        "nested:\n  list: [b]\n  added: true\nitems:\n  - 3\nplain: new\nfresh:\n  k: v\n", encoding="utf-8")
    stdout, stderr, outcome, _ = run(cache, str(path))
    assert (stdout, stderr, outcome) == ("Cache file loaded", None, True)
    assert cache.get("args") == EXPECTED


def test_json_file_is_merged_with_extend(cache: Cache, tmp_path: Path) -> None:
    cache.set("args", BASE_ARGS)
    path = tmp_path / "facts.json"
    path.write_text(json.dumps(FILE_VALUES), encoding="utf-8")
    stdout, _, outcome, _ = run(cache, str(path))
    assert (stdout, outcome) == ("Cache file loaded", True)
    assert cache.get("args") == EXPECTED


def test_loading_into_an_empty_cache(cache: Cache, tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("a: 1\nb: [x]\n", encoding="utf-8")
    assert run(cache, str(path))[2] is True
    assert cache.get("args") == {"a": 1, "b": ["x"]}
    assert dict(cache.items(tag="args")) == {"args": {"a": 1, "b": ["x"]}}  # evictable by tag


def test_loading_twice_extends_lists_again(cache: Cache, tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("l: [1]\n", encoding="utf-8")
    run(cache, str(path))
    run(cache, str(path))
    assert cache.get("args") == {"l": [1, 1]}


def test_templated_path_is_rendered_with_args(cache: Cache, tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("loaded: yes\n", encoding="utf-8")
    cache.set("args", {"dir": str(tmp_path)})
    stdout, _, outcome, _ = run(cache, "{{ dir }}/x.yaml")
    assert (stdout, outcome) == ("Cache file loaded", True)
    assert cache.get("args") == {"dir": str(tmp_path), "loaded": True}


def test_undefined_template_variable_in_path_fails(cache: Cache) -> None:
    with pytest.raises(TemplateError, match="nowhere"):  # the client fails the job with the message
        run(cache, "{{ nowhere }}/x.yaml")


def test_missing_file_fails_with_the_reason(cache: Cache, tmp_path: Path) -> None:
    cache.set("args", {"a": 1})
    path = tmp_path / "absent.yaml"
    stdout, stderr, outcome, _ = run(cache, str(path))
    assert outcome is False
    assert stdout is None
    assert str(path) in stderr
    assert "No such file" in stderr
    assert cache.get("args") == {"a": 1}


def test_directory_instead_of_file_fails(cache: Cache, tmp_path: Path) -> None:
    _, stderr, outcome, _ = run(cache, str(tmp_path))
    assert outcome is False
    assert str(tmp_path) in stderr


@pytest.mark.parametrize(("content", "kind"), [("- a\n- b\n", "list"), ("just text\n", "str"), ("42\n", "int")])
def test_non_mapping_fails(cache: Cache, tmp_path: Path, content: str, kind: str) -> None:
    cache.set("args", {"a": 1})
    path = tmp_path / "list.yaml"
    path.write_text(content, encoding="utf-8")
    stdout, stderr, outcome, _ = run(cache, str(path))
    assert outcome is False
    assert stdout is None
    assert "mapping" in stderr
    assert kind in stderr
    assert cache.get("args") == {"a": 1}


def test_broken_yaml_fails_with_the_parser_error(cache: Cache, tmp_path: Path) -> None:
    cache.set("args", {"a": 1})
    path = tmp_path / "broken.yaml"
    path.write_text("key: [unclosed\nother: value\n", encoding="utf-8")
    stdout, stderr, outcome, _ = run(cache, str(path))
    assert outcome is False
    assert stdout is None
    assert str(path) in stderr
    assert "line" in stderr  # the YAML error names where it broke
    assert cache.get("args") == {"a": 1}


def test_yaml_tags_are_not_executed(cache: Cache, tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text("a: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    _, stderr, outcome, _ = run(cache, str(path))
    assert outcome is False
    assert "python/object" in stderr
    assert cache.get("args") is None
