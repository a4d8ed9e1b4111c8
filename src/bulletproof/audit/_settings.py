"""``[tool.bulletproof.audit]``: what ``bulletproof audit`` reads and how strict it is.

>>> AuditConfig().allow_incomplete, AuditConfig(max_db_age=7 * 86400).max_db_age
(False, 604800)

```toml
[tool.bulletproof.audit]
sources = ["requirements.txt", "dev.txt"]  # or uv.lock, poetry.lock... (default: found)
db = "/var/cache/osv/PyPI-all.zip"   # OSV's PyPI export (default: the cache's copy)
cache_dir = "/var/cache/bulletproof" # the cache (default: ~/.cache/bulletproof)
db_url = "https://mirror.example/osv/PyPI/all.zip"  # where --update-db downloads from
api_url = "https://api.osv.dev"      # what --online asks
index_url = "https://pypi.org/simple"  # what --check-index asks (a PEP 691 JSON simple API)
max_db_age = "7d"                    # fail (exit 3) when the data is older
min_severity = "medium"              # leave out findings below it
ignore_file = "audit-ignore.toml"    # accepted findings, each with a reason and an end
allow_incomplete = false             # exit 0, not 3, when some lines could not be audited
python_version = "3.11"              # markers are evaluated for this Python ...
platform = "linux"                   # ... and this sys.platform (default: this interpreter's)
at_startup = true                    # protect(app) audits what the app loaded, once a day
```

Relative paths are relative to the config file's directory; the command's flags win over
this section.

Added in 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

from bulletproof._settings import Duration, Rule, check_ranges

__all__ = ["OSV_EXPORT_URL", "SEVERITIES", "AuditConfig"]

OSV_EXPORT_URL: Final = "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip"
"""Where OSV publishes its PyPI export. Added in 0.1."""

SEVERITIES: Final = ("low", "medium", "high", "critical")
"""The ratings ``min_severity`` takes. Added in 0.1."""

_RULES: Final[tuple[Rule, ...]] = (
    (
        "index_url",
        lambda o: o.index_url.startswith(("https://", "http://")),
        lambda o: "give the https:// URL of a simple index",
        (),
    ),
    (
        "api_url",
        lambda o: o.api_url.startswith(("https://", "http://")),
        lambda o: "give the https:// URL of an OSV API",
        (),
    ),
    (
        "db_url",
        lambda o: o.db_url.startswith(("https://", "http://")),
        lambda o: "give an https:// URL of an OSV PyPI export",
        (),
    ),
    (
        "min_severity",
        lambda o: o.min_severity is None or o.min_severity in SEVERITIES,
        lambda o: f"use one of {', '.join(SEVERITIES)}",
        (),
    ),
    (
        "platform",
        lambda o: o.platform is None or o.platform in ("linux", "win32", "darwin", "cygwin"),
        lambda o: "use linux, win32, darwin or cygwin (a sys.platform value)",
        (),
    ),
    (
        "python_version",
        lambda o: (
            o.python_version is None
            or all(part.isdigit() for part in o.python_version.split(".")[:3])
        ),
        lambda o: 'use a version such as "3.11"',
        (),
    ),
)


@dataclass(frozen=True, slots=True)
class AuditConfig:
    """The audit's defaults: the ``sources`` to read (requirements or lock files; empty: the
    first found), the OSV export ``db``, the ``cache_dir`` (its indexes, and the export when
    ``db`` is not given), the ``db_url`` that ``--update-db`` downloads from, the ``api_url``
    that ``--online`` asks, the ``index_url`` that ``--check-index`` asks, ``max_db_age``
    (seconds; the data's newest record may be no older), the ``ignore_file``,
    ``min_severity``,
    ``allow_incomplete``, the target ``python_version`` and ``platform`` markers are
    evaluated for, and ``at_startup``: ``protect(app)`` audits the distributions the app has
    loaded, on a background thread, once a day per environment (see
    :mod:`bulletproof.audit._runtime`).

    Added in 0.1.
    """

    sources: tuple[str, ...] = ()
    db: str | None = None
    cache_dir: str | None = None
    ignore_file: str | None = None
    db_url: str = OSV_EXPORT_URL
    api_url: str = "https://api.osv.dev"
    index_url: str = "https://pypi.org/simple"
    max_db_age: Annotated[float | None, Duration()] = None
    min_severity: str | None = None
    allow_incomplete: bool = False
    python_version: str | None = None
    platform: str | None = None
    at_startup: bool = True

    def __post_init__(self) -> None:
        check_ranges(self, _RULES)

    def cache_path(self, root: Path) -> Path:
        """The cache folder: ``cache_dir`` (relative to ``root``, the config's directory), else
        the user cache. Added in 0.1."""
        if self.cache_dir:
            return root / Path(self.cache_dir).expanduser()
        from bulletproof.audit._osv import default_cache_dir

        return default_cache_dir()

    def cached_export(self, root: Path) -> Path:
        """Where ``--update-db`` keeps OSV's export in the cache. Added in 0.1."""
        return self.cache_path(root) / "osv" / "PyPI-all.zip"

    def data_path(self, root: Path) -> Path:
        """The export to audit against: ``db`` (relative to ``root``), else the cached one.

        Added in 0.1.
        """
        return root / Path(self.db).expanduser() if self.db else self.cached_export(root)
