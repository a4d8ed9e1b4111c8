"""The framework-neutral part of the route inventory: grouping, findings, unwrapping, rendering,
and the introspection helpers the walkers share."""

from __future__ import annotations

import functools
import types
from typing import Any

import pytest

from bulletproof._text import one_line
from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.adapters.routes import route_inventory
from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
from bulletproof.errors import ConfigError
from bulletproof.routes import Route, RouteInventory, render_table
from bulletproof.routes._inventory import (
    MethodAuth,
    RouteEntry,
    WalkResult,
    build_inventory,
    callable_name,
    closure_value,
    inner_codes,
    unwrap_app,
    wrapped_chain,
)


def walked(*entries: RouteEntry, installed: bool = True, notes: tuple[str, ...] = ()) -> WalkResult:
    return WalkResult(
        framework="flask",
        entries=entries,
        middleware_installed=installed,
        auth_hint="add login_required",
        install_hint="call protect(app)",
        notes=notes,
    )


def entry(path: str, *methods: MethodAuth, covered: bool = True, note: str = "") -> RouteEntry:
    return RouteEntry(path, f"shop.{path.strip('/') or 'index'}", methods, covered, note)


NONE = "no marker"


# -- grouping and findings -----------------------------------------------------------------------


def test_methods_with_the_same_auth_share_a_route_in_method_order() -> None:
    inventory = build_inventory(
        walked(
            entry(
                "/notes",
                MethodAuth("DELETE", "required", "login_required"),
                MethodAuth("GET", "none", NONE),
                MethodAuth("POST", "required", "login_required"),
            )
        )
    )
    assert inventory.routes == (
        Route("/notes", ("POST", "DELETE"), "shop.notes", "required", "login_required", True),
        Route("/notes", ("GET",), "shop.notes", "none", NONE, True),
    )
    assert inventory.findings == ()


def test_an_unprotected_state_changing_route_is_a_finding() -> None:
    inventory = build_inventory(
        walked(entry("/pay", MethodAuth("GET", "none", NONE), MethodAuth("PUT", "none", NONE)))
    )
    assert inventory.findings == (
        "GET,PUT /pay (shop.pay) changes state (PUT) and requires no authentication: "
        "add login_required",
    )


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_every_state_changing_method_counts(method: str) -> None:
    inventory = build_inventory(walked(entry("/x", MethodAuth(method, "none", NONE))))
    assert len(inventory.findings) == 1


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "WEBSOCKET"])
def test_reading_methods_are_not_findings(method: str) -> None:
    assert build_inventory(walked(entry("/x", MethodAuth(method, "none", NONE)))).findings == ()


def test_a_route_taking_any_method_is_a_finding_unless_protected() -> None:
    open_any = build_inventory(walked(entry("/", MethodAuth("*", "none", NONE))))
    assert open_any.findings == (
        "ANY / (shop.index) accepts every method (restrict it to the ones it serves) and "
        "requires no authentication: add login_required",
    )
    assert build_inventory(walked(entry("/", MethodAuth("*", "required", "x")))).findings == ()


def test_unknown_and_deliberately_public_routes_are_not_findings() -> None:
    inventory = build_inventory(
        walked(
            entry("/hook", MethodAuth("POST", "unknown", "a hook decides")),
            entry("/signup", MethodAuth("POST", "none", "login_not_required", public=True)),
        )
    )
    assert [r.auth for r in inventory.routes] == ["unknown", "none"]
    assert inventory.findings == ()


def test_routes_outside_the_middleware_are_findings_with_the_reason() -> None:
    inventory = build_inventory(
        walked(
            entry("/", MethodAuth("GET", "none", NONE)),
            entry("/old", MethodAuth("GET", "none", NONE), covered=False, note="mounted at /old"),
            installed=False,
        )
    )
    assert inventory.findings == (
        "GET /old (shop.old) is not covered by the header middleware (mounted at /old)",
    )


def test_nothing_covered_is_one_finding_not_one_per_route() -> None:
    inventory = build_inventory(
        walked(
            entry("/a", MethodAuth("GET", "none", NONE), covered=False),
            entry("/b", MethodAuth("POST", "required", "x"), covered=False),
            installed=False,
            notes=("a walker's own note",),
        )
    )
    assert inventory.findings == (
        "a walker's own note",
        "the header middleware is not installed: none of the 2 routes gets the security "
        "headers; call protect(app)",
    )


def test_an_app_without_routes_has_no_findings() -> None:
    assert build_inventory(walked(installed=False)).findings == ()


def test_findings_cannot_split_a_line() -> None:
    inventory = build_inventory(
        walked(entry("/a\r\nX-Injected: 1", MethodAuth("POST", "none", "no\nmarker")))
    )
    (finding,) = inventory.findings
    assert "\n" not in finding
    assert "\r" not in finding
    assert "/a\\r\\nX-Injected: 1" in finding


def test_json_shape() -> None:
    inventory = build_inventory(
        walked(entry("/x", MethodAuth("POST", "required", "login_required")))
    )
    assert inventory.to_dict() == {
        "framework": "flask",
        "middleware_installed": True,
        "routes": [
            {
                "path": "/x",
                "methods": ["POST"],
                "endpoint": "shop.x",
                "auth": "required",
                "auth_evidence": "login_required",
                "covered": True,
            }
        ],
        "findings": [],
    }


