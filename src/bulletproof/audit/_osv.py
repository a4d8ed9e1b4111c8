"""The OSV vulnerability data for PyPI: a local export (OSV's ``PyPI/all.zip``, or a folder
of ``<ID>.json`` records), indexed once by package for a fast start.

The first audit of an export reads every record and writes an index beside the user cache
(a SQLite file named by the export's sha256: records by PEP 503 package name); later audits
read only the records of the packages they audit. A damaged export or index is an
:class:`~bulletproof.errors.AuditDataError` naming the file and how to get a good copy.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bulletproof.audit._versions import canonical_name
from bulletproof.errors import AuditDataError

__all__ = ["Database", "default_cache_dir", "open_database"]

_INDEX_VERSION: Final = 1
_REFRESH: Final = (
    "download it again (bulletproof audit --update-db), or give a good copy with --db PATH"
)


def default_cache_dir() -> Path:
    """Where downloaded exports and indexes live: ``$XDG_CACHE_HOME/bulletproof``, else
    ``~/.cache/bulletproof`` (``[audit] cache_dir`` moves it). Added in 0.1."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "bulletproof"


@dataclass(frozen=True, slots=True)
class Database:
    """An indexed OSV export. ``source`` names it (a path or URL), ``sha256`` is the export's
    digest, ``date`` the newest ``modified`` time among its records (how fresh the data is),
    ``records`` how many it holds (withdrawn ones included).

    Added in 0.1.
    """

    source: str
    sha256: str
    date: datetime | None
    records: int
    index: Path

    def age_days(self, now: datetime | None = None) -> float | None:
        """Days since :attr:`date` (None when the export holds no dates). Added in 0.1."""
        if self.date is None:
            return None
        now = now or datetime.now(UTC)
        return (now - self.date).total_seconds() / 86400

    def lookup(self, names: list[str]) -> dict[str, list[dict[str, Any]]]:
        """The records naming each package (PEP 503 names), parsed. Added in 0.1."""
        out: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
        try:
            with contextlib.closing(_connect(self.index)) as db:
                for start in range(0, len(names), 500):
                    chunk = names[start : start + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = db.execute(
                        f"SELECT name, body FROM records WHERE name IN ({marks})",  # noqa: S608 - placeholders only
                        chunk,
                    )
                    for name, body in rows:
                        out[name].append(json.loads(body))
        except (sqlite3.Error, ValueError) as exc:
            raise AuditDataError(
                f"the index {self.index} of {self.source} cannot be read ({exc}); delete it "
                "and audit again to rebuild it"
            ) from None
        return out


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def _digest(path: Path) -> str:
    if path.is_dir():
        outer = hashlib.sha256()
        for item in sorted(path.glob("*.json")):
            outer.update(item.name.encode() + b"\0" + hashlib.sha256(item.read_bytes()).digest())
        return outer.hexdigest()
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _members(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of each record of the export (every CRC checked for a zip)."""
    if path.is_dir():
        for item in sorted(path.glob("*.json")):
            yield item.name, item.read_bytes()
        return
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".json") and not info.is_dir():
                yield info.filename, archive.read(info)


def _names(record: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for entry in record.get("affected") or ():
        package = entry.get("package") if isinstance(entry, Mapping) else None
        if isinstance(package, Mapping) and package.get("ecosystem") == "PyPI":
            name = package.get("name")
            if isinstance(name, str):
                names.add(canonical_name(name))
    return names


def _parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _build(path: Path, source: str, index: Path, sha256: str) -> None:
    """Write the index of the export at ``path`` to ``index`` (atomically)."""
    index.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".index-", suffix=".tmp", dir=index.parent)
    os.close(fd)
    newest: datetime | None = None
    count = 0
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as db:
            db.execute("PRAGMA journal_mode=OFF")
            db.execute("PRAGMA synchronous=OFF")
            db.execute("CREATE TABLE records (name TEXT NOT NULL, id TEXT NOT NULL, body TEXT)")
            db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            rows: list[tuple[str, str, str]] = []
            for member, data in _members(path):
                try:
                    record = json.loads(data)
                except ValueError as exc:
                    raise AuditDataError(
                        f"{source}: record {member} is not JSON ({exc}); {_REFRESH}"
                    ) from None
                if not isinstance(record, dict):
                    raise AuditDataError(f"{source}: record {member} is not an object; {_REFRESH}")
                count += 1
                modified = _parse_time(record.get("modified"))
                if modified is not None and (newest is None or modified > newest):
                    newest = modified
                body = json.dumps(record, separators=(",", ":"))
                rows.extend((name, str(record.get("id", member)), body) for name in _names(record))
            db.executemany("INSERT INTO records VALUES (?, ?, ?)", rows)
            db.execute("CREATE INDEX by_name ON records (name)")
            meta = {
                "version": str(_INDEX_VERSION),
                "sha256": sha256,
                "source": source,
                "date": newest.isoformat() if newest else "",
                "records": str(count),
            }
            db.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            db.commit()
        os.replace(tmp, index)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise AuditDataError(f"{source} is not a readable OSV export ({exc}); {_REFRESH}") from None
    except sqlite3.Error as exc:
        raise AuditDataError(f"cannot write the index {index} ({exc})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _read_meta(index: Path) -> dict[str, str] | None:
    try:
        with contextlib.closing(_connect(index)) as db:
            return dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        return None


def open_database(
    path: Path, *, cache_dir: Path | None = None, source: str | None = None
) -> Database:
    """The export at ``path`` (a zip or a folder of records), indexed in ``cache_dir``
    (default :func:`default_cache_dir`) on first use. Raises
    :class:`~bulletproof.errors.AuditDataError` when it is missing or damaged.

    Added in 0.1.
    """
    source = source or str(path)
    if not path.exists():
        raise AuditDataError(f"no OSV export at {path}; {_REFRESH}")
    try:
        sha256 = _digest(path)
    except OSError as exc:
        raise AuditDataError(f"cannot read {path} ({exc})") from None
    index = (cache_dir or default_cache_dir()) / "index" / f"osv-pypi-{sha256[:32]}.sqlite"
    meta = _read_meta(index) if index.exists() else None
    if meta is None or meta.get("version") != str(_INDEX_VERSION) or meta.get("sha256") != sha256:
        _build(path, source, index, sha256)
        meta = _read_meta(index)
        if meta is None:  # pragma: no cover - just written
            raise AuditDataError(f"the index {index} was written but cannot be read")
    return Database(
        source=source,
        sha256=sha256,
        date=_parse_time(meta.get("date")),
        records=int(meta.get("records", "0") or 0),
        index=index,
    )
