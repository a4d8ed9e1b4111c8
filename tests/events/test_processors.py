"""Processors: redaction of secrets, neutralization of control characters, size caps, encoding."""

from __future__ import annotations

import copy
import json
import math
import random
from typing import Any

import pytest

from bulletproof._text import one_line
from bulletproof.events.model import Category, SecurityEvent
from bulletproof.events.processors import (
    REDACTED,
    CapProcessor,
    EnrichProcessor,
    EventEncoder,
    NeutralizeProcessor,
    RedactProcessor,
    default_processors,
)


def details(doc: dict[str, Any]) -> Any:
    return doc["bulletproof"]["details"]


def redact(detail: dict[str, Any], **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"bulletproof": {"category": "auth", "details": detail}, **top}
    return RedactProcessor()(doc)


def ref_encode(doc: dict[str, Any], enc: EventEncoder) -> bytes:
    """What EventEncoder must give: NeutralizeProcessor, then CapProcessor, then json."""
    cap = CapProcessor(enc.max_chars, enc._cap.max_items, enc._cap.max_depth)
    out = cap(NeutralizeProcessor()(doc))
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def assert_one_safe_line(line: bytes) -> Any:
    text = line.decode("utf-8")  # strict: no lone surrogates, valid UTF-8
    for bad in ("\n", "\r", "\u2028", "\u2029", "\x00", "\x85"):
        assert bad not in text
    return json.loads(text)


# -- redaction ---------------------------------------------------------------------------------


def test_header_dict_secrets_are_redacted_and_other_headers_kept() -> None:
    headers = {
        "Authorization": "Bearer abc",
        "Proxy-Authorization": "Basic xyz",
        "Cookie": "sid=1",
        "Set-Cookie": "sid=2; HttpOnly",
        "X-Api-Key": "k1",
        "Accept": "text/html",
        "Host": "example.com",
    }
    out = details(redact({"headers": headers}))["headers"]
    for name in ("Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key"):
        assert out[name] == REDACTED
    assert out["Accept"] == "text/html"
    assert out["Host"] == "example.com"


def test_header_pair_lists_str_and_bytes() -> None:
    pairs = [["authorization", "Bearer a"], ["accept", "*/*"], ("Cookie", "x=1")]
    raw = [(b"set-cookie", b"s=1"), (b"x-api-key", b"k"), (b"host", b"h")]
    out = details(redact({"headers": pairs, "asgi": raw}))
    assert out["headers"] == [["authorization", REDACTED], ["accept", "*/*"], ["Cookie", REDACTED]]
    assert out["asgi"] == [[b"set-cookie", REDACTED], [b"x-api-key", REDACTED], [b"host", b"h"]]


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "PASSWORD",
        "db_password",
        "DB-Password",
        "passwd",
        "token",
        "access_token",
        "refreshToken",
        "secret",
        "client_secret",
        "api_key",
        "apiKey",
        "API-KEY",
        "X-Api-Key",
        "x_api_key",
        "authorization",
        "set_cookie",
        "private_key",
        "sessionid",
        "jsessionid",
    ],
)
def test_secret_field_names_in_nested_details(name: str) -> None:
    nested = {"level1": {"level2": [{"config": {name: "s3cr3t", "user": "bob"}}]}}
    out = details(redact(nested))
    inner = out["level1"]["level2"][0]["config"]
    assert inner[name] == REDACTED
    assert inner["user"] == "bob"
    assert "s3cr3t" not in json.dumps(out)


def test_secret_value_that_is_a_container_is_redacted_whole() -> None:
    out = details(redact({"credentials": {"user": "u", "pin": "1234"}, "tokens": ["a", "b"]}))
    assert out == {"credentials": REDACTED, "tokens": REDACTED}


