"""A small real HTTP(S) server for sink tests: records every request, answers as programmed.

>>> with RecordingHTTPServer() as server:
...     server.reply(503, b"busy")          # the next request gets 503, later ones the default
...     ...                                 # point a client at server.url
...     server.requests[0].json()           # what arrived

Runs ``http.server.ThreadingHTTPServer`` on 127.0.0.1, port 0, in a thread. With ``tls=`` (a
``trustme.CA``) it serves HTTPS with a certificate for 127.0.0.1 and localhost signed by that CA.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import trustme

__all__ = ["RecordedRequest", "RecordingHTTPServer", "Reply", "free_port"]

_MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. Header names are lower-case."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """What to answer. ``hold``: wait for this event (set at the latest when the server stops)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handler threads: nothing outlives a test
    block_on_close = True
    owner: RecordingHTTPServer

    def finish_request(self, request: Any, client_address: Any) -> None:
        ctx = self.owner.server_tls
        if ctx is None:
            super().finish_request(request, client_address)
            return
        try:
            tls_sock = ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            self.owner.record_tls_error(exc)
            return
        try:
            super().finish_request(tls_sock, client_address)
        finally:
            tls_sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up early is not a test failure; keep stderr quiet.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, _MAX_BODY)) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner = self.server.owner
        reply = owner.take(RecordedRequest(self.command, self.path, headers, body))
        if reply.hold is not None:
            reply.hold.wait(10)
        self.send_response(reply.status)
        sent = {k.lower() for k in reply.headers}
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if "content-type" not in sent:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


for _method in ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"):
    setattr(_Handler, f"do_{_method}", _Handler._handle)


class RecordingHTTPServer:
    """A real HTTP(S) server on 127.0.0.1 that records requests; use as a context manager."""

    def __init__(self, *, tls: trustme.CA | None = None, default: Reply | None = None) -> None:
        self.default = default or Reply(200, b'{"ok": true}')
        self.server_tls: ssl.SSLContext | None = None
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
            self.server_tls = ctx
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._replies: deque[Reply] = deque()
        self._holds: list[threading.Event] = []
        self.tls_errors: list[BaseException] = []
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- programming and inspection ------------------------------------------------------------

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        hold: threading.Event | None = None,
    ) -> None:
        """Queue the answer to the next request not yet answered (FIFO)."""
        with self._lock:
            self._replies.append(Reply(status, body, dict(headers or {}), hold))
            if hold is not None:
                self._holds.append(hold)

    def take(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            return self._replies.popleft() if self._replies else self.default

    def record_tls_error(self, exc: BaseException) -> None:
        with self._lock:
            self.tls_errors.append(exc)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        port: int = self._httpd.server_address[1]
        return port

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT`` without a trailing slash."""
        scheme = "https" if self.server_tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> RecordingHTTPServer:
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            holds = list(self._holds)
        for event in holds:
            event.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> RecordingHTTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
