"""Pure WSGI middleware: bulletproof's guard around any WSGI app.

>>> from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
>>> def app(environ, start_response): ...
>>> app = BulletproofWSGIMiddleware(app)    # the project's config ([tool.bulletproof.headers])

Flask (use :class:`bulletproof.adapters.flask.BulletproofFlask`, which wraps ``app.wsgi_app``)
and Django's ``WSGIHandler`` are WSGI apps; :func:`bulletproof.protect` picks the right wrapper.

The middleware only translates between WSGI and its :class:`~bulletproof.guard.Guard` (built
from ``policy=``, ``config=``, ``guard=`` or, with none, the project's config: see
:mod:`bulletproof.adapters`). Per request: a dynamic policy (a CSP nonce or a callable
directive) is rendered once, with a fresh :func:`~bulletproof.headers.new_nonce` stored in
``environ["bulletproof.csp_nonce"]`` before the app runs (Django's ``request.META``, Flask's
``request.environ``), so templates get the nonce the header carries; with a policy that has no
nonce the key is absent. ``start_response`` is wrapped: the policy's headers are added where the
response does not already have them (a header the route set wins), ``policy.remove`` names and
``Server`` are stripped. The response iterable is passed through untouched (streaming works, its
``close`` is the server's to call). If rendering fails the app is not called and the client gets
a 500, as Helmet's ``next(err)`` does. When the policy has ``csp_report_path``, requests to that
path are answered by the guard (see :mod:`bulletproof.headers._report`); the guard's checks run
before the app.

The ``Server`` header: WSGI servers write their own after the app's headers, so the middleware can
only remove one the app sends. gunicorn writes ``Server: gunicorn`` with no setting to drop it;
hide it at the reverse proxy. Werkzeug's development server and ``wsgiref`` add theirs too (not
for production anyway).

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from bulletproof.adapters import _build_guard, _Guarded
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.guard import Answer, RequestInfo, _merge_headers
from bulletproof.headers import HeaderRenderError, new_nonce

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from bulletproof.config import Config
    from bulletproof.detect import Shield
    from bulletproof.events.base import Emitter
    from bulletproof.guard import Guard
    from bulletproof.headers import HeaderPolicy

__all__ = ["NONCE_ENVIRON_KEY", "BulletproofWSGIMiddleware"]

NONCE_ENVIRON_KEY: Final = "bulletproof.csp_nonce"
"""The WSGI environ key (and ASGI scope key) that holds the request's CSP nonce. Added in 0.1."""

_UNNAMED: Final = frozenset({"CONTENT_TYPE", "CONTENT_LENGTH"})


def _start_answer(start_response: StartResponse, answer: Answer) -> Iterable[bytes]:
    """Start a response the guard made itself; its body is the iterable to return."""
    start_response(f"{answer.status} {answer.reason}", list(answer.headers))
    return [answer.body]


def _environ_info(environ: Mapping[str, Any], path: str) -> RequestInfo:
    """A WSGI environ (or Django's ``request.META``) as the guard's checks see it."""
    headers = tuple(
        (
            name[5:].replace("_", "-").lower()
            if name.startswith("HTTP_")
            else name.replace("_", "-").lower(),
            str(value),
        )
        for name, value in environ.items()
        if (name.startswith("HTTP_") or name in _UNNAMED) and value != ""
    )
    return RequestInfo(
        method=str(environ.get("REQUEST_METHOD", "")),
        path=path,
        query=str(environ.get("QUERY_STRING", "")),
        client_ip=environ.get("REMOTE_ADDR") or None,
        headers=headers,
    )


