"""Django: ``BulletproofMiddleware`` configured from settings, and the ``csp_nonce`` processor.

``settings.py``::

    MIDDLEWARE = [
        "bulletproof.adapters.django.BulletproofMiddleware",   # first: sees every response
        ...
    ]
    BULLETPROOF_HEADERS = {"strict_transport_security": {"max_age": 63072000}}  # optional
    BULLETPROOF_EMITTER = "myproject.events.pipeline"   # optional: where CSP report events go
    TEMPLATES = [{..., "OPTIONS": {"context_processors": [
        ..., "bulletproof.adapters.django.csp_nonce"]}}]             # {{ csp_nonce }}

The middleware builds its :class:`~bulletproof.guard.Guard` from the project's config
(:func:`bulletproof.config.load_config`: ``[tool.bulletproof]`` in the ``pyproject.toml`` of the
working directory, or ``BULLETPROOF_CONFIG``), once, when Django builds its middleware chain,
with the ``BULLETPROOF_*`` settings mapped onto it: ``BULLETPROOF_HEADERS`` (a dict of
:func:`~bulletproof.headers.secure_headers` options) replaces ``[tool.bulletproof.headers]``,
and generally ``BULLETPROOF_<SECTION>__<KEY>`` sets ``<section>.<key>``, as the environment
variable of that name would; ``BULLETPROOF_CONFIG`` is the config's path. Neither given:
Helmet's defaults. ``BULLETPROOF_EMITTER`` is an :class:`~bulletproof.events.base.Emitter` or
the dotted path of one (without it, a config whose headers set ``csp_report_path`` gets its own
pipeline started, see :mod:`bulletproof.adapters`).

Per request the middleware sets ``request.csp_nonce`` (and
``request.META["bulletproof.csp_nonce"]``) when the policy is dynamic, runs the guard's checks,
answers the CSP report endpoint when ``csp_report_path`` is set, and on the way out adds each
policy header the response does not already have (a view that set one wins), in Helmet's order,
and removes ``X-Powered-By`` and ``Server``. It works under WSGI and ASGI (it is sync and async
capable). Put it first in ``MIDDLEWARE`` so that headers set by Django's own
``SecurityMiddleware`` or ``XFrameOptionsMiddleware`` (which run inside it) count as set by the
view; or drop those, since the policy covers what they do.

When the policy has no nonce, ``request.csp_nonce`` and ``{{ csp_nonce }}`` are a
:class:`~bulletproof.headers._context.MissingNonce`: a template renders ``""``, as Django renders
what is missing, and the first such render logs an error naming the fix.

Instead of the middleware, :func:`bulletproof.protect` can wrap ``get_wsgi_application()`` or
``get_asgi_application()`` (it reads the project's config, not Django's settings); the nonce is
then in ``request.META["bulletproof.csp_nonce"]`` (WSGI) or
``request.scope["bulletproof.csp_nonce"]`` (ASGI), and the context processor finds it there too.

``Server``: Django does not send one; ``runserver`` and the servers in front add theirs (uvicorn:
``--no-server-header``; gunicorn cannot drop its own, hide it at the reverse proxy).

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

from bulletproof.adapters import _build_guard, _emitter_setting, _Guarded
from bulletproof.adapters.wsgi import _environ_info, _raw_path, _ReplayInput
from bulletproof.clock import Clock, system_clock
from bulletproof.guard import Answer, _merge_headers
from bulletproof.headers import HeaderRenderError, new_nonce
from bulletproof.headers._context import MissingNonce

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse, HttpResponseBase

    from bulletproof.config import Config
    from bulletproof.detect import RequestInfo, Shield
    from bulletproof.events.base import Emitter
    from bulletproof.guard import Guard
    from bulletproof.headers import HeaderPolicy

__all__ = ["BulletproofMiddleware", "csp_nonce"]

_NONCE_KEY: Final = "bulletproof.csp_nonce"

_GetResponse = Callable[["HttpRequest"], "HttpResponseBase | Awaitable[HttpResponseBase]"]


def _bulletproof_settings(settings: Any) -> dict[str, object]:
    return {
        name: getattr(settings, name) for name in dir(settings) if name.startswith("BULLETPROOF_")
    }


_SHIELD_KEY: Final = "bulletproof.shield"


def _shield_info(request: HttpRequest, shield: Shield) -> RequestInfo:
    """The request as the shield reads it, with at most ``body_limit`` bytes of its body; the
    view still reads the whole body (Django keeps what was read, or the stream is replayed)."""
    meta = request.META
    info = _environ_info(meta, _raw_path(meta, request.path))
    if not shield.wants_body(meta.get("CONTENT_TYPE")):
        return info
    declared = str(meta.get("CONTENT_LENGTH") or "").strip()
    if not (declared.isascii() and declared.isdigit()) or int(declared) == 0:
        return info
    length, limit = int(declared), shield.body_limit
    if length <= limit:
        body = request.body  # Django keeps it: request.body, POST and read() still work
        return replace(info, body=body)
    stream = getattr(request, "_stream", None)
    if stream is None or not hasattr(stream, "read"):
        return info  # pragma: no cover - every Django request has its stream
    start = stream.read(limit)
    request._stream = _ReplayInput(start, stream)  # type: ignore[assignment]
    return replace(info, body=start, body_truncated=True)


def _answer(answer: Answer) -> HttpResponse:
    """A response the guard made itself, as Django's."""
    from django.http import HttpResponse

    response = HttpResponse(answer.body, status=answer.status)
    for name, value in answer.headers:
        response[name] = value
    return response


