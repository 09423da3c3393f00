"""FACTER: gather the node's facts with ``facter --json`` into ``args.facter`` (other args kept)."""

from __future__ import annotations

import json
import shlex
import shutil
from typing import Any

from directord import components
from directord.components.lib import ComponentResult


class Component(components.ComponentBase):
    requires_lock = True
    lock_name = "arg"  # it writes args, like ARG
    examples = ("", "--external-dir /etc/facter/facts.d")

    def __init__(self) -> None:
        super().__init__(desc="Store the node's facts (facter --json) as args.facter, for templates and QUERY.")

    def args(self) -> None:
        super().args()
        self.parser.add_argument("--custom-dir", help="Directory of custom (Ruby) facts.")
        self.parser.add_argument("--external-dir", help="Directory of external facts.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        data["custom_dir"] = self.known_args.custom_dir  # None when not given, as the original stored it
        data["external_dir"] = self.known_args.external_dir
        return data

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        envs = cache.get("envs") or {}
        if shutil.which("facter", path=envs.get("PATH")) is None:
            return ComponentResult.failed("Facter is not installed!")
        command = ["facter", "--json", "--no-color"]
        for key in ("custom_dir", "external_dir"):
            if job.get(key):
                command += [f"--{key.replace('_', '-')}", str(job[key])]
        stdout, stderr, _ok = self.run_command(shlex.join(command), env=envs)
        # facter exits non-zero when one resolver fails (e.g. an unreadable /proc file) yet still
        # prints every other fact: the JSON decides.
        try:
            facts = json.loads(stdout or b"")
        except ValueError:
            facts = None
        if not isinstance(facts, dict):
            return ComponentResult(stdout, stderr, False, "facter did not print a JSON object")
        self.set_cache(cache=cache, key="args", value={"facter": facts}, value_update=True, tag="args")
        return ComponentResult(json.dumps(facts, sort_keys=True), stderr, True,
                               f"{len(facts)} facts stored in args.facter")
