"""HTML: a linear scanner for ``<meta>`` and ``<script>`` start tags, and the
subresource-integrity test that reads the scripts it finds.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bulletproof.observatory._domains import registrable, scheme_host
from bulletproof.observatory._js import NodeHeaders, trim
from bulletproof.observatory._models import Scan

__all__ = ["HTML_TYPES", "Page", "media_type", "read_page", "sri_result"]

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_HTML_SPACE: Final = frozenset(" \t\n\r\f")
_RAW_TEXT: Final = frozenset({"script", "style", "textarea", "title", "xmp", "iframe", "noembed"})


def _start_tags(body: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield ``(tag, attributes)`` for every start tag, as a tolerant tokenizer sees them.

    Tag and attribute names are lower-cased, entities in values decoded, the first of a repeated
    attribute wins. Comments, declarations and the content of raw-text elements (script, style,
    ...) are skipped. Every step moves forward, so the whole scan is linear in ``len(body)``.
    """
    lower = body.translate(_ASCII_LOWER)  # same length as body, unlike str.lower()
    n = len(body)
    i = 0
    while True:
        i = body.find("<", i)
        if i < 0 or i + 1 >= n:
            return
        nxt = body[i + 1]
        if body.startswith("<!--", i):
            end = body.find("-->", i + 4)
            if end < 0:
                return
            i = end + 3
            continue
        if nxt in "!?/":
            end = body.find(">", i + 2)
            if end < 0:
                return
            i = end + 1
            continue
        if not ("a" <= nxt <= "z" or "A" <= nxt <= "Z"):
            i += 1
            continue
        j = i + 1
        while j < n and body[j] not in _HTML_SPACE and body[j] not in "/>":
            j += 1
        tag = lower[i + 1 : j]
        attrs: dict[str, str] = {}
        while True:
            while j < n and (body[j] in _HTML_SPACE or body[j] == "/"):
                j += 1
            if j >= n:
                yield tag, attrs
                return
            if body[j] == ">":
                j += 1
                break
            k = j + 1  # a leading "=" belongs to the name
            while k < n and body[k] not in _HTML_SPACE and body[k] not in "/>=":
                k += 1
            name = lower[j:k]
            j = k
            while j < n and body[j] in _HTML_SPACE:
                j += 1
            value = ""
            if j < n and body[j] == "=":
                j += 1
                while j < n and body[j] in _HTML_SPACE:
                    j += 1
                if j < n and body[j] in "\"'":
                    close = body.find(body[j], j + 1)
                    if close < 0:
                        close = n
                    value = body[j + 1 : close]
                    j = close + 1
                else:
                    k = j
                    while k < n and body[k] not in _HTML_SPACE and body[k] != ">":
                        k += 1
                    value = body[j:k]
                    j = k
            if name not in attrs:
                attrs[name] = html.unescape(value) if "&" in value else value
        yield tag, attrs
        if tag in _RAW_TEXT:
            end = lower.find("</" + tag, j)
            if end < 0:
                return
            j = end
        i = j


@dataclass(frozen=True, slots=True)
class Page:
    scripts: tuple[dict[str, str], ...]
    meta_csp: tuple[str, ...]
    meta_referrer: str | None


def read_page(body: str, with_meta: bool) -> Page:
    """The scripts, ``<meta>`` CSP policies and ``<meta name=referrer>`` of an HTML body."""
    scripts: list[dict[str, str]] = []
    meta_csp: list[str] = []
    referrer: str | None = None
    for tag, attrs in _start_tags(body):
        if tag == "script":
            scripts.append(attrs)
        elif tag == "meta" and with_meta:
            content = attrs.get("content")
            equiv = attrs.get("http-equiv")
            if equiv is not None and content is not None:
                if trim(equiv.lower()) == "content-security-policy" and content:
                    meta_csp.append(content)
            elif trim(attrs.get("name", "").lower()) == "referrer" and content:
                referrer = content
    return Page(tuple(scripts), tuple(meta_csp), referrer)


def media_type(headers: NodeHeaders) -> str | None:
    """The first Content-Type's media type (no parameters), or None."""
    ctype = headers.get("content-type")
    return None if ctype is None else ctype.split(";", 1)[0]


HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})


_SRI_ORDER: Final = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-implemented-but-external-scripts-not-loaded-securely",
    "sri-not-implemented-but-external-scripts-loaded-securely",
    "sri-not-implemented-and-external-scripts-not-loaded-securely",
)


def sri_result(scan: Scan, headers: NodeHeaders, page: Page, is_https: bool) -> str:
    """The subresource-integrity test, on the scripts of an HTML response."""
    mime = media_type(headers)
    if mime and mime not in HTML_TYPES:
        return "sri-not-implemented-response-not-html"
    if not page.scripts:
        return "sri-not-implemented-but-no-scripts-loaded"
    site_domain = registrable(scan.hostname, scan.suffixes, icann_only=True)
    result: str | None = None
    foreign_seen = False
    for attrs in page.scripts:
        src = attrs.get("src", "")
        if not src:
            continue
        integrity = bool(attrs.get("integrity"))
        relative_protocol = len(src) > 2 and src.startswith("//") and src[2] != "/"
        full_url = src.startswith(("http://", "https://"))
        relative_origin = not relative_protocol and not full_url
        same_domain = False
        if relative_protocol:
            same_domain = True
        elif full_url:
            _, host = scheme_host(src)
            same_domain = registrable(host, scan.suffixes, icann_only=True) == site_domain
        secure_origin = relative_origin or (same_domain and not relative_protocol)
        secure_scheme = (full_url and src.startswith("https://")) or (relative_origin and is_https)
        if not secure_origin:
            foreign_seen = True
            found: str | None = None
            if integrity and not secure_scheme:
                found = "sri-implemented-but-external-scripts-not-loaded-securely"
            elif not integrity and secure_scheme:
                found = "sri-not-implemented-but-external-scripts-loaded-securely"
            elif not integrity:
                found = "sri-not-implemented-and-external-scripts-not-loaded-securely"
            if found is not None and (
                result is None or _SRI_ORDER.index(found) > _SRI_ORDER.index(result)
            ):
                result = found
        elif integrity and secure_scheme and result is None:
            result = "sri-implemented-and-all-scripts-loaded-securely"
    if result is not None:
        return result
    if foreign_seen:
        return "sri-implemented-and-external-scripts-loaded-securely"
    return "sri-not-implemented-but-all-scripts-loaded-from-secure-origin"
