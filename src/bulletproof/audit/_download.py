"""Fetching OSV's PyPI export into the cache: conditional, checked, atomic.

A download sends the ``ETag`` and ``Last-Modified`` of the copy it has (``If-None-Match``,
``If-Modified-Since``): an unchanged export costs one small request. A new one is written
beside the old, checked (its length against ``Content-Length``, its MD5 against the
``x-goog-hash`` header Google Cloud Storage sends, every zip member's CRC), and only then
moved over the old copy, so a reader never sees half a file and a failed download leaves the
old copy in place. Several processes may download at once: each writes its own temporary
file and the last complete one wins.

Added in 0.1.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.client
import json
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from bulletproof.audit._settings import OSV_EXPORT_URL
from bulletproof.errors import AuditDataError

__all__ = ["OSV_EXPORT_URL", "Fetched", "fetch_export"]


_MAX_BYTES: Final = 4 << 30  # far above the real export (~100 MB): a bound, not a guess
_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class Fetched:
    """The outcome of :func:`fetch_export`: the ``path`` of the copy, whether it ``changed``,
    and its ``etag`` and ``last_modified`` as the server gave them. Added in 0.1."""

    path: Path
    changed: bool
    etag: str | None
    last_modified: str | None


def _meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta.json")


def _read_meta(path: Path) -> dict[str, str]:
    try:
        data = json.loads(_meta_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def _expected_md5(header: str | None) -> bytes | None:
    """The MD5 digest in an ``x-goog-hash: crc32c=...,md5=...`` header."""
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name == "md5":
            with contextlib.suppress(ValueError):
                return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    return None


def fetch_export(path: Path, *, url: str = OSV_EXPORT_URL, timeout: float = 60.0) -> Fetched:
    """Bring the export at ``url`` to ``path`` if it changed since the copy there was
    fetched. Raises :class:`~bulletproof.errors.AuditDataError` naming the URL when it
    cannot be fetched or fails a check (the old copy, if any, is kept).

    Added in 0.1.
    """
    if not url.startswith(("https://", "http://")):
        raise AuditDataError(f"the export URL {url!r} is not http(s); give an https:// URL")
    meta = _read_meta(path) if path.exists() else {}
    request = urllib.request.Request(url, headers={"User-Agent": "bulletproof-audit"})  # noqa: S310 - http(s) checked above
    if meta.get("etag"):
        request.add_header("If-None-Match", meta["etag"])
    if meta.get("last_modified"):
        request.add_header("If-Modified-Since", meta["last_modified"])
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
    except urllib.error.HTTPError as exc:
        exc.close()  # its body is not read: release the connection
        if exc.code == 304 and path.exists():
            return Fetched(path, False, meta.get("etag"), meta.get("last_modified"))
        raise AuditDataError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}; try again later, or give "
            "a copy with --db PATH"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AuditDataError(
            f"cannot download {url}: {reason}; check the network, or give a copy with --db PATH"
        ) from None
    with response:
        length_header = response.headers.get("Content-Length")
        expected_length = int(length_header) if length_header and length_header.isdigit() else None
        expected_md5 = _expected_md5(response.headers.get("x-goog-hash"))
        fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            digest = hashlib.md5(usedforsecurity=False)
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := response.read(_CHUNK):
                    size += len(chunk)
                    if size > _MAX_BYTES:
                        raise AuditDataError(
                            f"{url} is over {_MAX_BYTES >> 30} GiB; not an OSV export"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected_length is not None and size != expected_length:
                raise AuditDataError(
                    f"the download of {url} stopped at {size} of {expected_length} bytes; try again"
                )
            if expected_md5 is not None and digest.digest() != expected_md5:
                raise AuditDataError(f"the download of {url} does not match its MD5; try again")
            try:
                with zipfile.ZipFile(tmp) as archive:
                    bad = archive.testzip()
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise AuditDataError(
                    f"the download of {url} is not a readable zip ({exc}); try again"
                ) from None
            if bad is not None:
                raise AuditDataError(f"the download of {url} is damaged (member {bad}); try again")
            os.replace(tmp, path)
        except http.client.HTTPException as exc:  # the connection closed mid-body
            raise AuditDataError(f"the download of {url} broke off ({exc!r}); try again") from None
        except OSError as exc:
            raise AuditDataError(f"cannot download {url} to {path}: {exc}") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
        etag = response.headers.get("ETag")
        last_modified = response.headers.get("Last-Modified")
    fresh = {k: v for k, v in (("etag", etag), ("last_modified", last_modified), ("url", url)) if v}
    meta_file = _meta_path(path)
    with contextlib.suppress(OSError):
        fd, meta_tmp = tempfile.mkstemp(prefix=".meta-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(fresh, handle)
        os.replace(meta_tmp, meta_file)
    return Fetched(path, True, etag, last_modified)
