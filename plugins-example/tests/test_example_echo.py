"""ECHO, the upstream-style component: parsing on the server side, result on the node."""

from __future__ import annotations

import pytest
from directord_example import echo

from directord import orchestration, plugins
from directord.components import ComponentBase
from directord.exceptions import ComponentError


def served(text, arg_vars=None):
    component = echo.Component()
    data = component.server(exec_array=[text], data={"verb": "ECHO"}, arg_vars=arg_vars or {})
    return component, data


def test_is_an_upstream_style_component():
    component = echo.Component()
    assert isinstance(component, ComponentBase)
    assert component.desc == "Process echo commands"
    assert component.cacheable is True  # upstream ECHO was cacheable; keep the default


def test_server_joins_the_words_with_single_spaces():
    _, data = served("hello   world\n  again")
    assert data == {"verb": "ECHO", "echo": "hello world again"}


def test_server_returns_the_same_dict_it_was_given():
    component = echo.Component()
    data = {"verb": "ECHO"}
    assert component.server(exec_array=["hi"], data=data, arg_vars={}) is data


def test_common_options_are_parsed_not_echoed():
    component, data = served("--skip-cache --timeout 5 --stdout-arg said hello world")
    assert data["echo"] == "hello world"
    assert data["stdout_arg"] == "said"
    assert component.known_args.skip_cache is True
    assert component.known_args.timeout == 5


def test_options_are_parsed_anywhere_like_the_original_directord():
    component, data = served("say --timeout 5")
    assert data["echo"] == "say"
    assert component.known_args.timeout == 5


def test_vars_override_the_words():
    _, data = served("ignored", {"echo": "from vars"})
    assert data["echo"] == "from vars"
    _, data = served("ignored", {"echo": ["a", "b"]})
    assert data["echo"] == "a b"


def test_no_words_is_a_component_error():
    with pytest.raises(ComponentError, match="ECHO"):
        served("")


def test_client_returns_the_text_as_stdout():
    job = {"job_id": "j1", "verb": "ECHO", "echo": "hello world"}
    assert echo.Component().client(cache=None, job=job) == ("hello world", None, True, None)


@pytest.mark.parametrize("verb", ["ECHO", "echo", "Echo"])
def test_entry_point_is_found_case_insensitively(verb):
    assert plugins.load_component(verb) is echo.Component
    assert "echo" in plugins.installed(plugins.COMPONENTS)


def test_build_job_fingerprint_depends_on_the_words_not_the_spacing():
    one = orchestration.build_job("ECHO", "hello world")
    same = orchestration.build_job("ECHO", "hello    world")
    other = orchestration.build_job("ECHO", "hello there")
    assert one.fields["echo"] == same.fields["echo"] == "hello world"
    assert one.job_sha3_224 == same.job_sha3_224 != other.job_sha3_224
    assert len(one.job_sha3_224) == 56
