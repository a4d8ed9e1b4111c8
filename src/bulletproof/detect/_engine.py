"""Matching many patterns at once, in time linear in the input.

An :class:`Engine` compiles a list of RE2-syntax patterns and answers, for one text, which of
them match. No match crosses a newline and ``^``/``$`` match at line ends, so many fields can
be judged in one pass, one per line (normalized fields never hold a newline). The
implementation is google-re2's ``Set`` (a lazily built DFA over all patterns, a dependency of
bulletproof): it never backtracks, so no input makes matching slower than linear. The
``engine`` name leaves room for another (hyperscan was tried: it rejects some of the bounded
repetitions as too large, and is x86-only).

>>> engine = compile_set([r"\\bunion select", r"<script"])
>>> engine.match(b"1 union select 2")
[0]
>>> engine.span(0, b"1 union select 2")
(2, 14)

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

import re2
from re2 import _re2

from bulletproof.errors import ConfigError

__all__ = ["ENGINES", "Engine", "compile_set"]

ENGINES: Final = ("re2",)
"""The engine names :func:`compile_set` takes. Added in 0.1."""


class Engine(Protocol):
    """A compiled pattern set. Added in 0.1."""

    name: str

    def match(self, text: bytes) -> list[int]:
        """The indexes of the patterns that match somewhere in ``text`` (UTF-8).

        Added in 0.1.
        """
        ...

    def span(self, index: int, text: bytes) -> tuple[int, int] | None:
        """Where pattern ``index`` first matches in ``text`` (byte offsets), or None.

        Added in 0.1.
        """
        ...


# google-re2's Python wrappers (re2.Set.Match, re2._Regexp.search) cost 5-15 us a call in
# Python code around the C++ objects; these call the extension's objects directly, on bytes.
_UNANCHORED: Final = _re2.RE2.Anchor.UNANCHORED
_NO_SPAN: Final = (-1, -1)


class _Re2Set:
    name = "re2"

    def __init__(self, patterns: Sequence[str]) -> None:
        options = re2.Options()
        options.max_mem = 64 << 20
        options.never_nl = True
        self._set = _re2.Set(_UNANCHORED, options)
        self._single = []
        for pattern in patterns:
            encoded = ("(?m)" + pattern).encode()
            if self._set.Add(encoded) < 0:
                raise ConfigError(f"signature {pattern!r} is not valid RE2 syntax")
            single = _re2.RE2(encoded, options)
            if not single.ok():  # pragma: no cover - the set accepted it
                raise ConfigError(f"signature {pattern!r}: {single.error()}")
            self._single.append(single)
        if patterns and not self._set.Compile():
            raise ConfigError("the signatures do not fit in RE2's memory budget (64 MB)")
        self._empty = not patterns

    def match(self, text: bytes) -> list[int]:
        if self._empty:
            return []
        found: list[int] = self._set.Match(text)
        return found

    def span(self, index: int, text: bytes) -> tuple[int, int] | None:
        spans = self._single[index].Match(_UNANCHORED, text, 0, len(text))
        first: tuple[int, int] = spans[0]
        return None if first == _NO_SPAN else first


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
