"""Auditing what a running app actually loaded, at start-up, off the request path.

``protect(app)`` calls :func:`start_startup_audit`: a daemon thread maps the modules the
process has imported to their installed distributions, audits them against the local OSV
data (never downloading), and emits one ``vulnerable_dependency`` event per finding. Several
workers of one service (gunicorn ``-w 4``, a forked pool) report once: the first process to
claim the day's report for this environment and this data (an exclusively created marker file
in the cache) sends it; the others stay quiet. With no data, a warning on the
``bulletproof.audit`` logger says so and how to get it (``bulletproof check`` reports it too).

Added in 0.1.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import sys
import threading
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from bulletproof.audit._sources import Dependency, Sources
from bulletproof.audit._versions import canonical_name

if TYPE_CHECKING:
    from bulletproof.audit._settings import AuditConfig
    from bulletproof.events.base import Emitter

__all__ = ["loaded_distributions", "run_startup_audit", "start_startup_audit"]

_LOG = logging.getLogger("bulletproof.audit")


def loaded_distributions(modules: Mapping[str, ModuleType | None] | None = None) -> Sources:
    """The installed distributions that provide the top-level modules in ``modules``
    (default: ``sys.modules``). Added in 0.1."""
    modules = sys.modules if modules is None else modules
    tops = {name.partition(".")[0] for name in list(modules)}
    owners = metadata.packages_distributions()
    names = sorted({dist for top in tops for dist in owners.get(top, ())})
    out = Sources()
    for name in names:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        out.dependencies.append(Dependency(canonical_name(name), version, "runtime", 0, name))
    return out


def _claim(cache: Path, key: str) -> bool:
    """Whether this process is the first to claim ``key`` (a marker file, created once)."""
    folder = cache / "startup"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / f"{key}.claimed", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError:
        return True  # no cache to coordinate in: report rather than stay silent
    os.close(fd)
    return True


_warned: set[str] = set()


def _no_data(data: Path) -> None:
    """Say once per process that the start-up audit could not run (a log line, not an event:
    an event per worker per start would be noise, and the check reports it too)."""
    if str(data) in _warned:
        return
    _warned.add(str(data))
    _LOG.warning(
        "start-up dependency audit not run: no vulnerability data at %s (run bulletproof "
        "audit --update-db, or set db in [tool.bulletproof.audit])",
        data,
    )


def run_startup_audit(
    section: AuditConfig,
    root: Path,
    emitter: Emitter,
    *,
    modules: Mapping[str, ModuleType | None] | None = None,
    today: dt.date | None = None,
) -> int:
    """Audit the loaded distributions and emit the findings (see the module); returns how
    many events were emitted. Added in 0.1."""
    from bulletproof.audit import audit, open_database
    from bulletproof.audit._events import finding_events

    cache = section.cache_path(root)
    data = section.data_path(root)
    if not data.exists():
        _no_data(data)
        return 0
    sources = loaded_distributions(modules)
    day = (today or dt.datetime.now(dt.UTC).date()).isoformat()
    pins = ",".join(f"{d.name}=={d.version}" for d in sources.dependencies)
    db = open_database(data, cache_dir=cache)
    key = hashlib.sha256(f"{db.sha256}|{day}|{pins}".encode()).hexdigest()[:32]
    if not _claim(cache, key):
        return 0
    report = audit(sources, db, min_severity=section.min_severity)
    events = finding_events(report)
    for event in events:
        emitter.emit(event)
    return len(events)


def start_startup_audit(section: AuditConfig, root: Path, emitter: Emitter) -> threading.Thread:
    """Run :func:`run_startup_audit` on a daemon thread; a failure is logged, never raised
    into the app. Added in 0.1."""

    def run() -> None:
        try:
            run_startup_audit(section, root, emitter)
        except Exception:  # noqa: BLE001 - the app must start whatever the audit meets
            _LOG.exception("the start-up dependency audit failed")

    thread = threading.Thread(target=run, name="bulletproof-startup-audit", daemon=True)
    thread.start()
    return thread
