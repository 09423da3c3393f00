"""The kernel: stevedore loads nouns (drivers, datastores, components) by name,
pluggy carries events (hooks) to every installed plugin.
"""

from __future__ import annotations

import functools
import glob
import importlib.util
import logging
import os
import sys
import time
from importlib import metadata
from typing import Any
from urllib.parse import urlparse

import pluggy
from stevedore import driver as stevedore_driver
from stevedore.exception import NoMatches

from directord import hookspecs
from directord.exceptions import PluginNotFound

LOG = logging.getLogger(__name__)
# A missing name becomes PluginNotFound (naming what is installed), not a warning.
logging.getLogger("stevedore.named").setLevel(logging.ERROR)

DRIVERS = "directord.drivers"
DATASTORES = "directord.datastores"
COMPONENTS = "directord.components"
PLUGINS = "directord.plugins"


@functools.cache
def _every_entry_point() -> Any:
    return metadata.entry_points()


def entry_points(namespace: str) -> Any:
    """The entry points of a group, from one read of every installed package's list per process
    (each group read on its own would read them all again)."""
    return _every_entry_point().select(group=namespace)


def installed(namespace: str) -> list[str]:
    """Names registered under an entry-point group, sorted."""
    return sorted({ep.name for ep in entry_points(namespace)})


def _load(namespace: str, name: str, kind: str, hint: str, shown: str | None = None) -> Any:
    try:
        return stevedore_driver.DriverManager(
            namespace=namespace, name=name, invoke_on_load=False,
            on_load_failure_callback=_load_failed,
        ).driver
    except NoMatches:
        raise PluginNotFound(kind, shown or name, installed(namespace), hint) from None
    except RuntimeError as exc:  # stevedore: several plugins share the name
        raise PluginNotFound(kind, shown or name, installed(namespace), str(exc)) from None


def _load_failed(_manager: Any, entrypoint: Any, exc: Exception) -> None:
    LOG.error("cannot load plugin %s (%s): %s", entrypoint.name, entrypoint.value, exc)


def load_driver(name: str) -> type:
    """The driver class registered as ``name`` (``zmq``, ``zeromq``, ...)."""
    return _load(DRIVERS, name, "driver", "pip install the package that provides it")


def driver_options() -> list[Any]:
    """The options every installed driver declares (``Driver.options``), drivers in name order."""
    found: list[Any] = []
    seen: set[str] = set()
    for entry_point in sorted(entry_points(DRIVERS), key=lambda point: point.name):
        if entry_point.value in seen:  # an alias (zeromq) of a driver already read
            continue
        seen.add(entry_point.value)
        try:
            driver = entry_point.load()
        except Exception as exc:  # a broken third-party driver must not break every command
            _load_failed(None, entry_point, exc)
            continue
        found.extend(getattr(driver, "options", ()))
    return found


def datastore_scheme(url: str) -> str:
    """``memory`` / ``file:///x`` / ``redis://h:p/0`` -> the entry-point name."""
    if not url or url == "memory":
        return "memory"
    scheme = urlparse(url).scheme
    if not scheme:
        raise PluginNotFound("datastore", url, installed(DATASTORES),
                             "use memory, file:///dir or redis://host:port/db")
    return scheme


def load_datastore(url: str) -> type:
    """The datastore class for a ``--datastore`` URL, picked by its scheme."""
    return _load(DATASTORES, datastore_scheme(url), "datastore",
                 "use memory, file:///dir or redis://host:port/db")


# Directories searched for ``<verb>.py`` component files, in order. A file in one of
# ``override_paths`` (--components-path) is what runs for its verb, even a verb an entry
# point provides (the original ran the files of its components directory); the other
# directories only provide verbs no entry point does.
component_paths: list[str] = []
override_paths: list[str] = []
_file_components: dict[tuple[str, int], Any] = {}
_found: dict[str, tuple[float, str | None]] = {}  # verb -> (when, its component file or None: an entry point)
RESCAN_S = 1.0  # a fallback file added before the one a verb was found in is seen within this


