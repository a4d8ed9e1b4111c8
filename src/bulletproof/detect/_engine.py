"""Matching many patterns at once, in time linear in the input.

An :class:`Engine` compiles a list of RE2-syntax patterns and answers, for one text, which of
them match. No match crosses a newline and ``^``/``$`` match at line ends, so many fields can be
judged in one pass, one per line (normalized fields never hold a newline). Two implementations: ``re2`` (google-re2's ``Set``, a DFA over all patterns; the
default, a dependency of bulletproof) and ``hyperscan`` (Intel's engine, x86 only, in the
``hyperscan`` extra). Neither backtracks, so no input makes matching slower than linear.
``bench/engines.py`` measures both beside Python's backtracking ``re``.

>>> engine = compile_set([r"\\bunion select", r"<script"])
>>> engine.match("1 union select 2")
[0]

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Protocol

import re2

from bulletproof.errors import ConfigError

__all__ = ["ENGINES", "Engine", "compile_set"]

ENGINES: Final = ("re2", "hyperscan")
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


class _HyperscanSet:
    name = "hyperscan"

    def __init__(self, patterns: Sequence[str]) -> None:
        import hyperscan  # the optional extra

        self._hs: Any = hyperscan
        self._empty = not patterns
        self._db: Any = None
        if self._empty:
            return
        flags = (
            hyperscan.HS_FLAG_SINGLEMATCH
            | hyperscan.HS_FLAG_UTF8
            | hyperscan.HS_FLAG_UCP
            | hyperscan.HS_FLAG_MULTILINE
        )
        self._db = hyperscan.Database()
        self._db.compile(
            expressions=[p.encode() for p in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[flags] * len(patterns),
        )
        self._scratch = hyperscan.Scratch(self._db)

    def match(self, text: str) -> list[int]:
        if self._empty:
            return []
        found: list[int] = []

        def on_match(id_: int, start: int, end: int, flags: int, context: object) -> None:
            found.append(id_)

        self._db.scan(text.encode("utf-8", "surrogatepass"), match_event_handler=on_match,
                      scratch=self._scratch)
        found.sort()
        return found


def compile_set(patterns: Sequence[str], engine: str = "re2") -> Engine:
    """``patterns`` compiled by ``engine`` (``"re2"`` or ``"hyperscan"``).

    Raises :class:`~bulletproof.errors.ConfigError` for an unknown engine, or ``hyperscan``
    when the extra is not installed.

    Added in 0.1.
    """
    if engine == "re2":
        return _Re2Set(patterns)
    if engine == "hyperscan":
        try:
            return _HyperscanSet(patterns)
        except ImportError:
            raise ConfigError(
                "shield.engine = 'hyperscan' needs the hyperscan package: "
                "pip install 'bulletproof[hyperscan]', or use engine = 're2' (the default)"
            ) from None
    raise ConfigError(
        f"shield.engine = {engine!r} is not an engine: use one of {', '.join(ENGINES)}"
    )
