"""Decoding a request value before it is matched: what an attacker hides, the matcher sees.

Every function here is linear in its input and never raises. :func:`normalize` is the whole
pipeline for one value; the flags it returns say what the decoding met (a double encoding, an
overlong UTF-8 sequence, a NUL), which the inspector reports as protocol anomalies.

>>> normalize("1%2527%20OR%201%3D1--", plus=False)[0]
"1' or 1=1--"
>>> normalize("&lt;ScRiPt&gt;alert(1)", plus=False)[0]
'<script>alert(1)'
>>> normalize("SELECT/**/password/**/FROM/**/users", plus=False)[0]
'select password from users'
>>> normalize("%c0%ae%c0%ae/etc/passwd", plus=False)[0]
'../etc/passwd'

Added in 0.1.
"""

from __future__ import annotations

import binascii
import unicodedata
from html.entities import html5
from typing import Final

import re2
from re2 import _re2

_DOTALL: Final = re2.Options()
_DOTALL.dot_nl = True

__all__ = [
    "DOUBLE_ENCODED",
    "ENCODING_ERROR",
    "NUL",
    "OVERLONG",
    "UNICODE_ESCAPE",
    "evidence",
    "html_unescape",
    "normalize",
    "percent_decode",
]

# flags: what decoding met
DOUBLE_ENCODED: Final = 1
"""A percent-escape decoded to another percent-escape (``%252e``). Added in 0.1."""
OVERLONG: Final = 2
"""An overlong UTF-8 sequence (``%c0%ae`` for ``.``): no valid client sends one. Added in 0.1."""
ENCODING_ERROR: Final = 4
"""Bytes that are not UTF-8, or a ``%`` not followed by two hex digits. Added in 0.1."""
NUL: Final = 8
"""A NUL character (``%00``). Added in 0.1."""
UNICODE_ESCAPE: Final = 16
"""IIS's ``%uHHHH`` escape. Added in 0.1."""

_MAX_PASSES: Final = 3
# Control characters other than space-like ones become spaces (a NUL splits a keyword in a
# browser's or a database's eyes); str.translate keeps this one linear pass.
_CONTROLS: Final = dict.fromkeys((*range(32), 127), " ")


def _overlong_table() -> tuple[tuple[bytes, bytes], ...]:
    """Every overlong UTF-8 form of an ASCII character, longest first, with the character."""
    tails = range(0x80, 0xC0)
    four = [
        (bytes([0xF0, 0x80, mid, last]), bytes([(mid & 0x3F) << 6 | (last & 0x3F)]))
        for mid in (0x80, 0x81)
        for last in tails
    ]
    three = [
        (bytes([0xE0, mid, last]), bytes([(mid & 0x3F) << 6 | (last & 0x3F)]))
        for mid in (0x80, 0x81)
        for last in tails
    ]
    two = [
        (bytes([lead, last]), bytes([((lead & 0x1F) << 6 | (last & 0x3F)) & 0x7F]))
        for lead in (0xC0, 0xC1)
        for last in tails
    ]
    return (*four, *three, *two)


_OVERLONGS: Final = _overlong_table()


_OVERLONG_MAP: Final = dict(_OVERLONGS)
_LEAD_SIZES: Final = {0xC0: 2, 0xC1: 2, 0xE0: 3, 0xF0: 4}


def _overlong(data: bytes) -> tuple[bytes, bool]:
    """Decode overlong UTF-8 forms of ASCII characters (``c0 ae`` -> ``.``).

    The first 256 lead bytes of each kind are looked at; every occurrence of a sequence seen
    there is replaced (``bytes.replace``, a C loop): linear, whatever the input holds.
    """
    seen: dict[bytes, bytes] = {}
    for lead, size in _LEAD_SIZES.items():
        pos = data.find(lead)
        count = 0
        while pos >= 0 and count < _MAX_DECODES:
            sequence = data[pos : pos + size]
            char = _OVERLONG_MAP.get(sequence)
            if char is not None:
                seen[sequence] = char
            pos = data.find(lead, pos + 1)
            count += 1
    for sequence in sorted(seen, key=len, reverse=True):
        data = data.replace(sequence, seen[sequence])
    return data, bool(seen)


def _decode_bytes(data: bytes) -> tuple[str, int]:
    flags = 0
    if not data.isascii() and (
        b"\xc0" in data or b"\xc1" in data or b"\xe0" in data or b"\xf0" in data
    ):
        data, found = _overlong(data)
        if found:
            flags |= OVERLONG
    try:
        return data.decode("utf-8"), flags
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace"), flags | ENCODING_ERROR