def test_query_strings_in_url_fields_and_details() -> None:
    doc = redact(
        {"query": "a=1&password=hunter2&b=2", "query_string": "api_key=K&x=y"},
        url={
            "path": "/login",
            "query": "user=bob&token=abc&Pass%77ord=p2&next=%2F",
            "original": "/login?user=bob&secret=s#frag",
            "full": "https://example.com/cb?code=1&access_token=t1#state=2&id_token=t2",
        },
    )
    url = doc["url"]
    assert url["path"] == "/login"
    assert url["query"] == f"user=bob&token={REDACTED}&Pass%77ord={REDACTED}&next=%2F"
    assert url["original"] == f"/login?user=bob&secret={REDACTED}#frag"
    assert url["full"] == (
        f"https://example.com/cb?code=1&access_token={REDACTED}#state=2&id_token={REDACTED}"
    )
    d = details(doc)
    assert d["query"] == f"a=1&password={REDACTED}&b=2"
    assert d["query_string"] == f"api_key={REDACTED}&x=y"


def test_url_inside_a_detail_and_message() -> None:
    doc = redact(
        {
            "referer": "https://app.example/back?session_token=zzz&page=2",
            "request_line": "GET /reset?user=a&new_password=p HTTP/1.1",
            "note": "nothing to see here",
            "path_param": "/app;jsessionid=ABC123?x=1",
        },
        message="probe of /admin?apikey=K9 from 203.0.113.9",
    )
    d = details(doc)
    assert d["referer"] == f"https://app.example/back?session_token={REDACTED}&page=2"
    assert d["request_line"] == f"GET /reset?user=a&new_password={REDACTED} HTTP/1.1"
    assert d["note"] == "nothing to see here"
    assert d["path_param"] == f"/app;jsessionid={REDACTED}?x=1"
    assert doc["message"] == f"probe of /admin?apikey={REDACTED} from 203.0.113.9"


def test_header_block_and_json_body_kept_as_strings() -> None:
    d = details(
        redact(
            {
                "raw_request": (
                    "POST /api HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer abc.def\r\n"
                    "X-Api-Key:k123\r\nContent-Type: application/json\r\n\r\n"
                    '{"user": "bob", "password": "hunter2", "nested": {"api_key":"K\\"Q"}}'
                ),
                "note": "Error: token expired at 12:00",
            }
        )
    )
    raw = d["raw_request"]
    for secret in ("abc.def", "k123", "hunter2", 'K\\"Q'):
        assert secret not in raw
    assert f"Authorization: {REDACTED}\r\n" in raw
    assert f"X-Api-Key:{REDACTED}\r\n" in raw
    assert f'"password": "{REDACTED}"' in raw
    assert f'"api_key":"{REDACTED}"' in raw
    assert "Host: example.com" in raw
    assert '"user": "bob"' in raw
    assert d["note"] == "Error: token expired at 12:00"


@pytest.mark.timeout(30)  # no timing assertion: a quadratic pattern would run for minutes here
def test_redaction_of_huge_hostile_strings_is_fast() -> None:
    proc = RedactProcessor()
    hostile = [
        "?" + "a" * 200_000,
        "a=" * 100_000,
        '"a":"' * 50_000,
        '\\"a":"' * 50_000,
        "\n" + "A" * 200_000,
        "x:" * 100_000,
    ]
    for text in hostile:
        assert proc.redact_text(text) == text  # nothing secret in there, and it returns


def test_non_secret_fields_untouched() -> None:
    detail = {
        "author": "alice",
        "username": "bob",
        "method": "POST",
        "status": 401,
        "ratio": 0.5,
        "flags": [True, None],
        "path": "/a?b=c&d=e",
        "pair": ["accept", "text/html"],
    }
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        user_name="bob",
        url_path="/login",
        url_query="next=/home",
        source_ip="203.0.113.9",
        details=detail,
        timestamp=0.0,
        id="e1",
    )
    before = event.to_ecs()
    after = RedactProcessor()(copy.deepcopy(before))
    assert after == before


def test_extra_fields_and_is_secret() -> None:
    proc = RedactProcessor(extra_fields=["ssn", "Card-Number"])
    out = details(proc({"bulletproof": {"details": {"SSN": "1", "card_number": "2", "x": "3"}}}))
    assert out == {"SSN": REDACTED, "card_number": REDACTED, "x": "3"}
    assert not RedactProcessor().is_secret("card_number")
    assert RedactProcessor().is_secret("X-Auth-Token")


