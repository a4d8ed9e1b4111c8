"""Matching many patterns at once, in time linear in the input.

An :class:`Engine` compiles a list of RE2-syntax patterns and answers, for one text, which of
them match. No match crosses a newline and ``^``/``$`` match at line ends, so many fields can
be judged in one pass, one per line (normalized fields never hold a newline). The
implementation is google-re2's ``Set`` (a lazily built DFA over all patterns, a dependency of
bulletproof): it never backtracks, so no input makes matching slower than linear. The
``engine`` name leaves room for another (hyperscan was tried: it rejects some of the bounded
repetitions as too large, and is x86-only).

>>> engine = compile_set([r"\\bunion select", r"<script"])
>>> engine.match("1 union select 2")
[0]

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import re2

from bulletproof.errors import ConfigError

__all__ = ["ENGINES", "Engine", "compile_set"]

ENGINES: Final = ("re2",)
"""The engine names :func:`compile_set` takes. Added in 0.1."""


class Engine(Protocol):
    """A compiled pattern set. Added in 0.1."""

    name: str

    def match(self, text: str) -> list[int]:
        """The indexes of the patterns that match somewhere in ``text``. Added in 0.1."""
        ...


class _Re2Set:
    name = "re2"

    def __init__(self, patterns: Sequence[str]) -> None:
        options = re2.Options()
        options.max_mem = 64 << 20
        options.never_nl = True
        self._set = re2.Set.SearchSet(options)
        for pattern in patterns:
            self._set.Add("(?m)" + pattern)
        self._set.Compile()
        self._empty = not patterns

    def match(self, text: str) -> list[int]:
        if self._empty:
            return []
        found: list[int] | None = self._set.Match(text)
        return found or []  # google-re2 answers None for no match


def compile_set(patterns: Sequence[str], engine: str = "re2") -> Engine:
    """``patterns`` compiled by ``engine`` (``"re2"``).

    Raises :class:`~bulletproof.errors.ConfigError` for an unknown engine.

    Added in 0.1.
    """
    if engine == "re2":
        return _Re2Set(patterns)
    raise ConfigError(
        f"shield.engine = {engine!r} is not an engine: use one of {', '.join(ENGINES)}"
    )
