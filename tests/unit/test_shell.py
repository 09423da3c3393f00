"""The CLI entry point: commands found by entry point, imported only when they run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from directord.shell import DirectordApp

PROBE = """
import sys
from directord.shell import main
code = main(["--config-file", sys.argv[1], "--socket-path", sys.argv[2], "node", "list"])
print("EXIT", code)
print("LOADED", " ".join(m for m in ("directord.bootstrap", "directord.cli.jobs", "jinja2", "asyncio", "zmq", "redis")
                        if m in sys.modules))
"""


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "absent.yaml"), str(tmp_path / "sock")],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = dict(line.split(" ", 1) if " " in line else (line, "") for line in result.stdout.splitlines())
    assert lines["EXIT"] == "1"
    assert lines["LOADED"] == ""
    assert result.stderr.strip().startswith("directord: no directord server socket")


def test_every_entry_point_is_a_command() -> None:
    names = set(DirectordApp().command_manager.commands)
    assert {"server", "client", "exec", "orchestrate", "manage", "bootstrap", "node list", "job show",
            "job analyze", "cache dump"} <= names


def test_help_of_a_lazily_loaded_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert DirectordApp().run(["bootstrap", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--catalog" in out
    assert "provided by" not in out


def test_no_command_prints_the_usage_and_one_error_line(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "directord", "--config-file", str(tmp_path / "absent.yaml")],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.startswith("usage: directord")
    assert result.stderr.strip().endswith("directord: a command is required; `directord --help` lists them")
    assert result.stdout == ""
