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
        self._plain = not self._checks and self._report_path is None

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
        if self._checks:
            decision = guard.check(_environ_info(environ, path))
            if not decision.allowed:
                return _start_answer(wrapped, Answer.for_status(decision.status))
        if self._report_path is not None:
            if path == self._report_path:
                return _report(guard, environ, wrapped)
            guard.flush_reports()  # reports the end of a report flood; cheap when none
        return self.app(environ, wrapped)
