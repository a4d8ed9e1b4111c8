"""CSP violation reports: parse what browsers POST, rate-limit it, and turn it into events.

Browsers send two formats to the endpoint a policy names:

* ``report-uri``: one report per request, ``Content-Type: application/csp-report``, body
  ``{"csp-report": {"document-uri": ..., "violated-directive": ..., "blocked-uri": ...}}``;
* the Reporting API (``report-to`` plus a ``Reporting-Endpoints`` header): a batch,
  ``Content-Type: application/reports+json``, body ``[{"type": "csp-violation", "url": ...,
  "body": {"documentURL": ..., "effectiveDirective": ..., "blockedURL": ...}}, ...]``.

Anyone can POST to that endpoint, so everything here treats the body as hostile:
:func:`parse_csp_report` never raises on input, it returns a :class:`CspReportResult` whose
``error`` says what was wrong; bodies are size-limited, the number of reports per body is capped,
only known fields are kept and each string is truncated. :class:`CspReportEndpoint` adds the rate
limits (a token bucket per client IP, a bounded number of tracked IPs, and one global bucket; they
count reports, so a batch of 20 costs 20 tokens), hands the events to an
:class:`~bulletproof.events.base.Emitter` (which never blocks), and counts every report it refuses
in ``csp_reports_dropped`` events (at most one a minute, none lost).

>>> body = b'{"csp-report": {"document-uri": "https://example.com/", '
>>> body += b'"effective-directive": "script-src-elem", "blocked-uri": "https://evil.example/x.js"}}'
>>> result = parse_csp_report(body, "application/csp-report")
>>> result.status, result.events[0].action, result.events[0].rule_name
(204, 'csp_violation', 'script-src-elem')
>>> parse_csp_report(b"{nope", "application/csp-report").error
'the body is not valid JSON'

The endpoint is answered in one place, :class:`bulletproof.guard.Guard` (its ``report_refusal``
calls :meth:`CspReportEndpoint.admit` and checks the declared length before the body is read, its
``report_answer`` calls :meth:`CspReportEndpoint.receive`); the web framework adapters
(:mod:`bulletproof.adapters`) only pass the request's headers and body bytes in and the answer out.

Added in 0.1.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Final

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity

if TYPE_CHECKING:
    from bulletproof.events.base import Emitter

__all__ = [
    "DROP_EVENT_INTERVAL",
    "DROP_REASONS",
    "MAX_REPORT_BYTES",
    "CspReportEndpoint",
    "CspReportResult",
    "parse_csp_report",
]

logger = logging.getLogger("bulletproof.headers")

MAX_REPORT_BYTES: Final = 64 * 1024
"""Largest report body accepted (64 KiB); larger ones are answered 413. Added in 0.1."""

MAX_REPORTS_PER_BODY: Final = 20
"""A Reporting API batch holds at most this many CSP reports that become events."""

MAX_FIELD_CHARS: Final = 1024
"""Each string taken from a report is cut to this many characters (policies to 4x)."""

DROP_EVENT_INTERVAL: Final = 60.0
"""Seconds between two ``csp_reports_dropped`` events, at least. Added in 0.1."""

DROP_REASONS: Final = ("per_ip_limit", "global_limit", "batch_limit")
"""Why :class:`CspReportEndpoint` refuses a report, as counted in ``csp_reports_dropped`` events:
the client's per-IP bucket is empty, the global bucket is empty, or the report is beyond
``MAX_REPORTS_PER_BODY`` in its batch. Added in 0.1."""

_MAX_POLICY_CHARS: Final = 4 * MAX_FIELD_CHARS
_MAX_INT: Final = 2**31 - 1

_CSP_REPORT_TYPES: Final = frozenset({"application/csp-report", "application/json"})
_REPORTING_API_TYPES: Final = frozenset({"application/reports+json"})

# (key in the report, key in the event details, maximum length): report-uri format.
_LEGACY_STR_FIELDS: Final = (
    ("document-uri", "document_uri", MAX_FIELD_CHARS),
    ("referrer", "referrer", MAX_FIELD_CHARS),
    ("blocked-uri", "blocked_uri", MAX_FIELD_CHARS),
    ("violated-directive", "violated_directive", MAX_FIELD_CHARS),
    ("effective-directive", "effective_directive", MAX_FIELD_CHARS),
    ("original-policy", "original_policy", _MAX_POLICY_CHARS),
    ("disposition", "disposition", MAX_FIELD_CHARS),
    ("source-file", "source_file", MAX_FIELD_CHARS),
    ("script-sample", "sample", MAX_FIELD_CHARS),
)
_LEGACY_INT_FIELDS: Final = (
    ("line-number", "line_number"),
    ("column-number", "column_number"),
    ("status-code", "status_code"),
)
# The same for the ``body`` of a Reporting API ``csp-violation`` report.
_REPORTING_STR_FIELDS: Final = (
    ("documentURL", "document_uri", MAX_FIELD_CHARS),
    ("referrer", "referrer", MAX_FIELD_CHARS),
    ("blockedURL", "blocked_uri", MAX_FIELD_CHARS),
    ("effectiveDirective", "effective_directive", MAX_FIELD_CHARS),
    ("originalPolicy", "original_policy", _MAX_POLICY_CHARS),
    ("disposition", "disposition", MAX_FIELD_CHARS),
    ("sourceFile", "source_file", MAX_FIELD_CHARS),
    ("sample", "sample", MAX_FIELD_CHARS),
)
_REPORTING_INT_FIELDS: Final = (
    ("lineNumber", "line_number"),
    ("columnNumber", "column_number"),
    ("statusCode", "status_code"),
)


@dataclass(frozen=True, slots=True)
class CspReportResult:
    """What :func:`parse_csp_report` made of one request body.

    ``status`` is the HTTP status to answer with: 204 (accepted, even when no report in a batch
    was about CSP), 400 (not JSON, or not shaped like a report), 413 (too large) or 415 (a
    content type that is not a report). ``error`` describes the problem in words safe to log (it
    never quotes the body); ``ignored`` counts reports in the body that did not become events
    (another report type, or beyond the per-body cap), and ``capped`` those of them that were CSP
    reports beyond the cap. ``refused`` counts the CSP reports :meth:`CspReportEndpoint.receive`
    refused because a rate limit ran out in the middle of the batch (they are not in ``events``;
    the status stays 204 when some of the batch was accepted).

    Added in 0.1.
    """

    status: int
    events: tuple[SecurityEvent, ...] = ()
    error: str | None = None
    ignored: int = 0
    capped: int = 0
    refused: int = 0


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _media_type(content_type: str | None) -> str:
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return value if len(value) <= limit else value[:limit] + "..."


def _number(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= _MAX_INT else None


def _details(
    report: Mapping[str, Any],
    str_fields: tuple[tuple[str, str, int], ...],
    int_fields: tuple[tuple[str, str], ...],
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    for key, name, limit in str_fields:
        text = _text(report.get(key), limit)
        if text is not None:
            details[name] = text
    for key, name in int_fields:
        number = _number(report.get(key))
        if number is not None:
            details[name] = number
    return details


def _event(
    details: dict[str, Any],
    *,
    source_ip: str | None,
    user_agent: str | None,
    timestamp: float,
) -> SecurityEvent:
    directive = details.get("effective_directive") or details.get("violated_directive") or "?"
    # CSP2 browsers send "script-src 'self'" as violated-directive: the name is the first word.
    directive = directive.split(" ", 1)[0]
    blocked = details.get("blocked_uri") or "?"
    disposition = details.get("disposition") or "enforce"
    report_only = disposition == "report"
    return SecurityEvent(
        action="csp_violation",
        category=Category.HEADERS,
        severity=Severity.LOW if report_only else Severity.MEDIUM,
        message=f"Content-Security-Policy {directive} blocked {blocked}"
        + (" (report-only)" if report_only else ""),
        outcome=Outcome.FAILURE if not report_only else Outcome.UNKNOWN,
        types=("denied",) if not report_only else ("info",),
        source_ip=source_ip,
        user_agent=_text(user_agent, MAX_FIELD_CHARS) if user_agent is not None else None,
        rule_name=directive,
        details=details,
        timestamp=timestamp,
    )


def parse_csp_report(
    body: bytes,
    content_type: str | None,
    *,
    source_ip: str | None = None,
    user_agent: str | None = None,
    max_bytes: int = MAX_REPORT_BYTES,
    clock: Clock = system_clock,
) -> CspReportResult:
    """Turn one CSP report request body into ``csp_violation`` events; never raises on input.

    ``content_type`` is the request's ``Content-Type`` header (parameters are ignored):
    ``application/csp-report`` or ``application/json`` for ``report-uri`` reports,
    ``application/reports+json`` for Reporting API batches (where reports of other types, such
    as ``deprecation``, are counted in ``ignored``). ``source_ip`` and ``user_agent`` describe the
    client that sent the report and are copied to each event.

    Added in 0.1.
    """
    if len(body) > max_bytes:
        return CspReportResult(
            413, error=f"the report body has {len(body)} bytes, over the limit of {max_bytes}"
        )
    media = _media_type(content_type)
    if media not in _CSP_REPORT_TYPES and media not in _REPORTING_API_TYPES:
        shown = _text(media, 64) or "none"
        return CspReportResult(
            415,
            error=f"content type {shown!r} is not a CSP report: expected "
            "application/csp-report or application/reports+json",
        )
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        # JSONDecodeError, invalid UTF-8, NaN/Infinity, integers too long, nesting too deep.
        return CspReportResult(400, error="the body is not valid JSON")
    timestamp = clock.time()
    if isinstance(document, dict) and isinstance(document.get("csp-report"), dict):
        details = _details(document["csp-report"], _LEGACY_STR_FIELDS, _LEGACY_INT_FIELDS)
        details["format"] = "report-uri"
        event = _event(details, source_ip=source_ip, user_agent=user_agent, timestamp=timestamp)
        return CspReportResult(204, events=(event,))
    if isinstance(document, list):
        events: list[SecurityEvent] = []
        ignored = capped = 0
        for item in document:
            if (
                not isinstance(item, dict)
                or item.get("type") != "csp-violation"
                or not isinstance(item.get("body"), dict)
            ):
                ignored += 1
                continue
            if len(events) >= MAX_REPORTS_PER_BODY:
                ignored += 1
                capped += 1
                continue
            details = _details(item["body"], _REPORTING_STR_FIELDS, _REPORTING_INT_FIELDS)
            details["format"] = "report-to"
            agent = user_agent if user_agent is not None else _text(item.get("user_agent"), 256)
            events.append(
                _event(details, source_ip=source_ip, user_agent=agent, timestamp=timestamp)
            )
        return CspReportResult(204, events=tuple(events), ignored=ignored, capped=capped)
    return CspReportResult(
        400,
        error="the JSON is not a CSP report: expected an object with a 'csp-report' member "
        "or a Reporting API list",
    )


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class CspReportEndpoint:
    """The framework-free half of the CSP report endpoint: limits, parsing and events.

    A request is first :meth:`admit`-ted (rate limits, before its body is read), then its body
    goes to :meth:`receive`, which returns the HTTP status to answer. The limits count reports,
    not requests: ``per_ip_per_minute`` per client IP (a token bucket holding that many, refilled
    continuously), at most ``max_tracked_ips`` IPs remembered (the least recently seen is
    forgotten first), and ``total_per_minute`` for all clients together. :meth:`admit` takes one
    token from both buckets, for the body's first report, and says no (429) when either is empty;
    :meth:`receive` takes one more per further report of a Reporting API batch and refuses the
    reports it has no token for. A partly accepted batch is still answered 204: its accepted
    reports became events, and an error would make the browser send the whole batch again.

    Every refused report is counted, by reason (:data:`DROP_REASONS`), in :attr:`dropped` and in
    ``csp_reports_dropped`` events; a request :meth:`admit` refuses counts as one report (its body
    is never read). The first refusal after a quiet :data:`DROP_EVENT_INTERVAL` is reported at
    once; the later ones are added up and reported by the first call of :meth:`admit`,
    :meth:`receive` or :meth:`flush` once that interval since the previous event has passed (the
    guard calls :meth:`flush` on every other request the adapters see). So a flood yields at most
    one event per interval, each event's ``dropped`` is the exact count since the event before
    (with one detail per reason), and the events add up to :attr:`dropped`.
    ``flush(force=True)`` reports what is still pending, e.g. at shutdown.

    Safe to share between threads (WSGI servers) and tasks (ASGI servers).

    Added in 0.1.
    """

    def __init__(
        self,
        emitter: Emitter | None = None,
        *,
        clock: Clock = system_clock,
        max_bytes: int = MAX_REPORT_BYTES,
        per_ip_per_minute: float = 10,
        total_per_minute: float = 100,
        max_tracked_ips: int = 10_000,
    ) -> None:
        checks: dict[str, object] = {
            "max_bytes": max_bytes,
            "per_ip_per_minute": per_ip_per_minute,
            "total_per_minute": total_per_minute,
            "max_tracked_ips": max_tracked_ips,
        }
        for name, value in checks.items():
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value < 1
            ):
                raise ConfigError(
                    f"CSP report endpoint option {name}={value!r} is invalid: use a number >= 1"
                )
        self.emitter = emitter
        self.max_bytes = int(max_bytes)
        self._clock = clock
        self._per_ip = float(per_ip_per_minute)
        self._total = float(total_per_minute)
        self._max_ips = int(max_tracked_ips)
        self._lock = threading.Lock()
        self._ips: collections.OrderedDict[str, _Bucket] = collections.OrderedDict()
        self._global = _Bucket(self._total, clock.monotonic())
        self._dropped = 0
        self._dropped_by = dict.fromkeys(DROP_REASONS, 0)
        # Refusals not yet in a csp_reports_dropped event, and the one client they all came
        # from (None once a second client is among them).
        self._pending = dict.fromkeys(DROP_REASONS, 0)
        self._pending_total = 0
        self._pending_ip: str | None = None
        self._last_drop_event: float | None = None

    @property
    def dropped(self) -> int:
        """Reports refused since the endpoint was created (all reasons)."""
        with self._lock:
            return self._dropped

    @property
    def dropped_by_reason(self) -> dict[str, int]:
        """:attr:`dropped` split by reason: a count for each name in :data:`DROP_REASONS`."""
        with self._lock:
            return dict(self._dropped_by)

    @property
    def pending_drops(self) -> int:
        """Refused reports that no ``csp_reports_dropped`` event has reported yet."""
        with self._lock:
            return self._pending_total

    @property
    def tracked_ips(self) -> int:
        """How many client IPs the per-IP limit remembers now (at most ``max_tracked_ips``)."""
        with self._lock:
            return len(self._ips)

    def _refill(self, bucket: _Bucket, capacity: float, now: float) -> None:
        elapsed = max(now - bucket.stamp, 0.0)
        bucket.tokens = min(capacity, bucket.tokens + elapsed * capacity / 60.0)
        bucket.stamp = now

    def _buckets(self, key: str, now: float) -> _Bucket:
        """The client's bucket (created full, or refilled) and the refilled global one; locked."""
        bucket = self._ips.get(key)
        if bucket is None:
            bucket = _Bucket(self._per_ip, now)
            self._ips[key] = bucket
            if len(self._ips) > self._max_ips:
                self._ips.popitem(last=False)
        else:
            self._ips.move_to_end(key)
            self._refill(bucket, self._per_ip, now)
        self._refill(self._global, self._total, now)
        return bucket

    def _count(self, reason: str, count: int, client_ip: str | None) -> None:
        """Record ``count`` refused reports; locked."""
        if self._pending_total == 0:
            self._pending_ip = client_ip
        elif client_ip != self._pending_ip:
            self._pending_ip = None
        self._dropped += count
        self._dropped_by[reason] += count
        self._pending[reason] += count
        self._pending_total += count

    def _drop_event(self, now: float, *, force: bool = False) -> SecurityEvent | None:
        """The csp_reports_dropped event for the pending refusals, if one is due; locked."""
        if self._pending_total == 0:
            return None
        last = self._last_drop_event
        if not force and last is not None and now - last < DROP_EVENT_INTERVAL:
            return None
        counts = self._pending
        labels = {
            "per_ip_limit": f"over the per-IP limit ({self._per_ip:g}/min)",
            "global_limit": f"over the global limit ({self._total:g}/min)",
            "batch_limit": f"beyond {MAX_REPORTS_PER_BODY} in one batch",
        }
        reasons = ", ".join(
            f"{counts[name]} {labels[name]}" for name in DROP_REASONS if counts[name]
        )
        event = SecurityEvent(
            action="csp_reports_dropped",
            category=Category.HEADERS,
            severity=Severity.LOW,
            message=f"{self._pending_total} CSP report(s) refused: {reasons}",
            outcome=Outcome.FAILURE,
            types=("denied",),
            source_ip=self._pending_ip,
            details={"dropped": self._pending_total, "dropped_total": self._dropped, **counts},
            timestamp=self._clock.time(),
        )
        self._pending = dict.fromkeys(DROP_REASONS, 0)
        self._pending_total = 0
        self._pending_ip = None
        self._last_drop_event = now
        return event

    def admit(self, client_ip: str | None) -> bool:
        """Take one token for ``client_ip`` (and one from the global bucket); False means 429.

        Call it before reading the body, so a flood costs no more than its headers. The token
        pays for the body's first report; :meth:`receive` charges the others.
        """
        key = client_ip or "-"
        now = self._clock.monotonic()
        with self._lock:
            bucket = self._buckets(key, now)
            admitted = bucket.tokens >= 1.0 and self._global.tokens >= 1.0
            if admitted:
                bucket.tokens -= 1.0
                self._global.tokens -= 1.0
            else:
                reason = "per_ip_limit" if bucket.tokens < 1.0 else "global_limit"
                self._count(reason, 1, client_ip)
            drop_event = self._drop_event(now)
        if drop_event is not None:
            self._emit(drop_event)
        return admitted

    def receive(
        self,
        body: bytes,
        content_type: str | None,
        *,
        client_ip: str | None = None,
        user_agent: str | None = None,
    ) -> CspReportResult:
        """Parse an admitted report body and emit its events; the result's status is the answer.

        The body's first report was paid for by :meth:`admit`; each further one of a batch takes
        a token from the client's and the global bucket, in the batch's order, and those left
        without one are refused (counted in the result's ``refused`` and in :attr:`dropped`
        under the limit that ran out). CSP reports beyond the per-body cap count as refused too.
        """
        result = parse_csp_report(
            body,
            content_type,
            source_ip=client_ip,
            user_agent=user_agent,
            max_bytes=self.max_bytes,
            clock=self._clock,
        )
        if result.error is not None:
            logger.info("CSP report from %s refused: %s", client_ip or "?", result.error)
        extra = len(result.events) - 1
        refused = 0
        now = self._clock.monotonic()
        with self._lock:
            if extra > 0:
                bucket = self._buckets(client_ip or "-", now)
                own, total = int(bucket.tokens), int(self._global.tokens)
                taken = min(extra, own, total)
                bucket.tokens -= taken
                self._global.tokens -= taken
                refused = extra - taken
                if refused:
                    reason = "per_ip_limit" if own <= total else "global_limit"
                    self._count(reason, refused, client_ip)
            if result.capped:
                self._count("batch_limit", result.capped, client_ip)
            drop_event = self._drop_event(now)
        if refused:
            result = replace(result, events=result.events[: extra + 1 - refused], refused=refused)
        for event in result.events:
            self._emit(event)
        if drop_event is not None:
            self._emit(drop_event)
        return result

    def flush(self, *, force: bool = False) -> int:
        """Emit the ``csp_reports_dropped`` event for the pending refusals if it is due.

        Due means: some refusals are not reported yet and :data:`DROP_EVENT_INTERVAL` has passed
        since the previous event; ``force=True`` emits it now regardless (for shutdown). Returns
        how many refusals the event reported (0: no event). Cheap when nothing is pending: the
        guard calls it on every request so that the end of a flood is reported even when no
        report arrives after it.
        """
        if not self._pending_total:  # read without the lock: a stale 0 only delays to next call
            return 0
        now = self._clock.monotonic()
        last = self._last_drop_event
        if not force and last is not None and now - last < DROP_EVENT_INTERVAL:
            return 0
        with self._lock:
            drop_event = self._drop_event(now, force=force)
        if drop_event is None:
            return 0
        self._emit(drop_event)
        return int(drop_event.details["dropped"])

    def _emit(self, event: SecurityEvent) -> None:
        if self.emitter is None:
            logger.info("%s (no emitter configured for CSP report events)", event.message)
            return
        try:
            self.emitter.emit(event)
        except Exception:  # an Emitter must not raise; a broken one must not fail the request
            logger.exception("the emitter raised on a %s event", event.action)
