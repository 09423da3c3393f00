"""ADD / COPY server side: options anywhere, quoted and templated paths, the job fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from directord.exceptions import ComponentError
from directord.fingerprint import object_sha3_224

from .helpers import built


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("x.conf.j2", "my file.txt", "b1.txt", "b2.txt"):
        (tmp_path / name).write_text(f"{name}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("text", [
    "--blueprint --chown root --chmod 0600 x.conf.j2 /etc/x.conf",
    "--blueprint x.conf.j2 /etc/x.conf --chown root --chmod 0600",
    "x.conf.j2 --chown root /etc/x.conf --blueprint --chmod=0600",
])
def test_options_before_between_or_after_the_paths(files: Path, text: str) -> None:
    job = built("ADD", text)
    hashed = {"verb": "ADD", "user": "root", "group": None, "mode": 0o600, "to": "/etc/x.conf",
              "from": [str(files / "x.conf.j2")], "blueprint": True, "timeout": 600, "run_once": False}
    assert {k: job[k] for k in hashed} == hashed
    assert [k for k in job if k in hashed] == list(hashed)
    assert job["job_sha3_224"] == object_sha3_224(hashed)


def test_copy_is_the_same_verb(files: Path) -> None:
    job = built("COPY", "x.conf.j2 /opt/ --blueprint")
    assert (job["verb"], job["to"], job["from"], job["blueprint"]) == ("COPY", "/opt/", [str(files / "x.conf.j2")],
                                                                       True)


def test_quoted_paths_keep_their_spaces(files: Path) -> None:
    job = built("ADD", '"my file.txt" "/opt/dir with space/" --chmod 0644')
    assert (job["from"], job["to"]) == ([str(files / "my file.txt")], "/opt/dir with space/")


@pytest.mark.parametrize(("text", "to"), [
    ("x.conf.j2 /etc/{{ host }}.crt", "/etc/{{ host }}.crt"),
    ('x.conf.j2 "{{ workspace }}/rendered/"', "{{ workspace }}/rendered/"),
    ("x.conf.j2 {{ dirs['conf dir'] }}/{{ host }}.conf --chown root", "{{ dirs['conf dir'] }}/{{ host }}.conf"),
])
def test_template_spans_stay_in_the_destination(files: Path, text: str, to: str) -> None:
    # The destination is rendered on the node, so the span must arrive whole.
    assert built("ADD", text)["to"] == to


def test_sources_are_a_glob(files: Path) -> None:
    job = built("ADD", "b*.txt /opt/")
    assert sorted(job["from"]) == [str(files / "b1.txt"), str(files / "b2.txt")]
    with pytest.raises(ComponentError, match="2 files match"):
        built("ADD", "b*.txt /opt/b.txt")


@pytest.mark.parametrize(("text", "message"), [
    ("x.conf.j2", "required: DEST"),
    ("x.conf.j2 /etc/x /etc/y", "expected SRC DEST"),
    ("x.conf.j2 /etc/x --mode 0600", "unknown option --mode"),
    ("'x.conf.j2 /etc/x", "No closing quotation"),
    ("missing.txt /etc/x", r"\[ missing.txt \] was not found"),
])
def test_bad_text_is_refused(files: Path, text: str, message: str) -> None:
    with pytest.raises(ComponentError, match=message):
        built("ADD", text)
