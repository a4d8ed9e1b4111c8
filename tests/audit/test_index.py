"""``--check-index``: yanked pins and archived, deprecated or quarantined projects, from a
PEP 691 JSON simple index served on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.test_cli_main import invoke

from bulletproof.audit import Dependency
from bulletproof.audit._index import index_notes

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"

PAGES = {
    "flask": {
        "meta": {"api-version": "1.1"},
        "name": "flask",
        "files": [
            {"filename": "Flask-0.12-py2.py3-none-any.whl", "url": "x", "yanked": "broke sessions"},
            {"filename": "Flask-0.12.tar.gz", "url": "x", "yanked": True},
            {"filename": "flask-1.0-py2.py3-none-any.whl", "url": "x", "yanked": False},
        ],
    },
    "jinja2": {
        "name": "jinja2",
        "files": [{"filename": "Jinja2-2.10-py2.py3-none-any.whl", "url": "x"}],
    },
    "oldlib": {
        "name": "oldlib",
        "project-status": {"status": "quarantined", "reason": "reported as malware"},
        "files": [{"filename": "oldlib-1.0.tar.gz", "url": "x"}],
    },
    "tidy": {
        "name": "tidy",
        "project-status": "archived",
        "files": [{"filename": "tidy-2.0-py3-none-any.whl", "url": "x"}],
    },
}


@pytest.fixture(scope="module")
def index() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.strip("/").split("/")[-1]
            page = PAGES.get(name)
            if page is None:
                self.send_error(404)
                return
            body = json.dumps(page).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.pypi.simple.v1+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/simple"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_yanked_pins_and_project_states_are_noted(index: str) -> None:
    deps = [
        Dependency("flask", "0.12", "r.txt", 1),
        Dependency("jinja2", "2.10", "r.txt", 2),
        Dependency("oldlib", "1.0", "r.txt", 3),
        Dependency("tidy", "2.0", "r.txt", 4),
        Dependency("gone", "1.0", "r.txt", 5),
        Dependency("flask", "0.11", "r.txt", 6),
    ]
    notes = {(n.name, n.version, n.kind): n.detail for n in index_notes(deps, index=index)}
    assert notes == {
        ("flask", "0.12", "yanked"): "0.12 is yanked: broke sessions",
        ("flask", "0.11", "missing"): "no file of this version on the index",
        ("oldlib", "1.0", "quarantined"): "the project is quarantined: reported as malware",
        ("tidy", "2.0", "archived"): "the project is archived",
        ("gone", "1.0", "missing"): "the index answered HTTP 404",
    }


def test_the_cli_says_whether_the_index_was_checked(
    index: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLETPROOF_AUDIT__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BULLETPROOF_AUDIT__INDEX_URL", index)
    req = tmp_path / "requirements.txt"
    req.write_text("oldlib==1.0\n")
    offline = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--format", "json")
    assert json.loads(offline.stdout)["index"]["checked"] is False
    assert "not checked" in invoke("audit", "-r", str(req), "--db", str(SNAPSHOT)).stdout
    checked = invoke(
        "audit", "-r", str(req), "--db", str(SNAPSHOT), "--check-index", "--format", "json"
    )
    data = json.loads(checked.stdout)["index"]
    assert data["checked"] is True
    assert data["notes"] == [
        {
            "name": "oldlib",
            "version": "1.0",
            "kind": "quarantined",
            "detail": "the project is quarantined: reported as malware",
        }
    ]
    text = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--check-index").stdout
    assert "index: oldlib 1.0: quarantined: the project is quarantined" in text


def test_an_unreachable_index_is_an_error_note() -> None:
    (note,) = index_notes(
        [Dependency("flask", "1.0", "r.txt", 1)], index="http://127.0.0.1:9/simple"
    )
    assert note.kind == "error"
    assert "could not be asked" in note.detail
