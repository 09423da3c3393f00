"""Sandboxed jinja2 rendering ("blueprinting") with the node's cached args."""

from __future__ import annotations

import functools
from typing import Any

from directord.exceptions import TemplateError


@functools.cache
def environment() -> Any:
    """The sandboxed jinja2 environment, built (and jinja2 imported) on first use: most CLI
    runs and most jobs render nothing.

    The sandbox refuses private and internal attributes (``__class__``, ``_x``, ``mro``,
    function and frame internals), so a template cannot reach Python's internals or run
    code. It does allow the mutation idioms real templates use on their own values
    (``{% set _ = hosts.append(h) %}``, ``d.update(...)``): every render gets fresh
    copies of the node's args, so a template can change nothing outside itself.
    """
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                autoescape=False)


def __getattr__(name: str) -> Any:
    if name == "ENVIRONMENT":  # the name older code imports
        return environment()
    raise AttributeError(name)


def render(text: str, values: dict[str, Any] | None, allow_empty_values: bool = True) -> str:
    """Render ``text`` with ``values``; raise TemplateError with a readable reason."""
    if not values and not allow_empty_values:
        raise TemplateError("No arguments were defined for blueprinting")
    if "{" not in text:  # fast path: nothing to render
        return text
    import jinja2

    try:
        return environment().from_string(text).render(**(values or {}))
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a template may fail in any way at render time
        raise TemplateError(f"template error: {type(exc).__name__}: {exc}") from None


def render_names(words: Any, values: dict[str, Any] | None, what: str) -> list[str]:
    """Package or unit names rendered as one text (``{{ name }}`` spans three words), split again.

    Raises TemplateError when nothing is left or a name looks like an option.
    """
    names = render(" ".join(map(str, words or ())), values).split()
    if not names:
        raise TemplateError(f"No {what} to manage")
    option = next((name for name in names if name.startswith("-")), None)
    if option is not None:  # never an option smuggled in by a template
        raise TemplateError(f"not a name: {option!r}")
    return names


def render_value(value: Any, values: dict[str, Any] | None) -> Any:
    """Render every string inside a JSON-able value (ARG/ENV), keeping its structure."""
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, dict):
        return {key: render_value(item, values) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(item, values) for item in value]
    return value
