"""Downloading the export from a real HTTP server on 127.0.0.1: conditional requests, every
check a damaged download can fail, the old copy kept when a download fails."""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.cli.test_cli_main import invoke

from bulletproof.audit._download import fetch_export
from bulletproof.errors import AuditDataError

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"


@dataclass
class Export:
    """What the server serves, and what it was asked."""

    body: bytes = field(default_factory=SNAPSHOT.read_bytes)
    etag: str = '"v1"'
    md5: bytes | None = None  # None: the body's own
    claim_length: int | None = None  # a Content-Length other than the body's
    status: int = 200
    requests: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Export]]:
    export = Export()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            export.requests.append(dict(self.headers))
            if export.status != 200:
                self.send_error(export.status)
                return
            if self.headers.get("If-None-Match") == export.etag:
                self.send_response(304)
                self.end_headers()
                return
            digest = export.md5 if export.md5 is not None else hashlib.md5(export.body).digest()  # noqa: S324 - GCS's header
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(export.claim_length or len(export.body)))
            self.send_header("ETag", export.etag)
            self.send_header("Last-Modified", "Thu, 10 Oct 2024 17:35:05 GMT")
            self.send_header(
                "x-goog-hash", f"crc32c=AAAAAA==,md5={base64.b64encode(digest).decode()}"
            )
            self.end_headers()
            self.wfile.write(export.body)
            self.close_connection = True

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/PyPI/all.zip", export
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_second_fetch_is_a_conditional_request(
    server: tuple[str, Export], tmp_path: Path
) -> None:
    url, export = server
    target = tmp_path / "osv" / "PyPI-all.zip"
    first = fetch_export(target, url=url)
    assert first.changed
    assert first.etag == '"v1"'
    assert target.read_bytes() == SNAPSHOT.read_bytes()
    again = fetch_export(target, url=url)
    assert not again.changed
    assert export.requests[-1]["If-None-Match"] == '"v1"'
    assert export.requests[-1]["If-Modified-Since"] == "Thu, 10 Oct 2024 17:35:05 GMT"
    export.etag, export.body = '"v2"', _one_record_zip(tmp_path)
    third = fetch_export(target, url=url)
    assert third.changed
    assert target.read_bytes() == export.body
    assert json.loads((tmp_path / "osv" / "PyPI-all.zip.meta.json").read_text())["etag"] == '"v2"'


def _one_record_zip(tmp_path: Path) -> bytes:
    import zipfile

    path = tmp_path / "made" / "one.zip"
    path.parent.mkdir(exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("PYSEC-1.json", json.dumps({"id": "PYSEC-1", "affected": []}))
    return path.read_bytes()


@pytest.mark.parametrize(
    ("damage", "words"),
    [
        ("md5", "does not match its MD5"),
        ("truncated", "stopped at|broke off"),
        ("not-zip", "not a readable zip"),
        ("crc", "damaged"),
        ("status", "HTTP 503"),
    ],
)
def test_a_bad_download_is_refused_and_the_old_copy_kept(
    server: tuple[str, Export], tmp_path: Path, damage: str, words: str
) -> None:
    url, export = server
    target = tmp_path / "cache" / "PyPI-all.zip"
    fetch_export(target, url=url)
    old = target.read_bytes()
    export.etag = '"v2"'
    if damage == "md5":
        export.md5 = b"\0" * 16
    elif damage == "truncated":
        export.claim_length = len(export.body) + 1000
    elif damage == "not-zip":
        export.body, export.md5 = b"<html>maintenance</html>", None
    elif damage == "crc":
        body = bytearray(_one_record_zip(tmp_path))
        body[40] ^= 0xFF  # inside the member's compressed data: its CRC no longer holds
        export.body = bytes(body)
    else:
        export.status = 503
    with pytest.raises(AuditDataError, match=words) as info:
        fetch_export(target, url=url)
    assert url in str(info.value)
    assert target.read_bytes() == old
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "PyPI-all.zip",
        "PyPI-all.zip.meta.json",
    ]


def test_a_refused_connection_names_the_url(tmp_path: Path) -> None:
    url = "http://127.0.0.1:9/all.zip"
    with pytest.raises(AuditDataError, match=r"cannot download http://127\.0\.0\.1:9/all\.zip"):
        fetch_export(tmp_path / "x.zip", url=url)
    with pytest.raises(AuditDataError, match="not http"):
        fetch_export(tmp_path / "x.zip", url="ftp://example/all.zip")


def test_update_db_fills_the_cache_then_audits(
    server: tuple[str, Export], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, export = server
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLETPROOF_AUDIT__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BULLETPROOF_AUDIT__DB_URL", url)
    (tmp_path / "requirements.txt").write_text("jinja2==2.10\n")
    run = invoke("audit", "--update-db", "--format", "json")
    assert run.exit_code == 1, run.stderr
    assert "downloaded" in run.stderr
    assert (
        json.loads(run.stdout)["db"]["sha256"] == hashlib.sha256(SNAPSHOT.read_bytes()).hexdigest()
    )
    export.status = 503  # the server is down: the cached copy is used, with a warning
    down = invoke("audit", "--update-db", "--format", "json")
    assert down.exit_code == 1
    assert "warning" in down.stderr
    assert "HTTP 503" in down.stderr
