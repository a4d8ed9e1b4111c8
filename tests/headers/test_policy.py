"""secure_headers(), HeaderPolicy and the per-header options: values, validation and messages."""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

import bulletproof.headers as h
from bulletproof.errors import ConfigError
from bulletproof.headers import (
    DANGEROUSLY_DISABLE_DEFAULT_SRC,
    HeaderContext,
    HeaderEntry,
    HeaderPolicy,
    HeaderRenderError,
    HeadersWarning,
    StrictTransportSecurityOptions,
    XFrameOptionsOptions,
    new_nonce,
    secure_headers,
)
from bulletproof.headers._referrer_policy import header_value as referrer_value
from bulletproof.headers._strict_transport_security import header_value as hsts_value

CAPTURES = json.loads(
    (Path(__file__).parent.parent / "cases" / "helmet" / "helmet-captures.json").read_text("utf-8")
)
VOLATILE = {"content-type", "content-length", "etag", "date", "connection", "keep-alive"}

HELMET_DEFAULTS = [
    (
        "Content-Security-Policy",
        "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
        "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
        "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests",
    ),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Origin-Agent-Cluster", "?1"),
    ("Referrer-Policy", "no-referrer"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-DNS-Prefetch-Control", "off"),
    ("X-Download-Options", "noopen"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Permitted-Cross-Domain-Policies", "none"),
    ("X-XSS-Protection", "0"),
]

OPTION_HEADERS = {
    "content_security_policy": "Content-Security-Policy",
    "cross_origin_opener_policy": "Cross-Origin-Opener-Policy",
    "cross_origin_resource_policy": "Cross-Origin-Resource-Policy",
    "origin_agent_cluster": "Origin-Agent-Cluster",
    "referrer_policy": "Referrer-Policy",
    "strict_transport_security": "Strict-Transport-Security",
    "x_content_type_options": "X-Content-Type-Options",
    "x_dns_prefetch_control": "X-DNS-Prefetch-Control",
    "x_download_options": "X-Download-Options",
    "x_frame_options": "X-Frame-Options",
    "x_permitted_cross_domain_policies": "X-Permitted-Cross-Domain-Policies",
    "x_xss_protection": "X-XSS-Protection",
}
ALIASES = {
    "hsts": "strict_transport_security",
    "no_sniff": "x_content_type_options",
    "dns_prefetch_control": "x_dns_prefetch_control",
    "ie_no_open": "x_download_options",
    "frameguard": "x_frame_options",
    "permitted_cross_domain_policies": "x_permitted_cross_domain_policies",
    "hide_powered_by": "x_powered_by",
    "xss_filter": "x_xss_protection",
}


def opts(name: str, value: Any) -> dict[str, Any]:
    return {name: value}


def names(policy: HeaderPolicy) -> list[str]:
    return [name for name, _ in policy.headers]


# -- defaults ---------------------------------------------------------------------------------


def test_defaults_are_helmets_byte_for_byte() -> None:
    policy = secure_headers()
    assert policy.headers == HELMET_DEFAULTS
    assert policy.remove == ("x-powered-by",)
    assert policy.dynamic is False
    assert policy.uses_nonce is False
    assert policy.csp_report_path is None
    expected_raw = [tuple(p) for p in CAPTURES["express"]["defaults"]["raw_headers"]]
    assert policy.headers == [p for p in expected_raw if p[0].lower() not in VOLATILE]


def test_default_directives_match_helmet() -> None:
    assert h.get_default_directives() == CAPTURES["default_directives"]
    first = h.get_default_directives()
    first["default-src"].append("evil.example")
    assert h.get_default_directives()["default-src"] == ["'self'"]


def _capture_value(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("<function"):
        bad = "bad;value" in value
        return lambda ctx: "bad;value" if bad else "'nonce-FIXEDNONCE'"
    if value == "<Symbol(dangerouslyDisableDefaultSrc)>":
        return DANGEROUSLY_DISABLE_DEFAULT_SRC
    if isinstance(value, list):
        return [_capture_value(v) for v in value]
    return value


def _capture_options(options: dict[str, Any]) -> dict[str, Any]:
    def snake(name: str) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()

    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, dict):
            value = {
                ("directives" if k == "directives" else snake(k)): (
                    {dk: _capture_value(dv) for dk, dv in v.items()} if k == "directives" else v
                )
                for k, v in value.items()
            }
        out[snake(key)] = value
    return out


@pytest.mark.parametrize("server", ["express", "node_http"])
@pytest.mark.parametrize("name", sorted(CAPTURES["express"]))
def test_captured_option_sets(server: str, name: str) -> None:
    """Every option set captured from Helmet on express and node:http gives the same headers."""
    capture = CAPTURES[server][name]
    policy = secure_headers(**_capture_options(capture["options"]))
    raw = [tuple(pair) for pair in capture["raw_headers"] if pair[0].lower() not in VOLATILE]
    if capture["status"] == 500:
        with pytest.raises(HeaderRenderError, match="default-src"):
            policy.render()
        return
    powered = [pair for pair in raw if pair[0] == "X-Powered-By"]
    response = [p for p in powered if p[0].lower() not in policy.remove] + policy.render()
    assert response == raw


# -- on / off / defaults / aliases ----------------------------------------------------------------


@pytest.mark.parametrize("option", sorted(OPTION_HEADERS))
def test_false_turns_a_header_off_and_true_or_empty_dict_keeps_defaults(option: str) -> None:
    off = secure_headers(**opts(option, False))
    assert OPTION_HEADERS[option] not in names(off)
    assert len(off.headers) == len(HELMET_DEFAULTS) - 1
    assert secure_headers(**opts(option, True)).headers == HELMET_DEFAULTS
    assert secure_headers(**opts(option, {})).headers == HELMET_DEFAULTS


def test_coep_is_off_by_default_and_true_gives_require_corp() -> None:
    assert "Cross-Origin-Embedder-Policy" not in names(secure_headers())
    on = secure_headers(cross_origin_embedder_policy=True)
    assert on.headers[1] == ("Cross-Origin-Embedder-Policy", "require-corp")
    assert names(on)[:3] == [
        "Content-Security-Policy",
        "Cross-Origin-Embedder-Policy",
        "Cross-Origin-Opener-Policy",
    ]


def test_x_powered_by_false_keeps_it() -> None:
    assert secure_headers(x_powered_by=False).remove == ()
    assert secure_headers(hide_powered_by=False).remove == ()
    assert h.x_powered_by().remove == ("x-powered-by",)
    assert h.x_powered_by().headers == []


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_legacy_alias_works_like_its_canonical_name(alias: str, canonical: str) -> None:
    settings: tuple[Any, ...] = (False, True, {})
    for value in settings:
        a = secure_headers(**opts(alias, value))
        c = secure_headers(**opts(canonical, value))
        assert (a.headers, a.remove) == (c.headers, c.remove)


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
def test_alias_and_canonical_together_is_an_error(alias: str, canonical: str) -> None:
    with pytest.raises(ConfigError) as info:
        secure_headers(**opts(alias, True), **opts(canonical, True))
    assert alias in str(info.value)
    assert canonical in str(info.value)
    assert f"Remove {alias}" in str(info.value)


def test_alias_values_are_validated_under_the_alias_name() -> None:
    with pytest.raises(ConfigError, match=r"^hsts\.max_age"):
        secure_headers(hsts={"max_age": -1})
    with pytest.raises(ConfigError, match=r"^frameguard\.action"):
        secure_headers(frameguard={"action": "allow-from"})
    policy = secure_headers(hsts={"max_age": 123})
    assert ("Strict-Transport-Security", "max-age=123; includeSubDomains") in policy.headers


def test_unknown_option_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"unknown option 'x_frame_option'.*'x_frame_options'"):
        secure_headers(x_frame_option=False)
    with pytest.raises(ConfigError, match=r"'contentSecurityPolicy'.*'content_security_policy'"):
        secure_headers(contentSecurityPolicy=False)
    with pytest.raises(
        ConfigError, match=r"'strictTransportSecurity'.*'strict_transport_security'"
    ):
        secure_headers(strictTransportSecurity=False)


def test_none_is_not_a_header_setting() -> None:
    with pytest.raises(ConfigError, match=r"referrer_policy=None.*True.*False"):
        secure_headers(referrer_policy=None)


@pytest.mark.parametrize("option", sorted(set(OPTION_HEADERS) - {"strict_transport_security"}))
@pytest.mark.parametrize("value", [42, 0, "yes", "", []])
def test_a_value_without_options_gives_the_defaults_like_helmet(option: str, value: Any) -> None:
    # Helmet reads the options off a number, a string or an array as absent: the defaults.
    with pytest.warns(HeadersWarning, match=f"^{option}: ") as caught:
        policy = secure_headers(**opts(option, value))
    assert caught[0].filename == __file__
    assert policy.headers == secure_headers().headers


@pytest.mark.parametrize("value", [42, 0, "yes", ""])
def test_hsts_rejects_a_primitive_like_helmet(value: Any) -> None:
    # Helmet's `"maxage" in options` throws on a primitive; an array is an object (defaults).
    with pytest.raises(ConfigError) as info:
        secure_headers(strict_transport_security=value)
    message = str(info.value)
    assert message.startswith("strict_transport_security must be True, False or a dict")
    assert repr(value) in message
    with pytest.warns(HeadersWarning, match="holds no options"):
        policy = secure_headers(hsts=[])
    assert policy.headers == secure_headers().headers


def test_unknown_sub_option_gets_did_you_mean() -> None:
    with pytest.raises(ConfigError, match=r"x_frame_options: unknown option 'acton'.*'action'"):
        secure_headers(x_frame_options={"acton": "deny"})
    with pytest.raises(ConfigError, match=r"'maxAge'.*'max_age'"):
        secure_headers(strict_transport_security={"maxAge": 5})
    with pytest.raises(ConfigError, match=r"'permittedPolicies'.*'permitted_policies'"):
        secure_headers(x_permitted_cross_domain_policies={"permittedPolicies": "all"})


# -- each header's options --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "value"),
    [
        ({}, "max-age=31536000; includeSubDomains"),
        ({"max_age": 0}, "max-age=0; includeSubDomains"),
        ({"max_age": 123.9}, "max-age=123; includeSubDomains"),
        ({"max_age": -0.0}, "max-age=0; includeSubDomains"),
        ({"include_sub_domains": False}, "max-age=31536000"),
        ({"preload": True}, "max-age=31536000; includeSubDomains; preload"),
        ({"max_age": 63072000, "preload": True}, "max-age=63072000; includeSubDomains; preload"),
    ],
)
def test_hsts_values(options: dict[str, Any], value: str) -> None:
    assert h.strict_transport_security(**options).headers == [("Strict-Transport-Security", value)]
    assert hsts_value(StrictTransportSecurityOptions(**options)) == value


