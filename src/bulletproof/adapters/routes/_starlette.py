"""List a Starlette or FastAPI app's routes for :func:`bulletproof.routes.route_inventory`.

Walks ``Route`` (function or ``HTTPEndpoint`` endpoints), ``WebSocketRoute``, ``Mount`` (a
sub-application, a ``Router``, ``StaticFiles`` or any ASGI app) and ``Host``, and FastAPI's
``APIRoute``. Authentication: Starlette's ``requires(...)`` on the endpoint or on an
``HTTPEndpoint`` method; for FastAPI, a security dependency anywhere in the route's dependency
tree (route, router or app level): a ``fastapi.security`` scheme instance, or a
``Security(...)`` declaration. A scheme with ``auto_error=False`` only is ``"unknown"`` (the
credentials are optional). Coverage: the ASGI header middleware in an app's middleware list
(``add_middleware`` / ``middleware=[...]``), around a mounted app, in a route's or mount's own
middleware, or around the whole app. A Mount whose app is outside every such middleware is not
covered.

Starlette and FastAPI are imported lazily, inside :func:`walk`.

Added in 0.1.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bulletproof.routes._inventory import (
    ANY_METHOD,
    AuthState,
    MethodAuth,
    RouteEntry,
    RouteWalker,
    WalkResult,
    callable_name,
    closure_value,
    inner_codes,
    is_loaded_instance,
    loaded_class,
    our_middleware_classes,
    unwrap_app,
    wrapped_chain,
)

__all__ = ["WALKER", "walk"]

_ENDPOINT_METHODS = ("get", "head", "post", "put", "patch", "delete", "options")
_STARLETTE_AUTH_HINT = "protect it with @requires('authenticated')"
_FASTAPI_AUTH_HINT = (
    "add a security dependency (Depends on a fastapi.security scheme, or Security(...))"
)
_INSTALL_HINT = (
    "app.add_middleware(bulletproof.adapters.asgi.BulletproofMiddleware) or "
    "app = bulletproof.protect(app)"
)


@dataclass
class _Walk:
    """State of one walk: the framework classes and the entries found so far."""

    framework: str
    starlette: Any
    routing: Any
    fastapi_routing: Any
    security_base: type | None
    security_param: type | None
    ours: tuple[type, ...]
    entries: list[RouteEntry]


@functools.cache
def _requires_codes() -> frozenset[types.CodeType]:
    from starlette.authentication import requires

    return inner_codes(requires, "sync_wrapper", "async_wrapper", "websocket_wrapper")


def _requires_marker(func: object) -> str | None:
    codes = _requires_codes()
    for item in wrapped_chain(func):
        if getattr(item, "__code__", None) in codes:
            scopes = closure_value(item, "scopes_list") or []
            return f"requires({', '.join(repr(s) for s in scopes)})"
    return None


def _has_ours(middleware: Sequence[Any] | None, ours: tuple[type, ...]) -> bool:
    if not ours or not middleware:
        return False
    for item in middleware:
        cls = getattr(item, "cls", None)
        if isinstance(cls, type) and issubclass(cls, ours):
            return True
    return False


def _app_installs(app: Any, state: _Walk) -> bool:
    """Whether ``app`` (a Starlette app or Router) runs the header middleware itself."""
    if isinstance(app, state.starlette.Starlette):
        return _has_ours(app.user_middleware, state.ours)
    if isinstance(app, state.routing.Router) and state.ours:
        stack = getattr(app, "middleware_stack", None)
        return unwrap_app(stack)[1]
    return False


# -- FastAPI dependencies -----------------------------------------------------------------------


def _security_params(call: Any, state: _Walk) -> set[str]:
    """Names of ``call``'s parameters declared with ``Security(...)`` (default or Annotated)."""
    if state.security_param is None or call is None:
        return set()
    try:
        signature = inspect.signature(call, eval_str=True)
    except Exception:  # noqa: BLE001 - unresolvable annotations: look at the raw ones
        try:
            signature = inspect.signature(call)
        except (TypeError, ValueError):
            return set()
    names: set[str] = set()
    for name, param in signature.parameters.items():
        markers = [param.default]
        if typing.get_origin(param.annotation) is typing.Annotated:
            markers.extend(param.annotation.__metadata__)
        if any(isinstance(m, state.security_param) for m in markers):
            names.add(name)
    return names


def _dependency_name(call: object) -> str:
    if isinstance(call, type) or inspect.isfunction(call) or inspect.ismethod(call):
        return str(getattr(call, "__qualname__", getattr(call, "__name__", "?")))
    return f"{type(call).__name__}()"


