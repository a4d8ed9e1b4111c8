"""Grade HTTP responses the way the MDN HTTP Observatory scores them (scoring algorithm v6).

Pure: no I/O. :func:`grade_scan` takes a :class:`Scan` (what :mod:`bulletproof.headers.fetch` or
the in-process adapter collected) and returns a :class:`GradeResult`: the 12 tests in the
Observatory's output order, each with its result string, score modifier and pass flag, the total
score and the letter grade. :func:`grade_headers` grades one header list with the context the
reference grades assume (https, verified certificate, ``http -> https`` redirect on the same host,
not preloaded, no CORS, the given body).

Behaviour is modelled on the MDN HTTP Observatory (github.com/mdn/mdn-http-observatory, MPL-2.0);
this is an independent re-implementation written from a prose description, no code is copied.
Known, documented differences: the HSTS preload list and the Public Suffix List are not bundled
(pass a :class:`PreloadList` / :class:`PublicSuffixList`; without a preload list no host counts
as preloaded, without a suffix list a small built-in approximation is used), and a CORS response
that reflects the Origin we sent with credentials is reported as universal access (the upstream
code means to, but in production cannot).

Every parser here runs in linear time on attacker-controlled input: no backtracking regular
expressions, bounded slices as upstream.

>>> result = grade_headers([("X-Content-Type-Options", "nosniff")])
>>> result.tests["x-content-type-options"].result
'x-content-type-options-nosniff'
>>> result.score, result.grade
(35, 'D')

Added in 0.1.
"""

from __future__ import annotations

import html
import ipaddress
import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Final
from urllib.parse import unquote, urlsplit

from bulletproof.errors import ConfigError, UngradableError

__all__ = [
    "ALGORITHM_VERSION",
    "GRADES",
    "MINIMUM_SCORE_FOR_EXTRA_CREDIT",
    "OBSERVATORY_ORIGIN",
    "RESULT_DESCRIPTIONS",
    "SCORE_MODIFIERS",
    "TEST_NAMES",
    "CookieJar",
    "FetchedResponse",
    "GradeResult",
    "PreloadList",
    "PublicSuffixList",
    "Scan",
    "Session",
    "StoredCookie",
    "TestResult",
    "UngradableError",
    "grade_for_score",
    "grade_headers",
    "grade_rank",
    "grade_scan",
]

ALGORITHM_VERSION: Final = 6
"""The Observatory scoring version this module reproduces. Added in 0.1."""

MINIMUM_SCORE_FOR_EXTRA_CREDIT: Final = 90
"""Bonuses count only when 100 plus every penalty is at least this. Added in 0.1."""

OBSERVATORY_ORIGIN: Final = "https://http-observatory.security.mozilla.org"
"""The ``Origin`` the CORS preflight sends. Added in 0.1."""

TEST_NAMES: Final[tuple[str, ...]] = (
    "content-security-policy",
    "cookies",
    "cross-origin-embedder-policy",
    "cross-origin-opener-policy",
    "cross-origin-resource-sharing",
    "redirection",
    "referrer-policy",
    "strict-transport-security",
    "subresource-integrity",
    "x-content-type-options",
    "x-frame-options",
    "cross-origin-resource-policy",
)
"""The 12 tests, in the Observatory's output order. Added in 0.1."""

