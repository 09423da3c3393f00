"""directord: fast, plugin-driven infrastructure orchestration."""

from typing import Any

# The one place the version is written (setup.cfg reads it): reading it back from the
# installed metadata would cost every command start-up the import of importlib.metadata.
__version__ = "0.13.0"


def __getattr__(name: str) -> Any:
    """Lazily export ``hookimpl`` and ``DirectordConnect``, so ``import directord`` stays cheap."""
    if name == "hookimpl":
        from directord.hookspecs import hookimpl

        return hookimpl
    if name == "DirectordConnect":
        from directord.connect import DirectordConnect

        return DirectordConnect
    raise AttributeError(name)
