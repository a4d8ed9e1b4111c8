"""The route inventory: every route of an app, its methods, header coverage and authentication.

This module is framework-neutral. It recognises the app object by the classes it is an instance of
(looked up in ``sys.modules`` only, so nothing is imported here), unwraps the middleware classes it
knows, and hands the app to the walker for its framework, ``bulletproof.adapters.routes_<name>``,
which is imported by name (the same registry pattern as ``bulletproof.sinks``). A walker returns
:class:`RouteEntry` records; :func:`build_inventory` groups them into :class:`Route` objects and
derives the findings.

Added in 0.1.
"""

from __future__ import annotations

import functools
import importlib
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from bulletproof.errors import ConfigError

__all__ = [
    "ANY_METHOD",
    "OUR_ASGI_MIDDLEWARE",
    "OUR_DJANGO_MIDDLEWARE",
    "OUR_WSGI_MIDDLEWARE",
    "STATE_CHANGING_METHODS",
    "WALKERS",
    "AuthState",
    "MethodAuth",
    "Route",
    "RouteEntry",
    "RouteInventory",
    "WalkResult",
    "Walker",
    "build_inventory",
    "callable_name",
    "closure_value",
    "inner_codes",
    "loaded_class",
    "one_line",
    "route_inventory",
    "unwrap_app",
    "wrapped_chain",
]

AuthState = Literal["required", "none", "unknown"]
"""Whether a route requires authentication: ``"required"`` when a marker the framework documents
was found, ``"none"`` when there is none, ``"unknown"`` when something opaque decides. Added in
0.1."""

ANY_METHOD: Final = "*"
"""The method of a route that accepts every HTTP method (shown as ``ANY``). Added in 0.1."""

STATE_CHANGING_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE", ANY_METHOD})
"""Methods that may change state; a route accepting any method counts. Added in 0.1."""

OUR_ASGI_MIDDLEWARE: Final = ("bulletproof.adapters.asgi", "SecureHeadersMiddleware")
"""Where the ASGI header middleware lives. Added in 0.1."""
OUR_WSGI_MIDDLEWARE: Final = ("bulletproof.adapters.wsgi", "SecureHeadersWSGIMiddleware")
"""Where the WSGI header middleware lives. Added in 0.1."""
OUR_DJANGO_MIDDLEWARE: Final = "bulletproof.adapters.django.SecureHeadersMiddleware"
"""The dotted path of the Django header middleware, as written in ``settings.MIDDLEWARE``.
Added in 0.1."""

WALKERS: Final[Mapping[str, str]] = {
    "flask": "bulletproof.adapters.routes_flask",
    "django": "bulletproof.adapters.routes_django",
    "starlette": "bulletproof.adapters.routes_starlette",
    "fastapi": "bulletproof.adapters.routes_starlette",
}
"""Framework name -> the module whose ``walk(app, *, covered)`` lists its routes. Added in 0.1."""

# Middleware classes we may look through to reach the app: (module, class name). Each keeps the
# app it wraps in ``.app``. Ours come first; the rest are common third-party wrappers.
_OUR_WRAPPERS: Final = (OUR_ASGI_MIDDLEWARE, OUR_WSGI_MIDDLEWARE)
_KNOWN_WRAPPERS: Final = (
    ("starlette.middleware.cors", "CORSMiddleware"),
    ("starlette.middleware.gzip", "GZipMiddleware"),
    ("starlette.middleware.trustedhost", "TrustedHostMiddleware"),
    ("starlette.middleware.httpsredirect", "HTTPSRedirectMiddleware"),
    ("starlette.middleware.sessions", "SessionMiddleware"),
    ("starlette.middleware.errors", "ServerErrorMiddleware"),
    ("starlette.middleware.exceptions", "ExceptionMiddleware"),
    ("uvicorn.middleware.proxy_headers", "ProxyHeadersMiddleware"),
    ("werkzeug.middleware.proxy_fix", "ProxyFix"),
)
# The app classes we recognise, most specific first: (module, class name, framework).
_APP_CLASSES: Final = (
    ("fastapi.applications", "FastAPI", "fastapi"),
    ("starlette.applications", "Starlette", "starlette"),
    ("starlette.routing", "Router", "starlette"),
    ("flask.app", "Flask", "flask"),
    ("django.core.handlers.base", "BaseHandler", "django"),
)


@dataclass(frozen=True)
class Route:
    """One route: its path, methods, handler, authentication and header coverage.

    ``methods`` are upper-case; ``("*",)`` means the route accepts every method. HEAD (implied by
    GET) and automatic OPTIONS are left out. ``endpoint`` is Flask's endpoint name (what
    ``url_for`` takes); for the other frameworks, the dotted name of the view.
    ``covered`` says whether the bulletproof header middleware runs for this route.

    Added in 0.1.
    """

    path: str
    methods: tuple[str, ...]
    endpoint: str
    auth: AuthState
    auth_evidence: str
    covered: bool

    def to_dict(self) -> dict[str, Any]:
        """The route as JSON-ready data. Added in 0.1."""
        return {
            "path": self.path,
            "methods": list(self.methods),
            "endpoint": self.endpoint,
            "auth": self.auth,
            "auth_evidence": self.auth_evidence,
            "covered": self.covered,
        }


