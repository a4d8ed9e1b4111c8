"""The Shield (events, refusals, redaction, app errors), [tool.bulletproof.shield], and the
inspector's bounded memory of repeated parts."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.adapters.common import ListEmitter

from bulletproof.config import load_config
from bulletproof.detect import Exclusion, Inspector, RequestInfo, Shield, ShieldConfig
from bulletproof.detect._inspector import _CACHE_SIZE, _PART_CACHE_SIZE
from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, Outcome
from bulletproof.guard import Guard

ATTACK = RequestInfo(
    "GET",
    "/search",
    "q=1%27%20OR%20%271%27%3D%271",
    client_ip="203.0.113.9",
    headers=(("user-agent", "curl/8.5"),),
)


def test_monitor_mode_emits_one_event_and_refuses_nothing() -> None:
    emitter = ListEmitter()
    judged = Shield(Inspector(), emitter=emitter).judge(ATTACK)
    assert not judged.block
    (event,) = emitter.events
    assert event.id == judged.event_id
    assert (event.category, event.action, event.outcome) == (
        Category.MALICIOUS_TRAFFIC,
        "malicious_request",
        Outcome.UNKNOWN,
    )
    assert (event.source_ip, event.url_path, event.user_agent) == (
        "203.0.113.9",
        "/search",
        "curl/8.5",
    )
    assert event.rule_id is not None
    assert event.rule_id.startswith("bp-942")
    assert event.details["verdict"] == "malicious"
    assert event.details["findings"][0]["location"] == "query:q"


def test_block_mode_refuses_with_a_403_that_names_the_event() -> None:
    emitter = ListEmitter()
    guard = Guard(shield=Shield(Inspector(), mode="block", emitter=emitter))
    judged = guard.inspect(ATTACK)
    assert judged.block
    answer = guard.refusal(judged)
    assert answer.status == 403
    assert judged.event_id is not None
    assert judged.event_id.encode() in answer.body
    assert dict(answer.headers)["Cache-Control"] == "no-store"
    assert emitter.events[0].outcome is Outcome.FAILURE
    assert emitter.events[0].types == ("denied",)


def test_normal_requests_emit_nothing_and_invalid_ones_are_invalid_request_events() -> None:
    emitter = ListEmitter()
    shield = Shield(Inspector(), mode="block", emitter=emitter)
    assert shield.judge(RequestInfo("GET", "/", "q=shoes")).event_id is None
    judged = shield.judge(RequestInfo("GET", "/", "q=%zz"))
    assert not judged.block  # invalid is reported, never refused
    assert [e.category for e in emitter.events] == [Category.INVALID_REQUEST]


def test_the_apps_4xx_is_reported_once_and_only_when_asked() -> None:
    emitter = ListEmitter()
    shield = Shield(Inspector(), emitter=emitter)
    request = RequestInfo("GET", "/nope")
    shield.app_error(request, 404)
    shield.app_error(request, 500)  # not a client error
    shield.app_error(request, 302)
    assert [(e.action, e.status_code) for e in emitter.events] == [("app_client_error", 404)]
    judged = shield.judge(ATTACK)
    shield.app_error(ATTACK, 400, judged)  # already reported as malicious
    assert len(emitter.events) == 2
    quiet = Shield(Inspector(), emitter=emitter, app_errors=False)
    quiet.app_error(request, 404)
    assert len(emitter.events) == 2


def test_secret_fields_and_query_values_are_redacted_in_events() -> None:
    emitter = ListEmitter()
    request = RequestInfo(
        "POST",
        "/login",
        "token=abc123&next=%2F",
        headers=(("content-type", "application/x-www-form-urlencoded"),),
        body=b"user=ann&password=%27%20or%201%3D1--",
    )
    Shield(Inspector(), emitter=emitter).judge(request)
    (event,) = emitter.events
    finding = next(f for f in event.details["findings"] if f["location"] == "form:password")
    assert "or 1=1" not in finding["evidence"]
    assert "redacted" in finding["evidence"]
    assert event.url_query == "token=[redacted]&next=%2F"
    assert "abc123" not in str(event.to_ecs())


def test_a_broken_emitter_does_not_fail_the_request(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def emit(self, event: object) -> None:
            raise RuntimeError("sink down")

    judged = Shield(Inspector(), mode="block", emitter=Broken()).judge(ATTACK)
    assert judged.block
    assert "the emitter raised" in caplog.text


def test_bad_modes_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"shield\.mode"):
        Shield(Inspector(), mode="deny")
    with pytest.raises(ConfigError, match=r"not a bulletproof\.guard\.Shield"):
        Guard(shield=Inspector())  # type: ignore[arg-type]


def _config(tmp_path: Path, body: str) -> ShieldConfig:
    (tmp_path / "bulletproof.toml").write_text(body, encoding="utf-8")
    return load_config(tmp_path, env={}).shield


def test_the_shield_section_loads_with_its_exclusions(tmp_path: Path) -> None:
    config = _config(
        tmp_path,
        """
