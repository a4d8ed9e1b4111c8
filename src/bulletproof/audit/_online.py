"""Asking the OSV API instead of a local export (``bulletproof audit --online``).

One ``POST /v1/querybatch`` per 1,000 pins names the records that affect each pin (pages
followed); each record is then fetched whole (``GET /v1/vulns/{id}``, eight at a time) and
matched again by bulletproof's own matcher, so the result follows OSV's rules exactly whatever
the server does (a withdrawn record it returns is dropped here). The report names the API, the
sha256 of the records it returned and their newest modification time.

Added in 0.1.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Final

from bulletproof.audit._osv import _parse_time
from bulletproof.audit._sources import Dependency
from bulletproof.errors import AuditDataError

__all__ = ["OSV_API_URL", "OnlineData", "query_osv"]

OSV_API_URL: Final = "https://api.osv.dev"
"""OSV's public API. Added in 0.1."""

_BATCH: Final = 1000
_MAX_PAGES: Final = 100
_MAX_RESPONSE: Final = 64 << 20


class OnlineData:
    """Records fetched from the API, by package, and what describes them. Added in 0.1."""

    def __init__(self, source: str, records: dict[str, list[dict[str, Any]]]) -> None:
        self.source = source
        self.records = records
        unique = {r["id"]: r for rs in records.values() for r in rs if "id" in r}
        digest = hashlib.sha256()
        for ident in sorted(unique):
            digest.update(json.dumps(unique[ident], sort_keys=True).encode())
        self.sha256 = digest.hexdigest()
        dates = [d for d in (_parse_time(r.get("modified")) for r in unique.values()) if d]
        self.date: datetime | None = max(dates) if dates else None


def _call(url: str, body: object | None, timeout: float) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - http(s) checked by the caller
        url,
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json", "User-Agent": "bulletproof-audit"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            raw = response.read(_MAX_RESPONSE + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise AuditDataError(
            f"the OSV API answered {url} with HTTP {exc.code} {exc.reason}"
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise AuditDataError(
            f"cannot reach the OSV API at {url}: {reason}; audit offline with --db or the cache"
        ) from None
    if len(raw) > _MAX_RESPONSE:
        raise AuditDataError(f"the OSV API's answer to {url} is over 64 MiB; not trusted")
    try:
        return json.loads(raw)
    except ValueError:
        raise AuditDataError(f"the OSV API's answer to {url} is not JSON") from None


def query_osv(
    dependencies: Sequence[Dependency], *, api: str = OSV_API_URL, timeout: float = 30.0
) -> OnlineData:
    """The records the API names for ``dependencies``. Raises
    :class:`~bulletproof.errors.AuditDataError` naming the URL when it cannot be asked.

    Added in 0.1.
    """
    if not api.startswith(("https://", "http://")):
        raise AuditDataError(f"the OSV API URL {api!r} is not http(s); give an https:// URL")
    base = api.rstrip("/")
    pins = sorted({(d.name, d.version) for d in dependencies})
    ids: dict[str, set[str]] = {}
    for start in range(0, len(pins), _BATCH):
        chunk = pins[start : start + _BATCH]
        queries: list[dict[str, Any]] = [
            {"package": {"name": n, "ecosystem": "PyPI"}, "version": v} for n, v in chunk
        ]
        pending = list(range(len(chunk)))
        for _ in range(_MAX_PAGES):
            answer = _call(
                f"{base}/v1/querybatch", {"queries": [queries[i] for i in pending]}, timeout
            )
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(pending):
                raise AuditDataError(f"the OSV API's querybatch answer from {base} is malformed")
            again: list[int] = []
            for index, result in zip(pending, results, strict=True):
                for vuln in (result or {}).get("vulns") or ():
                    if isinstance(vuln, dict) and isinstance(vuln.get("id"), str):
                        ids.setdefault(chunk[index][0], set()).add(vuln["id"])
                token = (result or {}).get("next_page_token")
                if token:
                    queries[index]["page_token"] = token
                    again.append(index)
            if not again:
                break
            pending = again
    wanted = sorted({i for found in ids.values() for i in found})

    def fetch(ident: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(ident, safe="")
        record = _call(f"{base}/v1/vulns/{quoted}", None, timeout)
        if not isinstance(record, dict):
            raise AuditDataError(f"the OSV API's record {ident} from {base} is not an object")
        return record

    with ThreadPoolExecutor(max_workers=8) as pool:
        fetched = dict(zip(wanted, pool.map(fetch, wanted), strict=True))
    records = {name: [fetched[i] for i in sorted(found)] for name, found in ids.items()}
    return OnlineData(base, records)
