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

import unicodedata
from html.entities import html5
from typing import Final
from urllib.parse import unquote_to_bytes

import re2

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
"""IIS's ``%uXXXX`` escape. Added in 0.1."""

_MAX_PASSES: Final = 3
_U_ESCAPE: Final = re2.compile(r"(?i)%u([0-9a-f]{4})")
_JS_ESCAPE: Final = re2.compile(r"(?i)\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|u\{([0-9a-f]{1,6})\})")
# a whole comment, or the markers of a MySQL versioned comment (its content is SQL); a lone
# "/*" stays, the signature of a query cut short
_COMMENT: Final = re2.compile(r"/\*![0-9]*|/\*.*?\*/|\*/")
_ENTITY: Final = re2.compile(
    r"&(?:#([0-9]{1,8});?|#[xX]([0-9a-fA-F]{1,6});?|([A-Za-z][A-Za-z0-9]{1,31};?))"
)
# Control characters other than space-like ones become spaces (a NUL splits a keyword in a
# browser's or a database's eyes); str.translate keeps this one linear pass.
_CONTROLS: Final = {c: " " for c in (*range(0x20), 0x7F)}


def _overlong(data: bytes) -> tuple[bytes, bool]:
    """Decode overlong UTF-8 forms of ASCII characters (``c0 ae`` -> ``.``)."""
    out = bytearray()
    found = False
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b in (0xC0, 0xC1) and i + 1 < n and 0x80 <= data[i + 1] <= 0xBF:
            out.append(((b & 0x1F) << 6 | (data[i + 1] & 0x3F)) & 0x7F)
            i += 2
            found = True
        elif b == 0xE0 and i + 2 < n and 0x80 <= data[i + 1] <= 0x9F and data[i + 2] >= 0x80:
            out.append(((data[i + 1] & 0x3F) << 6 | (data[i + 2] & 0x3F)) & 0x7F)
            i += 3
            found = True
        elif (
            b == 0xF0
            and i + 3 < n
            and 0x80 <= data[i + 1] <= 0x8F
            and data[i + 2] >= 0x80
            and data[i + 3] >= 0x80
        ):
            out.append(((data[i + 2] & 0x3F) << 6 | (data[i + 3] & 0x3F)) & 0x7F)
            i += 4
            found = True
        else:
            out.append(b)
            i += 1
    return bytes(out), found


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


def percent_decode(value: str, *, plus: bool = False) -> tuple[str, int]:
    """``value`` percent-decoded up to three times (``+`` is a space when ``plus``), and flags.

    A double encoding decodes again (``%252e`` -> ``.``); ``%uXXXX`` is decoded as IIS does;
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
            decoded_u = _U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
            if decoded_u != value:
                flags |= UNICODE_ESCAPE
                value = decoded_u
        try:
            raw = value.encode("utf-8", "surrogatepass")
        except UnicodeEncodeError:  # pragma: no cover - surrogatepass encodes every str
            break
        if b"%" not in raw:
            break
        data = unquote_to_bytes(raw)
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


def _js_unescape(value: str) -> str:
    def repl(m: re2._Match[str]) -> str:
        code = int(m.group(1) or m.group(2) or m.group(3), 16)
        return chr(code) if code < 0x110000 else ""

    return _JS_ESCAPE.sub(repl, value)


def _entity(m: re2._Match[str]) -> str:
    dec, hexa, name = m.group(1), m.group(2), m.group(3)
    if dec or hexa:
        code = int(dec, 10) if dec else int(hexa, 16)
        return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code <= 0xDFFF else "\ufffd"
    found = html5.get(name) or html5.get(name + ";")
    return found if found is not None else m.group(0)


def html_unescape(value: str) -> str:
    """HTML character references decoded (``&lt;`` ``&#60;`` ``&#x3c;``), with re2.

    >>> html_unescape("&lt;b&gt; &#x27;&#39 &amp")
    "<b> '' &"

    Added in 0.1.
    """
    return _ENTITY.sub(_entity, value)


def normalize(value: str, *, plus: bool = False, decode: bool = True) -> tuple[str, int]:
    """The form of ``value`` the signatures match, and the decoding flags.

    Percent-decoding (repeated, bounded; ``plus`` for query and form values; off with
    ``decode=False`` for values that were never URL-encoded, such as JSON strings), HTML
    entities, JavaScript escapes (``\\x3c``, ``\\u003c``), Unicode NFKC (full-width ``＜`` is
    ``<``), lower case, SQL comments as spaces, and every run of whitespace or control
    characters as one space. Linear in ``len(value)``; never raises.

    Added in 0.1.
    """
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
        value = unicodedata.normalize("NFKC", value)
    value = value.lower()
    if "/*" in value or "*/" in value:
        value = _COMMENT.sub(" ", value)
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
