"""Sandboxed jinja2 rendering ("blueprinting") with the node's cached args."""

from __future__ import annotations

from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False
)


class TemplateError(Exception):
    """Rendering failed: undefined variable, syntax error or sandbox violation."""


def render(text: str, values: dict[str, Any] | None, allow_empty_values: bool = True) -> str:
    """Render ``text`` with ``values``; raise TemplateError with a readable reason."""
    if not values and not allow_empty_values:
        raise TemplateError("No arguments were defined for blueprinting")
    if "{" not in text:  # fast path: nothing to render
        return text
    try:
        return ENVIRONMENT.from_string(text).render(**(values or {}))
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a template may fail in any way at render time
        raise TemplateError(f"template error: {type(exc).__name__}: {exc}") from None


def render_words(words: Any, values: dict[str, Any] | None) -> list[str]:
    """Render a list of names as one text (``{{ name }}`` spans three words), split again."""
    return render(" ".join(map(str, words or ())), values).split()


def render_value(value: Any, values: dict[str, Any] | None) -> Any:
    """Render every string inside a JSON-able value (ARG/ENV), keeping its structure."""
    if isinstance(value, str):
        return render(value, values)
    if isinstance(value, dict):
        return {key: render_value(item, values) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [render_value(item, values) for item in value]
    return value