def configure_components(paths: list[str], fallback: tuple[str, ...] | list[str] = ()) -> None:
    """Search ``paths`` (empty entries dropped; their files win over entry points), then ``fallback``,
    then the packaged ``share/directord/components`` of this environment and of its base Python,
    where the original installed its contributed ones."""
    shared = [os.path.join(prefix, "share", "directord", "components") for prefix in (sys.prefix, sys.base_prefix)]
    _found.clear()
    override_paths[:] = list(dict.fromkeys(p for p in paths if p))
    component_paths[:] = list(dict.fromkeys(p for p in [*paths, *fallback, *shared] if p))


@functools.cache
def _entry_point_component(name: str) -> Any:
    if name not in installed(COMPONENTS):
        return None
    plugin = _load(COMPONENTS, name, "verb", "")
    return getattr(plugin, "Component", plugin)


def _find_file(name: str, directories: list[str]) -> str | None:
    for directory in directories:
        path = os.path.join(directory, f"{name}.py")
        if os.path.isfile(path):
            return path
    return None


def component_file(verb: str) -> str | None:
    """The ``<verb>.py`` file providing ``verb``: one in ``override_paths``, else, when no
    entry point provides the verb, the first one found in ``component_paths``."""
    name = verb.lower()
    path = _find_file(name, override_paths)
    if path is not None:
        return path
    now = time.monotonic()
    found = _found.get(name)
    if found is not None and now - found[0] < RESCAN_S and (found[1] is None or os.path.exists(found[1])):
        return found[1]
    entry_point = _entry_point_component(name) is not None
    path = None if entry_point else _find_file(name, component_paths)
    if path is not None or entry_point:  # an unknown verb is looked up again next time
        _found[name] = (now, path)
    return path


def load_component(verb: str) -> Any:
    """The component class for ``verb``: its component file (see ``component_file``), else an entry point."""
    path = component_file(verb)
    if path is not None:
        return load_file(path)
    component = _entry_point_component(verb.lower())
    if component is not None:
        return component
    names = installed(COMPONENTS) + [os.path.basename(p)[:-3] for d in component_paths
                                     for p in sorted(glob.glob(os.path.join(d, "*.py")))]
    hint = "pip install a package that adds it, drop a file in --components-path, or check the spelling"
    raise PluginNotFound("verb", verb, sorted(set(names)), hint)


def load_file(path: str) -> Any:
    """Import a component file (re-imported when it changes on disk)."""
    key = (path, os.stat(path).st_mtime_ns)
    if key not in _file_components:
        name = "directord_user_component_" + os.path.basename(path)[:-3]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        name = os.path.basename(path)[:-3]
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except (Exception, SystemExit) as exc:  # a broken third-party file must not take us down
            message = f"verb '{name}' from {path} failed to import: {exc!r}"
            raise PluginNotFound("verb", name, [], message=message) from None
        if not hasattr(module, "Component"):
            raise PluginNotFound("verb", name, [], message=f"verb '{name}' from {path} defines no Component class")
        _file_components[key] = module.Component
    return _file_components[key]


@functools.lru_cache(maxsize=1)
def hooks() -> pluggy.PluginManager:
    """The process-wide plugin manager with every ``directord.plugins`` entry point."""
    manager = pluggy.PluginManager("directord")
    manager.add_hookspecs(hookspecs)
    for entry_point in entry_points(PLUGINS):
        if manager.get_plugin(entry_point.name) is None:  # a name two packages register: the first
            manager.register(entry_point.load(), name=entry_point.name)
    return manager


def wants(hook: str) -> bool:
    """Does any installed plugin implement ``hook``? (skip building its arguments if not)"""
    return bool(getattr(hooks().hook, hook).get_hookimpls())


def fire(hook: str, **kwargs: Any) -> None:
    """Call a hook, logging (never raising) a plugin's failure."""
    if not wants(hook):
        return
    manager = hooks()
    try:
        getattr(manager.hook, hook)(**kwargs)
    except Exception:  # a plugin must never take the server down
        LOG.exception("plugin hook %s failed", hook)
