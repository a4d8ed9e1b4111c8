"""The ``run`` section of ``bulletproof check``."""

from __future__ import annotations

import sys
from pathlib import Path

from bulletproof.check import CheckItem, run_check
from bulletproof.check._base import Status

EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "shop"


def _items(tmp_path: Path, run: str) -> dict[str, CheckItem]:
    (tmp_path / "bulletproof.toml").write_text(
        'service_name = "app"\n[events]\nspool_dir = "spool"\nsinks = ["file:events.jsonl"]\n'
        f"[run]\n{run}",
        encoding="utf-8",
    )
    report = run_check(tmp_path)
    (section,) = [s for s in report.sections if s.name == "run"]
    return {item.name: item for item in section.items}


def test_without_a_run_section_it_does_not_apply(tmp_path: Path) -> None:
    items = _items(tmp_path, "")
    assert list(items) == ["supervisor"]
    assert items["supervisor"].status is Status.SKIPPED
    assert "bulletproof run" in items["supervisor"].detail
    assert run_check(tmp_path).exit_code == 0


def test_no_command_and_no_health_check_are_findings(tmp_path: Path) -> None:
    items = _items(tmp_path, 'stop_timeout = "5s"\n')
    assert items["supervisor"].status is Status.FINDING
    assert "nothing restarts the server" in items["supervisor"].detail
    assert items["health check"].status is Status.FINDING
    assert "a hung server is never restarted" in items["health check"].detail
    assert items["reload"].status is Status.OK
    assert "no bind" in items["reload"].detail
    assert run_check(tmp_path).exit_code == 1


def test_a_command_that_is_not_found_is_a_finding(tmp_path: Path) -> None:
    items = _items(tmp_path, 'command = ["no-such-server-bp", "app:app"]\n')
    assert items["supervisor"].status is Status.FINDING
    assert "'no-such-server-bp' is not found" in items["supervisor"].detail


def test_a_complete_section_is_clean(tmp_path: Path) -> None:
    items = _items(
        tmp_path,
        f'command = ["{Path(sys.executable).name}", "-m", "http.server"]\n'
        'bind = "127.0.0.1:8000"\n'
        'health_url = "http://127.0.0.1:8000/healthz"\n'
        'max_memory = "256MiB"\n',
    )
    assert {name: item.status for name, item in items.items()} == {
        "supervisor": Status.OK,
        "health check": Status.OK,
        "reload": Status.OK,
        "memory": Status.OK,
    }
    assert "256 MiB" in items["memory"].detail
    assert "dropping nothing" in items["reload"].detail


def test_a_health_url_off_the_bound_port_is_a_finding(tmp_path: Path) -> None:
    items = _items(
        tmp_path, 'bind = "127.0.0.1:8000"\nhealth_url = "http://127.0.0.1:9000/healthz"\n'
    )
    assert items["health check"].status is Status.FINDING
    assert "not on the bound port 8000" in items["health check"].detail


def test_a_heartbeat_is_a_health_check(tmp_path: Path) -> None:
    items = _items(tmp_path, 'heartbeat = "pipe"\n')
    assert items["health check"].status is Status.OK
    assert "heartbeat (pipe)" in items["health check"].detail


def test_the_example_shop_is_supervised() -> None:
    report = run_check(EXAMPLE)
    (section,) = [s for s in report.sections if s.name == "run"]
    assert all(item.status is Status.OK for item in section.items), section.items
