"""Each finding of an audit as one :class:`~bulletproof.events.SecurityEvent` (category
``dependency``), for the one pipeline every part of bulletproof emits into.

>>> from bulletproof.audit import Dependency, Sources, audit_records
>>> record = {"id": "PYSEC-1", "aliases": ["CVE-1"], "affected": [{"package": {"ecosystem":
...     "PyPI", "name": "demo"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"},
...     {"fixed": "2.0"}]}]}]}
>>> report = audit_records(Sources([Dependency("demo", "1.0", "requirements.txt", 3)]),
...                        {"demo": [record]})
>>> (event,) = finding_events(report)
>>> event.action, event.category.value, event.rule_id
('vulnerable_dependency', 'dependency', 'PYSEC-1')
>>> event.message
'demo 1.0 is affected by PYSEC-1 (CVE-1): upgrade to 2.0'

Added in 0.1.
"""

from __future__ import annotations

from typing import Final

from bulletproof.audit._report import AuditReport
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity

__all__ = ["finding_events"]

_SEVERITY: Final = {
    "critical": Severity.CRITICAL,
    "high": Severity.HIGH,
    "medium": Severity.MEDIUM,
    "low": Severity.LOW,
    "none": Severity.LOW,
}


def finding_events(report: AuditReport) -> list[SecurityEvent]:
    """One ``vulnerable_dependency`` event per finding (a finding of unknown severity is
    ``medium``: not rated is not harmless). Added in 0.1."""
    events: list[SecurityEvent] = []
    data = None
    if report.db is not None:
        data = {"source": report.db.source, "sha256": report.db.sha256}
    for dep in report.vulnerable:
        for finding in dep.findings:
            also = f" ({', '.join(finding.aliases[:3])})" if finding.aliases else ""
            fix = f": upgrade to {dep.fix}" if dep.fix else ": no fixed version known"
            events.append(
                SecurityEvent(
                    action="vulnerable_dependency",
                    category=Category.DEPENDENCY,
                    severity=_SEVERITY.get(finding.severity or "", Severity.MEDIUM),
                    message=f"{dep.name} {dep.version} is affected by {finding.id}{also}{fix}",
                    outcome=Outcome.UNKNOWN,
                    types=("info",),
                    rule_id=finding.id,
                    rule_name=finding.summary[:120] or finding.id,
                    details={
                        "package": dep.name,
                        "version": dep.version,
                        "file": dep.file,
                        "line": dep.line,
                        "aliases": list(finding.aliases),
                        "score": finding.score,
                        "fix_versions": list(finding.fix_versions),
                        "fix": dep.fix,
                        "why": list(finding.why)[:4],
                        "data": data,
                    },
                )
            )
    return events