@pytest.mark.parametrize(
    ("max_age", "fragment"),
    [
        (-1, "-1 is not a valid max-age"),
        (-0.1, "-0.1 is not a valid max-age"),
        (math.inf, "inf is not a valid max-age"),
        (math.nan, "nan is not a valid max-age"),
        ("123", "must be an int (seconds), got str '123'"),
        (True, "must be an int (seconds), got bool True"),
        (None, "must be an int (seconds), got NoneType None"),
        ([], "must be an int (seconds), got list []"),
    ],
)
def test_hsts_bad_max_age(max_age: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        secure_headers(strict_transport_security={"max_age": max_age})
    message = str(info.value)
    assert message.startswith("strict_transport_security.max_age")
    assert fragment in message
    assert "31536000" in message  # the fix shows a good value


def test_hsts_misspellings_point_to_the_right_name() -> None:
    with pytest.raises(ConfigError, match=r"'maxage'.*Did you mean 'max_age'"):
        h.strict_transport_security(maxage=5)
    with pytest.raises(ConfigError, match=r"'include_subdomains'.*'include_sub_domains'"):
        h.strict_transport_security(include_subdomains=False)
    with pytest.raises(ConfigError, match=r"strict_transport_security\.max_age"):
        StrictTransportSecurityOptions(max_age=-5)


@pytest.mark.parametrize(
    ("action", "value"),
    [
        ("deny", "DENY"),
        ("DENY", "DENY"),
        ("sameorigin", "SAMEORIGIN"),
        ("same-origin", "SAMEORIGIN"),
    ],
)
def test_x_frame_options_actions(action: str, value: str) -> None:
    assert h.x_frame_options(action=action).headers == [("X-Frame-Options", value)]


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ("allow-from https://a.example", "frame-ancestors"),
        (" deny", "Remove the surrounding spaces: 'deny'"),
        ("", "'' is not an X-Frame-Options action"),
        (123, "must be a str"),
        (None, "must be a str"),
        ("deny\r\nSet-Cookie: a=b", "not an X-Frame-Options action"),
    ],
)
def test_x_frame_options_bad_actions(action: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        h.x_frame_options(action=action)
    assert str(info.value).startswith("x_frame_options.action")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_x_frame_options_options_class() -> None:
    assert secure_headers(x_frame_options=XFrameOptionsOptions("deny")).headers[9] == (
        "X-Frame-Options",
        "DENY",
    )
    with pytest.raises(ConfigError, match=r"x_frame_options\.action"):
        XFrameOptionsOptions("allow-from")


@pytest.mark.parametrize(
    ("factory", "field", "good", "bad", "hint"),
    [
        (
            "cross_origin_embedder_policy",
            "policy",
            "credentialless",
            "CREDENTIALLESS",
            "credentialless",
        ),
        (
            "cross_origin_opener_policy",
            "policy",
            "noopener-allow-popups",
            "same-orgin",
            "same-origin",
        ),
        ("cross_origin_resource_policy", "policy", "cross-origin", "Same-Site", "same-site"),
        (
            "x_permitted_cross_domain_policies",
            "permitted_policies",
            "master-only",
            "master_only",
            "master-only",
        ),
    ],
)
def test_policy_choice_headers(factory: str, field: str, good: str, bad: str, hint: str) -> None:
    make = getattr(h, factory)
    assert make(**{field: good}).headers[0][1] == good
    with pytest.raises(ConfigError) as info:
        make(**{field: bad})
    message = str(info.value)
    assert message.startswith(f"{factory}.{field}: {bad!r}")
    assert f"Did you mean {hint!r}" in message
    assert "Use one of" in message
    with pytest.raises(ConfigError, match=f"{factory}.{field} must be a str"):
        make(**{field: None})


@pytest.mark.parametrize(
    ("policy", "value"),
    [
        ("no-referrer", "no-referrer"),
        (["origin", "unsafe-url"], "origin,unsafe-url"),
        (
            ("no-referrer", "strict-origin-when-cross-origin"),
            "no-referrer,strict-origin-when-cross-origin",
        ),
        ("", ""),
    ],
)
def test_referrer_policy_values(policy: object, value: str) -> None:
    assert h.referrer_policy(policy=policy).headers == [("Referrer-Policy", value)]
    assert referrer_value(h.ReferrerPolicyOptions(policy)) == value  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ([], "empty"),
        (["origin", "origin"], "'origin' is listed twice"),
        ("strict-origin-when-crossorigin", "Did you mean 'strict-origin-when-cross-origin'"),
        ("ORIGIN", "Did you mean 'origin'"),
        (123, "must be a str or a list of str"),
        ([1], "must be a str Referrer-Policy token, got int 1"),
        (None, "must be a str or a list of str"),
        ({"a": 1}, "must be a str or a list of str"),
    ],
)
def test_referrer_policy_rejections(policy: object, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        secure_headers(referrer_policy={"policy": policy})
    assert str(info.value).startswith("referrer_policy.policy")
    assert fragment in str(info.value)


def test_dns_prefetch_allow() -> None:
    assert h.x_dns_prefetch_control(allow=True).headers == [("X-DNS-Prefetch-Control", "on")]
    assert h.x_dns_prefetch_control(allow=False).headers == [("X-DNS-Prefetch-Control", "off")]
    # Helmet sends "on" for any JavaScript-truthy allow ([] and {} too), else "off".
    truthy: tuple[object, ...] = ("yes", 1, [], {}, 0.5)
    falsy: tuple[object, ...] = ("", 0, 0.0, None, math.nan)
    for allow in truthy:
        assert h.x_dns_prefetch_control(allow=allow).headers == [("X-DNS-Prefetch-Control", "on")]
    for allow in falsy:
        assert h.x_dns_prefetch_control(allow=allow).headers == [("X-DNS-Prefetch-Control", "off")]


@pytest.mark.parametrize(
    "option",
    [
        "origin_agent_cluster",
        "x_content_type_options",
        "x_download_options",
        "x_xss_protection",
        "x_powered_by",
    ],
)
def test_options_for_a_header_without_options_warn_like_helmet(option: str) -> None:
    with pytest.warns(HeadersWarning, match=f"{option}: .* does not take options") as caught:
        policy = secure_headers(**opts(option, {"anything": 1}))
    assert caught[0].filename == __file__  # points at the caller, not at bulletproof
    assert (policy.headers, policy.remove) == (secure_headers().headers, ("x-powered-by",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        secure_headers(**opts(option, {}))
    with pytest.warns(HeadersWarning, match=f"{option}: .* does not take options"):
        policy = secure_headers(**opts(option, "yes"))
    assert (policy.headers, policy.remove) == (secure_headers().headers, ("x-powered-by",))
    with pytest.raises(ConfigError, match=f"{option}=None"):
        secure_headers(**opts(option, None))


def test_standalone_factories_give_one_header() -> None:
    singles = {
        "content_security_policy": HELMET_DEFAULTS[0],
        "cross_origin_embedder_policy": ("Cross-Origin-Embedder-Policy", "require-corp"),
        "cross_origin_opener_policy": HELMET_DEFAULTS[1],
        "cross_origin_resource_policy": HELMET_DEFAULTS[2],
        "origin_agent_cluster": HELMET_DEFAULTS[3],
        "referrer_policy": HELMET_DEFAULTS[4],
        "strict_transport_security": HELMET_DEFAULTS[5],
        "x_content_type_options": HELMET_DEFAULTS[6],
        "x_dns_prefetch_control": HELMET_DEFAULTS[7],
        "x_download_options": HELMET_DEFAULTS[8],
        "x_frame_options": HELMET_DEFAULTS[9],
        "x_permitted_cross_domain_policies": HELMET_DEFAULTS[10],
        "x_xss_protection": HELMET_DEFAULTS[11],
    }
    for factory, header in singles.items():
        policy = getattr(h, factory)()
        assert policy.headers == [header], factory
        assert policy.remove == ()


# -- HeaderPolicy -------------------------------------------------------------------------------


def test_asgi_static_is_precomputed_lower_case_bytes() -> None:
    policy = secure_headers()
    assert policy.asgi_static == tuple(
        (name.lower().encode(), value.encode()) for name, value in HELMET_DEFAULTS
    )
    assert policy.render_asgi() == list(policy.asgi_static)


def test_headers_and_render_return_fresh_lists() -> None:
    policy = secure_headers()
    policy.headers.append(("X-Evil", "1"))
    rendered = policy.render()
    rendered.clear()
    assert policy.headers == HELMET_DEFAULTS
    assert policy.render() == HELMET_DEFAULTS


@pytest.mark.parametrize(
    "entry",
    [
        HeaderEntry("X-Test", "a\r\nSet-Cookie: x=1"),
        HeaderEntry("X-Test", "a\nb"),
        HeaderEntry("X-Test", "nul\x00"),
        HeaderEntry("X-Test", "caf\u00e9"),
        HeaderEntry("X-Test\r\nX-Evil", "a"),
        HeaderEntry("Bad Name", "a"),
    ],
)
def test_a_hand_built_policy_cannot_inject_headers(entry: HeaderEntry) -> None:
    with pytest.raises(ConfigError) as info:
        HeaderPolicy((entry,))
    assert "\n" not in str(info.value)
    assert "\r" not in str(info.value)


def test_a_hand_built_policy_is_checked() -> None:
    with pytest.raises(ConfigError, match="must be a HeaderEntry, got tuple"):
        HeaderPolicy((("X-A", "1"),))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="option names must be strings, got int 1"):
        secure_headers(x_frame_options={1: "deny"})
    with pytest.raises(ConfigError, match="listed twice"):
        HeaderPolicy((HeaderEntry("X-A", "1"), HeaderEntry("x-a", "2")))
    with pytest.raises(ConfigError, match="lower-case header name"):
        HeaderPolicy((), ("X-Powered-By",))
    policy = HeaderPolicy((HeaderEntry("X-A", "1"),), ("server",))
    assert policy.render() == [("X-A", "1")]
    assert policy.asgi_static == ((b"x-a", b"1"),)


NONCE_POLICY: dict[str, Any] = {
    "content_security_policy": {"directives": {"script-src": ["'self'", "{nonce}"]}}
}


def test_nonce_renders_fresh_128_bit_values_never_shared() -> None:
    policy = secure_headers(**NONCE_POLICY)
    assert policy.dynamic
    assert policy.uses_nonce
    assert policy.asgi_static == ()
    assert "script-src 'self' 'nonce-{nonce}'" in policy.headers[0][1]
    pattern = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9+/]{22}==)';")
    seen = set()
    for _ in range(10_000):
        value = policy.render()[0][1]
        match = pattern.search(value)
        assert match is not None, value
        seen.add(match.group(1))
    assert len(seen) == 10_000
    assert all(len(base64.b64decode(n, validate=True)) == 16 for n in list(seen)[:100])
    assert policy.render()[1:] == HELMET_DEFAULTS[1:]


