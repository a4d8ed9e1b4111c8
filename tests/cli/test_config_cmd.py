"""``bulletproof config show``: the effective configuration, secrets masked."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.cli.test_cli_main import clean_env, invoke, make_project, run_script

SECRETS = {
    "LOG_TOKEN": "tok-9f8e7d6c5b4a",
    "SMTP_PASSWORD": "pw-Zq81xLm02",
    "TWILIO_TOKEN": "tw-55aa66bb77cc",
    "SLACK_HOOK_PATH": "T000/B000/slacksecret42",
}

PROJECT = """\
[tool.bulletproof]
service_name = "shop"

[tool.bulletproof.events]
spool_dir = ".bulletproof/spool"
durability_lag = "100ms"
sinks = [
  "file:.bulletproof/events.jsonl",
  { url = "https://logs.example.com/ingest", headers = { Authorization = "Bearer ${LOG_TOKEN}" } },
]

[tool.bulletproof.alerts.notifiers]
oncall = "smtp://alerts:${SMTP_PASSWORD}@smtp.example.com:587?from=bp@example.com&to=ops@example.com"
pager = "sms+twilio://AC0123456789abcdef:${TWILIO_TOKEN}@api.twilio.com?from=+15550001111&to=+15550002222"
chat = "webhook+https://hooks.slack.com/services/${SLACK_HOOK_PATH}"