def _securities(
    dependant: Any, explicit: set[int], state: _Walk, path: tuple[str, ...]
) -> Iterator[tuple[str, bool]]:
    """Yield ``(evidence, enforced)`` for each security dependency below ``dependant``."""
    if len(path) > 50:
        return
    marked = _security_params(dependant.call, state)
    for child in dependant.dependencies:
        call = child.call
        name = _dependency_name(call)
        via = " via " + " -> ".join(path) if path else ""
        if state.security_base is not None and isinstance(call, state.security_base):
            enforced = bool(getattr(call, "auto_error", True))
            optional = "" if enforced else " with auto_error=False (optional)"
            yield f"{type(call).__name__}{optional}{via}", enforced
        elif id(child) in explicit or (child.name is not None and child.name in marked):
            yield f"Security({name}){via}", True
        yield from _securities(child, set(), state, (*path, name))


def _fastapi_auth(route: Any, state: _Walk) -> tuple[AuthState, str]:
    dependant = route.dependant
    explicit = {
        id(child)
        for child, declared in zip(dependant.dependencies, route.dependencies, strict=False)
        if state.security_param is not None and isinstance(declared, state.security_param)
    }
    found = list(_securities(dependant, explicit, state, ()))
    enforced = [evidence for evidence, strict in found if strict]
    if enforced:
        return "required", "; ".join(dict.fromkeys(enforced))
    if found:
        return "unknown", "; ".join(dict.fromkeys(e for e, _ in found))
    return "none", "no security dependency"


# -- the routing table --------------------------------------------------------------------------


def _route_methods(route: Any) -> list[str] | None:
    if route.methods is None:
        return None
    methods = {m.upper() for m in route.methods}
    if "GET" in methods:
        methods.discard("HEAD")
    return sorted(methods)


def _endpoint_class_methods(endpoint: type) -> list[tuple[str, object]]:
    found = [(name.upper(), getattr(endpoint, name, None)) for name in _ENDPOINT_METHODS]
    present = [(m, h) for m, h in found if h is not None]
    names = {m for m, _ in present}
    return [(m, h) for m, h in present if not (m == "HEAD" and "GET" in names)]


def _http_route(kind: Any, route: Any, prefix: str, covered: bool, note: str, state: _Walk) -> None:
    """``kind`` is the route object as declared (its class decides), ``route`` what to read."""
    route_covered = covered or unwrap_app(getattr(route, "app", None))[1]
    endpoint = route.endpoint
    fastapi_route = state.fastapi_routing is not None and isinstance(
        kind, state.fastapi_routing.APIRoute
    )
    methods = _route_methods(route)
    items: list[MethodAuth] = []
    if fastapi_route:
        auth, evidence = _fastapi_auth(route, state)
        items = [MethodAuth(m, auth, evidence) for m in methods or [ANY_METHOD]]
    elif methods is None and isinstance(endpoint, type):
        endpoint_cls = loaded_class("starlette.endpoints", "HTTPEndpoint")
        if endpoint_cls is not None and issubclass(endpoint, endpoint_cls):
            for method, handler in _endpoint_class_methods(endpoint):
                marker = _requires_marker(handler)
                items.append(_starlette_auth(method, marker, state))
        else:
            items = [MethodAuth(ANY_METHOD, "unknown", "an ASGI class endpoint")]
    elif methods is None:
        items = [MethodAuth(ANY_METHOD, "unknown", "an ASGI app endpoint")]
    else:
        marker = _requires_marker(endpoint)
        items = [_starlette_auth(m, marker, state) for m in methods]
    state.entries.append(
        RouteEntry(prefix + route.path, callable_name(endpoint), tuple(items), route_covered, note)
    )


def _starlette_auth(method: str, marker: str | None, state: _Walk) -> MethodAuth:
    if marker is not None:
        return MethodAuth(method, "required", marker)
    if state.framework == "fastapi":
        return MethodAuth(method, "none", "no requires(...) or security dependency")
    return MethodAuth(method, "none", "no requires(...)")


def _websocket_route(
    kind: Any, route: Any, prefix: str, covered: bool, note: str, state: _Walk
) -> None:
    if state.fastapi_routing is not None and isinstance(
        kind, state.fastapi_routing.APIWebSocketRoute
    ):
        auth, evidence = _fastapi_auth(route, state)
        item = MethodAuth("WEBSOCKET", auth, evidence)
    else:
        item = _starlette_auth("WEBSOCKET", _requires_marker(route.endpoint), state)
    state.entries.append(
        RouteEntry(prefix + route.path, callable_name(route.endpoint), (item,), covered, note)
    )


