"""directord: fast, plugin-driven infrastructure orchestration."""

from importlib import metadata

import pluggy

try:
    __version__ = metadata.version("directord")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

hookimpl = pluggy.HookimplMarker("directord")


def __getattr__(name: str):
    """Lazily re-export ``DirectordConnect`` so ``import directord`` stays cheap."""
    if name == "DirectordConnect":
        from directord.connect import DirectordConnect

        return DirectordConnect
    raise AttributeError(name)
