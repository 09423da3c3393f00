"""The component contract suite (directord.testing) over every built-in verb."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from directord import plugins
from directord.testing import NODE, ComponentContract

FACTS = {"os": {"family": "Debian"}, "processors": {"count": 2}}


class TestBuiltinVerbs(ComponentContract):
    verbs = ("RUN", "ARG", "ENV", "ADD", "COPY", "WORKDIR", "CACHEFILE", "CACHEEVICT", "QUERY", "QUERY_WAIT",
             "QUEUESENTINEL", "WAIT", "JOB_WAIT", "DNF", "SERVICE", "REBOOT", "FACTER")
    bad_texts = {
        "RUN": ("",),
        "ARG": ("lonely",),
        "ADD": ("example.txt", "missing.txt /tmp/x", "'example.txt /tmp/x"),
        "WORKDIR": ("/a /b",),
        "CACHEFILE": ("/a.yaml /b.yaml",),
        "QUERY": ("a b",),
        "WAIT": ("", "--seconds 1 --cmd true", "--seconds 1 extra"),
        "JOB_WAIT": ("3f" * 28,),
        "DNF": ("--latest",),
        "SERVICE": ("--restarted",),
        "REBOOT": ("0",),
    }
    node_args = {"greeting": "hello", "query": {NODE: {"greeting": "hello"}}}
    stubs = {"DNF": {"dnf": ""}, "SERVICE": {"systemctl": ""}, "FACTER": {"facter": json.dumps(FACTS)}}
    client_not_run = {"REBOOT": "it reboots the host"}


# -- the suite catches what breaks the contract ------------------------------------------
GOOD = '''
from directord import components


class Component(components.ComponentBase):
    examples = ("hello",)

    def args(self):
        super().args()
        self.parser.add_argument("word")

    def server(self, exec_array, data, arg_vars):
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["word"] = self.known_args.word
        return data

    def client(self, cache, job):
        return job["word"], None, True, None
'''
BROKEN = {  # name -> (the change to GOOD, the check that must fail, what its message says)
    "newdict": (("        return data\n", "        return dict(data)\n"),
                "test_examples_build_serialisable_deterministic_jobs", "must return the dict it was given"),
    "random": (('data["word"] = self.known_args.word', 'data["word"] = __import__("uuid").uuid4().hex'),
               "test_examples_build_serialisable_deterministic_jobs", "two builds differ"),
    "unjson": (('data["word"] = self.known_args.word', 'data["word"] = {self.known_args.word}'),
               "test_examples_build_serialisable_deterministic_jobs", "TypeError"),
    "exits": (("super().server(", "raise SystemExit(2)\n        super().server("),
              "test_bad_text_is_one_line_component_error", "raised SystemExit"),
    "lenient": (("        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)\n",
                 "        try:\n            super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)\n"
                 "        except Exception:\n            return data\n"),
                "test_bad_text_is_one_line_component_error", "was accepted"),
    "threes": (("return job[\"word\"], None, True, None", "return job[\"word\"], None, True"),
               "test_client_returns_a_result", "not (stdout, stderr, outcome, info)"),
    "maybe": (("return job[\"word\"], None, True, None", "return job[\"word\"], None, \"maybe\", None"),
              "test_client_returns_a_result", "outcome 'maybe'"),
    "numbers": (("return job[\"word\"], None, True, None", "return 42, None, True, None"),
                "test_client_returns_a_result", "stdout is 42"),
    "crashes": (("return job[\"word\"], None, True, None", "raise KeyError('nope')"),
                "test_client_returns_a_result", "raised KeyError"),
    "fails": (("return job[\"word\"], None, True, None", "return None, 'no', False, None"),
              "test_client_returns_a_result", "failed in the sandbox"),
    "plans": (("    def args(self):", "    @staticmethod\n    def plan(job, targets, live):\n"
                                      "        return ['elsewhere']\n\n    def args(self):"),
              "test_hooks_have_the_default_types", "plan() returned"),
    "nolines": (("    examples = (\"hello\",)\n", ""), "test_client_returns_a_result", "no examples"),
}


@pytest.fixture
def components_dir(tmp_path: Path) -> Iterator[Path]:
    plugins.configure_components([str(tmp_path)])
    try:
        yield tmp_path
    finally:
        plugins.configure_components([])


class _FileVerbs(ComponentContract):
    verbs = ("GOOD",)


@pytest.mark.parametrize("check", [name for name in dir(ComponentContract) if name.startswith("test_")])
def test_a_good_file_component_passes(components_dir: Path, check: str) -> None:
    (components_dir / "good.py").write_text(GOOD)
    getattr(_FileVerbs(), check)("GOOD")


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_a_broken_component_fails_its_check(components_dir: Path, name: str) -> None:
    (old, new), check, message = BROKEN[name]
    assert old in GOOD
    (components_dir / f"{name}.py").write_text(GOOD.replace(old, new))
    with pytest.raises(AssertionError, match=re.escape(message)):
        getattr(_FileVerbs(), check)(name.upper())
