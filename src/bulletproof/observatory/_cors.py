"""Cross-origin resource sharing: what the answer to the Observatory's CORS preflight grants."""

from __future__ import annotations

from bulletproof.observatory._js import NodeHeaders, trim
from bulletproof.observatory._models import Scan

__all__ = ["cors_result"]


def cors_result(scan: Scan) -> str:
    """The CORS test: what the answer to the preflight grants, and to whom."""
    result = "cross-origin-resource-sharing-not-implemented"
    if scan.cors is None:
        return result
    headers = NodeHeaders(scan.cors.headers)
    raw = headers.get("access-control-allow-origin")
    if not raw:
        return result
    acao = trim(raw[:256]).lower()
    if acao == "*":
        return "cross-origin-resource-sharing-implemented-with-public-access"
    credentials = headers.get("access-control-allow-credentials")
    if raw == scan.cors_origin and credentials and trim(credentials).lower() == "true":
        return "cross-origin-resource-sharing-implemented-with-universal-access"
    return "cross-origin-resource-sharing-implemented-with-restricted-access"
