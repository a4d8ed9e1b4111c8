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

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from packaging.version import Version

from bulletproof.audit._ignore import Ignore
from bulletproof.audit._match import Match, Matcher, group_aliases
from bulletproof.audit._severity import RATINGS, rating, score
from bulletproof.audit._sources import Skipped, Sources
from bulletproof.audit._versions import key, pep440

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
    ignored: str | None = None


@dataclass(frozen=True, slots=True)
class AuditedDependency:
    """A dependency and its findings (empty: no known vulnerability), and ``fix``: the
    smallest version that the data knows of (a ``fixed`` event of its records) that no record
    of the package affects (None: the data knows no such version). A pre-release is proposed
    only for a pre-release pin. Findings accepted by an ignore file are in ``ignored``.

    Added in 0.1.
    """

    name: str
    version: str
    file: str
    line: int
    findings: tuple[AuditFinding, ...] = ()
    fix: str | None = None
    ignored: tuple[AuditFinding, ...] = ()


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
    notes: list[str] = field(default_factory=list)
    index: dict[str, Any] = field(
        default_factory=lambda: {
            "checked": False,
            "reason": "offline: yanked releases and archived, deprecated or quarantined "
            "projects were not checked (--check-index asks the index)",
        }
    )

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
                    "findings": [_finding_dict(f) for f in d.findings],
                    "fix": d.fix,
                    "ignored": [_finding_dict(f) for f in d.ignored],
                }
                for d in self.dependencies
            ],
            "skipped": [_skipped(s) for s in self.skipped],
            "not_applicable": [_skipped(s) for s in self.not_applicable],
            "data_problems": list(self.data_problems),
            "notes": list(self.notes),
            "index": self.index,
        }

    def to_json(self) -> str:
        """:meth:`as_dict` as indented JSON. Added in 0.1."""
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


def _finding_dict(f: AuditFinding) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f.id,
        "aliases": list(f.aliases),
        "severity": f.severity,
        "score": f.score,
        "fix_versions": list(f.fix_versions),
        "why": list(f.why),
        "summary": f.summary,
    }
    if f.ignored is not None:
        out["ignored"] = f.ignored
    return out


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
    ignores: Sequence[Ignore] = (),
    today: dt.date | None = None,
) -> AuditReport:
    """Audit the dependencies of ``sources`` against ``records`` (by PEP 503 name). With
    ``min_severity`` (``low`` ... ``critical``), findings below it are left out; a finding
    whose severity is unknown is kept. A finding an entry of ``ignores`` covers (and that
    has not ended by ``today``) moves to the dependency's ``ignored``. Added in 0.1."""
    today = today or dt.datetime.now(dt.UTC).date()
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
        package_records = records.get(dep.name, ())
        matchers = [Matcher(record, dep.name) for record in package_records]
        for record, matcher in zip(package_records, matchers, strict=True):
            problems.update(matcher.problems)
            hit = matcher.match(dep.version) or _prerelease_hit(matcher, dep.version)
            if hit is not None:
                found.append(hit)
                by_id[hit.id] = record
        findings = [_finding(group, by_id) for group in group_aliases(found)]
        findings = [f for f in findings if f.severity is None or RATINGS.index(f.severity) >= floor]
        findings.sort(key=lambda f: f.id)
        kept: list[AuditFinding] = []
        accepted: list[AuditFinding] = []
        for finding in findings:
            rule = next(
                (r for r in ignores if r.covers((finding.id, *finding.aliases), dep.name)), None
            )
            ended = rule.ended(today, finding.fix_versions) if rule is not None else None
            if rule is not None and ended is None:
                accepted.append(replace(finding, ignored=rule.reason))
            else:
                if ended is not None:
                    report.notes.append(f"{dep.name} {dep.version} {finding.id}: {ended}")
                kept.append(finding)
        fix = _fix(matchers, dep.version, findings) if findings else None
        report.dependencies.append(
            AuditedDependency(
                dep.name, dep.version, dep.file, dep.line, tuple(kept), fix, tuple(accepted)
            )
        )
    report.dependencies.sort(key=lambda d: (d.name, key(d.version)))
    report.data_problems = sorted(problems)
    return report


def _prerelease_hit(matcher: Matcher, version: str) -> Match | None:
    """A pre-release (or dev release) of a release the record affects: OSV's order puts
    ``2.3.0rc1`` before ``introduced: 2.3.0``, but it carries the release's code, so it is
    reported as such rather than as clean."""
    parsed = pep440(version)
    if parsed is None or not (parsed.is_prerelease or parsed.is_devrelease):
        return None
    release = Version(parsed.base_version)
    if parsed.epoch:
        release = Version(f"{parsed.epoch}!{parsed.base_version}")
    hit = matcher.match(str(release))
    if hit is None:
        return None
    return Match(
        hit.id,
        hit.aliases,
        f"{version} is a pre-release of {release}, which is affected: {hit.why}",
        hit.fixed,
    )


def _fix(matchers: Sequence[Matcher], version: str, findings: list[AuditFinding]) -> str | None:
    """The smallest fixed version past ``version`` that no record of the package affects."""
    here = key(version)
    current = pep440(version)
    allow_pre = current is not None and (current.is_prerelease or current.is_devrelease)
    candidates = sorted({v for f in findings for v in f.fix_versions}, key=key)
    for candidate in candidates:
        parsed = pep440(candidate)
        if key(candidate) <= here or parsed is None:
            continue
        if (parsed.is_prerelease or parsed.is_devrelease) and not allow_pre:
            continue
        if all(m.match(candidate) is None for m in matchers):
            return candidate
    return None
