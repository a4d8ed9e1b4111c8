"""``bulletproof routes APP``: the table, the JSON, and the exit codes (0 clean, 1 findings,
2 an app path that cannot be loaded)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pytest
from tests.cli.test_cli_main import clean_env, invoke, run_script

from bulletproof.cli import cli

APPS = Path(__file__).resolve().parents[1] / "routes" / "apps"

ROUTES_JSON = {
    "type": "object",
    "required": ["framework", "middleware_installed", "routes", "findings"],
    "additionalProperties": False,
    "properties": {
        "framework": {"enum": ["flask", "django", "starlette", "fastapi"]},
        "middleware_installed": {"type": "boolean"},
        "findings": {"type": "array", "items": {"type": "string"}},
        "routes": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["path", "methods", "endpoint", "auth", "auth_evidence", "covered"],
                "properties": {
                    "path": {"type": "string"},
                    "methods": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "endpoint": {"type": "string"},
                    "auth": {"enum": ["required", "none", "unknown"]},
                    "auth_evidence": {"type": "string"},
                    "covered": {"type": "boolean"},
                },
            },
        },
    },
}


@pytest.fixture
def in_apps(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from the test apps' directory, as a user runs from their project."""
    clean_env(monkeypatch)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(APPS)
    return APPS


def test_the_command_is_registered() -> None:
    assert "routes" in cli.commands


@pytest.mark.usefixtures("in_apps")
def test_table_with_findings_exits_1() -> None:
    run = invoke("routes", "bp_flask_shop:app")
    assert run.exit_code == 1, run.text
    lines = run.stdout.splitlines()
    assert lines[0] == "framework: flask    header middleware: installed (covers every route)"
    assert lines[1].split() == ["METHODS", "PATH", "AUTH", "HEADERS", "ENDPOINT", "EVIDENCE"]
    assert ["POST", "/comments", "none", "yes", "comment", "no", "login_required"] in [
        line.split() for line in lines
    ]
    assert lines[-2:] == [
        "11 routes, 1 findings:",
        "  - POST /comments (comment) changes state (POST) and requires no authentication: "
        "protect it with flask_login.login_required",
    ]
    assert run.stderr == ""


@pytest.mark.usefixtures("in_apps")
def test_json_follows_the_contract() -> None:
    run = invoke("routes", "bp_fastapi_api:app", "--format", "json")
    assert run.exit_code == 1, run.text
    data = json.loads(run.stdout)
    jsonschema.validate(data, ROUTES_JSON)
    assert data["framework"] == "fastapi"
    assert {"path": "/me", "auth": "required"}.items() <= next(
        r for r in data["routes"] if r["path"] == "/me"
    ).items()
    assert len(data["findings"]) == 3


@pytest.mark.usefixtures("in_apps")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_clean_app_exits_0(fmt: str) -> None:
    run = invoke("routes", "bp_flask_shop:clean", "--format", fmt)
    assert run.exit_code == 0, run.text
    if fmt == "json":
        assert json.loads(run.stdout)["findings"] == []
    else:
        assert run.stdout.splitlines()[-1] == "3 routes, no findings"


@pytest.mark.usefixtures("in_apps")
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "bp_nothing_here:app",
            "app path 'bp_nothing_here:app': no module named 'bp_nothing_here' in",
        ),
        (
            "bp_flask_shop:ap",
            "app path 'bp_flask_shop:ap': module 'bp_flask_shop' has no attribute 'ap'. "
            "Did you mean 'app'?",
        ),
        (
            "bp_flask_shop:create_app",
            "builtins.function is not a Flask, Django, Starlette or FastAPI app",
        ),
        ("bp_flask_shop:", "app path 'bp_flask_shop:' is not valid"),
    ],
)
def test_an_app_path_that_cannot_be_loaded_exits_2(spec: str, message: str) -> None:
    run = invoke("routes", spec)
    assert run.exit_code == 2, run.text
    assert run.stdout == ""
    assert run.stderr.startswith(f"bulletproof: error: {message}")
    assert len(run.stderr.splitlines()) == 1


def test_help_names_the_exit_codes() -> None:
    run = invoke("routes", "--help")
    assert run.exit_code == 0
    assert "Exit 0 when clean, 1 with findings, 2 when APP cannot be loaded." in run.stdout


def test_the_console_script_on_a_django_project() -> None:
    # A real process: Django is configured from the settings module named on the command line.
    run = run_script("routes", "bp_django_site.settings", "--format", "json", cwd=APPS)
    assert run.exit_code == 1, run.text
    data = json.loads(run.stdout)
    jsonschema.validate(data, ROUTES_JSON)
    assert data["framework"] == "django"
    assert data["middleware_installed"] is True
    assert len(data["routes"]) == 49
