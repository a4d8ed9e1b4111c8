"""The documentation works: every doctest passes, the README's examples run as written, and the
README's command list matches the CLI.
"""

from __future__ import annotations

import doctest
import importlib
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import bulletproof
from bulletproof.cli import cli

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")

MODULES = sorted(
    [bulletproof.__name__]
    + [m.name for m in pkgutil.walk_packages(bulletproof.__path__, f"{bulletproof.__name__}.")]
)


def readme_section(title: str) -> str:
    """The text of the README section headed ``## title``, up to the next ``## `` heading."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def code_block(section: str, language: str) -> str:
    match = re.search(rf"^```{language}\n(.*?)^```", section, re.S | re.M)
    assert match, f"no ```{language} block in the section"
    return match.group(1)


# -- doctests ------------------------------------------------------------------------------------


def test_walk_finds_the_package() -> None:
    assert {"bulletproof", "bulletproof.cli", "bulletproof.events.pipeline"} <= set(MODULES)


@pytest.mark.parametrize("module_name", MODULES)
def test_doctests(module_name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # doctests that write files write them here
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, verbose=False, report=True, raise_on_error=False)
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"


def test_the_library_has_doctests() -> None:
    finder = doctest.DocTestFinder()
    counted = {
        name: sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
        for name in MODULES
    }
    assert sum(counted.values()) >= 10, counted
    assert counted["bulletproof.errors"] > 0


# -- README: Emit events from your app -----------------------------------------------------------

EMIT_PROJECT = """\
[project]
name = "myapp"
version = "0.0.1"

[tool.bulletproof]
service_name = "myapp"

[tool.bulletproof.events]
spool_dir = ".bulletproof/spool"
sinks = ["file:events.jsonl"]
"""


def _emit_code() -> str:
    return code_block(readme_section("Emit events from your app"), "python")


def _check_delivered(directory: Path, lost: str = "the event was not delivered") -> None:
    path = directory / "events.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    docs = [json.loads(line) for line in lines]
    logins = [d for d in docs if d["event"]["action"] == "login_failed"]
    assert len(logins) == 1, f"{lost}: {docs}"
    (doc,) = logins
    assert doc["bulletproof"]["category"] == "auth"
    assert doc["bulletproof"]["severity"] == "medium"
    assert doc["source"]["ip"] == "203.0.113.9"
    assert doc["user"]["name"] == "alice"


def test_readme_emit_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("BULLETPROOF_")]:
        monkeypatch.delenv(key)
    (tmp_path / "pyproject.toml").write_text(EMIT_PROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme_example"}
    exec(compile(_emit_code(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    pipeline = namespace["pipeline"]
    from bulletproof.events.pipeline import EventPipeline

    assert isinstance(pipeline, EventPipeline)
    try:
        assert pipeline.drain(10), "the README example's event was not delivered"
    finally:
        pipeline.close()
    _check_delivered(tmp_path)


def test_readme_emit_example_as_a_script_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run the block as a program that ends right after ``emit``: the event must not be lost.

    It is either delivered before the program exits or kept in the spool and delivered by the
    next start of a pipeline on the same config.
    """
    (tmp_path / "pyproject.toml").write_text(EMIT_PROJECT, encoding="utf-8")
    (tmp_path / "app.py").write_text(_emit_code(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
    done = subprocess.run(
        [sys.executable, "app.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for key in [k for k in os.environ if k.startswith("BULLETPROOF_")]:
        monkeypatch.delenv(key)
    from bulletproof.config import build_pipeline, load_config

    restarted = build_pipeline(load_config(tmp_path, env={})).start()
    try:
        restarted.drain(10)
    finally:
        restarted.close()
    _check_delivered(
        tmp_path,
        "the README example's event was lost when the program exited right after emit(): it "
        "never reached the spool (the pipeline must flush to its spool at interpreter exit)",
    )


# -- README: Configure ---------------------------------------------------------------------------


def test_readme_config_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bulletproof.config import load_config

    toml = code_block(readme_section("Configure"), "toml")
    (tmp_path / "pyproject.toml").write_text(
        f'[project]\nname = "shop"\nversion = "0.0.1"\n\n{toml}', encoding="utf-8"
    )
    env = {
        "LOG_TOKEN": "t",
        "SMTP_PASSWORD": "p",
        "TWILIO_TOKEN": "w",
        "SLACK_HOOK_PATH": "T0/B0/x",
    }
    config = load_config(tmp_path, env=env)
    assert len(config.events.sinks) == 4
    assert {n.name for n in config.alerts.notifiers} == {"oncall", "pager", "chat"}


# -- README: Command line ------------------------------------------------------------------------


def _leaf_commands(group: click.Group, prefix: str = "") -> dict[str, click.Command]:
    out: dict[str, click.Command] = {}
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            out.update(_leaf_commands(command, f"{prefix}{name} "))
        else:
            out[f"{prefix}{name}"] = command
    return out


def _readme_commands() -> dict[str, str]:
    """``{"events tail": "<the rest of its README line>"}`` from the Command line block."""
    block = code_block(readme_section("Command line"), "text")
    commands = _leaf_commands(cli)
    found: dict[str, str] = {}
    for line in block.splitlines():
        if not line.startswith("bulletproof "):
            continue
        words = line.split()[1:]
        name = " ".join(words[:2]) if " ".join(words[:2]) in commands else words[0]
        assert name in commands, f"README lists 'bulletproof {name}', which the CLI lacks"
        found[name] = line
    return found


def test_readme_lists_every_command() -> None:
    documented = _readme_commands()
    assert set(documented) == set(_leaf_commands(cli))


def test_readme_options_exist() -> None:
    commands = _leaf_commands(cli)
    for name, line in _readme_commands().items():
        opts = {opt for p in commands[name].params for opt in getattr(p, "opts", [])}
        for option in re.findall(r"--[a-z][a-z-]*", line):
            assert option in opts, f"README: 'bulletproof {name}' has no option {option}"
        args = [p.name.upper() for p in commands[name].params if isinstance(p, click.Argument)]
        for arg in args:
            assert re.search(rf"\b{arg}\b", line), f"README: 'bulletproof {name}' lacks {arg}"
