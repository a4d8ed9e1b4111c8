"""The guard: everything bulletproof does for one request, whatever the web framework.

A :class:`Guard` holds every per-request part, each validated and precomputed once:

* the header policy (:class:`~bulletproof.headers.HeaderPolicy`): the headers every response
  gets (pre-encoded for ASGI), the names to strip, and the per-response rendering of a nonce or a
  callable directive (:meth:`Guard.render`, :meth:`Guard.render_asgi`);
* the CSP report endpoint, when the policy names one (``csp_report_path``): the guard decides
  and answers (:meth:`Guard.report_refusal` before the body is read, :meth:`Guard.report_answer`
  after), with the limits and events of :class:`~bulletproof.headers._report.CspReportEndpoint`;
* request checks, the seam request inspection and behaviour rules plug into: a
  :data:`RequestCheck` takes a :class:`RequestInfo` and returns a :class:`Decision`.
  :meth:`Guard.check` runs them in order; with none (the default, and all there is today) it
  allows every request, and the adapters do not even build the :class:`RequestInfo`.

The adapters (:mod:`bulletproof.adapters`: ASGI, WSGI, Django, Flask) only translate a request
into calls of the guard and its :class:`Answer` back into a response.

>>> from bulletproof.headers import x_frame_options
>>> guard = Guard(x_frame_options(action="deny"))
>>> guard.headers
(('X-Frame-Options', 'DENY'),)
>>> guard.check(RequestInfo("GET", "/")).allowed
True
>>> guard.report_path is None      # no csp_report_path: no report endpoint
True

Added in 0.1.
"""

from __future__ import annotations

import http
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, AnyStr, Final, TypeAlias

from bulletproof.clock import Clock, system_clock
from bulletproof.detect import RequestInfo
from bulletproof.detect._shield import NOT_JUDGED, Judged, Shield
from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity
from bulletproof.headers import HeaderContext, HeaderPolicy, secure_headers
from bulletproof.headers._report import CspReportEndpoint

if TYPE_CHECKING:
    from bulletproof.events.base import Emitter

__all__ = [
    "ALLOW",
    "Answer",
    "Decision",
    "Guard",
    "RequestCheck",
    "RequestInfo",
]

_logger = logging.getLogger("bulletproof.headers")


@dataclass(frozen=True, slots=True)
class Decision:
    """What a :data:`RequestCheck` decided: allow the request, or refuse it with ``status``.

    ``reason`` says why, for logs and events; it is never sent to the client (the refusal's body
    is the status phrase). ``status`` must be a 4xx or 5xx code.

    Added in 0.1.
    """

    allowed: bool = True
    status: int = 403
    reason: str = ""

    def __post_init__(self) -> None:
        status: object = self.status
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise ConfigError(
                f"Decision(status={status!r}): a refusal is answered with an HTTP error status; "
                "use a whole number from 400 to 599 (403 Forbidden, 429 Too Many Requests)."
            )


ALLOW: Final = Decision()
"""The :class:`Decision` that lets a request through. Added in 0.1."""

RequestCheck: TypeAlias = Callable[[RequestInfo], Decision]
"""A check run on every request before the app sees it (request inspection, behaviour rules).

It must be fast and must not block: it runs on the request's path, in the server's event loop for
ASGI. Added in 0.1.
"""


