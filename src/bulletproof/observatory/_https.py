"""Does the site insist on HTTPS: the Strict-Transport-Security test and the redirection test,
both of which count a host on the HSTS preload list as already there.
"""

from __future__ import annotations

from typing import Final

from bulletproof.observatory._domains import scheme_host
from bulletproof.observatory._js import NodeHeaders, js_parse_int, trim
from bulletproof.observatory._models import Scan

__all__ = ["hsts_result", "preloaded", "redirection_result"]


def preloaded(scan: Scan, host: str) -> bool:
    """Whether ``host`` is on the scan's HSTS preload list (none given: never)."""
    return scan.preload is not None and scan.preload.is_preloaded(host)


_SIX_MONTHS: Final = 15_552_000


def hsts_result(scan: Scan) -> str:
    """The Strict-Transport-Security test, on the HTTPS chain's last response."""
    if scan.https is None:
        return "hsts-not-implemented-no-https"
    result = "hsts-not-implemented"
    if not scan.https.verified:
        result = "hsts-invalid-cert"
    else:
        value = NodeHeaders(scan.https.final.headers).get("strict-transport-security")
        if value is not None:
            result = _hsts_value(value[:1024])
    if preloaded(scan, scan.hostname):
        result = "hsts-preloaded"
    return result


def _hsts_value(value: str) -> str:
    if "," in value:
        return "hsts-header-invalid"
    found = False
    max_age: int | None = None
    for raw in value.split(";"):
        piece = trim(raw).lower()
        if piece.startswith("max-age="):
            found = True
            max_age = js_parse_int(piece[8:128])
    if not found:
        return "hsts-header-invalid"
    if max_age is not None and max_age < _SIX_MONTHS:
        return "hsts-implemented-max-age-less-than-six-months"
    return "hsts-implemented-max-age-at-least-six-months"


def redirection_result(scan: Scan) -> str:
    """The redirection test, on the route of the plain-HTTP chain."""
    if scan.http is None:
        return "redirection-not-needed-no-http"
    if not scan.http.verified:
        return "redirection-invalid-cert"
    route = [scheme_host(url) for url, _ in scan.http.route]
    if all(preloaded(scan, host) for _, host in route):
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
