"""What the package index says of each pin: yanked releases (PEP 592) and projects marked
archived, deprecated or quarantined (PEP 792), read from the index's JSON simple API (PEP
691). Asked only on request (``--check-index``): an offline audit says it did not check.

Added in 0.1.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from bulletproof.audit._sources import Dependency
from bulletproof.audit._versions import key

__all__ = ["PYPI_SIMPLE", "IndexNote", "index_notes"]

PYPI_SIMPLE: Final = "https://pypi.org/simple"
"""PyPI's simple API. Added in 0.1."""

_ACCEPT: Final = "application/vnd.pypi.simple.v1+json"
_MAX_RESPONSE: Final = 32 << 20
_STATUSES: Final = ("archived", "deprecated", "quarantined")


@dataclass(frozen=True, slots=True)
class IndexNote:
    """One thing the index says of a pin: ``kind`` is ``yanked``, ``archived``,
    ``deprecated``, ``quarantined``, ``missing`` (the version is not on the index) or
    ``error`` (the index could not be asked for this package). Added in 0.1."""

    name: str
    version: str
    kind: str
    detail: str


def _version_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return None


def _page(index: str, name: str, timeout: float) -> dict[str, Any]:
    url = f"{index.rstrip('/')}/{urllib.parse.quote(name)}/"
    request = urllib.request.Request(  # noqa: S310 - http(s) checked by the caller
        url, headers={"Accept": _ACCEPT, "User-Agent": "bulletproof-audit"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        raw = response.read(_MAX_RESPONSE + 1)
    if len(raw) > _MAX_RESPONSE:
        raise ValueError(f"{url} answered over 32 MiB")
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not answer a JSON object")
    return data


def _notes(dep: Dependency, page: dict[str, Any]) -> list[IndexNote]:
    out: list[IndexNote] = []
    status = page.get("project-status")
    if isinstance(status, dict):
        state, reason = status.get("status"), status.get("reason")
    else:
        state, reason = status, page.get("project-status-reason")
    if isinstance(state, str) and state in _STATUSES:
        why = f": {reason}" if isinstance(reason, str) and reason else ""
        out.append(IndexNote(dep.name, dep.version, state, f"the project is {state}{why}"))
    files = [f for f in page.get("files") or () if isinstance(f, dict)]
    here = key(dep.version)
    mine = [f for f in files if (v := _version_of(str(f.get("filename", "")))) and key(v) == here]
    if not mine:
        out.append(
            IndexNote(dep.name, dep.version, "missing", "no file of this version on the index")
        )
    elif all(f.get("yanked") for f in mine):
        reasons = {f["yanked"] for f in mine if isinstance(f.get("yanked"), str)}
        why = f": {'; '.join(sorted(reasons))}" if reasons else ""
        out.append(IndexNote(dep.name, dep.version, "yanked", f"{dep.version} is yanked{why}"))
    return out


def index_notes(
    dependencies: Sequence[Dependency], *, index: str = PYPI_SIMPLE, timeout: float = 20.0
) -> list[IndexNote]:
    """What ``index`` says of each dependency, asked eight packages at a time; a package the
    index cannot be asked about is an ``error`` note naming why. Added in 0.1."""
    if not index.startswith(("https://", "http://")):
        return [IndexNote("", "", "error", f"the index URL {index!r} is not http(s)")]
    deps = sorted({(d.name, d.version): d for d in dependencies}.values(), key=lambda d: d.name)

    def ask(dep: Dependency) -> list[IndexNote]:
        try:
            return _notes(dep, _page(index, dep.name, timeout))
        except urllib.error.HTTPError as exc:
            exc.close()
            kind = "missing" if exc.code == 404 else "error"
            return [IndexNote(dep.name, dep.version, kind, f"the index answered HTTP {exc.code}")]
        except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return [
                IndexNote(dep.name, dep.version, "error", f"the index could not be asked: {reason}")
            ]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [note for notes in pool.map(ask, deps) for note in notes]
