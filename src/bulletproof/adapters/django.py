"""Django: a middleware configured from settings, and the ``csp_nonce`` context processor.

``settings.py``::

    MIDDLEWARE = [
        "bulletproof.adapters.django.SecureHeadersMiddleware",   # first: sees every response
        ...
    ]
    BULLETPROOF_HEADERS = {"strict_transport_security": {"max_age": 63072000}}  # secure_headers()
    BULLETPROOF_EMITTER = "myproject.events.pipeline"   # optional: where CSP report events go
    TEMPLATES = [{..., "OPTIONS": {"context_processors": [
        ..., "bulletproof.adapters.django.csp_nonce"]}}]             # {{ csp_nonce }}

``BULLETPROOF_HEADERS`` is a dict of :func:`~bulletproof.headers.secure_headers` options (absent:
Helmet's defaults), read once when Django builds its middleware chain. ``BULLETPROOF_EMITTER`` is
an :class:`~bulletproof.events.base.Emitter` or the dotted path of one. Per request the middleware
sets ``request.csp_nonce`` (and ``request.META["bulletproof.csp_nonce"]``) when the policy is
dynamic, answers the CSP report endpoint when ``csp_report_path`` is set, and on the way out adds
each policy header the response does not already have (a view that set one wins), in Helmet's
order, and removes ``X-Powered-By`` and ``Server``. It works under WSGI and ASGI (it is sync and
async capable). Put it first in ``MIDDLEWARE`` so that headers set by Django's own
``SecurityMiddleware`` or ``XFrameOptionsMiddleware`` (which run inside it) count as set by the
view; or drop those, since the policy covers what they do.

Instead of the middleware, :func:`bulletproof.protect` can wrap ``get_wsgi_application()`` or
``get_asgi_application()``; the nonce is then in ``request.META["bulletproof.csp_nonce"]`` (WSGI)
or ``request.scope["bulletproof.csp_nonce"]`` (ASGI), and the context processor finds it there too.

``Server``: Django does not send one; ``runserver`` and the servers in front add theirs (uvicorn:
``--no-server-header``; gunicorn cannot drop its own, hide it at the reverse proxy).

Added in 0.1.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from bulletproof.adapters import _merge_headers, _render_failed_event
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.events.base import Emitter
from bulletproof.headers import HeaderContext, HeaderRenderError, new_nonce
from bulletproof.headers.report import CspReportEndpoint

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseBase

    from bulletproof.headers import HeaderPolicy

__all__ = ["SecureHeadersMiddleware", "csp_nonce"]

logger = logging.getLogger("bulletproof.headers")

_NONCE_KEY: Final = "bulletproof.csp_nonce"

GetResponse = Callable[["HttpRequest"], "HttpResponseBase | Awaitable[HttpResponseBase]"]


def _policy_from_settings(settings: Any) -> HeaderPolicy:
    from bulletproof.headers import secure_headers

    options = getattr(settings, "BULLETPROOF_HEADERS", None)
    if options is None:
        return secure_headers()
    if not isinstance(options, Mapping):
        raise ConfigError(
            f"settings.BULLETPROOF_HEADERS={options!r} is a {type(options).__name__}: "
            "use a dict of bulletproof.headers.secure_headers() options, e.g. "
            '{"x_frame_options": {"action": "deny"}}'
        )
    bad = [key for key in options if not isinstance(key, str)]
    if bad:
        raise ConfigError(
            f"settings.BULLETPROOF_HEADERS has a key that is not a string: {bad[0]!r}; "
            "use the option names of bulletproof.headers.secure_headers()"
        )
    try:
        return secure_headers(**options)
    except ConfigError as exc:
        raise ConfigError(f"settings.BULLETPROOF_HEADERS: {exc}") from exc


def _emitter_from_settings(settings: Any) -> Emitter | None:
    value = getattr(settings, "BULLETPROOF_EMITTER", None)
    if value is None:
        return None
    if isinstance(value, str):
        from django.utils.module_loading import import_string

        try:
            value = import_string(value)
        except ImportError as exc:
            raise ConfigError(
                f"settings.BULLETPROOF_EMITTER={value!r} cannot be imported ({exc}): "
                "use the dotted path of an object with an emit(event) method"
            ) from exc
    if not isinstance(value, Emitter):
        raise ConfigError(
            f"settings.BULLETPROOF_EMITTER={value!r} has no emit(event) method: "
            "use an EventPipeline (bulletproof.build_pipeline) or another Emitter"
        )
    return value


class SecureHeadersMiddleware:
    """Django middleware: the ``settings.BULLETPROOF_HEADERS`` policy on every response.

    ``policy``, ``emitter`` and ``clock`` override the settings (for tests and for code that
    builds its middleware itself); Django calls it with ``get_response`` only.

    Added in 0.1.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: GetResponse,
        *,
        policy: HeaderPolicy | None = None,
        emitter: Emitter | None = None,
        clock: Clock = system_clock,
    ) -> None:
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction
        from django.conf import settings

        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        self.policy = policy if policy is not None else _policy_from_settings(settings)
        self.emitter = emitter if emitter is not None else _emitter_from_settings(settings)
        self._clock = clock
        self._static: list[tuple[str, str]] = list(self.policy.headers)
        self._names = frozenset(name.lower() for name, _ in self._static)
        self._drop = frozenset({*(name.lower() for name in self.policy.remove), "server"})
        self._report_path = self.policy.csp_report_path
        self.csp_reports: CspReportEndpoint | None = (
            CspReportEndpoint(self.emitter, clock=clock) if self._report_path is not None else None
        )

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        """Handle one request (a coroutine when Django runs the chain asynchronously)."""
        if self._async:
            return self._acall(request)
        early, headers = self._before(request)
        if early is not None:
            return self._after(early, headers)
        response = self.get_response(request)
        return self._after(response, headers)  # type: ignore[arg-type]  # sync chain

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        early, headers = self._before(request)
        if early is not None:
            return self._after(early, headers)
        response = await self.get_response(request)  # type: ignore[misc]  # async chain
        return self._after(response, headers)

    def _before(
        self, request: HttpRequest
    ) -> tuple[HttpResponseBase | None, list[tuple[str, str]]]:
        """The headers for this request, or a response to send without calling the view."""
        from django.http import HttpResponse

        headers = self._static
        if self.policy.dynamic:
            nonce = new_nonce()
            request.csp_nonce = nonce  # type: ignore[attr-defined]
            request.META[_NONCE_KEY] = nonce
            try:
                headers = self.policy.render(
                    nonce=nonce, context=HeaderContext(nonce=nonce, request=request)
                )
            except HeaderRenderError as exc:
                self._render_failed(exc, request)
                response = HttpResponse(
                    b"Internal Server Error",
                    status=500,
                    content_type="text/plain; charset=utf-8",
                )
                return response, []
        if self.csp_reports is not None:
            if request.path == self._report_path:
                return self._answer_report(self.csp_reports, request), headers
            self.csp_reports.flush()  # reports the end of a report flood; cheap when none
        return None, headers

    def _after(
        self, response: HttpResponseBase, headers: list[tuple[str, str]]
    ) -> HttpResponseBase:
        from django.http.response import ResponseHeaders

        names = self._names if headers is self._static else {n.lower() for n, _ in headers}
        merged = _merge_headers(response.headers.items(), headers, frozenset(names), self._drop)
        response.headers = ResponseHeaders(dict(merged))  # Django has one value per name
        return response

    def _render_failed(self, exc: Exception, request: HttpRequest) -> None:
        logger.error("security headers could not be rendered for %s: %s", request.path, exc)
        if self.emitter is not None:
            self.emitter.emit(
                _render_failed_event(
                    exc, path=request.path, method=request.method, timestamp=self._clock.time()
                )
            )

    @staticmethod
    def _answer_report(endpoint: CspReportEndpoint, request: HttpRequest) -> HttpResponseBase:
        from django.http import HttpResponse

        def answer(status: int) -> HttpResponse:
            response = HttpResponse(status=status)
            if status == 405:
                response["Allow"] = "POST"
            return response

        if request.method != "POST":
            return answer(405)
        client_ip = request.META.get("REMOTE_ADDR") or None
        if not endpoint.admit(client_ip):
            return answer(429)
        declared = str(request.META.get("CONTENT_LENGTH") or "").strip()
        if declared and not declared.isdigit():
            return answer(400)
        if declared and int(declared) > endpoint.max_bytes:
            return answer(413)
        body = request.read(endpoint.max_bytes + 1)
        if len(body) > endpoint.max_bytes:
            return answer(413)
        result = endpoint.receive(
            body,
            request.META.get("CONTENT_TYPE"),
            client_ip=client_ip,
            user_agent=request.META.get("HTTP_USER_AGENT"),
        )
        return answer(result.status)


def csp_nonce(request: HttpRequest) -> dict[str, str]:
    """Template context processor: ``{{ csp_nonce }}``, the nonce in this response's CSP.

    Empty when the policy has no nonce. Finds the nonce set by :class:`SecureHeadersMiddleware`
    or by :func:`bulletproof.protect` around Django's WSGI or ASGI handler.

    Added in 0.1.
    """
    from django.core.handlers.asgi import ASGIRequest

    nonce = request.META.get(_NONCE_KEY)
    if nonce is None and isinstance(request, ASGIRequest):
        nonce = request.scope.get(_NONCE_KEY)
    return {"csp_nonce": nonce or ""}