# result -> (modifier, pass, description). Descriptions are our own wording.
_RESULTS: Final[dict[str, tuple[int, bool, str]]] = {
    # content-security-policy
    "csp-implemented-with-no-unsafe-default-src-none": (
        10,
        True,
        "Content Security Policy is set, default-src is 'none' and nothing unsafe is allowed.",
    ),
    "csp-implemented-with-no-unsafe": (
        5,
        True,
        "Content Security Policy is set without inline or eval scripts and without broad "
        "script or object sources.",
    ),
    "csp-implemented-with-unsafe-inline-in-style-src-only": (
        0,
        True,
        "Content Security Policy is set; only style-src allows inline styles or broad sources.",
    ),
    "csp-implemented-but-duplicate-directives": (
        0,
        True,
        "Content Security Policy is set but repeats report-uri or report-to; remove the "
        "repeat to earn the bonus.",
    ),
    "csp-implemented-with-insecure-scheme-in-passive-content-only": (
        -10,
        True,
        "Content Security Policy lets images or media load over http: or ftp: on an https site.",
    ),
    "csp-implemented-with-unsafe-eval": (
        -10,
        False,
        "Content Security Policy allows 'unsafe-eval' in script-src or style-src.",
    ),
    "csp-implemented-with-unsafe-inline": (
        -20,
        False,
        "Content Security Policy allows inline or data: scripts, or scripts or objects from "
        "anywhere (a missing script-src/object-src with no default-src counts as anywhere).",
    ),
    "csp-implemented-with-insecure-scheme": (
        -20,
        False,
        "Content Security Policy lets active content load over http: or ftp: on an https site.",
    ),
    "csp-header-invalid": (
        -25,
        False,
        "Content Security Policy cannot be used: an empty or too short policy, a repeated "
        "directive, 'strict-dynamic' without a nonce or hash, or far too large to analyse.",
    ),
    "csp-not-implemented": (
        -25,
        False,
        "No Content-Security-Policy header is set.",
    ),
    "csp-not-implemented-but-reporting-enabled": (
        -25,
        False,
        "Only Content-Security-Policy-Report-Only is set: it reports violations but blocks "
        "nothing.",
    ),
    # cookies
    "cookies-secure-with-httponly-sessions-and-samesite": (
        5,
        True,
        "Every cookie is Secure and has SameSite; session cookies are HttpOnly.",
    ),
    "cookies-secure-with-httponly-sessions": (
        0,
        True,
        "Every cookie is Secure and session cookies are HttpOnly; some lack SameSite.",
    ),
    "cookies-not-found": (0, True, "No cookies are set."),
    "cookies-without-secure-flag-but-protected-by-hsts": (
        -5,
        False,
        "A cookie lacks the Secure flag (HSTS softens this).",
    ),
    "cookies-session-without-secure-flag-but-protected-by-hsts": (
        -10,
        False,
        "A session cookie lacks the Secure flag (HSTS softens this).",
    ),
    "cookies-without-secure-flag": (-20, False, "A cookie lacks the Secure flag."),
    "cookies-samesite-flag-invalid": (
        -20,
        False,
        "A cookie has an invalid SameSite value, or SameSite=None without Secure.",
    ),
    "cookies-anticsrf-without-samesite-flag": (
        -20,
        False,
        "An anti-CSRF cookie has no SameSite attribute.",
    ),
    "cookies-session-without-httponly-flag": (
        -30,
        False,
        "A session cookie lacks the HttpOnly flag.",
    ),
    "cookies-session-without-secure-flag": (
        -40,
        False,
        "A session cookie lacks the Secure flag.",
    ),
    # cross-origin-embedder-policy
    "coep-implemented-with-require-corp": (
        10,
        True,
        "Cross-Origin-Embedder-Policy is require-corp.",
    ),
    "coep-implemented-with-credentialless": (
        10,
        True,
        "Cross-Origin-Embedder-Policy is credentialless.",
    ),
    "coep-implemented-with-unsafe-none": (
        0,
        True,
        "Cross-Origin-Embedder-Policy is unsafe-none (no isolation).",
    ),
    "coep-not-implemented": (0, True, "No Cross-Origin-Embedder-Policy header is set."),
    "coep-header-invalid": (
        -5,
        False,
        "Cross-Origin-Embedder-Policy is not a valid structured-field token it knows.",
    ),
    # cross-origin-opener-policy
    "coop-implemented-with-same-origin": (10, True, "Cross-Origin-Opener-Policy is same-origin."),
    "coop-implemented-with-same-origin-allow-popups": (
        10,
        True,
        "Cross-Origin-Opener-Policy is same-origin-allow-popups.",
    ),
    "coop-implemented-with-noopener-allow-popups": (
        10,
        True,
        "Cross-Origin-Opener-Policy is noopener-allow-popups.",
    ),
    "coop-implemented-with-unsafe-none": (
        0,
        True,
        "Cross-Origin-Opener-Policy is unsafe-none (no isolation).",
    ),
    "coop-not-implemented": (0, True, "No Cross-Origin-Opener-Policy header is set."),
    "coop-header-invalid": (
        -5,
        False,
        "Cross-Origin-Opener-Policy is not a valid structured-field token it knows.",
    ),
    # cross-origin-resource-sharing
    "cross-origin-resource-sharing-not-implemented": (
        0,
        True,
        "The CORS preflight grants no cross-origin access.",
    ),
    "cross-origin-resource-sharing-implemented-with-public-access": (
        0,
        True,
        "Access-Control-Allow-Origin is *: public content readable from any origin.",
    ),
    "cross-origin-resource-sharing-implemented-with-restricted-access": (
        0,
        True,
        "Access-Control-Allow-Origin grants access to specific origins only.",
    ),
    "cross-origin-resource-sharing-implemented-with-universal-access": (
        -50,
        False,
        "Any origin may read responses with the user's credentials (the Origin is reflected "
        "with Access-Control-Allow-Credentials: true).",
    ),
    # redirection
    "redirection-all-redirects-preloaded": (
        0,
        True,
        "Every host on the redirect route is on the HSTS preload list.",
    ),
    "redirection-to-https": (0, True, "Plain HTTP redirects to HTTPS on the same host first."),
    "redirection-not-needed-no-http": (0, True, "The site does not answer over plain HTTP."),
    "redirection-off-host-from-http": (
        -5,
        False,
        "The first redirect from HTTP goes to HTTPS on another host; redirect to HTTPS on the "
        "same host first.",
    ),
    "redirection-not-to-https-on-initial-redirection": (
        -10,
        False,
        "The first redirect from HTTP stays on HTTP; redirect to HTTPS straight away.",
    ),
    "redirection-not-to-https": (-20, False, "Redirects from HTTP do not end on HTTPS."),
    "redirection-missing": (-20, False, "Plain HTTP is served without a redirect to HTTPS."),
    "redirection-invalid-cert": (
        -20,
        False,
        "The redirect route hits an HTTPS certificate that does not verify.",
    ),
    # referrer-policy
    "referrer-policy-private": (5, True, "Referrer-Policy keeps URLs from leaking off-site."),
    "referrer-policy-not-implemented": (0, True, "No Referrer-Policy header is set."),
    "referrer-policy-unsafe": (
        -5,
        False,
        "Referrer-Policy sends full URLs or origins across sites.",
    ),
    "referrer-policy-header-invalid": (-5, False, "Referrer-Policy holds no known policy."),
    # strict-transport-security
    "hsts-preloaded": (5, True, "The host is on the HSTS preload list."),
    "hsts-implemented-max-age-at-least-six-months": (
        0,
        True,
        "Strict-Transport-Security is set with max-age of at least six months.",
    ),
    "hsts-implemented-max-age-less-than-six-months": (
        -10,
        False,
        "Strict-Transport-Security max-age is below six months (15552000 s).",
    ),
    "hsts-not-implemented": (-20, False, "No Strict-Transport-Security header is set."),
    "hsts-header-invalid": (
        -20,
        False,
        "Strict-Transport-Security cannot be parsed (no max-age, or a comma from a repeated "
        "header).",
    ),
    "hsts-not-implemented-no-https": (
        -20,
        False,
        "The site does not answer over HTTPS, so HSTS cannot be set.",
    ),
    "hsts-invalid-cert": (
        -20,
        False,
        "The HTTPS certificate does not verify, so HSTS is ignored by browsers.",
    ),
    # subresource-integrity
    "sri-implemented-and-all-scripts-loaded-securely": (
        5,
        True,
        "Scripts carry integrity hashes and load over HTTPS.",
    ),
    "sri-implemented-and-external-scripts-loaded-securely": (
        5,
        True,
        "Scripts from other sites carry integrity hashes and load over HTTPS.",
    ),
    "sri-not-implemented-response-not-html": (
        0,
        True,
        "The response is not HTML, so there are no scripts to check.",
    ),
    "sri-not-implemented-but-no-scripts-loaded": (
        0,
        True,
        "The page loads no scripts.",
    ),
    "sri-not-implemented-but-all-scripts-loaded-from-secure-origin": (
        0,
        True,
        "Every script comes from the same site over a secure scheme.",
    ),
    "sri-not-implemented-but-external-scripts-loaded-securely": (
        -5,
        False,
        "Scripts from other sites load over HTTPS without integrity hashes.",
    ),
    "sri-implemented-but-external-scripts-not-loaded-securely": (
        -20,
        False,
        "Scripts from other sites carry integrity hashes but load over an insecure scheme.",
    ),
    "sri-not-implemented-and-external-scripts-not-loaded-securely": (
        -50,
        False,
        "Scripts from other sites load over an insecure scheme without integrity hashes.",
    ),
    "html-not-parseable": (-20, False, "The HTML body could not be parsed."),
    # x-content-type-options
    "x-content-type-options-nosniff": (0, True, "X-Content-Type-Options is nosniff."),
    "x-content-type-options-not-implemented": (
        -5,
        False,
        "No X-Content-Type-Options header is set.",
    ),
    "x-content-type-options-header-invalid": (
        -5,
        False,
        "X-Content-Type-Options is not exactly nosniff (a repeated header counts as invalid).",
    ),
    # x-frame-options
    "x-frame-options-implemented-via-csp": (
        5,
        True,
        "Framing is controlled by the CSP frame-ancestors directive.",
    ),
    "x-frame-options-sameorigin-or-deny": (5, True, "X-Frame-Options is DENY or SAMEORIGIN."),
    "x-frame-options-allow-from-origin": (
        0,
        True,
        "X-Frame-Options is ALLOW-FROM (browsers ignore it; prefer CSP frame-ancestors).",
    ),
    "x-frame-options-not-implemented": (
        -20,
        False,
        "Neither X-Frame-Options nor CSP frame-ancestors is set.",
    ),
    "x-frame-options-header-invalid": (
        -20,
        False,
        "X-Frame-Options is not DENY, SAMEORIGIN or ALLOW-FROM (a repeated header counts as "
        "invalid).",
    ),
    # cross-origin-resource-policy
    "corp-implemented-with-same-origin": (
        10,
        True,
        "Cross-Origin-Resource-Policy is same-origin.",
    ),
    "corp-implemented-with-same-site": (10, True, "Cross-Origin-Resource-Policy is same-site."),
    "corp-implemented-with-cross-origin": (
        0,
        True,
        "Cross-Origin-Resource-Policy is cross-origin (anyone may embed).",
    ),
    "corp-not-implemented": (0, True, "No Cross-Origin-Resource-Policy header is set."),
    "corp-header-invalid": (
        -5,
        False,
        "Cross-Origin-Resource-Policy is not same-origin, same-site or cross-origin.",
    ),
}

