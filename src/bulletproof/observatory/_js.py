"""JavaScript string semantics and Node's view of response headers, as the Observatory reads them.

The Observatory is written in JavaScript and fetches with Node's HTTP client; reproducing its
results means trimming as ``String.prototype.trim`` does, parsing numbers as ``parseInt`` does
and joining repeated headers as Node does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["DIGITS", "HEX", "JS_WS", "JS_WS_RUN", "NodeHeaders", "js_parse_int", "trim"]

JS_WS: Final = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# A character class with one quantifier: linear time, no backtracking.
JS_WS_RUN: Final = re.compile("[" + re.escape(JS_WS) + "]+")
DIGITS: Final = frozenset("0123456789")
HEX: Final = frozenset("0123456789abcdefABCDEF")


def trim(text: str) -> str:
    """JavaScript ``String.prototype.trim``."""
    return text.strip(JS_WS)


def js_parse_int(text: str) -> int | None:
    """JavaScript ``parseInt(text)`` without a radix; None stands for NaN."""
    s = text.lstrip(JS_WS)
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    allowed = DIGITS
    radix = 10
    if s[:2] in ("0x", "0X"):
        allowed, radix, s = HEX, 16, s[2:]
    end = 0
    while end < len(s) and s[end] in allowed:
        end += 1
    if end == 0:
        return None
    return sign * int(s[:end], radix)


# Node's HTTP client keeps only the first value of these; it joins every other repeated header.
_FIRST_ONLY: Final = frozenset(
    {
        "age",
        "authorization",
        "content-length",
        "content-type",
        "etag",
        "expires",
        "from",
        "host",
        "if-modified-since",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "proxy-authorization",
        "referer",
        "retry-after",
        "server",
        "user-agent",
    }
)


class NodeHeaders:
    """Headers as Node hands them over: one string per name (repeats joined with ", "),
    Content-Type and friends first value only, Set-Cookie a list."""

    __slots__ = ("_values", "set_cookie")

    def __init__(self, raw: Iterable[tuple[str, str]]) -> None:
        parts: dict[str, list[str]] = {}
        self.set_cookie: list[str] = []
        for name, value in raw:
            key = name.lower()
            text = value.strip(" \t")
            if key == "set-cookie":
                self.set_cookie.append(text)
            elif key not in parts:
                parts[key] = [text]
            elif key not in _FIRST_ONLY:
                parts[key].append(text)
        self._values = {key: ", ".join(vals) for key, vals in parts.items()}

    def get(self, name: str) -> str | None:
        return self._values.get(name)