def test_top_level_fields_added_by_a_processor_are_redacted_too() -> None:
    doc = RedactProcessor()(
        {
            "event": {"id": "e", "action": "a"},
            "http": {"request": {"headers": {"authorization": "Bearer q"}}},
            "labels": {"api_token": "t", "env": "prod"},
            "token": "top",
        }
    )
    assert doc["http"]["request"]["headers"]["authorization"] == REDACTED
    assert doc["labels"] == {"api_token": REDACTED, "env": "prod"}
    assert doc["token"] == REDACTED
    assert doc["event"] == {"id": "e", "action": "a"}


def test_secrets_deeper_than_any_cap_do_not_leak() -> None:
    deep: dict[str, Any] = {"password": "leak"}
    for _ in range(100):
        deep = {"d": deep}
    assert "leak" not in json.dumps(details(redact(deep)))


def test_default_chain_redacts_a_real_event_and_enriches() -> None:
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        url_query="user=bob&password=hunter2",
        details={"headers": {"Cookie": "sid=abc"}},
    )
    doc: dict[str, Any] | None = event.to_ecs()
    for proc in default_processors(service="shop", hostname="web1", redact_fields=("pin",)):
        assert doc is not None
        doc = proc(doc)
    assert doc is not None
    line = EventEncoder().encode(doc)
    assert b"hunter2" not in line
    assert b"sid=abc" not in line
    parsed = json.loads(line)
    assert parsed["service"] == {"name": "shop"}
    assert parsed["host"] == {"hostname": "web1"}


def test_enrich_keeps_existing_fields() -> None:
    doc = EnrichProcessor("svc", "h")({"service": {"name": "other"}})
    assert doc == {"service": {"name": "other"}, "host": {"hostname": "h"}}
    assert EnrichProcessor("", "")({}) == {}


# -- neutralization ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a\r\nb", "a\\r\\nb"),
        ("nul\x00", "nul\\0"),
        ("tab\t", "tab\\t"),
        ("esc\x1b[31m", "esc\\x1b[31m"),
        ("del\x7f", "del\\x7f"),
        ("c1\x85\x9b", "c1\\x85\\x9b"),
        ("ls\u2028ps\u2029", "ls\\u2028ps\\u2029"),
        ("lone\udcff", "lone\\udcff"),
        ("hi\ud83d", "hi\\ud83d"),
        ("plain é 日本 😀", "plain é 日本 😀"),
    ],
)
def test_neutralize_text(raw: str, expected: str) -> None:
    assert one_line(raw) == expected  # what NeutralizeProcessor applies to every string


def test_neutralize_values_and_keys() -> None:
    doc: dict[Any, Any] = {
        "msg\r\nInjected: yes": "v\nw",
        "bytes": b"ok \xff\xfe \xe2\x80\xa8 end\n",
        "nan": math.nan,
        "inf": -math.inf,
        "tuple": ("a\x00", 1),
        "set": {3},
        "nested": {"k\u2028": ["x\x85"]},
        7: "int key",
        True: "bool key",
        None: "none key",
        2.5: "float key",
        b"bk\n": "bytes key",
        "fine": [1, 2.5, None, False, "ok"],
        "huge": 10**5000,
    }
    out = NeutralizeProcessor()(doc)
    assert out["msg\\r\\nInjected: yes"] == "v\\nw"
    assert out["bytes"] == "ok \\xff\\xfe \\u2028 end\\n"
    assert out["nan"] == "nan"
    assert out["inf"] == "-inf"
    assert out["tuple"] == ["a\\0", 1]
    assert out["set"] == "{3}"
    assert out["nested"] == {"k\\u2028": ["x\\x85"]}
    assert out["7"] == "int key"
    assert out["true"] == "bool key"
    assert out["null"] == "none key"
    assert out["2.5"] == "float key"
    assert out["bk\\n"] == "bytes key"
    assert out["fine"] == [1, 2.5, None, False, "ok"]
    assert out["huge"] == "[integer too large]"
    assert_one_safe_line(json.dumps(out, ensure_ascii=False, allow_nan=False).encode())


def test_neutralize_survives_a_broken_str_and_cycles() -> None:
    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    loop: list[Any] = []
    loop.append(loop)
    out = NeutralizeProcessor()({"b": Broken(), "loop": loop})
    assert out["b"] == "<Broken>"
    assert "[too deep]" in json.dumps(out)


