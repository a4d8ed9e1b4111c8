"""The grader: run the 12 tests on a :class:`Scan` and score them (Observatory scoring v6).

Pure: no I/O. Each test family lives in its own module (``_csp``, ``_cookies``, ``_isolation``,
``_cors``, ``_https``, ``_framing``, ``_html``); this one runs them in the Observatory's order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import MappingProxyType

from bulletproof.errors import ConfigError, UngradableError
from bulletproof.observatory._cookies import cookies_result
from bulletproof.observatory._cors import cors_result
from bulletproof.observatory._csp import analyze_csp
from bulletproof.observatory._domains import PreloadList, PublicSuffixList, scheme_host
from bulletproof.observatory._framing import referrer_result, xcto_result, xfo_result
from bulletproof.observatory._html import HTML_TYPES, media_type, read_page, sri_result
from bulletproof.observatory._https import hsts_result, redirection_result
from bulletproof.observatory._isolation import (
    COEP_TOKENS,
    COOP_TOKENS,
    corp_result,
    isolation_result,
)
from bulletproof.observatory._js import NodeHeaders
from bulletproof.observatory._models import FetchedResponse, GradeResult, Scan, Session
from bulletproof.observatory._scoring import (
    RESULTS,
    TEST_NAMES,
    grade_for_score,
    make_result,
    total_score,
)

__all__ = ["grade_headers", "grade_scan"]


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
    headers = NodeHeaders(final.headers)
    is_https = scheme_host(auto.responses[0].url)[0] == "https"
    mime = media_type(headers)
    page = read_page(final.body, with_meta=mime in HTML_TYPES and bool(final.body))
    csp = analyze_csp(headers, page.meta_csp, is_https)
    hsts = hsts_result(scan)
    hsts_ok = RESULTS[hsts][1]
    names = {
        "content-security-policy": csp.result,
        "cookies": cookies_result(scan, auto, headers, hsts_ok),
        "cross-origin-embedder-policy": isolation_result(
            headers.get("cross-origin-embedder-policy"), "coep", COEP_TOKENS
        ),
        "cross-origin-opener-policy": isolation_result(
            headers.get("cross-origin-opener-policy"), "coop", COOP_TOKENS
        ),
        "cross-origin-resource-sharing": cors_result(scan),
        "redirection": redirection_result(scan),
        "referrer-policy": referrer_result(headers, page.meta_referrer),
        "strict-transport-security": hsts,
        "subresource-integrity": sri_result(scan, headers, page, is_https),
        "x-content-type-options": xcto_result(headers),
        "x-frame-options": xfo_result(headers, csp),
        "cross-origin-resource-policy": corp_result(headers),
    }
    tests = MappingProxyType({name: make_result(names[name]) for name in TEST_NAMES})
    score = total_score(tests)
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
            touches_tls = any(scheme_host(u)[0] == "https" for u, _ in route)
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
