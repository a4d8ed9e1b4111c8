# ruff: noqa: TID253  (these tests drive the real Starlette and FastAPI apps they inventory)
"""Route inventory of real Starlette and FastAPI apps (``apps/bp_starlette_site.py``,
``apps/bp_fastapi_api.py``), each claim checked against an anonymous request through the app."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware.cors import CORSMiddleware
from starlette.websockets import WebSocketDisconnect
from tests.routes.helpers import Answer, assert_matches_behaviour, by_key

from bulletproof._apploader import load_app
from bulletproof.adapters.routes import route_inventory
from bulletproof.errors import ConfigError

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 and warns once, at import, when it finds httpx instead
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

STARLETTE = {
    ("/", ("GET",)): ("bp_starlette_site.home", "none", "no requires(...)"),
    ("/dashboard", ("GET",)): (
        "bp_starlette_site.dashboard",
        "required",
        "requires('authenticated')",
    ),
    ("/purge", ("DELETE",)): (
        "bp_starlette_site.purge",
        "required",
        "requires('authenticated', 'admin')",
    ),
    ("/feedback", ("POST",)): ("bp_starlette_site.feedback", "none", "no requires(...)"),
    ("/notes", ("GET",)): ("bp_starlette_site.Notes", "none", "no requires(...)"),
    ("/notes", ("POST",)): ("bp_starlette_site.Notes", "required", "requires('authenticated')"),
    ("/echo", ("*",)): ("bp_starlette_site.Echo()", "unknown", "an ASGI app endpoint"),
    ("/exact", ("*",)): (
        "bp_starlette_site.ExactRoute()",
        "unknown",
        "a ExactRoute route: not analysed",
    ),
    ("/live", ("WEBSOCKET",)): ("bp_starlette_site.live", "required", "requires('authenticated')"),
    ("/inner/profile", ("GET", "PUT")): ("bp_starlette_site.profile", "none", "no requires(...)"),
    ("/reports/daily", ("GET",)): ("bp_starlette_site.home", "none", "no requires(...)"),
    ("/static/{path}", ("GET",)): (
        "starlette.staticfiles.StaticFiles(directory='{static}')",
        "none",
        "static files",
    ),
    ("/raw/{path:path}", ("*",)): (
        "bp_starlette_site.raw_asgi",
        "unknown",
        "a mounted ASGI app: its own routes are not listed",
    ),
    ("//tenant.example.com/", ("GET",)): ("bp_starlette_site.home", "none", "no requires(...)"),
}
FASTAPI_DOCS = ("/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
FASTAPI = {
    ("/", ("GET",)): ("none", "no security dependency"),
    ("/token", ("POST",)): ("none", "no security dependency"),
    ("/me", ("GET",)): ("required", "OAuth2PasswordBearer via current_user"),
    ("/items", ("POST",)): ("required", "APIKeyHeader"),
    ("/webhook", ("POST",)): ("required", "Security(verify_signature)"),
    ("/items/{item_id}", ("DELETE",)): (
        "required",
        "Security(current_user); OAuth2PasswordBearer via current_user",
    ),
    ("/feed", ("GET",)): ("unknown", "HTTPBearer with auto_error=False (optional)"),
    ("/settings", ("PUT",)): ("none", "no security dependency"),
    ("/ws", ("WEBSOCKET",)): ("required", "OAuth2PasswordBearer via current_user"),
    ("/admin/reset", ("POST",)): ("required", "OAuth2PasswordBearer via current_user"),
    ("/v1/profile", ("PATCH",)): ("none", "no security dependency"),
}


def inventory_of(spec: str) -> dict[str, Any]:
    return route_inventory(load_app(spec)).to_dict()


def sender(app: Any) -> Any:
    client = TestClient(app, follow_redirects=False)

    def send(method: str, url: str) -> Answer:
        response = client.request(method, url)
        return Answer(
            status=response.status_code,
            location=response.headers.get("location", ""),
            nosniff=response.headers.get("x-content-type-options") == "nosniff",
        )

    return send


# -- Starlette -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("apps")
def test_every_kind_of_starlette_route() -> None:
    import bp_starlette_site  # type: ignore[import-not-found]

    inventory = inventory_of("bp_starlette_site:app")
    assert inventory["framework"] == "starlette"
    assert inventory["middleware_installed"] is True
    got = {
        key: (r["endpoint"], r["auth"], r["auth_evidence"])
        for key, r in by_key(inventory["routes"]).items()
    }
    static = str(bp_starlette_site.STATIC)
    assert got == {
        key: (endpoint.replace("{static}", static), auth, evidence)
        for key, (endpoint, auth, evidence) in STARLETTE.items()
    }
    assert all(route["covered"] for route in inventory["routes"])
    assert [f.split(" (", 1)[0] for f in inventory["findings"]] == [
        "POST /feedback",
        "GET,PUT /inner/profile",
    ]
    assert inventory["findings"][1].endswith(
        "changes state (PUT) and requires no authentication: protect it with "
        "@requires('authenticated')"
    )


@pytest.mark.usefixtures("apps")
@pytest.mark.parametrize("name", ["app", "partial", "bare", "wrapped"])
def test_starlette_claims_match_what_the_app_does(name: str) -> None:
    app = load_app(f"bp_starlette_site:{name}")
    checked = assert_matches_behaviour(route_inventory(app).to_dict()["routes"], sender(app))
    assert checked >= 2


@pytest.mark.usefixtures("apps")
def test_a_websocket_behind_requires_is_closed_for_anonymous() -> None:
    app: Any = load_app("bp_starlette_site:app")
    with pytest.raises(WebSocketDisconnect), TestClient(app).websocket_connect("/live") as ws:
        ws.receive_text()


@pytest.mark.usefixtures("apps")
def test_a_mount_outside_the_middleware_is_not_covered() -> None:
    inventory = inventory_of("bp_starlette_site:partial")
    assert inventory["middleware_installed"] is False
    covered = {r["path"]: r["covered"] for r in inventory["routes"]}
    # /app: the mounted app wrapped in the middleware; /v2: the Mount's own middleware list.
    assert covered == {"/app/profile": True, "/v2/": True, "/legacy/upload": False}
    assert inventory["findings"][-1] == (
        "POST /legacy/upload (bp_starlette_site.feedback) is not covered by the header middleware "
        "(mounted at /legacy outside the header middleware)"
    )


@pytest.mark.usefixtures("apps")
def test_protect_and_an_unprotected_app() -> None:
    assert inventory_of("bp_starlette_site:wrapped")["middleware_installed"] is True
    bare = inventory_of("bp_starlette_site:bare")
    assert bare["middleware_installed"] is False
    assert bare["findings"][-1] == (
        "the header middleware is not installed: none of the 2 routes gets the security "
        "headers; app.add_middleware(bulletproof.adapters.asgi.BulletproofMiddleware) or "
        "app = bulletproof.protect(app)"
    )


@pytest.mark.usefixtures("apps")
def test_known_third_party_wrappers_are_looked_through() -> None:
    import bp_starlette_site

    inventory = route_inventory(CORSMiddleware(bp_starlette_site.wrapped, allow_origins=["*"]))
    assert inventory.framework == "starlette"
    assert inventory.middleware_installed is True  # our middleware is inside CORS
    assert route_inventory(CORSMiddleware(bp_starlette_site.bare)).middleware_installed is False


@pytest.mark.usefixtures("apps")
def test_a_router_alone() -> None:
    inventory = inventory_of("bp_starlette_site:reports")
    assert inventory["framework"] == "starlette"
    assert [(r["path"], r["methods"]) for r in inventory["routes"]] == [("/daily", ["GET"])]


def test_an_unknown_wrapper_is_not_guessed_through() -> None:
    class Wrapper:
        def __init__(self, app: object) -> None:
            self.app = app

    from starlette.applications import Starlette

    with pytest.raises(ConfigError, match=r"\.Wrapper is not a Flask, Django, Starlette or Fast"):
        route_inventory(Wrapper(Starlette()))


# -- FastAPI -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("apps")
def test_fastapi_security_dependencies_at_every_level() -> None:
    inventory = inventory_of("bp_fastapi_api:app")
    assert inventory["framework"] == "fastapi"
    assert inventory["middleware_installed"] is True
    routes = by_key(inventory["routes"])
    own = {
        key: (r["auth"], r["auth_evidence"])
        for key, r in routes.items()
        if key[0].removeprefix("/v1") not in FASTAPI_DOCS
    }
    assert own == FASTAPI
    docs = [r for key, r in routes.items() if key[0].removeprefix("/v1") in FASTAPI_DOCS]
    assert len(docs) == 8  # the app's and the mounted sub-app's
    assert {(r["auth"], r["auth_evidence"]) for r in docs} == {
        ("none", "no requires(...) or security dependency")
    }
    assert routes[("/me", ("GET",))]["endpoint"] == "bp_fastapi_api.me"
    assert [f.split(" (", 1)[0] for f in inventory["findings"]] == [
        "POST /token",
        "PUT /settings",
        "PATCH /v1/profile",
    ]


@pytest.mark.usefixtures("apps")
@pytest.mark.parametrize("name", ["app", "locked"])
def test_fastapi_claims_match_what_the_app_does(name: str) -> None:
    app = load_app(f"bp_fastapi_api:{name}")
    checked = assert_matches_behaviour(route_inventory(app).to_dict()["routes"], sender(app))
    assert checked >= 5


@pytest.mark.usefixtures("apps")
def test_fastapi_app_level_dependencies_protect_every_api_route() -> None:
    inventory = inventory_of("bp_fastapi_api:locked")
    routes = by_key(inventory["routes"])
    assert (
        routes[("/jobs", ("POST",))]["auth"],
        routes[("/jobs", ("POST",))]["auth_evidence"],
    ) == (
        "required",
        "APIKeyHeader",
    )
    assert inventory["findings"] == [
        "the header middleware is not installed: none of the 5 routes gets the security "
        "headers; app.add_middleware(bulletproof.adapters.asgi.BulletproofMiddleware) or "
        "app = bulletproof.protect(app)"
    ]