class BulletproofMiddleware(_Guarded):
    """Django middleware: the guard (from the project's config and settings) on every response.

    ``policy``, ``config``, ``guard``, ``emitter`` and ``clock`` override the settings (for tests
    and for code that builds its middleware itself); Django calls it with ``get_response`` only.

    Added in 0.1.
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self,
        get_response: _GetResponse,
        *,
        policy: HeaderPolicy | None = None,
        config: Config | None = None,
        guard: Guard | None = None,
        emitter: Emitter | None = None,
        clock: Clock = system_clock,
    ) -> None:
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction
        from django.conf import settings

        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)
        values = _bulletproof_settings(settings)
        if emitter is None and guard is None:
            emitter = _emitter_setting(
                values.get("BULLETPROOF_EMITTER"), "settings.BULLETPROOF_EMITTER"
            )
        self.guard = _build_guard(
            "bulletproof.adapters.django.BulletproofMiddleware",
            policy=policy,
            config=config,
            guard=guard,
            emitter=emitter,
            clock=clock,
            settings=values,
        )
        g = self.guard
        self._static: list[tuple[str, str]] = list(g.headers)
        self._checks = bool(g.checks)
        self._no_nonce = MissingNonce("Django request.csp_nonce / {{ csp_nonce }}", raises=False)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        """Handle one request (a coroutine when Django runs the chain asynchronously)."""
        if self._async:
            return self._acall(request)
        early, headers = self._before(request)
        if early is not None:
            return self._after(early, headers)
        response = self.get_response(request)
        return self._after(response, headers, request)  # type: ignore[arg-type]  # sync chain

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        early, headers = self._before(request)
        if early is not None:
            return self._after(early, headers)
        response = await self.get_response(request)  # type: ignore[misc]  # async chain
        return self._after(response, headers, request)

    def _before(
        self, request: HttpRequest
    ) -> tuple[HttpResponseBase | None, list[tuple[str, str]]]:
        """The headers for this request, or a response to send without calling the view."""
        guard = self.guard
        headers = self._static
        if guard.dynamic:
            nonce = new_nonce()
            request.csp_nonce = nonce  # type: ignore[attr-defined]
            request.META[_NONCE_KEY] = nonce
            try:
                headers = guard.render(nonce, request)
            except HeaderRenderError as exc:
                answer = guard.render_failed(exc, path=request.path, method=request.method)
                return _answer(answer), []
        else:
            request.csp_nonce = self._no_nonce  # type: ignore[attr-defined]
        if self._checks:
            decision = guard.check(_environ_info(request.META, request.path))
            if not decision.allowed:
                return _answer(Answer.for_status(decision.status)), headers
        if guard.report_path is not None:
            if request.path == guard.report_path:
                return self._report(request), headers
            guard.flush_reports()  # reports the end of a report flood; cheap when none
        if guard.shield is not None:
            info = _shield_info(request, guard.shield)
            judged = guard.inspect(info)
            if judged.block:
                return _answer(guard.refusal(judged)), headers
            request.META[_SHIELD_KEY] = (info, judged)
        return None, headers

    def _after(
        self,
        response: HttpResponseBase,
        headers: list[tuple[str, str]],
        request: HttpRequest | None = None,
    ) -> HttpResponseBase:
        from django.http.response import ResponseHeaders

        guard = self.guard
        if request is not None:
            shielded = request.META.pop(_SHIELD_KEY, None)
            if shielded is not None:
                guard.responded(shielded[0], response.status_code, shielded[1])
        names = guard.names if headers else frozenset()
        merged = _merge_headers(response.headers.items(), headers, names, guard.drop)
        response.headers = ResponseHeaders(dict(merged))  # Django has one value per name
        return response

    def _report(self, request: HttpRequest) -> HttpResponseBase:
        """A request to the CSP report endpoint: headers and body to the guard, its answer back."""
        guard = self.guard
        meta = request.META
        client_ip = meta.get("REMOTE_ADDR") or None
        answer = guard.report_refusal(
            request.method, client_ip, str(meta.get("CONTENT_LENGTH") or "")
        )
        if answer is None:
            body = request.read(guard.report_max_bytes + 1)
            answer = guard.report_answer(
                body,
                meta.get("CONTENT_TYPE"),
                client_ip=client_ip,
                user_agent=meta.get("HTTP_USER_AGENT"),
            )
        return _answer(answer)


def csp_nonce(request: HttpRequest) -> dict[str, object]:
    """Template context processor: ``{{ csp_nonce }}``, the nonce in this response's CSP.

    Finds the nonce set by :class:`BulletproofMiddleware` or by :func:`bulletproof.protect`
    around Django's WSGI or ASGI handler. When the middleware's policy has no nonce it is a
    :class:`~bulletproof.headers._context.MissingNonce` (renders ``""`` and logs the fix once);
    for a request bulletproof never saw, ``""``.

    Added in 0.1.
    """
    from django.core.handlers.asgi import ASGIRequest

    nonce = request.META.get(_NONCE_KEY)
    if nonce is None and isinstance(request, ASGIRequest):
        nonce = request.scope.get(_NONCE_KEY)
    if nonce is None:
        missing = getattr(request, "csp_nonce", None)
        if isinstance(missing, MissingNonce):
            return {"csp_nonce": missing}
    return {"csp_nonce": nonce or ""}
