"""``--online``: the OSV API's querybatch and vulns endpoints, served on 127.0.0.1 from the
snapshot by the same local API the benchmark uses (``bench/_osv_api.py``)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.cli.test_cli_main import invoke

from bulletproof.audit import Dependency
from bulletproof.audit._online import query_osv
from bulletproof.errors import AuditDataError

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"
_SPEC = importlib.util.spec_from_file_location(
    "bench_osv_api", Path(__file__).parents[2] / "bench" / "_osv_api.py"
)
assert _SPEC is not None
assert _SPEC.loader is not None
OSV_API: Any = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(OSV_API)


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    with OSV_API.osv_api(SNAPSHOT, serve_withdrawn=True) as base:
        yield base


def test_online_gives_the_same_findings_as_offline(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BULLETPROOF_AUDIT__CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BULLETPROOF_AUDIT__API_URL", api)
    req = tmp_path / "requirements.txt"
    req.write_text("flask==0.12\njinja2==2.10\nclick==8.1.7\nredis==3.5.3\n")
    online = invoke("audit", "-r", str(req), "--online", "--format", "json")
    offline = invoke("audit", "-r", str(req), "--db", str(SNAPSHOT), "--format", "json")
    assert online.exit_code == offline.exit_code == 1
    got, want = json.loads(online.stdout), json.loads(offline.stdout)
    assert got["dependencies"] == want["dependencies"]  # the withdrawn PYSEC-2023-73 dropped
    assert got["db"]["source"] == api
    assert len(got["db"]["sha256"]) == 64


def test_many_pins_go_in_batches(api: str) -> None:
    deps = [Dependency(f"pkg-{i}", "1.0", "r.txt", i) for i in range(2500)]
    deps.append(Dependency("jinja2", "2.10", "r.txt", 0))
    data = query_osv(deps, api=api)
    assert sorted(r["id"] for r in data.records["jinja2"]) == ["PYSEC-2019-217", "PYSEC-2021-66"]


def test_an_unreachable_api_names_the_url() -> None:
    with pytest.raises(AuditDataError, match=r"cannot reach the OSV API at http://127\.0\.0\.1:9"):
        query_osv([Dependency("flask", "0.12", "r.txt", 1)], api="http://127.0.0.1:9")
    with pytest.raises(AuditDataError, match="not http"):
        query_osv([], api="file:///etc/passwd")
