"""List a Django project's routes for :func:`bulletproof.routes.route_inventory`.

Routes come from the root URLconf, recursively through ``include()`` (``path`` and ``re_path``).
Methods: a class-based view's handlers among ``http_method_names`` (a DRF ViewSet's actions), a
function view's ``require_http_methods`` list, else every method (``*``). Authentication, first
match wins:

* the Django admin (views wrapped by ``AdminSite.admin_view``): staff only;
* ``login_required`` / ``permission_required`` / ``user_passes_test`` (and
  ``staff_member_required``) on the view, or through ``method_decorator`` on ``dispatch`` or on a
  handler method;
* ``LoginRequiredMixin`` / ``PermissionRequiredMixin`` / ``UserPassesTestMixin`` on the class;
* DRF: the view's ``permission_classes`` (else ``DEFAULT_PERMISSION_CLASSES``); anything but
  ``AllowAny`` counts as required, an overridden ``get_permissions()`` is ``"unknown"``;
* Django 5.1+ ``LoginRequiredMiddleware``: every view except those marked
  ``login_not_required`` (DRF views exempt themselves and follow their permission classes).

A view marked ``login_not_required`` or given ``permission_classes = [AllowAny]`` on purpose is
reported with auth ``"none"`` but is not a finding. Coverage: the header middleware in
``settings.MIDDLEWARE`` (its dotted path, the name it had before 0.1, or a subclass), or the
handler found inside the WSGI/ASGI middleware.

WhiteNoise answers static files itself, before the middleware below it runs: when
``whitenoise.middleware.WhiteNoiseMiddleware`` is in ``MIDDLEWARE``, its static routes
(``STATIC_URL``, and ``WHITENOISE_ROOT`` when set) are listed, covered only when the header
middleware comes before it. :func:`settings_findings` says, as data, what else in the settings
keeps the headers off responses or changes them (the header middleware is not first; Django's
``SecurityMiddleware`` or ``XFrameOptionsMiddleware`` runs inside it, so their values win over the
policy's); :func:`walk` adds those as notes. Nothing here imports WhiteNoise: it reads settings.

Django (and DRF, when loaded) are imported lazily, inside the functions.

Added in 0.1.
"""

from __future__ import annotations

import enum
import functools
import importlib
import inspect
import os
import re
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from bulletproof._text import one_line
from bulletproof.errors import ConfigError
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
    unwrap_app,
    wrapped_chain,
)

if TYPE_CHECKING:
    from bulletproof.headers import HeaderPolicy

__all__ = ["WALKER", "SettingsFinding", "SettingsIssue", "settings_findings", "walk"]

# bulletproof's Django middleware as written in settings.MIDDLEWARE: its 0.1 name, and the name it
# had before the rename (SecureHeadersMiddleware; drop it once no project names it).
_INSTALL_NAME: Final = "bulletproof.adapters.django.BulletproofMiddleware"
_OURS: Final = frozenset({_INSTALL_NAME, "bulletproof.adapters.django.SecureHeadersMiddleware"})
_LOGIN_MIDDLEWARE: Final = "django.contrib.auth.middleware.LoginRequiredMiddleware"
_SECURITY: Final = "django.middleware.security.SecurityMiddleware"
_XFRAME: Final = "django.middleware.clickjacking.XFrameOptionsMiddleware"
_WHITENOISE: Final = "whitenoise.middleware.WhiteNoiseMiddleware"
_KNOWN: Final = _OURS | {_LOGIN_MIDDLEWARE, _SECURITY, _XFRAME, _WHITENOISE}
_AUTH_HINT: Final = (
    "protect it with login_required, LoginRequiredMixin or DRF permission_classes, or mark it "
    "public on purpose (login_not_required, permission_classes = [AllowAny])"
)
_INSTALL_HINT: Final = f"add {_INSTALL_NAME!r} to settings.MIDDLEWARE"
_MIXINS: Final = ("LoginRequiredMixin", "PermissionRequiredMixin", "UserPassesTestMixin")
_OPERATORS: Final = {"AND": "&", "OR": "|", "NOT": "~"}


@dataclass(frozen=True)
class _Markers:
    """Code objects and functions that identify Django's auth decorators."""

    wrapper_codes: frozenset[types.CodeType]  # user_passes_test's _view_wrapper
    decorator_codes: frozenset[types.CodeType]  # user_passes_test's and permission_required's
    method_codes: frozenset[types.CodeType]  # method_decorator's _wrapper
    require_codes: frozenset[types.CodeType]  # require_http_methods' inner
    login_required: object
    staff_member_required: object | None


