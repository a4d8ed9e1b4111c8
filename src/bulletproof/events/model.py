"""The one event model: :class:`SecurityEvent` and its ECS-aligned JSON form.

Every part of bulletproof that notices something produces a ``SecurityEvent``; every part that
delivers consumes one. On the wire an event is one JSON object whose field names follow the Elastic
Common Schema (ECS), plus a ``bulletproof`` object (see ``schema/security-event.schema.json``).

>>> ev = SecurityEvent(action="login_failed", category=Category.AUTH, severity=Severity.MEDIUM,
...                    source_ip="203.0.113.9", user_name="alice", timestamp=0.0, id="e1")
>>> doc = ev.to_ecs()
>>> doc["event"]["severity"], doc["bulletproof"]["category"], doc["source"]["ip"]
(47, 'auth', '203.0.113.9')
>>> SecurityEvent.from_ecs(doc) == ev
True

Added in 0.1.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from bulletproof.clock import system_clock

__all__ = [
    "ECS_VERSION",
    "Category",
    "Outcome",
    "SecurityEvent",
    "Severity",
    "new_event_id",
]

ECS_VERSION: Final = "8.11.0"


class Severity(enum.Enum):
    """How bad an event is. Ordered: ``LOW < MEDIUM < HIGH < CRITICAL``. Added in 0.1."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for low up to 3 for critical."""
        return _SEVERITY_RANK[self]

    @property
    def ecs(self) -> int:
        """The ``event.severity`` number (Elastic detection-rule scale: 21, 47, 73, 99)."""
        return _SEVERITY_ECS[self]

    @property
    def syslog(self) -> int:
        """The RFC 5424 severity: notice, warning, error, critical."""
        return _SEVERITY_SYSLOG[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank

    @classmethod
    def from_ecs(cls, number: int) -> Severity:
        """The severity whose ECS number is closest to ``number`` from below."""
        best = cls.LOW
        for sev in cls:
            if number >= sev.ecs:
                best = sev
        return best


_SEVERITY_RANK: Final = {
    Severity.LOW: 0,
    Severity.MEDIUM: 1,
    Severity.HIGH: 2,
    Severity.CRITICAL: 3,
}
_SEVERITY_ECS: Final = {
    Severity.LOW: 21,
    Severity.MEDIUM: 47,
    Severity.HIGH: 73,
    Severity.CRITICAL: 99,
}
_SEVERITY_SYSLOG: Final = {
    Severity.LOW: 5,
    Severity.MEDIUM: 4,
    Severity.HIGH: 3,
    Severity.CRITICAL: 2,
}


class Category(enum.Enum):
    """``bulletproof.category``: which practice noticed the event. Added in 0.1."""

    MALICIOUS_TRAFFIC = "malicious_traffic"
    INVALID_REQUEST = "invalid_request"
    AUTH = "auth"
    ACCOUNT_ANOMALY = "account_anomaly"
    DEPENDENCY = "dependency"
    UPDATE = "update"
    PROCESS = "process"
    HEADERS = "headers"
    DELIVERY = "delivery"

    @property
    def ecs_categories(self) -> tuple[str, ...]:
        """The ECS ``event.category`` values this category maps to."""
        return _ECS_CATEGORIES[self]


_ECS_CATEGORIES: Final = {
    Category.MALICIOUS_TRAFFIC: ("intrusion_detection", "web"),
    Category.INVALID_REQUEST: ("web",),
    Category.AUTH: ("authentication",),
    Category.ACCOUNT_ANOMALY: ("authentication", "session"),
    Category.DEPENDENCY: ("package", "vulnerability"),
    Category.UPDATE: ("package",),
    Category.PROCESS: ("process",),
    Category.HEADERS: ("web", "configuration"),
    Category.DELIVERY: ("configuration",),
}


class Outcome(enum.Enum):
    """ECS ``event.outcome``. Added in 0.1."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


# Enum properties and hashing are slow on the writer's hot path: wire values precomputed and keyed
# by the members' plain string values.
_CATEGORY_WIRE: Final = {
    c.value: (c.ecs_categories, f"bulletproof.{c.value}", c.value) for c in Category
}
_SEVERITY_WIRE: Final = {s.value: (s.ecs, s.value) for s in Severity}


def new_event_id() -> str:
    """A new UUIDv7 string: unique, and sortable by creation time. Added in 0.1."""
    ms = int(system_clock.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFFFFFFFFFF) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64
    value |= 0b10 << 62 | (rand & 0x3FFFFFFFFFFFFFFF)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _now() -> float:
    return system_clock.time()


_second_cache: tuple[int, str] = (-1, "")


def _format_timestamp(ts: float) -> str:
    """RFC 3339 UTC with microseconds, as ECS ``@timestamp`` wants.

    >>> _format_timestamp(0.5)
    '1970-01-01T00:00:00.500000Z'

    Added in 0.1.
    """
    global _second_cache
    sec = int(ts // 1)
    micro = round((ts - sec) * 1_000_000)
    if micro >= 1_000_000:
        sec += 1
        micro -= 1_000_000
    cached_sec, prefix = _second_cache
    if cached_sec != sec:
        prefix = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _second_cache = (sec, prefix)
    return f"{prefix}{micro:06d}Z"


def _parse_timestamp(text: str) -> float:
    """Inverse of :func:`_format_timestamp` (accepts any ISO 8601 form). Added in 0.1."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """One thing bulletproof noticed. Frozen: derive new ones with ``dataclasses.replace``.

    ``action`` is a short snake_case verb phrase (``login_failed``, ``sink_unavailable``); ``id`` is
    unique (a UUIDv7) and stays the same across retries, so consumers can drop duplicates by it.
    ``details`` holds anything else, under ``bulletproof.details`` on the wire.

    Added in 0.1.
    """

    action: str
    category: Category
    severity: Severity = Severity.LOW
    message: str = ""
    outcome: Outcome = Outcome.UNKNOWN
    kind: str = "event"
    types: tuple[str, ...] = ("info",)
    source_ip: str | None = None
    user_name: str | None = None
    url_path: str | None = None
    url_query: str | None = None
    http_method: str | None = None
    status_code: int | None = None
    user_agent: str | None = None
    rule_id: str | None = None
    rule_name: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    timestamp: float = field(default_factory=_now)
    id: str = field(default_factory=new_event_id)

    def to_ecs(self) -> dict[str, Any]:
        """The ECS-aligned JSON object (before processors: redaction happens in the pipeline)."""
        ecs_categories, dataset, category = _CATEGORY_WIRE[self.category._value_]
        severity_number, severity = _SEVERITY_WIRE[self.severity._value_]
        event: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "category": list(ecs_categories),
            "type": list(self.types),
            "action": self.action,
            "outcome": self.outcome._value_,
            "severity": severity_number,
            "dataset": dataset,
        }
        doc: dict[str, Any] = {
            "@timestamp": _format_timestamp(self.timestamp),
            "message": self.message or self.action,
            "ecs": {"version": ECS_VERSION},
            "event": event,
        }
        if self.source_ip is not None:
            doc["source"] = {"ip": self.source_ip}
        if self.user_name is not None:
            doc["user"] = {"name": self.user_name}
        if self.url_path is not None or self.url_query is not None:
            url: dict[str, Any] = {}
            if self.url_path is not None:
                url["path"] = self.url_path
            if self.url_query is not None:
                url["query"] = self.url_query
            doc["url"] = url
        if self.http_method is not None or self.status_code is not None:
            http: dict[str, Any] = {}
            if self.http_method is not None:
                http["request"] = {"method": self.http_method}
            if self.status_code is not None:
                http["response"] = {"status_code": self.status_code}
            doc["http"] = http
        if self.user_agent is not None:
            doc["user_agent"] = {"original": self.user_agent}
        if self.rule_id is not None or self.rule_name is not None:
            rule: dict[str, Any] = {}
            if self.rule_id is not None:
                rule["id"] = self.rule_id
            if self.rule_name is not None:
                rule["name"] = self.rule_name
            doc["rule"] = rule
        bp: dict[str, Any] = {"category": category, "severity": severity}
        if self.details:
            bp["details"] = dict(self.details)
        doc["bulletproof"] = bp
        return doc

    @classmethod
    def from_ecs(cls, doc: Mapping[str, Any]) -> SecurityEvent:
        """Rebuild an event from its wire form (fields added by processors are dropped)."""
        event = doc["event"]
        bp = doc.get("bulletproof", {})
        url = doc.get("url", {})
        http = doc.get("http", {})
        rule = doc.get("rule", {})
        message = doc.get("message", "")
        return cls(
            action=event["action"],
            category=Category(bp["category"]),
            severity=Severity(bp["severity"])
            if "severity" in bp
            else Severity.from_ecs(int(event.get("severity", 0))),
            message="" if message == event["action"] else message,
            outcome=Outcome(event.get("outcome", "unknown")),
            kind=event.get("kind", "event"),
            types=tuple(event.get("type", ("info",))),
            source_ip=doc.get("source", {}).get("ip"),
            user_name=doc.get("user", {}).get("name"),
            url_path=url.get("path"),
            url_query=url.get("query"),
            http_method=http.get("request", {}).get("method"),
            status_code=http.get("response", {}).get("status_code"),
            user_agent=doc.get("user_agent", {}).get("original"),
            rule_id=rule.get("id"),
            rule_name=rule.get("name"),
            details=dict(bp.get("details", {})),
            timestamp=_parse_timestamp(doc["@timestamp"]),
            id=event["id"],
        )
