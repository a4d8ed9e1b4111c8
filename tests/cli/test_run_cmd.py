"""``bulletproof run`` and ``bulletproof reload``: bad input is a clear error, exit 2 (or 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.test_cli_main import invoke


def _project(tmp_path: Path, run: str = "") -> Path:
    (tmp_path / "bulletproof.toml").write_text(
        '[events]\nspool_dir = "spool"\nsinks = ["file:events.jsonl"]\n' + run, encoding="utf-8"
    )
    return tmp_path


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--health-url", "tcp://127.0.0.1:1/", "--", "true"], ["health_url", "http://"]),
        (["--bind", "nowhere", "--", "true"], ["bind", "127.0.0.1:8000"]),
        (["--max-memory", "lots", "--", "true"], ["max_memory", "not a size"]),
        (["--health-interval", "soon", "--", "true"], ["health_interval"]),
        (["--max-restarts", "-1", "--", "true"], ["max_restarts"]),
        ([], ["no command", "command in [tool.bulletproof.run]"]),
    ],
)
def test_bad_options_exit_2_naming_the_setting(
    tmp_path: Path, args: list[str], words: list[str]
) -> None:
    run = invoke("--config", str(_project(tmp_path)), "run", *args)
    assert run.exit_code == 2, run.stderr
    for word in words:
        assert word in run.stderr, run.stderr


def test_a_bad_run_section_in_the_file_is_named(tmp_path: Path) -> None:
    project = _project(tmp_path, '[run]\nhealth_url = "ftp://x/"\n')
    run = invoke("--config", str(project), "run", "--", "true")
    assert run.exit_code == 2
    assert "[run] health_url" in run.stderr


def test_reload_without_a_supervisor_exits_3(tmp_path: Path) -> None:
    run = invoke(
        "--config", str(_project(tmp_path)), "reload", "--pid-file", str(tmp_path / "none.pid")
    )
    assert run.exit_code == 3
    assert "no supervisor is running" in run.stderr
