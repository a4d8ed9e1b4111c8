"""BulletproofWSGIMiddleware at the WSGI level, and through wsgiref's real server."""

from __future__ import annotations

import http.client
import io
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from tests.adapters.common import (
    CSP_REPORT_BODY,
    HELMET_DEFAULTS,
    ListEmitter,
    assert_helmet_defaults,
    csp_nonce,
    header,
)

from bulletproof.adapters import BulletproofWSGIMiddleware
from bulletproof.errors import ConfigError
from bulletproof.headers import secure_headers


class Closing:
    """A streaming body that records whether the server closed it."""

    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield b"one\n"
        yield b"two\n"

    def close(self) -> None:
        self.closed = True


def call(app: Any, environ: dict[str, Any] | None = None) -> tuple[str, list[Any], bytes, Any]:
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "", "wsgi.input": io.BytesIO()}
    env.update(environ or {})
    got: list[Any] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        got[:] = [status, headers, exc_info]
        return lambda data: None

    result = app(env, start_response)
    body = b"".join(result)
    return got[0], got[1], body, result


def test_streaming_body_passes_through_untouched() -> None:
    stream = Closing()

    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return stream

    status, headers, body, result = call(BulletproofWSGIMiddleware(app))
    assert status == "200 OK"
    assert_helmet_defaults(headers, exact_case=True)
    assert headers[len(HELMET_DEFAULTS) :] == [("Content-Type", "text/plain")]
    assert body == b"one\ntwo\n"
    assert result is stream  # the server gets the app's iterable itself, and closes it


def test_error_after_start_response_passes_exc_info() -> None:
    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("late")
        except ValueError:
            start_response("500 Internal Server Error", [("X-Powered-By", "x")], sys.exc_info())
        return [b"failed"]

    status, headers, _, _ = call(BulletproofWSGIMiddleware(app))
    assert status.startswith("500")
    assert_helmet_defaults(headers, exact_case=True)


def test_write_callable_is_returned() -> None:
    written: list[bytes] = []

    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        write = start_response("200 OK", [])
        write(b"legacy")
        return []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> Any:
        return written.append

    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/"}
    BulletproofWSGIMiddleware(app)(env, start_response)
    assert written == [b"legacy"]


def test_nonce_in_environ_matches_the_header() -> None:
    seen: list[str] = []

    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        seen.append(environ["bulletproof.csp_nonce"])
        start_response("200 OK", [])
        return [b""]

    policy = secure_headers(content_security_policy={"directives": {"script-src": ["{nonce}"]}})
    middleware = BulletproofWSGIMiddleware(app, policy)
    nonces = set()
    for _ in range(3):
        _, headers, _, _ = call(middleware)
        assert csp_nonce(headers) == seen[-1]
        nonces.add(seen[-1])
    assert len(nonces) == 3


def test_render_failure_is_a_500_without_calling_the_app() -> None:
    called: list[Any] = []

    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        called.append(environ)
        return []

    emitter = ListEmitter()
    policy = secure_headers(content_security_policy={"directives": {"img-src": [lambda c: "a b;"]}})
    status, _, body, _ = call(BulletproofWSGIMiddleware(app, policy, emitter=emitter))
    assert status == "500 Internal Server Error"
    assert body == b"Internal Server Error"
    assert called == []
    assert emitter.actions() == ["header_render_failed"]


def test_server_header_kept_when_asked() -> None:
    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Server", "mine")])
        return []

    _, headers, _, _ = call(BulletproofWSGIMiddleware(app, remove_server=False))
    assert header(headers, "Server") == ["mine"]
    _, headers, _, _ = call(BulletproofWSGIMiddleware(app))
    assert header(headers, "Server") == []


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not callable"):
        BulletproofWSGIMiddleware(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not a HeaderPolicy"):
        BulletproofWSGIMiddleware(lambda e, s: [], "helmet")  # type: ignore[arg-type]


# -- the report endpoint's WSGI corner cases -------------------------------------------------


def report_app() -> tuple[BulletproofWSGIMiddleware, ListEmitter]:
    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        raise AssertionError("the app must not see report requests")

    emitter = ListEmitter()
    policy = secure_headers(csp_report_path="/csp-report")
    return BulletproofWSGIMiddleware(app, policy, emitter=emitter), emitter


def report_environ(body: bytes, **extra: Any) -> dict[str, Any]:
    env = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/csp-report",
        "CONTENT_TYPE": "application/csp-report",
        "REMOTE_ADDR": "192.0.2.3",
        "wsgi.input": io.BytesIO(body),
    }
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ({"CONTENT_LENGTH": str(len(CSP_REPORT_BODY))}, "204 No Content"),
        ({"wsgi.input_terminated": True}, "204 No Content"),
        ({}, "411 Length Required"),
        ({"CONTENT_LENGTH": "12x"}, "400 Bad Request"),
        ({"CONTENT_LENGTH": "99999999"}, "413 "),
    ],
)
def test_report_body_reading(extra: dict[str, Any], status: str) -> None:
    app, emitter = report_app()
    got, headers, _, _ = call(app, report_environ(CSP_REPORT_BODY, **extra))
    assert got.startswith(status)  # the phrase of 413 changed in Python 3.13
    assert header(headers, "Content-Security-Policy")
    assert (emitter.actions() == ["csp_violation"]) == status.startswith("204")


def test_report_endpoint_under_a_script_name() -> None:
    app, emitter = report_app()
    env = report_environ(CSP_REPORT_BODY, CONTENT_LENGTH=str(len(CSP_REPORT_BODY)))
    env.update({"SCRIPT_NAME": "/csp-report", "PATH_INFO": ""})
    assert call(app, env)[0] == "204 No Content"
    assert emitter.events[0].source_ip == "192.0.2.3"


def test_terminated_input_over_the_limit_is_413() -> None:
    app, _ = report_app()
    env = report_environ(b"x" * (64 * 1024 + 10), **{"wsgi.input_terminated": True})
    assert call(app, env)[0].startswith("413 ")


# -- on the wire, through wsgiref ------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_on_the_wire_through_wsgiref() -> None:
    def app(environ: Any, start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Powered-By", "py")])
        return [b"hi"]

    server = make_server("127.0.0.1", 0, BulletproofWSGIMiddleware(app), WSGIServer, QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.read() == b"hi"
        conn.close()
        raw = response.getheaders()
        # wsgiref writes Date and Server first; the app's headers follow, Helmet's first
        own = [(n, v) for n, v in raw if n not in ("Date", "Server")]
        assert own[: len(HELMET_DEFAULTS)] == HELMET_DEFAULTS
        assert header(raw, "X-Powered-By") == []
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
