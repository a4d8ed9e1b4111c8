"""The ``bulletproof`` group itself: help, version, usage errors, the console script.

Also holds the helpers the other CLI test files import (``invoke``, ``make_project``,
``assert_no_traceback``, ``clean_env``): there is no conftest in ``tests/cli``.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import bulletproof
from bulletproof.cli import cli, main

REPO = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("bulletproof")
COMMANDS = {
    "check",
    "config show",
    "events send-test",
    "events tail",
    "alerts test",
    "headers show",
    "headers check",
    "routes",
    "inspect",
    "audit",
    "run",
    "reload",
}


# -- helpers shared by the CLI tests -------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What one CLI invocation produced."""

    exit_code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def assert_no_traceback(*outputs: str) -> None:
    """A CLI must never show a Python traceback, whatever the input."""
    for out in outputs:
        assert "Traceback" not in out, f"traceback in CLI output:\n{out}"
        assert 'File "' not in out, f"traceback frame in CLI output:\n{out}"


def _runner() -> CliRunner:
    # click 8.2+ keeps stderr apart by default and dropped ``mix_stderr``; 8.1 needs it.
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg,unused-ignore]
    return CliRunner()


def invoke(*args: str, input: str | None = None) -> Run:
    """Run the CLI in-process; fail on any uncaught exception or traceback in the output."""
    result = _runner().invoke(cli, list(args), input=input, prog_name="bulletproof")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        assert result.exc_info is not None
        tb = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"bulletproof {' '.join(args)} raised:\n{tb}\nstdout:\n{result.stdout}")
    run = Run(result.exit_code, result.stdout, result.stderr)
    assert_no_traceback(run.stdout, run.stderr)
    return run


def run_script(*args: str, cwd: Path, timeout: float = 30.0) -> Run:
    """Run the installed console script as a real process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
    done = subprocess.run(
        [str(CONSOLE_SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    run = Run(done.returncode, done.stdout, done.stderr)
    assert_no_traceback(run.stdout, run.stderr)
    return run


def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop every BULLETPROOF_* variable so the developer's environment cannot leak in."""
    for key in list(os.environ):
        if key.startswith("BULLETPROOF_"):
            monkeypatch.delenv(key)


def make_project(directory: Path, body: str) -> Path:
    """Write ``directory/pyproject.toml`` with ``body`` (the [tool.bulletproof] part)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\nversion = "0.0.1"\n\n{body}', encoding="utf-8"
    )
    return directory


FILE_SINK_PROJECT = """\
[tool.bulletproof]
service_name = "demo"

[tool.bulletproof.events]
spool_dir = ".bulletproof/spool"
sinks = ["file:.bulletproof/events.jsonl"]
"""


def _leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out.update(_leaf_commands(command, f"{full} "))
        else:
            out[full] = command
    return out


def leaf_commands() -> dict[str, click.Command]:
    """Every runnable command of the CLI, by its full name (``"events tail"``)."""
    return _leaf_commands(cli)


# -- tests ---------------------------------------------------------------------------------------


def test_help_lists_every_command() -> None:
    run = invoke("--help")
    assert run.exit_code == 0
    assert run.stdout.startswith("Usage: bulletproof")
    for name in ("check", "config", "events", "alerts"):
        assert f"  {name} " in run.stdout, run.stdout
    short = invoke("-h")
    assert short.exit_code == 0
    assert short.stdout == run.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_help(command: str) -> None:
    run = invoke(*command.split(), "--help")
    assert run.exit_code == 0
    assert f"Usage: bulletproof {command}" in run.stdout
    assert "--format [text|json" in run.stdout


def test_the_command_set_is_the_documented_one() -> None:
    assert set(leaf_commands()) == COMMANDS


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_format_json(command: str) -> None:
    params = {p.name: p for p in leaf_commands()[command].params}
    fmt = params.get("fmt")
    assert isinstance(fmt, click.Option), f"{command} has no --format"
    assert "--format" in fmt.opts
    assert isinstance(fmt.type, click.Choice)
    extra = {"markdown", "sarif", "cyclonedx"} if command == "audit" else set()
    assert set(fmt.type.choices) == {"text", "json"} | extra


def test_version_matches_the_package() -> None:
    run = invoke("--version")
    assert run.exit_code == 0
    assert run.stdout.strip() == f"bulletproof, version {bulletproof.__version__}"
    assert bulletproof.__version__ == dist_version("bulletproof")


def test_unknown_command_is_a_usage_error() -> None:
    run = invoke("chek")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "Usage: bulletproof" in run.stderr
    assert "No such command 'chek'" in run.stderr
    assert "Did you mean" in run.stderr  # click suggests 'check'


def test_unknown_option_is_a_usage_error() -> None:
    run = invoke("check", "--nope")
    assert run.exit_code == 2
    assert "Usage: bulletproof check" in run.stderr
    assert "No such option" in run.stderr
    assert "--nope" in run.stderr


def test_bad_format_value_is_a_usage_error() -> None:
    run = invoke("config", "show", "--format", "yaml")
    assert run.exit_code == 2
    assert "Invalid value for '--format'" in run.stderr
    assert "'yaml'" in run.stderr


def test_missing_subcommand_prints_usage() -> None:
    run = invoke("events", "send-test")
    assert run.exit_code == 2
    assert "Missing option '--to'" in run.stderr


def test_main_takes_argv(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert bulletproof.__version__ in capsys.readouterr().out


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    assert CONSOLE_SCRIPT.is_file(), f"{CONSOLE_SCRIPT} is missing: run uv sync"
    run = run_script("--version", cwd=tmp_path)
    assert run.exit_code == 0
    assert run.stdout.strip() == f"bulletproof, version {bulletproof.__version__}"
    usage = run_script("nope", cwd=tmp_path)
    assert usage.exit_code == 2
    assert "No such command 'nope'" in usage.stderr


def test_console_script_reports_bad_config_without_traceback(tmp_path: Path) -> None:
    make_project(tmp_path, '[tool.bulletproof]\nservce_name = "demo"\n')
    run = run_script("config", "show", cwd=tmp_path)
    assert run.exit_code == 2
    assert run.stderr.startswith("bulletproof: error: ")
    assert "servce_name" in run.stderr
    assert "Did you mean 'service_name'?" in run.stderr


def test_global_config_option_points_at_a_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean_env(monkeypatch)
    project = make_project(tmp_path / "proj", FILE_SINK_PROJECT)
    monkeypatch.chdir(tmp_path)  # no config here: only --config finds it
    run = invoke("--config", str(project), "config", "show", "--format", "json")
    assert run.exit_code == 0, run.text
    assert '"demo"' in run.stdout
