"""Presets: helmet (Helmet's defaults), strict (the Observatory's best for headers), api."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import bulletproof.headers as h
from bulletproof.errors import ConfigError
from bulletproof.headers import Preset, secure_headers

GRADES = json.loads(
    (Path(__file__).parent.parent / "cases" / "helmet" / "observatory-grades.json").read_text(
        "utf-8"
    )
)

STRICT = [
    (
        "Content-Security-Policy",
        "default-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none';"
        "object-src 'none';upgrade-insecure-requests",
    ),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Origin-Agent-Cluster", "?1"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Download-Options", "noopen"),
    ("X-Frame-Options", "DENY"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "0"),
    (
        "Permissions-Policy",
        "accelerometer=(), browsing-topics=(), camera=(), display-capture=(), geolocation=(), "
        "gyroscope=(), magnetometer=(), microphone=(), payment=(), usb=()",
    ),
]

API = [
    ("Content-Security-Policy", "default-src 'none';frame-ancestors 'none'"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
]


# -- a headers-only re-computation of the MDN Observatory's score (scoring v6) -----------------
# Only what response headers decide, for one CSP header and no <meta> policy; the context is
# the one observatory-grades.json assumes (https, verified, http->https, not preloaded, no
# cookies, no CORS, no scripts). Checked below against the recorded grades of Helmet's defaults.

BROAD = {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
INLINE = {"'unsafe-inline'", "data:"}
MAX_HEADER_BONUS = {"csp": 10, "coep": 10, "coop": 10, "referrer": 5, "xfo": 5, "corp": 10}


def _csp(value: str | None) -> tuple[int, dict[str, set[str]] | None]:
    if not value:
        return -25, None
    directives: dict[str, set[str]] = {}
    for entry in value.split(";"):
        tokens = entry.strip().split()
        if not tokens:
            continue
        name, sources = tokens[0].lower(), {s.lower() for s in tokens[1:]}
        if name in directives and name not in ("report-uri", "report-to"):
            return -25, None
        directives[name] = sources or ({"'none'"} if name.endswith("-src") else set())

    def effective(name: str) -> set[str]:
        if name in directives:
            return directives[name]
        return directives.get("default-src", {"*"})

    script, style, obj = effective("script-src"), effective("style-src"), effective("object-src")
    for group in (script, style):
        if any(s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in group):
            group.discard("'unsafe-inline'")
    active = [
        s
        for n, v in directives.items()
        if n not in ("img-src", "media-src", "script-src")
        for s in v
    ]
    if script & (BROAD | INLINE) or obj & BROAD:
        return -20, directives
    if any(s.startswith(("http:", "ftp:")) for s in [*active, *script]):
        return -20, directives
    if "'unsafe-eval'" in script | style:
        return -10, directives
    if style & (BROAD | INLINE):
        return 0, directives
    return (10 if directives.get("default-src") == {"'none'"} else 5), directives


def observatory(headers: list[tuple[str, str]]) -> tuple[int, str, dict[str, int]]:
    values: dict[str, str] = {}
    for header, text in headers:
        key = header.lower()
        values[key] = f"{values[key]}, {text.strip()}" if key in values else text.strip()
    get = values.get
    results: dict[str, int] = {}
    results["csp"], csp_data = _csp(get("content-security-policy"))
    coep = get("cross-origin-embedder-policy")
    results["coep"] = (
        0
        if not coep
        else (
            10 if coep in ("require-corp", "credentialless") else 0 if coep == "unsafe-none" else -5
        )
    )
    coop = get("cross-origin-opener-policy")
    results["coop"] = (
        0
        if not coop
        else (
            10
            if coop in ("same-origin", "same-origin-allow-popups", "noopener-allow-popups")
            else 0
            if coop == "unsafe-none"
            else -5
        )
    )
    referrer = get("referrer-policy")
    if referrer is None:
        results["referrer"] = 0
    else:
        known = [t.strip().lower() for t in referrer.split(",")]
        private = {"no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"}
        unsafe = {"origin", "origin-when-cross-origin", "unsafe-url", "no-referrer-when-downgrade"}
        known = [t for t in known if t in private | unsafe]
        results["referrer"] = -5 if not known else (5 if known[-1] in private else -5)
    hsts = get("strict-transport-security")
    if hsts is None:
        results["hsts"] = -20
    else:
        match = re.search(r"(?:^|;)\s*max-age=(\d+)", hsts.lower())
        results["hsts"] = (
            -20 if "," in hsts or match is None else (0 if int(match.group(1)) >= 15552000 else -10)
        )
    xcto = get("x-content-type-options")
    results["xcto"] = -5 if not xcto or xcto.lower() != "nosniff" else 0
    xfo = (get("x-frame-options") or "").lower()
    results["xfo"] = (
        5 if xfo in ("deny", "sameorigin") else 0 if xfo.startswith("allow-from") else -20
    )
    if csp_data is not None and "frame-ancestors" in csp_data:
        results["xfo"] = 5
    corp = (get("cross-origin-resource-policy") or "").lower()
    results["corp"] = (
        0
        if not corp
        else (10 if corp in ("same-site", "same-origin") else 0 if corp == "cross-origin" else -5)
    )
    penalties = 100 + sum(v for v in results.values() if v < 0)
    score = 100 + sum(results.values()) if penalties >= 90 else penalties
    grade_key = min(max(score, 0) // 5 * 5, 100)
    chart = {100: "A+", 95: "A", 90: "A", 85: "A-", 80: "B+", 75: "B", 70: "B", 65: "B-", 60: "C+"}
    return max(score, 0), chart.get(grade_key, "C or worse"), results


def test_the_score_helper_agrees_with_the_recorded_observatory_grades() -> None:
    defaults = GRADES["helmet@8.3.0 defaults"]
    assert observatory(secure_headers().headers)[:2] == (defaults["score"], defaults["grade"])
    coep = GRADES["helmet@8.3.0 + crossOriginEmbedderPolicy:true"]
    with_coep = secure_headers(cross_origin_embedder_policy=True).headers
    assert observatory(with_coep)[:2] == (coep["score"], coep["grade"])
    nonce = GRADES["helmet@8.3.0 csp nonce (script-src 'self' 'nonce-…')"]
    policy = secure_headers(
        content_security_policy={"directives": {"script-src": ["'self'", "{nonce}"]}}
    )
    assert observatory(policy.render())[:2] == (nonce["score"], nonce["grade"])
    assert observatory([])[:2] == (GRADES["bare (no security headers)"]["score"], "C or worse")


# -- presets ------------------------------------------------------------------------------------


def test_helmet_preset_is_the_default() -> None:
    default = secure_headers()
    for preset in ("helmet", "HELMET", Preset.HELMET):
        policy = secure_headers(preset=preset)
        assert (policy.headers, policy.remove) == (default.headers, default.remove)


def test_strict_preset_headers() -> None:
    policy = secure_headers(preset="strict")
    assert policy.headers == STRICT
    assert policy.remove == ("x-powered-by",)
    assert not policy.dynamic


def test_strict_preset_gets_the_observatorys_best_header_score() -> None:
    score, grade, results = observatory(secure_headers(preset=Preset.STRICT).headers)
    assert grade == "A+"
    assert results == {**MAX_HEADER_BONUS, "hsts": 0, "xcto": 0}
    assert score == 100 + sum(MAX_HEADER_BONUS.values()) == 150
    csp = dict(STRICT)["Content-Security-Policy"]
    assert "unsafe" not in csp
    for directive in (
        "default-src 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri",
        "form-action",
    ):
        assert directive in csp


def test_strict_preset_stays_top_with_a_nonce_for_scripts_and_styles() -> None:
    policy = secure_headers(
        preset="strict",
        content_security_policy={
            "directives": {"script-src": ["{nonce}", "'strict-dynamic'"], "style-src": ["{nonce}"]}
        },
    )
    score, grade, _ = observatory(policy.render())
    assert (score, grade) == (150, "A+")
    assert policy.headers[0][1].startswith("default-src 'none';base-uri 'none';")


def test_api_preset_headers() -> None:
    policy = secure_headers(preset="api")
    assert policy.headers == API
    assert policy.remove == ("x-powered-by",)
    assert "Cache-Control" not in dict(policy.headers)
    assert observatory(policy.headers)[1] == "A+"


@pytest.mark.parametrize("preset", ["helmet", "strict", "api"])
def test_options_override_the_preset(preset: str) -> None:
    policy = secure_headers(
        preset=preset,
        x_frame_options={"action": "sameorigin"},
        referrer_policy={"policy": "same-origin"},
        strict_transport_security=False,
    )
    headers = dict(policy.headers)
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in headers


def test_use_defaults_means_the_presets_directives() -> None:
    strict = secure_headers(
        preset="strict", content_security_policy={"directives": {"img_src": ["'self'"]}}
    )
    assert strict.headers[0][1] == (
        "default-src 'none';base-uri 'none';form-action 'self';frame-ancestors 'none';"
        "object-src 'none';upgrade-insecure-requests;img-src 'self'"
    )
    api = secure_headers(
        preset="api", content_security_policy={"directives": {"frame-ancestors": None}}
    )
    assert api.headers[0][1] == "default-src 'none'"
    replaced = secure_headers(
        preset="strict",
        content_security_policy={"use_defaults": False, "directives": {"default-src": ["'self'"]}},
    )
    assert replaced.headers[0][1] == "default-src 'self'"
    report_only = secure_headers(preset="api", content_security_policy_report_only=True)
    assert report_only.headers[1] == ("Content-Security-Policy-Report-Only", API[0][1])


def test_true_restores_the_presets_value_and_turns_on_what_it_left_off() -> None:
    strict = secure_headers(preset="strict", x_frame_options=True, strict_transport_security=True)
    assert dict(strict.headers)["X-Frame-Options"] == "DENY"
    assert dict(strict.headers)["Strict-Transport-Security"].endswith("; preload")
    api = secure_headers(preset="api", cross_origin_opener_policy=True, x_frame_options=True)
    assert dict(api.headers)["Cross-Origin-Opener-Policy"] == "same-origin"
    assert dict(api.headers)["X-Frame-Options"] == "SAMEORIGIN"
    off = secure_headers(
        preset="strict", permissions_policy=False, cross_origin_embedder_policy=False
    )
    assert "Permissions-Policy" not in dict(off.headers)
    assert "Cross-Origin-Embedder-Policy" not in dict(off.headers)


def test_preset_options_are_still_validated_against_aliases() -> None:
    with pytest.raises(ConfigError, match="Remove frameguard"):
        secure_headers(preset="strict", frameguard=True, x_frame_options=True)
    policy = secure_headers(preset="strict", frameguard={"action": "sameorigin"})
    assert dict(policy.headers)["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize(
    ("preset", "fragment"),
    [
        ("strickt", "Did you mean 'strict'"),
        ("", "unknown preset ''"),
        (3, "preset must be a str"),
        (None, "preset must be a str"),
    ],
)
def test_bad_preset(preset: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        secure_headers(preset=preset)
    assert fragment in str(info.value)
    assert "'helmet', 'strict', 'api'" in str(info.value)


def test_preset_enum_values() -> None:
    assert [p.value for p in Preset] == ["helmet", "strict", "api"]
    assert h.Preset is Preset
