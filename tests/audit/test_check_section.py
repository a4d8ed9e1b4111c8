"""The ``audit`` section of ``bulletproof check``."""

from __future__ import annotations

import shutil
from pathlib import Path

from bulletproof.check import CheckItem, run_check
from bulletproof.check._base import Status

SNAPSHOT = Path(__file__).parent.parent / "cases" / "audit" / "PyPI-all.zip"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "shop"


def _project(tmp_path: Path, config: str, requirements: str | None) -> Path:
    project = tmp_path / "app"
    project.mkdir(parents=True)
    (project / "bulletproof.toml").write_text(
        'service_name = "app"\n[events]\nspool_dir = "spool"\nsinks = ["file:events.jsonl"]\n'
        f'[audit]\ncache_dir = "{tmp_path / "cache"}"\n{config}'
    )
    if requirements is not None:
        (project / "requirements.txt").write_text(requirements)
    return project


def _audit_items(project: Path) -> tuple[CheckItem, ...]:
    report = run_check(project)
    (section,) = [s for s in report.sections if s.name == "audit"]
    return section.items


def test_a_vulnerable_dependency_is_a_finding_naming_the_fix(tmp_path: Path) -> None:
    project = _project(tmp_path, 'db = "osv.zip"\n', "jinja2==2.10\nclick==8.1.7\n")
    shutil.copy(SNAPSHOT, project / "osv.zip")
    items = _audit_items(project)
    assert items[0].status is Status.OK
    assert items[0].detail.startswith("2 from requirements.txt audited against osv.zip")
    assert items[0].detail.endswith("1 vulnerable")
    assert items[1] == CheckItem(
        "jinja2",
        Status.FINDING,
        "2.10: 2 known vulnerabilities (PYSEC-2019-217, PYSEC-2021-66); upgrade to 2.11.3",
    )
    assert run_check(project).exit_code == 1


def test_no_data_is_an_error_saying_how_to_get_it(tmp_path: Path) -> None:
    project = _project(tmp_path, "", "jinja2==2.10\n")
    (item,) = _audit_items(project)
    assert item.status is Status.ERROR
    assert "run bulletproof audit --update-db" in item.detail
    assert run_check(project).exit_code == 3


def test_lines_not_audited_make_it_incomplete_unless_allowed(tmp_path: Path) -> None:
    project = _project(tmp_path, 'db = "osv.zip"\n', "click==8.1.7\nrequests>=2\n")
    shutil.copy(SNAPSHOT, project / "osv.zip")
    items = _audit_items(project)
    assert [i.status for i in items] == [Status.OK, Status.ERROR]
    assert "requests>=2: not pinned to one version" in items[1].detail
    relaxed = _project(tmp_path / "b", 'db = "osv.zip"\nallow_incomplete = true\n', "requests>=2\n")
    shutil.copy(SNAPSHOT, relaxed / "osv.zip")
    assert [i.status for i in _audit_items(relaxed)] == [Status.OK, Status.SKIPPED]


def test_without_pins_the_section_does_not_apply(tmp_path: Path) -> None:
    project = _project(tmp_path, "", None)
    (item,) = _audit_items(project)
    assert item.status is Status.SKIPPED
    assert "does not apply" in item.detail


def test_the_example_shop_is_audited_offline_with_its_bundled_data() -> None:
    items = _audit_items(EXAMPLE)
    assert [i.status for i in items] == [Status.OK]
    assert items[0].detail.startswith("15 from uv.lock audited against osv-sample.zip")
    assert items[0].detail.endswith("none vulnerable")