@dataclass(frozen=True, slots=True)
class Answer:
    """A response the guard makes itself (a refusal, a CSP report's status, a render failure).

    ``headers`` are ``(name, value)`` pairs as WSGI spells them; the ASGI adapter lower-cases
    the names. The adapters send an answer through the same header policy as the app's responses
    (a render failure's excepted: it has no headers to add).

    Added in 0.1.
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @classmethod
    def for_status(cls, status: int, *headers: tuple[str, str]) -> Answer:
        """The status phrase as a plain-text body (no body for 204), plus ``headers``.

        >>> Answer.for_status(405, ("Allow", "POST")).headers[0]
        ('Allow', 'POST')

        Added in 0.1.
        """
        if status == 204:
            return cls(status, headers)
        body = http.HTTPStatus(status).phrase.encode()
        return cls(
            status,
            (
                *headers,
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ),
            body,
        )

    @property
    def reason(self) -> str:
        """The status phrase (``"Forbidden"``), for a WSGI status line. Added in 0.1."""
        return http.HTTPStatus(self.status).phrase


def _merge_headers(
    own: Iterable[tuple[AnyStr, AnyStr]],
    policy: Sequence[tuple[AnyStr, AnyStr]],
    policy_names: frozenset[AnyStr],
    drop: frozenset[AnyStr],
) -> list[tuple[AnyStr, AnyStr]]:
    """The response's header list with the policy applied, in Helmet's wire order.

    ``policy_names`` (the lower-case names of ``policy``) and ``drop`` are lower-case. Helmet sets
    its headers before the route runs, so they come first on the wire and a header the route set
    again keeps Helmet's position with the route's value: the same happens here. Works on
    ``bytes`` (ASGI) and ``str`` (WSGI, Django).
    """
    own = list(own)
    for name, _ in own:
        low = name.lower()
        if low in policy_names or low in drop:
            break
    else:  # the common case: nothing to override or remove
        merged = list(policy)
        merged.extend(own)
        return merged
    routes: dict[AnyStr, list[tuple[AnyStr, AnyStr]]] = {}
    rest: list[tuple[AnyStr, AnyStr]] = []
    for item in own:
        low = item[0].lower()
        if low in drop:
            continue
        if low in policy_names:
            routes.setdefault(low, []).append(item)
        else:
            rest.append(item)
    merged = []
    for item in policy:
        low = item[0].lower()
        if low not in routes:
            merged.append(item)
        else:
            merged.extend(routes[low])
            routes[low] = []  # a policy name listed twice must not repeat the route's value
    merged.extend(rest)
    return merged


def _render_failed_event(
    exc: Exception, *, path: str | None, method: str | None, timestamp: float
) -> SecurityEvent:
    """The event for a request answered 500 because its headers could not be rendered."""
    return SecurityEvent(
        action="header_render_failed",
        category=Category.HEADERS,
        severity=Severity.HIGH,
        message=f"security headers could not be rendered; the request was answered 500: {exc}",
        outcome=Outcome.FAILURE,
        types=("error",),
        url_path=path,
        http_method=method,
        status_code=500,
        details={"error": type(exc).__name__},
        timestamp=timestamp,
    )


class Guard:
    """Every per-request part of bulletproof, framework-free; shared by all requests.

    ``policy`` is the header policy (Helmet's defaults when None; the adapters pass the project's
    config instead, see :func:`bulletproof.protect`). ``emitter`` receives the CSP report events
    and ``header_render_failed`` events. ``checks`` run on every request, in order; the first
    refusal wins. ``remove_server`` strips a ``Server`` header the app sends. ``clock`` drives
    the report rate limits and event timestamps.

    Everything is computed here, once; the attributes are read-only by contract (the adapters
    copy what they use per request into their own locals): ``headers`` and ``asgi_headers`` are
    a static policy's headers (``str`` pairs; lower-case ``bytes`` pairs for ASGI), ``names`` /
    ``asgi_names`` their lower-case names, ``drop`` / ``asgi_drop`` the names to strip,
    ``dynamic`` says the headers are rendered per response, ``report_path`` is the CSP report
    endpoint's path (None: no endpoint) and ``csp_reports`` its limits and counters. Safe to
    share between threads and tasks.

    Added in 0.1.
    """

    def __init__(
        self,
        policy: HeaderPolicy | None = None,
        *,
        emitter: Emitter | None = None,
        checks: Iterable[RequestCheck] = (),
        shield: Shield | None = None,
        remove_server: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if policy is None:
            policy = secure_headers()
        elif not isinstance(policy, HeaderPolicy):
            raise ConfigError(
                f"policy={policy!r} is a {type(policy).__name__}, not a HeaderPolicy: build one "
                "with bulletproof.headers.secure_headers(...), or pass None for the project's "
                "config ([tool.bulletproof.headers])"
            )
        self.policy = policy
        self.emitter = emitter
        self.checks: tuple[RequestCheck, ...] = tuple(checks)
        for check in self.checks:
            if not callable(check):
                raise ConfigError(
                    f"Guard: checks holds {check!r}, which is not callable: pass functions "
                    "taking a RequestInfo and returning a Decision"
                )
        if shield is not None and not isinstance(shield, Shield):
            raise ConfigError(
                f"Guard: shield={shield!r} is a {type(shield).__name__}, not a "
                "bulletproof.guard.Shield: build one with Shield(Inspector(), mode=...)"
            )
        self.shield = shield
        self.clock = clock
        self.dynamic = policy.dynamic
        self.headers: tuple[tuple[str, str], ...] = tuple(policy.headers)
        self.asgi_headers: tuple[tuple[bytes, bytes], ...] = policy.asgi_static
        self.names = frozenset(name.lower() for name, _ in self.headers)
        self.asgi_names = frozenset(name.encode("latin-1") for name in self.names)
        drop = {name.lower() for name in policy.remove}
        if remove_server:
            drop.add("server")
        self.drop = frozenset(drop)
        self.asgi_drop = frozenset(name.encode("latin-1") for name in drop)
        self.report_path = policy.csp_report_path
        self.csp_reports: CspReportEndpoint | None = (
            CspReportEndpoint(emitter, clock=clock) if self.report_path is not None else None
        )

    def __repr__(self) -> str:
        return (
            f"Guard({len(self.headers)} headers, report_path={self.report_path!r}, "
            f"{len(self.checks)} checks, shield={self.shield!r})"
        )

    # -- headers ------------------------------------------------------------------------------

    def render(self, nonce: str, request: object) -> list[tuple[str, str]]:
        """A dynamic policy's headers for one response, with ``nonce`` filled in.

        ``request`` is what a callable directive receives as ``HeaderContext.request`` (the WSGI
        environ, a framework request). Raises :class:`~bulletproof.errors.HeaderRenderError`:
        answer with :meth:`render_failed` then.

        Added in 0.1.
        """
        return self.policy.render(nonce=nonce, context=HeaderContext(nonce=nonce, request=request))

    def render_asgi(self, nonce: str, request: object) -> list[tuple[bytes, bytes]]:
        """Like :meth:`render`, as ASGI ``(lower-case name, value)`` bytes. Added in 0.1."""
        return self.policy.render_asgi(
            nonce=nonce, context=HeaderContext(nonce=nonce, request=request)
        )

    def render_failed(self, exc: Exception, *, path: str | None, method: str | None) -> Answer:
        """Log and report a render failure; the answer is a 500 (the app is not called).

        Added in 0.1.
        """
        _logger.error("security headers could not be rendered for %s: %s", path, exc)
        if self.emitter is not None:
            event = _render_failed_event(exc, path=path, method=method, timestamp=self.clock.time())
            try:
                self.emitter.emit(event)
            except Exception:  # an Emitter must not raise; a broken one must not fail more
                _logger.exception("the emitter raised on a header_render_failed event")
        return Answer.for_status(500)

    # -- checks -------------------------------------------------------------------------------

    def check(self, request: RequestInfo) -> Decision:
        """Run the checks on ``request``: the first refusal, or :data:`ALLOW`.

        The adapters call it only when :attr:`checks` is not empty, and answer a refusal with
        ``Answer.for_status(decision.status)`` before the app sees the request.

        Added in 0.1.
        """
        for check in self.checks:
            decision = check(request)
            if not decision.allowed:
                return decision
        return ALLOW

    # -- the shield ----------------------------------------------------------------------------

    def inspect(self, request: RequestInfo) -> Judged:
        """The shield's word on ``request`` (its event is emitted here, queued, not delivered);
        with no shield, :data:`~bulletproof.detect._shield.NOT_JUDGED`. Never raises.

        Answer ``judged.block`` with :meth:`refusal` before the app runs.

        Added in 0.1.
        """
        shield = self.shield
        if shield is None:
            return NOT_JUDGED
        return shield.judge(request)

    @staticmethod
    def refusal(judged: Judged) -> Answer:
        """The 403 for a blocked request: a short plain-text body naming the event id, so a
        user who was refused by mistake can quote it. Added in 0.1."""
        body = (
            f"Forbidden: this request was refused by the server's security filter "
            f"(event {judged.event_id}).\n"
        ).encode()
        return Answer(
            403,
            (
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ),
            body,
        )

    def responded(self, request: RequestInfo, status: int, judged: Judged) -> None:
        """Tell the shield the app answered ``status`` (a 4xx becomes an ``invalid_request``
        event unless the request was reported already). Added in 0.1."""
        shield = self.shield
        if shield is not None and 400 <= status <= 499:
            shield.app_error(request, status, judged)

    # -- the CSP report endpoint --------------------------------------------------------------

    @property
    def report_max_bytes(self) -> int:
        """The largest report body: read at most one byte more, then :meth:`report_answer`.

        Added in 0.1.
        """
        endpoint = self.csp_reports
        return endpoint.max_bytes if endpoint is not None else 0

    def flush_reports(self) -> None:
        """Report the end of a report flood (a due ``csp_reports_dropped`` event).

        The adapters call it on every request that is not a report (cheap when nothing is
        pending), so the end of a flood is reported even when no report follows it.

        Added in 0.1.
        """
        endpoint = self.csp_reports
        if endpoint is not None:
            endpoint.flush()

    def report_refusal(
        self,
        method: str | None,
        client_ip: str | None,
        content_length: str | None,
        *,
        body_ends: bool = True,
    ) -> Answer | None:
        """Decide on a request to :attr:`report_path` before its body is read.

        Returns the answer when the request is refused (405 not a POST, 429 over a rate limit,
        400 a malformed ``Content-Length``, 413 one over :attr:`report_max_bytes`, 411 no length
        while ``body_ends`` is False: the transport cannot tell where the body ends, so reading
        it could block), or None: read the body, at most :attr:`report_max_bytes` + 1 bytes,
        and pass it to :meth:`report_answer`.

        Added in 0.1.
        """
        endpoint = self.csp_reports
        if endpoint is None:
            return Answer.for_status(404)
        if method != "POST":
            return Answer.for_status(405, ("Allow", "POST"))
        if not endpoint.admit(client_ip):
            return Answer.for_status(429)
        declared = (content_length or "").strip()
        if declared:
            if not (declared.isascii() and declared.isdigit()):
                return Answer.for_status(400)
            if int(declared) > endpoint.max_bytes:
                return Answer.for_status(413)
        elif not body_ends:
            return Answer.for_status(411)
        return None

    def report_answer(
        self,
        body: bytes,
        content_type: str | None,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> Answer:
        """Parse an admitted report body, emit its events, and answer (204, 400, 413, 415).

        Added in 0.1.
        """
        endpoint = self.csp_reports
        if endpoint is None:
            return Answer.for_status(404)
        if len(body) > endpoint.max_bytes:
            return Answer.for_status(413)
        result = endpoint.receive(body, content_type, client_ip=client_ip, user_agent=user_agent)
        return Answer.for_status(result.status)