def test_nonce_renders_are_distinct_across_threads() -> None:
    policy = secure_headers(**NONCE_POLICY)
    results: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        mine = [policy.render()[0][1] for _ in range(500)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == len(results) == 4000


def test_new_nonce_is_128_bits_of_standard_base64() -> None:
    nonces = {new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    for nonce in list(nonces)[:50]:
        assert len(nonce) == 24
        assert nonce.endswith("==")
        assert len(base64.b64decode(nonce, validate=True)) == 16


def test_render_uses_the_given_nonce_and_context() -> None:
    policy = secure_headers(**NONCE_POLICY)
    nonce = new_nonce()
    assert f"'nonce-{nonce}'" in policy.render(nonce=nonce)[0][1]
    assert f"'nonce-{nonce}'" in policy.render(context=HeaderContext(nonce=nonce))[0][1]
    asgi = policy.render_asgi(nonce=nonce)
    assert asgi == [(n.lower().encode(), v.encode()) for n, v in policy.render(nonce=nonce)]


@pytest.mark.parametrize(
    "nonce",
    ["abc", "a" * 20 + "'; script-src *", "a" * 20 + "\r\nSet-Cookie: x=1", "a" * 200, 12345],
)
def test_a_bad_nonce_cannot_reach_the_header(nonce: Any) -> None:
    policy = secure_headers(**NONCE_POLICY)
    with pytest.raises(HeaderRenderError, match="not a CSP nonce"):
        policy.render(nonce=nonce)
    with pytest.raises(HeaderRenderError):
        policy.render_asgi(nonce=nonce)


def test_static_policy_ignores_a_nonce() -> None:
    policy = secure_headers()
    assert policy.render(nonce=new_nonce()) == HELMET_DEFAULTS


def test_callable_sources_get_the_context() -> None:
    calls: list[HeaderContext] = []

    def source(context: HeaderContext) -> str:
        calls.append(context)
        return "cdn.example"

    policy = secure_headers(
        content_security_policy={"directives": {"script-src": ["'self'", source, "{nonce}"]}}
    )
    assert policy.dynamic
    assert policy.uses_nonce
    assert "script-src 'self' {dynamic} 'nonce-{nonce}'" in policy.headers[0][1]
    request = object()
    nonce = new_nonce()
    value = policy.render(context=HeaderContext(nonce=nonce, request=request))[0][1]
    assert f"script-src 'self' cdn.example 'nonce-{nonce}';" in value
    assert calls[-1].request is request
    assert calls[-1].nonce == nonce
    policy.render()  # no context: a fresh nonce, request None
    assert calls[-1].request is None
    assert calls[-1].nonce not in (None, nonce)


@pytest.mark.parametrize(
    ("returned", "fragment"),
    [
        ("bad;value", "';'"),
        ("a,b", "','"),
        ("self", "must be quoted"),
        ("x\r\nSet-Cookie: a=b", "control character"),
        (b"bytes", "must return a str"),
        (None, "must return a str"),
    ],
)
def test_invalid_callable_results_fail_the_render(returned: object, fragment: str) -> None:
    policy = h.content_security_policy(directives={"default-src": ["'self'", lambda ctx: returned]})
    with pytest.raises(HeaderRenderError) as info:
        policy.render()
    message = str(info.value)
    assert "'default-src'" in message
    assert fragment in message
    assert "\n" not in message
    assert "\r" not in message


def test_a_raising_callable_fails_the_render_with_its_message() -> None:
    def broken(context: HeaderContext) -> str:
        raise LookupError("no tenant")

    policy = h.content_security_policy(directives={"default-src": [broken]})
    with pytest.raises(
        HeaderRenderError, match="broken for 'default-src' raised LookupError: no tenant"
    ):
        policy.render()
    assert isinstance(HeaderRenderError("x"), h.HeaderRenderError)
    assert not isinstance(HeaderRenderError("x"), ValueError)


# -- Permissions-Policy -------------------------------------------------------------------------


def test_permissions_policy_renders_structured_field() -> None:
    policy = secure_headers(permissions_policy={"camera": [], "geolocation": ["self"]})
    assert policy.headers[-1] == ("Permissions-Policy", "camera=(), geolocation=(self)")
    policy = h.permissions_policy(
        {
            "fullscreen": ["*"],
            "display_capture": ["self", "https://a.example.com", '"https://b.example:8443"'],
            "payment": ["src", "https://*.shop.example"],
        }
    )
    assert policy.headers == [
        (
            "Permissions-Policy",
            'fullscreen=*, display-capture=(self "https://a.example.com" '
            '"https://b.example:8443"), payment=(src "https://*.shop.example")',
        )
    ]
    assert "camera=()" in secure_headers(permissions_policy=True).headers[-1][1]
    assert "Permissions-Policy" not in names(secure_headers(permissions_policy=False))


@pytest.mark.parametrize(
    ("features", "fragment"),
    [
        ({"camara": []}, "Did you mean 'camera'"),
        ({"Camera": []}, "not a feature name"),
        ({"camera\r\n": []}, "not a feature name"),
        ({"camera": "self"}, "must be a list of allowlist entries, got str 'self'"),
        ({"camera": ["'self'"]}, "write 'self' without the single quotes"),
        ({"camera": ["'none'"]}, "use [] to deny"),
        ({"camera": ["*", "self"]}, "give it alone"),
        ({"camera": ["self", "self"]}, "listed twice"),
        ({"camera": ["https://a.example/path"]}, "Remove the path"),
        ({"camera": ["ftp://a.example"]}, "not an allowlist entry"),
        ({"camera": ["https://a.example\r\nX: y"]}, "control character"),
        ({"camera": [1]}, "must be a str allowlist entry"),
        ({"camera": [], "camera_": []}, "not a feature name"),
        ({"display-capture": [], "display_capture": []}, "the same feature"),
        ({}, "no features given"),
        ("camera=()", "must be a dict of feature -> allowlist"),
    ],
)
def test_permissions_policy_validation(features: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        secure_headers(permissions_policy=features)
    assert str(info.value).startswith("permissions_policy")
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_an_unknown_but_well_formed_feature_is_accepted() -> None:
    policy = h.permissions_policy({"future-sensor": ["self"]})
    assert policy.headers == [("Permissions-Policy", "future-sensor=(self)")]


def test_options_classes_are_accepted_everywhere() -> None:
    policy = secure_headers(
        cross_origin_embedder_policy=h.CrossOriginEmbedderPolicyOptions("credentialless"),
        cross_origin_opener_policy=h.CrossOriginOpenerPolicyOptions("unsafe-none"),
        cross_origin_resource_policy=h.CrossOriginResourcePolicyOptions("cross-origin"),
        referrer_policy=h.ReferrerPolicyOptions(["origin"]),
        strict_transport_security=StrictTransportSecurityOptions(max_age=5, preload=True),
        x_dns_prefetch_control=h.XDnsPrefetchControlOptions(allow=True),
        x_permitted_cross_domain_policies=h.XPermittedCrossDomainPoliciesOptions("all"),
        permissions_policy=h.PermissionsPolicyOptions({"usb": ["self"]}),
    )
    assert dict(policy.headers) == {
        **dict(HELMET_DEFAULTS),
        "Cross-Origin-Embedder-Policy": "credentialless",
        "Cross-Origin-Opener-Policy": "unsafe-none",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Referrer-Policy": "origin",
        "Strict-Transport-Security": "max-age=5; includeSubDomains; preload",
        "X-DNS-Prefetch-Control": "on",
        "X-Permitted-Cross-Domain-Policies": "all",
        "Permissions-Policy": "usb=(self)",
    }
    from bulletproof.headers._origin_agent_cluster import OriginAgentClusterOptions
    from bulletproof.headers._permissions import header_value as permissions_value
    from bulletproof.headers._x_content_type_options import XContentTypeOptionsOptions
    from bulletproof.headers._x_download_options import XDownloadOptionsOptions
    from bulletproof.headers._x_powered_by import XPoweredByOptions
    from bulletproof.headers._x_xss_protection import XXssProtectionOptions

    empties = secure_headers(
        origin_agent_cluster=OriginAgentClusterOptions(),
        x_content_type_options=XContentTypeOptionsOptions(),
        x_download_options=XDownloadOptionsOptions(),
        x_powered_by=XPoweredByOptions(),
        x_xss_protection=XXssProtectionOptions(),
    )
    assert (empties.headers, empties.remove) == (HELMET_DEFAULTS, ("x-powered-by",))
    assert permissions_value(h.PermissionsPolicyOptions({"camera": []})) == "camera=()"
    with pytest.raises(ConfigError, match=r"permissions_policy\['camera'\]"):
        h.PermissionsPolicyOptions({"camera": ["'self'"]})
    with pytest.raises(ConfigError, match=r"cross_origin_opener_policy\.policy"):
        h.CrossOriginOpenerPolicyOptions("nope")


def test_permissions_policy_sets_are_sorted_and_types_checked() -> None:
    policy = h.permissions_policy(
        {"geolocation": {"https://b.example", "self", "https://a.example"}}
    )
    assert policy.headers[0][1] == 'geolocation=("https://a.example" "https://b.example" self)'
    with pytest.raises(ConfigError, match="keyed by str feature names"):
        h.permissions_policy({1: []})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="must be a list of allowlist entries, got int 5"):
        h.permissions_policy({"camera": 5})
    with pytest.raises(ConfigError, match="must be a list of str allowlist entries"):
        h.permissions_policy({"camera": {1, 2}})


def test_render_asgi_with_callable_sources() -> None:
    policy = h.content_security_policy(
        use_defaults=False,
        directives={"default-src": [lambda ctx: "a.example"], "script-src": ["{nonce}"]},
    )
    nonce = new_nonce()
    assert policy.render_asgi(nonce=nonce) == [
        (b"content-security-policy", f"default-src a.example;script-src 'nonce-{nonce}'".encode())
    ]
    entry = policy.entries[0]
    assert entry.dynamic
    assert entry.render(HeaderContext(nonce=nonce)) == policy.render(nonce=nonce)[0][1]
    assert HeaderEntry("X-A", "b{nonce}", uses_nonce=True).render(HeaderContext("n")) == "bn"
    assert HeaderEntry("X-A", "1").render(HeaderContext()) == "1"


@pytest.mark.parametrize(
    ("include", "preload", "value"),
    [
        ("x", 1, "max-age=31536000; includeSubDomains; preload"),
        (0, "", "max-age=31536000"),
        (None, [], "max-age=31536000; preload"),
        ([], None, "max-age=31536000; includeSubDomains"),
    ],
)
def test_hsts_flags_use_javascript_truthiness(include: Any, preload: Any, value: str) -> None:
    options = {"include_sub_domains": include, "preload": preload}
    policy = secure_headers(strict_transport_security=options)
    assert ("Strict-Transport-Security", value) in policy.headers


@pytest.mark.parametrize(
    ("max_age", "value"),
    [
        (1.5, "1"),
        (2**53 + 1, "9007199254740992"),
        (1.2345678901234567e20, "123456789012345670000"),
        (10**21, "1e+21"),
        (1e300, "1e+300"),
    ],
)
def test_hsts_max_age_is_printed_as_helmet_prints_it(max_age: float, value: str) -> None:
    policy = secure_headers(strict_transport_security={"max_age": max_age})
    assert ("Strict-Transport-Security", f"max-age={value}; includeSubDomains") in policy.headers


def test_hsts_max_age_beyond_a_double_is_rejected() -> None:
    with pytest.raises(
        ConfigError, match=r"strict_transport_security\.max_age: int .* not a valid"
    ):
        secure_headers(strict_transport_security={"max_age": 10**400})