# -- the table -----------------------------------------------------------------------------------


def test_table_columns_align_and_findings_follow() -> None:
    inventory = RouteInventory(
        framework="starlette",
        routes=(
            Route("/", ("*",), "app.home", "none", "no requires(...)", True),
            Route("/a-longer-path", ("GET", "POST"), "app.create", "required", "x", False),
        ),
        middleware_installed=False,
        findings=("one", "two"),
    )
    lines = render_table(inventory).splitlines()
    assert lines[0] == "framework: starlette    header middleware: installed on part of the app"
    assert lines[1].split() == ["METHODS", "PATH", "AUTH", "HEADERS", "ENDPOINT", "EVIDENCE"]
    assert lines[2].split()[:5] == ["ANY", "/", "none", "yes", "app.home"]
    assert lines[3].split() == ["GET,POST", "/a-longer-path", "required", "NO", "app.create", "x"]
    assert lines[1].index("PATH") == lines[2].index("/") == lines[3].index("/a-longer")
    assert lines[1].index("ENDPOINT") == lines[3].index("app.create")
    assert lines[4:] == ["2 routes, 2 findings:", "  - one", "  - two"]


def test_table_states_and_counts() -> None:
    def table(*routes: Route, installed: bool) -> str:
        return render_table(RouteInventory("flask", routes, installed, ()))

    route = Route("/", ("GET",), "i", "none", "n", True)
    assert table(route, installed=True).startswith(
        "framework: flask    header middleware: installed (covers every route)"
    )
    assert table(installed=False).splitlines()[0].endswith("not installed")
    assert table(route, installed=True).splitlines()[-1] == "1 route, no findings"


def test_table_escapes_control_characters() -> None:
    inventory = RouteInventory(
        "flask", (Route("/a\nb\x1b[31m", ("GET",), "e\r", "none", "x\ty", True),), True, ("f\n",)
    )
    text = render_table(inventory)
    assert len(text.splitlines()) == 5
    assert "/a\\nb\\x1b[31m" in text
    assert "\x1b" not in text
    assert "  - f\\n" in text


def test_one_line() -> None:
    assert one_line("a\r\n\x00\x7fb") == "a\\r\\n\\0\\x7fb"  # the one rule: bulletproof._text
    assert one_line("plain é") == "plain é"


# -- recognising and unwrapping the app ----------------------------------------------------------


async def asgi_app(scope: Any, receive: Any, send: Any) -> None:
    return None


def wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    return []


def test_our_middleware_is_unwrapped_and_counts_as_coverage() -> None:
    assert unwrap_app(BulletproofMiddleware(asgi_app)) == (asgi_app, True)
    assert unwrap_app(BulletproofWSGIMiddleware(wsgi_app)) == (wsgi_app, True)
    assert unwrap_app(asgi_app) == (asgi_app, False)


def test_an_object_that_is_no_known_app_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as caught:
        route_inventory(object())
    assert str(caught.value) == (
        "builtins.object is not a Flask, Django, Starlette or FastAPI app: point at the "
        "application object (for example 'myapp:app'), a Django WSGI/ASGI handler "
        "('mysite.wsgi:application') or a Django settings module"
    )
    # Inside our middleware there must still be an app: a bare ASGI function is not one.
    with pytest.raises(ConfigError, match=r"^builtins\.function is not"):
        route_inventory(BulletproofMiddleware(asgi_app))


def test_a_module_is_an_app_only_as_django_settings() -> None:
    with pytest.raises(ConfigError, match=r"^builtins\.module is not"):
        route_inventory(types.ModuleType("not_settings"))


# -- introspection helpers -----------------------------------------------------------------------


def marker(func: Any) -> Any:
    label = "checked"

    @functools.wraps(func)
    def guard(*args: Any, **kwargs: Any) -> Any:
        return (label, func(*args, **kwargs))

    return guard


def test_inner_codes_identify_a_decorators_wrapper_without_calling_it() -> None:
    codes = inner_codes(marker, "guard")
    assert len(codes) == 1

    @marker
    def view() -> str:
        return "v"

    assert view.__code__ in codes
    assert view.__code__ not in inner_codes(marker, "other")
    assert closure_value(view, "label") == "checked"
    assert closure_value(view, "nothing") is None
    assert closure_value(len, "label") is None


def test_wrapped_chain_follows_functools_wraps_and_stops_on_cycles() -> None:
    def view() -> None:
        return None

    outer = marker(marker(view))
    assert list(wrapped_chain(outer))[-1] is view
    assert len(list(wrapped_chain(outer))) == 3

    def looping() -> None:
        return None

    looping.__wrapped__ = looping  # type: ignore[attr-defined]
    assert list(wrapped_chain(looping)) == [looping]


def test_callable_name() -> None:
    def factory() -> Any:
        def index() -> None:
            return None

        return index

    assert callable_name(factory()) == f"{__name__}.test_callable_name.factory.index"
    assert callable_name(functools.partial(wsgi_app, {})) == f"{__name__}.wsgi_app"
    assert callable_name(RouteInventory) == "bulletproof.routes._inventory.RouteInventory"
    assert callable_name(object()) == "builtins.object()"

    class Renamed:
        pass

    Renamed.__name__ = "hook"  # what DRF's @api_view does to its generated class
    assert callable_name(Renamed) == f"{__name__}.hook"
