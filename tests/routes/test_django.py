"""Route inventory of a real Django project (with DRF and the admin).

Django can be configured once per process, and other test files configure it in-process, so the
scenarios run in ``django_probe.py``, a subprocess that forks one child per configuration. Every
scenario that answers requests is also checked against the real WSGI handler: ``covered``
against the headers on the response, ``auth`` against an anonymous request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from tests.routes.helpers import APPS, Answer, assert_matches_behaviour, by_key

PROBE = Path(__file__).with_name("django_probe.py")

# One child process per Django configuration; a spec ending in "!" is inventory only.
GROUPS = [
    ["bp_django_site.settings"],
    ["bp_django_site.settings_login"],
    ["bp_django_site.wsgi:protected", "bp_django_site.wsgi!", "bp_django_site.asgi!"],
    # The URLconf fails; then Django is set up with those settings, not with 'settings'.
    ["bp_django_site.settings_broken!", "bp_django_site.settings!"],
    ["bp_django_site.settings_whitenoise!"],  # WhiteNoise is not installed: inventory only
    ["bp_django_site.settings_headers"],
]

# (path, methods) -> (auth, evidence) in the base settings, admin routes aside.
EXPECTED = {
    ("/", ("*",)): ("none", "no login_required, auth mixin or LoginRequiredMiddleware"),
    ("/about/", ("GET",)): ("none", "no login_required, auth mixin or LoginRequiredMiddleware"),
    ("/contact/", ("POST",)): ("none", "no login_required, auth mixin or LoginRequiredMiddleware"),
    ("/signup/", ("POST",)): ("none", "login_not_required"),
    ("/profile/", ("*",)): ("required", "login_required"),
    ("/items/<int:pk>/edit/", ("*",)): ("required", "permission_required('shop.change_item')"),
    ("/reports/", ("*",)): ("required", "user_passes_test(is_staff)"),
    ("/catalog/", ("GET", "POST")): (
        "none",
        "no login_required, auth mixin or LoginRequiredMiddleware",
    ),
    ("/orders-page/", ("GET", "POST")): ("required", "LoginRequiredMixin"),
    ("/settings/", ("GET", "PUT")): ("required", "method_decorator(login_required)"),
    ("/mixed/", ("GET",)): ("none", "no login_required, auth mixin or LoginRequiredMiddleware"),
    ("/mixed/", ("POST",)): (
        "required",
        "method_decorator(permission_required('shop.add_item'))",
    ),
    ("/stock/", ("GET",)): ("required", "PermissionRequiredMixin"),
    ("/ledger/", ("GET",)): ("required", "method_decorator(user_passes_test(is_staff))"),
    ("/payroll/", ("POST",)): ("required", "method_decorator(staff_member_required)"),
    ("/wrapped/", ("DELETE",)): ("required", "login_required"),
    ("/api/items/", ("GET", "POST")): ("none", "DEFAULT_PERMISSION_CLASSES = [AllowAny]"),
    ("/api/secure/", ("DELETE",)): (
        "required",
        "permission_classes = [(IsAuthenticated & ~IsAdminUser)]",
    ),
    ("/api/hook/", ("POST",)): ("none", "permission_classes = [AllowAny]"),
    ("/api/dynamic/", ("POST",)): (
        "unknown",
        "get_permissions() is overridden; DEFAULT_PERMISSION_CLASSES = [AllowAny]",
    ),
    ("/api/orders/", ("GET", "POST")): ("required", "permission_classes = [IsAuthenticated]"),
    ("/api/orders/(?P<pk>[^/.]+)/", ("DELETE",)): (
        "required",
        "permission_classes = [IsAuthenticated]",
    ),
    ("/api/orders/(?P<pk>[^/.]+)/track/", ("POST",)): ("none", "permission_classes = [AllowAny]"),
    ("/api/invoices/", ("GET", "POST")): ("none", "DEFAULT_PERMISSION_CLASSES = [AllowAny]"),
    ("/blog/", ("*",)): ("none", "no login_required, auth mixin or LoginRequiredMiddleware"),
    ("/blog/archive/(?P<year>[0-9]{4})/", ("*",)): (
        "none",
        "no login_required, auth mixin or LoginRequiredMiddleware",
    ),
}
ENDPOINTS = {
    "/": "bp_django_site.views.home",
    "/catalog/": "bp_django_site.views.Catalog",
    "/wrapped/": "bp_django_site.views.Plain",
    "/api/hook/": "bp_django_site.views.hook",
    "/api/orders/": "bp_django_site.views.OrderViewSet",
    "/admin/": "django.contrib.admin.sites.AdminSite.index",
}


def _environment() -> dict[str, str]:
    return {
        key: value
        for key, value in os.environ.items()
        if key != "DJANGO_SETTINGS_MODULE" and not key.startswith("BULLETPROOF_")
    }


@pytest.fixture(scope="module")
def probed() -> dict[str, dict[str, Any]]:
    """Every spec's probe output, keyed as written in GROUPS."""
    done = subprocess.run(
        [sys.executable, str(PROBE), *(",".join(specs) for specs in GROUPS)],
        cwd=APPS,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    results: dict[str, dict[str, Any]] = json.loads(done.stdout)
    crashed = {spec: r["crash"] for spec, r in results.items() if "crash" in r}
    assert not crashed, crashed
    assert set(results) == {spec for specs in GROUPS for spec in specs}
    return results


def _answers(result: Mapping[str, Any]) -> Any:
    answers = result["answers"]

    def send(method: str, url: str) -> Answer:
        return Answer(**answers[f"{method} {url}"])

    return send


def test_every_marker_is_recognised(probed: dict[str, dict[str, Any]]) -> None:
    inventory = probed["bp_django_site.settings"]["inventory"]
    assert inventory["framework"] == "django"
    assert inventory["middleware_installed"] is True
    routes = by_key(inventory["routes"])
    own = {key: route for key, route in routes.items() if not key[0].startswith("/admin/")}
    assert {key: (r["auth"], r["auth_evidence"]) for key, r in own.items()} == EXPECTED
    assert all(route["covered"] for route in inventory["routes"])
    for path, endpoint in ENDPOINTS.items():
        assert any(r["endpoint"] == endpoint for k, r in routes.items() if k[0] == path), path


def test_the_admin_is_staff_only_except_its_login_page(
    probed: dict[str, dict[str, Any]],
) -> None:
    admin = [
        r
        for r in probed["bp_django_site.settings"]["inventory"]["routes"]
        if r["path"].startswith("/admin")
    ]
    assert len(admin) > 15
    login = [r for r in admin if r["path"] == "/admin/login/"]
    assert [(r["auth"], r["auth_evidence"]) for r in login] == [("none", "login_not_required")]
    others = [r for r in admin if r["path"] != "/admin/login/"]
    assert {r["auth_evidence"] for r in others} == {
        "Django admin: staff only (AdminSite.admin_view)"
    }
    # UserAdmin's password view calls admin_site.admin_view() itself, without get_urls' wrap().
    assert any(r["path"] == "/admin/auth/user/<id>/password/" for r in others)


def test_findings_name_each_unprotected_state_changing_route(
    probed: dict[str, dict[str, Any]],
) -> None:
    findings = probed["bp_django_site.settings"]["inventory"]["findings"]
    heads = [f.split(") ", 1)[0] + ")" for f in findings]
    assert heads == [
        "ANY / (bp_django_site.views.home)",
        "POST /contact/ (bp_django_site.views.contact)",
        "GET,POST /catalog/ (bp_django_site.views.Catalog)",
        "GET,POST /api/items/ (bp_django_site.views.ItemsAPI)",
        "GET,POST /api/invoices/ (bp_django_site.views.InvoiceViewSet)",
        "ANY /blog/ (bp_django_site.views.home)",
        "ANY /blog/archive/(?P<year>[0-9]{4})/ (bp_django_site.views.archive)",
    ]
    assert "accepts every method" in findings[0]
    assert "changes state (POST)" in findings[1]
    assert all("login_required" in f for f in findings)  # the how-to-fix part


@pytest.mark.parametrize(
    "scenario",
    ["bp_django_site.settings", "bp_django_site.settings_login", "bp_django_site.wsgi:protected"],
)
def test_claims_match_what_the_app_does(probed: dict[str, dict[str, Any]], scenario: str) -> None:
    result = probed[scenario]
    checked = assert_matches_behaviour(result["inventory"]["routes"], _answers(result))
    assert checked >= 40


def test_login_required_middleware_and_drf_default_permissions(
    probed: dict[str, dict[str, Any]],
) -> None:
    inventory = probed["bp_django_site.settings_login"]["inventory"]
    routes = by_key(inventory["routes"])
    assert routes[("/", ("*",))]["auth_evidence"] == "LoginRequiredMiddleware"
    assert routes[("/catalog/", ("GET", "POST"))]["auth"] == "required"
    assert routes[("/profile/", ("*",))]["auth_evidence"] == "login_required"  # own marker first
    assert routes[("/signup/", ("POST",))]["auth"] == "none"  # login_not_required
    assert routes[("/admin/login/", ("*",))]["auth"] == "none"
    # DRF views exempt themselves from the middleware: their permission classes decide, here
    # the DEFAULT_PERMISSION_CLASSES setting unless the view sets its own.
    items = routes[("/api/items/", ("GET", "POST"))]
    assert (items["auth"], items["auth_evidence"]) == (
        "required",
        "DEFAULT_PERMISSION_CLASSES = [IsAuthenticated]",
    )
    assert routes[("/api/invoices/", ("GET", "POST"))]["auth"] == "required"
    assert routes[("/api/hook/", ("POST",))]["auth"] == "none"  # AllowAny on the view itself
    assert routes[("/api/orders/(?P<pk>[^/.]+)/track/", ("POST",))]["auth"] == "none"
    assert inventory["middleware_installed"] is False
    assert not any(r["covered"] for r in inventory["routes"])
    # Nothing unprotected changes state; the one finding is the missing header middleware.
    assert inventory["findings"] == [
        "the header middleware is not installed: none of the 49 routes gets the security "
        "headers; add 'bulletproof.adapters.django.BulletproofMiddleware' to "
        "settings.MIDDLEWARE"
    ]


def test_a_handler_inside_the_wsgi_middleware_is_covered(
    probed: dict[str, dict[str, Any]],
) -> None:
    protected = probed["bp_django_site.wsgi:protected"]["inventory"]
    assert protected["middleware_installed"] is True
    assert all(r["covered"] for r in protected["routes"])
    bare = probed["bp_django_site.wsgi!"]["inventory"]  # 'module' means its 'application'
    assert bare["framework"] == "django"
    assert bare["middleware_installed"] is False
    assert bare["findings"][-1].startswith("the header middleware is not installed")


def test_an_asgi_handler(probed: dict[str, dict[str, Any]]) -> None:
    inventory = probed["bp_django_site.asgi!"]["inventory"]
    assert inventory["framework"] == "django"
    assert len(inventory["routes"]) == 49
    assert inventory["middleware_installed"] is False


def test_a_urlconf_that_fails_to_import_is_named(probed: dict[str, dict[str, Any]]) -> None:
    assert probed["bp_django_site.settings_broken!"] == {
        "error": "Django URLconf 'bp_django_site.urls_broken': loading its routes failed: "
        "ModuleNotFoundError: No module named 'bp_django_site.missing_urls'"
    }


def test_django_configured_with_other_settings_is_an_error(
    probed: dict[str, dict[str, Any]],
) -> None:
    assert probed["bp_django_site.settings!"] == {
        "error": "Django is already configured with settings 'bp_django_site.settings_broken' "
        "in this process, not 'bp_django_site.settings': run bulletproof routes in its own "
        "process"
    }


# -- what the settings do to the headers ---------------------------------------------------------

OLD_NAME = "'bulletproof.adapters.django.SecureHeadersMiddleware'"
XFRAME = "'django.middleware.clickjacking.XFrameOptionsMiddleware'"
XFRAME_WINS = (
    f"{XFRAME} runs inside {{ours}} and sets X-Frame-Options: DENY (settings.X_FRAME_OPTIONS), "
    f"not the policy's 'SAMEORIGIN': to keep the policy's value, remove {XFRAME} from "
    "settings.MIDDLEWARE"
)


@pytest.mark.parametrize(
    "scenario",
    ["bp_django_site.settings", "bp_django_site.settings_login", "bp_django_site.wsgi:protected"],
)
def test_settings_that_keep_the_policy_whole_have_no_settings_findings(
    probed: dict[str, dict[str, Any]], scenario: str
) -> None:
    assert probed[scenario]["settings_findings"] == []


def test_whitenoise_before_the_middleware_leaves_static_files_uncovered(
    probed: dict[str, dict[str, Any]],
) -> None:
    result = probed["bp_django_site.settings_whitenoise!"]
    inventory = result["inventory"]
    assert inventory["middleware_installed"] is False  # not every route: the static ones escape
    routes = by_key(inventory["routes"])
    static = [routes[("/assets/<path:path>", ("GET",))], routes[("/<path:file>", ("GET",))]]
    assert [(r["endpoint"], r["auth"], r["auth_evidence"], r["covered"]) for r in static] == [
        ("whitenoise.middleware.WhiteNoiseMiddleware", "none", evidence, False)
        for evidence in (
            "a static file, served by WhiteNoise",
            "a file in WHITENOISE_ROOT, served by WhiteNoise",
        )
    ]
    views = [r for r in inventory["routes"] if r not in static]
    assert len(views) == 49
    assert all(r["covered"] for r in views)  # the middleware's pre-0.1 dotted path is recognised
    uncovered = [f for f in inventory["findings"] if "is not covered" in f]
    assert uncovered == [
        f"GET {path} (whitenoise.middleware.WhiteNoiseMiddleware) is not covered by the header "
        "middleware (WhiteNoise serves it before the header middleware runs: move "
        f"{OLD_NAME} above 'whitenoise.middleware.WhiteNoiseMiddleware' in "
        "settings.MIDDLEWARE)"
        for path in ("/assets/<path:path>", "/<path:file>")
    ]
    not_first = (
        f"{OLD_NAME} is not first in settings.MIDDLEWARE: a response that a middleware above it "
        "('django.middleware.security.SecurityMiddleware', "
        "'whitenoise.middleware.WhiteNoiseMiddleware') returns itself (a redirect, an error, a "
        "static file) gets no security headers; move it to the top"
    )
    # The settings' own findings come first; WhiteNoise's is said by the static routes.
    assert inventory["findings"][:2] == [not_first, XFRAME_WINS.format(ours=OLD_NAME)]
    assert [(f["issue"], f["setting"], f["header"]) for f in result["settings_findings"]] == [
        ("not_first", "MIDDLEWARE", ""),
        ("whitenoise_first", "MIDDLEWARE", ""),
        ("django_header", "X_FRAME_OPTIONS", "X-Frame-Options"),
    ]
    assert result["settings_findings"][1]["message"] == (
        f"'whitenoise.middleware.WhiteNoiseMiddleware' comes before {OLD_NAME} in "
        "settings.MIDDLEWARE: WhiteNoise answers static files itself, before the header "
        f"middleware runs, so they get no security headers; move {OLD_NAME} above it"
    )


def test_django_header_middleware_inside_ours_sets_its_own_values(
    probed: dict[str, dict[str, Any]],
) -> None:
    result = probed["bp_django_site.settings_headers"]
    inventory = result["inventory"]
    assert inventory["middleware_installed"] is True  # a project subclass of ours, first
    assert all(r["covered"] for r in inventory["routes"])
    ours = "'bp_django_site.middleware.ProjectHeaders'"
    hsts = (
        f"'django.middleware.security.SecurityMiddleware' runs inside {ours} and sets "
        "Strict-Transport-Security: max-age=3600 on HTTPS requests "
        "(settings.SECURE_HSTS_SECONDS), not the policy's 'max-age=31536000; "
        "includeSubDomains': to keep the policy's value, set SECURE_HSTS_SECONDS = 0"
    )
    # Referrer-Policy: Django's same-origin is what BULLETPROOF_HEADERS asks for, so no finding.
    assert [f["message"] for f in result["settings_findings"]] == [
        hsts,
        XFRAME_WINS.format(ours=ours),
    ]
    assert inventory["findings"][:2] == [hsts, XFRAME_WINS.format(ours=ours)]
    # What the findings claim is what goes on the wire: Django's values, its HSTS on HTTPS only.
    plain = Answer(**result["answers"]["GET /about/"])
    assert (plain.frame_options, plain.referrer_policy) == ("DENY", "same-origin")
    assert plain.hsts == "max-age=31536000; includeSubDomains"  # the policy's, over plain HTTP
    secure = Answer(**result["answers"]["GET https://testserver/about/"])
    assert (secure.frame_options, secure.hsts) == ("DENY", "max-age=3600")
