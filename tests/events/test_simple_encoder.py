"""SimpleEventEncoder must give exactly what the full chain gives, whenever it answers."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity
from bulletproof.events.processors import (
    EnrichProcessor,
    EventEncoder,
    RedactProcessor,
    SimpleEventEncoder,
)

PIECES = [
    "",
    "plain",
    "login",
    "a=b",
    "x:y",
    "password=hunter2",
    "token=abc&q=1",
    "Authorization: Bearer x",
    '{"api_key": "k"}',
    "line\nbreak",
    "cr\r",
    "nul\x00",
    "tab\t",
    "\x85",
    "\u2028",
    "é",
    "日本",
    "back\\slash",
    "\x7f",
    "GET /a?session=1 HTTP/1.1",
    "#access_token=z",
    "postgres://app:S3cret@db/x",
    "https://ghp_token@github.com/o/r",
    "mailto:a@b",
    ";jsessionid=9",
    "x" * 300,
    "ünïcode=ok",
    "k: v\nCookie: s=1",
]
KEYS = [
    "seq",
    "reason",
    "password",
    "db_password",
    "X-Api-Key",
    "query",
    "path",
    "count",
    "Cookie",
    "note",
    "headers",
    "url",
]


def rand_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3)))


def rand_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return rand_text(rng)
    if roll < 0.5:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.1 else rng.randint(0, 1000)
    if roll < 0.55:
        return rng.choice([True, False, None])
    if roll < 0.6:
        return rng.choice([1.5, math.nan, math.inf, -0.0])
    if roll < 0.65:
        return b"bytes\xff"
    if roll < 0.75 and depth < 3:
        return [rand_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if roll < 0.85 and depth < 3:
        return {rng.choice(KEYS): rand_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    return rand_text(rng)


def rand_event(rng: random.Random) -> SecurityEvent:
    def maybe(value: Any) -> Any:
        return value if rng.random() < 0.6 else None

    details: dict[Any, Any] = {}
    for _ in range(rng.randint(0, 4)):
        details[rng.choice(KEYS)] = rand_value(rng)
    if rng.random() < 0.05:
        details[7] = "int key"
    return SecurityEvent(
        action=rng.choice(["login_failed", "probe", "a:b", "x=y"]),
        category=rng.choice(list(Category)),
        severity=rng.choice(list(Severity)),
        outcome=rng.choice(list(Outcome)),
        message=rand_text(rng),
        source_ip=maybe("203.0.113.9"),
        user_name=maybe(rand_text(rng)),
        url_path=maybe(rand_text(rng)),
        url_query=maybe(rand_text(rng)),
        http_method=maybe("POST"),
        status_code=maybe(rng.choice([401, 200])),
        user_agent=maybe(rand_text(rng)),
        rule_id=maybe("r1"),
        rule_name=maybe(rand_text(rng)),
        details=details,
        timestamp=rng.choice([1.7e9, 1_700_000_000, 1.7e9 + 0.123456]),
    )


def full_chain(
    event: SecurityEvent, enrich: EnrichProcessor, redact: RedactProcessor, encoder: EventEncoder
) -> bytes:
    return encoder.encode(redact(enrich(event.to_ecs())))


@pytest.mark.parametrize("max_chars", [8192, 700])
def test_simple_encoder_equals_full_chain(max_chars: int) -> None:
    rng = random.Random(1129 + max_chars)  # noqa: S311 - test data
    enrich = EnrichProcessor("svc", "host-1")
    redact = RedactProcessor(["ssn"])
    encoder = EventEncoder(max_chars, use_orjson=True)
    simple = SimpleEventEncoder(enrich, redact, encoder)
    answered = 0
    for _ in range(3000):
        event = rand_event(rng)
        fast = simple.encode(event)
        if fast is None:
            continue
        answered += 1
        assert fast == full_chain(event, enrich, redact, encoder), event
    # Both outcomes happen: the fast path is taken for some events, refused for others.
    assert 20 < answered < 2900


def test_simple_encoder_takes_the_common_event() -> None:
    enrich = EnrichProcessor("svc", "h")
    redact = RedactProcessor()
    encoder = EventEncoder(use_orjson=True)
    simple = SimpleEventEncoder(enrich, redact, encoder)
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        severity=Severity.MEDIUM,
        message="failed login",
        source_ip="203.0.113.9",
        user_name="alice",
        url_path="/login",
        http_method="POST",
        status_code=401,
        details={"seq": 1, "attempts": 3},
    )
    line = simple.encode(event)
    assert line is not None
    assert line == full_chain(event, enrich, redact, encoder)


@pytest.mark.parametrize(
    "details",
    [{"password": "x"}, {"q": "token=abc"}, {"nested": {"a": 1}}, {"n": math.nan}, {"b": b"x"}],
)
def test_simple_encoder_refuses_what_needs_the_walk(details: dict[str, Any]) -> None:
    simple = SimpleEventEncoder(
        EnrichProcessor("", ""), RedactProcessor(), EventEncoder(use_orjson=True)
    )
    event = SecurityEvent(action="x", category=Category.AUTH, details=details)
    assert simple.encode(event) is None


def test_simple_encoder_off_without_orjson() -> None:
    simple = SimpleEventEncoder(
        EnrichProcessor("", ""), RedactProcessor(), EventEncoder(use_orjson=False)
    )
    assert simple.encode(SecurityEvent(action="x", category=Category.AUTH)) is None
