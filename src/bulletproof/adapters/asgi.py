"""Pure ASGI middleware: bulletproof's guard around any ASGI app.

>>> from bulletproof.adapters.asgi import BulletproofMiddleware
>>> async def app(scope, receive, send): ...
>>> app = BulletproofMiddleware(app)    # the project's config ([tool.bulletproof.headers])

Starlette, FastAPI and Django's ``ASGIHandler`` are ASGI apps: wrap the *outermost* app (or use
:func:`bulletproof.protect`). Starlette's ``app.add_middleware`` places a middleware inside
``ServerErrorMiddleware``, so the 500 page for an unhandled exception would not get the headers::

    app = BulletproofMiddleware(Starlette(routes=...))        # do
    app.add_middleware(BulletproofMiddleware)                 # don't: misses 500 pages

The middleware only translates between ASGI and its :class:`~bulletproof.guard.Guard` (built
from ``policy=``, ``config=``, ``guard=`` or, with none, the project's config: see
:mod:`bulletproof.adapters`). Per HTTP request: a dynamic policy (a CSP nonce or a callable
directive) is rendered once, with a fresh :func:`~bulletproof.headers.new_nonce` stored in
``scope["state"]["csp_nonce"]`` (Starlette's ``request.state.csp_nonce``) and
``scope["bulletproof.csp_nonce"]`` before the app runs, so templates get the nonce the header
carries; with a policy that has no nonce, ``request.state.csp_nonce`` is a
:class:`~bulletproof.headers._context.MissingNonce`, which raises a
:class:`~bulletproof.errors.ConfigError` naming the fix when a template renders it. When the app
starts its response, the policy's headers are added where the response does not already have
them (a header the route set wins) and ``policy.remove`` names plus ``Server`` are stripped. If
rendering fails (a callable directive returned an invalid value) the app is not called and the
client gets a 500, as Helmet's ``next(err)`` does. WebSocket and lifespan scopes pass through
untouched. When the policy has ``csp_report_path``, requests to that path are answered by the
guard (see :mod:`bulletproof.headers._report`); the guard's checks run before the app.

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

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final, TypeAlias

from bulletproof.adapters import _build_guard, _Guarded
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.guard import Answer, RequestInfo, _merge_headers
from bulletproof.headers import HeaderRenderError, new_nonce
from bulletproof.headers._context import MissingNonce
from bulletproof.supervise._drain import drain_flag

if TYPE_CHECKING:
    from bulletproof.config import Config
    from bulletproof.events.base import Emitter
    from bulletproof.guard import Guard
    from bulletproof.headers import HeaderPolicy

__all__ = ["ASGIApp", "BulletproofMiddleware", "Message", "Receive", "Scope", "Send"]

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

_NONCE_KEY: Final = "bulletproof.csp_nonce"


async def _send_answer(send: Send, answer: Answer) -> None:
    """Send a response the guard made itself."""
    headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})


def _request_info(scope: Scope) -> RequestInfo:
    client = scope.get("client")
    raw_path = scope.get("raw_path")
    return RequestInfo(
        method=str(scope.get("method", "")),
        path=bytes(raw_path).decode("latin-1") if raw_path else str(scope.get("path", "")),
        query=bytes(scope.get("query_string", b"")).decode("latin-1"),
        client_ip=str(client[0]) if client else None,
        headers=tuple(
            (name.decode("latin-1").lower(), value.decode("latin-1"))
            for name, value in scope.get("headers", ())
        ),
    )


def _has_body(info: RequestInfo) -> bool:
    """A request that says it has a body: a non-zero Content-Length, or chunked."""
    length = info.header("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return info.header("transfer-encoding") is not None


async def _read_start(receive: Receive, limit: int) -> tuple[list[Message], int, bool]:
    """The body's first messages, until ``limit`` bytes are in or the body (or the client)
    ends: the messages as received, the bytes read, and whether more body follows."""
    messages: list[Message] = []
    size = 0
    more = True
    while more and size <= limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, size, False  # a disconnect: the app hears it next
        size += len(message.get("body", b""))
        more = bool(message.get("more_body", False))
    return messages, size, more


def _start_of(messages: list[Message], limit: int) -> bytes:
    """The first ``limit`` bytes of the body in ``messages`` (copying no more than that)."""
    parts: list[bytes] = []
    size = 0
    for message in messages:
        chunk = message.get("body", b"")[: limit - size]
        parts.append(chunk)
        size += len(chunk)
        if size >= limit:
            break
    return b"".join(parts)


def _replay(buffered: list[Message], receive: Receive) -> Receive:
    """``receive`` with the already-read messages first, in order: the app sees the whole
    body, streamed as it came."""
    pending = list(buffered)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


class BulletproofMiddleware(_Guarded):
    """Pure ASGI middleware: the guard's headers on every HTTP response, its answers and checks.

    The guard comes from ``policy`` (a :class:`~bulletproof.headers.HeaderPolicy`), ``config``
    (a :class:`~bulletproof.config.Config`), ``guard``, or, with none of them, the project's
    config (:func:`bulletproof.config.load_config`). ``emitter`` receives CSP report events and
    ``header_render_failed`` events. ``remove_server`` strips a ``Server`` header the app sends.
    ``clock`` drives the report rate limits.

    Added in 0.1.
    """

    def __init__(
        self,
        app: ASGIApp,
        policy: HeaderPolicy | None = None,
        *,
        config: Config | None = None,
        guard: Guard | None = None,
        emitter: Emitter | None = None,
        remove_server: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if not callable(app):
            raise ConfigError(
                f"BulletproofMiddleware: app={app!r} is not callable: pass the ASGI app to wrap"
            )
        self.app = app
        self.guard = _build_guard(
            "BulletproofMiddleware",
            policy=policy,
            config=config,
            guard=guard,
            emitter=emitter,
            remove_server=remove_server,
            clock=clock,
        )
        g = self.guard
        self._dynamic = g.dynamic
        self._static: list[tuple[bytes, bytes]] = list(g.asgi_headers)
        self._names = g.asgi_names
        self._drop = g.asgi_drop
        self._watch = g.asgi_names | g.asgi_drop
        self._checks = bool(g.checks)
        self._report_path = g.report_path
        self._shield = g.shield
        self._plain = not self._checks and self._report_path is None and self._shield is None
        self._no_nonce = MissingNonce("request.state.csp_nonce", raises=True)
        # Under `bulletproof run`: while this instance is being replaced, every HTTP/1
        # request it starts is answered with Connection: close, so keep-alive clients move to
        # the new instance between requests instead of losing one when this instance stops.
        # Read once per request (the flag is None outside the supervisor).
        self._drain = drain_flag()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection: HTTP gets the headers, anything else passes through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._dynamic:
            nonce = new_nonce()
            scope.setdefault("state", {})["csp_nonce"] = nonce
            scope[_NONCE_KEY] = nonce
            try:
                headers = self.guard.render_asgi(nonce, scope)
            except HeaderRenderError as exc:
                answer = self.guard.render_failed(
                    exc, path=scope.get("path"), method=scope.get("method")
                )
                await _send_answer(send, answer)
                return
        else:
            scope.setdefault("state", {})["csp_nonce"] = self._no_nonce
            headers = self._static
        if self._drain is not None and self._drain() and scope.get("http_version") != "2":
            headers = [*headers, (b"connection", b"close")]
        watch = self._watch
        shielded: list[Any] = []  # (request, judged) once the shield has judged the request

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if shielded:
                    status = message.get("status", 200)
                    if 400 <= status <= 499:
                        self.guard.responded(shielded[0], status, shielded[1])
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

        if self._plain:
            await self.app(scope, receive, send_with_headers)
            return
        guard = self.guard
        info = None
        if self._checks:
            info = _request_info(scope)
            decision = guard.check(info)
            if not decision.allowed:
                await _send_answer(send_with_headers, Answer.for_status(decision.status))
                return
        if self._report_path is not None:
            if scope.get("path") == self._report_path:
                await self._report(scope, receive, send_with_headers)
                return
            guard.flush_reports()  # reports the end of a report flood; cheap when none
        shield = self._shield
        if shield is None:
            await self.app(scope, receive, send_with_headers)
            return
        if info is None:
            info = _request_info(scope)
        if shield.wants_body(info.header("content-type")) and _has_body(info):
            limit = shield.body_limit
            buffered, size, more = await _read_start(receive, limit)
            info = replace(
                info, body=_start_of(buffered, limit), body_truncated=more or size > limit
            )
            receive = _replay(buffered, receive)
        judged = guard.inspect(info)
        if judged.block:
            await _send_answer(send_with_headers, guard.refusal(judged))
            return
        shielded.extend((info, judged))
        await self.app(scope, receive, send_with_headers)

    async def _report(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request to the CSP report endpoint: headers and body to the guard, its answer back."""
        guard = self.guard
        client = scope.get("client")
        client_ip = str(client[0]) if client else None
        content_type = user_agent = content_length = None
        for name, value in scope.get("headers", ()):
            low = bytes(name).lower()
            if low == b"content-type":
                content_type = bytes(value).decode("latin-1")
            elif low == b"user-agent":
                user_agent = bytes(value).decode("latin-1")
            elif low == b"content-length":
                content_length = bytes(value).decode("latin-1")
        answer = guard.report_refusal(scope.get("method"), client_ip, content_length)
        if answer is None:
            limit = guard.report_max_bytes
            body = bytearray()
            more = True
            while more and len(body) <= limit:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                body += message.get("body", b"")
                more = bool(message.get("more_body", False))
            answer = guard.report_answer(
                bytes(body), content_type, client_ip=client_ip, user_agent=user_agent
            )
        await _send_answer(send, answer)
