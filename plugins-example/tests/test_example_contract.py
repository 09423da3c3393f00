"""ECHO passes directord's component contract suite, its class unchanged (the examples are given here)."""

from __future__ import annotations

from directord.testing import ComponentContract


class TestEchoContract(ComponentContract):
    verbs = ("ECHO",)
    examples = {"ECHO": ("hello world", "--stdout-arg said hello   again")}
    bad_texts = {"ECHO": ("",)}
