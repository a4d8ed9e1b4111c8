"""Pure ASGI middleware that puts a header policy on every HTTP response.

>>> from bulletproof.adapters.asgi import SecureHeadersMiddleware
>>> async def app(scope, receive, send): ...
>>> app = SecureHeadersMiddleware(app)            # Helmet's defaults

Starlette, FastAPI and Django's ``ASGIHandler`` are ASGI apps: wrap the *outermost* app (or use
:func:`bulletproof.protect`). Starlette's ``app.add_middleware`` places a middleware inside
``ServerErrorMiddleware``, so the 500 page for an unhandled exception would not get the headers::

    app = SecureHeadersMiddleware(Starlette(routes=...))        # do
    app.add_middleware(SecureHeadersMiddleware)                 # don't: misses 500 pages

What it does, per HTTP request: a dynamic policy (a CSP nonce or a callable directive) is
rendered once, with a fresh :func:`~bulletproof.headers.new_nonce` stored in
``scope["state"]["csp_nonce"]`` (Starlette's ``request.state.csp_nonce``) and
``scope["bulletproof.csp_nonce"]`` before the app runs, so templates get the nonce the header
carries. When the app starts its response, the policy's headers are added where the response does
not already have them (a header the route set wins) and ``policy.remove`` names plus ``Server``
are stripped. If rendering fails (a callable directive returned an invalid value) the app is not
called and the client gets a 500, as Helmet's ``next(err)`` does. WebSocket and lifespan scopes
pass through untouched. When ``policy.csp_report_path`` is set, POSTs to that path are answered by
the middleware itself (see :mod:`bulletproof.headers.report`).

The ``Server`` header: the middleware removes one the app sends, but the server may add its own.
uvicorn: run with ``--no-server-header`` (or ``uvicorn.run(app, server_header=False)``, env
``UVICORN_SERVER_HEADER=false``). gunicorn (with uvicorn workers too): gunicorn writes
``Server: gunicorn`` itself and has no setting to drop it; hide it at the reverse proxy. granian
(2.x) adds ``server: granian`` unless the response already has a ``Server`` header and has no
option to omit it: pass ``remove_server=False`` and set a neutral ``Server`` value in the app, or
hide it at the reverse proxy.

Added in 0.1.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from bulletproof.adapters import _merge_headers, _render_failed_event, _resolve_policy
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.headers import HeaderContext, HeaderRenderError, new_nonce
from bulletproof.headers.report import CspReportEndpoint

if TYPE_CHECKING:
    from bulletproof.events.base import Emitter
    from bulletproof.headers import HeaderPolicy

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "SecureHeadersMiddleware", "Send"]

Scope: TypeAlias = MutableMapping[str, Any]
"""An ASGI connection scope. Added in 0.1."""
Message: TypeAlias = MutableMapping[str, Any]
"""An ASGI event message. Added in 0.1."""
Receive: TypeAlias = Callable[[], Awaitable[Message]]
"""The ASGI ``receive`` callable. Added in 0.1."""
Send: TypeAlias = Callable[[Message], Awaitable[None]]
"""The ASGI ``send`` callable. Added in 0.1."""
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI 3 application. Added in 0.1."""

logger = logging.getLogger("bulletproof.headers")

_SERVER: Final = b"server"