@functools.cache
def _markers() -> _Markers:
    from django.contrib.auth import decorators
    from django.utils import decorators as util_decorators
    from django.views.decorators.http import require_http_methods

    multi = getattr(util_decorators, "_multi_decorate", None)
    staff = None
    if loaded_class("django.contrib.admin.sites", "AdminSite") is not None:
        from django.contrib.admin.views.decorators import staff_member_required

        staff = staff_member_required
    return _Markers(
        wrapper_codes=inner_codes(decorators.user_passes_test, "_view_wrapper"),
        decorator_codes=inner_codes(decorators.user_passes_test, "decorator")
        | inner_codes(decorators.permission_required, "decorator"),
        method_codes=inner_codes(multi, "_wrapper") if callable(multi) else frozenset(),
        require_codes=inner_codes(require_http_methods, "inner"),
        login_required=decorators.login_required,
        staff_member_required=staff,
    )


def _test_evidence(test_func: object) -> str:
    """Name the check ``user_passes_test`` was given, as the user wrote it."""
    qualname = str(getattr(test_func, "__qualname__", ""))
    for name in ("login_required", "staff_member_required"):
        if qualname.startswith(f"{name}."):
            return name
    if qualname.startswith("permission_required."):
        perms = closure_value(test_func, "perms") or ()
        return f"permission_required({', '.join(repr(p) for p in perms)})"
    return f"user_passes_test({qualname or type(test_func).__name__})"


def _decorator_evidence(decorator: object, markers: _Markers) -> str | None:
    """The evidence for a decorator given to ``method_decorator``, if it checks the user."""
    if decorator is markers.login_required:
        return "login_required"
    if markers.staff_member_required is not None and decorator is markers.staff_member_required:
        return "staff_member_required"
    if getattr(decorator, "__code__", None) in markers.decorator_codes:
        perms = closure_value(decorator, "perms")
        if perms is not None:
            return f"permission_required({', '.join(repr(p) for p in perms)})"
        return _test_evidence(closure_value(decorator, "test_func"))
    return None


def _chain_evidence(func: object, markers: _Markers) -> str | None:
    """An auth decorator on ``func`` or below it (directly or through ``method_decorator``)."""
    for item in wrapped_chain(func):
        code = getattr(item, "__code__", None)
        if code in markers.wrapper_codes:
            return _test_evidence(closure_value(item, "test_func"))
        if code in markers.method_codes:
            given = closure_value(item, "decorators") or ()
            for decorator in given if isinstance(given, Iterable) else (given,):
                found = _decorator_evidence(decorator, markers)
                if found is not None:
                    return f"method_decorator({found})"
    return None


def _required_methods(func: object, markers: _Markers) -> list[str] | None:
    """The list ``require_http_methods`` (require_GET, require_POST, ...) restricts to."""
    for item in wrapped_chain(func):
        if getattr(item, "__code__", None) in markers.require_codes:
            listed = closure_value(item, "request_method_list")
            if listed is not None:
                return [str(m).upper() for m in listed]
    return None


def _without_implied(methods: Iterable[str]) -> list[str]:
    unique = list(dict.fromkeys(methods))
    return [m for m in unique if not (m == "HEAD" and "GET" in unique)]


def _class_methods(cls: type) -> list[str]:
    """A class-based view's methods: its handlers, without the base OPTIONS and implied HEAD."""
    base_options = {
        getattr(base, "options", None)
        for base in (
            loaded_class("django.views.generic.base", "View"),
            loaded_class("rest_framework.views", "APIView"),
        )
        if base is not None
    }
    names = [m for m in getattr(cls, "http_method_names", ()) if hasattr(cls, m)]
    names = [m for m in names if not (m == "options" and getattr(cls, m) in base_options)]
    return _without_implied(m.upper() for m in names)


def _mixin_evidence(cls: type) -> str | None:
    for name in _MIXINS:
        mixin = loaded_class("django.contrib.auth.mixins", name)
        if mixin is not None and issubclass(cls, mixin):
            return name
    return None


