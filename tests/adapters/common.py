# ruff: noqa: TID253  (these tests import the web frameworks they exercise)
"""What every adapter test compares against: Helmet's own headers, captured from express."""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import threading
import warnings
from collections.abc import Iterable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import uvicorn
from starlette.exceptions import StarletteDeprecationWarning

from bulletproof.events.model import SecurityEvent

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 and warns once, at import, when it finds httpx instead
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient as TestClient

CAPTURES = json.loads(
    (Path(__file__).resolve().parents[1] / "cases" / "helmet" / "helmet-captures.json").read_text(
        encoding="utf-8"
    )
)


def _helmet_defaults() -> list[tuple[str, str]]:
    raw = CAPTURES["express"]["defaults"]["raw_headers"]
    names = [name for name, _ in raw]
    # Helmet's headers come first on the wire; express's own start at Content-Type.
    return [(name, value) for name, value in raw[: names.index("Content-Type")]]


HELMET_DEFAULTS: list[tuple[str, str]] = _helmet_defaults()
"""Helmet 8.3's default headers: names as Helmet spells them, values, wire order."""

HELMET_NAMES = frozenset(name.lower() for name, _ in HELMET_DEFAULTS)

ROUTE_OVERRIDE = CAPTURES["express_route_override"]["raw_headers_minus_date_etag_conn_len_type"]

NONCE_RE = re.compile(r"'nonce-([A-Za-z0-9+/=]+)'")

NONCE_DIRECTIVES = {"directives": {"script-src": ["'self'", "{nonce}"]}}
"""A content_security_policy option whose script-src carries the per-response nonce."""

TEMPLATE = '<html><body><script nonce="{{ nonce }}">hello()</script></body></html>'


def text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def pairs(raw: Iterable[tuple[Any, Any]]) -> list[tuple[str, str]]:
    """Header pairs as (str, str), in order."""
    return [(text(name), text(value)) for name, value in raw]


def assert_helmet_defaults(raw: Iterable[tuple[Any, Any]], *, exact_case: bool) -> None:
    """Helmet's headers, byte for byte, first and in Helmet's order; no X-Powered-By or Server.

    ``exact_case``: names must also be spelled as Helmet spells them (WSGI, Django); ASGI
    servers use lower-case names (HTTP/2 requires them), so there only the value bytes and the
    order are compared with the names lower-cased.
    """
    got = pairs(raw)
    expected = HELMET_DEFAULTS
    if not exact_case:
        got = [(name.lower(), value) for name, value in got]
        expected = [(name.lower(), value) for name, value in expected]
    assert got[: len(expected)] == expected
    later = [name for name, _ in got[len(expected) :] if name.lower() in HELMET_NAMES]
    assert later == [], f"a security header appears twice: {later}"
    names = {name.lower() for name, _ in got}
    assert "x-powered-by" not in names
    assert "server" not in names


def header(raw: Iterable[tuple[Any, Any]], name: str) -> list[str]:
    return [value for key, value in pairs(raw) if key.lower() == name.lower()]


def csp_nonce(raw: Iterable[tuple[Any, Any]]) -> str:
    """The nonce in the response's Content-Security-Policy (exactly one)."""
    (csp,) = header(raw, "Content-Security-Policy")
    found = NONCE_RE.findall(csp)
    assert len(found) == 1, csp
    return str(found[0])


class _ScriptNonces(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.nonces: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.nonces.extend(value or "" for key, value in attrs if key == "nonce")


def page_nonce(html: str) -> str:
    """The nonce attribute of the page's one <script> tag, parsed as HTML."""
    parser = _ScriptNonces()
    parser.feed(html)
    (nonce,) = parser.nonces
    return nonce


class ListEmitter:
    """An Emitter that keeps events in a list."""

    def __init__(self) -> None:
        self.events: list[SecurityEvent] = []
        self._lock = threading.Lock()

    def emit(self, event: SecurityEvent) -> None:
        with self._lock:
            self.events.append(event)

    def actions(self) -> list[str]:
        with self._lock:
            return [event.action for event in self.events]


CSP_REPORT = {
    "csp-report": {
        "document-uri": "https://example.com/page?q=1",
        "referrer": "",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "original-policy": "default-src 'self'; report-uri /csp-report",
        "disposition": "enforce",
        "blocked-uri": "https://evil.example/x.js",
        "line-number": 12,
        "column-number": 3,
        "source-file": "https://example.com/page",
        "status-code": 200,
        "script-sample": "",
    }
}
CSP_REPORT_BODY = json.dumps(CSP_REPORT).encode()


class _SignallingServer(uvicorn.Server):
    """A uvicorn server that sets ``startup_done`` when its startup has finished or failed."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = threading.Event()

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            super().run(sockets=sockets)
        finally:
            self.startup_done.set()  # it never got as far as startup(), or has stopped

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets=sockets)
        finally:
            self.startup_done.set()


@contextlib.contextmanager
def serve(app: Any, **options: Any) -> Iterator[int]:
    """Serve ``app`` with uvicorn on a free port in a thread; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, **{"log_level": "error", "lifespan": "on", **options})
    server = _SignallingServer(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        # Set by the server once it listens, or has given up; bounded so a hang fails the test.
        if not server.startup_done.wait(30) or not server.started:
            raise RuntimeError("uvicorn did not start")
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def serve_wsgi(app: Any) -> Iterator[int]:
    """Serve a WSGI ``app`` with wsgiref on a free port in a thread; yields the port."""
    server = make_server("127.0.0.1", 0, app, WSGIServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """One request over a real socket (a body may be an iterator: streamed): status and body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wire_headers(port: int, method: str, path: str) -> tuple[int, list[tuple[str, str]]]:
    """One request over a real socket: the status and the headers as the server sent them."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        response.read()
        return response.status, list(response.getheaders())
    finally:
        conn.close()


PROJECT_HEADERS = """\
[project]
name = "shop"
version = "0.0.1"

[tool.bulletproof.headers]
x_frame_options = { action = "deny" }
referrer_policy = { policy = "same-origin" }
"""
"""A project whose config changes two of Helmet's defaults (SAMEORIGIN, no-referrer)."""

CONFIGURED = {"x-frame-options": "DENY", "referrer-policy": "same-origin"}
"""What PROJECT_HEADERS puts on the wire (lower-case names)."""


def assert_configured(raw: Iterable[tuple[Any, Any]]) -> None:
    """The response carries the project's header options, once each, and Helmet's others."""
    got = pairs(raw)
    for name, value in CONFIGURED.items():
        assert header(got, name) == [value], (name, got)
    assert header(got, "x-content-type-options") == ["nosniff"]  # Helmet's default, untouched
