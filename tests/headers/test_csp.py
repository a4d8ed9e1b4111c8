"""Content-Security-Policy: directive names, values, nonces, callables, report-only, reporting."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

import bulletproof.headers as h
from bulletproof.errors import ConfigError
from bulletproof.headers import (
    DANGEROUSLY_DISABLE_DEFAULT_SRC,
    ContentSecurityPolicyOptions,
    HeaderContext,
    secure_headers,
)
from bulletproof.headers._csp import CompiledCSP, compile_csp, header_value

HELMET_CSP = (
    "default-src 'self';base-uri 'self';font-src 'self' https: data:;form-action 'self';"
    "frame-ancestors 'self';img-src 'self' data:;object-src 'none';script-src 'self';"
    "script-src-attr 'none';style-src 'self' https: 'unsafe-inline';upgrade-insecure-requests"
)


def csp(**directives: Any) -> str:
    """The CSP text for ``directives`` without Helmet's defaults."""
    return compile_csp({"use_defaults": False, "directives": directives}).text


def csp_error(options: Any, *, option: str = "content_security_policy") -> str:
    with pytest.raises(ConfigError) as info:
        secure_headers(**{option: options})
    message = str(info.value)
    assert message.startswith(option), message
    assert "\n" not in message
    assert "\r" not in message
    return message


def test_header_value_is_helmets_default() -> None:
    assert header_value() == HELMET_CSP
    assert header_value(ContentSecurityPolicyOptions()) == HELMET_CSP
    assert h.content_security_policy().headers == [("Content-Security-Policy", HELMET_CSP)]


@pytest.mark.parametrize("name", ["default-src", "defaultSrc", "default_src"])
def test_three_spellings_of_a_directive_name(name: str) -> None:
    assert compile_csp({"use_defaults": False, "directives": {name: ["'none'"]}}).text == (
        "default-src 'none'"
    )


def test_snake_case_works_for_long_names() -> None:
    text = csp(default_src=["'none'"], script_src_elem=["'self'"], upgrade_insecure_requests=[])
    assert text == "default-src 'none';script-src-elem 'self';upgrade-insecure-requests"


@pytest.mark.parametrize(
    ("first", "second"),
    [("defaultSrc", "default-src"), ("default_src", "default-src"), ("defaultSrc", "default_src")],
)
def test_two_spellings_of_one_directive_are_a_duplicate(first: str, second: str) -> None:
    message = csp_error({"directives": {first: ["'self'"], second: ["'self'"]}})
    assert repr(first) in message
    assert repr(second) in message
    assert "Keep one" in message


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "not a valid directive name"),
        ("DefaultSrc", "Did you mean 'default-src'"),
        ("default src", "not a valid directive name"),
        (" default-src", "Did you mean 'default-src'"),
        ("default-src\r\n", "not a valid directive name"),
        ("default_Src", "not a valid directive name"),
        ("_default_src", "Did you mean 'default-src'"),
        (42, "keyed by str directive names"),
    ],
)
def test_bad_directive_names(name: Any, fragment: str) -> None:
    assert fragment in csp_error({"directives": {name: ["'self'"]}})


def test_an_unknown_well_formed_directive_is_accepted_as_in_helmet() -> None:
    assert csp(default_src=["'self'"], somethingElse=["x"]) == "default-src 'self';something-else x"


def test_defaults_merge_in_place_and_none_drops() -> None:
    policy = secure_headers(
        content_security_policy={
            "directives": {
                "script-src": ["'self'", "cdn.example"],
                "style-src": None,
                "worker-src": ["'none'"],
            }
        }
    )
    text = policy.headers[0][1]
    assert "script-src 'self' cdn.example;script-src-attr" in text  # kept its place
    assert "style-src" not in text
    assert text.endswith("upgrade-insecure-requests;worker-src 'none'")


def test_string_values_are_kept_verbatim_and_empty_means_bare() -> None:
    assert csp(defaultSrc="'self'  example.com", sandbox="", img_src=[]) == (
        "default-src 'self'  example.com;sandbox;img-src"
    )


