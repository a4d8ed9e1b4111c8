"""The one rule for text that must stay on one line: log lines, events, messages, headers.

Unsafe characters are the C0 controls (CR, LF, TAB, NUL...), DEL, the C1 controls (U+0080 to
U+009F, NEL among them), the Unicode line and paragraph separators (U+2028, U+2029), the
bidirectional embedding, override and isolate controls (U+202A to U+202E, U+2066 to U+2069:
they make a terminal or viewer show text in an order it is not in), and lone surrogates (what
invalid UTF-8 becomes when decoded with ``surrogateescape``). :func:`one_line` replaces each
with a visible escape (``\\r``, ``\\n``, ``\\t``, ``\\0``, ``\\xNN``, ``\\uNNNN``), so nothing
can split a line, forge a log entry, inject a header or hide what a message says. One
character class: linear time on any input.

>>> one_line("bad\\r\\nInjected: yes\\u202e")
'bad\\\\r\\\\nInjected: yes\\\\u202e'
>>> one_line("x" * 20, limit=8)
'xxxxxxx…'

Added in 0.1.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Final

__all__ = ["UNSAFE", "did_you_mean", "has_unsafe", "one_line"]

UNSAFE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""The unsafe characters, as one character class. Added in 0.1."""

_NAMED: Final = {"\r": "\\r", "\n": "\\n", "\t": "\\t", "\x00": "\\0"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def has_unsafe(text: str) -> bool:
    """Whether ``text`` holds any unsafe character. Added in 0.1."""
    return UNSAFE.search(text) is not None


def one_line(text: str, limit: int | None = None) -> str:
    """``text`` with every unsafe character escaped, cut to ``limit`` characters (the last of
    them then ``…``). Added in 0.1."""
    if UNSAFE.search(text) is not None:
        text = UNSAFE.sub(_escape, text)
    if limit is not None and len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest choice, or ``""``.

    >>> did_you_mean("sinsk", ["sinks", "spool_dir"])
    " Did you mean 'sinks'?"

    Added in 0.1.
    """
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