SCORE_MODIFIERS: Final[Mapping[str, int]] = MappingProxyType(
    {name: mod for name, (mod, _, _) in _RESULTS.items()}
)
"""Every result string and its score modifier (0 for a string not listed). Added in 0.1."""

RESULT_DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {name: text for name, (_, _, text) in _RESULTS.items()}
)
"""Every result string and a one-line explanation. Added in 0.1."""

GRADES: Final[tuple[str, ...]] = (
    "A+",
    "A",
    "A-",
    "B+",
    "B",
    "B-",
    "C+",
    "C",
    "C-",
    "D+",
    "D",
    "D-",
    "F",
)
"""Every grade, best first. Added in 0.1."""

# score floored to a multiple of 5 (capped at 100) -> grade
_CHART_TEXT: Final = "A+ A A A- B+ B B B- C+ C C C- D+ D D D- F F F F F"
_GRADE_CHART: Final[dict[int, str]] = dict(
    zip(range(100, -5, -5), _CHART_TEXT.split(" "), strict=True)
)


@dataclass(frozen=True, slots=True)
class TestResult:
    """One test's outcome: result string, score modifier, pass flag, explanation.

    ``score_modifier`` is the table value even when the bonus rule leaves it out of the total.

    Added in 0.1.
    """

    __test__: ClassVar[bool] = False  # not a pytest test class

    result: str
    score_modifier: int
    passed: bool
    description: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "result": self.result,
            "score_modifier": self.score_modifier,
            "passed": self.passed,
            "description": self.description,
        }


@dataclass(frozen=True)
class GradeResult:
    """The score (floored at 0, not capped), the grade and the 12 tests in output order.

    Added in 0.1.
    """

    score: int
    grade: str
    tests: Mapping[str, TestResult]

    @property
    def tests_passed(self) -> int:
        """How many tests passed."""
        return sum(1 for t in self.tests.values() if t.passed)

    @property
    def tests_failed(self) -> int:
        """How many tests failed."""
        return len(self.tests) - self.tests_passed

    def to_dict(self) -> dict[str, object]:
        """``{"score", "grade", "passed", "failed", "tests": {name: {...}}}``."""
        return {
            "score": self.score,
            "grade": self.grade,
            "passed": self.tests_passed,
            "failed": self.tests_failed,
            "tests": {name: t.to_dict() for name, t in self.tests.items()},
        }


# -- what a scan collected ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FetchedResponse:
    """One response: the URL it answered, status, raw headers in wire order, decoded body.

    Added in 0.1.
    """

    url: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: str = ""


@dataclass(frozen=True, slots=True)
class Session:
    """Every response of one redirect chain, first request first; ``verified`` is False when
    TLS verification had to be turned off to get through.

    Added in 0.1.
    """

    responses: tuple[FetchedResponse, ...]
    verified: bool = True

    def __post_init__(self) -> None:
        if not self.responses:
            raise ConfigError("Session: a redirect chain needs at least one response.")

    @property
    def final(self) -> FetchedResponse:
        """The last response of the chain."""
        return self.responses[-1]

    @property
    def route(self) -> tuple[tuple[str, int], ...]:
        """``(url, status)`` of every response, in order."""
        return tuple((r.url, r.status) for r in self.responses)


