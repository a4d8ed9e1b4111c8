"""``bulletproof audit``: known vulnerabilities in the project's dependencies."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final, NoReturn

import click

from bulletproof._text import one_line
from bulletproof.cli._common import fail, load

if TYPE_CHECKING:
    from bulletproof.audit import AuditReport, Ignore, Sources, Target
    from bulletproof.audit._settings import AuditConfig
    from bulletproof.config import Config

__all__ = ["audit"]

_FORMATS: Final = ("text", "json", "markdown", "sarif", "cyclonedx")
_AUTO: Final = (
    "uv.lock",
    "poetry.lock",
    "Pipfile.lock",
    "pylock.toml",
    "requirements.txt",
    "pyproject.toml",
)
_OSV_EXPORT: Final = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned columns (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join(
            [*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]
        ).rstrip()
        for row in rows
    ]


def _text(report: AuditReport, *, why: bool = False) -> str:
    lines: list[str] = []
    db = report.db
    if db is not None:
        if db.date:
            import datetime as dt

            age = (dt.datetime.now(dt.UTC) - db.date).days
            date = f"records up to {db.date.date().isoformat()}, {age} days old"
        else:
            date = "undated"
        lines.append(f"data: {db.source} (sha256 {db.sha256[:16]}..., {date})")
    vulnerable = report.vulnerable
    count = sum(len(d.findings) for d in vulnerable)
    lines.append(
        f"{len(report.dependencies)} dependencies audited: "
        + (
            f"{count} known vulnerabilities in {len(vulnerable)}"
            if vulnerable
            else "none vulnerable"
        )
    )
    if vulnerable:
        rows: list[tuple[str, ...]] = [
            ("package", "version", "vulnerability", "severity", "fixed in", "aliases")
        ]
        for dep in vulnerable:
            rows.extend(
                (
                    dep.name,
                    dep.version,
                    f.id,
                    f.severity or "unknown",
                    ", ".join(f.fix_versions[:3]) + (" ..." if len(f.fix_versions) > 3 else "")
                    or "-",
                    ", ".join(f.aliases[:3]),
                )
                for f in dep.findings
            )
        lines.append("")
        lines.extend(_table(rows))
        lines.append("")
        for dep in vulnerable:
            upgrade = f"upgrade to {dep.fix}" if dep.fix else "no fixed version known"
            lines.append(f"{dep.name} {dep.version} ({dep.file}:{dep.line}): {upgrade}")
            if why:
                lines.extend(f"    {text}" for f in dep.findings for text in f.why)
    lines.extend(
        f"skipped {entry.file}:{entry.line}: {entry.text}: {entry.reason}"
        for entry in report.skipped
    )
    lines.extend(
        f"ignored {dep.name} {dep.version} {finding.id}: {finding.ignored}"
        for dep in report.dependencies
        for finding in dep.ignored
    )
    lines.extend(f"note: {note}" for note in report.notes)
    if report.index.get("checked"):
        lines.extend(
            f"index: {n['name']} {n['version']}: {n['kind']}: {n['detail']}"
            for n in report.index.get("notes", ())
        )
    else:
        lines.append(f"index: not checked ({report.index.get('reason', '')})")
    lines.extend(f"data: {problem}" for problem in report.data_problems)
    # every field may come from a file or a record: a line never carries a control character
    return "\n".join(one_line(line) for line in lines)


@click.command()
@click.pass_context
@click.option(
    "-r",
    "--requirement",
    "requirements",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A requirements file (-r and -c inside it are followed). Repeatable.",
)
@click.option(
    "--lock",
    "locks",
    multiple=True,
    type=click.Path(path_type=Path),
    help="uv.lock, poetry.lock, Pipfile.lock, pylock.toml or pyproject.toml. Repeatable.",
)
@click.option(
    "--env",
    "envs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A virtual environment (or site-packages folder) to audit what is installed in it.",
)
@click.option("--installed", is_flag=True, help="Audit this interpreter's installed packages.")
@click.option(
    "--db",
    "db_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"OSV's PyPI export (a zip, or a folder of records); from {_OSV_EXPORT}.",
)
@click.option(
    "--ignore-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Accepted findings, each with a reason and an end (TOML [[ignore]] tables).",
)
@click.option(
    "--check-index",
    is_flag=True,
    help="Ask the package index whether a pin is yanked or its project archived, deprecated "
    "or quarantined.",
)
@click.option(
    "--online",
    is_flag=True,
    help="Ask the OSV API (querybatch) instead of a local export.",
)
@click.option(
    "--update-db",
    is_flag=True,
    help="Download OSV's PyPI export into the cache first (only if it changed).",
)
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="text", show_default=True)
@click.option(
    "--min-severity",
    type=click.Choice(["low", "medium", "high", "critical"]),
    default=None,
    help="Leave out findings below this severity (unknown severities are kept).",
)
@click.option(
    "--max-db-age",
    type=click.FloatRange(min=0),
    default=None,
    metavar="DAYS",
    help="Fail (exit 3) when the newest record of the data is older than this.",
)
@click.option("--python-version", default=None, help="Evaluate markers for this Python (3.8).")
@click.option(
    "--platform",
    "sys_platform",
    default=None,
    help="Evaluate markers for this sys.platform (linux, win32, darwin).",
)
@click.option(
    "--fix",
    is_flag=True,
    help="Rewrite the requirements files with each fix, once uv's resolver says the fixed "
    "set installs together.",
)
@click.option(
    "--emit",
    is_flag=True,
    help="Also send each finding as a SecurityEvent through the configured pipeline.",
)
@click.option(
    "--why",
    "show_why",
    is_flag=True,
    help="Say, for each finding, which range and event of the record matched (text format).",
)
@click.option(
    "--allow-incomplete",
    is_flag=True,
    help="Exit 0, not 3, when some lines could not be audited (they are still listed).",
)
def audit(
    ctx: click.Context,
    requirements: tuple[Path, ...],
    locks: tuple[Path, ...],
    envs: tuple[Path, ...],
    installed: bool,
    db_path: Path | None,
    ignore_file: Path | None,
    check_index: bool,
    online: bool,
    update_db: bool,
    fmt: str,
    min_severity: str | None,
    max_db_age: float | None,
    python_version: str | None,
    sys_platform: str | None,
    fix: bool,
    emit: bool,
    show_why: bool,
    allow_incomplete: bool,
) -> None:
    """Audit the project's dependencies for known vulnerabilities (OSV data, offline).

    With no source given, the sources of [tool.bulletproof.audit] are read, else the first of
    uv.lock, poetry.lock, Pipfile.lock, pylock.toml, requirements.txt and pyproject.toml in
    the current directory. Flags win over that section.

    Exit 0 clean, 1 vulnerable, 2 bad input, 3 incomplete (a line could not be audited, or
    the data is missing, damaged or older than --max-db-age).
    """
    # the audit is imported when it runs: the other commands do not pay for it
    from bulletproof.audit import (
        Sources,
        Target,
        open_database,
        read_environment,
        read_requirements,
        read_source,
    )
    from bulletproof.audit import audit as run_audit
    from bulletproof.audit._download import fetch_export
    from bulletproof.audit._ignore import read_ignores
    from bulletproof.errors import AuditDataError, ConfigError

    try:
        config = load(ctx)
    except ConfigError as exc:
        fail(str(exc), 2)
    section = config.audit
    min_severity = min_severity or section.min_severity
    allow_incomplete = allow_incomplete or section.allow_incomplete
    if max_db_age is None and section.max_db_age is not None:
        max_db_age = section.max_db_age / 86400
    if db_path is None and section.db:
        db_path = config.root / Path(section.db).expanduser()
    cache_dir = section.cache_path(config.root)
    target = Target(
        python_version=python_version or section.python_version,
        sys_platform=sys_platform or section.platform,
    )
    sources = Sources()
    auto: list[Path] = []
    if not requirements and not locks and not envs and not installed and section.sources:
        auto = [config.root / Path(name).expanduser() for name in section.sources]
    elif not requirements and not locks and not envs and not installed:
        found = next((Path(n) for n in _AUTO if Path(n).is_file()), None)
        if found is None:
            fail(
                "audit: nothing to audit here: give -r FILE, --lock FILE, --env PATH or "
                f"--installed (or run it where one of {', '.join(_AUTO)} is)",
                2,
            )
        auto.append(found)
    if ignore_file is None and section.ignore_file:
        ignore_file = config.root / Path(section.ignore_file).expanduser()
    try:
        ignores = read_ignores(ignore_file) if ignore_file is not None else []
        for path in requirements:
            sources.extend(read_requirements(path, target))
        for path in (*locks, *auto):
            sources.extend(read_source(path, target))
        for path in envs:
            sources.extend(read_environment(path))
        if installed:
            sources.extend(read_environment(None))
    except ConfigError as exc:
        fail(f"audit: {exc}", 2)
    if online:
        if db_path is not None or update_db:
            fail("audit: --online asks the API: it cannot be used with --db or --update-db", 2)
        report = _online_audit(sources, section, min_severity, ignores)
        if check_index:
            _check_index(report, sources, section.index_url)
        _finish(
            config,
            report,
            sources,
            target,
            fmt,
            fix,
            emit,
            show_why,
            allow_incomplete,
            requirements,
        )
    cached = section.cached_export(config.root)
    given = db_path is not None
    path = db_path if db_path is not None else cached
    if update_db:
        if given:
            fail("audit: --update-db fills the cache; it cannot be used with --db", 2)
        try:
            fetched = fetch_export(cached, url=section.db_url)
        except AuditDataError as exc:
            if not cached.exists():
                fail(f"audit: {exc}", 3)
            click.echo(
                f"bulletproof: warning: {exc}; auditing with the copy in the cache", err=True
            )
        else:
            state = "downloaded" if fetched.changed else "unchanged"
            click.echo(f"bulletproof: {section.db_url}: {state} ({cached})", err=True)
    if not given and not path.exists():
        fail(
            "audit: no vulnerability data: run with --update-db (downloads OSV's PyPI export, "
            f"{section.db_url}, to {cached}), or give --db PATH",
            3,
        )
    try:
        db = open_database(path, cache_dir=cache_dir)
        report = run_audit(sources, db, min_severity=min_severity, ignores=ignores)
    except AuditDataError as exc:
        fail(f"audit: {exc}", 2 if given else 3)
    age = db.age_days()
    if max_db_age is not None and (age is None or age > max_db_age):
        shown = "undated" if age is None else f"{age:.1f} days old"
        fail(
            f"audit: the data {db.source} is {shown}, over --max-db-age {max_db_age:g}; "
            "get a newer export",
            3,
        )
    if check_index:
        _check_index(report, sources, section.index_url)
    _finish(
        config, report, sources, target, fmt, fix, emit, show_why, allow_incomplete, requirements
    )


def _check_index(report: AuditReport, sources: Sources, url: str) -> None:
    from bulletproof.audit._index import index_notes

    notes = index_notes(sources.dependencies, index=url)
    report.index = {
        "checked": True,
        "url": url,
        "notes": [
            {"name": n.name, "version": n.version, "kind": n.kind, "detail": n.detail}
            for n in notes
        ],
    }


def _online_audit(
    sources: Sources, section: AuditConfig, min_severity: str | None, ignores: list[Ignore]
) -> AuditReport:
    from bulletproof.audit import DataInfo, audit_records
    from bulletproof.audit._online import query_osv
    from bulletproof.errors import AuditDataError

    try:
        data = query_osv(sources.dependencies, api=section.api_url)
    except AuditDataError as exc:
        fail(f"audit: {exc}", 3)
    return audit_records(
        sources,
        data.records,
        db=DataInfo(data.source, data.sha256, data.date),
        min_severity=min_severity,
        ignores=ignores,
    )


def _finish(
    config: Config,
    report: AuditReport,
    sources: Sources,
    target: Target,
    fmt: str,
    fix: bool,
    emit: bool,
    show_why: bool,
    allow_incomplete: bool,
    requirements: tuple[Path, ...],
) -> NoReturn:
    """Print the report, then fix and emit as asked, and exit with the report's code."""
    if fix and not requirements:
        fail("audit: --fix rewrites requirements files: give them with -r FILE", 2)
    if fmt == "text":
        click.echo(_text(report, why=show_why))
    else:
        from bulletproof.audit._formats import render

        click.echo(render(report, fmt))
    if fix:
        _apply_fixes(report, sources, target)
    if emit:
        _emit(config, report)
    raise SystemExit(report.exit_code(allow_incomplete=allow_incomplete))


