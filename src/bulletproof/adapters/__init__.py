"""Put a :class:`~bulletproof.headers.HeaderPolicy` on every response, in every web framework.

* :class:`bulletproof.adapters.asgi.SecureHeadersMiddleware`: pure ASGI (Starlette, FastAPI,
  Django ASGI, any ASGI app); also exported here.
* :class:`bulletproof.adapters.wsgi.SecureHeadersWSGIMiddleware`: pure WSGI (Flask, Django WSGI,
  any WSGI app); also exported here.
* :mod:`bulletproof.adapters.django`: a Django middleware configured from
  ``settings.BULLETPROOF_HEADERS`` and the ``csp_nonce`` template context processor.
* :mod:`bulletproof.adapters.flask`: the ``BulletproofFlask`` extension.

All of them follow Helmet's semantics: the policy's headers are added to each response that does
not already carry them (a header the route set itself wins, compared case-insensitively), and
the names in ``policy.remove`` (``X-Powered-By``) are stripped. The framework modules import their
framework lazily, so importing this package never imports Django, Flask or Starlette.

Added in 0.1.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, AnyStr, Final

from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity

if TYPE_CHECKING:
    from bulletproof.adapters.asgi import SecureHeadersMiddleware
    from bulletproof.adapters.wsgi import SecureHeadersWSGIMiddleware
    from bulletproof.headers import HeaderPolicy

__all__ = ["SecureHeadersMiddleware", "SecureHeadersWSGIMiddleware"]

_LAZY: Final = {
    "SecureHeadersMiddleware": "bulletproof.adapters.asgi",
    "SecureHeadersWSGIMiddleware": "bulletproof.adapters.wsgi",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'bulletproof.adapters' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def _merge_headers(
    own: Iterable[tuple[AnyStr, AnyStr]],
    policy: Sequence[tuple[AnyStr, AnyStr]],
    policy_names: frozenset[AnyStr],
    drop: frozenset[AnyStr],
) -> list[tuple[AnyStr, AnyStr]]:
    """The response's header list with the policy applied, in Helmet's wire order.

    ``policy_names`` and ``drop`` are lower-case. Helmet sets its headers before the route runs,
    so they come first on the wire and a header the route set again keeps Helmet's position with
    the route's value: the same happens here. Works on ``bytes`` (ASGI) and ``str`` (WSGI).
    """
    own = list(own)
    for name, _ in own:
        low = name.lower()
        if low in policy_names or low in drop:
            break
    else:  # the common case: nothing to override or remove
        merged = list(policy)
        merged.extend(own)
        return merged
    routes: dict[AnyStr, list[tuple[AnyStr, AnyStr]]] = {}
    rest: list[tuple[AnyStr, AnyStr]] = []
    for item in own:
        low = item[0].lower()
        if low in drop:
            continue
        if low in policy_names:
            routes.setdefault(low, []).append(item)
        else:
            rest.append(item)
    merged = []
    for item in policy:
        low = item[0].lower()
        if low not in routes:
            merged.append(item)
        else:
            merged.extend(routes[low])
            routes[low] = []  # a policy name listed twice must not repeat the route's value
    merged.extend(rest)
    return merged


def _resolve_policy(policy: HeaderPolicy | None, owner: str) -> HeaderPolicy:
    """``policy`` itself, Helmet's defaults for None, or a ConfigError naming ``owner``."""
    from bulletproof.headers import HeaderPolicy, secure_headers

    if policy is None:
        return secure_headers()
    if not isinstance(policy, HeaderPolicy):
        raise ConfigError(
            f"{owner}: policy={policy!r} is a {type(policy).__name__}, not a HeaderPolicy: "
            "build one with bulletproof.headers.secure_headers(...), or pass None for Helmet's "
            "defaults"
        )
    return policy


def _render_failed_event(
    exc: Exception, *, path: str | None, method: str | None, timestamp: float
) -> SecurityEvent:
    """The event for a request answered 500 because its headers could not be rendered."""
    return SecurityEvent(
        action="header_render_failed",
        category=Category.HEADERS,
        severity=Severity.HIGH,
        message=f"security headers could not be rendered; the request was answered 500: {exc}",
        outcome=Outcome.FAILURE,
        types=("error",),
        url_path=path,
        http_method=method,
        status_code=500,
        details={"error": type(exc).__name__},
        timestamp=timestamp,
    )