# the extension's object, called directly: re2's Python wrapper costs ~5 us a search
_BAD_ESCAPE: Final = _re2.RE2(rb"%(?:[^0-9a-fA-F]|.[^0-9a-fA-F]|.?$)", _DOTALL)
_UNANCHORED: Final = _re2.RE2.Anchor.UNANCHORED
_NO_SPAN: Final = (-1, -1)
_MAX_ESCAPES: Final = 1024


def _unquote(raw: bytes) -> bytes:
    """``urllib.parse.unquote_to_bytes``, in C when every escape is well-formed.

    With only valid ``%XX`` escapes this is quoted-printable decoding once ``=`` is escaped
    (``binascii.a2b_qp``, 25x faster than the pure-Python loop). Otherwise the first 1,024
    escapes are decoded and the rest is left as sent (the value is flagged malformed anyway).
    """
    if _BAD_ESCAPE.Match(_UNANCHORED, raw, 0, len(raw))[0] == _NO_SPAN:
        return binascii.a2b_qp(raw.replace(b"=", b"=3D").replace(b"%", b"="))
    parts = raw.split(b"%", _MAX_ESCAPES)
    out = [parts[0]]
    for part in parts[1:]:
        pair = part[:2]
        if len(pair) == 2 and pair.isalnum():
            try:
                out.append(bytes.fromhex(pair.decode("ascii")))
                out.append(part[2:])
                continue
            except ValueError:
                pass
        out.append(b"%")
        out.append(part)
    return b"".join(out)


def _u_unescape(value: str) -> str:
    """IIS's ``%uHHHH`` decoded (the first 256; the rest stay)."""
    parts = value.split("%", _MAX_DECODES)
    out = [parts[0]]
    for part in parts[1:]:
        if part[:1] in ("u", "U") and len(part) >= 5 and _hex(part[1:5]):
            out.append(chr(int(part[1:5], 16)) + part[5:])
        else:
            out.append("%" + part)
    return "".join(out)


def percent_decode(value: str, *, plus: bool = False) -> tuple[str, int]:
    """``value`` percent-decoded up to three times (``+`` is a space when ``plus``), and flags.

    A double encoding decodes again (``%252e`` -> ``.``); ``%uHHHH`` is decoded as IIS does;
    overlong UTF-8 becomes the ASCII it stands for. Never raises.

    >>> percent_decode("a+b%2Bc", plus=True)
    ('a b+c', 0)
    >>> percent_decode("%252e%252e%252f")[0]
    '../'

    Added in 0.1.
    """
    flags = 0
    if plus and "+" in value:
        value = value.replace("+", " ")
    for depth in range(_MAX_PASSES):
        if "%" not in value:
            break
        if "%u" in value or "%U" in value:
            decoded_u = _u_unescape(value)
            if decoded_u != value:
                flags |= UNICODE_ESCAPE
                value = decoded_u
        try:
            raw = value.encode("utf-8", "surrogatepass")
        except UnicodeEncodeError:  # pragma: no cover - surrogatepass encodes every str
            break
        if b"%" not in raw:
            break
        data = _unquote(raw)
        if depth == 0 and data.count(b"%") > raw.count(b"%25"):
            flags |= ENCODING_ERROR  # a '%' not followed by two hex digits stayed as it was
        if data == raw:
            break
        decoded, more = _decode_bytes(data)
        flags |= more
        if depth > 0:
            flags |= DOUBLE_ENCODED
        value = decoded
    return value, flags


_MAX_DECODES: Final = 256
_HEXDIGITS: Final = frozenset("0123456789abcdefABCDEF")


def _hex(text: str) -> bool:
    return bool(text) and _HEXDIGITS.issuperset(text)


def _js_unescape(value: str) -> str:
    """``\\xHH``, ``\\uHHHH`` and ``\\u{H...}`` decoded (the first 256; the rest stay)."""
    parts = value.split("\\", _MAX_DECODES)
    out = [parts[0]]
    for part in parts[1:]:
        kind = part[:1]
        if kind in ("x", "X") and _hex(part[1:3]) and len(part) >= 3:
            out.append(chr(int(part[1:3], 16)) + part[3:])
        elif kind in ("u", "U") and part[1:2] == "{":
            end = part.find("}", 2, 10)
            code = int(part[2:end], 16) if end > 2 and _hex(part[2:end]) else -1
            if 0 <= code < 0x110000:
                out.append(chr(code) + part[end + 1 :])
            else:
                out.append("\\" + part)
        elif kind in ("u", "U") and len(part) >= 5 and _hex(part[1:5]):
            out.append(chr(int(part[1:5], 16)) + part[5:])
        else:
            out.append("\\" + part)
    return "".join(out)


