"""The audit report as Markdown, SARIF 2.1.0 (for code scanning) and CycloneDX 1.5 (an SBOM
with its vulnerabilities), beside the JSON of :meth:`AuditReport.as_dict`.

Every shape is built from the report alone, with the standard library: each finding is one
SARIF result at the line that pins the package, and one CycloneDX vulnerability affecting
the component ``pkg:pypi/<name>@<version>``.

Added in 0.1.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any, Final

from bulletproof.audit._report import AuditedDependency, AuditFinding, AuditReport

__all__ = ["FORMATS", "render"]

FORMATS: Final = ("text", "json", "markdown", "sarif", "cyclonedx")
"""The formats :func:`render` writes (``text`` is the CLI's own). Added in 0.1."""

_INFO: Final = "https://osv.dev/vulnerability/"
_SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"


def _version() -> str:
    """bulletproof's version, from its installed metadata (the audit does not import the
    package's top, which pulls in the middleware)."""
    from importlib import metadata

    try:
        return metadata.version("bulletproof")
    except metadata.PackageNotFoundError:  # pragma: no cover - run from a bare checkout
        return "unknown"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: AuditReport) -> str:
    """The report as a Markdown document (a pull-request comment, a job summary)."""
    out = ["# Dependency audit", ""]
    if report.db is not None:
        date = report.db.date.date().isoformat() if report.db.date else "undated"
        out.append(
            f"Data: `{report.db.source}` (sha256 `{report.db.sha256[:16]}`, records up to {date})"
        )
        out.append("")
    vulnerable = report.vulnerable
    total = sum(len(d.findings) for d in vulnerable)
    out.append(
        f"{len(report.dependencies)} dependencies audited: "
        + (
            f"**{total} known vulnerabilities in {len(vulnerable)}**"
            if vulnerable
            else "none vulnerable"
        )
    )
    if vulnerable:
        out += ["", "| package | version | vulnerability | severity | fixed in | upgrade to |"]
        out.append("|---|---|---|---|---|---|")
        for dep in vulnerable:
            for f in dep.findings:
                link = f"[{f.id}]({_INFO}{f.id})"
                also = f" ({', '.join(f.aliases[:2])})" if f.aliases else ""
                out.append(
                    f"| {_cell(dep.name)} | {_cell(dep.version)} | {link}{_cell(also)} | "
                    f"{f.severity or 'unknown'} | {_cell(', '.join(f.fix_versions) or '-')} | "
                    f"{_cell(dep.fix or '-')} |"
                )
    ignored = [(d, f) for d in report.dependencies for f in d.ignored]
    if ignored:
        out += ["", "## Accepted", ""]
        out += [f"- {d.name} {d.version} {f.id}: {_cell(f.ignored or '')}" for d, f in ignored]
    if report.skipped:
        out += ["", "## Not audited", ""]
        out += [
            f"- `{s.file}:{s.line}` `{_cell(s.text)}`: {_cell(s.reason)}" for s in report.skipped
        ]
    return "\n".join(out) + "\n"


def _level(finding: AuditFinding) -> str:
    return {"critical": "error", "high": "error", "medium": "warning"}.get(
        finding.severity or "", "note"
    )


def sarif(report: AuditReport) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log: one rule per vulnerability, one result per finding."""
    rules: dict[str, dict[str, Any]] = {}
    results: list[dict[str, Any]] = []
    for dep in report.vulnerable:
        for f in dep.findings:
            if f.id not in rules:
                rule: dict[str, Any] = {
                    "id": f.id,
                    "name": f.id.replace("-", ""),
                    "shortDescription": {"text": f"{f.id} in {dep.name}"},
                    "fullDescription": {"text": f.summary or f.id},
                    "helpUri": f"{_INFO}{f.id}",
                    "help": {
                        "text": f"Upgrade {dep.name}: fixed in "
                        f"{', '.join(f.fix_versions) or 'no release yet'}."
                    },
                    "properties": {"tags": ["security", "dependency"]},
                }
                if f.score is not None:
                    rule["properties"]["security-severity"] = f"{f.score:.1f}"
                rules[f.id] = rule
            fix = f"; upgrade to {dep.fix}" if dep.fix else ""
            results.append(
                {
                    "ruleId": f.id,
                    "level": _level(f),
                    "message": {
                        "text": f"{dep.name} {dep.version} is affected by {f.id}"
                        + (f" ({', '.join(f.aliases)})" if f.aliases else "")
                        + fix
                    },
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": dep.file},
                                "region": {"startLine": max(dep.line, 1)},
                            }
                        }
                    ],
                    "partialFingerprints": {"package/vulnerability": f"{dep.name}/{f.id}"},
                }
            )
    return {
        "$schema": _SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bulletproof-audit",
                        "version": _version(),
                        "informationUri": "https://osv.dev",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }


def _purl(dep: AuditedDependency) -> str:
    return f"pkg:pypi/{dep.name}@{dep.version}"


def cyclonedx(report: AuditReport, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """The report as a CycloneDX 1.5 SBOM: every dependency a component, every finding a
    vulnerability affecting it."""
    now = now or dt.datetime.now(dt.UTC)
    vulnerabilities: list[dict[str, Any]] = []
    for dep in report.vulnerable:
        for f in dep.findings:
            entry: dict[str, Any] = {
                "bom-ref": f"{f.id}/{_purl(dep)}",
                "id": f.id,
                "source": {"name": "OSV", "url": f"{_INFO}{f.id}"},
                "references": [{"id": alias, "source": {"name": "OSV"}} for alias in f.aliases],
                "description": f.summary,
                "affects": [{"ref": _purl(dep)}],
            }
            if f.score is not None:
                entry["ratings"] = [
                    {"score": f.score, "severity": f.severity or "unknown", "method": "CVSSv31"}
                ]
            if dep.fix:
                entry["recommendation"] = f"Upgrade {dep.name} to {dep.fix}"
            vulnerabilities.append(entry)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tools": {
                "components": [
                    {"type": "application", "name": "bulletproof", "version": _version()}
                ]
            },
        },
        "components": [
            {
                "type": "library",
                "bom-ref": _purl(dep),
                "name": dep.name,
                "version": dep.version,
                "purl": _purl(dep),
            }
            for dep in report.dependencies
        ],
        "vulnerabilities": vulnerabilities,
    }


def render(report: AuditReport, fmt: str) -> str:
    """``report`` in ``fmt`` (``json``, ``markdown``, ``sarif``, ``cyclonedx``). Added in 0.1."""
    if fmt == "json":
        return report.to_json()
    if fmt == "markdown":
        return markdown(report)
    if fmt == "sarif":
        return json.dumps(sarif(report), indent=2, ensure_ascii=False)
    if fmt == "cyclonedx":
        return json.dumps(cyclonedx(report), indent=2, ensure_ascii=False)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