@dataclass(frozen=True)
class Scan:
    """Everything the 12 tests read.

    ``https``/``http``: the chains started at ``https://host/path`` and ``http://host/path``
    (None when that scheme could not be reached). ``cors``: the final response to the CORS
    preflight (None if it failed). ``preload``: the HSTS preload list (None: nothing preloaded).
    ``suffixes``: the Public Suffix List (None: a built-in approximation).

    Added in 0.1.
    """

    hostname: str
    https: Session | None
    http: Session | None
    cors: FetchedResponse | None = None
    cors_origin: str = OBSERVATORY_ORIGIN
    preload: PreloadList | None = None
    suffixes: PublicSuffixList | None = None

    @property
    def auto(self) -> Session | None:
        """The chain most tests read: HTTPS when it was reachable, else HTTP."""
        return self.https if self.https is not None else self.http


# -- small helpers reproducing JavaScript semantics ---------------------------------------------

_JS_WS: Final = (
    "\t\n\v\f\r \u00a0\u1680"
    + "".join(chr(c) for c in range(0x2000, 0x200B))
    + "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
# A character class with one quantifier: linear time, no backtracking.
_JS_WS_RUN: Final = re.compile("[" + re.escape(_JS_WS) + "]+")
_DIGITS: Final = frozenset("0123456789")
_HEX: Final = frozenset("0123456789abcdefABCDEF")


def _trim(text: str) -> str:
    """JavaScript ``String.prototype.trim``."""
    return text.strip(_JS_WS)


def _js_parse_int(text: str) -> int | None:
    """JavaScript ``parseInt(text)`` without a radix; None stands for NaN."""
    s = text.lstrip(_JS_WS)
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    allowed = _DIGITS
    radix = 10
    if s[:2] in ("0x", "0X"):
        allowed, radix, s = _HEX, 16, s[2:]
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


class _Headers:
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


# -- HTML: a linear scanner for <meta> and <script> start tags ----------------------------------

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
class _Page:
    scripts: tuple[dict[str, str], ...]
    meta_csp: tuple[str, ...]
    meta_referrer: str | None


def _read_page(body: str, with_meta: bool) -> _Page:
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
                if _trim(equiv.lower()) == "content-security-policy" and content:
                    meta_csp.append(content)
            elif _trim(attrs.get("name", "").lower()) == "referrer" and content:
                referrer = content
    return _Page(tuple(scripts), tuple(meta_csp), referrer)


def _mime(headers: _Headers) -> str | None:
    ctype = headers.get("content-type")
    return None if ctype is None else ctype.split(";", 1)[0]


_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})


# -- Public Suffix List and HSTS preload list --------------------------------------------------

_APPROX_SECOND_LEVEL: Final = frozenset(
    {"ac", "co", "com", "edu", "go", "gob", "gov", "gv", "mil", "ne", "net", "nic", "or", "org"}
)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _idna(label_path: str) -> str:
    try:
        return label_path.encode("idna").decode("ascii")
    except UnicodeError:
        return label_path


class PublicSuffixList:
    """The Public Suffix List (publicsuffix.org) for registrable-domain lookups.

    Build it with :meth:`parse` from the text of ``public_suffix_list.dat``. Rules from the
    ICANN section are used for the subresource-integrity test (as the Observatory does); rules
    from both sections for refusing a cookie ``Domain`` that is a public suffix.

    >>> psl = PublicSuffixList.parse("// ===BEGIN ICANN DOMAINS===\\nuk\\nco.uk\\n")
    >>> psl.registrable_domain("www.example.co.uk")
    'example.co.uk'

    Added in 0.1.
    """

    __slots__ = ("_rules",)

    def __init__(self, rules: Mapping[str, tuple[str, bool]]) -> None:
        # rule text ("co.uk", "*.ck", "!www.ck") -> (kind, icann)
        self._rules = dict(rules)

    @classmethod
    def parse(cls, text: str) -> PublicSuffixList:
        """Read the list's text format (comments, blank lines, ``*.`` and ``!`` rules)."""
        rules: dict[str, tuple[str, bool]] = {}
        icann = True
        for raw in text.splitlines():
            line = raw.strip()
            if line.startswith("//"):
                if "===BEGIN PRIVATE DOMAINS===" in line:
                    icann = False
                elif "===BEGIN ICANN DOMAINS===" in line:
                    icann = True
                continue
            if not line:
                continue
            rule = line.split()[0].lower()
            kind = "exception" if rule.startswith("!") else "normal"
            rule = rule.lstrip("!")
            rules.setdefault(_idna(rule), (kind, icann))
        return cls(rules)

    def _suffix_len(self, labels: list[str], icann_only: bool) -> int:
        best = 1  # the implicit "*" rule: the last label
        for i in range(len(labels)):
            candidate = ".".join(labels[i:])
            count = len(labels) - i
            for rule in (
                candidate,
                "*." + ".".join(labels[i + 1 :]) if i + 1 < len(labels) else "",
            ):
                found = self._rules.get(rule) if rule else None
                if found is None or (icann_only and not found[1]):
                    continue
                if found[0] == "exception":
                    return count - 1
                best = max(best, count)
        return best

    def registrable_domain(self, host: str, *, icann_only: bool = True) -> str | None:
        """The public suffix plus one label, or None (IP address, single label, a suffix)."""
        labels = _host_labels(host)
        if labels is None:
            return None
        size = self._suffix_len(labels, icann_only)
        if size >= len(labels):
            return None
        return ".".join(labels[-(size + 1) :])


_MAX_HOST: Final = 253  # DNS limit; also bounds the label loops below (quadratic in labels)


def _host_labels(host: str) -> list[str] | None:
    name = host.lower().rstrip(".")
    if not name or len(name) > _MAX_HOST or _is_ip(name):
        return None
    labels = name.split(".")
    if len(labels) < 2 or "" in labels:
        return None
    return labels


def _registrable(host: str, suffixes: PublicSuffixList | None, icann_only: bool) -> str | None:
    if suffixes is not None:
        return suffixes.registrable_domain(host, icann_only=icann_only)
    labels = _host_labels(host)
    if labels is None:
        return None
    size = 2 if len(labels[-1]) == 2 and labels[-2] in _APPROX_SECOND_LEVEL else 1
    return ".".join(labels[-(size + 1) :]) if len(labels) > size else None