def _permission_name(permission: Any) -> str:
    holders = tuple(
        c
        for c in (
            loaded_class("rest_framework.permissions", "OperandHolder"),
            loaded_class("rest_framework.permissions", "SingleOperandHolder"),
        )
        if c is not None
    )
    if holders and isinstance(permission, holders):
        operator = _OPERATORS.get(getattr(vars(permission)["operator_class"], "__name__", ""), "?")
        first = _permission_name(vars(permission)["op1_class"])
        if "op2_class" in vars(permission):
            return f"({first} {operator} {_permission_name(vars(permission)['op2_class'])})"
        return f"{operator}{first}"
    return str(getattr(permission, "__name__", type(permission).__name__))


def _drf_auth(cls: type, initkwargs: dict[str, Any], api_view: type) -> tuple[AuthState, str, bool]:
    """``(auth, evidence, public on purpose)`` from DRF's permission classes."""
    allow_any = loaded_class("rest_framework.permissions", "AllowAny")
    default: Any = getattr(cls, "permission_classes", ())
    permissions = list(initkwargs.get("permission_classes", default))
    explicit = "permission_classes" in initkwargs
    if not explicit:
        for klass in cls.__mro__:
            if "permission_classes" in vars(klass):
                value = vars(klass)["permission_classes"]
                explicit = klass is not api_view and value is not getattr(
                    api_view, "permission_classes", None
                )
                break
    names = ", ".join(_permission_name(p) for p in permissions)
    source = (
        f"permission_classes = [{names}]"
        if explicit
        else (f"DEFAULT_PERMISSION_CLASSES = [{names}]")
    )
    if getattr(cls, "get_permissions", None) is not getattr(api_view, "get_permissions", None):
        return "unknown", f"get_permissions() is overridden; {source}", False
    if all(p is allow_any for p in permissions):
        return "none", source, explicit
    return "required", source, False


