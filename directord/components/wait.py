"""WAIT: pause a node's queue for seconds, until a URL answers, or until a command succeeds."""

from __future__ import annotations

import argparse
import re
import shlex
import ssl
import urllib.error
import urllib.request
from typing import Any

from directord import components, templating
from directord.components import lib
from directord.components.lib import ComponentResult
from directord.exceptions import ComponentError

TEXT_OPTIONS = ("--cmd", "--url")
# One shell word: unquoted runs and quoted spans (an unclosed quote runs to the end).
_WORD = re.compile(r"""(?:[^\s'"]+|'[^']*'?|"(?:[^"\\]|\\.)*"?)+""", re.DOTALL)
RULE = ("Options may appear anywhere. CMD or URL is the text that is neither an option nor an"
        " option's value, kept verbatim; quoted as one word (--cmd \"test -f /x\") its quotes are"
        " removed, and option names inside it stay part of it.")


def _unquoted(text: str) -> str:
    """``text`` without its quotes when it is one quoted shell word."""
    if text[:1] not in ("'", '"'):
        return text
    try:
        words = shlex.split(text)
    except ValueError:
        return text
    return words[0] if len(words) == 1 else text


class Component(components.ComponentBase):
    examples = ("--cmd 'test -d {{ workspace }}'", "--url https://localhost:8443/health --insecure --retry 10",
                "--seconds 5")
    def __init__(self) -> None:
        super().__init__(desc="Wait for seconds, a URL (2xx/3xx) or a command (exit 0).")

    def args(self) -> None:
        super().args()
        mode = self.parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--seconds", type=float, metavar="N", help="Sleep N seconds.")
        mode.add_argument("--url", metavar="URL", help="Poll URL until it answers 2xx or 3xx.")
        mode.add_argument("--cmd", metavar="CMD", help="Run CMD (/bin/sh) until it exits 0.")
        self.parser.add_argument("--retry", type=int, default=30, metavar="N",
                                 help="Attempts after the first (default 30).")
        self.parser.add_argument("--retry-wait", type=float, default=1, metavar="S",
                                 help="Seconds between attempts (default 1).")
        self.parser.add_argument("--insecure", action="store_true", help="Do not verify TLS certificates.")

    def exec_parser(self, parser: argparse.ArgumentParser, exec_array: Any,
                    arg_vars: dict[str, Any] | None = None) -> tuple[argparse.Namespace, list[str]]:
        """Options anywhere; the rest of the text (each stretch verbatim) is CMD or URL."""
        text = " ".join(map(str, exec_array)) if isinstance(exec_array, (list, tuple)) else str(exec_array or "")
        parser.epilog = self.help_epilog(parser)
        actions = parser._option_string_actions  # argparse has no public lookup
        words = list(_WORD.finditer(text))
        argv: list[str] = []
        modes: list[str] = []
        pieces: list[str] = []
        start: int | None = None
        end = 0
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            item = word.group()
            name, equals, _ = item.partition("=")
            if item == "--":  # the rest is text, options or not
                start = word.end() if start is None else start
                end = len(text)
                break
            if not item.startswith("-") or name not in actions:
                start, end = (word.start() if start is None else start), word.end()
                continue
            if start is not None:
                pieces.append(text[start:end].strip())
                start = None
            if name in TEXT_OPTIONS:
                modes.append(name)
                if equals:
                    start, end = word.start() + len(name) + 1, word.end()
                continue
            argv.append(item)
            if not equals and actions[name].nargs is None and index < len(words):
                argv.append(words[index].group())
                index += 1
        if start is not None:
            pieces.append(text[start:end].strip())
        self.exec_text = _unquoted(" ".join(piece for piece in pieces if piece))
        known = parser.parse_args(argv + [f"{mode}={self.exec_text}" for mode in modes])
        for key, value in (arg_vars or {}).items():
            setattr(known, key.replace("-", "_"), value)
        self.known_args, self.unknown_args = known, self.exec_text.split()
        return known, self.unknown_args

    def parsing_rule(self, parser: argparse.ArgumentParser) -> str:
        return RULE

    def server(self, exec_array: Any, data: dict[str, Any], arg_vars: Any) -> dict[str, Any]:
        super().server(exec_array=exec_array, data=data, arg_vars=arg_vars)
        known = self.known_args
        if known.seconds is not None:
            if self.exec_text:
                raise ComponentError(f"WAIT: --seconds takes no other text, got {self.exec_text!r}")
            data["seconds"] = known.seconds
        elif not self.exec_text:
            raise ComponentError("WAIT: --url and --cmd need a URL or command")
        elif known.url is not None:
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
        text = {key: components.collapse(data[key]) for key in ("url", "command") if key in data}
        return {**data, **text, **whole}

    def client(self, cache: Any, job: dict[str, Any]) -> ComponentResult:
        if job.get("seconds") is not None:
            if not self.services.sleep(float(job["seconds"])):
                return ComponentResult.failed("interrupted")
            return ComponentResult(f"Waited {job['seconds']} seconds", None, True)
        target = templating.render(job.get("url") or job.get("command") or "", cache.get("args"))
        attempts = max(int(job.get("retry", 30)), 0) + 1
        check = self._url if job.get("url") else self._command
        outputs: list[str] = []
        errors: list[str] = []
        for attempt in range(attempts):
            ok, out, err = check(target, job, cache)
            outputs.append(out)
            errors.append(err)
            if ok:
                return ComponentResult("\n".join(filter(None, outputs)), "\n".join(filter(None, errors)), True)
            if attempt + 1 < attempts and not self.services.sleep(float(job.get("retry_wait", 1))):
                break
        what = "URL did not return a 2xx or 3xx" if job.get("url") else "Command was not successful"
        return ComponentResult("\n".join(filter(None, outputs)), "\n".join(filter(None, errors)), False,
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
        return ok, lib.text(stdout) or "", lib.text(stderr) or ""