def test_iterables_are_read_once_and_sets_are_sorted() -> None:
    text = csp(
        default_src=(s for s in ["'self'", "a.example"]),
        img_src={"z.example", "a.example", "m.example"},
        font_src=frozenset({"b.example", "a.example"}),
    )
    assert text == (
        "default-src 'self' a.example;img-src a.example m.example z.example;"
        "font-src a.example b.example"
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (["self"], "'self' must be quoted: write \"'self'\""),
        (["none"], "must be quoted"),
        (["strict-dynamic"], "must be quoted"),
        (["nonce-abc"], "must be quoted"),
        (["sha256-abc"], "must be quoted"),
        (["a;b"], "contains ';'"),
        (["a,b"], "contains ','"),
        (["a.example\r\nSet-Cookie: x=1"], "control character"),
        (["a.example\tb"], "control character"),
        (["b\u00fccher.example"], "punycode"),
        (False, "bool False is not a directive value"),
        (0, "int 0 is not a directive value"),
        (True, "must be a list of str sources"),
        (5, "must be a list of str sources"),
        ({"a": 1}, "must be a list of str sources"),
        ([["'self'"]], "must be a str source or a callable"),
        ([{}], "must be a str source or a callable"),
        (b"'self'", "must be a list of str sources"),
        ({"a.example", lambda c: "x"}, "a list (not a set) when it holds callables"),
    ],
)
def test_bad_directive_values(value: Any, fragment: str) -> None:
    message = csp_error({"directives": {"script-src": value}})
    assert "content_security_policy.directives['script-src']" in message
    assert fragment in message


def test_default_src_rules() -> None:
    assert "DANGEROUSLY_DISABLE_DEFAULT_SRC" in csp_error({"directives": {"default-src": None}})
    missing = csp_error({"use_defaults": False, "directives": {"script-src": ["'self'"]}})
    assert "no default-src" in missing
    assert "DANGEROUSLY_DISABLE_DEFAULT_SRC" in missing
    assert "no directives" in csp_error({"use_defaults": False})
    assert "no directives" in csp_error(
        {"use_defaults": False, "directives": {"default-src": DANGEROUSLY_DISABLE_DEFAULT_SRC}}
    )
    assert "only applies to default-src" in csp_error(
        {"directives": {"script-src": DANGEROUSLY_DISABLE_DEFAULT_SRC}}
    )
    text = csp(default_src=DANGEROUSLY_DISABLE_DEFAULT_SRC, script_src=["'self'"])
    assert text == "script-src 'self'"
    assert repr(DANGEROUSLY_DISABLE_DEFAULT_SRC) == "DANGEROUSLY_DISABLE_DEFAULT_SRC"


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"directives": ["default-src"]}, "directives must be a dict"),
        ({"directives": "default-src 'self'"}, "directives must be a dict"),
        ({"directives": [{}]}, "directives must be a dict"),
        ({"reportOnly": True}, "Did you mean 'report_only'"),
        ({"directive": {}}, "Did you mean 'directives'"),
    ],
)
def test_bad_csp_options(options: Any, fragment: str) -> None:
    assert fragment in csp_error(options)


def test_options_class_is_validated() -> None:
    with pytest.raises(ConfigError, match="use_defaults must be a bool"):
        ContentSecurityPolicyOptions(use_defaults="yes")  # type: ignore[arg-type]
    options = ContentSecurityPolicyOptions({"default-src": ["'none'"]}, use_defaults=False)
    assert secure_headers(content_security_policy=options).headers[0] == (
        "Content-Security-Policy",
        "default-src 'none'",
    )


def test_report_only() -> None:
    policy = secure_headers(content_security_policy={"report_only": True})
    assert policy.headers[0] == ("Content-Security-Policy-Report-Only", HELMET_CSP)
    assert "Content-Security-Policy" not in [n for n, _ in policy.headers]


def test_enforced_and_report_only_at_the_same_time() -> None:
    policy = secure_headers(
        content_security_policy={"directives": {"script-src": ["'self'"]}},
        content_security_policy_report_only={
            "use_defaults": False,
            "directives": {"default-src": ["'none'"], "script-src": ["'self'"]},
        },
    )
    assert [n for n, _ in policy.headers][:3] == [
        "Content-Security-Policy",
        "Content-Security-Policy-Report-Only",
        "Cross-Origin-Opener-Policy",
    ]
    assert policy.headers[1][1] == "default-src 'none';script-src 'self'"
    only_report = secure_headers(
        content_security_policy=False, content_security_policy_report_only=True
    )
    assert only_report.headers[0] == ("Content-Security-Policy-Report-Only", HELMET_CSP)


