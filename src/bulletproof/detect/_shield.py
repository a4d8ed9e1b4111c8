"""The shield: the inspector on every request, an event for every request that is not normal.

:class:`Shield` is what the guard runs: it judges a :class:`RequestInfo`, emits one
``SecurityEvent`` (category ``malicious_traffic`` or ``invalid_request``) through the emitter
it was given (the event pipeline queues it: nothing on the request's path waits for
delivery), and says whether to refuse the request (``block`` mode). A 4xx the app itself
answered is an ``invalid_request`` too (:meth:`Shield.app_error`).

>>> class Collect:
...     def __init__(self): self.events = []
...     def emit(self, event): self.events.append(event)
>>> sink = Collect()
>>> shield = Shield(Inspector(), mode="block", emitter=sink)
>>> judged = shield.judge(RequestInfo("GET", "/", "q=%3Cscript%3Ealert(1)%3C/script%3E"))
>>> judged.block, sink.events[0].category.value, sink.events[0].id == judged.event_id
(True, 'malicious_traffic', True)

Added in 0.1.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from bulletproof._sensitive import is_secret_name
from bulletproof.clock import Clock, system_clock
from bulletproof.detect._inspector import Finding, Inspection, Inspector
from bulletproof.detect._normalize import evidence
from bulletproof.detect._request import RequestInfo
from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity

if TYPE_CHECKING:
    from bulletproof.events.base import Emitter

__all__ = ["Judged", "Shield"]

_logger = logging.getLogger("bulletproof.shield")
_MAX_FINDINGS: Final = 8  # findings carried in one event (the count says how many there were)
_NORMAL: Final = Inspection("normal", 0)


@dataclass(frozen=True, slots=True)
class Judged:
    """The shield's word on one request: the inspection, the event id (None when the request
    was normal and nothing was emitted), and whether to refuse it. Added in 0.1."""

    inspection: Inspection
    event_id: str | None = None
    block: bool = False

    @property
    def reported(self) -> bool:
        """Whether an event was emitted for this request. Added in 0.1."""
        return self.event_id is not None


NOT_JUDGED: Final = Judged(_NORMAL)
"""What the guard holds for a request the shield did not look at. Added in 0.1."""


def _secret_location(location: str) -> bool:
    """``form:password``, ``json:user.api_key``, ``cookie:session``: a field holding a secret."""
    name = location.rpartition(":")[2].rpartition(".")[2].partition("[")[0]
    return bool(name) and is_secret_name(name)


def _finding_dict(finding: Finding) -> dict[str, object]:
    quoted = finding.evidence
    if _secret_location(finding.location):
        quoted = f"[redacted: {len(quoted)} characters of a secret field]"
    return {
        "type": finding.type,
        "location": finding.location,
        "rule": finding.rule,
        "score": finding.score,
        "evidence": quoted,
    }


def _safe_query(query: str) -> str:
    """The query string with the values of secret-named parameters masked."""
    parts = query.split("&", 256)
    for i, part in enumerate(parts[:256]):
        name, sep, value = part.partition("=")
        if sep and value and is_secret_name(name):
            parts[i] = f"{name}=[redacted]"
    return "&".join(parts)


class Shield:
    """Request inspection with events and, in ``block`` mode, refusals. Thread-safe.

    ``inspector`` judges; ``mode`` is ``monitor`` or ``block``; ``emitter`` receives the
    events (None: they are logged at WARNING); ``body_limit`` is how many bytes of a body the
    adapters read for it; ``app_errors`` makes an app's 4xx an ``invalid_request`` event.

    Added in 0.1.
    """

    def __init__(
        self,
        inspector: Inspector | None = None,
        *,
        mode: str = "monitor",
        emitter: Emitter | None = None,
        body_limit: int = 64 * 1024,
        app_errors: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if mode not in ("monitor", "block"):
            raise ConfigError(
                f"shield.mode = {mode!r}: use 'monitor' (log only) or 'block' (403 for "
                "malicious requests, before the app runs)"
            )
        self.inspector = inspector if inspector is not None else Inspector()
        self.mode = mode
        self.emitter = emitter
        self.body_limit = body_limit
        self.app_errors = app_errors
        self.clock = clock

    def __repr__(self) -> str:
        return f"Shield(mode={self.mode!r}, body_limit={self.body_limit})"

    def wants_body(self, content_type: str | None) -> bool:
        """Whether a body of this media type is read for inspection (text formats only: form,
        JSON, multipart, XML, GraphQL, text; not images, archives or octet streams).

        Added in 0.1.
        """
        if self.body_limit <= 0:
            return False
        kind = (content_type or "").split(";", 1)[0].strip().lower()
        return (
            not kind
            or kind
            in (
                "application/x-www-form-urlencoded",
                "application/json",
                "application/graphql",
                "application/xml",
            )
            or kind.startswith(("text/", "multipart/form-data"))
            or kind.endswith(("+json", "+xml"))
        )

    def judge(self, request: RequestInfo) -> Judged:
        """Inspect ``request``; emit its event when it is not normal. Never raises.

        Added in 0.1.
        """
        result = self.inspector.inspect(request)
        if result.verdict == "normal":
            return Judged(result)
        block = self.mode == "block" and result.verdict == "malicious"
        event = self._event(request, result, block)
        self._emit(event)
        return Judged(result, event.id, block)

    def app_error(self, request: RequestInfo, status: int, judged: Judged = NOT_JUDGED) -> None:
        """Report a 4xx the app answered, unless the request was reported already.

        Added in 0.1.
        """
        if not self.app_errors or judged.reported or not 400 <= status <= 499:
            return
        self._emit(
            self._about(
                request,
                SecurityEvent(
                    action="app_client_error",
                    category=Category.INVALID_REQUEST,
                    severity=Severity.LOW,
                    message=f"the app answered {status} to {request.method} "
                    f"{evidence(request.path, limit=200)}",
                    outcome=Outcome.FAILURE,
                    types=("info",),
                    status_code=status,
                    timestamp=self.clock.time(),
                ),
            )
        )

    # -- events -------------------------------------------------------------------------------

    @staticmethod
    def _about(request: RequestInfo, event: SecurityEvent) -> SecurityEvent:
        """``event`` with the request's fields, made safe to log."""
        query = request.query
        return dataclasses.replace(
            event,
            source_ip=request.client_ip,
            url_path=evidence(request.path, limit=2048),
            url_query=evidence(_safe_query(query), limit=2048) if query else None,
            http_method=evidence(request.method, limit=32),
            user_agent=evidence(request.header("user-agent") or "", limit=512) or None,
        )

    def _event(self, request: RequestInfo, result: Inspection, block: bool) -> SecurityEvent:
        findings = sorted(result.findings, key=lambda f: -f.score)
        top = findings[0] if findings else None
        malicious = result.verdict == "malicious"
        kinds = ", ".join(dict.fromkeys(f.type for f in findings)) or "protocol"
        where = f" in {top.location}" if top is not None else ""
        verb = "refused" if block else "seen"
        return self._about(
            request,
            SecurityEvent(
                action="malicious_request" if malicious else "invalid_request",
                category=Category.MALICIOUS_TRAFFIC if malicious else Category.INVALID_REQUEST,
                severity=Severity.HIGH if malicious else Severity.LOW,
                message=f"{result.verdict} request {verb}: {kinds}{where} (score {result.score})",
                outcome=Outcome.FAILURE if block else Outcome.UNKNOWN,
                types=("denied",) if block else ("info",),
                status_code=403 if block else None,
                rule_id=top.rule if top is not None else None,
                rule_name=top.type if top is not None else None,
                details={
                    "verdict": result.verdict,
                    "score": result.score,
                    "mode": self.mode,
                    "findings": [_finding_dict(f) for f in findings[:_MAX_FINDINGS]],
                    "finding_count": len(findings),
                },
                timestamp=self.clock.time(),
            ),
        )

    def _emit(self, event: SecurityEvent) -> None:
        emitter = self.emitter
        if emitter is None:
            _logger.warning("%s [%s] %s", event.action, event.id, event.message)
            return
        try:
            emitter.emit(event)
        except Exception:  # an Emitter must not raise; a broken one must not fail a request
            _logger.exception("the emitter raised on a %s event", event.action)
