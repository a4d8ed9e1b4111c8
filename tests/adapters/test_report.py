# ruff: noqa: TID253  (these tests import the web frameworks they exercise)
"""The CSP report endpoint: the parser, the rate limits, and the endpoint in ASGI and WSGI apps."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from tests.adapters.common import (
    CSP_REPORT,
    CSP_REPORT_BODY,
    HELMET_NAMES,
    ListEmitter,
    TestClient,
    header,
    pairs,
)

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.adapters.flask import BulletproofFlask
from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, Severity
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.headers import secure_headers
from bulletproof.headers._report import (
    DROP_REASONS,
    MAX_REPORT_BYTES,
    CspReportEndpoint,
    CspReportResult,
    parse_csp_report,
)
from bulletproof.testing import CapturingSink, FakeClock

CSP = "application/csp-report"
REPORTS = "application/reports+json"


def reporting_api(*bodies: dict[str, Any], extra: list[Any] | None = None) -> bytes:
    items: list[Any] = [
        {"type": "csp-violation", "age": 10, "url": "https://example.com/", "body": body}
        for body in bodies
    ]
    return json.dumps(items + (extra or [])).encode()


VIOLATION = {
    "documentURL": "https://example.com/",
    "blockedURL": "inline",
    "effectiveDirective": "script-src-elem",
    "originalPolicy": "script-src 'self'",
    "disposition": "report",
    "lineNumber": 4,
    "columnNumber": 9,
    "statusCode": 200,
    "sample": "alert(1)",
}


# -- parse_csp_report ------------------------------------------------------------------------


def test_report_uri_format_becomes_one_event() -> None:
    result = parse_csp_report(
        CSP_REPORT_BODY, CSP, source_ip="203.0.113.9", user_agent="UA/1", clock=FakeClock(5.0)
    )
    assert (result.status, result.error, result.ignored) == (204, None, 0)
    (event,) = result.events
    assert event.action == "csp_violation"
    assert event.category is Category.HEADERS
    assert event.severity is Severity.MEDIUM  # enforced: something was blocked
    assert event.source_ip == "203.0.113.9"
    assert event.user_agent == "UA/1"
    assert event.rule_name == "script-src-elem"
    assert event.timestamp == 5.0
    assert event.details["blocked_uri"] == "https://evil.example/x.js"
    assert event.details["document_uri"] == "https://example.com/page?q=1"
    assert event.details["line_number"] == 12
    assert event.details["format"] == "report-uri"
    assert "https://evil.example/x.js" in event.message


def test_reporting_api_batch_keeps_csp_reports_only() -> None:
    body = reporting_api(
        VIOLATION,
        VIOLATION,
        extra=[{"type": "deprecation", "body": {}}, "junk", {"type": "csp-violation", "body": 1}],
    )
    result = parse_csp_report(body, f"{REPORTS}; charset=utf-8")
    assert result.status == 204
    assert len(result.events) == 2
    assert result.ignored == 3
    event = result.events[0]
    assert event.severity is Severity.LOW  # report-only
    assert event.details["sample"] == "alert(1)"
    assert event.details["format"] == "report-to"
    assert event.rule_name == "script-src-elem"


def test_application_json_is_accepted_for_report_uri() -> None:
    assert parse_csp_report(CSP_REPORT_BODY, "Application/JSON").status == 204


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"{nope", CSP, 400, "not valid JSON"),
        (b"\xff\xfe\xfa", CSP, 400, "not valid JSON"),
        (b'{"csp-report": NaN}', CSP, 400, "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, REPORTS, 413, "over the limit"),
        (b"[" * 30_000 + b"]" * 30_000, REPORTS, 400, "not valid JSON"),
        (b"1" * 5000, CSP, 400, "not valid JSON"),
        (b'"a string"', CSP, 400, "not a CSP report"),
        (b'{"csp-report": "x"}', CSP, 400, "not a CSP report"),
        (b"{}", CSP, 400, "not a CSP report"),
        (CSP_REPORT_BODY, "text/plain", 415, "not a CSP report"),
        (CSP_REPORT_BODY, None, 415, "'none'"),
        (CSP_REPORT_BODY, "x" * 10_000, 415, "..."),
        (b" " * (MAX_REPORT_BYTES + 1), CSP, 413, "over the limit"),
    ],
)
def test_hostile_bodies_never_raise(
    body: bytes, content_type: str | None, status: int, words: str
) -> None:
    result = parse_csp_report(body, content_type)
    assert result.status == status
    assert result.events == ()
    assert result.error is not None
    assert words in result.error
    assert len(result.error) < 200  # never echoes the body


def test_fields_are_bounded_and_typed() -> None:
    report = dict(CSP_REPORT["csp-report"])
    report.update(
        {
            "blocked-uri": "b" * 100_000,
            "original-policy": "p" * 100_000,
            "line-number": True,
            "column-number": -1,
            "status-code": 2**40,
            "document-uri": {"nested": "object"},
            "unknown-field": "dropped",
        }
    )
    body = json.dumps({"csp-report": report}).encode()
    (event,) = parse_csp_report(body, CSP, max_bytes=1 << 20).events
    details = event.details
    assert len(details["blocked_uri"]) <= 1024 + 3
    assert len(details["original_policy"]) <= 4096 + 3
    for dropped in ("line_number", "column_number", "status_code", "document_uri"):
        assert dropped not in details
    assert "unknown-field" not in json.dumps(details)
    assert len(event.message) < 1200


def test_a_batch_is_capped() -> None:
    result = parse_csp_report(
        reporting_api(*[VIOLATION] * 50, extra=[{"type": "deprecation", "body": {}}]), REPORTS
    )
    assert len(result.events) == 20
    assert result.ignored == 31
    assert result.capped == 30  # the CSP reports beyond the cap, not the deprecation report


def test_old_browsers_violated_directive_names_the_rule() -> None:
    body = json.dumps({"csp-report": {"violated-directive": "img-src 'self'"}}).encode()
    (event,) = parse_csp_report(body, CSP).events
    assert event.rule_name == "img-src"
    assert "blocked ?" in event.message


# -- CspReportEndpoint: rate limits ---------------------------------------------------------


def test_per_ip_bucket_refills_over_a_minute() -> None:
    clock = FakeClock()
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(emitter, clock=clock)
    assert all(endpoint.admit("198.51.100.1") for _ in range(10))
    assert not endpoint.admit("198.51.100.1")
    assert endpoint.admit("198.51.100.2")  # another client is not affected
    clock.advance(6)  # 10 per minute: one token every 6 s
    assert endpoint.admit("198.51.100.1")
    assert not endpoint.admit("198.51.100.1")
    assert endpoint.dropped == 2


def test_global_bucket_caps_all_clients_together() -> None:
    clock = FakeClock()
    endpoint = CspReportEndpoint(ListEmitter(), clock=clock)
    admitted = sum(endpoint.admit(f"10.0.{i // 256}.{i % 256}") for i in range(500))
    assert admitted == 100
    assert endpoint.dropped == 400


def test_drop_events_at_most_once_a_minute_with_counts() -> None:
    clock = FakeClock()
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(emitter, clock=clock, per_ip_per_minute=1)
    endpoint.admit("a")
    for _ in range(5):
        endpoint.admit("a")
        clock.advance(1)
    assert emitter.actions() == ["csp_reports_dropped"]
    assert emitter.events[0].details == {
        "dropped": 1,
        "dropped_total": 1,
        "per_ip_limit": 1,
        "global_limit": 0,
        "batch_limit": 0,
    }
    assert emitter.events[0].source_ip == "a"
    clock.advance(60)
    endpoint.admit("a")  # refilled: admitted, and the 4 refused since the event are reported
    endpoint.admit("a")  # dropped: a minute has not passed since that event
    assert emitter.actions() == ["csp_reports_dropped"] * 2
    assert emitter.events[1].details["dropped"] == 4
    assert emitter.events[1].details["dropped_total"] == 5
    assert emitter.events[1].category is Category.HEADERS
    clock.advance(60)
    assert endpoint.flush() == 1
    assert [event.details["dropped"] for event in emitter.events] == [1, 4, 1]
    assert endpoint.dropped == 6


def test_tracked_ips_are_bounded() -> None:
    endpoint = CspReportEndpoint(
        ListEmitter(), clock=FakeClock(), max_tracked_ips=50, total_per_minute=10**9
    )
    for i in range(5000):
        endpoint.admit(f"2001:db8::{i:x}")
    assert endpoint.tracked_ips == 50


def dropped_events(emitter: ListEmitter) -> list[Any]:
    return [event for event in emitter.events if event.action == "csp_reports_dropped"]


def reported(emitter: ListEmitter, key: str = "dropped") -> int:
    """What the csp_reports_dropped events add up to (``key``: the total or one reason)."""
    return sum(int(event.details[key]) for event in dropped_events(emitter))


def test_a_flood_is_counted_exactly() -> None:
    clock = FakeClock()
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(emitter, clock=clock)
    admitted = sum(endpoint.admit("198.51.100.7") for _ in range(5000))
    assert (admitted, endpoint.dropped) == (10, 4990)
    # the first refusal is reported at once, the 4,989 after it when the minute is over
    assert [event.details["dropped"] for event in dropped_events(emitter)] == [1]
    assert endpoint.pending_drops == 4989
    clock.advance(59)
    assert endpoint.flush() == 0
    clock.advance(1)
    assert endpoint.flush() == 4989
    _, last = dropped_events(emitter)
    assert last.details == {
        "dropped": 4989,
        "dropped_total": 4990,
        "per_ip_limit": 4989,
        "global_limit": 0,
        "batch_limit": 0,
    }
    assert last.source_ip == "198.51.100.7"  # every refusal came from that client
    assert last.message == "4989 CSP report(s) refused: 4989 over the per-IP limit (10/min)"
    assert reported(emitter) == endpoint.dropped == 4990
    assert endpoint.pending_drops == 0
    assert endpoint.flush(force=True) == 0


def test_a_long_mixed_flood_adds_up_in_one_event_a_minute() -> None:
    clock = FakeClock()
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(emitter, clock=clock)
    batch = reporting_api(*[VIOLATION] * 25)  # 20 become events at most, 5 beyond the cap
    refused = accepted = 0
    for i in range(20_000):  # 10 minutes at 33 requests a second; one client sends half
        client = "198.51.100.1" if i % 2 else f"203.0.113.{i % 50}"
        if not endpoint.admit(client):
            refused += 1
        elif i % 7 == 0:
            result = endpoint.receive(batch, REPORTS, client_ip=client)
            refused += result.refused + result.capped
            accepted += len(result.events)
        else:
            accepted += len(endpoint.receive(CSP_REPORT_BODY, CSP, client_ip=client).events)
        clock.advance(0.03)
    events = dropped_events(emitter)
    assert 2 <= len(events) <= 11  # bounded: at most one a minute
    stamps = [event.timestamp for event in events]
    # (wall-clock stamps: a 1.7e9 base rounds each 0.03 s step a little)
    assert all(later - earlier > 59.999 for earlier, later in itertools.pairwise(stamps))
    clock.advance(60)
    endpoint.flush()
    assert reported(emitter) == refused == endpoint.dropped
    assert emitter.actions().count("csp_violation") == accepted
    for reason in DROP_REASONS:
        assert reported(emitter, reason) == endpoint.dropped_by_reason[reason] > 0
    assert all(event.source_ip is None for event in dropped_events(emitter)[1:])


def test_a_batch_takes_one_token_per_report() -> None:
    clock = FakeClock()
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(emitter, clock=clock)
    assert endpoint.admit("198.51.100.1")  # the client's 10 tokens: this takes the first
    result = endpoint.receive(reporting_api(*[VIOLATION] * 20), REPORTS, client_ip="198.51.100.1")
    assert isinstance(result, CspReportResult)
    assert result.status == 204  # partly accepted: still a success
    assert (len(result.events), result.refused, result.capped) == (10, 10, 0)
    assert emitter.actions() == ["csp_violation"] * 10 + ["csp_reports_dropped"]
    assert emitter.events[-1].details["dropped"] == 10
    assert emitter.events[-1].details["per_ip_limit"] == 10
    assert not endpoint.admit("198.51.100.1")  # nothing left: 429
    assert endpoint.admit("198.51.100.2")  # another client is not affected
    assert endpoint.dropped == 11
    clock.advance(6)  # one token back
    assert endpoint.admit("198.51.100.1")
    two = reporting_api(VIOLATION, VIOLATION)
    result = endpoint.receive(two, REPORTS, client_ip="198.51.100.1")
    assert (result.status, len(result.events), result.refused) == (204, 1, 1)
    assert endpoint.dropped_by_reason == {"per_ip_limit": 12, "global_limit": 0, "batch_limit": 0}


def test_a_batch_takes_its_tokens_from_the_global_limit_too() -> None:
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(
        emitter, clock=FakeClock(), per_ip_per_minute=1000, total_per_minute=30
    )
    batch = reporting_api(*[VIOLATION] * 20)
    assert endpoint.admit("192.0.2.1")
    assert len(endpoint.receive(batch, REPORTS, client_ip="192.0.2.1").events) == 20
    assert endpoint.admit("192.0.2.2")
    result = endpoint.receive(batch, REPORTS, client_ip="192.0.2.2")
    assert (result.status, len(result.events), result.refused) == (204, 10, 10)
    assert not endpoint.admit("192.0.2.3")
    assert endpoint.dropped_by_reason == {"per_ip_limit": 0, "global_limit": 11, "batch_limit": 0}
    assert emitter.actions().count("csp_violation") == 30


def test_reports_beyond_the_batch_cap_are_dropped_reports() -> None:
    emitter = ListEmitter()
    endpoint = CspReportEndpoint(emitter, clock=FakeClock(), per_ip_per_minute=100)
    assert endpoint.admit("192.0.2.1")
    result = endpoint.receive(reporting_api(*[VIOLATION] * 50), REPORTS, client_ip="192.0.2.1")
    assert (len(result.events), result.capped, result.refused) == (20, 30, 0)
    assert emitter.events[-1].details["batch_limit"] == 30
    assert endpoint.dropped == 30


def test_an_invalid_body_costs_its_token_but_is_no_dropped_report() -> None:
    endpoint = CspReportEndpoint(ListEmitter(), clock=FakeClock(), per_ip_per_minute=1)
    assert endpoint.admit("192.0.2.1")
    assert endpoint.receive(b"{", CSP, client_ip="192.0.2.1").status == 400
    assert endpoint.dropped == 0
    assert not endpoint.admit("192.0.2.1")
    assert endpoint.dropped == 1


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_bytes", 0), ("per_ip_per_minute", float("nan")), ("max_tracked_ips", True)],
)
def test_endpoint_options_are_validated(option: str, value: object) -> None:
    with pytest.raises(ConfigError, match=option):
        CspReportEndpoint(**{option: value})  # type: ignore[arg-type]


def test_a_broken_emitter_does_not_break_the_request(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def emit(self, event: object) -> None:
            raise RuntimeError("down")

    endpoint = CspReportEndpoint(Broken(), clock=FakeClock())
    assert endpoint.receive(CSP_REPORT_BODY, CSP).status == 204
    assert "the emitter raised" in caplog.text


def test_without_an_emitter_reports_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bulletproof.headers")
    CspReportEndpoint(clock=FakeClock()).receive(CSP_REPORT_BODY, CSP)
    assert "no emitter configured" in caplog.text


# -- the endpoint inside the middleware ------------------------------------------------------


async def hello(request: Request) -> Response:
    return PlainTextResponse("Hello world!")


def asgi_client(emitter: Any, clock: FakeClock) -> tuple[TestClient, BulletproofMiddleware]:
    policy = secure_headers(csp_report_path="/csp-report")
    app = BulletproofMiddleware(
        Starlette(routes=[Route("/", hello)]), policy, emitter=emitter, clock=clock
    )
    return TestClient(app), app


def flask_client(emitter: Any, clock: FakeClock) -> tuple[Any, BulletproofFlask]:
    flask_app = Flask(__name__)
    flask_app.add_url_rule("/", "hello", lambda: "Hello world!")
    extension = BulletproofFlask(
        flask_app, secure_headers(csp_report_path="/csp-report"), emitter=emitter, clock=clock
    )
    return flask_app.test_client(), extension


def post(client: Any, body: bytes, content_type: str = CSP) -> Any:
    headers = {"Content-Type": content_type}
    if isinstance(client, TestClient):
        return client.post("/csp-report", content=body, headers=headers)
    return client.post("/csp-report", data=body, headers=headers)


@pytest.fixture(params=["asgi", "wsgi"])
def report_app(request: pytest.FixtureRequest) -> Iterator[tuple[Any, Any, ListEmitter, FakeClock]]:
    emitter = ListEmitter()
    clock = FakeClock()
    if request.param == "asgi":
        client, app = asgi_client(emitter, clock)
        yield client, app.csp_reports, emitter, clock
    else:
        client, extension = flask_client(emitter, clock)
        assert extension.middleware is not None
        yield client, extension.middleware.csp_reports, emitter, clock


@pytest.fixture
def endpoint_client(
    report_app: tuple[Any, Any, ListEmitter, FakeClock],
) -> tuple[Any, Any, ListEmitter]:
    client, endpoint, emitter, _ = report_app
    return client, endpoint, emitter


def status(response: Any) -> int:
    return int(response.status_code)


def raw_headers(response: Any) -> list[tuple[Any, Any]]:
    if isinstance(response, httpx.Response):
        return list(response.headers.raw)
    return list(response.headers.to_wsgi_list())


def body_text(response: Any) -> str:
    if isinstance(response, httpx.Response):
        return response.text
    return str(response.get_data(as_text=True))


def test_valid_report_is_204_and_an_event(endpoint_client: tuple[Any, Any, ListEmitter]) -> None:
    client, _, emitter = endpoint_client
    response = post(client, CSP_REPORT_BODY)
    assert status(response) == 204
    assert body_text(response) == ""
    assert emitter.actions() == ["csp_violation"]
    event = emitter.events[0]
    assert event.source_ip  # the client's address
    assert event.details["blocked_uri"] == "https://evil.example/x.js"
    # the endpoint's answers carry the policy too
    names = {name.lower() for name, _ in pairs(raw_headers(response))}
    assert names >= HELMET_NAMES
    assert "reporting-endpoints" in names


def test_reporting_api_batch(endpoint_client: tuple[Any, Any, ListEmitter]) -> None:
    client, _, emitter = endpoint_client
    assert status(post(client, reporting_api(VIOLATION, VIOLATION), REPORTS)) == 204
    assert emitter.actions() == ["csp_violation", "csp_violation"]


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"{not json", CSP, 400),
        (b"[" * 20_000 + b"]" * 20_000, REPORTS, 400),
        (CSP_REPORT_BODY, "text/html", 415),
        (b"x" * (MAX_REPORT_BYTES + 1), CSP, 413),
    ],
)
def test_bad_reports_are_refused_without_a_traceback(
    endpoint_client: tuple[Any, Any, ListEmitter],
    caplog: pytest.LogCaptureFixture,
    body: bytes,
    content_type: str,
    expected: int,
) -> None:
    client, _, emitter = endpoint_client
    caplog.set_level(logging.INFO)
    response = post(client, body, content_type)
    assert status(response) == expected
    text = body_text(response)
    assert "Traceback" not in text
    assert len(text) < 100
    assert emitter.events == []
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_other_methods_are_405(endpoint_client: tuple[Any, Any, ListEmitter]) -> None:
    client, _, _ = endpoint_client
    response = client.get("/csp-report")
    assert status(response) == 405
    assert header(raw_headers(response), "allow") == ["POST"]


def test_flood_is_429_and_memory_stays_bounded(
    endpoint_client: tuple[Any, Any, ListEmitter],
) -> None:
    client, endpoint, emitter = endpoint_client
    codes = [status(post(client, CSP_REPORT_BODY)) for _ in range(30)]
    assert codes == [204] * 10 + [429] * 20
    assert endpoint.dropped == 20
    assert endpoint.tracked_ips == 1
    assert emitter.actions() == ["csp_violation"] * 10 + ["csp_reports_dropped"]
    assert emitter.events[-1].details["dropped"] == 1
    # the app itself is still served
    assert status(client.get("/")) == 200


def test_a_batch_over_the_limit_is_partly_accepted(
    report_app: tuple[Any, Any, ListEmitter, FakeClock],
) -> None:
    client, endpoint, emitter, _ = report_app
    assert status(post(client, reporting_api(*[VIOLATION] * 20), REPORTS)) == 204
    assert emitter.actions() == ["csp_violation"] * 10 + ["csp_reports_dropped"]
    assert emitter.events[-1].details["per_ip_limit"] == 10
    assert status(post(client, CSP_REPORT_BODY)) == 429  # fully refused
    assert endpoint.dropped == 11


def test_the_end_of_a_flood_is_reported_by_the_next_request(
    report_app: tuple[Any, Any, ListEmitter, FakeClock],
) -> None:
    client, endpoint, emitter, clock = report_app
    codes = [status(post(client, CSP_REPORT_BODY)) for _ in range(30)]
    assert codes.count(429) == 20
    assert reported(emitter) == 1  # the first refusal, at once
    assert status(client.get("/")) == 200
    assert reported(emitter) == 1  # a minute has not passed
    clock.advance(60)
    assert status(client.get("/")) == 200  # any request reports what is pending
    assert [event.details["dropped"] for event in dropped_events(emitter)] == [1, 19]
    assert reported(emitter) == endpoint.dropped == 20


def test_django_middleware_counts_reports_and_reports_the_end_of_a_flood() -> None:
    from django.http import HttpResponse, HttpResponseBase
    from django.test import RequestFactory
    from tests.adapters import test_django  # noqa: F401  (it configures Django's settings)

    from bulletproof.adapters.django import BulletproofMiddleware as DjangoMiddleware

    emitter = ListEmitter()
    clock = FakeClock()
    middleware = DjangoMiddleware(
        lambda request: HttpResponse(b"ok"),
        policy=secure_headers(csp_report_path="/csp-report"),
        emitter=emitter,
        clock=clock,
    )
    factory = RequestFactory()

    def answer(request: Any) -> int:
        response = middleware(request)
        assert isinstance(response, HttpResponseBase)
        return response.status_code

    batch = reporting_api(*[VIOLATION] * 20)
    codes = [answer(factory.post("/csp-report", batch, content_type=REPORTS)) for _ in range(3)]
    assert codes == [204, 429, 429]
    assert emitter.actions() == ["csp_violation"] * 10 + ["csp_reports_dropped"]
    clock.advance(60)
    assert answer(factory.get("/")) == 200
    assert [event.details["dropped"] for event in dropped_events(emitter)] == [10, 2]
    assert middleware.csp_reports is not None
    assert reported(emitter) == middleware.csp_reports.dropped == 12


def test_asgi_declared_oversize_is_refused_before_reading() -> None:
    emitter = ListEmitter()
    policy = secure_headers(csp_report_path="/csp-report")
    app = BulletproofMiddleware(Starlette(routes=[]), policy, emitter=emitter)
    sent: list[dict[str, Any]] = []
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/csp-report",
        "headers": [(b"content-length", b"999999"), (b"content-type", CSP.encode())],
        "client": ("192.0.2.1", 5000),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert reads == 0


def test_asgi_chunked_oversize_stops_reading_at_the_limit() -> None:
    policy = secure_headers(csp_report_path="/csp-report")
    app = BulletproofMiddleware(Starlette(routes=[]), policy, emitter=ListEmitter())
    sent: list[dict[str, Any]] = []
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": b"x" * 4096, "more_body": True}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/csp-report",
        "headers": [(b"content-type", CSP.encode())],
        "client": ("192.0.2.1", 5000),
    }
    asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 413
    assert reads == MAX_REPORT_BYTES // 4096 + 1


def test_events_reach_a_sink_through_the_pipeline(tmp_path: Path) -> None:
    sink = CapturingSink()
    options = PipelineOptions(spool_dir=tmp_path / "spool", fsync=False, durability_lag=0.02)
    with EventPipeline([sink], options=options) as pipeline:
        client, _ = asgi_client(pipeline, FakeClock())
        assert status(post(client, CSP_REPORT_BODY)) == 204
        assert pipeline.drain(timeout=5)
    (event,) = sink.events
    assert event.action == "csp_violation"
    assert event.category is Category.HEADERS
    assert event.details["effective_directive"] == "script-src-elem"
    # the query string of the reported page went through the pipeline's processors
    assert sink.documents[0]["bulletproof"]["details"]["document_uri"].startswith(
        "https://example.com/page"
    )