def test_report_only_option_takes_an_options_object() -> None:
    options = ContentSecurityPolicyOptions({"default-src": ["'none'"]}, use_defaults=False)
    policy = secure_headers(content_security_policy_report_only=options)
    assert policy.headers[1] == ("Content-Security-Policy-Report-Only", "default-src 'none'")


def test_two_report_only_policies_are_refused() -> None:
    alone = secure_headers(content_security_policy={"report_only": True})
    assert alone.headers[0][0] == "Content-Security-Policy-Report-Only"
    with pytest.raises(ConfigError, match="both would send Content-Security-Policy-Report-Only"):
        secure_headers(
            content_security_policy={"report_only": True},
            content_security_policy_report_only=True,
        )
    assert "remove 'report_only'" in csp_error(
        {"report_only": False}, option="content_security_policy_report_only"
    )


def test_csp_report_path_adds_directives_and_reporting_endpoints() -> None:
    policy = secure_headers(
        csp_report_path="/csp-report", content_security_policy_report_only={"use_defaults": True}
    )
    assert policy.csp_report_path == "/csp-report"
    by_name = dict(policy.headers)
    for name in ("Content-Security-Policy", "Content-Security-Policy-Report-Only"):
        assert by_name[name].endswith(";report-uri /csp-report;report-to bulletproof-csp")
    assert policy.headers[-1] == ("Reporting-Endpoints", 'bulletproof-csp="/csp-report"')
    url = secure_headers(csp_report_path="https://reports.example.com/csp?app=1")
    assert url.headers[-1] == (
        "Reporting-Endpoints",
        'bulletproof-csp="https://reports.example.com/csp?app=1"',
    )


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("csp-report", "not a report endpoint"),
        ("//evil.example/r", "not a report endpoint"),
        ("http://reports.example/r", "not a report endpoint"),
        ("/csp report", "not a report endpoint"),
        ('/csp"report', "not a report endpoint"),
        ("/csp;report", "not a report endpoint"),
        ("/csp\r\nSet-Cookie: a=b", "control character"),
        ("/{nonce}", "not a report endpoint"),
        (42, "must be a str path"),
    ],
)
def test_bad_csp_report_paths(path: Any, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        secure_headers(csp_report_path=path)
    assert str(info.value).startswith("csp_report_path")
    assert fragment in str(info.value)


def test_csp_report_path_conflicts() -> None:
    with pytest.raises(ConfigError, match="report-uri is set and csp_report_path"):
        secure_headers(
            csp_report_path="/r", content_security_policy={"directives": {"reportUri": "/x"}}
        )
    with pytest.raises(ConfigError, match="no Content-Security-Policy is sent"):
        secure_headers(csp_report_path="/r", content_security_policy=False)
    assert secure_headers(csp_report_path=None).headers == secure_headers().headers


@pytest.mark.parametrize("source", ["{nonce}", "'nonce-{nonce}'"])
@pytest.mark.parametrize(
    "directive", ["script-src", "style-src", "scriptSrcElem", "style_src_elem"]
)
def test_nonce_placeholder_where_nonces_work(source: str, directive: str) -> None:
    compiled = compile_csp({"directives": {directive: ["'self'", source]}})
    assert compiled.uses_nonce
    assert not compiled.dynamic
    assert "'self' 'nonce-{nonce}'" in compiled.text
    assert "'nonce-abcdefghijklmnopqrstuv=='" in compiled.render(
        HeaderContext(nonce="abcdefghijklmnopqrstuv==")
    )


@pytest.mark.parametrize("directive", ["default-src", "img-src", "script-src-attr", "connect-src"])
def test_nonce_placeholder_elsewhere_is_refused(directive: str) -> None:
    message = csp_error({"directives": {directive: ["{nonce}"]}})
    assert "a nonce only works in script-src" in message


@pytest.mark.parametrize("value", ["'self' {nonce}", ["x{nonce}"], ["'nonce-{nonce}"]])
def test_nonce_placeholder_must_be_its_own_item(value: Any) -> None:
    assert "Give it as its own list item" in csp_error({"directives": {"script-src": value}})


def test_compiled_policy_shape() -> None:
    def source(context: HeaderContext) -> str:
        return "cdn.example"

    compiled = compile_csp(
        {"use_defaults": False, "directives": {"default-src": ["'self'", source], "img-src": [""]}}
    )
    assert isinstance(compiled, CompiledCSP)
    assert compiled.dynamic
    assert not compiled.uses_nonce
    assert compiled.directives[0] == ("default-src", ("'self'", source))
    assert compiled.text == "default-src 'self' {dynamic};img-src"
    # Helmet's per-request form puts a space before every source, even an empty one.
    assert compiled.render(HeaderContext()) == "default-src 'self' cdn.example;img-src "


def test_callables_are_called_per_render_in_order() -> None:
    counter = iter(range(100))

    def tenant(context: HeaderContext) -> str:
        return f"t{next(counter)}.example"

    policy = h.content_security_policy(
        use_defaults=False, directives={"default_src": ["'self'", tenant]}
    )
    assert policy.render()[0][1] == "default-src 'self' t0.example"
    assert policy.render()[0][1] == "default-src 'self' t1.example"


def test_a_policy_is_compiled_once() -> None:
    calls = 0

    class Counting(dict[str, Any]):
        def items(self) -> Any:
            nonlocal calls
            calls += 1
            return super().items()

    policy = secure_headers(content_security_policy={"directives": Counting({"img-src": ["x"]})})
    for _ in range(50):
        policy.render()
    assert calls == 1


@pytest.mark.parametrize(
    ("name", "sent", "guess"),
    [
        ("scirpt-src", "scirpt-src", "script-src"),
        ("frameAnchestors", "frame-anchestors", "frame-ancestors"),
        ("img_scr", "img-scr", "img-src"),
        ("default--src", "default--src", "default-src"),
    ],
)
def test_a_likely_typo_of_a_directive_is_sent_with_a_warning(
    name: str, sent: str, guess: str
) -> None:
    # Helmet sends any well-formed directive name; we send it too, and warn about the typo.
    with pytest.warns(h.HeadersWarning, match=f"unknown directive {name!r}.*{guess!r}") as caught:
        text = csp(**{"default-src": ["'self'"], name: ["a.example"]})
    assert caught[0].filename == __file__
    assert text == f"default-src 'self';{sent} a.example"


def test_json_scalars_in_a_directive_are_sent_as_javascript_prints_them() -> None:
    # Helmet stringifies non-string sources per request, every source prefixed by a space.
    text = csp(default_src=["'self'", 1, 1.0, 1.5, True, None, 10**21], img_src=[""], x=[])
    assert text == "default-src 'self' 1 1 1.5 true null 1e+21;img-src ;x"
    # Without such a source a directive of only "" is the bare name, as in Helmet.
    assert csp(default_src=["'self'"], img_src=[""]) == "default-src 'self';img-src"


@pytest.mark.parametrize(
    ("options", "header", "defaults"),
    [
        ({"use_defaults": "", "directives": {"default-src": "'none'"}}, "", False),
        ({"use_defaults": None, "directives": {"default-src": "'none'"}}, "", False),
        ({"use_defaults": [], "report_only": "yes"}, "-Report-Only", True),
        (
            {"use_defaults": 0, "report_only": 1, "directives": {"defaultSrc": []}},
            "-Report-Only",
            False,
        ),
        ({"report_only": 0}, "", True),
        ({"report_only": None, "directives": None}, "", True),
        ({"directives": []}, "", True),
        ({"directives": ""}, "", True),
    ],
)
def test_csp_flags_use_javascript_truthiness(options: Any, header: str, defaults: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", h.HeadersWarning)  # directives [] / "" warn
        name, value = secure_headers(content_security_policy=options).headers[0]
    assert name == "Content-Security-Policy" + header
    assert (value == HELMET_CSP) is defaults


@pytest.mark.parametrize("value", ["default-src 'self'", 0, [], 1.5])
def test_csp_option_without_options_gives_the_defaults_like_helmet(value: Any) -> None:
    with pytest.warns(h.HeadersWarning, match="^content_security_policy: .* holds no options"):
        policy = secure_headers(content_security_policy=value)
    assert policy.headers[0] == ("Content-Security-Policy", HELMET_CSP)
