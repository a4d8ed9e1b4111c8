"""The start-up audit: what the process loaded, once per day and environment across workers."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import multiprocessing
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.adapters.common import ListEmitter

from bulletproof.audit._runtime import _claim, loaded_distributions, run_startup_audit
from bulletproof.audit._settings import AuditConfig
from bulletproof.clock import system_clock
from bulletproof.config import load_config
from bulletproof.protect import protect


@pytest.fixture
def oldpkg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An installed distribution ``oldpkg 1.0`` (a real dist-info on sys.path), imported."""
    site = tmp_path / "site"
    (site / "bp_oldpkg").mkdir(parents=True)
    (site / "bp_oldpkg" / "__init__.py").write_text("")
    info = site / "bp_oldpkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bp-oldpkg\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("bp_oldpkg\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    importlib.import_module("bp_oldpkg")
    yield "bp-oldpkg"
    sys.modules.pop("bp_oldpkg", None)


def _export(tmp_path: Path) -> Path:
    export = tmp_path / "osv"
    export.mkdir()
    record = {
        "id": "PYSEC-RT-1",
        "modified": "2026-11-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "bp-oldpkg"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1"}]}
                ],
            }
        ],
    }
    (export / "PYSEC-RT-1.json").write_text(json.dumps(record))
    return export


def test_the_loaded_modules_map_to_their_distributions(oldpkg: str) -> None:
    found = {
        d.name: d.version
        for d in loaded_distributions({"bp_oldpkg": None, "bp_oldpkg.sub": None}).dependencies
    }
    assert found == {"bp-oldpkg": "1.0"}
    assert "pytest" in {d.name for d in loaded_distributions().dependencies}


def test_findings_are_emitted_once_a_day(oldpkg: str, tmp_path: Path) -> None:
    section = AuditConfig(db=str(_export(tmp_path)), cache_dir=str(tmp_path / "cache"))
    emitter = ListEmitter()
    modules = {"bp_oldpkg": sys.modules["bp_oldpkg"]}
    day = dt.date(2026, 12, 3)
    assert run_startup_audit(section, tmp_path, emitter, modules=modules, today=day) == 1
    (event,) = emitter.events
    assert (event.action, event.rule_id) == ("vulnerable_dependency", "PYSEC-RT-1")
    assert event.details["fix"] == "1.1"
    # another worker of the same service, the same day: quiet
    assert run_startup_audit(section, tmp_path, emitter, modules=modules, today=day) == 0
    # the next day: reported again
    assert (
        run_startup_audit(section, tmp_path, emitter, modules=modules, today=day + dt.timedelta(1))
        == 1
    )


def _claimer(cache: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(_claim(Path(cache), "same-key"))


def test_of_many_processes_exactly_one_claims_the_report(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    workers = [context.Process(target=_claimer, args=(str(tmp_path), queue)) for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert sorted(queue.get(timeout=5) for _ in workers) == [False] * 5 + [True]


def test_no_data_is_a_warning_not_an_event(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    emitter = ListEmitter()
    section = AuditConfig(cache_dir=str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="bulletproof.audit"):
        assert run_startup_audit(section, tmp_path, emitter) == 0
    assert emitter.events == []
    assert "no vulnerability data" in caplog.text


def test_protect_audits_the_app_at_start_up_off_the_request_path(
    oldpkg: str, tmp_path: Path
) -> None:
    from starlette.applications import Starlette

    export = _export(tmp_path)
    (tmp_path / "bulletproof.toml").write_text(
        f'[audit]\ndb = "{export}"\ncache_dir = "{tmp_path / "cache"}"\n[shield]\nenabled = false\n'
    )
    emitter = ListEmitter()
    protect(Starlette(), config=load_config(tmp_path), emitter=emitter)
    deadline = system_clock.monotonic() + 10
    while not emitter.events and system_clock.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.rule_id for e in emitter.events] == ["PYSEC-RT-1"]
    (tmp_path / "off.toml").write_text("[audit]\nat_startup = false\n")
    quiet = ListEmitter()
    protect(Starlette(), config=load_config(tmp_path / "off.toml"), emitter=quiet)
    time.sleep(0.3)
    assert quiet.events == []