def html_unescape(value: str) -> str:
    """HTML character references decoded (``&lt;`` ``&#60;`` ``&#x3c;``; the first 256).

    >>> html_unescape("&lt;b&gt; &#x27;&#39 &amp")
    "<b> '' &"

    Added in 0.1.
    """
    parts = value.split("&", _MAX_DECODES)
    out = [parts[0]]
    out.extend(_entity(part) for part in parts[1:])
    return "".join(out)


def _entity(part: str) -> str:
    """``part`` (the text after an ``&``) with its leading character reference decoded."""
    if part[:1] == "#":
        if part[1:2] in ("x", "X"):
            digits, start, base = part[2:9], 2, 16
        else:
            digits, start, base = part[1:9], 1, 10
        n = 0
        allowed = _HEXDIGITS if base == 16 else frozenset("0123456789")
        while n < len(digits) and digits[n] in allowed:
            n += 1
        if n == 0:
            return "&" + part
        code = int(digits[:n], base)
        end = start + n
        if part[end : end + 1] == ";":
            end += 1
        char = chr(code) if 0 < code < 0x110000 and not 0xD800 <= code <= 0xDFFF else "\ufffd"
        return char + part[end:]
    semi = part.find(";", 1, 33)
    if semi > 0:
        found = html5.get(part[: semi + 1])
        if found is not None:
            return found + part[semi + 1 :]
    for size in (6, 5, 4, 3, 2):  # legacy references without ';' (&amp &lt &copy)
        found = html5.get(part[:size])
        if found is not None and not part[:size].endswith(";"):
            return found + part[size:]
    return "&" + part


def _strip_comments(value: str) -> str:
    """SQL comments as spaces: ``/* ... */`` whole, a versioned ``/*!50000`` marker (its
    content is SQL), a stray ``*/``; a lone ``/*`` stays (a query cut short). The first 256."""
    out: list[str] = []
    i = 0
    for _ in range(_MAX_DECODES):
        j = value.find("/*", i)
        if j < 0:
            break
        if value.startswith("/*!", j):
            k = j + 3
            while k < len(value) and k < j + 9 and value[k].isdigit():
                k += 1
            out.append(value[i:j])
            out.append(" ")
            i = k
            continue
        k = value.find("*/", j + 2)
        if k < 0:
            break
        out.append(value[i:j])
        out.append(" ")
        i = k + 2
    out.append(value[i:])
    return "".join(out).replace("*/", " ")


def normalize(value: str, *, plus: bool = False, decode: bool = True) -> tuple[str, int]:
    """The form of ``value`` the signatures match, and the decoding flags.

    Percent-decoding (repeated, bounded; ``plus`` for query and form values; off with
    ``decode=False`` for values that were never URL-encoded, such as JSON strings), HTML
    entities, JavaScript escapes (``\\x3c``, ``\\u003c``), Unicode NFKC (full-width ``\\uff1c`` is
    ``<``), lower case, SQL comments as spaces, and every run of whitespace or control
    characters as one space. Linear in ``len(value)``; never raises.

    Added in 0.1.
    """
    if value.isascii() and value.replace(" ", "").isalnum():
        # words and digits (most values): nothing to decode, only case and spaces to fold
        return " ".join(value.lower().split()), 0
    flags = 0
    if decode and ("%" in value or (plus and "+" in value)):
        value, flags = percent_decode(value, plus=plus)
    if "\x00" in value:
        flags |= NUL
    if "&" in value:
        value = html_unescape(value)
    if "\\" in value:
        value = _js_unescape(value)
    if not value.isascii():
        # lone surrogates (a JSON "\\ud800") become U+FFFD: the matcher reads UTF-8
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        value = unicodedata.normalize("NFKC", value)
    value = value.lower()
    if "```" in value:  # a markdown code fence is formatting, not command substitution
        value = value.replace("```", " ")
    if "/*" in value or "*/" in value:
        value = _strip_comments(value)
    if not value.isprintable():
        value = value.translate(_CONTROLS)
    return " ".join(value.split()), flags


_SAFE: Final = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F)}


def evidence(text: str, start: int = 0, end: int | None = None, *, limit: int = 80) -> str:
    """``text[start:end]`` made safe to log: control characters escaped, at most ``limit``.

    >>> evidence("a\\r\\nb")
    'a\\\\x0d\\\\x0ab'

    Added in 0.1.
    """
    part = text[start:end]
    cut = len(part) > limit
    part = part[:limit].translate(_SAFE)
    return part + "..." if cut else part