# -- caps ----------------------------------------------------------------------------------------


def test_cap_cuts_long_strings_and_lists_them() -> None:
    cap = CapProcessor(max_chars=32)
    doc = {
        "@timestamp": "2026-01-01T00:00:00.000000Z" + "0" * 10,
        "message": "m" * 40,
        "event": {"id": "i" * 40, "action": "a" * 33},
        "bulletproof": {"details": {"ok": "short", "body": "b" * 100}},
    }
    out = cap(copy.deepcopy(doc))
    assert out["message"] == "m" * 32 + "...[8 chars cut]"
    assert out["event"]["id"] == "i" * 40
    assert out["@timestamp"] == doc["@timestamp"]
    assert out["event"]["action"] == "a" * 32 + "...[1 chars cut]"
    assert out["bulletproof"]["details"]["ok"] == "short"
    assert out["bulletproof"]["truncated"] == [
        "message",
        "event.action",
        "bulletproof.details.body",
    ]


def test_cap_keeps_uncut_timestamp_even_when_huge() -> None:
    out = CapProcessor(max_chars=16)({"@timestamp": "t" * 100, "event": {"id": "x" * 100}})
    assert out == {"@timestamp": "t" * 100, "event": {"id": "x" * 100}}


def test_cap_trims_wide_and_deep_structures() -> None:
    cap = CapProcessor(max_chars=64, max_items=3, max_depth=4)
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(10):
        deep = {"d": deep}
    doc = {
        "bulletproof": {
            "details": {
                "wide_list": list(range(10)),
                "wide_dict": {f"k{i}": i for i in range(10)},
                "deep": deep,
            }
        }
    }
    out = cap(doc)
    d = out["bulletproof"]["details"]
    assert d["wide_list"] == [0, 1, 2]
    assert d["wide_dict"] == {"k0": 0, "k1": 1, "k2": 2}
    assert d["deep"] == {"d": "[too deep]"}
    assert out["bulletproof"]["truncated"] == [
        "bulletproof.details.wide_list",
        "bulletproof.details.wide_dict",
        "bulletproof.details.deep.d",
    ]


def test_cap_cuts_long_keys_and_bounds_the_truncated_list() -> None:
    out = CapProcessor(max_chars=16)({"k" * 30: 1})
    (key,) = (k for k in out if k != "bulletproof")
    assert key == "k" * 16 + "...[14 chars cut]"
    # Paths in the list are capped like any string.
    assert out["bulletproof"]["truncated"] == [key[:16]]
    many = CapProcessor(max_chars=16, max_items=3)({f"f{i}": "x" * 20 for i in range(3)})
    assert many["bulletproof"]["truncated"] == ["f0", "f1", "f2"]


def test_cap_rejects_silly_limits() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        CapProcessor(max_chars=3)
    with pytest.raises(ValueError, match="max_items"):
        CapProcessor(max_items=0)


# -- encoder -------------------------------------------------------------------------------------

_SPECIAL = [
    "\r",
    "\n",
    "\x00",
    "\t",
    "\x1b",
    "\x7f",
    "\x85",
    "\x9f",
    "\u2028",
    "\u2029",
    "\ud800",
    "\udcff",
    '"',
    "\\",
    "é",
    "日",
    "😀",
    "=",
    "\u00a0",
]
_PLAIN = "abcxyz0123 -_./"


def rand_text(rng: random.Random, special: float) -> str:
    n = rng.choice([0, 1, 2, 5, 10, 30, 70, 200])
    return "".join(
        rng.choice(_SPECIAL) if rng.random() < special else rng.choice(_PLAIN) for _ in range(n)
    )


def rand_key(rng: random.Random, special: float) -> Any:
    r = rng.random()
    if r < 0.04:
        return rng.choice([1, -7, 2.5, True, False, None])
    if r < 0.06:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(4)))
    return rand_text(rng, special)


