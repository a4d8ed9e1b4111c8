"""The ``audit`` section of ``bulletproof check``: the project's dependencies against OSV data.

Items: ``dependencies`` (which file was read and against which data; OK when nothing is
vulnerable), one finding per vulnerable dependency (its vulnerabilities and the version to
upgrade to), and one error item per line that could not be audited (unless ``allow_incomplete``).
With no requirements or lock file the section does not apply; with no data it could not run
(an error that says how to get the data). The check never downloads: ``bulletproof audit
--update-db`` does.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Final

from bulletproof.check._base import CheckContext, CheckItem, Probe, Status
from bulletproof.errors import AuditDataError, ConfigError

__all__ = ["AuditSource"]

_PROJECT_FILES: Final = (
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pylock.toml",
    "requirements.txt",
    "pyproject.toml",
)


class AuditSource:
    """Audit the project's pins. Added in 0.1."""

    name: Final = "audit"

    def collect(self, context: CheckContext) -> Iterable[CheckItem | Probe]:
        """The audit's items. Added in 0.1."""
        from bulletproof.audit import (
            Sources,
            Target,
            audit,
            open_database,
            read_source,
        )

        config = context.config
        section = config.audit
        root = config.root
        paths = [root / name for name in section.sources] or [
            next((root / n for n in _PROJECT_FILES if (root / n).is_file()), Path())
        ]
        if paths == [Path()]:
            return (
                CheckItem(
                    "dependencies",
                    Status.SKIPPED,
                    "does not apply: no requirements or lock file (set sources in "
                    "[tool.bulletproof.audit])",
                ),
            )
        target = Target(python_version=section.python_version, sys_platform=section.platform)
        sources = Sources()
        try:
            for path in paths:
                sources.extend(read_source(path, target))
        except ConfigError as exc:
            return (CheckItem("dependencies", Status.ERROR, str(exc)),)
        shown = ", ".join(
            str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in paths
        )
        if not sources.dependencies and not sources.skipped:
            return (
                CheckItem(
                    "dependencies", Status.SKIPPED, f"does not apply: {shown} names no dependency"
                ),
            )
        cache = section.cache_path(root)
        data = section.data_path(root)
        if not data.exists():
            return (
                CheckItem(
                    "dependencies",
                    Status.ERROR,
                    f"no vulnerability data at {data}: run bulletproof audit --update-db, or "
                    "set db in [tool.bulletproof.audit]",
                ),
            )
        try:
            db = open_database(data, cache_dir=cache)
            report = audit(sources, db, min_severity=section.min_severity)
        except AuditDataError as exc:
            return (CheckItem("dependencies", Status.ERROR, str(exc)),)
        date = db.date.date().isoformat() if db.date else "undated"
        vulnerable = report.vulnerable
        age = db.age_days()
        items = [
            CheckItem(
                "dependencies",
                Status.OK,
                f"{len(report.dependencies)} from {shown} audited against {data.name} "
                f"(records up to {date}): "
                + (f"{len(vulnerable)} vulnerable" if vulnerable else "none vulnerable"),
            )
        ]
        if section.max_db_age is not None and (age is None or age * 86400 > section.max_db_age):
            items.append(
                CheckItem(
                    "data",
                    Status.ERROR,
                    f"{data.name} is {'undated' if age is None else f'{age:.0f} days old'}, over "
                    "max_db_age: run bulletproof audit --update-db",
                )
            )
        for dep in vulnerable:
            ids = ", ".join(f.id for f in dep.findings[:5])
            more = f" and {len(dep.findings) - 5} more" if len(dep.findings) > 5 else ""
            fix = f"upgrade to {dep.fix}" if dep.fix else "no fixed version known"
            items.append(
                CheckItem(
                    dep.name,
                    Status.FINDING,
                    f"{dep.version}: {len(dep.findings)} known vulnerabilities ({ids}{more}); "
                    + fix,
                )
            )
        status = Status.SKIPPED if section.allow_incomplete else Status.ERROR
        items.extend(
            CheckItem("not audited", status, f"{s.file}:{s.line}: {s.text}: {s.reason}")
            for s in report.skipped
        )
        return items