def _emit(config: Config, report: AuditReport) -> None:
    """Send one event per finding through the config's pipeline, and wait for delivery."""
    from bulletproof.audit._events import finding_events
    from bulletproof.config import build_pipeline

    events = finding_events(report)
    pipeline = build_pipeline(config).start()
    for event in events:
        pipeline.emit(event)
    delivered = pipeline.close(timeout=30.0)
    state = "delivered" if delivered else "spooled (a sink did not confirm in 30 s)"
    click.echo(f"bulletproof: {len(events)} vulnerable_dependency event(s) {state}", err=True)


def _apply_fixes(report: AuditReport, sources: Sources, target: Target) -> None:
    """Write each fix into the requirements file that pins it, once the resolver agrees."""
    import os
    import shutil
    import tempfile

    from bulletproof.audit._fix import resolve, rewrite_requirements

    fixes = {d.name: d.fix for d in report.vulnerable if d.fix}
    unfixable = [f"{d.name} {d.version}" for d in report.vulnerable if not d.fix]
    if unfixable:
        click.echo(f"fix: no fixed version known for {', '.join(unfixable)}", err=True)
    if not fixes:
        click.echo("fix: nothing to change", err=True)
        return
    pins = {d.name: d.version for d in sources.dependencies}
    pins.update(fixes)
    resolution = resolve(
        pins, python_version=target.python_version, index_options=sources.index_options
    )
    if resolution.ok is False:
        click.echo(
            "fix: nothing written: uv's resolver says the fixed set cannot be installed "
            f"together: {resolution.message}",
            err=True,
        )
        return
    if resolution.ok is None:
        click.echo(f"fix: warning: {resolution.message}", err=True)
    files = sorted({d.file for d in report.vulnerable if d.name in fixes})
    for name in files:
        path = Path(name)
        result = rewrite_requirements(
            path.read_text(encoding="utf-8"), fixes, hashes=resolution.hashes, name=name
        )
        for line in result.flagged:
            click.echo(f"fix: {line}", err=True)
        if not result.changed:
            continue
        fd, tmp = tempfile.mkstemp(prefix=".fix-", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(result.text)
        shutil.copymode(path, tmp)  # the file keeps its permissions
        os.replace(tmp, path)
        for package, old, new in result.changed:
            click.echo(f"fix: {name}: {package} {old} -> {new}", err=True)