def rand_value(rng: random.Random, depth: int, special: float) -> Any:
    r = rng.random()
    if depth < 7 and r < 0.18:
        return {
            rand_key(rng, special): rand_value(rng, depth + 1, special)
            for _ in range(rng.choice([0, 1, 2, 4, 9]))
        }
    if depth < 7 and r < 0.28:
        items = [rand_value(rng, depth + 1, special) for _ in range(rng.choice([0, 1, 3, 9]))]
        return tuple(items) if rng.random() < 0.2 else items
    if r < 0.55:
        return rand_text(rng, special)
    if r < 0.65:
        return rng.choice([0, 1, -1, 2**63, 10**30])
    if r < 0.72:
        return rng.choice([0.5, -1e300, math.nan, math.inf, 1e-7])
    if r < 0.8:
        return rng.choice([True, False, None])
    if r < 0.86:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
    if r < 0.9:
        return {rng.randrange(5)}
    return rand_text(rng, 0.0)


def rand_doc(rng: random.Random) -> dict[str, Any]:
    special = rng.choice([0.0, 0.0, 0.02, 0.2])
    doc: dict[str, Any] = {
        "@timestamp": "2026-01-01T00:00:00.000000Z",
        "message": rand_text(rng, special),
        "event": {"id": f"id-{rng.randrange(10**6)}", "action": rand_text(rng, special)},
        "bulletproof": {
            "category": "auth",
            "details": {
                rand_text(rng, special): rand_value(rng, 3, special)
                for _ in range(rng.choice([0, 1, 3, 6]))
            },
        },
    }
    if rng.random() < 0.2:
        doc[rand_key(rng, special)] = rand_value(rng, 1, special)
    return doc


class CountingNeutralize(NeutralizeProcessor):
    calls = 0

    def __call__(self, doc: dict[str, Any]) -> dict[str, Any]:
        CountingNeutralize.calls += 1
        return super().__call__(doc)


@pytest.mark.parametrize(
    "limits", [(8192, 256, 8), (120, 4, 4), (16, 2, 3)], ids=["default", "small", "tiny"]
)
@pytest.mark.parametrize("use_orjson", [True, False], ids=["orjson", "json"])
def test_encoder_fast_and_slow_path_equal_neutralize_then_cap(
    limits: tuple[int, int, int], use_orjson: bool
) -> None:
    rng = random.Random(20261129 + limits[0])  # noqa: S311 - test data, not secrets
    enc = EventEncoder(*limits, use_orjson=use_orjson)
    counter = CountingNeutralize()
    enc._neutralize = counter
    CountingNeutralize.calls = 0
    runs = 600 if limits[0] == 8192 else 300
    for _ in range(runs):
        doc = rand_doc(rng)
        expected = ref_encode(copy.deepcopy(doc), enc)
        got = enc.encode(copy.deepcopy(doc))
        assert json.loads(got) == json.loads(expected), doc
        assert_one_safe_line(got)
    assert CountingNeutralize.calls > 0
    if limits[0] == 8192:
        # With the default limits both paths were exercised.
        assert CountingNeutralize.calls < runs * 0.9


def test_encoder_fast_path_taken_for_a_plain_event() -> None:
    enc = EventEncoder()
    counter = CountingNeutralize()
    enc._neutralize = counter
    CountingNeutralize.calls = 0
    doc = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        source_ip="203.0.113.9",
        details={"attempts": 3, "tags": ["a", "b"], "ctx": {"x": 1}},
    ).to_ecs()
    line = enc.encode(doc)
    assert CountingNeutralize.calls == 0
    assert json.loads(line) == doc


@pytest.mark.parametrize(
    "doc",
    [
        {"bulletproof": "not a dict", "m": "x"},
        {"bulletproof": {"details": "flat string"}},
        {"m": "a\u2028b", "k": [b"\xff"]},
        {(1, 2): "tuple key"},
        {"x": object()},
    ],
)
def test_encoder_odd_documents_still_give_one_line(doc: dict[Any, Any]) -> None:
    line = EventEncoder().encode(doc)
    assert line.count(b"\n") == 0
    assert_one_safe_line(line)


