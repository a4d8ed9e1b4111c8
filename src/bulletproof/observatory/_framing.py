"""Framing, sniffing and referrers: the X-Frame-Options (or CSP ``frame-ancestors``),
X-Content-Type-Options and Referrer-Policy (header or ``<meta name=referrer>``) tests.
"""

from __future__ import annotations

from typing import Final

from bulletproof.observatory._csp import CspOutcome
from bulletproof.observatory._js import NodeHeaders, trim

__all__ = ["referrer_result", "xcto_result", "xfo_result"]

_PRIVATE_REFERRERS: Final = frozenset(
    {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
)
_UNSAFE_REFERRERS: Final = frozenset(
    {"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
)


def referrer_result(headers: NodeHeaders, meta_referrer: str | None) -> str:
    """The Referrer-Policy test: the last known policy of the header and ``<meta>``, in order."""
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
        token = trim(item).lower()
        if token in _PRIVATE_REFERRERS or token in _UNSAFE_REFERRERS:
            last = token
    if last is None:
        return "referrer-policy-header-invalid"
    return "referrer-policy-private" if last in _PRIVATE_REFERRERS else "referrer-policy-unsafe"


def xcto_result(headers: NodeHeaders) -> str:
    """The X-Content-Type-Options test."""
    value = headers.get("x-content-type-options")
    if not value:
        return "x-content-type-options-not-implemented"
    if trim(value[:256]).lower() == "nosniff":
        return "x-content-type-options-nosniff"
    return "x-content-type-options-header-invalid"


def xfo_result(headers: NodeHeaders, csp: CspOutcome) -> str:
    """The X-Frame-Options test; CSP ``frame-ancestors`` takes its place when set."""
    value = headers.get("x-frame-options")
    if not value:
        result = "x-frame-options-not-implemented"
    else:
        v = trim(value[:1024]).lower()
        if v in ("deny", "sameorigin"):
            result = "x-frame-options-sameorigin-or-deny"
        elif v.startswith("allow-from"):
            result = "x-frame-options-allow-from-origin"
        else:
            result = "x-frame-options-header-invalid"
    if csp.directives is not None and "frame-ancestors" in csp.directives:
        result = "x-frame-options-implemented-via-csp"
    return result
