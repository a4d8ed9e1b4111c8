"""Cross-origin isolation: Cross-Origin-Embedder-Policy and Cross-Origin-Opener-Policy (each a
structured-field Item, RFC 8941 / RFC 9651) and Cross-Origin-Resource-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bulletproof.observatory._js import DIGITS, NodeHeaders, trim

__all__ = ["COEP_TOKENS", "COOP_TOKENS", "corp_result", "isolation_result"]

# -- structured field items, enough to validate one Item ----------------------------------------

_TCHAR: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_TOKEN_REST: Final = _TCHAR | {":", "/"}
_LCALPHA: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_KEY_REST: Final = _LCALPHA | DIGITS | frozenset("_-.*")
_B64: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_ALPHA: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class _SFError(ValueError):
    pass


def _sf_number(s: str, i: int) -> int:
    start = i
    if i < len(s) and s[i] == "-":
        i += 1
    if i >= len(s) or s[i] not in DIGITS:
        raise _SFError
    digits_start = i
    while i < len(s) and s[i] in DIGITS:
        i += 1
    int_digits = i - digits_start
    if i < len(s) and s[i] == ".":
        if int_digits > 12:
            raise _SFError
        i += 1
        frac_start = i
        while i < len(s) and s[i] in DIGITS:
            i += 1
        if not 1 <= i - frac_start <= 3:
            raise _SFError
    elif int_digits > 15:
        raise _SFError
    return i if i > start else start


def _sf_bare_item(s: str, i: int) -> tuple[str, int]:
    """Parse one bare item at ``i``; return its kind and the index after it."""
    if i >= len(s):
        raise _SFError
    c = s[i]
    if c == "-" or c in DIGITS:
        return "number", _sf_number(s, i)
    if c == '"':
        i += 1
        while i < len(s):
            ch = s[i]
            if ch == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '"\\':
                    raise _SFError
                i += 2
            elif ch == '"':
                return "string", i + 1
            elif not 0x20 <= ord(ch) <= 0x7E:
                raise _SFError
            else:
                i += 1
        raise _SFError
    if c == "*" or c in _ALPHA:
        i += 1
        while i < len(s) and s[i] in _TOKEN_REST:
            i += 1
        return "token", i
    if c == ":":
        end = s.find(":", i + 1)
        if end < 0 or any(ch not in _B64 for ch in s[i + 1 : end]):
            raise _SFError
        return "bytes", end + 1
    if c == "?":
        if i + 1 < len(s) and s[i + 1] in "01":
            return "boolean", i + 2
        raise _SFError
    if c == "@":
        return "date", _sf_number(s, i + 1)
    if c == "%" and s.startswith('%"', i):
        i += 2
        raw = bytearray()
        while i < len(s):
            ch = s[i]
            if ch == "%":
                pair = s[i + 1 : i + 3]
                if len(pair) != 2 or any(h not in "0123456789abcdef" for h in pair):
                    raise _SFError
                raw.append(int(pair, 16))
                i += 3
            elif ch == '"':
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise _SFError from None
                return "displaystring", i + 1
            elif not 0x20 <= ord(ch) <= 0x7E:
                raise _SFError
            else:
                raw.append(ord(ch))
                i += 1
        raise _SFError
    raise _SFError


def _sf_item_token(value: str) -> str | None:
    """The bare item of a structured-field Item if it is a Token; None for anything else."""
    try:
        value.encode("ascii")
    except UnicodeEncodeError:
        return None
    s = value.strip(" ")
    try:
        kind, i = _sf_bare_item(s, 0)
        token = s[:i]
        while i < len(s) and s[i] == ";":
            i += 1
            while i < len(s) and s[i] == " ":
                i += 1
            if i >= len(s) or (s[i] not in _LCALPHA and s[i] != "*"):
                raise _SFError
            i += 1
            while i < len(s) and s[i] in _KEY_REST:
                i += 1
            if i < len(s) and s[i] == "=":
                _, i = _sf_bare_item(s, i + 1)
        if i != len(s):
            raise _SFError
    except _SFError:
        return None
    return token if kind == "token" else None


def isolation_result(value: str | None, prefix: str, tokens: Mapping[str, str]) -> str:
    """The COEP or COOP test (``prefix`` coep or coop): the header's token, if it is one of
    ``tokens``.
    """
    if not value:
        return f"{prefix}-not-implemented"
    token = _sf_item_token(trim(value[:1024]))
    if token is None or token not in tokens:
        return f"{prefix}-header-invalid"
    return f"{prefix}-implemented-with-{tokens[token]}"


COEP_TOKENS: Final = {t: t for t in ("require-corp", "credentialless", "unsafe-none")}
COOP_TOKENS: Final = {
    t: t
    for t in ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
}


def corp_result(headers: NodeHeaders) -> str:
    """The Cross-Origin-Resource-Policy test."""
    value = headers.get("cross-origin-resource-policy")
    if not value:
        return "corp-not-implemented"
    v = trim(value[:256]).lower()
    if v in ("same-site", "same-origin", "cross-origin"):
        return f"corp-implemented-with-{v}"
    return "corp-header-invalid"
