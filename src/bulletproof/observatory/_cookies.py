"""Cookies: an RFC 6265 jar that stores what a browser (tough-cookie) would, and the cookies test
that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bulletproof.observatory._domains import PublicSuffixList, is_ip, registrable
from bulletproof.observatory._js import NodeHeaders, trim
from bulletproof.observatory._models import Scan, Session

__all__ = ["CookieJar", "StoredCookie", "cookies_result"]


@dataclass(frozen=True, slots=True)
class StoredCookie:
    """A cookie as the jar keeps it. ``same_site``: strict, lax, none or unset.

    Added in 0.1.
    """

    name: str
    value: str
    domain: str
    path: str
    host_only: bool
    secure: bool
    http_only: bool
    same_site: str


@dataclass(frozen=True, slots=True)
class _ParsedCookie:
    name: str
    value: str
    domain: str | None
    path: str | None
    secure: bool
    http_only: bool
    same_site: str


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 for c in text)


def _parse_set_cookie(line: str) -> _ParsedCookie | None:
    text = trim(line)
    for stop in ("\n", "\r", "\0"):
        cut = text.find(stop)
        if cut >= 0:
            text = text[:cut]
    pair, _, rest = text.partition(";")
    eq = pair.find("=")
    if eq <= 0:
        return None
    name, value = trim(pair[:eq]), trim(pair[eq + 1 :])
    if not name or _has_control(name) or _has_control(value):
        return None
    domain: str | None = None
    path: str | None = None
    secure = http_only = False
    same_site = "unset"
    for piece in rest.split(";"):
        av = trim(piece)
        if not av:
            continue
        key, sep, raw_value = av.partition("=")
        key = trim(key).lower()
        av_value = trim(raw_value) if sep else None
        if key == "domain" and av_value:
            stripped = av_value[1:] if av_value.startswith(".") else av_value
            if stripped:
                domain = stripped.lower()
        elif key == "path":
            path = av_value if av_value and av_value.startswith("/") else None
        elif key == "secure":
            secure = True
        elif key == "httponly":
            http_only = True
        elif key == "samesite":
            lowered = (av_value or "").lower()
            same_site = lowered if lowered in ("strict", "lax", "none") else "unset"
    return _ParsedCookie(name, value, domain, path, secure, http_only, same_site)


def _domain_match(host: str, domain: str) -> bool:
    if host == domain:
        return True
    if is_ip(host):
        return False
    return host.endswith("." + domain)


def _default_path(url_path: str) -> str:
    if not url_path.startswith("/"):
        return "/"
    cut = url_path.rfind("/")
    return "/" if cut <= 0 else url_path[:cut]


class CookieJar:
    """Cookies stored while following a redirect chain (RFC 6265 storage rules).

    Refuses a ``Domain`` that does not domain-match the request host or is a public suffix,
    and ``__Secure-``/``__Host-`` prefix violations; a later cookie with the same domain, path
    and name replaces the earlier one. Expired cookies are kept, as the Observatory's jar
    serialisation keeps them, and a ``Secure`` cookie set over plain http is stored too (whether
    the Observatory's cookie library refuses it is unverified; it only matters on http hops).

    Added in 0.1.
    """

    __slots__ = ("_cookies", "_suffixes")

    def __init__(self, suffixes: PublicSuffixList | None = None) -> None:
        self._cookies: dict[tuple[str, str, str], StoredCookie] = {}
        self._suffixes = suffixes

    def store(self, url: str, set_cookie: str) -> bool:
        """Store one ``Set-Cookie`` line received from ``url``; False if it was refused."""
        parsed = _parse_set_cookie(set_cookie)
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return False
        if parsed is None or not host:
            return False
        if parsed.domain is not None:
            if not is_ip(parsed.domain) and (
                registrable(parsed.domain, self._suffixes, icann_only=False) is None
            ):
                return False
            if not _domain_match(host, parsed.domain):
                return False
            domain, host_only = parsed.domain, False
        else:
            domain, host_only = host, True
        path = parsed.path if parsed.path is not None else _default_path(parts.path)
        if parsed.name.startswith("__Secure-") and not parsed.secure:
            return False
        if parsed.name.startswith("__Host-") and not (parsed.secure and host_only and path == "/"):
            return False
        cookie = StoredCookie(
            parsed.name,
            parsed.value,
            domain,
            path,
            host_only,
            parsed.secure,
            parsed.http_only,
            parsed.same_site,
        )
        self._cookies[(domain, path, parsed.name)] = cookie
        return True

    def cookies(self) -> list[StoredCookie]:
        """Every stored cookie, in the order first stored."""
        return list(self._cookies.values())

    def header_for(self, url: str) -> str | None:
        """The ``Cookie`` request header value to send to ``url``, or None."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return None
        path = parts.path or "/"
        chosen = []
        for c in self._cookies.values():
            if c.host_only and host != c.domain:
                continue
            if not c.host_only and not _domain_match(host, c.domain):
                continue
            if not (
                path == c.path
                or (path.startswith(c.path) and (c.path.endswith("/") or path[len(c.path)] == "/"))
            ):
                continue
            if c.secure and parts.scheme != "https":
                continue
            chosen.append(c)
        chosen.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in chosen) or None


def cookies_result(scan: Scan, auto: Session, auto_headers: NodeHeaders, hsts_ok: bool) -> str:
    """The cookies test: every cookie the graded chain stored, and the Set-Cookie lines of its last
    response.
    """
    result: str | None = None
    for line in auto_headers.set_cookie:
        for piece in line.split(";"):
            parts = piece.split("=")
            if trim(parts[0]).lower() != "samesite":
                continue
            value = parts[1] if len(parts) > 1 else None
            if not value or trim(value).lower() not in ("lax", "strict", "none"):
                result = "cookies-samesite-flag-invalid"
    jar = CookieJar(scan.suffixes)
    for response in auto.responses:
        for line in NodeHeaders(response.headers).set_cookie:
            jar.store(response.url, line)
    cookies = [c for c in jar.cookies() if c.name and c.name != "heroku-session-affinity"]
    if not cookies:
        return "cookies-not-found"
    order = (
        "cookies-without-secure-flag-but-protected-by-hsts",
        "cookies-without-secure-flag",
        "cookies-session-without-secure-flag-but-protected-by-hsts",
        "cookies-samesite-flag-invalid",
        "cookies-anticsrf-without-samesite-flag",
        "cookies-session-without-httponly-flag",
        "cookies-session-without-secure-flag",
    )

    def worse(current: str | None, new: str) -> str:
        if current is None or order.index(new) > order.index(current):
            return new
        return current

    for c in cookies:
        name = c.name.lower()
        session = "login" in name or "sess" in name
        if not c.secure and c.same_site == "none":
            result = worse(result, "cookies-samesite-flag-invalid")
        if not c.secure:
            result = worse(
                result,
                "cookies-without-secure-flag-but-protected-by-hsts"
                if hsts_ok
                else "cookies-without-secure-flag",
            )
        if "csrf" in name and c.same_site == "unset":
            result = worse(result, "cookies-anticsrf-without-samesite-flag")
        if session and not c.secure:
            result = worse(
                result,
                "cookies-session-without-secure-flag-but-protected-by-hsts"
                if hsts_ok
                else "cookies-session-without-secure-flag",
            )
        if session and not c.http_only:
            result = worse(result, "cookies-session-without-httponly-flag")
    if result is not None:
        return result
    if any(c.same_site == "unset" for c in cookies):
        return "cookies-secure-with-httponly-sessions"
    return "cookies-secure-with-httponly-sessions-and-samesite"