async def _answer(send: Send, status: int, *extra: tuple[bytes, bytes]) -> None:
    """A response made by the middleware itself: the status phrase as text, or no body (204)."""
    body = b"" if status == 204 else http.HTTPStatus(status).phrase.encode()
    headers = [*extra]
    if body:
        headers.append((b"content-type", b"text/plain; charset=utf-8"))
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecureHeadersMiddleware:
    """Pure ASGI middleware: the policy's headers on every HTTP response.

    ``policy`` defaults to ``secure_headers()`` (Helmet's defaults). ``emitter`` receives CSP
    report events and ``header_render_failed`` events. ``remove_server`` strips a ``Server``
    header the app sends. ``clock`` drives the report rate limits.

    Added in 0.1.
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: HeaderPolicy | None = None,
        *,
        emitter: Emitter | None = None,
        remove_server: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if not callable(app):
            raise ConfigError(
                f"SecureHeadersMiddleware: app={app!r} is not callable: pass the ASGI app to wrap"
            )
        self.app = app
        self.policy = _resolve_policy(policy, "SecureHeadersMiddleware")
        self.emitter = emitter
        self._dynamic = self.policy.dynamic
        self._static: list[tuple[bytes, bytes]] = list(self.policy.asgi_static)
        self._names = frozenset(name.lower().encode("latin-1") for name, _ in self.policy.headers)
        drop = {name.lower().encode("latin-1") for name in self.policy.remove}
        if remove_server:
            drop.add(_SERVER)
        self._drop = frozenset(drop)
        self._watch = self._names | self._drop
        self._clock = clock
        self._report_path = self.policy.csp_report_path
        self.csp_reports: CspReportEndpoint | None = (
            CspReportEndpoint(emitter, clock=clock) if self._report_path is not None else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection: HTTP gets the headers, anything else passes through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._dynamic:
            nonce = new_nonce()
            scope.setdefault("state", {})["csp_nonce"] = nonce
            scope["bulletproof.csp_nonce"] = nonce
            try:
                headers = self.policy.render_asgi(
                    nonce=nonce, context=HeaderContext(nonce=nonce, request=scope)
                )
            except HeaderRenderError as exc:
                self._render_failed(exc, scope)
                await _answer(send, 500)
                return
        else:
            headers = self._static
        watch = self._watch

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", ())
                if not isinstance(own, list | tuple):  # any iterable is allowed: read it once
                    own = list(own)
                for name, _ in own:
                    if name.lower() in watch:
                        merged = _merge_headers(own, headers, self._names, self._drop)
                        break
                else:  # the common case: the route set none of them, nothing to remove
                    merged = headers.copy()
                    merged.extend(own)
                message["headers"] = merged
            await send(message)

        if self.csp_reports is not None:
            if scope.get("path") == self._report_path:
                await self._answer_report(self.csp_reports, scope, receive, send_with_headers)
                return
            self.csp_reports.flush()  # reports the end of a report flood; cheap when none
        await self.app(scope, receive, send_with_headers)

    def _render_failed(self, exc: Exception, scope: Scope) -> None:
        logger.error("security headers could not be rendered for %s: %s", scope.get("path"), exc)
        if self.emitter is not None:
            self.emitter.emit(
                _render_failed_event(
                    exc,
                    path=scope.get("path"),
                    method=scope.get("method"),
                    timestamp=self._clock.time(),
                )
            )

    @staticmethod
    async def _answer_report(
        endpoint: CspReportEndpoint, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if scope.get("method") != "POST":
            await _answer(send, 405, (b"allow", b"POST"))
            return
        client = scope.get("client")
        client_ip = str(client[0]) if client else None
        if not endpoint.admit(client_ip):
            await _answer(send, 429)
            return
        content_type: str | None = None
        user_agent: str | None = None
        declared = b""
        for name, value in scope.get("headers", ()):
            low = bytes(name).lower()
            if low == b"content-type":
                content_type = bytes(value).decode("latin-1")
            elif low == b"user-agent":
                user_agent = bytes(value).decode("latin-1")
            elif low == b"content-length":
                declared = bytes(value)
        if declared:
            if not declared.isdigit():
                await _answer(send, 400)
                return
            if int(declared) > endpoint.max_bytes:
                await _answer(send, 413)
                return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if len(body) > endpoint.max_bytes:
                await _answer(send, 413)
                return
            more = bool(message.get("more_body", False))
        result = endpoint.receive(
            bytes(body), content_type, client_ip=client_ip, user_agent=user_agent
        )
        await _answer(send, result.status)
