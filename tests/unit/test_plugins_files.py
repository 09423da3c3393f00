"""Component files from --components-path: loading, re-import, errors, precedence."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from directord import plugins
from directord.cache import Cache
from directord.client.runner import Runner
from directord.components import ComponentBase
from directord.components import run as builtin_run
from directord.exceptions import PluginNotFound
from directord.job import Job
from directord.models import Control, Message

from .helpers import built

UPSTREAM_STYLE = textwrap.dedent('''\
    """A component written for the original Directord."""

    from directord import components
    from directord.components.lib import cacheargs


    class Component(components.ComponentBase):
        def __init__(self):
            super().__init__(desc="Process greet commands")

        def args(self):
            super().args()
            self.parser.add_argument("--loud", action="store_true", default=False)
            self.parser.add_argument("name", nargs="+")

        def server(self, exec_array, data, arg_vars):
            super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
            data["loud"] = self.known_args.loud
            data["name"] = " ".join(self.known_args.name)
            return data

        @cacheargs
        def client(self, cache, job):
            text = "{greeting} " + job["name"]
            return (text.upper() if job["loud"] else text), None, True, None
''')


@pytest.fixture
def components_dir(tmp_path: Path) -> Iterator[Path]:
    """A --components-path directory; the module-level search path is restored afterwards."""
    saved_paths = list(plugins.component_paths)
    saved_overrides = list(plugins.override_paths)
    saved_cache = dict(plugins._file_components)
    directory = tmp_path / "components"
    directory.mkdir()
    plugins.configure_components([str(directory)])
    try:
        yield directory
    finally:
        plugins.component_paths[:] = saved_paths
        plugins.override_paths[:] = saved_overrides
        plugins._file_components.clear()
        plugins._file_components.update(saved_cache)


def write(path: Path, text: str, bump: int = 0) -> Path:
    path.write_text(text, encoding="utf-8")
    if bump:  # a later mtime, whatever the filesystem's timestamp granularity
        stamp = time.time_ns() + bump * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
    return path


def greet(greeting: str) -> str:
    return UPSTREAM_STYLE.replace("{greeting}", greeting)


def test_configure_components_drops_empty_entries(components_dir: Path) -> None:
    plugins.configure_components(["", str(components_dir), ""])
    assert plugins.component_paths[0] == str(components_dir)
    assert "" not in plugins.component_paths


def test_packaged_share_directories_are_searched_after_the_configured_ones(components_dir: Path) -> None:
    plugins.configure_components([str(components_dir)])
    shared = [os.path.join(prefix, "share", "directord", "components") for prefix in (sys.prefix, sys.base_prefix)]
    assert plugins.component_paths == [str(components_dir), *dict.fromkeys(shared)]


def test_upstream_style_file_loads_and_runs(components_dir: Path, cache: Cache) -> None:
    path = write(components_dir / "greet.py", greet("hello"))
    assert plugins.component_file("GREET") == str(path)
    assert plugins.component_file("greet") == str(path)
    component_class = plugins.load_component("Greet")
    assert issubclass(component_class, ComponentBase)
    assert plugins.load_component("GREET") is component_class  # imported once per version

    job = built("GREET", "--loud world peace")
    assert (job["verb"], job["loud"], job["name"]) == ("GREET", True, "world peace")
    assert component_class().client(cache, job) == ("HELLO WORLD PEACE", None, True, None)


def test_changed_file_is_reimported(components_dir: Path, cache: Cache) -> None:
    path = write(components_dir / "greet.py", greet("hello"))
    first = plugins.load_component("greet")
    write(path, greet("goodbye"), bump=5)
    second = plugins.load_component("greet")
    assert second is not first
    job = {"name": "moon", "loud": False}
    assert first().client(cache, job)[0] == "hello moon"
    assert second().client(cache, job)[0] == "goodbye moon"


def test_first_directory_wins(components_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    write(other / "greet.py", greet("second"))
    first = write(components_dir / "greet.py", greet("first"))
    plugins.configure_components([str(components_dir), str(other)])
    assert plugins.component_file("greet") == str(first)


def test_unknown_verb_lists_component_files(components_dir: Path) -> None:
    write(components_dir / "greet.py", greet("hello"))
    with pytest.raises(PluginNotFound) as excinfo:
        plugins.load_component("nosuchverb")
    assert "greet" in excinfo.value.installed
    assert "run" in excinfo.value.installed
    assert "--components-path" in str(excinfo.value)


def test_removed_file_is_not_found(components_dir: Path) -> None:
    path = write(components_dir / "greet.py", greet("hello"))
    plugins.load_component("greet")
    path.unlink()
    assert plugins.component_file("greet") is None
    with pytest.raises(PluginNotFound, match="greet"):
        plugins.load_component("greet")


def test_file_without_component_class(components_dir: Path) -> None:
    path = write(components_dir / "empty.py", "VALUE = 1\n")
    with pytest.raises(PluginNotFound) as excinfo:
        plugins.load_component("empty")
    text = str(excinfo.value)
    assert str(path) in text
    assert "defines no Component class" in text
    assert excinfo.value.exit_code == 2


def test_file_with_syntax_error(components_dir: Path) -> None:
    path = write(components_dir / "broken.py", "class Component(:\n    pass\n")
    with pytest.raises(PluginNotFound) as excinfo:
        plugins.load_component("broken")
    text = str(excinfo.value)
    assert str(path) in text
    assert "failed to import" in text
    assert "syntax" in text.lower()
    assert "\n" not in text  # one readable line, not a traceback


def test_file_raising_at_import(components_dir: Path) -> None:
    write(components_dir / "needsdep.py", "import directord_no_such_module\n")
    with pytest.raises(PluginNotFound, match="directord_no_such_module"):
        plugins.load_component("needsdep")


def test_fixed_file_loads_after_a_failure(components_dir: Path) -> None:
    path = write(components_dir / "greet.py", "class Component(:\n")
    with pytest.raises(PluginNotFound):
        plugins.load_component("greet")
    write(path, greet("fixed"), bump=5)
    assert issubclass(plugins.load_component("greet"), ComponentBase)


def test_file_calling_sys_exit_at_import(components_dir: Path) -> None:
    """BUG: ``load_file`` catches Exception only; a file that calls sys.exit() at import
    (e.g. "needs package foo") raises SystemExit through load_component, which would
    stop the CLI, the server's submit path or the client's event loop, instead of
    becoming PluginNotFound like any other broken file.
    """
    write(components_dir / "exiter.py", "import sys\nsys.exit('this component needs foo')\n")
    with pytest.raises(PluginNotFound, match="needs foo"):
        plugins.load_component("exiter")


def test_a_components_path_file_wins_over_an_entry_point_of_the_same_name(components_dir: Path) -> None:
    """As in the original, the file a user put in --components-path is what runs for its verb."""
    run_file = write(components_dir / "run.py", greet("shadow"))
    echo_file = write(components_dir / "echo.py", greet("shadow"))  # the plugins-example entry point
    assert plugins.component_file("RUN") == str(run_file)
    assert plugins.load_component("RUN") is plugins.load_file(str(run_file))
    assert plugins.component_file("echo") == str(echo_file)
    assert plugins.load_component("echo")().client(None, {"name": "x", "loud": False}) == ("shadow x", None, True, None)
    run_file.unlink()
    assert plugins.load_component("RUN") is builtin_run.Component


def test_a_fallback_file_never_replaces_an_entry_point(components_dir: Path, tmp_path: Path) -> None:
    """Files the client keeps from the server (its fallback directory) only add verbs."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    write(shipped / "run.py", greet("stale"))
    greet_file = write(shipped / "greet.py", greet("shipped"))
    plugins.configure_components([str(components_dir)], fallback=[str(shipped)])
    assert plugins.component_file("RUN") is None
    assert plugins.load_component("RUN") is builtin_run.Component
    assert plugins.component_file("greet") == str(greet_file)
    override = write(components_dir / "greet.py", greet("mine"))
    assert plugins.component_file("greet") == str(override)