@dataclass(frozen=True)
class RouteInventory:
    """Every route of one app, and what is wrong with them.

    ``middleware_installed`` is True when the header middleware wraps the whole app (then every
    route is covered). ``findings`` are one sentence each: state-changing routes without
    authentication, and routes the header middleware does not cover.

    Added in 0.1.
    """

    framework: str
    routes: tuple[Route, ...]
    middleware_installed: bool
    findings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The inventory as JSON-ready data (``framework``, ``routes``, ``findings``, ...).

        Added in 0.1.
        """
        return {
            "framework": self.framework,
            "middleware_installed": self.middleware_installed,
            "routes": [route.to_dict() for route in self.routes],
            "findings": list(self.findings),
        }


@dataclass(frozen=True)
class MethodAuth:
    """What a walker found about one method of one route.

    ``public`` is True when the app marks the route as deliberately public (Django's
    ``login_not_required``, DRF ``permission_classes = [AllowAny]`` on the view itself): such a
    route is reported with auth ``"none"`` but is not a finding.

    Added in 0.1.
    """

    method: str
    auth: AuthState
    evidence: str
    public: bool = False


@dataclass(frozen=True)
class RouteEntry:
    """One route as a framework walker found it, before methods are grouped.

    ``note`` says why the route is not covered (for example the Mount that sends it around the
    middleware); it is only used in findings.

    Added in 0.1.
    """

    path: str
    endpoint: str
    methods: tuple[MethodAuth, ...]
    covered: bool
    note: str = ""


@dataclass(frozen=True)
class WalkResult:
    """What a framework walker returns.

    ``auth_hint`` and ``install_hint`` complete the findings' "how to fix" part in the
    framework's own terms.

    Added in 0.1.
    """

    framework: str
    entries: tuple[RouteEntry, ...]
    middleware_installed: bool
    auth_hint: str
    install_hint: str
    notes: tuple[str, ...] = field(default_factory=tuple)


class Walker(Protocol):
    """The ``walk`` function each ``bulletproof.adapters.routes_<framework>`` module exposes.

    ``covered`` is True when the app was found inside the header middleware (so every route is
    covered whatever the app itself installs).

    Added in 0.1.
    """

    def __call__(self, app: object, *, covered: bool) -> WalkResult:
        """List the routes of ``app``. Added in 0.1."""


# -- introspection helpers shared by the walkers ------------------------------------------------


def loaded_class(module: str, name: str) -> type | None:
    """The class ``module.name`` if that module is already imported, else None.

    Never imports anything: an object can only be an instance of a class whose module is loaded.

    Added in 0.1.
    """
    loaded = sys.modules.get(module)
    value = getattr(loaded, name, None) if loaded is not None else None
    return value if isinstance(value, type) else None


def _is_instance(obj: object, where: tuple[str, str]) -> bool:
    cls = loaded_class(*where)
    return cls is not None and isinstance(obj, cls)


def unwrap_app(app: object) -> tuple[object, bool]:
    """Look through known middleware wrappers: ``(the app inside, covered by our middleware)``.

    Only bulletproof's own header middleware and a fixed list of common wrappers (Starlette's
    middleware, uvicorn's ProxyHeadersMiddleware, Werkzeug's ProxyFix) are looked through, by
    their ``.app`` attribute; an unknown object is returned as it is.

    Added in 0.1.
    """
    covered = False
    seen: set[int] = set()
    while id(app) not in seen:
        seen.add(id(app))
        ours = any(_is_instance(app, where) for where in _OUR_WRAPPERS)
        if not ours and not any(_is_instance(app, where) for where in _KNOWN_WRAPPERS):
            break
        inner = getattr(app, "app", None)
        if inner is None:
            break
        covered = covered or ours
        app = inner
    return app, covered


def wrapped_chain(func: object, *, limit: int = 50) -> Iterator[object]:
    """``func``, then each ``__wrapped__`` below it (what ``functools.wraps`` records).

    Added in 0.1.
    """
    seen: set[int] = set()
    current: object | None = func
    while current is not None and id(current) not in seen and len(seen) < limit:
        seen.add(id(current))
        yield current
        current = getattr(current, "__wrapped__", None)


def inner_codes(func: Callable[..., Any], *names: str) -> frozenset[types.CodeType]:
    """The code objects of the functions named ``names`` defined anywhere inside ``func``.

    A decorator's wrapper shares one code object across every function it wraps, so comparing
    ``wrapper.__code__`` with these identifies the decorator without calling it.

    Added in 0.1.
    """
    found: set[types.CodeType] = set()
    pending = [getattr(func, "__code__", None)]
    while pending:
        code = pending.pop()
        if not isinstance(code, types.CodeType):
            continue
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                if const.co_name in names:
                    found.add(const)
                pending.append(const)
    return frozenset(found)


def closure_value(func: object, name: str) -> Any:
    """The value of free variable ``name`` in ``func``'s closure, or None. Added in 0.1."""
    code = getattr(func, "__code__", None)
    cells = getattr(func, "__closure__", None)
    if not isinstance(code, types.CodeType) or not cells or name not in code.co_freevars:
        return None
    try:
        return cells[code.co_freevars.index(name)].cell_contents
    except ValueError:  # an empty cell
        return None


