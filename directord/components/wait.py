"""WAIT: pause a node's queue for seconds, until a URL answers, or until a command succeeds."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request
from typing import Any

from directord import components, templating
from directord.components import lib
from directord.exceptions import ComponentError

STEP = 0.1


def _sleep(seconds: float) -> bool:
    """Sleep in small steps; False if the job was killed meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        context = lib.current_context()
        if context is not None and context.killed:
            return False
        time.sleep(min(STEP, max(deadline - time.monotonic(), 0)))
    return True


class Component(components.ComponentBase):
    verbatim = True

    def __init__(self) -> None:
        super().__init__(desc="Wait for seconds, a URL (2xx/3xx) or a command (exit 0).")

    def args(self) -> None:
        super().args()
        mode = self.parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--seconds", type=float, help="Sleep this many seconds.")
        mode.add_argument("--url", action="store_true", help="The text is a URL to poll.")
        mode.add_argument("--cmd", action="store_true", help="The text is a command to retry.")
        self.parser.add_argument("--retry", type=int, default=30, help="Attempts after the first.")
        self.parser.add_argument("--retry-wait", type=float, default=1, help="Seconds between attempts.")
        self.parser.add_argument("--insecure", action="store_true", help="Do not verify TLS certificates.")

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        known = self.known_args
        if known.seconds is not None:
            data["seconds"] = known.seconds
        elif not self.exec_text:
            raise ComponentError("WAIT: --url and --cmd need a URL or command")
        elif known.url:
            data["url"] = self.exec_text
        else:
            data["command"] = self.exec_text
        data["retry"] = known.retry
        data["retry_wait"] = known.retry_wait
        data["insecure"] = known.insecure
        return data

    def fingerprint_data(self, data: dict[str, Any]) -> dict[str, Any]:
        """Whole ``seconds``/``retry_wait`` as ints (the original's options were ints), the text collapsed."""
        whole = {key: int(data[key]) for key in ("seconds", "retry_wait")
                 if isinstance(data.get(key), float) and data[key].is_integer()}
        return {**super().fingerprint_data(data), **whole}

    def client(self, cache: Any, job: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
        if job.get("seconds") is not None:
            if not _sleep(float(job["seconds"])):
                return None, "interrupted", False, None
            return f"Waited {job['seconds']} seconds", None, True, None
        try:
            target = templating.render(job.get("url") or job.get("command") or "", cache.get("args"))
        except templating.TemplateError as exc:
            return None, str(exc), False, None
        attempts = max(int(job.get("retry", 30)), 0) + 1
        check = self._url if job.get("url") else self._command
        outputs: list[str] = []
        errors: list[str] = []
        for attempt in range(attempts):
            ok, out, err = check(target, job, cache)
            outputs.append(out)
            errors.append(err)
            if ok:
                return "\n".join(filter(None, outputs)), "\n".join(filter(None, errors)), True, None
            if attempt + 1 < attempts and not _sleep(float(job.get("retry_wait", 1))):
                break
        what = "URL did not return a 2xx or 3xx" if job.get("url") else "Command was not successful"
        return ("\n".join(filter(None, outputs)), "\n".join(filter(None, errors)), False,
                f"{what}. Retried {attempts - 1} times.")

    @staticmethod
    def _url(url: str, job: dict[str, Any], _cache: Any) -> tuple[bool, str, str]:
        context = ssl.create_default_context()
        if job.get("insecure"):
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(url, timeout=10, context=context) as response:  # noqa: S310
                code = response.status
        except urllib.error.HTTPError as exc:
            code = exc.code
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return False, "", f"{url}: {exc}"
        return 200 <= code < 400, f"Response code was {code}", ""

    def _command(self, command: str, _job: dict[str, Any], cache: Any) -> tuple[bool, str, str]:
        stdout, stderr, ok = self.run_command(command, env=cache.get("envs"))
        decode = lambda b: (b or b"").decode("utf-8", "replace").strip()  # noqa: E731
        return ok, decode(stdout), decode(stderr)
