"""The Observatory-compatible grader, driven by the data cases in ``tests/cases/observatory``.

The cases are bulletproof's own (see each file's ``note``); the reference grades come from
``tests/cases/helmet/observatory-grades.json``, the Observatory's own outputs.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from bulletproof.errors import ConfigError, UngradableError
from bulletproof.observatory import (
    GRADES,
    SCORE_MODIFIERS,
    TEST_NAMES,
    CookieJar,
    FetchedResponse,
    GradeResult,
    PreloadList,
    PublicSuffixList,
    Scan,
    Session,
    grade_for_score,
    grade_headers,
    grade_rank,
    grade_scan,
)

CASES = Path(__file__).resolve().parents[1] / "cases"
OBS = CASES / "observatory"
FAMILIES = (
    "csp.json",
    "cookies.json",
    "isolation.json",
    "cors.json",
    "redirection.json",
    "referrer.json",
    "hsts.json",
    "sri.json",
    "framing-sniffing.json",
)


def load(name: str) -> Any:
    return json.loads((OBS / name).read_text(encoding="utf-8"))


def pairs(items: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in items)


def build_scan(case: dict[str, Any]) -> Scan:
    """A Scan from a data case (the schema is described in each case file)."""
    ctx = case.get("context", {})
    host = ctx.get("hostname", "example.org")
    status = ctx.get("status", 200)
    headers = pairs(case.get("headers", []))
    body = case.get("body", "")
    https_on = ctx.get("https", True)
    default_route = [[f"http://{host}/", 301], [f"https://{host}/", status]]
    route = ctx.get("http", default_route)
    earlier = tuple(
        FetchedResponse(hop["url"], hop["status"], pairs(hop.get("headers", [])))
        for hop in ctx.get("chain", [])
    )
    https = None
    if https_on:
        final = FetchedResponse(f"https://{host}/", status, headers, body)
        https = Session((*earlier, final), ctx.get("verified", True))
    http = None
    if route is not None:
        hops = [FetchedResponse(url, code) for url, code in route[:-1]]
        last_url, last_status = route[-1]
        if https_on:
            last = FetchedResponse(last_url, last_status)
        else:
            last = FetchedResponse(last_url, last_status, headers, body)
        http = Session((*hops, last), ctx.get("http_verified", True))
    cors_headers = ctx.get("cors", [])
    cors = None if cors_headers is None else FetchedResponse("", 200, pairs(cors_headers))
    preload = PreloadList(ctx["preload"]) if "preload" in ctx else None
    suffixes = PublicSuffixList.parse("\n".join(ctx["suffixes"])) if "suffixes" in ctx else None
    return Scan(host, https, http, cors, preload=preload, suffixes=suffixes)


def family_cases() -> list[Any]:
    return [
        pytest.param(case, id=f"{fname[:-5]}: {case['name']}")
        for fname in FAMILIES
        for case in load(fname)["cases"]
    ]


@pytest.mark.parametrize("case", family_cases())
def test_family_case(case: dict[str, Any]) -> None:
    result = grade_scan(build_scan(case))
    for test, expected in case["expect"].items():
        assert result.tests[test].result == expected, case["name"]


def test_every_result_string_is_covered_with_its_modifier_and_pass_flag() -> None:
    table = load("results.json")
    uncovered = set(table["uncovered"])
    expected_by_test: dict[str, set[str]] = {}
    for test, result, modifier, passed in table["results"]:
        assert SCORE_MODIFIERS[result] == modifier, result
        expected_by_test.setdefault(test, set()).add(result)
        if result not in uncovered:
            # pass flag as the grader reports it, checked on a real case below
            expected_by_test.setdefault(f"{test}:pass", set()).add(f"{result}={passed}")
    assert set(SCORE_MODIFIERS) == {r for _, r, _, _ in table["results"]}
    assert tuple(t for t in expected_by_test if ":" not in t) == TEST_NAMES

    seen: dict[str, set[str]] = {}
    flags: set[str] = set()
    for fname in (*FAMILIES, "scoring.json"):
        for case in load(fname)["cases"]:
            graded = grade_scan(build_scan(case))
            for test, outcome in graded.tests.items():
                seen.setdefault(test, set()).add(outcome.result)
                flags.add(f"{outcome.result}={outcome.passed}")
    for test in TEST_NAMES:
        missing = expected_by_test[test] - seen.get(test, set()) - uncovered
        assert not missing, f"{test}: no case reaches {sorted(missing)}"
        extra = seen.get(test, set()) - expected_by_test[test]
        assert not extra, f"{test}: unknown results {sorted(extra)}"
        assert expected_by_test[f"{test}:pass"] <= flags, test


def reference_rows() -> list[Any]:
    rows = load("reference-grades.json")["rows"]
    return [pytest.param(row, id=row["reference"]) for row in rows]


@pytest.mark.parametrize("row", reference_rows())
def test_reference_grades_agree_with_the_observatory(row: dict[str, Any]) -> None:
    reference = json.loads((CASES / "helmet" / "observatory-grades.json").read_text())
    expected = reference[row["reference"]]
    got = grade_headers(pairs(row["headers"]), body=row["body"], hostname="example.org")
    assert {name: [t.result, t.score_modifier, t.passed] for name, t in got.tests.items()} == (
        expected["tests"]
    )
    assert list(got.tests) == list(expected["tests"])  # output order
    assert (got.score, got.grade) == (expected["score"], expected["grade"])
    assert (got.tests_passed, got.tests_failed) == (expected["passed"], expected["failed"])


def test_every_reference_row_has_a_header_set() -> None:
    reference = json.loads((CASES / "helmet" / "observatory-grades.json").read_text())
    assert {row["reference"] for row in load("reference-grades.json")["rows"]} == set(reference)


def test_helmet_header_sets_match_the_captures() -> None:
    captures = json.loads((CASES / "helmet" / "helmet-captures.json").read_text())
    rows = {row["reference"]: row for row in load("reference-grades.json")["rows"]}
    keys = {
        "helmet@8.3.0 defaults": "defaults",
        "helmet@8.3.0 + crossOriginEmbedderPolicy:true": "coep_true",
        "helmet@8.3.0 csp nonce (script-src 'self' 'nonce-\u2026')": "csp_nonce_function",
    }
    for ref, key in keys.items():
        raw = [h for h in captures["express"][key]["raw_headers"] if h[0] not in ("Date", "ETag")]
        assert rows[ref]["headers"] == raw, ref
    bare = [h for h in captures["express_bare"] if h[0] not in ("Date", "ETag")]
    assert rows["bare (no security headers)"]["headers"] == bare


def test_secure_header_sets_match_the_installed_package() -> None:
    import secure

    rows = {row["reference"]: row for row in load("reference-grades.json")["rows"]}
    for ref, preset in (
        ("secure@2.0.1 Preset.BASIC", secure.Preset.BASIC),
        ("secure@2.0.1 Preset.BALANCED (with_default_headers)", secure.Preset.BALANCED),
        ("secure@2.0.1 Preset.STRICT", secure.Preset.STRICT),
    ):
        headers = [list(h) for h in secure.Secure.from_preset(preset).headers.items()]
        assert rows[ref]["headers"][1:] == headers, ref


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c["name"]) for c in load("scoring.json")["cases"]]
)
def test_whole_scan_totals(case: dict[str, Any]) -> None:
    got = grade_scan(build_scan(case))
    total = case["expect_total"]
    assert (got.score, got.grade, got.tests_passed, got.tests_failed) == (
        total["score"],
        total["grade"],
        total["passed"],
        total["failed"],
    )


def test_bonus_rule_keeps_each_tests_table_modifier() -> None:
    django = next(
        r
        for r in load("reference-grades.json")["rows"]
        if r["reference"].endswith("defaults") and r["reference"].startswith("Django")
    )
    got = grade_headers(pairs(django["headers"]), body="Hello world!")
    assert got.score == 55  # 100 - 25 - 20; the +20 of bonuses are dropped
    assert got.tests["cross-origin-opener-policy"].score_modifier == 10
    assert sum(t.score_modifier for t in got.tests.values()) == -25


@pytest.mark.parametrize(("score", "grade"), load("grade-chart.json")["chart"])
def test_grade_chart(score: int, grade: str) -> None:
    assert grade_for_score(score) == grade


def test_grade_for_negative_score_and_rank() -> None:
    assert grade_for_score(-10) == "F"
    assert [grade_rank(g) for g in GRADES] == list(range(13))
    with pytest.raises(ConfigError, match="'Z' is not one of A\\+, A, A-"):
        grade_rank("Z")


@pytest.mark.parametrize("status", [200, 204, 301, 304, 401, 403])
def test_graded_statuses(status: int) -> None:
    assert grade_headers([], status=status).grade == "D"


@pytest.mark.parametrize("status", [101, 199, 400, 404, 500, 503])
def test_ungradable_statuses(status: int) -> None:
    with pytest.raises(UngradableError, match=f"HTTP status {status}"):
        grade_headers([], status=status, hostname="shop.example.org")


def test_site_down_is_ungradable() -> None:
    with pytest.raises(UngradableError, match=r"shop\.example\.org: the site seems to be down"):
        grade_scan(Scan("shop.example.org", None, None))
    assert UngradableError("x").exit_code == 3


def test_plain_http_grade_needs_a_route() -> None:
    with pytest.raises(ConfigError, match="https=False with an empty http_route"):
        grade_headers([], https=False, http_route=[])
    got = grade_headers([], https=False)
    assert got.tests["redirection"].result == "redirection-missing"
    assert got.tests["strict-transport-security"].result == "hsts-not-implemented-no-https"


def test_unverified_https_marks_the_route_too() -> None:
    got = grade_headers([("Strict-Transport-Security", "max-age=31536000")], verified=False)
    assert got.tests["strict-transport-security"].result == "hsts-invalid-cert"
    assert got.tests["redirection"].result == "redirection-invalid-cert"


def test_no_plain_http() -> None:
    got = grade_headers([], http_route=[])
    assert got.tests["redirection"].result == "redirection-not-needed-no-http"


def test_headers_are_seen_as_node_joins_them() -> None:
    # Content-Type keeps its first value; other repeats are joined with ", " (so XCTO fails).
    got = grade_headers(
        [
            ("content-type", "application/json"),
            ("Content-Type", "text/html"),
            ("X-Content-Type-Options", "nosniff"),
            ("x-content-type-options", "nosniff"),
        ],
        body="<script src='http://cdn.example.net/a.js'></script>",
    )
    assert got.tests["subresource-integrity"].result == "sri-not-implemented-response-not-html"
    assert got.tests["x-content-type-options"].result == "x-content-type-options-header-invalid"


def test_result_objects_are_frozen_and_serialisable() -> None:
    got = grade_headers([("X-Frame-Options", "DENY")])
    assert isinstance(got, GradeResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.score = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        got.tests["x-frame-options"] = got.tests["cookies"]  # type: ignore[index]
    doc = got.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert list(doc) == ["score", "grade", "passed", "failed", "tests"]
    assert doc["tests"]["x-frame-options"] == {  # type: ignore[index]
        "result": "x-frame-options-sameorigin-or-deny",
        "score_modifier": 5,
        "passed": True,
        "description": "X-Frame-Options is DENY or SAMEORIGIN.",
    }
    assert all(t.description and "\n" not in t.description for t in got.tests.values())


# -- helpers: suffix list, preload list, cookie jar -----------------------------------------------

PSL_TEXT = """\
// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
*.ck
!www.ck
// ===END ICANN DOMAINS===
// ===BEGIN PRIVATE DOMAINS===
github.io
// ===END PRIVATE DOMAINS===
"""


@pytest.mark.parametrize(
    ("host", "icann_only", "expected"),
    [
        ("www.example.com", True, "example.com"),
        ("a.b.example.co.uk", True, "example.co.uk"),
        ("co.uk", True, None),
        ("shop.x.ck", True, "shop.x.ck"),
        ("x.ck", True, None),
        ("www.ck", True, "www.ck"),
        ("a.www.ck", True, "www.ck"),
        ("me.github.io", True, "github.io"),
        ("me.github.io", False, "me.github.io"),
        ("github.io", False, None),
        ("127.0.0.1", True, None),
        ("localhost", True, None),
        ("EXAMPLE.COM.", True, "example.com"),
    ],
)
def test_public_suffix_list(host: str, icann_only: bool, expected: str | None) -> None:
    psl = PublicSuffixList.parse(PSL_TEXT)
    assert psl.registrable_domain(host, icann_only=icann_only) == expected


def test_cookie_domain_on_a_private_suffix_is_refused_with_a_list() -> None:
    psl = PublicSuffixList.parse(PSL_TEXT)
    jar = CookieJar(psl)
    assert not jar.store("https://me.github.io/", "a=1; Domain=github.io")
    assert jar.store("https://me.github.io/", "a=1; Domain=me.github.io")
    assert [c.domain for c in jar.cookies()] == ["me.github.io"]


def test_preload_list_from_chromium_json() -> None:
    text = """{
  // comment lines are allowed
  "entries": [
    {"name": "example.org", "policy": "custom", "mode": "force-https", "include_subdomains": true},
    {"name": "only.example.net", "mode": "force-https"},
    {"name": "pinned.example.com", "include_subdomains": true}
  ]
}"""
    preload = PreloadList.from_chromium_json(text)
    assert preload.is_preloaded("example.org")
    assert preload.is_preloaded("a.b.EXAMPLE.org")
    assert preload.is_preloaded("only.example.net")
    assert not preload.is_preloaded("sub.only.example.net")
    assert not preload.is_preloaded("pinned.example.com")
    assert not preload.is_preloaded("127.0.0.1")
    with pytest.raises(ConfigError, match="HSTS preload list: not Chromium's"):
        PreloadList.from_chromium_json("[1, 2]")


def test_cookie_jar_header_for() -> None:
    jar = CookieJar()
    assert jar.store("https://www.example.org/a/b", "s=1; Secure")
    assert jar.store("https://www.example.org/", "p=2; Path=/a; Domain=example.org")
    assert jar.store("http://www.example.org/", "h=3")
    assert jar.header_for("https://www.example.org/a/x") == "s=1; p=2; h=3"
    assert jar.header_for("http://www.example.org/a") == "p=2; h=3"
    assert jar.header_for("https://api.example.org/a/b") == "p=2"
    assert jar.header_for("https://api.example.org/ab") is None
    assert jar.header_for("https://other.example.net/") is None
    assert not jar.store("https://www.example.org/", "bad\x01name=1")
    assert not jar.store("not a url", "a=1")


# -- linear time on hostile input ------------------------------------------------------------------

HOSTILE = 200_000


@pytest.mark.parametrize(
    "headers_body",
    [
        ([("Content-Type", "text/html")], "<" * HOSTILE),
        ([("Content-Type", "text/html")], "<a " + "b=" * HOSTILE),
        ([("Content-Type", "text/html")], "<script>" + "</scrip" * (HOSTILE // 8)),
        ([("Content-Type", "text/html")], "<meta content='" + "&amp;" * (HOSTILE // 5)),
        ([("Content-Security-Policy", ";" * HOSTILE)], ""),
        ([("Content-Security-Policy", "script-src " + "'self' " * (HOSTILE // 8))], ""),
        ([("Content-Security-Policy", ", ".join(["default-src * 'self' https://a/x"] * 2000))], ""),
        ([("Content-Security-Policy", "default-src " + "https://a.example/ " * 30_000)], ""),
        ([("Content-Type", "text/html")], "<script src='https://" + "a." * HOSTILE + "com'>"),
        ([("Cross-Origin-Opener-Policy", "a" + ";b=" * HOSTILE)], ""),
        ([("Cross-Origin-Embedder-Policy", '"' + "\\" * HOSTILE)], ""),
        ([("Referrer-Policy", "," * HOSTILE)], ""),
        ([("Set-Cookie", "a=1" + ";" * HOSTILE)], ""),
        ([("Strict-Transport-Security", "max-age=" + "9" * HOSTILE)], ""),
    ],
    ids=lambda v: repr(v[0][0][1][:16] + v[1][:16]) if isinstance(v, tuple) else "x",
)
@pytest.mark.timeout(30)  # no timing assertion: a super-linear parser would run for hours here
def test_hostile_input_is_graded_quickly(headers_body: tuple[list[tuple[str, str]], str]) -> None:
    headers, body = headers_body
    result = grade_headers(headers, body=body)
    assert result.grade in GRADES


def test_csp_too_large_to_analyse_is_invalid_but_real_multi_policy_csp_is_not() -> None:
    many = ", ".join(["default-src 'self' https://cdn.example.net/x"] * 2000)
    got = grade_headers([("Content-Security-Policy", many)])
    assert got.tests["content-security-policy"].result == "csp-header-invalid"
    few = ", ".join(["default-src 'self' https://cdn.example.net/x"] * 20)
    got = grade_headers([("Content-Security-Policy", few)])
    assert got.tests["content-security-policy"].result == "csp-implemented-with-no-unsafe"
