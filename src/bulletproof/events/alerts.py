"""Alert rules: pick events, group them per key, apply a cooldown, and notify people.

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

from bulletproof.events.model import SecurityEvent, Severity, format_timestamp

__all__ = ["Alert"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One notification to send: what a rule saw for one key.

    ``event`` is the event that fired the alert (for a digest, the newest suppressed one);
    ``count`` is how many matching events this alert stands for; ``suppressed`` how many of those
    were held back by the cooldown since the previous alert for this rule and key (a digest has
    ``digest=True`` and ``suppressed == count``).

    Added in 0.1.
    """

    rule: str
    key: str
    event: SecurityEvent
    count: int
    suppressed: int
    digest: bool
    first_seen: float
    last_seen: float
    severity: Severity

    @property
    def subject(self) -> str:
        """One line, for an email subject or the first line of an SMS."""
        what = self.event.message or self.event.action
        if self.digest:
            return (
                f"[bulletproof] {self.rule}: {self.suppressed} more event(s) for {self.key} "
                f"during cooldown"
            )
        return f"[bulletproof] {self.severity.value.upper()} {self.rule}: {what} ({self.key})"

    @property
    def text(self) -> str:
        """A few plain-text lines: what happened, how often, from when to when."""
        ev = self.event
        lines = [
            self.subject,
            f"rule: {self.rule}",
            f"key: {self.key}",
            f"events: {self.count}"
            + (f" ({self.suppressed} suppressed by cooldown)" if self.suppressed else ""),
            f"first: {format_timestamp(self.first_seen)}",
            f"last: {format_timestamp(self.last_seen)}",
            f"category: {ev.category.value}  action: {ev.action}  severity: {ev.severity.value}",
        ]
        if ev.source_ip:
            lines.append(f"source.ip: {ev.source_ip}")
        if ev.user_name:
            lines.append(f"user.name: {ev.user_name}")
        if ev.url_path:
            lines.append(f"url.path: {ev.url_path}")
        lines.append(f"event.id: {ev.id}")
        return "\n".join(lines)
