"""The Observatory's scoring (algorithm v6): every result string with its score modifier, pass
flag and explanation, the bonus rule, and the grade chart.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from bulletproof.errors import ConfigError
from bulletproof.observatory._models import TestResult

__all__ = [
    "ALGORITHM_VERSION",
    "GRADES",
    "MINIMUM_SCORE_FOR_EXTRA_CREDIT",
    "RESULTS",
    "RESULT_DESCRIPTIONS",
    "SCORE_MODIFIERS",
    "TEST_NAMES",
    "grade_for_score",
    "grade_rank",
    "make_result",
    "total_score",
]

ALGORITHM_VERSION: Final = 6
"""The Observatory scoring version this module reproduces. Added in 0.1."""

MINIMUM_SCORE_FOR_EXTRA_CREDIT: Final = 90
"""Bonuses count only when 100 plus every penalty is at least this. Added in 0.1."""

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
RESULTS: Final[dict[str, tuple[int, bool, str]]] = {
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
    {name: mod for name, (mod, _, _) in RESULTS.items()}
)
"""Every result string and its score modifier (0 for a string not listed). Added in 0.1."""

RESULT_DESCRIPTIONS: Final[Mapping[str, str]] = MappingProxyType(
    {name: text for name, (_, _, text) in RESULTS.items()}
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


def total_score(results: Mapping[str, TestResult]) -> int:
    """100 plus every modifier, bonuses only when the penalties leave at least 90; floored at 0."""
    with_bonus = 100 + sum(r.score_modifier for r in results.values())
    penalties = 100 + sum(r.score_modifier for r in results.values() if r.score_modifier < 0)
    score = with_bonus if penalties >= MINIMUM_SCORE_FOR_EXTRA_CREDIT else penalties
    return max(score, 0)


def make_result(result: str) -> TestResult:
    """The :class:`TestResult` of one result string."""
    modifier, passed, description = RESULTS.get(result, (0, False, result))
    return TestResult(result, modifier, passed, description)
