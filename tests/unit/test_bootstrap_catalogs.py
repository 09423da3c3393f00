"""Catalogs to bootstrap plans: merging, defaults, flattening, validation, local sources."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
import yaml

from directord import bootstrap
from directord.bootstrap import Host
from directord.components.lib import merge_dict
from directord.exceptions import CatalogError


def test_merge_deep_merges_mappings_and_concatenates_lists() -> None:
    base = {"a": {"x": 1, "jobs": [1]}, "b": [1], "c": 1}
    new = {"a": {"y": 2, "jobs": [2]}, "b": [2], "c": 3, "d": 4}
    assert merge_dict(base, new) == {"a": {"x": 1, "y": 2, "jobs": [1, 2]}, "b": [1, 2], "c": 3, "d": 4}
    assert base == {"a": {"x": 1, "jobs": [1]}, "b": [1], "c": 1}  # inputs untouched


def test_load_catalogs_merges_files_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "1.yaml", tmp_path / "2.yaml"
    first.write_text(yaml.safe_dump({"v": 1, "directord_clients": {"jobs": [{"RUN": "a"}]}}))
    second.write_text(yaml.safe_dump({"v": 2, "directord_clients": {"jobs": [{"RUN": "b"}]}}))
    assert bootstrap.load_catalogs([str(first), str(second)]) == {
        "v": 2, "directord_clients": {"jobs": [{"RUN": "a"}, {"RUN": "b"}]}}


def test_load_catalogs_refuses_nothing_and_non_mappings(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no catalog given"):
        bootstrap.load_catalogs([])
    listed = tmp_path / "list.yaml"
    listed.write_text("- 1\n")
    with pytest.raises(CatalogError, match="must hold a mapping"):
        bootstrap.load_catalogs([str(listed)])


def test_plan_applies_entry_args_then_target_overrides() -> None:
    servers, clients = bootstrap.plan({
        "directord_server": {"targets": [{"host": "s"}], "jobs": [{"RUN": "x"}]},
        "directord_clients": {"args": {"port": 2222, "username": "ops"},
                              "targets": [{"host": "c1"}, {"host": "c2", "port": 22, "username": "me", "name": "n"}],
                              "jobs": [[{"RUN": "a"}, [{"add": "l r"}]], {"GET": "r l"}]},
    })
    jobs = (("RUN", "a"), ("ADD", "l r"), ("GET", "r l"))
    assert servers == [Host("s", 22, getpass.getuser(), "server", (("RUN", "x"),))]
    assert clients == [Host("c1", 2222, "ops", "client", jobs), Host("c2", 22, "me", "client", jobs, "n")]


def test_a_server_entry_without_jobs_is_skipped_but_clients_need_jobs() -> None:
    servers, clients = bootstrap.plan({"directord_server": {"targets": [{"host": "s"}]},
                                       "directord_clients": {"targets": [{"host": "c"}], "jobs": [{"RUN": "x"}]}})
    assert (servers, [host.host for host in clients]) == ([], ["c"])
    with pytest.raises(CatalogError, match="directord_server has no targets"):
        bootstrap.plan({"directord_server": {"jobs": [{"RUN": "x"}]}})


@pytest.mark.parametrize(("catalog", "message"), [
    ({"directord_clients": {"targets": [{"port": 1}], "jobs": [{"RUN": "x"}]}}, r"targets\[0\] needs a host"),
    ({"directord_clients": {"targets": [{"host": "h", "port": "ssh"}], "jobs": [{"RUN": "x"}]}}, "not a number"),
    ({"directord_clients": {"targets": [{"host": "h"}], "jobs": [{"RUN": "x", "ADD": "a b"}]}}, "one-key mapping"),
    ({"directord_clients": {"targets": [{"host": "h"}], "jobs": [{"RUN": ""}]}}, "RUN needs text"),
    ({"directord_clients": "h"}, "must be a mapping"),
])
def test_plan_rejects_bad_entries_before_connecting(catalog: dict, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        bootstrap.plan(catalog)


def test_steps_render_each_job_for_its_host_then_split_the_paths() -> None:
    catalog = {"site": "lab", "directord_clients": {"targets": [{"host": "h1", "name": "one"}], "jobs": [
        {"RUN": "echo {{ site }} {{ directord_bootstrap.name }} {{ directord_bootstrap['key_file'] }}"},
        {"ADD": "/src/{{ directord_bootstrap['host'] }}.crt {{ directord_bootstrap['host'] }}.crt"},
        {"GET": "{{ '/remote/' ~ directord_bootstrap.name }} /local/{{ site }}"}]}}
    _, (host,) = bootstrap.plan(catalog)
    assert bootstrap.steps(host, catalog, "/k") == (
        bootstrap.Step("RUN", host.jobs[0][1], ("echo lab one /k",)),
        bootstrap.Step("ADD", host.jobs[1][1], ("/src/h1.crt", "h1.crt")),
        bootstrap.Step("GET", host.jobs[2][1], ("/remote/one", "/local/lab")))


@pytest.mark.parametrize(("job", "message"), [
    ({"GET": "a b c"}, r"\[ h \] GET takes two paths, GET: <remote> <local>; 'a b c' rendered to 'a b c'"),
    ({"ADD": "only-{{ site }}"}, "ADD takes two paths, ADD: <local> <remote>; 'only-{{ site }}' rendered to 'only-x'"),
    ({"ADD": "{{ spaced }} b"}, "rendered to 'a a b'"),
    ({"RUN": "echo {{ missing }}"}, r"\[ h \] RUN 'echo {{ missing }}': template error: 'missing' is undefined"),
])
def test_steps_refuse_bad_rendered_jobs(job: dict, message: str) -> None:
    catalog = {"site": "x", "spaced": "a a", "directord_clients": {"targets": [{"host": "h"}], "jobs": [job]}}
    _, (host,) = bootstrap.plan(catalog)
    with pytest.raises(CatalogError, match=message):
        bootstrap.steps(host, catalog)


def test_host_variables_expose_the_host_definition() -> None:
    host = Host("h", 22, "u", "client", (("RUN", "x"),), "n")
    assert host.variables("/k") == {"host": "h", "port": 22, "username": "u", "name": "n",
                                    "jobs": [{"RUN": "x"}], "key_file": "/k"}


def test_local_sources_fall_back_to_the_tools_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "setup.sh").write_text("x")
    here = tmp_path / "here.sh"
    here.write_text("y")
    monkeypatch.setattr(bootstrap, "TOOLS_DIR", str(tools))
    monkeypatch.chdir(tmp_path)
    assert bootstrap.local_source("here.sh") == "here.sh"
    assert bootstrap.local_source("setup.sh") == str(tools / "setup.sh")
    with pytest.raises(bootstrap._HostFailure, match="no such local file 'gone.sh'"):
        bootstrap.local_source("gone.sh")
