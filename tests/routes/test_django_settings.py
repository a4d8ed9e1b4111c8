"""What a Django project's settings do to the security headers, worked out from the settings
alone (no Django set up here: the settings are plain namespaces, the MIDDLEWARE entries names
the walker knows or cannot import). ``test_django.py`` checks the same against real projects
and what their responses carry."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from bulletproof.adapters.routes._django import (
    SettingsFinding,
    SettingsIssue,
    _findings,
    _layout,
    _static_entries,
    settings_findings,
)
from bulletproof.errors import ConfigError
from bulletproof.headers import HeaderPolicy, secure_headers

OURS = "bulletproof.adapters.django.BulletproofMiddleware"
OLD = "bulletproof.adapters.django.SecureHeadersMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
XFRAME = "django.middleware.clickjacking.XFrameOptionsMiddleware"
WHITENOISE = "whitenoise.middleware.WhiteNoiseMiddleware"
OTHER = "bp_no_such_project.middleware.Custom"  # cannot be imported: known by its name only


def settings(*middleware: str, **values: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(MIDDLEWARE=list(middleware), **values)


def findings(
    conf: types.SimpleNamespace, *, covered: bool = False, policy: HeaderPolicy | None = None
) -> list[SettingsFinding]:
    return list(_findings(_layout(conf, covered), conf, policy or secure_headers()))


def issues(conf: types.SimpleNamespace, **kwargs: Any) -> list[tuple[SettingsIssue, str]]:
    return [(f.issue, f.header) for f in findings(conf, **kwargs)]


def test_the_middleware_first_with_nothing_inside_it_is_clean() -> None:
    assert findings(settings(OURS, OTHER)) == []
    assert findings(settings(OLD, OTHER)) == []  # the name before 0.1 is still recognised


def test_without_the_middleware_there_is_nothing_to_say_here() -> None:
    # The inventory already says "not installed"; Django's headers change no policy.
    assert findings(settings(SECURITY, WHITENOISE, XFRAME)) == []


def test_not_first_names_what_runs_above_it() -> None:
    (finding,) = findings(settings(OTHER, OURS))
    assert finding == SettingsFinding(
        SettingsIssue.NOT_FIRST,
        "MIDDLEWARE",
        f"'{OURS}' is not first in settings.MIDDLEWARE: a response that a middleware above it "
        f"('{OTHER}') returns itself (a redirect, an error, a static file) gets no security "
        "headers; move it to the top",
    )


def test_inside_protect_every_django_middleware_runs_inside_it() -> None:
    # The handler is inside bulletproof.protect(): Django's values win, whatever the order.
    (finding,) = findings(settings(OTHER, SECURITY), covered=True)
    assert finding.issue is SettingsIssue.DJANGO_HEADER
    assert finding.message.startswith(
        f"'{SECURITY}' runs inside bulletproof.protect() and sets Referrer-Policy: same-origin "
    )
    assert findings(settings(OTHER, WHITENOISE), covered=True) == []  # no "not first" either
    # Unless the Django middleware is there too, below SecurityMiddleware: it sets them first.
    assert findings(settings(SECURITY, OURS), covered=True) == []


def test_django_middleware_above_ours_changes_nothing() -> None:
    # Ours sets its headers first on the way out; Django's only set a header that is missing.
    assert issues(settings(SECURITY, XFRAME, OURS)) == [(SettingsIssue.NOT_FIRST, "")]


def test_django_defaults_inside_ours_against_helmets() -> None:
    # Helmet and Django agree on nosniff and Cross-Origin-Opener-Policy: same-origin.
    assert issues(settings(OURS, SECURITY, XFRAME)) == [
        (SettingsIssue.DJANGO_HEADER, "Referrer-Policy"),
        (SettingsIssue.DJANGO_HEADER, "X-Frame-Options"),
    ]
    referrer = findings(settings(OURS, SECURITY))[0]
    assert referrer.setting == "SECURE_REFERRER_POLICY"
    assert referrer.message == (
        f"'{SECURITY}' runs inside '{OURS}' and sets Referrer-Policy: same-origin "
        "(settings.SECURE_REFERRER_POLICY), not the policy's 'no-referrer': to keep the "
        "policy's value, set SECURE_REFERRER_POLICY = None"
    )


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"SECURE_REFERRER_POLICY": None}, []),
        ({"SECURE_REFERRER_POLICY": " no-referrer "}, []),
        ({"SECURE_REFERRER_POLICY": ["no-referrer", "strict-origin"]}, ["Referrer-Policy"]),
        (
            {"SECURE_REFERRER_POLICY": None, "SECURE_CROSS_ORIGIN_OPENER_POLICY": "unsafe-none"},
            ["Cross-Origin-Opener-Policy"],
        ),
        (
            {"SECURE_REFERRER_POLICY": None, "SECURE_HSTS_SECONDS": 31536000},
            ["Strict-Transport-Security"],
        ),
        (
            {
                "SECURE_REFERRER_POLICY": None,
                "SECURE_HSTS_SECONDS": 31536000,
                "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
            },
            [],  # the same value as Helmet's
        ),
    ],
)
def test_each_security_setting_is_compared_with_the_policy(
    values: dict[str, Any], expected: list[str]
) -> None:
    assert [header for _, header in issues(settings(OURS, SECURITY, **values))] == expected


def test_a_header_the_policy_leaves_out_is_a_change_too() -> None:
    policy = secure_headers(x_frame_options=False)
    (finding,) = findings(settings(OURS, XFRAME, X_FRAME_OPTIONS="sameorigin"), policy=policy)
    assert finding.message == (
        f"'{XFRAME}' runs inside '{OURS}' and sets X-Frame-Options: SAMEORIGIN "
        "(settings.X_FRAME_OPTIONS), which the policy leaves out: to leave it out, remove "
        f"'{XFRAME}' from settings.MIDDLEWARE"
    )
    # The same value as the policy's, in another case, is no change.
    assert findings(settings(OURS, XFRAME, X_FRAME_OPTIONS="sameorigin")) == []


def test_nosniff_off_in_django_and_in_the_policy_is_no_finding() -> None:
    policy = secure_headers(x_content_type_options=False)
    conf = settings(OURS, SECURITY, SECURE_REFERRER_POLICY=None, SECURE_CONTENT_TYPE_NOSNIFF=False)
    assert findings(conf, policy=policy) == []
    conf.SECURE_CONTENT_TYPE_NOSNIFF = True
    assert issues(conf, policy=policy) == [(SettingsIssue.DJANGO_HEADER, "X-Content-Type-Options")]


def test_a_subclass_is_recognised_by_its_bases_names(monkeypatch: pytest.MonkeyPatch) -> None:
    base = type("BulletproofMiddleware", (), {"__module__": "bulletproof.adapters.django"})
    module = types.ModuleType("bp_project_mw")
    module.Headers = type("Headers", (base,), {"__module__": "bp_project_mw"})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bp_project_mw", module)
    (finding,) = findings(settings(OTHER, "bp_project_mw.Headers"))
    assert finding.issue is SettingsIssue.NOT_FIRST


# -- the routes WhiteNoise answers -----------------------------------------------------------


def static(conf: types.SimpleNamespace, covered: bool = False) -> list[tuple[str, bool, str]]:
    return [(e.path, e.covered, e.note) for e in _static_entries(_layout(conf, covered), conf)]


def test_whitenoise_below_the_middleware_is_covered() -> None:
    conf = settings(OURS, WHITENOISE, STATIC_URL="/static/")
    assert static(conf) == [("/static/<path:path>", True, "")]
    assert findings(conf) == []


def test_whitenoise_above_the_middleware_is_not() -> None:
    conf = settings(WHITENOISE, OURS, STATIC_URL="/static/", WHITENOISE_ROOT="/srv/root")
    note = (
        f"WhiteNoise serves it before the header middleware runs: move '{OURS}' above "
        f"'{WHITENOISE}' in settings.MIDDLEWARE"
    )
    assert static(conf) == [("/static/<path:path>", False, note), ("/<path:file>", False, note)]
    assert issues(conf) == [(SettingsIssue.NOT_FIRST, ""), (SettingsIssue.WHITENOISE_FIRST, "")]
    # Inside bulletproof.protect() WhiteNoise is covered wherever it is.
    assert static(conf, covered=True) == [
        ("/static/<path:path>", True, ""),
        ("/<path:file>", True, ""),
    ]


def test_without_the_middleware_static_files_are_uncovered_like_every_route() -> None:
    assert static(settings(WHITENOISE, STATIC_URL="/static/")) == [
        ("/static/<path:path>", False, "")
    ]


@pytest.mark.parametrize(
    ("values", "paths"),
    [
        ({"STATIC_URL": "https://cdn.example.com/assets/"}, ["/assets/<path:path>"]),
        ({"STATIC_URL": "/static/", "WHITENOISE_STATIC_PREFIX": "files"}, ["/files/<path:path>"]),
        ({"STATIC_URL": "/shop/static/", "FORCE_SCRIPT_NAME": "/shop/"}, ["/static/<path:path>"]),
        ({"STATIC_URL": None}, []),
        ({"STATIC_URL": None, "WHITENOISE_ROOT": "/srv/root"}, ["/<path:file>"]),
    ],
)
def test_the_static_prefix_is_worked_out_as_whitenoise_does(
    values: dict[str, Any], paths: list[str]
) -> None:
    assert [path for path, _, _ in static(settings(OURS, WHITENOISE, **values))] == paths


def test_settings_findings_wants_a_django_app() -> None:
    with pytest.raises(ConfigError, match=r"^builtins\.object is not a Django WSGI/ASGI handler"):
        settings_findings(object())