def _mounted(app: object, path: str, covered: bool, note: str, state: _Walk, depth: int) -> None:
    """Walk what a Mount or Host serves at ``path``."""
    inner, wrapped = unwrap_app(app)
    covered = covered or wrapped
    if isinstance(inner, state.starlette.Starlette | state.routing.Router):
        covered = covered or _app_installs(inner, state)
        _walk_routes(inner.routes, path, covered, note, state, depth + 1)
        return
    staticfiles = loaded_class("starlette.staticfiles", "StaticFiles")
    if staticfiles is not None and isinstance(inner, staticfiles):
        directory = getattr(inner, "directory", None)
        name = f"starlette.staticfiles.StaticFiles(directory={str(directory)!r})"
        item = MethodAuth("GET", "none", "static files")
        state.entries.append(RouteEntry(f"{path}/{{path}}", name, (item,), covered, note))
        return
    item = MethodAuth(ANY_METHOD, "unknown", "a mounted ASGI app: its own routes are not listed")
    state.entries.append(
        RouteEntry(f"{path}/{{path:path}}", callable_name(inner), (item,), covered, note)
    )


def _expanded(routes: Sequence[Any], state: _Walk) -> Iterator[tuple[Any, Any]]:
    """``(declared route, what to read)`` pairs.

    FastAPI (0.116+) keeps ``include_router`` lazy: the app's routes hold one ``_IncludedRouter``
    per include. ``fastapi.routing.iter_route_contexts`` (what FastAPI's OpenAPI generation
    uses) expands them into the effective routes, with the prefix and the router's dependencies
    merged in; each context keeps the route as declared in ``original_route``.
    """
    expand = getattr(state.fastapi_routing, "iter_route_contexts", None)
    if expand is None:
        for route in routes:
            yield route, route
        return
    for context in expand(routes):
        yield context.original_route, context


def _walk_routes(
    routes: Sequence[Any], prefix: str, covered: bool, note: str, state: _Walk, depth: int
) -> None:
    if depth > 30:
        return
    routing = state.routing
    fastapi_routing = state.fastapi_routing
    for kind, route in _expanded(routes, state):
        if isinstance(kind, routing.Mount):
            path = prefix + route.path
            sub_note = note or f"mounted at {path or '/'} outside the header middleware"
            _mounted(route.app, path, covered, sub_note, state, depth)
        elif isinstance(kind, routing.Host):
            host_prefix = f"//{route.host}{prefix}"
            sub_note = note or f"served for host {route.host} outside the header middleware"
            _mounted(route.app, host_prefix, covered, sub_note, state, depth)
        elif isinstance(kind, routing.WebSocketRoute) or (
            fastapi_routing is not None and isinstance(kind, fastapi_routing.APIWebSocketRoute)
        ):
            _websocket_route(kind, route, prefix, covered, note, state)
        elif isinstance(kind, routing.Route):
            _http_route(kind, route, prefix, covered, note, state)
        else:
            path = str(getattr(route, "path", None) or "")
            item = MethodAuth(ANY_METHOD, "unknown", f"a {type(kind).__name__} route: not analysed")
            name = callable_name(getattr(route, "endpoint", None) or kind)
            state.entries.append(RouteEntry(prefix + path, name, (item,), covered, note))


def walk(app: object, *, covered: bool) -> WalkResult:
    """The routes of the Starlette or FastAPI app (or Router) ``app``. Added in 0.1."""
    import starlette.applications
    import starlette.routing

    fastapi_routing: Any = None
    security_base: type | None = None
    security_param: type | None = None
    framework = "starlette"
    fastapi_app = loaded_class("fastapi.applications", "FastAPI")
    if fastapi_app is not None:
        import fastapi.params
        import fastapi.routing
        import fastapi.security.base

        fastapi_routing = fastapi.routing
        security_base = fastapi.security.base.SecurityBase
        security_param = fastapi.params.Security
        if isinstance(app, fastapi_app):
            framework = "fastapi"
    state = _Walk(
        framework=framework,
        starlette=starlette.applications,
        routing=starlette.routing,
        fastapi_routing=fastapi_routing,
        security_base=security_base,
        security_param=security_param,
        ours=our_middleware_classes(),
        entries=[],
    )
    installed = covered or _app_installs(app, state)
    routes: Sequence[Any] = getattr(app, "routes", [])
    _walk_routes(routes, "", installed, "", state, 0)
    return WalkResult(
        framework=framework,
        entries=tuple(state.entries),
        middleware_installed=installed,
        auth_hint=_FASTAPI_AUTH_HINT if framework == "fastapi" else _STARLETTE_AUTH_HINT,
        install_hint=_INSTALL_HINT,
    )


_APP_CLASSES: Final = (
    ("fastapi.applications", "FastAPI"),
    ("starlette.applications", "Starlette"),
    ("starlette.routing", "Router"),
)


def _recognises(app: object) -> bool:
    return any(is_loaded_instance(app, module, name) for module, name in _APP_CLASSES)


WALKER: Final = RouteWalker("starlette", ("Starlette", "FastAPI"), _recognises, walk)
"""The Starlette and FastAPI walker, registered by :mod:`bulletproof.adapters.routes`.
Added in 0.1."""