class PreloadList:
    """Chromium's HSTS preload list: which hosts browsers always reach over HTTPS.

    A host is preloaded if its own entry is ``force-https``, or a parent's entry is
    ``force-https`` with ``include_subdomains``.

    >>> PreloadList({"example.org": True}).is_preloaded("www.example.org")
    True

    Added in 0.1.
    """

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[str, bool]) -> None:
        """``entries``: lower-case host -> include_subdomains, ``force-https`` entries only."""
        self._entries = {k.lower(): bool(v) for k, v in entries.items()}

    @classmethod
    def from_chromium_json(cls, text: str) -> PreloadList:
        """Read ``transport_security_state_static.json`` (``//`` comment lines allowed)."""
        kept = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
        try:
            data = json.loads(kept)
            entries = data["entries"]
            out = {
                str(e["name"]).lower(): bool(e.get("include_subdomains", False))
                for e in entries
                if e.get("mode") == "force-https"
            }
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(
                "HSTS preload list: not Chromium's transport_security_state_static.json "
                f"(expected an object with an 'entries' list): {exc}"
            ) from None
        return cls(out)

    def is_preloaded(self, host: str) -> bool:
        """Whether ``host`` is preloaded (dot-less hosts and IP literals never are)."""
        name = host.lower().rstrip(".")
        if "." not in name or len(name) > _MAX_HOST or _is_ip(name):
            return False
        if name in self._entries:
            return True
        labels = name.split(".")
        return any(self._entries.get(".".join(labels[i:])) is True for i in range(1, len(labels)))


def _preloaded(scan: Scan, host: str) -> bool:
    return scan.preload is not None and scan.preload.is_preloaded(host)


# -- cookies: an RFC 6265 jar that stores what a browser (tough-cookie) would ------------------


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
    text = _trim(line)
    for stop in ("\n", "\r", "\0"):
        cut = text.find(stop)
        if cut >= 0:
            text = text[:cut]
    pair, _, rest = text.partition(";")
    eq = pair.find("=")
    if eq <= 0:
        return None
    name, value = _trim(pair[:eq]), _trim(pair[eq + 1 :])
    if not name or _has_control(name) or _has_control(value):
        return None
    domain: str | None = None
    path: str | None = None
    secure = http_only = False
    same_site = "unset"
    for piece in rest.split(";"):
        av = _trim(piece)
        if not av:
            continue
        key, sep, raw_value = av.partition("=")
        key = _trim(key).lower()
        av_value = _trim(raw_value) if sep else None
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
    if _is_ip(host):
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
            if not _is_ip(parsed.domain) and (
                _registrable(parsed.domain, self._suffixes, icann_only=False) is None
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


# -- structured field items (RFC 8941 / RFC 9651), enough to validate one Item -----------------

_TCHAR: Final = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)
_TOKEN_REST: Final = _TCHAR | {":", "/"}
_LCALPHA: Final = frozenset("abcdefghijklmnopqrstuvwxyz")
_KEY_REST: Final = _LCALPHA | _DIGITS | frozenset("_-.*")
_B64: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_ALPHA: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


class _SFError(ValueError):
    pass


def _sf_number(s: str, i: int) -> int:
    start = i
    if i < len(s) and s[i] == "-":
        i += 1
    if i >= len(s) or s[i] not in _DIGITS:
        raise _SFError
    digits_start = i
    while i < len(s) and s[i] in _DIGITS:
        i += 1
    int_digits = i - digits_start
    if i < len(s) and s[i] == ".":
        if int_digits > 12:
            raise _SFError
        i += 1
        frac_start = i
        while i < len(s) and s[i] in _DIGITS:
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
    if c == "-" or c in _DIGITS:
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


# -- the CSP parser and analysis ---------------------------------------------------------------

_DUP_KEY: Final = " duplicate directives"  # cannot collide: directive names hold no spaces
_COLLATION: Final = "_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_RANK: Final = {c: i for i, c in enumerate(_COLLATION)}


def _collation_key(text: str) -> tuple[int, ...]:
    """Sort key reproducing ICU "en" collation for lower-case ASCII sources."""
    base = len(_COLLATION)
    return tuple(_RANK.get(c, base + ord(c)) for c in text)


class _Source:
    __slots__ = ("keep", "policy", "text")

    def __init__(self, text: str, policy: int, keep: bool) -> None:
        self.text = text
        self.policy = policy
        self.keep = keep


def _path_part_match(a: str, b: str) -> bool:
    if a == "" or (a == "/" and b == ""):
        return True
    exact = not a.endswith("/")
    a_parts = a.split("/")
    b_parts = b.split("/")
    if exact and len(a_parts) != len(b_parts):
        return False
    if not exact:
        a_parts.pop()
    if len(a_parts) > len(b_parts):
        return False
    return all(unquote(x) == unquote(y) for x, y in zip(a_parts, b_parts, strict=False))


_CSP_WORK_LIMIT: Final = 1_000_000
"""Characters the source lists may total over all the sorts of one parse. Each policy after the
first re-sorts the sources kept so far, so many policies cost quadratic time; past this budget
(far beyond any real policy: a hostile header) the CSP counts as invalid."""


