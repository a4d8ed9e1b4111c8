"""A local OSV API (``/v1/query``, ``/v1/querybatch``, ``/v1/vulns/{id}``) serving one
export, for measuring online auditors against the same data as an offline audit.

Matching uses bulletproof's OSV matcher; withdrawn records are served too when
``serve_withdrawn`` is set (a naive mirror does that: a client must drop them itself).
"""

from __future__ import annotations

import json
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bulletproof.audit._match import affected_entries, match
from bulletproof.audit._versions import canonical_name

__all__ = ["osv_api"]


def _load(export: Path) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    by_id: dict[str, dict[str, Any]] = {}
    by_name: dict[str, list[dict[str, Any]]] = {}
    with zipfile.ZipFile(export) as archive:
        for name in archive.namelist():
            record = json.loads(archive.read(name))
            by_id[record["id"]] = record
            names = {
                canonical_name(e["package"]["name"])
                for e in record.get("affected", [])
                if e.get("package", {}).get("ecosystem") == "PyPI"
            }
            for package in names:
                by_name.setdefault(package, []).append(record)
    return by_id, by_name


@contextmanager
def osv_api(export: Path, *, serve_withdrawn: bool = False) -> Iterator[str]:
    """Serve ``export`` on 127.0.0.1; yields the base URL (``http://127.0.0.1:PORT``)."""
    by_id, by_name = _load(export)
    counts = {"requests": 0}

    def hits(package: dict[str, Any], version: str) -> list[dict[str, Any]]:
        if package.get("ecosystem", "PyPI") != "PyPI":
            return []
        name = canonical_name(str(package.get("name", "")))
        out = []
        for record in by_name.get(name, []):
            if serve_withdrawn and record.get("withdrawn"):
                unwithdrawn = {k: v for k, v in record.items() if k != "withdrawn"}
                if match(unwithdrawn, name, version) is not None:
                    out.append(record)
            elif (not version and affected_entries(record, name)) or (
                version and match(record, name, version) is not None
            ):
                out.append(record)
        return out

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _json(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            parsed: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
            return parsed

        def do_POST(self) -> None:
            counts["requests"] += 1
            body = self._json()
            if self.path == "/v1/query":
                self._send(200, {"vulns": hits(body.get("package", {}), body.get("version", ""))})
            elif self.path == "/v1/querybatch":
                results = [
                    {
                        "vulns": [
                            {"id": r["id"], "modified": r.get("modified", "")}
                            for r in hits(q.get("package", {}), q.get("version", ""))
                        ]
                    }
                    for q in body.get("queries", [])
                ]
                self._send(200, {"results": results})
            else:
                self._send(404, {"code": 5, "message": "not found"})

        def do_GET(self) -> None:
            counts["requests"] += 1
            if self.path.startswith("/v1/vulns/"):
                record = by_id.get(self.path.rsplit("/", 1)[1])
                if record is None:
                    self._send(404, {"code": 5, "message": "Bug not found."})
                else:
                    self._send(200, record)
            else:
                self._send(404, {"code": 5, "message": "not found"})

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