def _admin(callback: object) -> bool:
    """Whether ``callback`` is an admin view: wrapped by ``AdminSite.admin_view`` (staff only)."""
    admin_site = loaded_class("django.contrib.admin.sites", "AdminSite")
    if admin_site is None:
        return False
    model_admin = loaded_class("django.contrib.admin.options", "BaseModelAdmin")
    if isinstance(getattr(callback, "admin_site", None), admin_site) or (
        model_admin is not None and isinstance(getattr(callback, "model_admin", None), model_admin)
    ):
        return True  # AdminSite.get_urls' and ModelAdmin.get_urls' wrap(), which call admin_view
    # admin_site.admin_view(view) used directly (UserAdmin's password view): its ``inner`` sits
    # under never_cache and csrf_protect, and update_wrapper points __wrapped__ past it, so look
    # in the wrappers' closures too.
    codes = _admin_view_codes(admin_site)
    pending: list[object] = [callback]
    seen: set[int] = set()
    while pending and len(seen) < 50:
        item = pending.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if getattr(item, "__code__", None) in codes:
            return True
        pending.extend(wrapped_chain(item))
        for cell in getattr(item, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if inspect.isfunction(value):
                pending.append(value)
    return False


@functools.cache
def _admin_view_codes(admin_site: type) -> frozenset[types.CodeType]:
    return inner_codes(getattr(admin_site, "admin_view"), "inner")  # noqa: B009


@dataclass(frozen=True)
class _Context:
    markers: _Markers
    login_middleware: bool
    covered: bool


def _method_auth(
    method: str,
    callback: object,
    view_class: type | None,
    drf_cls: type | None,
    api_view: type | None,
    context: _Context,
) -> tuple[AuthState, str, bool]:
    """``(auth, evidence, public on purpose)`` for one method, once nothing applies to all."""
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        found = _chain_evidence(handler, context.markers) if handler is not None else None
        if found is not None:
            return "required", found, False
    if drf_cls is not None and api_view is not None:
        initkwargs = getattr(callback, "initkwargs", None)
        return _drf_auth(drf_cls, initkwargs if isinstance(initkwargs, dict) else {}, api_view)
    exempt = getattr(callback, "login_required", True) is False
    if context.login_middleware and not exempt:
        return "required", "LoginRequiredMiddleware", False
    if exempt:
        return "none", "login_not_required", True
    return "none", "no login_required, auth mixin or LoginRequiredMiddleware", False


def _view_entry(path: str, callback: Callable[..., Any], context: _Context) -> RouteEntry:
    markers = context.markers
    api_view = loaded_class("rest_framework.views", "APIView")
    drf_cls = getattr(callback, "cls", None)
    if not (api_view is not None and isinstance(drf_cls, type) and issubclass(drf_cls, api_view)):
        drf_cls = None
    view_class = drf_cls or getattr(callback, "view_class", None)
    if not isinstance(view_class, type):
        view_class = None
    actions = getattr(callback, "actions", None) if drf_cls is not None else None
    if isinstance(actions, dict):
        methods = _without_implied(str(m).upper() for m in actions)
    elif view_class is not None:
        methods = _class_methods(view_class)
    else:
        methods = _without_implied(_required_methods(callback, markers) or [ANY_METHOD])
    # What applies to every method.
    shared: tuple[AuthState, str, bool] | None = None
    found = _chain_evidence(callback, markers)
    if found is None and view_class is not None:
        found = _chain_evidence(getattr(view_class, "dispatch", None), markers)
        found = found or _mixin_evidence(view_class)
    if _admin(callback):
        shared = ("required", "Django admin: staff only (AdminSite.admin_view)", False)
    elif found is not None:
        shared = ("required", found, False)
    items: list[MethodAuth] = []
    for method in methods:
        auth = shared or _method_auth(method, callback, view_class, drf_cls, api_view, context)
        items.append(MethodAuth(method, auth[0], auth[1], auth[2]))
    endpoint = callable_name(view_class if view_class is not None else callback)
    return RouteEntry(path, endpoint, tuple(items), context.covered)


def _pattern_text(pattern: object) -> str:
    text = str(pattern)
    regex = loaded_class("django.urls.resolvers", "RegexPattern")
    if regex is not None and isinstance(pattern, regex):
        text = text.removeprefix("^")
        for end in ("\\Z", "$"):
            text = text.removesuffix(end)
    return text


def _patterns(resolver: Any) -> list[Any]:
    """``resolver.url_patterns``: this imports the URLconf module, which may fail."""
    try:
        return list(resolver.url_patterns)
    except Exception as exc:  # noqa: BLE001 - the project's URLconf or views failed to load
        name = resolver.urlconf_name
        shown = name if isinstance(name, str) else getattr(name, "__name__", repr(name))
        raise ConfigError(
            f"Django URLconf {shown!r}: loading its routes failed: {type(exc).__name__}: "
            f"{one_line(str(exc))}"
        ) from None


def _walk(resolver: Any, prefix: str, context: _Context, depth: int) -> list[RouteEntry]:
    from django.urls import URLPattern, URLResolver

    entries: list[RouteEntry] = []
    if depth > 30:
        return entries
    for item in _patterns(resolver):
        text = prefix + _pattern_text(item.pattern)
        if isinstance(item, URLResolver):
            entries.extend(_walk(item, text, context, depth + 1))
        elif isinstance(item, URLPattern):
            entries.append(_view_entry("/" + text, item.callback, context))
    return entries


def _configure(module: types.ModuleType) -> None:
    """Set Django up from the settings module ``module`` (unless it already is)."""
    from django.conf import settings

    name = module.__name__
    if settings.configured:
        current = getattr(settings, "SETTINGS_MODULE", None)
        if current not in (None, name):
            raise ConfigError(
                f"Django is already configured with settings {current!r} in this process, not "
                f"{name!r}: run bulletproof routes in its own process"
            )
    else:
        os.environ["DJANGO_SETTINGS_MODULE"] = name
    try:
        import django

        django.setup()
    except Exception as exc:  # noqa: BLE001 - the project's own settings or apps failed
        raise ConfigError(
            f"Django settings {name!r}: setting up Django failed: {type(exc).__name__}: "
            f"{one_line(str(exc))}"
        ) from None


# -- settings.MIDDLEWARE and what it does to the headers ------------------------------------------


class SettingsIssue(enum.StrEnum):
    """What a :class:`SettingsFinding` is about. Added in 0.1."""

    NOT_FIRST = "not_first"
    """bulletproof's middleware is not first in ``MIDDLEWARE``: a response that a middleware
    above it returns itself (a redirect, an error) gets no security headers."""
    WHITENOISE_FIRST = "whitenoise_first"
    """WhiteNoise comes before it: the static files it serves get no security headers."""
    DJANGO_HEADER = "django_header"
    """Django's ``SecurityMiddleware`` or ``XFrameOptionsMiddleware`` runs inside it and sets a
    header first, so Django's value is sent instead of the policy's."""


@dataclass(frozen=True)
class SettingsFinding:
    """One way a Django project's settings keep the policy's headers off responses or change them.

    ``setting`` is the setting to change (``"MIDDLEWARE"``, ``"X_FRAME_OPTIONS"``, ...),
    ``header`` the response header concerned (empty when none is), ``message`` one sentence that
    ends with the fix.

    Added in 0.1.
    """

    issue: SettingsIssue
    setting: str
    message: str
    header: str = ""


@dataclass(frozen=True)
class _Layout:
    """``settings.MIDDLEWARE`` as the inventory sees it."""

    entries: tuple[str, ...]  # as written
    names: tuple[frozenset[str], ...]  # the dotted names each entry answers to (its bases too)
    covered: bool  # the handler was found inside the WSGI/ASGI header middleware

    def index(self, wanted: Iterable[str]) -> int | None:
        """The position of the first entry that is (or subclasses) one of ``wanted``."""
        targets = frozenset(wanted)
        return next((i for i, names in enumerate(self.names) if names & targets), None)

    @property
    def ours(self) -> int | None:
        return self.index(_OURS)


def _entry_names(entry: str) -> frozenset[str]:
    """``entry``, and the dotted names of its class and bases when it is not a name we know.

    Importing the entry is what Django does at start-up; a known name (WhiteNoise's, which may
    not even be installed here) is matched as written, without an import.
    """
    if entry in _KNOWN:
        return frozenset({entry})
    owner, _, attr = entry.rpartition(".")
    try:
        cls = getattr(importlib.import_module(owner), attr)
    except Exception:  # noqa: BLE001 - Django reports a bad entry itself at startup
        return frozenset({entry})
    if not isinstance(cls, type):
        return frozenset({entry})
    return frozenset({entry, *(f"{c.__module__}.{c.__qualname__}" for c in cls.__mro__)})


def _layout(settings: Any, covered: bool) -> _Layout:
    entries = tuple(str(m) for m in getattr(settings, "MIDDLEWARE", None) or ())
    return _Layout(entries, tuple(_entry_names(entry) for entry in entries), covered)


def _static_prefix(settings: Any) -> str | None:
    """The URL prefix WhiteNoise serves ``STATIC_ROOT`` under, worked out as WhiteNoise does."""
    prefix = getattr(settings, "WHITENOISE_STATIC_PREFIX", None)
    if prefix is None:
        static_url = getattr(settings, "STATIC_URL", None)
        if not static_url:
            return None
        prefix = urlsplit(str(static_url)).path
        script = str(getattr(settings, "FORCE_SCRIPT_NAME", None) or "").rstrip("/")
        if script and prefix.startswith(script):
            prefix = prefix[len(script) :]
    inner = str(prefix).strip("/")
    return f"/{inner}/" if inner else "/"


def _static_entries(layout: _Layout, settings: Any) -> list[RouteEntry]:
    """The routes WhiteNoise answers itself, covered only when the header middleware is above."""
    at = layout.index({_WHITENOISE})
    if at is None:
        return []
    ours = layout.ours
    covered = layout.covered or (ours is not None and ours < at)
    note = ""
    if not covered and ours is not None:
        note = (
            f"WhiteNoise serves it before the header middleware runs: move "
            f"{layout.entries[ours]!r} above {layout.entries[at]!r} in settings.MIDDLEWARE"
        )
    paths: list[tuple[str, str]] = []
    prefix = _static_prefix(settings)
    if prefix is not None:
        paths.append((f"{prefix}<path:path>", "a static file, served by WhiteNoise"))
    if getattr(settings, "WHITENOISE_ROOT", None):
        paths.append(("/<path:file>", "a file in WHITENOISE_ROOT, served by WhiteNoise"))
    return [
        RouteEntry(
            path,
            layout.entries[at],
            (MethodAuth("GET", "none", evidence, public=True),),
            covered,
            note,
        )
        for path, evidence in paths
    ]


@dataclass(frozen=True)
class _DjangoHeader:
    """A header one of Django's own middleware sets, with the value it sets."""

    middleware: str  # the MIDDLEWARE entry that sets it
    header: str
    value: str
    setting: str
    off: str  # how to make Django leave it alone
    https_only: bool = False


def _inside(layout: _Layout, dotted: str) -> str | None:
    """The entry for Django's ``dotted`` middleware if it runs inside bulletproof's.

    Django runs the response phase bottom-up, and its header middleware set a header only when the
    response has none: one listed below bulletproof's (or anywhere, when the handler is inside
    ``bulletproof.protect``) sets its value first, and that value is the one sent.
    """
    at = layout.index({dotted})
    if at is None:
        return None
    ours = layout.ours
    inside = layout.covered if ours is None else at > ours
    return layout.entries[at] if inside else None


def _django_headers(layout: _Layout, settings: Any) -> list[_DjangoHeader]:
    """What SecurityMiddleware and XFrameOptionsMiddleware (Django 5.x) set, when inside ours."""
    found: list[_DjangoHeader] = []
    security = _inside(layout, _SECURITY)
    if security is not None:
        seconds = getattr(settings, "SECURE_HSTS_SECONDS", 0)
        if seconds:
            value = f"max-age={seconds}"
            if getattr(settings, "SECURE_HSTS_INCLUDE_SUBDOMAINS", False):
                value += "; includeSubDomains"
            if getattr(settings, "SECURE_HSTS_PRELOAD", False):
                value += "; preload"
            found.append(
                _DjangoHeader(
                    security,
                    "Strict-Transport-Security",
                    value,
                    "SECURE_HSTS_SECONDS",
                    "set SECURE_HSTS_SECONDS = 0",
                    https_only=True,
                )
            )
        if getattr(settings, "SECURE_CONTENT_TYPE_NOSNIFF", True):
            found.append(
                _DjangoHeader(
                    security,
                    "X-Content-Type-Options",
                    "nosniff",
                    "SECURE_CONTENT_TYPE_NOSNIFF",
                    "set SECURE_CONTENT_TYPE_NOSNIFF = False",
                )
            )
        referrer = getattr(settings, "SECURE_REFERRER_POLICY", "same-origin")
        if referrer:
            parts = (
                [part.strip() for part in referrer.split(",")]
                if isinstance(referrer, str)
                else [str(part) for part in referrer]
            )
            found.append(
                _DjangoHeader(
                    security,
                    "Referrer-Policy",
                    ",".join(parts),
                    "SECURE_REFERRER_POLICY",
                    "set SECURE_REFERRER_POLICY = None",
                )
            )
        opener = getattr(settings, "SECURE_CROSS_ORIGIN_OPENER_POLICY", "same-origin")
        if opener:
            found.append(
                _DjangoHeader(
                    security,
                    "Cross-Origin-Opener-Policy",
                    str(opener),
                    "SECURE_CROSS_ORIGIN_OPENER_POLICY",
                    "set SECURE_CROSS_ORIGIN_OPENER_POLICY = None",
                )
            )
    frame = _inside(layout, _XFRAME)
    if frame is not None:
        found.append(
            _DjangoHeader(
                frame,
                "X-Frame-Options",
                str(getattr(settings, "X_FRAME_OPTIONS", "DENY")).upper(),
                "X_FRAME_OPTIONS",
                f"remove {frame!r} from settings.MIDDLEWARE",
            )
        )
    return found


def _normal(value: str) -> str:
    """A header value for comparison: these headers' tokens are case-insensitive."""
    return re.sub(r"\s*([,;])\s*", r"\1", value.strip().lower())


def _findings(layout: _Layout, settings: Any, policy: HeaderPolicy) -> tuple[SettingsFinding, ...]:
    ours = layout.ours
    if ours is None and not layout.covered:
        return ()  # nothing sends the policy: the inventory says so
    found: list[SettingsFinding] = []
    if ours is not None and not layout.covered:
        name = layout.entries[ours]
        if ours > 0:
            above = ", ".join(repr(entry) for entry in layout.entries[:ours])
            found.append(
                SettingsFinding(
                    SettingsIssue.NOT_FIRST,
                    "MIDDLEWARE",
                    f"{name!r} is not first in settings.MIDDLEWARE: a response that a "
                    f"middleware above it ({above}) returns itself (a redirect, an error, a "
                    "static file) gets no security headers; move it to the top",
                )
            )
        at = layout.index({_WHITENOISE})
        if at is not None and at < ours:
            found.append(
                SettingsFinding(
                    SettingsIssue.WHITENOISE_FIRST,
                    "MIDDLEWARE",
                    f"{layout.entries[at]!r} comes before {name!r} in settings.MIDDLEWARE: "
                    "WhiteNoise answers static files itself, before the header middleware "
                    f"runs, so they get no security headers; move {name!r} above it",
                )
            )
    outer = repr(layout.entries[ours]) if ours is not None else "bulletproof.protect()"
    sent = {name.lower(): value for name, value in policy.headers}
    for item in _django_headers(layout, settings):
        mine = sent.get(item.header.lower())
        if mine is not None and _normal(mine) == _normal(item.value):
            continue
        versus = f"not the policy's {mine!r}" if mine is not None else "which the policy leaves out"
        keep = "to keep the policy's value" if mine is not None else "to leave it out"
        when = " on HTTPS requests" if item.https_only else ""
        found.append(
            SettingsFinding(
                SettingsIssue.DJANGO_HEADER,
                item.setting,
                f"{item.middleware!r} runs inside {outer} and sets {item.header}: "
                f"{item.value}{when} (settings.{item.setting}), {versus}: {keep}, {item.off}",
                item.header,
            )
        )
    return tuple(found)


def _project_policy(settings: Any) -> HeaderPolicy:
    """The policy ``BulletproofMiddleware`` applies: the project's config (found from the working
    directory, or ``BULLETPROOF_CONFIG``) with the ``BULLETPROOF_*`` settings mapped onto it, as
    the middleware itself loads it (a bad setting is the ConfigError the middleware raises)."""
    from bulletproof.adapters import _load_config
    from bulletproof.adapters.django import _bulletproof_settings
    from bulletproof.config import build_header_policy

    return build_header_policy(_load_config(_bulletproof_settings(settings), "settings"))


def settings_findings(
    app: object, *, policy: HeaderPolicy | None = None
) -> tuple[SettingsFinding, ...]:
    """What in a Django project's settings keeps the security headers off responses or changes them.

    ``app`` is what :func:`~bulletproof.routes.route_inventory` takes for Django: a WSGI or ASGI
    handler (possibly inside ``bulletproof.protect``) or a settings module (which sets Django
    up). ``policy`` is the policy the project sends (default: the one ``BulletproofMiddleware``
    builds, from the config of the working directory and the ``BULLETPROOF_*`` settings). The
    route inventory's findings already say each of these (WhiteNoise's as the static routes it
    leaves uncovered); this gives them as data. Raises ConfigError when ``app`` is not a Django
    handler or settings module.

    Added in 0.1.
    """
    inner, covered = unwrap_app(app)
    if not _recognises(inner):
        kind = type(inner)
        raise ConfigError(
            f"{kind.__module__}.{kind.__qualname__} is not a Django WSGI/ASGI handler or "
            "settings module"
        )
    if isinstance(inner, types.ModuleType):
        _configure(inner)
    from django.conf import settings

    if policy is None:
        policy = _project_policy(settings)
    return _findings(_layout(settings, covered), settings, policy)


def walk(app: object, *, covered: bool) -> WalkResult:
    """The routes of a Django handler or settings module. Added in 0.1."""
    if isinstance(app, types.ModuleType):
        _configure(app)
    from django.conf import settings

    layout = _layout(settings, covered)
    installed = covered or layout.ours is not None
    context = _Context(
        markers=_markers(),
        login_middleware=layout.index({_LOGIN_MIDDLEWARE}) is not None,
        covered=installed,
    )
    from django.urls import get_resolver

    static = _static_entries(layout, settings)
    entries = [*static, *_walk(get_resolver(), "", context, 0)]
    # An uncovered static route already says why (and the fix): no second line for WhiteNoise.
    said = any(not entry.covered for entry in static)
    notes = tuple(
        finding.message
        for finding in _findings(layout, settings, _project_policy(settings))
        if not (said and finding.issue is SettingsIssue.WHITENOISE_FIRST)
    )
    return WalkResult(
        framework="django",
        entries=tuple(entries),
        middleware_installed=installed and all(entry.covered for entry in static),
        auth_hint=_AUTH_HINT,
        install_hint=_INSTALL_HINT,
        notes=notes,
    )


def _recognises(app: object) -> bool:
    if isinstance(app, types.ModuleType):
        return hasattr(app, "ROOT_URLCONF")
    return is_loaded_instance(app, "django.core.handlers.base", "BaseHandler")


WALKER: Final = RouteWalker(
    "django",
    ("Django",),
    _recognises,
    walk,
    pointers=("a Django WSGI/ASGI handler ('mysite.wsgi:application')", "a Django settings module"),
)
"""The Django walker, registered by :mod:`bulletproof.adapters.routes`. Added in 0.1."""