def test_runner_reports_a_component_whose_constructor_raises(components_dir: Path, cache: Cache) -> None:
    """BUG: Runner._run only catches DirectordError/TransferError/OSError around
    ``load_component(verb)()``. A component file whose ``__init__`` raises anything
    else (RuntimeError here) escapes ``_run``: the job is never reported (the server
    record stays "processing") and the rest of that queue is stranded until another
    job lands in it.
    """
    write(components_dir / "badinit.py", textwrap.dedent('''\
        from directord import components


        class Component(components.ComponentBase):
            def __init__(self):
                raise RuntimeError("boom in __init__")
    '''))
    reports: list[Message] = []

    async def scenario() -> None:
        runner = Runner("n1", cache, reports.append)
        runner.submit(Job("BADINIT", job_id="j1", parent_id="p1"))
        runner.submit(Job.from_dict({"verb": "RUN", "command": "echo after", "job_id": "j2", "parent_id": "p2",
                                     "skip_cache": True}))
        deadline = time.monotonic() + 1
        while len(reports) < 2:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)
        runner.stop()

    asyncio.run(scenario())
    by_id = {m.msg_id: m for m in reports}
    assert by_id.get("j1") is not None, "the job with the broken component was never reported"
    assert by_id["j1"].control == Control.JOB_FAILED.value
    assert "boom in __init__" in (by_id["j1"].stderr or "")
    assert by_id.get("j2") is not None and by_id["j2"].control == Control.JOB_END.value
