"""The kernel: nouns by name through stevedore, our own error for unknown names."""

from __future__ import annotations

import pytest

from directord import config, plugins
from directord.components import ComponentBase
from directord.drivers import Driver
from directord.drivers.memory import MemoryDriver
from directord.drivers.zmq import ZmqDriver
from directord.exceptions import ConfigError, PluginNotFound


@pytest.mark.parametrize("name", ["zmq", "zeromq"])
def test_load_driver(name: str) -> None:
    driver = plugins.load_driver(name)
    assert driver is ZmqDriver
    assert issubclass(driver, Driver)


def test_load_memory_driver() -> None:
    assert plugins.load_driver("memory") is MemoryDriver


def test_drivers_declare_their_own_options() -> None:
    declared = {opt.dest for opt in plugins.driver_options()}
    assert {"job_port", "backend_port", "zmq_keys_path", "zmq_server_address", "memory_hub"} <= declared
    assert not declared & set(config.BY_DEST)  # ports and zmq_* are no core options
    assert [opt.dest for opt in config.options()].count("job_port") == 1  # zmq and its alias zeromq: once


def test_a_driver_without_keys_says_so() -> None:
    with pytest.raises(ConfigError, match="the memory driver has no keys"):
        MemoryDriver.generate_keys(config.defaults(), ["web1"])


def test_builtin_names_are_installed() -> None:
    assert {"zmq", "zeromq", "memory"} <= set(plugins.installed(plugins.DRIVERS))
    assert "memory" in plugins.installed(plugins.DATASTORES)
    assert {"run", "arg", "env", "workdir", "cacheevict"} <= set(plugins.installed(plugins.COMPONENTS))
    assert plugins.installed("directord.no-such-group") == []


def test_unknown_driver() -> None:
    with pytest.raises(PluginNotFound) as excinfo:
        plugins.load_driver("carrier-pigeon")
    error = excinfo.value
    assert error.exit_code == 2
    assert (error.kind, error.name) == ("driver", "carrier-pigeon")
    assert "zmq" in error.installed and "zeromq" in error.installed
    text = str(error)
    assert text.startswith("unknown driver 'carrier-pigeon'; installed: ")
    assert "zeromq, zmq" in text
    assert "pip install" in text


@pytest.mark.parametrize("url", ["bogus://host/0", "sqlite:///x.db"])
def test_unknown_datastore(url: str) -> None:
    with pytest.raises(PluginNotFound) as excinfo:
        plugins.load_datastore(url)
    assert excinfo.value.exit_code == 2
    assert excinfo.value.kind == "datastore"
    assert "memory" in str(excinfo.value)


def test_datastore_url_without_scheme() -> None:
    with pytest.raises(PluginNotFound, match="memory") as excinfo:
        plugins.datastore_scheme("/just/a/path")
    assert excinfo.value.exit_code == 2


def test_unknown_verb_names_it_as_written() -> None:
    with pytest.raises(PluginNotFound) as excinfo:
        plugins.load_component("NoSuchVerb")
    error = excinfo.value
    assert error.exit_code == 2
    assert str(error).startswith("unknown verb 'NoSuchVerb'; installed: ")
    for name in ("arg", "cacheevict", "env", "run", "workdir"):
        assert name in error.installed
        assert name in str(error)


@pytest.mark.parametrize(("url", "scheme"), [
    ("memory", "memory"),
    ("", "memory"),
    ("file:///x", "file"),
    ("file:///var/lib/directord", "file"),
    ("redis://h:1/0", "redis"),
    ("rediss://h:6380/2", "rediss"),
])
def test_datastore_scheme(url: str, scheme: str) -> None:
    assert plugins.datastore_scheme(url) == scheme


def test_load_memory_datastore() -> None:
    from directord.datastores import Datastore

    assert issubclass(plugins.load_datastore("memory"), Datastore)


@pytest.mark.parametrize("verb", ["RUN", "run", "Run", "rUn"])
def test_load_component_is_case_insensitive(verb: str) -> None:
    from directord.components import run

    component = plugins.load_component(verb)
    assert component is run.Component
    assert issubclass(component, ComponentBase)


@pytest.mark.parametrize("verb", ["ARG", "ENV", "WORKDIR", "CACHEEVICT"])
def test_every_builtin_verb_loads(verb: str) -> None:
    component = plugins.load_component(verb)
    assert issubclass(component, ComponentBase)
    assert plugins.load_component(verb.lower()) is component


def test_hooks_manager_and_fire_without_plugins() -> None:
    manager = plugins.hooks()
    assert manager is plugins.hooks()  # one process-wide manager
    assert manager.project_name == "directord"
    plugins.fire("directord_job_submitted", job={"job_id": "j"})  # never raises
