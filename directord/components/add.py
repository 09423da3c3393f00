"""ADD / COPY: copy files from the server to the nodes (glob sources, atomic writes).

``ADD [--chown USER[:GROUP]] [--chmod OCTAL] [--blueprint] SRC DEST``, options
before, between or after SRC and DEST. SRC is a glob on the submitting host;
DEST ending in ``/`` is a directory and is rendered on the node, so it may hold
``{{ ... }}`` spans (with spaces). Files are fetched from the server (``NodeServices.fetch``)
and land atomically; ownership and mode are applied every time, even
when the content already matched.
"""

from __future__ import annotations

import glob
import os
import stat
from typing import Any

from directord import components, templating
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.components.services import ServiceError
from directord.components.workdir import add_ownership_options, ownership_fields
from directord.exceptions import ComponentError
from directord.fingerprint import file_sha3_224, object_sha3_224


def destination(file_to: str, source: str) -> str:
    return os.path.join(file_to, os.path.basename(source)) if file_to.endswith("/") else file_to


class Component(components.ComponentBase):
    shell_words = True
    requires_lock = True
    lock_name = "copy"
    examples = ("example.txt {{ workspace }}/copy/",
                "--chown root:root --chmod 0644 --blueprint example.txt /etc/app/app.conf")

    def __init__(self) -> None:
        super().__init__(desc="Copy files from the server's host to the targets.")

    def args(self) -> None:
        super().args()
        add_ownership_options(self)
        self.parser.add_argument("--blueprint", action="store_true",
                                 help="Render the file with the node's args (jinja2).")
        self.parser.add_argument("src", metavar="SRC", help="Glob of files on the submitting host.")
        self.parser.add_argument("dest", metavar="DEST", help="Path on the node; a directory if it ends in /.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        ownership_fields(self, data)
        if self.unknown_args:
            raise ComponentError(f"{self.verb}: expected SRC DEST, got extra words {self.unknown_args}")
        pattern, data["to"] = self.known_args.src, self.known_args.dest
        # glob's own order (not sorted): the original hashed the list in that order
        sources = [os.path.abspath(p) for p in glob.glob(os.path.expanduser(pattern)) if os.path.isfile(p)]
        if not sources:
            raise ComponentError(f"The value of [ {pattern} ] was not found.")
        if len(sources) > 1 and not data["to"].endswith("/"):
            raise ComponentError(f"{self.verb}: {len(sources)} files match; DEST must be a directory ending in /")
        data["from"] = sources
        data["blueprint"] = bool(self.known_args.blueprint)
        return data

    def finalize_job(self, data: dict[str, Any]) -> None:
        """After fingerprinting: content hashes, so an edited source is sent again."""
        hashes = {source: file_sha3_224(source) for source in data["from"]}
        data["file_sha3_224"] = hashes
        data["content_sha3_224"] = object_sha3_224(hashes)

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        file_to = templating.render(job["to"], cache.get("args"))
        lines = []
        for source in job.get("from") or []:
            dest = destination(file_to, source)
            try:
                lines.append(self._place(cache, job, source, lib.checked_path(dest, "destination")))
            except (OSError, ValueError, ServiceError, templating.TemplateError) as exc:
                return ComponentResult.failed(str(exc), "\n".join(lines))
            error = lib.apply_ownership(dest, job.get("user"), job.get("group"), job.get("mode"))
            if error:
                return ComponentResult.failed(error, "\n".join(lines))
        return ComponentResult("\n".join(lines), None, True)

    def _place(self, cache: Any, job: dict[str, Any], source: str, dest: str) -> str:
        expected = (job.get("file_sha3_224") or {}).get(source)
        blueprint = bool(job.get("blueprint"))
        if not blueprint and expected and os.path.isfile(dest) and file_sha3_224(dest) == expected:
            return f"File exists {dest} and SHA3_224 {expected} matches, nothing to transfer"
        temp, sha = self.services.fetch(source, dest)
        try:
            if expected and sha != expected:
                raise OSError(f"Data integrity failure: {source} arrived with SHA3_224 {sha}, expected {expected}")
            if blueprint:
                with open(temp, encoding="utf-8") as handle:
                    rendered = templating.render(handle.read(), cache.get("args"), allow_empty_values=False)
                with open(temp, "w", encoding="utf-8") as handle:
                    handle.write(rendered)
            mode = stat.S_IMODE(os.stat(dest).st_mode) if os.path.exists(dest) else 0o644
            os.chmod(temp, mode)
            os.replace(temp, dest)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        return file_sha3_224(dest)
