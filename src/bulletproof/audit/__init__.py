"""Known vulnerabilities in a project's dependencies, against OSV data, offline first.

Read the pins (:func:`read_source` and friends), open an OSV export (:func:`open_database`),
audit (:func:`audit`):

>>> import pathlib, tempfile, zipfile, json
>>> from bulletproof.audit import audit, open_database, read_source
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> record = {"id": "PYSEC-0", "modified": "2024-05-01T00:00:00Z", "affected": [
...     {"package": {"ecosystem": "PyPI", "name": "Flask"},
...      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}
>>> with zipfile.ZipFile(folder / "all.zip", "w") as z:
...     z.writestr("PYSEC-0.json", json.dumps(record))
>>> _ = (folder / "requirements.txt").write_text("flask==0.12\\n")
>>> db = open_database(folder / "all.zip", cache_dir=folder / "cache")
>>> report = audit(read_source(folder / "requirements.txt"), db)
>>> [(d.name, d.version, [f.id for f in d.findings]) for d in report.dependencies]
[('flask', '0.12', ['PYSEC-0'])]
>>> report.exit_code()
1

Added in 0.1.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from bulletproof.audit._ignore import Ignore, read_ignores
    from bulletproof.audit._osv import Database, default_cache_dir, open_database
    from bulletproof.audit._report import (
        AuditedDependency,
        AuditFinding,
        AuditReport,
        DataInfo,
        audit_records,
    )
    from bulletproof.audit._sources import (
        Dependency,
        Skipped,
        Sources,
        Target,
        read_environment,
        read_lock,
        read_pyproject,
        read_requirements,
        read_source,
    )

# Loaded on first use: the config loader imports this package for its section's dataclass,
# and a web app's start-up should not pay for the audit's parsers and database code.
_LAZY = {
    "Ignore": "_ignore",
    "read_ignores": "_ignore",
    "Database": "_osv",
    "default_cache_dir": "_osv",
    "open_database": "_osv",
    "AuditedDependency": "_report",
    "AuditFinding": "_report",
    "AuditReport": "_report",
    "DataInfo": "_report",
    "audit_records": "_report",
    "Dependency": "_sources",
    "Skipped": "_sources",
    "Sources": "_sources",
    "Target": "_sources",
    "read_environment": "_sources",
    "read_lock": "_sources",
    "read_pyproject": "_sources",
    "read_requirements": "_sources",
    "read_source": "_sources",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bulletproof.audit' has no attribute {name!r}")
    value = getattr(import_module(f"bulletproof.audit.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "AuditFinding",
    "AuditReport",
    "AuditedDependency",
    "DataInfo",
    "Database",
    "Dependency",
    "Ignore",
    "Skipped",
    "Sources",
    "Target",
    "audit",
    "audit_records",
    "default_cache_dir",
    "open_database",
    "read_environment",
    "read_ignores",
    "read_lock",
    "read_pyproject",
    "read_requirements",
    "read_source",
]


def audit(
    sources: Sources,
    db: Database,
    *,
    min_severity: str | None = None,
    ignores: Sequence[Ignore] = (),
) -> AuditReport:
    """Audit ``sources`` against the OSV export ``db`` (see :func:`audit_records` for
    ``min_severity`` and ``ignores``). Added in 0.1."""
    from bulletproof.audit._report import DataInfo, audit_records

    names = sorted({d.name for d in sources.dependencies})
    records = db.lookup(names)
    return audit_records(
        sources,
        records,
        db=DataInfo(db.source, db.sha256, db.date),
        min_severity=min_severity,
        ignores=ignores,
    )
