"""List a Flask app's routes for :func:`bulletproof.routes.route_inventory`.

Routes come from ``app.url_map`` in matching order; HEAD (implied by GET) and Flask's automatic
OPTIONS are left out. Authentication is Flask-Login's ``login_required`` or
``fresh_login_required`` on the view (through any ``functools.wraps`` decorators), on a
``MethodView``'s ``decorators`` or on one of its methods. A route with no such marker that has a
``before_request`` hook (the app's or its blueprint's, bulletproof's own excepted) is
``"unknown"``: the hook may check the login. Coverage: the header middleware in the
``app.wsgi_app`` chain, the ``BulletproofFlask`` extension, or the app found inside the WSGI
middleware.

Flask and Flask-Login are imported lazily, inside :func:`walk`.

Added in 0.1.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Iterable
from typing import Any, Final

from bulletproof.routes._inventory import (
    MethodAuth,
    RouteEntry,
    RouteWalker,
    WalkResult,
    callable_name,
    inner_codes,
    is_loaded_instance,
    loaded_class,
    our_middleware_classes,
    wrapped_chain,
)

__all__ = ["WALKER", "walk"]

_AUTH_HINT = "protect it with flask_login.login_required"
_INSTALL_HINT = "wrap the app once with bulletproof.protect(app) (or BulletproofFlask(app))"


@functools.cache
def _login_codes() -> dict[types.CodeType, str]:
    try:
        import flask_login  # type: ignore[import-untyped]
    except ImportError:
        return {}
    codes: dict[types.CodeType, str] = {}
    for name in ("login_required", "fresh_login_required"):
        decorator = getattr(flask_login, name, None)
        if callable(decorator):
            for code in inner_codes(decorator, "decorated_view"):
                codes[code] = f"flask_login.{name}"
    return codes


def _marker(func: object) -> str | None:
    """The Flask-Login decorator found on ``func`` or below it, if any."""
    codes = _login_codes()
    for item in wrapped_chain(func):
        code = getattr(item, "__code__", None)
        if isinstance(code, types.CodeType) and code in codes:
            return codes[code]
    return None


def _installed(app: Any) -> bool:
    """Whether the header middleware is in ``app.wsgi_app`` or the extension is registered."""
    if "bulletproof" in getattr(app, "extensions", {}):
        return True
    ours = our_middleware_classes()
    proxy_fix = loaded_class("werkzeug.middleware.proxy_fix", "ProxyFix")
    current: Any = app.wsgi_app
    for _ in range(50):
        if isinstance(current, ours):
            return True
        if proxy_fix is not None and isinstance(current, proxy_fix):
            current = getattr(current, "app", None)
            continue
        break
    return False


def _hooks(app: Any, endpoint: str) -> list[str]:
    """The ``before_request`` functions Flask runs before ``endpoint``'s view."""
    blueprint = endpoint.rpartition(".")[0]
    scopes: list[str | None] = [None]
    while blueprint:
        scopes.append(blueprint)
        blueprint = blueprint.rpartition(".")[0]
    funcs = [func for scope in scopes for func in app.before_request_funcs.get(scope, ())]
    # bulletproof's own hooks (BulletproofFlask puts the CSP nonce in g) check nothing.
    return [
        callable_name(func)
        for func in funcs
        if not str(getattr(func, "__module__", "")).startswith("bulletproof.")
    ]


def _methods(rule: Any) -> list[str]:
    methods = set(rule.methods or ())
    if getattr(rule, "provide_automatic_options", False):
        methods.discard("OPTIONS")
    if "GET" in methods:
        methods.discard("HEAD")
    return sorted(methods)


def _method_auth(
    method: str, view: object, handler: Callable[..., Any] | None, hooks: Iterable[str]
) -> MethodAuth:
    found = _marker(view) or (_marker(handler) if handler is not None else None)
    if found is not None:
        return MethodAuth(method, "required", found)
    hooks = list(hooks)
    if hooks:
        return MethodAuth(
            method,
            "unknown",
            f"no login_required; before_request hook {', '.join(hooks)} may check the login",
        )
    return MethodAuth(method, "none", "no login_required")


def walk(app: object, *, covered: bool) -> WalkResult:
    """The routes of the Flask app ``app``. Added in 0.1."""
    flask_app: Any = app
    installed = covered or _installed(flask_app)
    entries: list[RouteEntry] = []
    for rule in flask_app.url_map.iter_rules():
        view = flask_app.view_functions.get(rule.endpoint)
        view_class = getattr(view, "view_class", None)
        hooks = _hooks(flask_app, rule.endpoint)
        methods = []
        for method in _methods(rule):
            handler = getattr(view_class, method.lower(), None) if view_class else None
            methods.append(_method_auth(method, view, handler, hooks))
        entries.append(RouteEntry(rule.rule, rule.endpoint, tuple(methods), installed))
    return WalkResult(
        framework="flask",
        entries=tuple(entries),
        middleware_installed=installed,
        auth_hint=_AUTH_HINT,
        install_hint=_INSTALL_HINT,
    )


def _recognises(app: object) -> bool:
    return is_loaded_instance(app, "flask.app", "Flask")


WALKER: Final = RouteWalker("flask", ("Flask",), _recognises, walk)
"""The Flask walker, registered by :mod:`bulletproof.adapters.routes`. Added in 0.1."""
