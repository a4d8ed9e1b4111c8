"""The route inventory: every route of an app, its methods, header coverage and authentication.

This module is framework-neutral and imports no framework and no adapter. The walkers that know a
framework's routing live in ``bulletproof.adapters.routes`` and register themselves here with
:func:`register_walker` when that package is imported (``bulletproof routes`` and ``bulletproof
check`` import it; so does ``from bulletproof.adapters.routes import route_inventory``).
:func:`route_inventory` unwraps the middleware classes it knows, asks each registered
:class:`RouteWalker` whether it recognises the app (by the classes it is an instance of, looked up
in ``sys.modules`` only), and hands it to the first that does. A walker returns :class:`RouteEntry`
records; :func:`build_inventory` groups them into :class:`Route` objects and derives the findings.

Added in 0.1.
"""

from __future__ import annotations

import functools
import sys
import types
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from bulletproof._text import one_line
from bulletproof.errors import ConfigError

__all__ = [
    "ANY_METHOD",
    "OUR_MIDDLEWARE",
    "STATE_CHANGING_METHODS",
    "AuthState",
    "MethodAuth",
    "Route",
    "RouteEntry",
    "RouteInventory",
    "RouteWalker",
    "WalkResult",
    "Walker",
    "build_inventory",
    "callable_name",
    "closure_value",
    "inner_codes",
    "is_loaded_instance",
    "loaded_class",
    "our_middleware_classes",
    "register_walker",
    "registered_walkers",
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

OUR_MIDDLEWARE: Final = (
    ("bulletproof.adapters.asgi", "BulletproofMiddleware"),
    ("bulletproof.adapters.wsgi", "BulletproofWSGIMiddleware"),
)
"""Where the ASGI and WSGI middleware live: ``(module, class name)``, looked up in
``sys.modules`` only (never imported from here). Added in 0.1."""

# Middleware classes we may look through to reach the app: (module, class name). Each keeps the
# app it wraps in ``.app``; ours are OUR_MIDDLEWARE, these are common third-party wrappers.
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
    """The ``walk`` function each ``bulletproof.adapters.routes.<framework>`` module exposes.

    ``covered`` is True when the app was found inside the header middleware (so every route is
    covered whatever the app itself installs).

    Added in 0.1.
    """

    def __call__(self, app: object, *, covered: bool) -> WalkResult:
        """List the routes of ``app``. Added in 0.1."""


@dataclass(frozen=True)
class RouteWalker:
    """One framework's route walker, as registered with :func:`register_walker`.

    ``name`` is the registry key (registering the same name again replaces the walker in place);
    ``frameworks`` are the names messages show (``("Starlette", "FastAPI")``); ``pointers`` are
    the other objects a user may point at, for the message that names what is accepted
    (``"a Django settings module"``). ``recognises(app)`` says whether ``walk`` lists ``app``
    (the object found inside the known wrappers); it must not import anything.

    Added in 0.1.
    """

    name: str
    frameworks: tuple[str, ...]
    recognises: Callable[[object], bool]
    walk: Walker
    pointers: tuple[str, ...] = ()


_WALKERS: dict[str, RouteWalker] = {}


def register_walker(walker: RouteWalker) -> None:
    """Make :func:`route_inventory` hand the apps ``walker`` recognises to it.

    Walkers are asked in the order they were first registered. Added in 0.1.
    """
    _WALKERS[walker.name] = walker


def registered_walkers() -> tuple[RouteWalker, ...]:
    """The registered walkers, in the order :func:`route_inventory` asks them. Added in 0.1."""
    return tuple(_WALKERS.values())


# -- introspection helpers shared by the walkers ------------------------------------------------


def loaded_class(module: str, name: str) -> type | None:
    """The class ``module.name`` if that module is already imported, else None.

    Never imports anything: an object can only be an instance of a class whose module is loaded.

    Added in 0.1.
    """
    loaded = sys.modules.get(module)
    value = getattr(loaded, name, None) if loaded is not None else None
    return value if isinstance(value, type) else None


def is_loaded_instance(obj: object, module: str, name: str) -> bool:
    """Whether ``obj`` is an instance of ``module.name``, without importing ``module``.

    Added in 0.1.
    """
    cls = loaded_class(module, name)
    return cls is not None and isinstance(obj, cls)


def our_middleware_classes() -> tuple[type, ...]:
    """The header middleware classes of :data:`OUR_MIDDLEWARE` that are loaded (for
    ``isinstance`` and ``issubclass``; an empty tuple matches nothing). Added in 0.1."""
    found = (loaded_class(module, name) for module, name in OUR_MIDDLEWARE)
    return tuple(dict.fromkeys(cls for cls in found if cls is not None))


def unwrap_app(app: object) -> tuple[object, bool]:
    """Look through known middleware wrappers: ``(the app inside, covered by our middleware)``.

    Only bulletproof's own header middleware and a fixed list of common wrappers (Starlette's
    middleware, uvicorn's ProxyHeadersMiddleware, Werkzeug's ProxyFix) are looked through, by
    their ``.app`` attribute; an unknown object is returned as it is.

    Added in 0.1.
    """
    covered = False
    seen: set[int] = set()
    our_classes = our_middleware_classes()
    while id(app) not in seen:
        seen.add(id(app))
        ours = isinstance(app, our_classes)
        if not ours and not any(is_loaded_instance(app, *where) for where in _KNOWN_WRAPPERS):
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


def _listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def route_inventory(app: object, *, public: Iterable[str] = ()) -> RouteInventory:
    """List every route of an app that a registered walker recognises.

    ``bulletproof.adapters.routes`` registers walkers for Flask, Django, Starlette and FastAPI:
    ``app`` is then the application object (``Flask``, ``Starlette``, ``FastAPI``, a Starlette
    ``Router``, Django's WSGI or ASGI handler, or a Django settings module), possibly wrapped by
    ``bulletproof.protect`` or by the header middleware. Raises ConfigError when no walker is
    registered, when none recognises the object, or when the framework fails to load its routing
    table.

    Added in 0.1.
    """
    walkers = registered_walkers()
    if not walkers:
        raise ConfigError(
            "no route walker is registered: import bulletproof.adapters.routes first (it "
            "registers the Flask, Django, Starlette and FastAPI walkers), or call its "
            "route_inventory"
        )
    inner, covered = unwrap_app(app)
    for walker in walkers:
        if walker.recognises(inner):
            return build_inventory(walker.walk(inner, covered=covered), public)
    kind = type(inner)
    frameworks = [name for walker in walkers for name in walker.frameworks]
    pointers = [
        "the application object (for example 'myapp:app')",
        *(pointer for walker in walkers for pointer in walker.pointers),
    ]
    raise ConfigError(
        f"{kind.__module__}.{kind.__qualname__} is not a {_listed(frameworks)} app: point at "
        f"{_listed(pointers)}"
    )
