"""Pods and images over the podman API socket (``pip install directord[podman]``).

Only the components that manage pods and images import this module, so the
core never needs the ``podman`` client; without it the import raises
ImportError, which those components report as a missing library. Every action
returns ``(ok, data)``: whether the API call succeeded and its decoded answer.
"""

from __future__ import annotations

import json
import os
from typing import Any

import yaml

try:
    from podman import PodmanClient
except ImportError as exc:
    raise ImportError(f"the podman client is not installed (pip install 'directord[podman]'): {exc}") from exc

DEFAULT_SOCKET = "/var/run/podman/podman.sock"


def _decode(content: bytes | None) -> Any:
    """An API answer: its JSON value, else its text (None when empty)."""
    text = (content or b"").decode("utf-8", "replace")
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class PodmanConnect:
    """A client of the podman service listening on the UNIX socket ``socket``."""

    def __init__(self, socket: str = DEFAULT_SOCKET):
        self.pod = PodmanClient(base_url=f"unix://{socket}")
        self.api = self.pod.api

    def close(self) -> None:
        self.pod.close()

    def __enter__(self) -> PodmanConnect:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class PodmanPod(PodmanConnect):
    """Pod actions: ``start``, ``stop``, ``rm``, ``kill``, ``inspect``, ``play``, ``exec_run``."""

    _decode = staticmethod(_decode)

    def _answer(self, response: Any) -> tuple[bool, Any]:
        return response.ok, _decode(response.content)

    def start(self, name: str, timeout: int = 120) -> tuple[bool, Any]:
        return self._answer(self.api.post(path=f"/pods/{name}/start", params={"t": timeout}))

    def stop(self, name: str, timeout: int = 120) -> tuple[bool, Any]:
        return self._answer(self.api.post(path=f"/pods/{name}/stop", params={"t": timeout}))

    def rm(self, name: str, force: bool = False) -> tuple[bool, Any]:
        return self._answer(self.api.delete(path=f"/pods/{name}", params={"force": force}))

    def kill(self, name: str, signal: str = "SIGKILL") -> tuple[bool, Any]:
        return self._answer(self.api.post(path=f"/pods/{name}/kill", params={"signal": signal}))

    def inspect(self, name: str) -> tuple[bool, Any]:
        return self._answer(self.api.get(path=f"/pods/{name}/json"))

    def play(self, pod_file: str, tlsverify: bool = True) -> tuple[bool, Any]:
        """Create and start the pod a Kubernetes YAML file describes."""
        path = os.path.abspath(os.path.expanduser(pod_file))
        if not os.path.exists(path):
            return False, "Pod YAML did not exist"
        with open(path, encoding="utf-8") as handle:
            body = json.dumps(yaml.safe_load(handle))
        return self._answer(self.api.post(path="/play/kube", data=body,
                                          params={"tlsVerify": tlsverify, "start": True}))

    def exec_run(self, name: str, command: list[str], env: list[str] | None = None,
                 privileged: bool = False) -> tuple[bool, Any]:
        """Run ``command`` in the running container ``name``; its output."""
        spec = {"AttachStderr": True, "AttachStdin": True, "AttachStdout": True, "Cmd": command,
                "Env": env, "Privileged": privileged, "Tty": True}
        response = self.api.post(path=f"/containers/{name}/exec", data=json.dumps(spec))
        if response.ok:
            exec_id = _decode(response.content)["Id"]
            response = self.api.post(path=f"/exec/{exec_id}/start", data=json.dumps({"Detach": False, "Tty": True}))
        return self._answer(response)


class PodmanImage(PodmanConnect):
    """Image actions: ``pull``, ``push``, ``tag``, ``list``, ``inspect`` (extra keyword arguments ignored)."""

    _decode = staticmethod(_decode)

    def pull(self, images: list[str] | None = None, tlsverify: bool = True, **_kwargs: Any) -> tuple[bool, str]:
        """Pull each image; the answers, one per line."""
        answers, ok = [], True
        for image in images or []:
            response = self.api.post(path="/images/pull", params={"reference": image, "tlsVerify": tlsverify})
            text = response.content.decode("utf-8", "replace")
            answers.append(text)
            # the service answers 200 and reports a failed pull in its progress stream
            ok = ok and response.ok and '"error":' not in text
        return ok, "\n".join(answers)

    def push(self, images: list[str] | None = None, tlsverify: bool = True, **_kwargs: Any) -> tuple[bool, str]:
        """Push each image; the answers, one per line."""
        answers, ok = [], True
        for image in images or []:
            response = self.api.post(path=f"/images/{image}/push", params={"tlsVerify": tlsverify})
            answers.append(str(_decode(response.content)))
            ok = ok and response.ok
        return ok, "\n".join(answers)

    def tag(self, images: list[str] | None = None, **_kwargs: Any) -> tuple[bool, Any]:
        """Tag ``images[0]`` as ``images[1]`` (``repo[:tag]``, tag ``latest`` by default)."""
        source, target = (images or [])[:2]
        repo, _, tag = target.partition(":")
        response = self.api.post(path=f"/images/{source}/tag", params={"repo": repo, "tag": tag or "latest"})
        return response.ok, _decode(response.content)

    def list(self, **_kwargs: Any) -> tuple[bool, Any]:
        response = self.api.get(path="/images/json")
        return response.ok, _decode(response.content)

    def inspect(self, images: list[str] | None = None, **_kwargs: Any) -> tuple[bool, Any]:
        """Inspect each image: one image's details, or a list of them."""
        found: list[Any] = []
        ok = True
        for image in images or []:
            response = self.api.get(path=f"/images/{image}/json")
            details = _decode(response.content)
            if isinstance(details, dict):
                found.append(details)
            elif isinstance(details, list):
                found.extend(details)
            else:
                ok = False
            ok = ok and response.ok
        if ok and len(images or []) == 1:
            return ok, found[0]
        return ok, found