# -- URL credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgres://app:S3cret@db/x", f"postgres://{REDACTED}@db/x"),
        ("referrer https://u:S3cret@h/ then", f"referrer https://{REDACTED}@h/ then"),
        ("https://ghp_abc123@github.com/o/r", f"https://{REDACTED}@github.com/o/r"),
        ("redis://:p@ss@cache:6379/0", f"redis://{REDACTED}@cache:6379/0"),  # unencoded @
        ("two: a://x:y@h1 b://p:q@h2/", f"two: a://{REDACTED}@h1 b://{REDACTED}@h2/"),
        ("https://h/path@not-userinfo", "https://h/path@not-userinfo"),
        ("mail me: bob@example.com", "mail me: bob@example.com"),
        ("no url at all", "no url at all"),
        ("https://@h/", "https://@h/"),
    ],
)
def test_url_credentials_are_redacted(text: str, expected: str) -> None:
    assert RedactProcessor().redact_text(text) == expected


def test_url_credentials_are_redacted_in_every_field_and_the_message() -> None:
    secret = "S3cret"  # noqa: S105 - a test value
    event = SecurityEvent(
        action="csp_violation",
        category=Category.HEADERS,
        message=f"connect to postgres://app:{secret}@db/x failed",
        user_agent=f"bot https://u:{secret}@h/",
        rule_name=f"rule ftp://a:{secret}@f/",
        url_path=f"/r/https://u:{secret}@h/",
        details={"referrer": f"https://u:{secret}@h/", "list": [f"s3://k:{secret}@b/o"]},
    )
    redacted = default_processors()[1](event.to_ecs())
    assert redacted is not None
    line = EventEncoder().encode(redacted)
    assert secret.encode() not in line
    assert line.count(REDACTED.encode()) == 6


def test_userinfo_redaction_is_linear_on_hostile_text() -> None:
    for hostile in ("://" * 200_000, "a" * 600_000 + "://", "x://" + "@" * 500_000):
        out = RedactProcessor().redact_text(hostile)  # finishes at once: no backtracking
        assert len(out) <= len(hostile) + len(REDACTED)


# -- one event's size --------------------------------------------------------------------------


def big_doc(**details: Any) -> dict[str, Any]:
    return SecurityEvent(
        action="probe", category=Category.MALICIOUS_TRAFFIC, id="e-1", details=details
    ).to_ecs()


@pytest.mark.parametrize("use_orjson", [True, False], ids=["orjson", "json"])
@pytest.mark.parametrize(
    "shape",
    ["one-huge-string", "many-fields", "wide-and-deep", "unicode"],
)
def test_an_oversized_event_is_cut_to_the_bound_with_a_marker(use_orjson: bool, shape: str) -> None:
    limit = 64 * 1024
    enc = EventEncoder(max_event_bytes=limit, use_orjson=use_orjson)
    if shape == "one-huge-string":
        doc = big_doc(body="b" * (5 << 20), note="kept")
    elif shape == "many-fields":
        doc = big_doc(**{f"f{i}": "v" * 8000 for i in range(200)})
    elif shape == "wide-and-deep":
        doc = big_doc(rows=[{f"k{j}": j for j in range(250)} for _ in range(250)])
    else:
        doc = big_doc(text="日本" * 200_000, more=["é" * 9000] * 100)
    line = enc.encode(doc)
    assert len(line) <= limit
    out = json.loads(line)
    assert out["event"]["id"] == "e-1"  # the event itself is never dropped
    assert out["event"]["action"] == "probe"
    bp = out["bulletproof"]
    assert bp["category"] == "malicious_traffic"
    assert bp["truncated"]  # says what was cut ...
    if shape != "one-huge-string":  # (one field alone is cut by the field cap already)
        assert bp["truncated_bytes"] > limit  # ... and how big the event was
    assert_one_safe_line(line)
    if shape == "one-huge-string":
        assert bp["details"]["note"] == "kept"
        assert bp["details"]["body"].startswith("bbbb")
        assert "chars cut]" in bp["details"]["body"]


def test_an_event_under_the_bound_is_left_alone() -> None:
    enc = EventEncoder(max_event_bytes=64 * 1024)
    doc = big_doc(body="b" * 8000)
    assert json.loads(enc.encode(copy.deepcopy(doc))) == doc


def test_the_bound_cannot_be_silly() -> None:
    with pytest.raises(ValueError, match="max_event_bytes"):
        EventEncoder(max_event_bytes=100)
