"""Pure WSGI middleware that puts a header policy on every HTTP response.

>>> from bulletproof.adapters.wsgi import SecureHeadersWSGIMiddleware
>>> def app(environ, start_response): ...
>>> app = SecureHeadersWSGIMiddleware(app)        # Helmet's defaults

Flask (use :class:`bulletproof.adapters.flask.BulletproofFlask`, which wraps ``app.wsgi_app``)
and Django's ``WSGIHandler`` are WSGI apps; :func:`bulletproof.protect` picks the right wrapper.

Per request: a dynamic policy (a CSP nonce or a callable directive) is rendered once, with a fresh
:func:`~bulletproof.headers.new_nonce` stored in ``environ["bulletproof.csp_nonce"]`` before the
app runs (Django's ``request.META``, Flask's ``request.environ``), so templates get the nonce the
header carries. ``start_response`` is wrapped: the policy's headers are added where the response
does not already have them (a header the route set wins), ``policy.remove`` names and ``Server``
are stripped. The response iterable is passed through untouched (streaming works, its ``close``
is the server's to call). If rendering fails the app is not called and the client gets a 500,
as Helmet's ``next(err)`` does. When ``policy.csp_report_path`` is set, POSTs to that path are
answered by the middleware itself (see :mod:`bulletproof.headers.report`).

The ``Server`` header: WSGI servers write their own after the app's headers, so the middleware can
only remove one the app sends. gunicorn writes ``Server: gunicorn`` with no setting to drop it;
hide it at the reverse proxy. Werkzeug's development server and ``wsgiref`` add theirs too (not
for production anyway).

Added in 0.1.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from bulletproof.adapters import _merge_headers, _render_failed_event, _resolve_policy
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.headers import HeaderContext, HeaderRenderError, new_nonce
from bulletproof.headers.report import CspReportEndpoint

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from bulletproof.events.base import Emitter
    from bulletproof.headers import HeaderPolicy

__all__ = ["NONCE_ENVIRON_KEY", "SecureHeadersWSGIMiddleware"]

NONCE_ENVIRON_KEY: Final = "bulletproof.csp_nonce"
"""The WSGI environ key (and ASGI scope key) that holds the request's CSP nonce. Added in 0.1."""

logger = logging.getLogger("bulletproof.headers")


def _answer(start_response: StartResponse, status: int, *extra: tuple[str, str]) -> Iterable[bytes]:
    """A response made by the middleware itself: the status phrase as text, or no body (204)."""
    phrase = http.HTTPStatus(status).phrase
    body = b"" if status == 204 else phrase.encode()
    headers = [*extra]
    if body:
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {phrase}", headers)
    return [body]


class SecureHeadersWSGIMiddleware:
    """Pure WSGI middleware: the policy's headers on every HTTP response.

    ``policy`` defaults to ``secure_headers()`` (Helmet's defaults). ``emitter`` receives CSP
    report events and ``header_render_failed`` events. ``remove_server`` strips a ``Server``
    header the app sends. ``clock`` drives the report rate limits.

    Added in 0.1.
    """

    def __init__(
        self,
        app: WSGIApplication,
        policy: HeaderPolicy | None = None,
        *,
        emitter: Emitter | None = None,
        remove_server: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if not callable(app):
            raise ConfigError(
                f"SecureHeadersWSGIMiddleware: app={app!r} is not callable: "
                "pass the WSGI app to wrap"
            )
        self.app = app
        self.policy = _resolve_policy(policy, "SecureHeadersWSGIMiddleware")
        self.emitter = emitter
        self._clock = clock
        self._dynamic = self.policy.dynamic
        self._static: list[tuple[str, str]] = list(self.policy.headers)
        self._names = frozenset(name.lower() for name, _ in self._static)
        drop = {name.lower() for name in self.policy.remove}
        if remove_server:
            drop.add("server")
        self._drop = frozenset(drop)
        self._report_path = self.policy.csp_report_path
        self.csp_reports: CspReportEndpoint | None = (
            CspReportEndpoint(emitter, clock=clock) if self._report_path is not None else None
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Handle one WSGI request: the app's ``start_response`` gets the policy's headers."""
        if self._dynamic:
            nonce = new_nonce()
            environ[NONCE_ENVIRON_KEY] = nonce
            try:
                headers = self.policy.render(
                    nonce=nonce, context=HeaderContext(nonce=nonce, request=environ)
                )
            except HeaderRenderError as exc:
                self._render_failed(exc, environ)
                return _answer(start_response, 500)
        else:
            headers = self._static
        names, drop = self._names, self._drop

        def start_response_with_headers(
            status: str, response_headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> object:
            merged = _merge_headers(response_headers, headers, names, drop)
            return start_response(status, merged, exc_info)

        wrapped: StartResponse = start_response_with_headers  # type: ignore[assignment]
        if self.csp_reports is not None:
            if self._report_path == environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""):
                return self._answer_report(self.csp_reports, environ, wrapped)
            self.csp_reports.flush()  # reports the end of a report flood; cheap when none
        return self.app(environ, wrapped)

    def _render_failed(self, exc: Exception, environ: WSGIEnvironment) -> None:
        path = environ.get("PATH_INFO")
        logger.error("security headers could not be rendered for %s: %s", path, exc)
        if self.emitter is not None:
            self.emitter.emit(
                _render_failed_event(
                    exc,
                    path=path,
                    method=environ.get("REQUEST_METHOD"),
                    timestamp=self._clock.time(),
                )
            )

    @staticmethod
    def _answer_report(
        endpoint: CspReportEndpoint, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return _answer(start_response, 405, ("Allow", "POST"))
        client_ip = environ.get("REMOTE_ADDR") or None
        if not endpoint.admit(client_ip):
            return _answer(start_response, 429)
        declared = str(environ.get("CONTENT_LENGTH") or "").strip()
        stream = environ["wsgi.input"]
        if declared:
            if not declared.isdigit():
                return _answer(start_response, 400)
            length = int(declared)
            if length > endpoint.max_bytes:
                return _answer(start_response, 413)
            body = stream.read(length) if length else b""
        elif environ.get("wsgi.input_terminated"):
            body = stream.read(endpoint.max_bytes + 1)
            if len(body) > endpoint.max_bytes:
                return _answer(start_response, 413)
        else:  # no length and a stream that may not end: reading it could block
            return _answer(start_response, 411)
        result = endpoint.receive(
            body,
            environ.get("CONTENT_TYPE"),
            client_ip=client_ip,
            user_agent=environ.get("HTTP_USER_AGENT"),
        )
        return _answer(start_response, result.status)
