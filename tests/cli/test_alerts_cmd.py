"""``bulletproof alerts test RULE`` against a real local webhook server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.test_cli_main import clean_env, invoke, make_project
from tests.sinks.httpserver import RecordingHTTPServer, free_port


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def server() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as srv:
        yield srv


def alert_project(directory: Path, hook_port: int, *, extra_notifier: str = "") -> Path:
    return make_project(
        directory,
        f"""\
[tool.bulletproof]
service_name = "demo"

[tool.bulletproof.events]
spool_dir = ".bulletproof/spool"
sinks = ["file:.bulletproof/events.jsonl"]

[tool.bulletproof.alerts.notifiers]
hook = {{ url = "webhook+http://127.0.0.1:{hook_port}/hooks/alerts", timeout = 5 }}
{extra_notifier}

[[tool.bulletproof.alerts.rules]]
name = "brute-force"
categories = ["auth"]
actions = ["login_failed"]
threshold = 5
within = "60s"
group_by = "source.ip"
notify = ["hook"{", 'second'" if extra_notifier else ""}]
""",
    )


def test_sends_one_request_and_exits_0(tmp_path: Path, server: RecordingHTTPServer) -> None:
    project = alert_project(tmp_path / "app", server.port)
    run = invoke("--config", str(project), "alerts", "test", "brute-force")
    assert run.exit_code == 0, run.text
    assert run.stdout.splitlines() == ["ok   hook"]
    requests = server.requests
    assert len(requests) == 1
    request = requests[0]
    assert request.method == "POST"
    assert request.path == "/hooks/alerts"
    body = json.loads(request.body)
    assert body["bulletproof"]["rule"] == "brute-force"
    assert body["bulletproof"]["category"] == "auth"
    assert body["bulletproof"]["action"] == "login_failed"
    assert "test alert for rule brute-force" in body["text"]


def test_json_output(tmp_path: Path, server: RecordingHTTPServer) -> None:
    project = alert_project(tmp_path / "app", server.port)
    run = invoke("--config", str(project), "alerts", "test", "brute-force", "--format", "json")
    assert run.exit_code == 0, run.text
    assert json.loads(run.stdout) == {
        "rule": "brute-force",
        "notifiers": [{"name": "hook", "error": None}],
    }
    assert len(server.requests) == 1


def test_server_down_exits_3_naming_the_notifier(tmp_path: Path) -> None:
    port = free_port()
    project = alert_project(tmp_path / "app", port)
    run = invoke("--config", str(project), "alerts", "test", "brute-force")
    assert run.exit_code == 3, run.text
    (line,) = run.stdout.splitlines()
    assert line.startswith("FAIL hook: ")
    assert f"127.0.0.1:{port}" in line
    as_json = invoke("--config", str(project), "alerts", "test", "brute-force", "--format", "json")
    assert as_json.exit_code == 3
    (result,) = json.loads(as_json.stdout)["notifiers"]
    assert result["name"] == "hook"
    assert result["error"]


def test_one_failing_notifier_of_two_exits_3(tmp_path: Path, server: RecordingHTTPServer) -> None:
    port = free_port()
    project = alert_project(
        tmp_path / "app",
        server.port,
        extra_notifier=f'second = "webhook+http://127.0.0.1:{port}/down"',
    )
    run = invoke("--config", str(project), "alerts", "test", "brute-force")
    assert run.exit_code == 3, run.text
    lines = run.stdout.splitlines()
    assert lines[0] == "ok   hook"
    assert lines[1].startswith("FAIL second: ")
    assert len(server.requests) == 1


def test_webhook_error_status_exits_3(tmp_path: Path, server: RecordingHTTPServer) -> None:
    server.reply(500, b"boom")
    project = alert_project(tmp_path / "app", server.port)
    run = invoke("--config", str(project), "alerts", "test", "brute-force")
    assert run.exit_code == 3
    assert run.stdout.startswith("FAIL hook: ")
    assert "HTTP 500" in run.stdout


def test_unknown_rule_exits_2_with_did_you_mean(
    tmp_path: Path, server: RecordingHTTPServer
) -> None:
    project = alert_project(tmp_path / "app", server.port)
    run = invoke("--config", str(project), "alerts", "test", "brute-forse")
    assert run.exit_code == 2, run.text
    assert run.stdout == ""
    assert "unknown alert rule 'brute-forse'" in run.stderr
    assert "Did you mean 'brute-force'?" in run.stderr
    assert server.requests == []


def test_no_rules_configured_exits_2(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app",
        '[tool.bulletproof]\nservice_name = "demo"\n\n[tool.bulletproof.alerts.notifiers]\n'
        'hook = "webhook+http://127.0.0.1:9/x"\n',
    )
    run = invoke("--config", str(project), "alerts", "test", "brute-force")
    assert run.exit_code == 2, run.text
    assert "brute-force" in run.stderr
    assert "no alert rules are configured" in run.stderr
    assert "[[tool.bulletproof.alerts.rules]]" in run.stderr


def test_rule_naming_an_undefined_notifier_is_a_config_error(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app",
        '[[tool.bulletproof.alerts.rules]]\nname = "r"\nnotify = ["pagr"]\n\n'
        '[tool.bulletproof.alerts.notifiers]\npager = "webhook+http://127.0.0.1:9/x"\n',
    )
    run = invoke("--config", str(project), "alerts", "test", "r")
    assert run.exit_code == 2, run.text
    assert "pagr" in run.stderr
    assert "Did you mean 'pager'?" in run.stderr