[[tool.bulletproof.alerts.rules]]
name = "brute-force"
categories = ["auth"]
actions = ["login_failed"]
threshold = 5
within = "60s"
group_by = "source.ip"
cooldown = "10m"
notify = ["oncall", "pager", "chat"]
"""


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clean_env(monkeypatch)
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    directory = make_project(tmp_path / "shop", PROJECT)
    monkeypatch.chdir(directory)
    return directory


def assert_no_secret(*outputs: str) -> None:
    for out in outputs:
        for name, value in SECRETS.items():
            assert value not in out, f"secret {name} leaked:\n{out}"
            # No recognizable piece of it either (a prefix or suffix cut by masking).
            assert value[-6:] not in out, f"part of secret {name} leaked:\n{out}"


def test_show_text_masks_secrets(project: Path) -> None:
    run = invoke("config", "show")
    assert run.exit_code == 0, run.text
    assert_no_secret(run.stdout, run.stderr)
    assert "shop" in run.stdout
    assert "file:.bulletproof/events.jsonl" in run.stdout
    assert "https://logs.example.com/ingest" in run.stdout
    assert "brute-force" in run.stdout
    for name in ("oncall", "pager", "chat"):
        assert name in run.stdout
    assert "${SMTP_PASSWORD}" in run.stdout  # the documented form: the variable, not its value


def test_show_json_masks_secrets_and_is_complete(project: Path) -> None:
    run = invoke("config", "show", "--format", "json")
    assert run.exit_code == 0, run.text
    assert_no_secret(run.stdout, run.stderr)
    data = json.loads(run.stdout)
    assert isinstance(data, dict)
    blob = json.dumps(data)
    assert "shop" in blob
    assert "logs.example.com" in blob
    assert "hooks.slack.com" in blob
    assert "brute-force" in blob
    assert "${LOG_TOKEN}" in blob


def test_show_resolves_environment_overrides(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BULLETPROOF_SERVICE_NAME", "shop-staging")
    run = invoke("config", "show", "--format", "json")
    assert run.exit_code == 0, run.text
    assert "shop-staging" in run.stdout
    assert_no_secret(run.stdout)


def test_show_as_a_real_process(project: Path) -> None:
    # run_script drops BULLETPROOF_* but keeps the secrets set by the fixture.
    run = run_script("config", "show", cwd=project)
    assert run.exit_code == 0, run.text
    assert_no_secret(run.stdout, run.stderr)
    assert "brute-force" in run.stdout


def test_missing_secret_variable_is_a_clear_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SMTP_PASSWORD")
    run = invoke("config", "show")
    assert run.exit_code == 2, run.text
    assert "SMTP_PASSWORD" in run.stderr
    assert_no_secret(run.stdout, run.stderr)


def test_literal_password_in_the_file_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch)
    directory = make_project(
        tmp_path / "app",
        '[tool.bulletproof.alerts.notifiers]\noncall = "smtp://alerts:'
        + SECRETS["SMTP_PASSWORD"]
        + '@smtp.example.com:587?from=a@example.com&to=b@example.com"\n',
    )
    monkeypatch.chdir(directory)
    run = invoke("config", "show")
    assert run.exit_code == 2, run.text
    assert run.stderr.startswith("bulletproof: error: ")
    assert "${" in run.stderr  # says how to fix it: take it from the environment
    assert_no_secret(run.stdout, run.stderr)


def test_unknown_key_exits_2_with_did_you_mean(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch)
    directory = make_project(tmp_path / "app", '[tool.bulletproof]\nservice_nme = "x"\n')
    monkeypatch.chdir(directory)
    run = invoke("config", "show", "--format", "json")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "service_nme" in run.stderr
    assert "Did you mean 'service_name'?" in run.stderr
    assert "pyproject.toml" in run.stderr  # names the file


def test_broken_toml_exits_2_naming_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clean_env(monkeypatch)
    directory = tmp_path / "app"
    directory.mkdir()
    (directory / "pyproject.toml").write_text("[tool.bulletproof\nservice_name = 1\n")
    monkeypatch.chdir(directory)
    run = invoke("config", "show")
    assert run.exit_code == 2
    assert "pyproject.toml" in run.stderr


def _directory_as_config(directory: Path) -> None:
    (directory / "bulletproof.toml").mkdir(parents=True)


def _fifo_as_config(directory: Path) -> None:
    directory.mkdir()
    os.mkfifo(directory / "pyproject.toml")  # nobody writes to it: reading it would wait


def _deep_project(directory: Path) -> None:
    make_project(directory, "[tool.bulletproof.headers]\nx = " + "[" * 5000 + "]" * 5000 + "\n")


def _events_project(body: str) -> Callable[[Path], object]:
    return lambda directory: make_project(directory, f"[tool.bulletproof.events]\n{body}\n")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param(
            _directory_as_config,
            "bulletproof.toml' is a directory; it must be a regular file",
            id="directory",
        ),
        pytest.param(
            _fifo_as_config,
            "pyproject.toml' is a FIFO (named pipe); it must be a regular file",
            id="fifo",
        ),
        pytest.param(_deep_project, "pyproject.toml: nested too deeply: ", id="nesting"),
        pytest.param(
            _events_project('sinks = ["syslog+tcp://h:0"]'),
            "'syslog+tcp://h:0' is malformed: port 0 is out of range; use a port from 1 to 65535",
            id="port",
        ),
        pytest.param(
            _events_project('spool_max_bytes = "99999999999999999999999999TiB"'),
            "is out of range: use a size from 0 to 1024TiB (1125899906842624 bytes)",
            id="size",
        ),
        pytest.param(
            _events_project('durability_lag = "' + "1" * 10_000 + '"'),
            "is out of range: use a duration from 0 to 365d (31536000 seconds).",
            id="duration",
        ),
        pytest.param(
            _events_project("max_pending = " + str(10**30)),
            "is out of range: use from 1 to 10000000",
            id="whole-number",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    setup: Callable[[Path], object],
    expected: str,
) -> None:
    clean_env(monkeypatch)
    directory = tmp_path / "app"
    setup(directory)
    monkeypatch.chdir(directory)
    run = invoke("config", "show")  # invoke() fails the test on any traceback
    assert run.exit_code == 2, run.text
    assert run.stdout == ""
    assert run.stderr.startswith("bulletproof: error: ")
    assert run.stderr.count("\n") == 1, run.stderr  # one line
    assert expected in run.stderr
