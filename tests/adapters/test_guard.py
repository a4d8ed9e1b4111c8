# ruff: noqa: TID253  (these tests import the web frameworks they exercise)
"""The Guard: its own rules, and the check seam seen the same way through every adapter."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from typing import Any

import pytest
from flask import Flask
from tests.adapters.common import HELMET_NAMES, header, pairs

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.adapters.flask import BulletproofFlask
from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
from bulletproof.errors import ConfigError
from bulletproof.guard import ALLOW, Answer, Decision, Guard, RequestInfo
from bulletproof.headers import secure_headers


class Recorder:
    """A RequestCheck that refuses one path and records what it saw."""

    def __init__(self, refuse: str = "/admin", status: int = 403) -> None:
        self.seen: list[RequestInfo] = []
        self.refuse = refuse
        self.status = status

    def __call__(self, request: RequestInfo) -> Decision:
        self.seen.append(request)
        if request.path == self.refuse:
            return Decision(allowed=False, status=self.status, reason="refused by the test")
        return ALLOW


# -- the guard's own rules -------------------------------------------------------------------


def test_with_no_checks_every_request_is_allowed() -> None:
    guard = Guard()
    assert guard.checks == ()
    assert guard.check(RequestInfo("POST", "/anything")) is ALLOW
    assert guard.headers == tuple(secure_headers().headers)


def test_the_first_refusal_wins_and_later_checks_do_not_run() -> None:
    first, second = Recorder("/a"), Recorder("/a", status=429)
    guard = Guard(checks=[first, second])
    assert guard.check(RequestInfo("GET", "/b")) is ALLOW
    decision = guard.check(RequestInfo("GET", "/a"))
    assert (decision.allowed, decision.status) == (False, 403)
    assert [r.path for r in first.seen] == ["/b", "/a"]
    assert [r.path for r in second.seen] == ["/b"]


@pytest.mark.parametrize("status", [200, 302, 600, True, "403"])
def test_a_refusal_needs_an_error_status(status: Any) -> None:
    with pytest.raises(ConfigError, match="400 to 599"):
        Decision(allowed=False, status=status)


def test_bad_guard_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a HeaderPolicy"):
        Guard({"x_frame_options": False})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not callable"):
        Guard(checks=["deny"])  # type: ignore[list-item]


def test_answers() -> None:
    assert Answer.for_status(204) == Answer(204)
    answer = Answer.for_status(405, ("Allow", "POST"))
    assert answer.headers == (
        ("Allow", "POST"),
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", "18"),
    )
    assert (answer.body, answer.reason) == (b"Method Not Allowed", "Method Not Allowed")


@pytest.mark.parametrize(
    ("method", "length", "body_ends", "status"),
    [
        ("GET", None, True, 405),
        ("POST", "12x", True, 400),
        ("POST", "\u00b2", True, 400),  # a digit to str.isdigit, not to int()
        ("POST", "999999", True, 413),
        ("POST", None, False, 411),
        ("POST", "", False, 411),
        ("POST", " 10 ", False, None),
        ("POST", None, True, None),
    ],
)
def test_report_refusals_before_the_body_is_read(
    method: str, length: str | None, body_ends: bool, status: int | None
) -> None:
    guard = Guard(secure_headers(csp_report_path="/r"))
    answer = guard.report_refusal(method, "192.0.2.1", length, body_ends=body_ends)
    assert (answer.status if answer is not None else None) == status


def test_report_bodies_over_the_limit_are_413_without_parsing() -> None:
    guard = Guard(secure_headers(csp_report_path="/r"))
    assert guard.report_answer(b" " * (guard.report_max_bytes + 1), "x").status == 413
    assert guard.report_answer(b"{", "application/csp-report").status == 400


# -- the check seam through every adapter ----------------------------------------------------


def asgi_call(app: Any, path: str) -> tuple[int, list[tuple[str, str]], bytes, list[str]]:
    seen: list[str] = []
    sent: list[Any] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "query_string": b"q=1",
        "headers": [(b"User-Agent", b"probe/1"), (b"x-test", b"yes")],
        "client": ("192.0.2.9", 4000),
    }
    app.app = inner
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], pairs(sent[0]["headers"]), sent[1]["body"], seen


def wsgi_call(app: Any, path: str) -> tuple[int, list[tuple[str, str]], bytes, list[str]]:
    seen: list[str] = []

    def inner(environ: Any, start_response: Any) -> Iterable[bytes]:
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"app"]

    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "q=1",
        "HTTP_USER_AGENT": "probe/1",
        "HTTP_X_TEST": "yes",
        "REMOTE_ADDR": "192.0.2.9",
        "wsgi.input": io.BytesIO(),
    }
    got: list[Any] = []
    app.app = inner
    body = b"".join(
        app(environ, lambda status, headers, exc_info=None: got.extend([status, headers]))
    )
    return int(got[0].split()[0]), pairs(got[1]), body, seen


@pytest.mark.parametrize("call", [asgi_call, wsgi_call], ids=["asgi", "wsgi"])
def test_a_refused_request_never_reaches_the_app_and_still_gets_the_headers(call: Any) -> None:
    check = Recorder()
    middleware = {asgi_call: BulletproofMiddleware, wsgi_call: BulletproofWSGIMiddleware}[call]
    app = middleware(lambda *a: None, guard=Guard(checks=[check]))
    status, headers, body, seen = call(app, "/admin")
    assert (status, body, seen) == (403, b"Forbidden", [])
    assert {name.lower() for name, _ in headers} >= HELMET_NAMES
    status, headers, body, seen = call(app, "/")
    assert (status, body, seen) == (200, b"app", ["/"])
    # both protocols describe the same request the same way
    first = check.seen[0]
    assert (first.method, first.path, first.query, first.client_ip) == (
        "GET",
        "/admin",
        "q=1",
        "192.0.2.9",
    )
    assert ("user-agent", "probe/1") in first.headers
    assert ("x-test", "yes") in first.headers


def test_the_django_middleware_answers_a_refusal() -> None:
    from django.http import HttpResponse, HttpResponseBase
    from django.test import RequestFactory
    from tests.adapters import test_django  # noqa: F401  (it configures Django's settings)

    from bulletproof.adapters.django import BulletproofMiddleware as DjangoMiddleware

    check = Recorder(status=429)
    middleware = DjangoMiddleware(lambda request: HttpResponse(b"app"), guard=Guard(checks=[check]))
    response = middleware(RequestFactory().get("/admin?q=1", HTTP_USER_AGENT="probe/1"))
    assert isinstance(response, HttpResponseBase)
    assert response.status_code == 429
    assert header(list(response.items()), "X-Frame-Options") == ["SAMEORIGIN"]
    (seen,) = check.seen
    assert (seen.path, seen.query) == ("/admin", "q=1")
    assert ("user-agent", "probe/1") in seen.headers


def test_the_flask_extension_answers_a_refusal() -> None:
    flask_app = Flask(__name__)
    flask_app.add_url_rule("/admin", "admin", lambda: "app")
    BulletproofFlask(flask_app, guard=Guard(checks=[Recorder()]))
    response = flask_app.test_client().get("/admin")
    assert response.status_code == 403
    assert response.get_data() == b"Forbidden"
    assert header(response.headers.to_wsgi_list(), "X-Frame-Options") == ["SAMEORIGIN"]