def callable_name(obj: object) -> str:
    """A dotted name for a view: ``module.qualname`` for functions, methods and classes.

    ``<locals>`` steps are left out (``app.create.index`` for a view defined in a factory). Other
    objects are named after their class, with ``()`` (an instance).

    Added in 0.1.
    """
    while isinstance(obj, functools.partial):
        obj = obj.func
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    name = getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        if isinstance(name, str) and qualname.rpartition(".")[2] != name:
            qualname = name  # renamed after creation (DRF's @api_view class takes the function's)
        return f"{module}.{qualname.replace('<locals>.', '')}"
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}()"


_CONTROL: Final = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]}


def one_line(text: str) -> str:
    """``text`` with every control character escaped, so it cannot split a line. Added in 0.1."""
    return text.translate(_CONTROL)


# -- building the inventory ---------------------------------------------------------------------


def _method_order(method: str) -> tuple[int, str]:
    order = ("*", "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "WEBSOCKET")
    return (order.index(method) if method in order else len(order), method)


def _shown(methods: Iterable[str]) -> str:
    return ",".join("ANY" if m == ANY_METHOD else m for m in methods)


def build_inventory(result: WalkResult, public_paths: Iterable[str] = ()) -> RouteInventory:
    """Group each entry's methods by authentication into routes, and derive the findings.

    A route whose methods differ in authentication (a class-based view with a public GET and a
    protected POST) becomes one route per group, in the order the methods are listed. Paths in
    ``public_paths`` (``[tool.bulletproof.routes] public``: a login form, a health check) are
    meant to be reachable without logging in: they are listed but not reported.

    Added in 0.1.
    """
    routes: list[Route] = []
    auth_findings: list[str] = []
    uncovered: list[str] = []
    deliberate = frozenset(public_paths)
    for entry in result.entries:
        groups: dict[tuple[AuthState, str, bool], list[str]] = {}
        for item in entry.methods:
            groups.setdefault((item.auth, item.evidence, item.public), []).append(item.method)
        for (auth, evidence, public), group in groups.items():
            methods = tuple(sorted(set(group), key=_method_order))
            route = Route(
                path=entry.path,
                methods=methods,
                endpoint=entry.endpoint,
                auth=auth,
                auth_evidence=evidence,
                covered=entry.covered,
            )
            routes.append(route)
            label = f"{_shown(methods)} {entry.path} ({entry.endpoint})"
            changing = sorted(set(methods) & STATE_CHANGING_METHODS, key=_method_order)
            if auth == "none" and changing and not public and entry.path not in deliberate:
                what = (
                    "accepts every method (restrict it to the ones it serves)"
                    if ANY_METHOD in changing
                    else f"changes state ({_shown(changing)})"
                )
                auth_findings.append(
                    f"{label} {what} and requires no authentication: {result.auth_hint}"
                )
            if not entry.covered:
                reason = f" ({entry.note})" if entry.note else ""
                uncovered.append(f"{label} is not covered by the header middleware{reason}")
    findings = list(result.notes)
    findings.extend(auth_findings)
    if routes and not any(route.covered for route in routes):
        findings.append(
            f"the header middleware is not installed: none of the {len(routes)} routes gets the "
            f"security headers; {result.install_hint}"
        )
    else:
        findings.extend(uncovered)
    return RouteInventory(
        framework=result.framework,
        routes=tuple(routes),
        middleware_installed=result.middleware_installed,
        findings=tuple(one_line(f) for f in findings),
    )


def _framework_of(app: object) -> str | None:
    if isinstance(app, types.ModuleType):
        return "django" if hasattr(app, "ROOT_URLCONF") else None
    for module, name, framework in _APP_CLASSES:
        if _is_instance(app, (module, name)):
            return framework
    return None


def route_inventory(app: object, *, public: Iterable[str] = ()) -> RouteInventory:
    """List every route of a Flask, Django, Starlette or FastAPI app.

    ``app`` is the application object (``Flask``, ``Starlette``, ``FastAPI``, a Starlette
    ``Router``, Django's WSGI or ASGI handler, or a Django settings module), possibly wrapped by
    ``bulletproof.protect`` or by the header middleware. Raises ConfigError when the object is none
    of these, or when the framework fails to load its routing table.

    Added in 0.1.
    """
    inner, covered = unwrap_app(app)
    framework = _framework_of(inner)
    if framework is None:
        kind = type(inner)
        raise ConfigError(
            f"{kind.__module__}.{kind.__qualname__} is not a Flask, Django, Starlette or FastAPI "
            "app: point at the application object (for example 'myapp:app'), a Django "
            "WSGI/ASGI handler ('mysite.wsgi:application') or a Django settings module"
        )
    walker: Walker = importlib.import_module(WALKERS[framework]).walk
    return build_inventory(walker(inner, covered=covered), public)