def _raw_path(environ: Mapping[str, Any], path: str) -> str:
    """The path as sent (gunicorn's RAW_URI, uWSGI's REQUEST_URI), else the decoded one."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw:
        return raw.partition("?")[0]
    return path


class _ReplayInput:
    """``wsgi.input`` with its first bytes (already read for inspection) given back first."""

    def __init__(self, start: bytes, rest: Any) -> None:
        self._start = start
        self._rest = rest

    def read(self, size: int | None = -1) -> bytes:
        start = self._start
        if size is None or size < 0:
            self._start = b""
            rest: bytes = self._rest.read()
            return start + rest
        if start:
            taken, self._start = start[:size], start[size:]
            if len(taken) < size:  # a read the stream would have filled: fill it from the rest
                more: bytes = self._rest.read(size - len(taken))
                return taken + more
            return taken
        data: bytes = self._rest.read(size)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        start = self._start
        if start:
            end = start.find(b"\n") + 1 or len(start)
            if size is not None and size >= 0:
                end = min(end, size)
            line, self._start = start[:end], start[end:]
            if line.endswith(b"\n") or (size is not None and 0 <= size <= len(line)):
                return line
            more_size = -1 if size is None or size < 0 else size - len(line)
            more: bytes = self._rest.readline(more_size)
            return line + more
        data: bytes = self._rest.readline(size if size is not None else -1)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines: list[bytes] = []
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)

    def __iter__(self) -> Any:
        return iter(self.readline, b"")

    def close(self) -> None:
        close = getattr(self._rest, "close", None)
        if close is not None:
            close()


def _shield_info(environ: WSGIEnvironment, path: str, shield: Shield) -> RequestInfo:
    """The request as the shield reads it, with the start of its body; ``wsgi.input`` is
    replaced so the app still reads the whole body."""
    info = _environ_info(environ, _raw_path(environ, path))
    if not shield.wants_body(environ.get("CONTENT_TYPE")):
        return info
    declared = str(environ.get("CONTENT_LENGTH") or "").strip()
    stream = environ.get("wsgi.input")
    if stream is None:
        return info
    limit = shield.body_limit
    if declared.isascii() and declared.isdigit():
        length = int(declared)
        if length == 0:
            return info
        start = stream.read(min(length, limit))
        truncated = length > limit
    elif not declared and environ.get("wsgi.input_terminated"):
        start = stream.read(limit + 1)  # the stream ends where the body does
        truncated = len(start) > limit
    else:
        return info  # no length and no end: reading could block
    environ["wsgi.input"] = _ReplayInput(start, stream)
    return replace(info, body=start[:limit], body_truncated=truncated)


def _report(
    guard: Guard, environ: Mapping[str, Any], start_response: StartResponse
) -> Iterable[bytes]:
    """A request to the CSP report endpoint: headers and body to the guard, its answer back."""
    client_ip = environ.get("REMOTE_ADDR") or None
    answer = guard.report_refusal(
        environ.get("REQUEST_METHOD"),
        client_ip,
        str(environ.get("CONTENT_LENGTH") or ""),
        body_ends=bool(environ.get("wsgi.input_terminated")),
    )
    if answer is None:
        declared = str(environ.get("CONTENT_LENGTH") or "").strip()
        stream = environ["wsgi.input"]
        if declared:
            length = int(declared)  # the guard checked it: digits, at most the limit
            body = stream.read(length) if length else b""
        else:  # wsgi.input_terminated: the stream ends where the body does
            body = stream.read(guard.report_max_bytes + 1)
        answer = guard.report_answer(
            body,
            environ.get("CONTENT_TYPE"),
            client_ip=client_ip,
            user_agent=environ.get("HTTP_USER_AGENT"),
        )
    return _start_answer(start_response, answer)


class BulletproofWSGIMiddleware(_Guarded):
    """Pure WSGI middleware: the guard's headers on every HTTP response, its answers and checks.

    The guard comes from ``policy`` (a :class:`~bulletproof.headers.HeaderPolicy`), ``config``
    (a :class:`~bulletproof.config.Config`), ``guard``, or, with none of them, the project's
    config (:func:`bulletproof.config.load_config`). ``emitter`` receives CSP report events and
    ``header_render_failed`` events. ``remove_server`` strips a ``Server`` header the app sends.
    ``clock`` drives the report rate limits.

    Added in 0.1.
    """

    def __init__(
        self,
        app: WSGIApplication,
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
                f"BulletproofWSGIMiddleware: app={app!r} is not callable: pass the WSGI app to wrap"
            )
        self.app = app
        self.guard = _build_guard(
            "BulletproofWSGIMiddleware",
            policy=policy,
            config=config,
            guard=guard,
            emitter=emitter,
            remove_server=remove_server,
            clock=clock,
        )
        g = self.guard
        self._dynamic = g.dynamic
        self._static: list[tuple[str, str]] = list(g.headers)
        self._names = g.names
        self._drop = g.drop
        self._checks = bool(g.checks)
        self._report_path = g.report_path
        self._shield = g.shield
        self._plain = not self._checks and self._report_path is None and self._shield is None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request: the app's ``start_response`` gets the policy's headers."""
        if self._dynamic:
            nonce = new_nonce()
            environ[NONCE_ENVIRON_KEY] = nonce
            try:
                headers = self.guard.render(nonce, environ)
            except HeaderRenderError as exc:
                answer = self.guard.render_failed(
                    exc, path=environ.get("PATH_INFO"), method=environ.get("REQUEST_METHOD")
                )
                return _start_answer(start_response, answer)
        else:
            headers = self._static
        names, drop = self._names, self._drop

        def start_response_with_headers(
            status: str, response_headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> object:
            merged = _merge_headers(response_headers, headers, names, drop)
            return start_response(status, merged, exc_info)

        wrapped: StartResponse = start_response_with_headers  # type: ignore[assignment]
        if self._plain:
            return self.app(environ, wrapped)
        guard = self.guard
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        info = None
        if self._checks:
            info = _environ_info(environ, path)
            decision = guard.check(info)
            if not decision.allowed:
                return _start_answer(wrapped, Answer.for_status(decision.status))
        if self._report_path is not None:
            if path == self._report_path:
                return _report(guard, environ, wrapped)
            guard.flush_reports()  # reports the end of a report flood; cheap when none
        shield = self._shield
        if shield is None:
            return self.app(environ, wrapped)
        info = _shield_info(environ, path, shield)
        judged = guard.inspect(info)
        if judged.block:
            return _start_answer(wrapped, guard.refusal(judged))

        def start_and_watch(
            status: str, response_headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> object:
            code = status[:3]
            if code.isdigit():
                guard.responded(info, int(code), judged)
            return start_response_with_headers(status, response_headers, exc_info)

        watched: StartResponse = start_and_watch  # type: ignore[assignment]
        return self.app(environ, watched)