def _parse_csp(policies: Sequence[str]) -> dict[str, set[str]] | None:
    """Directive -> sources over every policy (their "intersection"), or None if invalid."""
    cleaned = [_trim(p.replace("\r", "").replace("\n", "")) for p in policies]
    if not cleaned:
        return {}
    if any(len(p) < 6 for p in cleaned):
        return None
    many = len(cleaned) > 1
    work = 0
    keys: dict[str, tuple[int, ...]] = {}

    def sort_key(text: str) -> tuple[int, ...]:
        found = keys.get(text)
        if found is None:
            found = keys[text] = _collation_key(text)
        return found

    stored: dict[str, list[_Source]] = {}
    duplicates: set[str] = set()
    for index, policy in enumerate(cleaned):
        seen: set[str] = set()
        for entry in policy.split(";"):
            tokens = [t for t in _JS_WS_RUN.split(_trim(entry)) if t]
            if not tokens:
                continue
            directive = tokens[0].lower()
            if directive in seen:
                if directive not in ("report-uri", "report-to"):
                    return None
                duplicates.add(directive)
            seen.add(directive)
            values = [_trim(t).lower() for t in tokens[1:]]
            if not values and directive.endswith("-src"):
                values = ["'none'"]
            fresh = [_Source(v, index, index == 0) for v in values]
            sources = fresh if index == 0 else [*stored.get(directive, []), *fresh]
            work += sum(len(s.text) + 1 for s in sources)
            if work > _CSP_WORK_LIMIT:
                return None  # pathological: many policies re-sort their growing lists
            sources.sort(key=lambda s: sort_key(s.text))
            for prev, cur in itertools.pairwise(sources):
                if prev.policy == cur.policy:
                    if cur.text.startswith(prev.text):
                        cur.keep = False
                elif _path_part_match(prev.text, cur.text):
                    cur.keep = True
            kept = [s for s in sources if s.keep]
            stored[directive] = kept
            if index == 0 and many:
                for s in kept:
                    s.keep = False
    out: dict[str, set[str]] = {
        name: ({s.text for s in srcs} or {"'none'"}) for name, srcs in stored.items()
    }
    if duplicates:
        out[_DUP_KEY] = duplicates
    return out


def _split_policies(values: Iterable[str]) -> list[str]:
    return [_trim(piece) for value in values for piece in value.split(",")]


