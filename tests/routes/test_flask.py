"""Route inventory of real Flask apps (``apps/bp_flask_shop.py``), each claim checked against an
anonymous request through the app itself."""

from __future__ import annotations

from typing import Any

import pytest
from tests.routes.helpers import Answer, assert_matches_behaviour, by_key
from werkzeug.test import Client

from bulletproof._apploader import load_app
from bulletproof.adapters.routes import route_inventory

NO_MARKER = "no login_required"
HOOK = (
    "no login_required; before_request hook bp_flask_shop.create_app.check_token may check the "
    "login"
)
EXPECTED = {
    ("/static/<path:filename>", ("GET",)): ("static", "none", NO_MARKER),
    ("/", ("GET",)): ("index", "none", NO_MARKER),
    ("/items", ("GET", "POST")): ("items", "required", "flask_login.login_required"),
    ("/comments", ("POST",)): ("comment", "none", NO_MARKER),
    ("/account", ("GET",)): ("account", "required", "flask_login.fresh_login_required"),
    ("/cors", ("GET", "OPTIONS")): ("cors", "none", NO_MARKER),
    ("/notes", ("GET",)): ("notes", "none", NO_MARKER),
    ("/notes", ("POST",)): ("notes", "required", "flask_login.login_required"),
    ("/admin/users", ("GET", "DELETE")): ("users", "required", "flask_login.login_required"),
    ("/api/ping", ("GET",)): ("api.ping", "unknown", HOOK),
    ("/api/jobs", ("POST",)): ("api.jobs", "unknown", HOOK),
}


def inventory_of(spec: str) -> dict[str, Any]:
    return route_inventory(load_app(spec)).to_dict()


def sender(app: Any) -> Any:
    client = Client(app)

    def send(method: str, url: str) -> Answer:
        response = client.open(url, method=method)
        return Answer(
            status=response.status_code,
            location=response.headers.get("Location", ""),
            nosniff=response.headers.get("X-Content-Type-Options") == "nosniff",
        )

    return send


@pytest.mark.usefixtures("apps")
def test_every_route_its_methods_and_its_marker() -> None:
    inventory = inventory_of("bp_flask_shop:app")
    assert inventory["framework"] == "flask"
    routes = by_key(inventory["routes"])
    assert {
        key: (r["endpoint"], r["auth"], r["auth_evidence"]) for key, r in routes.items()
    } == EXPECTED
    # url_map order is kept, and a route split by auth keeps its methods' order.
    assert [r["path"] for r in inventory["routes"]][:3] == [
        "/static/<path:filename>",
        "/",
        "/items",
    ]


@pytest.mark.usefixtures("apps")
def test_the_only_finding_is_the_unprotected_post() -> None:
    inventory = inventory_of("bp_flask_shop:app")
    assert inventory["middleware_installed"] is True
    assert all(route["covered"] for route in inventory["routes"])
    assert inventory["findings"] == [
        "POST /comments (comment) changes state (POST) and requires no authentication: protect "
        "it with flask_login.login_required"
    ]


@pytest.mark.usefixtures("apps")
@pytest.mark.parametrize("name", ["app", "proxied", "outer", "bare", "clean"])
def test_claims_match_what_the_app_does(name: str) -> None:
    app = load_app(f"bp_flask_shop:{name}")
    inventory = route_inventory(app).to_dict()
    checked = assert_matches_behaviour(inventory["routes"], sender(app))
    assert checked >= 2


@pytest.mark.usefixtures("apps")
@pytest.mark.parametrize(
    ("name", "how"),
    [
        ("app", "bulletproof.protect (the BulletproofFlask extension)"),
        ("proxied", "the WSGI middleware on wsgi_app, under Werkzeug's ProxyFix"),
        ("outer", "the WSGI middleware around the whole Flask app"),
    ],
)
def test_each_way_of_installing_the_middleware_counts(name: str, how: str) -> None:
    inventory = inventory_of(f"bp_flask_shop:{name}")
    assert inventory["middleware_installed"] is True, how
    assert len(inventory["routes"]) == len(EXPECTED)


@pytest.mark.usefixtures("apps")
def test_bulletproofs_own_before_request_hook_is_not_an_auth_check() -> None:
    # BulletproofFlask registers a before_request hook (the CSP nonce); only the blueprint's
    # own hook makes its routes "unknown".
    routes = by_key(inventory_of("bp_flask_shop:app")["routes"])
    assert routes[("/", ("GET",))]["auth"] == "none"
    assert routes[("/api/ping", ("GET",))]["auth"] == "unknown"


@pytest.mark.usefixtures("apps")
def test_without_the_middleware_one_finding_says_so() -> None:
    inventory = inventory_of("bp_flask_shop:bare")
    assert inventory["middleware_installed"] is False
    assert not any(route["covered"] for route in inventory["routes"])
    assert inventory["findings"] == [
        "POST /comments (comment) changes state (POST) and requires no authentication: protect "
        "it with flask_login.login_required",
        "the header middleware is not installed: none of the 11 routes gets the security headers; "
        "wrap the app once with bulletproof.protect(app) (or BulletproofFlask(app))",
    ]


@pytest.mark.usefixtures("apps")
def test_a_clean_app_has_no_findings() -> None:
    inventory = inventory_of("bp_flask_shop:clean")
    assert inventory["findings"] == []
    assert by_key(inventory["routes"])[("/orders", ("POST",))]["auth"] == "required"