[shield]
mode = "block"
threshold = 6
body_limit = "128KiB"
disabled_rules = ["bp-942280"]
exclusions = [
  { path = "/cms/*", rules = ["bp-941"] },
  { path = "/api/search", fields = ["query:q"] },
  { path = "/healthz" },
]
""",
    )
    assert (config.mode, config.threshold, config.body_limit) == ("block", 6, 128 * 1024)
    assert config.exclusions == (
        Exclusion("/cms/*", rules=("bp-941",)),
        Exclusion("/api/search", fields=("query:q",)),
        Exclusion("/healthz"),
    )
    shield = config.build(None)
    assert shield is not None
    assert shield.mode == "block"
    assert shield.inspector.threshold == 6
    disabled = _config(tmp_path, "[shield]\nenabled = false\n")
    assert disabled.build(None) is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[shield]\nmode = "deny"\n', "use 'monitor'"),
        ("[shield]\nthreshold = 0\n", "threshold"),
        ('[shield]\nexclusions = "/cms"\n', "a list of tables"),
        ('[shield]\nexclusions = [{ rules = ["bp-941"] }]\n', "path is missing"),
        ('[shield]\nexclusions = [{ path = "cms" }]\n', "starting with '/'"),
        ('[shield]\nexclusions = [{ path = "/x", rule = ["bp-941"] }]\n', "unknown key 'rule'"),
        ('[shield]\nexclusions = [{ path = "/x", rules = [1] }]\n', "list of strings"),
        ('[shield]\nmdoe = "block"\n', "Did you mean 'mode'"),
    ],
)
def test_a_bad_shield_section_names_the_key_and_the_fix(
    tmp_path: Path, body: str, words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        _config(tmp_path, body)


def test_the_environment_sets_the_mode(tmp_path: Path) -> None:
    (tmp_path / "bulletproof.toml").write_text("", encoding="utf-8")
    config = load_config(tmp_path, env={"BULLETPROOF_SHIELD__MODE": "block"})
    assert config.shield.mode == "block"


def test_what_the_inspector_remembers_is_bounded_and_changes_no_verdict() -> None:
    inspector = Inspector()
    for i in range(3 * _CACHE_SIZE):
        request = RequestInfo(
            "GET", "/", f"q=value-{i}%20x", headers=(("user-agent", f"ua {i} ;"),)
        )
        assert inspector.inspect(request).verdict == "normal"
    assert len(inspector._match_cache) <= _CACHE_SIZE
    assert len(inspector._norm_cache) <= _CACHE_SIZE
    assert len(inspector._part_cache) <= _PART_CACHE_SIZE
    first = inspector.inspect(ATTACK)
    again = inspector.inspect(ATTACK)  # from what it remembers
    fresh = Inspector().inspect(ATTACK)
    assert first == again == fresh
    assert len(inspector._clean_pairs) <= _CACHE_SIZE


def test_pieces_remembered_as_clean_are_skipped_and_hide_nothing() -> None:
    """A query pair, a cookie or a header line that gave no finding is remembered by its raw
    text and skipped next time; a piece that gave a finding or a decoding flag never is."""
    inspector = Inspector()
    headers = (
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Firefox/127.0"),
        ("cookie", "theme=dark; sid=abc123"),
        ("x-http-method-override", "DELETE"),
        ("referer", "https://shop.example.com/?a=%2527"),
    )
    first = inspector.inspect(RequestInfo("GET", "/a", "page=2&q=%2527x", headers=headers))
    rules = {(f.location, f.rule) for f in first.findings}
    assert {("query:q", "bp-920230"), ("header:x-http-method-override", "bp-920210")} <= rules
    assert "page=2" in inspector._clean_pairs
    assert "q=%2527x" not in inspector._clean_pairs  # double-encoded: flagged each time
    assert {"theme=dark", " sid=abc123"} <= set(inspector._clean_cookies)
    assert headers[0] in inspector._clean_headers
    assert headers[2] not in inspector._clean_headers  # its finding is made on every request
    assert headers[3] not in inspector._clean_headers
    # a new request line with the same pieces: the skipped pieces change nothing
    second = inspector.inspect(RequestInfo("GET", "/b", "page=2&q=%2527x", headers=headers))
    assert second.findings == first.findings
    assert second == Inspector().inspect(
        RequestInfo("GET", "/b", "page=2&q=%2527x", headers=headers)
    )
    # the same clean pair beside an attack, or in a form body: the attack is still caught
    attack = inspector.inspect(
        RequestInfo("GET", "/c", "page=2&id=1%27%20OR%20%271%27%3D%271", headers=headers)
    )
    assert attack.verdict == "malicious"
    assert any(f.location == "query:id" and f.type == "sqli" for f in attack.findings)
    form = inspector.inspect(
        RequestInfo(
            "POST",
            "/c",
            headers=(("content-type", "application/x-www-form-urlencoded"),),
            body=b"page=2&comment=%3Cscript%3Ealert(1)%3C/script%3E",
        )
    )
    assert form.verdict == "malicious"
    assert {f.location for f in form.findings} == {"form:comment"}


def test_cookie_lines_remembered_as_clean_still_count_against_the_limit() -> None:
    inspector = Inspector(max_fields=8)
    line = "; ".join(f"c{i}=v{i}" for i in range(4))
    request = RequestInfo(
        "GET", "/", headers=(("cookie", line), ("cookie", line), ("cookie", "x=1"))
    )
    for _ in range(3):  # the first two lines are remembered as clean after the first request
        result = inspector.inspect(request)
        assert [f.rule for f in result.findings] == ["bp-920380"]
        assert result.verdict == "invalid"
    assert ("cookie", line) in inspector._clean_headers