_BROAD: Final = frozenset(
    {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
)
_INLINE: Final = frozenset({"'unsafe-inline'", "data:"})
_NONCE_HASH: Final = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
_INSECURE: Final = ("http:", "ftp:")


@dataclass(frozen=True, slots=True)
class _CspOutcome:
    result: str
    directives: Mapping[str, frozenset[str]] | None  # None when the analysis stopped early


def _analyze_csp(headers: _Headers, meta_policies: Sequence[str], is_https: bool) -> _CspOutcome:
    header_value = headers.get("content-security-policy")
    header_policies = _split_policies([header_value] if header_value is not None else [])
    meta = _split_policies(meta_policies)
    csp = _parse_csp(header_policies + meta)
    if csp is None:
        return _CspOutcome("csp-header-invalid", None)
    # Only the sizes of these two matter (frame-ancestors from the header alone feeds an
    # unscored flag); without meta policies the header-only parse is the combined one.
    header_only = (_parse_csp(header_policies) or {}) if meta else csp
    meta_only = (_parse_csp(meta) or {}) if meta else {}
    for banned in ("frame-ancestors", "report-uri", "sandbox"):
        meta_only.pop(banned, None)
    if len(header_only) + len(meta_only) == 0:
        if headers.get("content-security-policy-report-only"):
            return _CspOutcome("csp-not-implemented-but-reporting-enabled", None)
        return _CspOutcome("csp-not-implemented", None)

    def effective(name: str) -> set[str]:
        # The same set object as in ``csp`` (aliasing on purpose: removals are shared).
        found = csp.get(name)
        if found is None:
            found = csp.get("default-src")
        return found if found is not None else {"*"}

    script, style, obj = effective("script-src"), effective("style-src"), effective("object-src")
    result: str | None = None

    def has_nonce_or_hash(sources: set[str]) -> bool:
        return any(s.startswith(_NONCE_HASH) for s in sources)

    for sources in (script, style):
        if has_nonce_or_hash(sources):
            sources.discard("'unsafe-inline'")
    if has_nonce_or_hash(script) and "'strict-dynamic'" in script:
        for s in list(script):
            if s.startswith(("ftp:", "http:", "https:", "*")) or s in ("'self'", "'unsafe-inline'"):
                script.discard(s)
    elif "'strict-dynamic'" in script:
        result = "csp-header-invalid"

    active: set[str] = set(script)
    for name, sources in csp.items():
        if name not in ("img-src", "media-src", "script-src", _DUP_KEY):
            active |= sources
    passive: set[str] = set()
    for name in ("img-src", "media-src"):
        chosen = csp.get(name)
        if chosen is None:
            chosen = csp.get("default-src")
        if chosen is not None:
            passive |= chosen

    checks = (
        (
            bool(script & (_BROAD | _INLINE)) or bool(obj & _BROAD),
            "csp-implemented-with-unsafe-inline",
        ),
        (
            is_https and any(s.startswith(_INSECURE) for s in active),
            "csp-implemented-with-insecure-scheme",
        ),
        ("'unsafe-eval'" in script or "'unsafe-eval'" in style, "csp-implemented-with-unsafe-eval"),
        (
            is_https and any(s.startswith(_INSECURE) for s in passive),
            "csp-implemented-with-insecure-scheme-in-passive-content-only",
        ),
        (bool(style & (_BROAD | _INLINE)), "csp-implemented-with-unsafe-inline-in-style-src-only"),
        (csp.get("default-src") == {"'none'"}, "csp-implemented-with-no-unsafe-default-src-none"),
        (True, "csp-implemented-with-no-unsafe"),
    )
    for hit, name in checks:
        if result is None and hit:
            result = name
    if result is None:  # pragma: no cover - the last check always hits
        result = "csp-implemented-with-no-unsafe"
    if _RESULTS[result][1] and _DUP_KEY in csp:
        result = "csp-implemented-but-duplicate-directives"
    directives = {k: frozenset(v) for k, v in csp.items() if k != _DUP_KEY}
    return _CspOutcome(result, MappingProxyType(directives))


# -- the twelve tests --------------------------------------------------------------------------


def _test_cookies(scan: Scan, auto: Session, auto_headers: _Headers, hsts_ok: bool) -> str:
    result: str | None = None
    for line in auto_headers.set_cookie:
        for piece in line.split(";"):
            parts = piece.split("=")
            if _trim(parts[0]).lower() != "samesite":
                continue
            value = parts[1] if len(parts) > 1 else None
            if not value or _trim(value).lower() not in ("lax", "strict", "none"):
                result = "cookies-samesite-flag-invalid"
    jar = CookieJar(scan.suffixes)
    for response in auto.responses:
        for line in _Headers(response.headers).set_cookie:
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


def _test_isolation(value: str | None, prefix: str, tokens: Mapping[str, str]) -> str:
    if not value:
        return f"{prefix}-not-implemented"
    token = _sf_item_token(_trim(value[:1024]))
    if token is None or token not in tokens:
        return f"{prefix}-header-invalid"
    return f"{prefix}-implemented-with-{tokens[token]}"


_COEP_TOKENS: Final = {t: t for t in ("require-corp", "credentialless", "unsafe-none")}
_COOP_TOKENS: Final = {
    t: t
    for t in ("same-origin", "same-origin-allow-popups", "noopener-allow-popups", "unsafe-none")
}


def _test_cors(scan: Scan) -> str:
    result = "cross-origin-resource-sharing-not-implemented"
    if scan.cors is None:
        return result
    headers = _Headers(scan.cors.headers)
    raw = headers.get("access-control-allow-origin")
    if not raw:
        return result
    acao = _trim(raw[:256]).lower()
    if acao == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    credentials = headers.get("access-control-allow-credentials")
    if raw == scan.cors_origin and credentials and _trim(credentials).lower() == "true":
        return "cross-origin-resource-sharing-implemented-with-universal-access"
    return "cross-origin-resource-sharing-implemented-with-restricted-access"


def _scheme_host(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower()
    except ValueError:
        return "", ""


def _test_redirection(scan: Scan) -> str:
    if scan.http is None:
        return "redirection-not-needed-no-http"
    if not scan.http.verified:
        return "redirection-invalid-cert"
    route = [_scheme_host(url) for url, _ in scan.http.route]
    if all(_preloaded(scan, host) for _, host in route):
        return "redirection-all-redirects-preloaded"
    if len(route) == 1:
        return "redirection-missing"
    if route[-1][0] != "https":
        return "redirection-not-to-https"
    if route[1][0] == "http":
        return "redirection-not-to-https-on-initial-redirection"
    if route[0][0] == "http" and route[1][0] == "https" and route[0][1] != route[1][1]:
        return "redirection-off-host-from-http"
    return "redirection-to-https"


_PRIVATE_REFERRERS: Final = frozenset(
    {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
)
_UNSAFE_REFERRERS: Final = frozenset(
    {"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
)


def _test_referrer(headers: _Headers, meta_referrer: str | None) -> str:
    values = []
    header = headers.get("referrer-policy")
    if header is not None:
        values.append(header)
    if meta_referrer is not None:
        values.append(meta_referrer)
    if not values:
        return "referrer-policy-not-implemented"
    last: str | None = None
    for item in ", ".join(values).split(","):
        token = _trim(item).lower()
        if token in _PRIVATE_REFERRERS or token in _UNSAFE_REFERRERS:
            last = token
    if last is None:
        return "referrer-policy-header-invalid"
    return "referrer-policy-private" if last in _PRIVATE_REFERRERS else "referrer-policy-unsafe"


_SIX_MONTHS: Final = 15_552_000


def _test_hsts(scan: Scan) -> str:
    if scan.https is None:
        return "hsts-not-implemented-no-https"
    result = "hsts-not-implemented"
    if not scan.https.verified:
        result = "hsts-invalid-cert"
    else:
        value = _Headers(scan.https.final.headers).get("strict-transport-security")
        if value is not None:
            result = _hsts_value(value[:1024])
    if _preloaded(scan, scan.hostname):
        result = "hsts-preloaded"
    return result


def _hsts_value(value: str) -> str:
    if "," in value:
        return "hsts-header-invalid"
    found = False
    max_age: int | None = None
    for raw in value.split(";"):
        piece = _trim(raw).lower()
        if piece.startswith("max-age="):
            found = True
            max_age = _js_parse_int(piece[8:128])
    if not found:
        return "hsts-header-invalid"
    if max_age is not None and max_age < _SIX_MONTHS:
        return "hsts-implemented-max-age-less-than-six-months"
    return "hsts-implemented-max-age-at-least-six-months"


_SRI_ORDER: Final = (
    "sri-implemented-and-all-scripts-loaded-securely",
    "sri-implemented-and-external-scripts-loaded-securely",
    "sri-implemented-but-external-scripts-not-loaded-securely",
    "sri-not-implemented-but-external-scripts-loaded-securely",
    "sri-not-implemented-and-external-scripts-not-loaded-securely",
)


def _test_sri(scan: Scan, headers: _Headers, page: _Page, is_https: bool) -> str:
    mime = _mime(headers)
    if mime and mime not in _HTML_TYPES:
        return "sri-not-implemented-response-not-html"
    if not page.scripts:
        return "sri-not-implemented-but-no-scripts-loaded"
    site_domain = _registrable(scan.hostname, scan.suffixes, icann_only=True)
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
            _, host = _scheme_host(src)
            same_domain = _registrable(host, scan.suffixes, icann_only=True) == site_domain
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


def _test_xcto(headers: _Headers) -> str:
    value = headers.get("x-content-type-options")
    if not value:
        return "x-content-type-options-not-implemented"
    if _trim(value[:256]).lower() == "nosniff":
        return "x-content-type-options-nosniff"
    return "x-content-type-options-header-invalid"


def _test_xfo(headers: _Headers, csp: _CspOutcome) -> str:
    value = headers.get("x-frame-options")
    if not value:
        result = "x-frame-options-not-implemented"
    else:
        v = _trim(value[:1024]).lower()
        if v in ("deny", "sameorigin"):
            result = "x-frame-options-sameorigin-or-deny"
        elif v.startswith("allow-from"):
            result = "x-frame-options-allow-from-origin"
        else:
            result = "x-frame-options-header-invalid"
    if csp.directives is not None and "frame-ancestors" in csp.directives:
        result = "x-frame-options-implemented-via-csp"
    return result


def _test_corp(headers: _Headers) -> str:
    value = headers.get("cross-origin-resource-policy")
    if not value:
        return "corp-not-implemented"
    v = _trim(value[:256]).lower()
    if v in ("same-site", "same-origin", "cross-origin"):
        return f"corp-implemented-with-{v}"
    return "corp-header-invalid"


# -- scoring -----------------------------------------------------------------------------------


def grade_for_score(score: int) -> str:
    """The letter grade for a score (floored to a multiple of 5, capped at 100).

    >>> grade_for_score(130), grade_for_score(55), grade_for_score(-10)
    ('A+', 'C', 'F')

    Added in 0.1.
    """
    key = max(min(score - score % 5, 100), 0)
    return _GRADE_CHART[key]


def grade_rank(grade: str) -> int:
    """0 for A+ up to 12 for F; ConfigError naming the valid grades otherwise. Added in 0.1."""
    try:
        return GRADES.index(grade)
    except ValueError:
        raise ConfigError(
            f"grade {grade!r} is not one of {', '.join(GRADES)}; use one of those."
        ) from None


def _total(results: Mapping[str, TestResult]) -> int:
    with_bonus = 100 + sum(r.score_modifier for r in results.values())
    penalties = 100 + sum(r.score_modifier for r in results.values() if r.score_modifier < 0)
    score = with_bonus if penalties >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else penalties
    return max(score, 0)


def _make(result: str) -> TestResult:
    modifier, passed, description = _RESULTS.get(result, (0, False, result))
    return TestResult(result, modifier, passed, description)


def grade_scan(scan: Scan) -> GradeResult:
    """Run the 12 tests on ``scan`` and score them.

    Raises :class:`UngradableError` when neither chain got a response, or the response the tests
    read has a status below 200 or of 400 and above (401 and 403 excepted).

    Added in 0.1.
    """
    auto = scan.auto
    if auto is None:
        raise UngradableError(
            f"{scan.hostname}: the site seems to be down (no answer over HTTPS or HTTP)."
        )
    final = auto.final
    if final.status < 200 or (final.status >= 400 and final.status not in (401, 403)):
        raise UngradableError(
            f"{scan.hostname}: the site answered with HTTP status {final.status}; only 2xx, 3xx, "
            f"401 and 403 responses are graded. Check the URL or path."
        )
    headers = _Headers(final.headers)
    is_https = _scheme_host(auto.responses[0].url)[0] == "https"
    mime = _mime(headers)
    page = _read_page(final.body, with_meta=mime in _HTML_TYPES and bool(final.body))
    csp = _analyze_csp(headers, page.meta_csp, is_https)
    hsts = _test_hsts(scan)
    hsts_ok = _RESULTS[hsts][1]
    names = {
        "content-security-policy": csp.result,
        "cookies": _test_cookies(scan, auto, headers, hsts_ok),
        "cross-origin-embedder-policy": _test_isolation(
            headers.get("cross-origin-embedder-policy"), "coep", _COEP_TOKENS
        ),
        "cross-origin-opener-policy": _test_isolation(
            headers.get("cross-origin-opener-policy"), "coop", _COOP_TOKENS
        ),
        "cross-origin-resource-sharing": _test_cors(scan),
        "redirection": _test_redirection(scan),
        "referrer-policy": _test_referrer(headers, page.meta_referrer),
        "strict-transport-security": hsts,
        "subresource-integrity": _test_sri(scan, headers, page, is_https),
        "x-content-type-options": _test_xcto(headers),
        "x-frame-options": _test_xfo(headers, csp),
        "cross-origin-resource-policy": _test_corp(headers),
    }
    tests = MappingProxyType({name: _make(names[name]) for name in TEST_NAMES})
    score = _total(tests)
    return GradeResult(score, grade_for_score(score), tests)


def grade_headers(
    headers: Iterable[tuple[str, str]],
    *,
    body: str = "",
    status: int = 200,
    hostname: str = "example.com",
    https: bool = True,
    verified: bool = True,
    http_route: Sequence[tuple[str, int]] | None = None,
    cors_headers: Iterable[tuple[str, str]] | None = None,
    preload: PreloadList | None = None,
    suffixes: PublicSuffixList | None = None,
) -> GradeResult:
    """Grade one response's headers with explicit context for what headers cannot tell.

    Defaults are the context the reference grades assume: served over https with a verified
    certificate, plain HTTP redirecting to https on the same host (``http_route``, the list of
    ``(url, status)`` of the plain-HTTP chain; an empty list means no plain HTTP at all), no host
    preloaded, a CORS preflight answered without ``Access-Control-Allow-Origin`` (or with
    ``cors_headers``). Cookies come from the ``Set-Cookie`` headers. With ``https=False`` the
    response is the end of the plain-HTTP chain.

    Added in 0.1.
    """
    scheme = "https" if https else "http"
    url = f"{scheme}://{hostname}/"
    final = FetchedResponse(url, status, tuple(headers), body)
    if http_route is None:
        route: list[tuple[str, int]] = (
            [(f"http://{hostname}/", 301), (url, status)] if https else [(url, status)]
        )
    else:
        route = list(http_route)
    http: Session | None = None
    if route:
        hops = tuple(FetchedResponse(u, s) for u, s in route[:-1])
        last_url, last_status = route[-1]
        if https:
            # The plain-HTTP chain only matters through its route and its verified flag,
            # which a certificate error on an https hop of the route would clear.
            touches_tls = any(_scheme_host(u)[0] == "https" for u, _ in route)
            http = Session(
                (*hops, FetchedResponse(last_url, last_status)),
                verified=verified or not touches_tls,
            )
        else:
            last = FetchedResponse(last_url, last_status, final.headers, final.body)
            http = Session((*hops, last), verified=verified)
    elif not https:
        raise ConfigError(
            "grade_headers: https=False with an empty http_route leaves nothing to grade; "
            "give the plain-HTTP route or leave http_route unset."
        )
    https_session = Session((final,), verified) if https else None
    cors = FetchedResponse(url, 200, tuple(cors_headers or ()))
    scan = Scan(
        hostname=hostname,
        https=https_session,
        http=http,
        cors=cors,
        preload=preload,
        suffixes=suffixes,
    )
    return grade_scan(scan)
