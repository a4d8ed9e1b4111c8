"""The audit: each pinned dependency against the OSV records of its package, one finding per
vulnerability (records naming the same CVE merged), and the report's shapes.

>>> from bulletproof.audit._sources import Dependency, Sources
>>> record = {"id": "PYSEC-1", "aliases": ["CVE-1"], "modified": "2024-01-01T00:00:00Z",
...   "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"},
...   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}]}]}
>>> report = audit_records(Sources([Dependency("demo", "1.0", "requirements.txt", 1)]),
...                        {"demo": [record]})
>>> [(d.name, [f.id for f in d.findings]) for d in report.dependencies]
[('demo', ['PYSEC-1'])]
>>> report.dependencies[0].findings[0].fix_versions
('2.0',)

Added in 0.1.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bulletproof.audit._match import Match, group_aliases, match
from bulletproof.audit._severity import RATINGS, rating, score
from bulletproof.audit._sources import Skipped, Sources
from bulletproof.audit._versions import key

__all__ = ["AuditFinding", "AuditReport", "AuditedDependency", "DataInfo", "audit_records"]


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One vulnerability of one dependency: its ``id`` (the first of the merged records' ids),
    every other id and alias, the CVSS ``score`` and ``severity`` (computed from the
    records' vectors; the highest when they differ; None when none can be read), the
    ``fix_versions`` (the fixed versions past the pinned one), ``why`` it matched (per
    record: the range and event) and the advisory ``summary``.

    Added in 0.1.
    """

    id: str
    aliases: tuple[str, ...]
    severity: str | None
    score: float | None
    fix_versions: tuple[str, ...]
    why: tuple[str, ...]
    summary: str = ""


@dataclass(frozen=True, slots=True)
class AuditedDependency:
    """A dependency and its findings (empty: no known vulnerability). Added in 0.1."""

    name: str
    version: str
    file: str
    line: int
    findings: tuple[AuditFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class DataInfo:
    """Which vulnerability data the audit used: its ``source`` (path or URL), ``sha256`` and
    ``date`` (the newest record's modification time). Added in 0.1."""

    source: str
    sha256: str
    date: datetime | None


@dataclass(slots=True)
class AuditReport:
    """What the audit found. ``skipped`` lines could not be audited (the audit is then
    incomplete), ``not_applicable`` ones do not apply to the target, ``data_problems`` are
    events of the records that could not be read (skipped, as OSV skips them).

    Added in 0.1.
    """

    db: DataInfo | None
    dependencies: list[AuditedDependency] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_applicable: list[Skipped] = field(default_factory=list)
    data_problems: list[str] = field(default_factory=list)

    @property
    def vulnerable(self) -> list[AuditedDependency]:
        """The dependencies with at least one finding. Added in 0.1."""
        return [d for d in self.dependencies if d.findings]

    def exit_code(self, *, allow_incomplete: bool = False) -> int:
        """1 when anything is vulnerable, else 3 when something could not be audited (unless
        ``allow_incomplete``), else 0. Added in 0.1."""
        if self.vulnerable:
            return 1
        if self.skipped and not allow_incomplete:
            return 3
        return 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the report. Added in 0.1."""
        return {
            "db": None
            if self.db is None
            else {
                "source": self.db.source,
                "sha256": self.db.sha256,
                "date": self.db.date.isoformat() if self.db.date else None,
            },
            "dependencies": [
                {
                    "name": d.name,
                    "version": d.version,
                    "file": d.file,
                    "line": d.line,
                    "findings": [
                        {
                            "id": f.id,
                            "aliases": list(f.aliases),
                            "severity": f.severity,
                            "score": f.score,
                            "fix_versions": list(f.fix_versions),
                            "why": list(f.why),
                            "summary": f.summary,
                        }
                        for f in d.findings
                    ],
                }
                for d in self.dependencies
            ],
            "skipped": [_skipped(s) for s in self.skipped],
            "not_applicable": [_skipped(s) for s in self.not_applicable],
            "data_problems": list(self.data_problems),
        }

    def to_json(self) -> str:
        """:meth:`as_dict` as indented JSON. Added in 0.1."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


def _skipped(entry: Skipped) -> dict[str, Any]:
    return {"file": entry.file, "line": entry.line, "text": entry.text, "reason": entry.reason}


def _score(records: Sequence[Mapping[str, Any]]) -> float | None:
    best: float | None = None
    for record in records:
        for item in record.get("severity") or ():
            vector = item.get("score") if isinstance(item, Mapping) else None
            value = score(vector) if isinstance(vector, str) else None
            if value is not None and (best is None or value > best):
                best = value
    return best


def _finding(group: list[Match], records: Mapping[str, Mapping[str, Any]]) -> AuditFinding:
    ids = sorted({m.id for m in group})
    names = sorted({a for m in group for a in (m.id, *m.aliases)} - {ids[0]})
    fixed = sorted({v for m in group for v in m.fixed}, key=key)
    value = _score([records[m.id] for m in group if m.id in records])
    summary = ""
    for m in group:
        record = records.get(m.id, {})
        text = record.get("summary") or record.get("details") or ""
        if isinstance(text, str) and text:
            summary = " ".join(text.split())[:300]
            break
    return AuditFinding(
        id=ids[0],
        aliases=tuple(names),
        severity=rating(value),
        score=value,
        fix_versions=tuple(fixed),
        why=tuple(f"{m.id}: {m.why}" for m in sorted(group, key=lambda m: m.id)),
        summary=summary,
    )


def audit_records(
    sources: Sources,
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    db: DataInfo | None = None,
    min_severity: str | None = None,
) -> AuditReport:
    """Audit the dependencies of ``sources`` against ``records`` (by PEP 503 name). With
    ``min_severity`` (``low`` ... ``critical``), findings below it are left out; a finding
    whose severity is unknown is kept. Added in 0.1."""
    report = AuditReport(
        db, skipped=list(sources.skipped), not_applicable=list(sources.not_applicable)
    )
    floor = RATINGS.index(min_severity) if min_severity else 0
    seen: set[tuple[str, str]] = set()
    problems: set[str] = set()
    for dep in sources.dependencies:
        if (dep.name, dep.version) in seen:
            continue
        seen.add((dep.name, dep.version))
        by_id: dict[str, Mapping[str, Any]] = {}
        found: list[Match] = []
        for record in records.get(dep.name, ()):
            noted: list[str] = []
            hit = match(record, dep.name, dep.version, noted)
            problems.update(noted)
            if hit is not None:
                found.append(hit)
                by_id[hit.id] = record
        findings = [_finding(group, by_id) for group in group_aliases(found)]
        findings = [f for f in findings if f.severity is None or RATINGS.index(f.severity) >= floor]
        findings.sort(key=lambda f: f.id)
        report.dependencies.append(
            AuditedDependency(dep.name, dep.version, dep.file, dep.line, tuple(findings))
        )
    report.dependencies.sort(key=lambda d: (d.name, key(d.version)))
    report.data_problems = sorted(problems)
    return report
