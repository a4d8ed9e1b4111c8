"""bulletproof.config: files, environment, arguments, interpolation, secrets, and building.

Every test passes ``env=`` explicitly and never reads or changes ``os.environ``.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest

from bulletproof._units import parse_duration
from bulletproof.config import (
    Config,
    SinkConfig,
    build_alert_engine,
    build_pipeline,
    build_sinks,
    config_as_dict,
    load_config,
    pipeline_options,
)
from bulletproof.errors import ConfigError
from bulletproof.events.alerts import AlertEngine
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.sinks._file import FileSink

CASES = Path(__file__).parent / "cases" / "config"
SECRETS = {
    "LOG_TOKEN": "log-token-0123456789",
    "SMTP_PASSWORD": "smtp-pw-9876543210",
    "TWILIO_TOKEN": "twilio-token-abcdef",
}


def write(directory: Path, text: str, name: str = "bulletproof.toml") -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load(directory: Path, text: str, *, env: dict[str, str] | None = None, **kw: Any) -> Config:
    """Write ``text`` as ``bulletproof.toml`` in ``directory`` and load it."""
    write(directory, text)
    return load_config(directory, env=env or {}, **kw)


def error(directory: Path, text: str, *, env: dict[str, str] | None = None, **kw: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(directory, text, env=env, **kw)
    return str(info.value)


# --------------------------------------------------------------------------------------------
# Finding the file; defaults; precedence
# --------------------------------------------------------------------------------------------


def test_defaults_without_any_config(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, env={})
    assert cfg.source == "defaults"
    assert cfg.root == tmp_path.resolve()
    assert cfg.service_name == tmp_path.name
    ev = cfg.events
    assert ev.spool_dir == tmp_path.resolve() / ".bulletproof" / "spool"
    assert (ev.spool_max_bytes, ev.segment_bytes) == (256 * 1024 * 1024, 8 * 1024 * 1024)
    assert (ev.durability_lag, ev.fsync, ev.max_pending, ev.backoff_max) == (0.1, True, 100_000, 10)
    assert (ev.redact_fields, ev.max_field_chars) == ((), 8192)
    assert [s.display for s in ev.sinks] == ["file:.bulletproof/events.jsonl"]
    assert cfg.alerts.notifiers == ()
    assert cfg.alerts.rules == ()
    [sink] = build_sinks(cfg)
    assert isinstance(sink, FileSink)
    assert sink.path == tmp_path.resolve() / ".bulletproof" / "events.jsonl"


def test_pyproject_without_table_gives_defaults_named_after_the_project(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "shop"\n[tool.ruff]\nline-length = 100\n', "pyproject.toml")
    cfg = load_config(tmp_path, env={})
    assert (cfg.source, cfg.service_name) == ("defaults", "shop")


def test_pyproject_table_full_example(tmp_path: Path) -> None:
    shutil.copy(CASES / "pyproject.toml", tmp_path / "pyproject.toml")
    cfg = load_config(tmp_path, env=SECRETS)
    root = tmp_path.resolve()
    assert cfg.source == f"{tmp_path}/pyproject.toml [tool.bulletproof]"
    assert cfg.service_name == "shop-api"
    ev = cfg.events
    assert ev.spool_dir == root / ".bulletproof/spool"
    assert (ev.spool_max_bytes, ev.segment_bytes) == (256 * 1024 * 1024, 4194304)
    assert (ev.durability_lag, ev.fsync, ev.max_pending, ev.backoff_max) == (0.1, False, 5000, 30)
    assert (ev.redact_fields, ev.max_field_chars) == (("ssn",), 4096)
    file_sink, http_sink = ev.sinks
    assert file_sink.url == file_sink.display == "file:logs/events.jsonl"
    assert http_sink.options["headers"]["Authorization"] == f"Bearer {SECRETS['LOG_TOKEN']}"
    assert http_sink.options["timeout"] == 5
    assert http_sink.display_options["headers"]["Authorization"] == "Bearer ${LOG_TOKEN}"
    assert isinstance(build_sinks(cfg)[0], FileSink)
    assert build_sinks(cfg)[0].path == root / "logs/events.jsonl"  # type: ignore[attr-defined]
    oncall, pager = cfg.alerts.notifiers
    assert oncall.name == "oncall"
    assert oncall.display.startswith("smtp://alerts:${SMTP_PASSWORD}@smtp.example.com")
    assert SECRETS["SMTP_PASSWORD"] in oncall.url
    assert pager.display.startswith("sms+twilio://AC123:${TWILIO_TOKEN}@")

    brute, critical = cfg.alerts.rules
    assert brute.name == "brute-force"
    assert brute.categories == frozenset({Category.AUTH})
    assert brute.actions == frozenset({"login_failed"})
    assert brute.min_severity is Severity.MEDIUM
    assert (brute.threshold, brute.within, brute.cooldown) == (5, 60.0, 600.0)
    assert (brute.group_by, brute.notify) == ("source.ip", ("oncall", "pager"))
    assert (critical.min_severity, critical.threshold, critical.cooldown) == (
        Severity.CRITICAL,
        1,
        300.0,
    )


def test_bulletproof_toml_top_level_keys_and_file_path(tmp_path: Path) -> None:
    conf = tmp_path / "deploy"
    path = write(
        conf,
        """
        service_name = "billing"
        [events]
        spool_dir = "spool"
        sinks = ["file:out/events.jsonl", "stdout:"]
        """,
        "prod.toml",
    )
    cfg = load_config(path, env={})
    assert cfg.source == str(path)
    assert cfg.root == conf.resolve()
    assert cfg.service_name == "billing"
    assert cfg.events.spool_dir == conf.resolve() / "spool"
    assert [s.display for s in cfg.events.sinks] == ["file:out/events.jsonl", "stdout:"]
    assert build_sinks(cfg)[0].path == conf.resolve() / "out/events.jsonl"  # type: ignore[attr-defined]


def test_bulletproof_toml_wins_over_pyproject(tmp_path: Path) -> None:
    """When both exist, bulletproof.toml is used and the source says the table was ignored."""
    write(
        tmp_path,
        '[project]\nname = "proj"\n[tool.bulletproof]\nservice_name = "from-pyproject"\n',
        "pyproject.toml",
    )
    write(tmp_path, "[events]\nmax_pending = 7\n")
    cfg = load_config(tmp_path, env={})
    assert cfg.events.max_pending == 7
    assert cfg.service_name == "proj"  # the default still comes from [project].name
    assert cfg.source.startswith(f"{tmp_path}/bulletproof.toml")
    assert "[tool.bulletproof] ignored" in cfg.source


def test_explicit_pyproject_path(tmp_path: Path) -> None:
    path = write(tmp_path, '[tool.bulletproof]\nservice_name = "x"\n', "pyproject.toml")
    assert load_config(path, env={}).service_name == "x"
    plain = write(tmp_path / "other", '[project]\nname = "y"\n', "pyproject.toml")
    assert load_config(plain, env={}).source == "defaults"


def test_config_from_env_variable_then_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "a", 'service_name = "from-env-path"\n')
    write(tmp_path / "b", 'service_name = "from-cwd"\n')
    monkeypatch.chdir(tmp_path / "b")
    assert load_config(env={"BULLETPROOF_CONFIG": str(path)}).service_name == "from-env-path"
    cfg = load_config(env={})
    assert cfg.service_name == "from-cwd"
    assert cfg.source == "bulletproof.toml"
    with pytest.raises(ConfigError, match="BULLETPROOF_CONFIG"):
        load_config(env={"BULLETPROOF_CONFIG": str(tmp_path / "missing")})


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml.*does not exist"):
        load_config(tmp_path / "missing.toml", env={})


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    msg = error(tmp_path, 'service_name = "x"\n[events]\nmax_pending = \n')
    assert f"{tmp_path}/bulletproof.toml, line 3" in msg
    assert "TOML syntax error" in msg
    write(tmp_path / "p", "[tool.bulletproof\n", "pyproject.toml")
    with pytest.raises(ConfigError, match=r"pyproject\.toml, line 1"):
        load_config(tmp_path / "p", env={})


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bulletproof.toml").write_bytes(b'service_name = "caf\xe9"\n')
    with pytest.raises(ConfigError, match=r"bulletproof\.toml: not UTF-8 text .*save it as UTF-8"):
        load_config(tmp_path, env={})
    msg = error(tmp_path, "[events]\nsinks = [\n")
    assert msg.startswith(f"{tmp_path}/bulletproof.toml: TOML syntax error: ")


def test_tool_bulletproof_must_be_a_table(tmp_path: Path) -> None:
    write(tmp_path, "[tool]\nbulletproof = 3\n", "pyproject.toml")
    with pytest.raises(ConfigError, match=r"tool\.bulletproof is a whole number; expected a table"):
        load_config(tmp_path, env={})


def _config_error(path: Path | None, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env=env or {})
    return str(info.value)


@pytest.mark.parametrize("name", ["bulletproof.toml", "pyproject.toml"])
def test_config_file_that_is_a_directory_is_an_error(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    msg = _config_error(tmp_path)  # found in the project directory: not silently skipped
    assert f"config file '{tmp_path / name}' is a directory; it must be a regular file" in msg
    assert "\n" not in msg
    msg = _config_error(tmp_path / name)  # given directly: not taken for a project directory
    assert f"config path '{tmp_path / name}' is a directory holding neither" in msg
    assert "a config file must be a regular file" in msg
    msg = _config_error(None, {"BULLETPROOF_CONFIG": str(tmp_path)})
    assert f"'{tmp_path / name}' (from BULLETPROOF_CONFIG) is a directory; it must be" in msg


@pytest.mark.parametrize("name", ["bulletproof.toml", "pyproject.toml"])
def test_config_file_that_is_a_fifo_is_an_error_without_waiting(tmp_path: Path, name: str) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)  # nobody writes to it: opening it to read would wait for ever
    expected = f"config file '{fifo}' is a FIFO (named pipe); it must be a regular file"
    assert expected in _config_error(tmp_path)
    assert expected in _config_error(fifo)
    env_msg = _config_error(None, {"BULLETPROOF_CONFIG": str(fifo)})
    assert f"'{fifo}' (from BULLETPROOF_CONFIG) is a FIFO (named pipe)" in env_msg


def test_other_non_regular_config_files_are_errors(tmp_path: Path) -> None:
    if Path(os.devnull).exists() and os.name == "posix":
        msg = _config_error(Path(os.devnull))
        assert f"config file '{os.devnull}' is a character device; it must be a regular" in msg
    (tmp_path / "bulletproof.toml").symlink_to(tmp_path / "gone.toml")
    msg = _config_error(tmp_path)
    assert f"'{tmp_path}/bulletproof.toml' is a symbolic link to a missing file" in msg
    # A regular file reached through a link is fine.
    write(tmp_path / "real", 'service_name = "linked"\n')
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "bulletproof.toml").symlink_to(tmp_path / "real" / "bulletproof.toml")
    assert load_config(tmp_path / "linked", env={}).service_name == "linked"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("a = " + "[" * 5000 + "]" * 5000 + "\n", "", id="arrays"),
        pytest.param("a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n", "", id="inline-tables"),
        pytest.param("a = " + "[{b = " * 2500 + "1" + "}]" * 2500 + "\n", "", id="mixed"),
        pytest.param("[headers]\nx = " + "[" * 65 + "]" * 65 + "\n", "", id="just-too-deep"),
        pytest.param("[headers]\n" + "a." * 5000 + "a = 1\n", ", line 2", id="dotted-key"),
        pytest.param("[" + ".".join(['"a"'] * 5000) + "]\n", ", line 1", id="table-header"),
        pytest.param("x = { " + "a . " * 5000 + "a = 1 }\n", ", line 1", id="inline-dotted"),
        pytest.param(
            "[" + ".".join(["t"] * 40) + "]\n" + ".".join(["k"] * 30) + " = 1\n", "", id="tables"
        ),
    ],
)
def test_deeply_nested_toml_is_a_one_line_error(tmp_path: Path, text: str, where: str) -> None:
    msg = error(tmp_path, text)
    assert msg.startswith(f"{tmp_path}/bulletproof.toml{where}: nested too deeply: ")
    assert "may nest at most 64 levels; flatten the structure" in msg
    assert "\n" not in msg


def test_nesting_up_to_the_limit_reaches_the_usual_checks(tmp_path: Path) -> None:
    msg = error(tmp_path, "a = " + "[" * 64 + "]" * 64 + "\n")
    assert "unknown key 'a'" in msg
    msg = error(tmp_path, "[headers]\n" + "a." * 63 + "a = 1\n")
    assert "nested too deeply" not in msg
    msg = error(tmp_path, "[headers]\n" + "a." * 64 + "a = 1\n")  # 65 parts
    assert "nested too deeply" in msg


def test_deeply_nested_json_from_the_environment_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"SINKS\[0\] = \[\.\.\.\] \(1 items\) is a list"):
        load_config(tmp_path, env={"BULLETPROOF_EVENTS__SINKS": "[" * 64 + "]" * 64})
    for depth in (65, 5000, 100_000):
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path, env={"BULLETPROOF_EVENTS__SINKS": "[" * depth + "]" * depth})
        assert str(info.value) == (
            "environment variable BULLETPROOF_EVENTS__SINKS: nested too deeply: tables and arrays "
            "(inline tables included) may nest at most 64 levels; flatten the structure "
            "(bulletproof's settings need only a few)."
        )
    cycle: list[object] = []
    cycle.append(cycle)
    with pytest.raises(ConfigError, match=r"^argument 'events\.sinks': nested too deeply"):
        load_config(tmp_path, env={}, overrides={"events.sinks": cycle})


def test_number_with_too_many_digits_is_an_error_naming_the_file(tmp_path: Path) -> None:
    msg = error(tmp_path, "[events]\nmax_pending = " + "9" * 5000 + "\n")
    assert msg.startswith(f"{tmp_path}/bulletproof.toml: a number has too many digits")
    assert "write a sensible value" in msg
    assert "set_int_max_str_digits" not in msg


# --------------------------------------------------------------------------------------------
# Layers: environment over file, arguments over environment
# --------------------------------------------------------------------------------------------


def test_env_overrides_file_and_arguments_override_env(tmp_path: Path) -> None:
    text = '[events]\nspool_dir = "from-file"\nmax_pending = 10\n'
    env = {"BULLETPROOF_EVENTS__SPOOL_DIR": "from-env", "BULLETPROOF_EVENTS__MAX_PENDING": "20"}
    cfg = load(tmp_path, text, env=env)
    assert cfg.events.spool_dir == tmp_path.resolve() / "from-env"
    assert cfg.events.max_pending == 20
    assert cfg.source.endswith("bulletproof.toml + environment")

    cfg = load(tmp_path, text, env=env, overrides={"events.spool_dir": "/abs/from-arg"})
    assert cfg.events.spool_dir == Path("/abs/from-arg")
    assert cfg.events.max_pending == 20
    assert cfg.source.endswith("bulletproof.toml + environment + arguments")

    cfg = load(tmp_path, text, overrides={"events.max_pending": 30, "service_name": None})
    assert cfg.events.max_pending == 30
    assert cfg.source.endswith("bulletproof.toml + arguments")


def test_arguments_sinks_and_string_coercion(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        "",
        env={"BULLETPROOF_EVENTS__SINKS": "stdout:"},
        overrides={
            "events.sinks": ["file:a.jsonl", {"url": "file:b.jsonl"}],
            "events.fsync": "false",
            "events.durability_lag": "250ms",
            "events.max_pending": "9",
        },
    )
    assert [s.display for s in cfg.events.sinks] == ["file:a.jsonl", "file:b.jsonl"]
    assert (cfg.events.fsync, cfg.events.durability_lag, cfg.events.max_pending) == (
        False,
        0.25,
        9,
    )


def test_argument_errors_name_the_argument(tmp_path: Path) -> None:
    msg = error(tmp_path, "", overrides={"events.sinsk": ["stdout:"]})
    assert "argument 'events.sinsk' is not a setting. Did you mean 'events.sinks'?" in msg
    msg = error(tmp_path, "", overrides={"events.spool_dir": 5})
    assert msg.startswith("argument events.spool_dir = 5 is a whole number; expected a path")


# --------------------------------------------------------------------------------------------
# Unknown keys and wrong types
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[tool.bulletproof]\nservce_name = "x"\n',
            "unknown key 'tool.bulletproof.servce_name' ('servce_name' in [tool.bulletproof])."
            " Did you mean 'service_name'?",
        ),
        (
            '[tool.bulletproof.events]\nsinsk = ["stdout:"]\n',
            "unknown key 'tool.bulletproof.events.sinsk' ('sinsk' in [tool.bulletproof.events])."
            " Did you mean 'sinks'?",
        ),
        (
            "[tool.bulletproof.alerts]\nrule = []\n",
            "unknown key 'tool.bulletproof.alerts.rule' ('rule' in [tool.bulletproof.alerts])."
            " Did you mean 'rules'?",
        ),
        (
            "[tool.bulletproof.headers]\nhstss = true\n",
            "[tool.bulletproof] headers: secure_headers: unknown option 'hstss'. "
            "Did you mean 'hsts'?",
        ),
        (
            "[tool.bulletproof.routes]\npublik = []\n",
            "unknown key 'tool.bulletproof.routes.publik' ('publik' in "
            "[tool.bulletproof.routes]). Did you mean 'public'?",
        ),
        (
            '[tool.bulletproof.alerts.notifiers]\nhook = "webhook+https://h.example.com/x"\n'
            '[[tool.bulletproof.alerts.rules]]\nname = "r"\nnotify = ["hook"]\nthreshhold = 2\n',
            "[tool.bulletproof.alerts] rules[0]: unknown key 'threshhold' in an alert rule."
            " Did you mean 'threshold'?",
        ),
        (
            "[tool.bulletproof.events]\n"
            'sinks = [{ url = "https://h.example.com/in", header = { X-A = "b" } }]\n',
            "[tool.bulletproof.events] sinks[0]: unknown option 'header' for a https: sink."
            " Did you mean 'headers'?",
        ),
        (
            '[tool.bulletproof.events]\nsinks = [{ url = "file:x.jsonl", rotate = "daily" }]\n',
            "sinks[0]: unknown option 'rotate': a file: sink takes no options beside its URL",
        ),
    ],
)
def test_unknown_keys_at_every_level(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text, "pyproject.toml")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_unknown_top_level_key_in_bulletproof_toml(tmp_path: Path) -> None:
    msg = error(tmp_path, "[evnets]\nfsync = false\n")
    assert "unknown key 'evnets' ('evnets' in the top level). Did you mean 'events'?" in msg
    assert (
        "Known keys there: service_name, app, check_path, headers, events, alerts, routes, "
        "shield, audit, run." in msg
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[events]\nmax_pending = "5"\n',
            "[events] max_pending = '5' is a string; expected a whole number. "
            "Write it without quotes.",
        ),
        (
            "[events]\nredact_fields = 5\n",
            "[events] redact_fields = 5 is a whole number; expected a list of strings.",
        ),
        ("service_name = true\n", "service_name = True is a boolean; expected a string."),
        ('[events]\nfsync = "yes"\n', "[events] fsync = 'yes' is a string; expected true or false"),
        ("[events]\nsinks = 5\n", "[events] sinks = 5 is a whole number; expected a list of sink"),
        (
            "[events]\nsinks = [5]\n",
            "[events] sinks[0] = 5 is a whole number; expected a sink URL (a string) or a table",
        ),
        ('[events]\nsinks = [{ path = "x" }]\n', "[events] sinks[0]: a sink table needs url ="),
        ("[events]\nspool_dir = 1.5\n", "[events] spool_dir = 1.5 is a number; expected a path"),
        ('[events]\nspool_dir = ""\n', "[events] spool_dir is empty or has a NUL character"),
        ("[events]\nsinks = [{ url = 5 }]\n", "[events] sinks[0].url = 5 is a whole number"),
        ('[events]\nredact_fields = ["a", 2]\n', "[events] redact_fields[1] = 2 is a whole number"),
        ("events = 3\n", "events is a whole number; expected a table ([events]"),
        ("[alerts]\nnotifiers = []\n", "[alerts] notifiers = [...] (0 items) is a list"),
        ("[alerts]\nrules = {}\n", "[alerts] rules = {...} is a table; expected a list of rule"),
        (
            '[alerts.notifiers]\nx = "webhook+https://h.example.com/x"\n'
            '[[alerts.rules]]\nname = "r"\nnotify = "x"\n',
            "[alerts] rules[0].notify = 'x' is a string; expected a list of strings.",
        ),
        (
            '[alerts.notifiers]\nx = "webhook+https://h.example.com/x"\n'
            '[[alerts.rules]]\nname = "r"\nnotify = ["x"]\nthreshold = 2.5\n',
            "[alerts] rules[0].threshold = 2.5 is a number; expected a whole number.",
        ),
    ],
)
def test_wrong_types_name_key_value_and_expected_type(
    tmp_path: Path, text: str, expected: str
) -> None:
    msg = error(tmp_path, text)
    assert expected in msg
    assert msg.startswith(f"{tmp_path}/bulletproof.toml: ")


# --------------------------------------------------------------------------------------------
# Durations and sizes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ('"100ms"', 0.1),
        ('"5s"', 5.0),
        ('"2m"', 120.0),
        ('"1h"', 3600.0),
        ('"1d"', 86400.0),
        ('"1.5s"', 1.5),
        ('"3"', 3.0),
        ("0.25", 0.25),
        ("2", 2.0),
    ],
)
def test_valid_durations(tmp_path: Path, written: str, seconds: float) -> None:
    cfg = load(tmp_path, f"[events]\ndurability_lag = {written}\n")
    assert cfg.events.durability_lag == pytest.approx(seconds)


@pytest.mark.parametrize("written", ['"5 parsecs"', '"-1s"', '"fast"', '"1h30m"', '""'])
def test_invalid_durations_show_accepted_forms(tmp_path: Path, written: str) -> None:
    msg = error(tmp_path, f"[events]\nbackoff_max = {written}\n")
    assert "[events] backoff_max = " in msg
    assert "is not a duration" in msg
    assert "'250ms', '5s', '2m', '1h' or '1d'" in msg


def test_duration_of_wrong_type_and_out_of_range(tmp_path: Path) -> None:
    msg = error(tmp_path, "[events]\ndurability_lag = true\n")
    assert "durability_lag = True is a boolean; expected a duration" in msg
    msg = error(tmp_path, "[events]\ndurability_lag = 0\n")
    assert "durability_lag = 0.0 is out of range: use more than 0s" in msg
    msg = error(tmp_path, '[events]\nbackoff_max = "10ms"\n')
    assert "backoff_max = 0.01 is out of range: use at least 100ms" in msg


def test_parse_duration_directly() -> None:
    assert parse_duration("250ms", "x") == 0.25
    assert parse_duration(" 2 M ", "x") == 120.0
    assert parse_duration(7, "x") == 7.0
    for bad in (float("nan"), float("inf"), -1, True, "1w"):
        with pytest.raises(ConfigError, match="is not a duration"):
            parse_duration(bad, "x")


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ('"256MiB"', 256 * 1024 * 1024),
        ('"1GB"', 10**9),
        ("33554432", 32 << 20),
        ('"64 mib"', 64 << 20),
    ],
)
def test_valid_sizes(tmp_path: Path, written: str, size: int) -> None:
    assert load(tmp_path, f"[events]\nspool_max_bytes = {written}\n").events.spool_max_bytes == size


@pytest.mark.parametrize("written", ['"lots"', '"1.5GB"', '"12 parsecs"', "-5"])
def test_invalid_sizes_show_accepted_forms(tmp_path: Path, written: str) -> None:
    msg = error(tmp_path, f"[events]\nspool_max_bytes = {written}\n")
    assert "[events] spool_max_bytes = " in msg
    assert ("is not a size" in msg and "'512KiB', '100MiB', '1GB'" in msg) or "negative" in msg


def test_size_ranges(tmp_path: Path) -> None:
    msg = error(tmp_path, "[events]\nsegment_bytes = 100\n")
    assert "segment_bytes = 100 is out of range: use at least 4KiB" in msg
    msg = error(tmp_path, '[events]\nspool_max_bytes = "10MiB"\nsegment_bytes = "8MiB"\n')
    assert "spool_max_bytes = 10485760 is out of range: use at least twice segment_bytes" in msg
    msg = error(tmp_path, '[events]\nsegment_bytes = "200MiB"\n')
    assert "[events] segment_bytes = '200MiB' is out of range: use at least twice" in msg
    msg = error(tmp_path, "[events]\nmax_field_chars = 8\n")
    assert "max_field_chars = 8 is out of range: use at least 16" in msg
    msg = error(tmp_path, "[events]\nmax_pending = 0\n")
    assert "max_pending = 0 is out of range" in msg
    msg = error(tmp_path, "[events]\nmax_event_bytes = 100\n")
    assert "max_event_bytes = 100 is out of range: use from 1KiB to 16MiB" in msg
    msg = error(tmp_path, '[events]\nmax_event_bytes = "1GiB"\n')
    assert "max_event_bytes = 1073741824 is out of range" in msg
    msg = error(tmp_path, 'service_name = "a\\nb"\n')
    assert "service_name = 'a\\nb' is out of range" in msg


SIZE_RANGE = "is out of range: use a size from 0 to 1024TiB (1125899906842624 bytes)"


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ('"99999999999999999999999999TiB"', "'99999999999999999999999999TiB'"),
        ('"1025TiB"', "'1025TiB'"),
        (str((1 << 50) + 1), str((1 << 50) + 1)),
        ("9" * 4000, "(a number of more than 30 digits)"),
        ('"' + "9" * 10_000 + '"', "'" + "9" * 37 + "...'"),  # more than int() takes
        ('"' + "1" * 100_000 + 'KiB"', "'" + "1" * 37 + "...'"),
    ],
)
def test_absurd_sizes_are_out_of_range(tmp_path: Path, written: str, shown: str) -> None:
    msg = error(tmp_path, f"[events]\nspool_max_bytes = {written}\n")
    assert msg == f"{tmp_path}/bulletproof.toml: [events] spool_max_bytes = {shown} {SIZE_RANGE}"


def test_size_limit_applies_to_sink_options_and_env(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[events]\nspool_max_bytes = "1024TiB"\nsegment_bytes = "512TiB"\n')
    assert (cfg.events.spool_max_bytes, cfg.events.segment_bytes) == (1 << 50, 1 << 49)
    msg = error(tmp_path, '[events]\nsinks = ["file:e.jsonl?max_bytes=' + "7" * 5000 + '"]\n')
    assert "[events] sinks[0]: sink URL 'file:e.jsonl?max_bytes=" in msg
    assert f"max_bytes = '{'7' * 37}...' {SIZE_RANGE}" in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "empty", env={"BULLETPROOF_EVENTS__SEGMENT_BYTES": "2000TB"})
    assert str(info.value) == (
        f"environment variable BULLETPROOF_EVENTS__SEGMENT_BYTES = '2000TB' {SIZE_RANGE}"
    )


DURATION_RANGE = "is out of range: use a duration from 0 to 365d (31536000 seconds)."


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ('"366d"', "'366d'"),
        ("1e300", "1e+300"),
        ("31536001", "31536001"),
        ("1" * 400, "(a number of more than 30 digits)"),  # float() of it overflows
        ('"' + "1" * 10_000 + '"', "'" + "1" * 77 + "...'"),
        ('"' + "9" * 400 + '.5ms"', "'" + "9" * 77 + "...'"),
    ],
)
def test_absurd_durations_are_out_of_range(tmp_path: Path, written: str, shown: str) -> None:
    msg = error(tmp_path, f"[events]\ndurability_lag = {written}\n")
    assert msg == f"{tmp_path}/bulletproof.toml: [events] durability_lag = {shown} {DURATION_RANGE}"


def test_duration_limit_applies_to_rules_and_parse_duration(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        """
        [alerts.notifiers]
        n = "webhook+https://hooks.example.com/x"
        [[alerts.rules]]
        name = "r"
        threshold = 5
        within = "400d"
        notify = ["n"]
        """,
    )
    assert f"[alerts] rules[0].within = '400d' {DURATION_RANGE}" in msg
    assert parse_duration("365d", "x") == 31_536_000.0
    for bad in (10**400, "9" * 5000, 31_536_000.5):
        with pytest.raises(ConfigError, match=r"^x = .* is out of range: use a duration from 0"):
            parse_duration(bad, "x")
    with pytest.raises(ConfigError, match="is not a duration"):
        parse_duration(-(10**400), "x")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[events]\nmax_pending = 1000000000000000000000000000000\n",
            "[events] max_pending = (a number of more than 30 digits) is out of range: use from "
            "1 to 10000000 (events waiting in memory for the spool writer).",
        ),
        (
            "[events]\nmax_pending = 10000001\n",
            "[events] max_pending = 10000001 is out of range: use from 1 to 10000000",
        ),
        (
            "[events]\nmax_field_chars = 16777217\n",
            "[events] max_field_chars = 16777217 is out of range: use from 16 to 16777216",
        ),
    ],
)
def test_absurd_whole_numbers_are_out_of_range(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in error(tmp_path, text)


def test_long_whole_numbers_from_the_environment_are_out_of_range(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, env={"BULLETPROOF_EVENTS__MAX_PENDING": "0" * 5000 + "10000000"})
    assert cfg.events.max_pending == 10_000_000
    for value in ("9" * 10_000, "+" + "9" * 31):
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path, env={"BULLETPROOF_EVENTS__MAX_PENDING": value})
        assert str(info.value) == (
            "environment variable BULLETPROOF_EVENTS__MAX_PENDING = (a number of more than 30 "
            "digits) is out of range: use from 1 to 10000000 (events waiting in memory for the "
            "spool writer)."
        )


# --------------------------------------------------------------------------------------------
# Environment variables
# --------------------------------------------------------------------------------------------


def test_env_coercion(tmp_path: Path) -> None:
    env = {
        "BULLETPROOF_SERVICE_NAME": "env-svc",
        "BULLETPROOF_EVENTS__FSYNC": "false",
        "BULLETPROOF_EVENTS__MAX_PENDING": "42",
        "BULLETPROOF_EVENTS__DURABILITY_LAG": "250ms",
        "BULLETPROOF_EVENTS__BACKOFF_MAX": "2",
        "BULLETPROOF_EVENTS__SPOOL_MAX_BYTES": "64MiB",
        "BULLETPROOF_EVENTS__SEGMENT_BYTES": "65536",
        "BULLETPROOF_EVENTS__REDACT_FIELDS": "ssn, card_number  iban",
        "BULLETPROOF_EVENTS__MAX_FIELD_CHARS": "100",
        "BULLETPROOF_EVENTS__SPOOL_DIR": "~/bp-spool",
    }
    cfg = load_config(tmp_path, env=env)
    ev = cfg.events
    assert cfg.service_name == "env-svc"
    assert (ev.fsync, ev.max_pending, ev.durability_lag, ev.backoff_max) == (False, 42, 0.25, 2.0)
    assert (ev.spool_max_bytes, ev.segment_bytes) == (64 << 20, 65536)
    assert ev.redact_fields == ("ssn", "card_number", "iban")
    assert ev.max_field_chars == 100
    assert ev.spool_dir == Path("~/bp-spool").expanduser()
    assert cfg.source == "defaults + environment"


@pytest.mark.parametrize(
    ("value", "displays"),
    [
        ("file:a.jsonl   stdout:\n file:b.jsonl", ["file:a.jsonl", "stdout:", "file:b.jsonl"]),
        ('["file:a.jsonl", "stdout:"]', ["file:a.jsonl", "stdout:"]),
        (
            '[{"url": "https://h.example.com/in", "headers": {"X-Api-Key": "${KEY}"}}]',
            ["https://h.example.com/in"],
        ),
        ("", []),
    ],
)
def test_env_sinks_forms(tmp_path: Path, value: str, displays: list[str]) -> None:
    cfg = load_config(tmp_path, env={"BULLETPROOF_EVENTS__SINKS": value, "KEY": "k-123456"})
    assert [s.display for s in cfg.events.sinks] == displays
    if displays == ["https://h.example.com/in"]:
        assert cfg.events.sinks[0].options["headers"]["X-Api-Key"] == "k-123456"


def test_env_redact_fields_json(tmp_path: Path) -> None:
    cfg = load_config(tmp_path, env={"BULLETPROOF_EVENTS__REDACT_FIELDS": '["a b", "c"]'})
    assert cfg.events.redact_fields == ("a b", "c")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("BULLETPROOF_EVENTS__SINKS", '["file:a.jsonl",', "not a valid JSON array"),
        ("BULLETPROOF_EVENTS__SINKS", '{"url": "stdout:"}', "[0]: sink URL '{\"url\":'"),
        ("BULLETPROOF_EVENTS__FSYNC", "maybe", "'maybe' is not true or false (accepted: true"),
        ("BULLETPROOF_EVENTS__MAX_PENDING", "many", "'many' is not a whole number"),
        ("BULLETPROOF_EVENTS__DURABILITY_LAG", "soon", "'soon' is not a duration"),
        ("BULLETPROOF_EVENTS__SEGMENT_BYTES", "big", "'big' is not a size"),
    ],
)
def test_env_coercion_errors_name_the_variable(
    tmp_path: Path, name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={name: value})
    msg = str(info.value)
    assert msg.startswith(f"environment variable {name}")
    assert expected in msg


def test_unknown_env_variable_did_you_mean_and_ignored_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={"BULLETPROOF_EVENTS__SINSK": "stdout:"})
    msg = str(info.value)
    assert "unknown environment variable BULLETPROOF_EVENTS__SINSK." in msg
    assert "Did you mean 'BULLETPROOF_EVENTS__SINKS'?" in msg
    with pytest.raises(ConfigError, match="BULLETPROOF_HEADERS__HSTS"):
        load_config(tmp_path, env={"BULLETPROOF_HEADERS__HSTS": "1"})
    cfg = load_config(
        tmp_path,
        env={
            "BULLETPROOF_TEST_SYSLOG_DIR": "/tmp/x",
            "BULLETPROOF_TEST_ANYTHING": "1",
            "BULLETPROOF_CONFIG": str(tmp_path / "unused"),
            "OTHER_VAR": "x",
        },
    )
    assert cfg.source == "defaults"


def test_alerts_cannot_come_from_env(tmp_path: Path) -> None:
    for name in ("BULLETPROOF_ALERTS__RULES", "BULLETPROOF_ALERTS__NOTIFIERS__ONCALL"):
        with pytest.raises(ConfigError) as info:
            load_config(tmp_path, env={name: "[]"})
        assert "cannot be set from the environment" in str(info.value)
        assert name in str(info.value)


# --------------------------------------------------------------------------------------------
# ${VAR} interpolation
# --------------------------------------------------------------------------------------------


def test_interpolation_forms(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
        service_name = "${SVC}-$${literal}-${REGION:-eu}-${EMPTY:-fallback}-a$b"
        [events]
        spool_dir = "${SPOOL:-spool-default}"
        max_pending = "${MAXP:-77}"
        fsync = "${FSYNC}"
        """,
        env={"SVC": "shop", "EMPTY": "", "FSYNC": "false"},
    )
    assert cfg.service_name == "shop-${literal}-eu-fallback-a$b"
    assert cfg.events.spool_dir == tmp_path.resolve() / "spool-default"
    assert cfg.events.max_pending == 77  # a string built from a reference is parsed like env
    assert cfg.events.fsync is False


def test_missing_variable_names_key_and_variable(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        '[events]\nsinks = [{ url = "https://h.example.com/in", '
        'headers = { Authorization = "Bearer ${LOG_TOKEN}" } }]\n',
    )
    assert "[events] sinks[0].headers.Authorization uses ${LOG_TOKEN}" in msg
    assert "environment variable LOG_TOKEN is not set" in msg
    assert "${LOG_TOKEN:-value}" in msg
    msg = error(tmp_path, 'service_name = "${NOPE}"\n')
    assert "service_name uses ${NOPE}" in msg


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('service_name = "${UNCLOSED"\n', "'${' without a closing '}'"),
        ('service_name = "${1BAD}"\n', "'${1BAD}' is not a valid reference"),
        ('service_name = "${}"\n', "is not a valid reference"),
    ],
)
def test_malformed_references(tmp_path: Path, text: str, expected: str) -> None:
    msg = error(tmp_path, text)
    assert expected in msg
    assert "service_name" in msg


class _Recorder(ThreadingHTTPServer):
    def __init__(self, status: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = status
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.arrived = threading.Condition()

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.arrived:
            self.server.requests.append(
                (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.server.arrived.notify_all()
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server(request: pytest.FixtureRequest) -> Iterator[_Recorder]:
    status = getattr(request, "param", 200)
    server = _Recorder(status)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_password_with_special_characters_is_percent_encoded(
    tmp_path: Path, http_server: _Recorder
) -> None:
    password = "p@ss:w/rd%#?&x"  # noqa: S105 - test data
    cfg = load(
        tmp_path,
        f"""
        [events]
        sinks = ["http://ingest:${{PW}}@127.0.0.1:{http_server.port}/in?src=${{SRC}}"]
        [alerts.notifiers]
        mail = "smtp://bp:${{PW}}@127.0.0.1:2525?from=a@example.com&to=b@example.com"
        """,
        env={"PW": password, "SRC": "a b/c"},
    )
    sink_cfg = cfg.events.sinks[0]
    assert quote(password, safe="") in sink_cfg.url
    assert sink_cfg.display == f"http://ingest:${{PW}}@127.0.0.1:{http_server.port}/in?src=${{SRC}}"
    # The real sink sends the decoded password as HTTP basic auth.
    [sink] = build_sinks(cfg)
    sink.open()
    sink.send([b'{"a":1}'])
    sink.close()
    path, headers, _ = http_server.requests[0]
    assert base64.b64decode(headers["authorization"].split()[1]).decode() == f"ingest:{password}"
    assert unquote(urlsplit(path).query) == "src=a b/c"
    # The notifier URL decodes to the same password.
    mail_url = cfg.alerts.notifiers[0].url
    assert unquote(urlsplit(mail_url).password or "") == password


def test_reference_in_a_url_path_keeps_its_slashes(tmp_path: Path, http_server: _Recorder) -> None:
    """A Slack-style hook path from the environment reaches the server as several segments."""
    cfg = load(
        tmp_path,
        f"""
        [alerts.notifiers]
        chat = "webhook+http://127.0.0.1:{http_server.port}/services/${{HOOK_PATH}}"
        [[alerts.rules]]
        name = "all-auth"
        categories = ["auth"]
        notify = ["chat"]
        """,
        env={"HOOK_PATH": "T000/B000/hook-secret?#x"},
    )
    assert cfg.alerts.notifiers[0].display.endswith("/services/${HOOK_PATH}")
    engine = build_alert_engine(cfg, None)
    assert engine is not None
    engine.observe(SecurityEvent(action="login_failed", category=Category.AUTH))
    [(path, _, body)] = http_server.requests
    assert unquote(path) == "/services/T000/B000/hook-secret?#x"
    assert path.startswith("/services/T000/B000/hook-secret%3F%23x")
    assert json.loads(body)["bulletproof"]["rule"] == "all-auth"


def test_whole_string_reference_is_inserted_raw(tmp_path: Path) -> None:
    url = "https://user:p%40ss@logs.example.com:8443/in"
    cfg = load(tmp_path, '[events]\nsinks = ["${LOG_URL}"]\n', env={"LOG_URL": url})
    assert cfg.events.sinks[0].url == url
    assert cfg.events.sinks[0].display == "${LOG_URL}"


# --------------------------------------------------------------------------------------------
# Secrets written in the file
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "where"),
    [
        (
            '[alerts.notifiers]\nmail = "smtp://bp:hunter2pw@smtp.example.com'
            '?from=a@example.com&to=b@example.com"\n',
            "hunter2pw",
            "[alerts] notifiers.mail: the password in URL 'smtp://bp:***@smtp.example.com",
        ),
        (
            '[events]\nsinks = ["https://logs.example.com/in?source=web&token=abc12345"]\n',
            "abc12345",
            "[events] sinks[0]: parameter 'token' in URL "
            "'https://logs.example.com/in?source=web&token=***'",
        ),
        (
            '[events]\nsinks = [{ url = "https://logs.example.com/in", '
            'headers = { Authorization = "Bearer sekrit-abc" } }]\n',
            "sekrit-abc",
            "[events] sinks[0].headers.Authorization holds a secret",
        ),
        (
            '[alerts.notifiers]\nhook = { url = "webhook+https://h.example.com/x", '
            'headers = { X-Api-Key = "k-literal-1" } }\n',
            "k-literal-1",
            "[alerts] notifiers.hook.headers.X-Api-Key holds a secret",
        ),
        (
            '[events]\nsinks = [{ url = "https://h.example.com/in", '
            "headers = { X-Api-Key = 1234567 } }]\n",
            "1234567",
            "[events] sinks[0].headers.X-Api-Key holds a secret",
        ),
        (
            '[alerts.notifiers]\npager = "sms+twilio://AC123:twtok-literal@api.twilio.com'
            '?from=+15550001111&to=+15550002222"\n',
            "twtok-literal",
            "[alerts] notifiers.pager: the password in URL 'sms+twilio://AC123:***@",
        ),
    ],
)
def test_literal_secret_is_refused_without_showing_it(
    tmp_path: Path, text: str, secret: str, where: str
) -> None:
    msg = error(tmp_path, text)
    assert where in msg
    assert (
        "holds a secret written in the file; put it in an environment variable and write ${" in msg
    )
    assert secret not in msg


def test_twilio_sid_is_not_a_secret_and_references_are_fine(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
        [alerts.notifiers]
        pager = "sms+twilio://AC123:${TWILIO_TOKEN}@api.twilio.com?from=+15550001111&to=+15550002222"
        [alerts.notifiers.hook]
        url = "webhook+https://h.example.com/x?token=${HOOK_TOKEN}"
        headers = { Authorization = "Bearer ${T}" }
        """,
        env={"TWILIO_TOKEN": "tw-secret", "HOOK_TOKEN": "hk-secret", "T": "t-secret"},
    )
    pager, hook = cfg.alerts.notifiers
    assert pager.display.startswith("sms+twilio://AC123:${TWILIO_TOKEN}@api.twilio.com")
    assert "tw-secret" in pager.url
    assert hook.display == "webhook+https://h.example.com/x?token=${HOOK_TOKEN}"


def test_literal_secret_from_env_is_allowed_but_masked(tmp_path: Path) -> None:
    cfg = load_config(
        tmp_path,
        env={
            "BULLETPROOF_EVENTS__SINKS": json.dumps(
                [
                    {
                        "url": "https://u:env-pass-1@h.example.com/in?api_key=env-key-2",
                        "headers": {"X-Auth-Token": "env-tok-3"},
                    }
                ]
            )
        },
    )
    [sink] = cfg.events.sinks
    assert sink.display == "https://u:***@h.example.com/in?api_key=***"
    dumped = json.dumps(config_as_dict(cfg))
    for secret in ("env-pass-1", "env-key-2", "env-tok-3"):
        assert secret in sink.url + json.dumps(dict(sink.options["headers"]))
        assert secret not in dumped
        assert secret not in repr(cfg)


# --------------------------------------------------------------------------------------------
# Sink and notifier URLs, rules
# --------------------------------------------------------------------------------------------


def test_malformed_sink_url_names_key_url_and_forms(tmp_path: Path) -> None:
    msg = error(tmp_path, '[events]\nsinks = ["stdout:", "sylog+udp://h:514"]\n')
    assert msg.startswith(f"{tmp_path}/bulletproof.toml: [events] sinks[1]: ")
    assert "'sylog+udp://h:514'" in msg
    assert "Did you mean 'syslog+udp'?" in msg
    assert "Accepted forms: file:///abs/path.jsonl" in msg
    msg = error(tmp_path, '[events]\nsinks = ["syslog+udp://h:notaport"]\n')
    assert "[events] sinks[0]: sink URL 'syslog+udp://h:notaport' is malformed" in msg


def test_sink_build_error_scrubs_interpolated_secrets(tmp_path: Path) -> None:
    msg = error(
        tmp_path,
        '[events]\nsinks = ["syslog+tcp://h.example.com:514?token=${TOK}"]\n',
        env={"TOK": "very-secret-value"},
    )
    assert "unknown parameter 'token'" in msg
    assert "'syslog+tcp://h.example.com:514?token=${TOK}'" in msg  # the URL as written
    assert "very-secret-value" not in msg
    msg = error(
        tmp_path,
        "[alerts.notifiers]\n"
        'hook = { url = "webhook+https://hooks.example.com/services/${HOOK}", timeout = 0 }\n',
        env={"HOOK": "T000/B000/hook-secret"},
    )
    assert "[alerts] notifiers.hook: webhook+https://hooks.example.com/services/${HOOK}: " in msg
    assert "timeout 0 is not a number of seconds" in msg
    assert "hook-secret" not in msg


def test_malformed_notifier_and_bad_notifier_name(tmp_path: Path) -> None:
    msg = error(tmp_path, '[alerts.notifiers]\nmail = "smtp://smtp.example.com"\n')
    assert "[alerts] notifiers.mail: smtp://smtp.example.com: from= is required" in msg
    msg = error(tmp_path, '[alerts.notifiers]\n"bad name" = "webhook+https://h.example.com/"\n')
    assert "notifier name 'bad name' is not valid" in msg


def test_duplicate_sinks(tmp_path: Path) -> None:
    msg = error(tmp_path, '[events]\nsinks = ["stdout:", "file:a.jsonl", "stdout:"]\n')
    assert "[events] sinks[2]: the sink 'stdout:' is already listed as sinks[0]" in msg


def test_sink_timeout_accepts_durations(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        '[events]\nsinks = [{ url = "https://h.example.com/in", timeout = "1500ms" }]\n',
    )
    assert cfg.events.sinks[0].options["timeout"] == 1.5


RULE_BASE = """
[alerts.notifiers]
oncall = "webhook+https://hooks.example.com/oncall"
[[alerts.rules]]
name = "r1"
"""


def test_rule_naming_unknown_notifier(tmp_path: Path) -> None:
    msg = error(tmp_path, RULE_BASE + 'notify = ["oncal"]\n')
    assert (
        "[alerts] rules[0]: alert rule 'r1': field 'notify' names unknown notifier 'oncal'" in msg
    )
    assert "Did you mean 'oncall'?" in msg


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('notify = ["oncall"]\nthreshold = 0\n', "field 'threshold' must be a whole number"),
        ('notify = ["oncall"]\nmin_severity = "hgih"\n', "Did you mean 'high'?"),
        ('notify = ["oncall"]\ncategories = ["auht"]\n', "Did you mean 'auth'?"),
        ("", "field 'notify' is empty"),
        ('notify = ["oncall"]\nwithin = "soon"\n', "rules[0].within = 'soon' is not a duration"),
    ],
)
def test_rule_errors_carry_the_rule_path(tmp_path: Path, extra: str, expected: str) -> None:
    msg = error(tmp_path, RULE_BASE + extra)
    assert "[alerts] rules[0]" in msg
    assert expected in msg


def test_rule_without_name_and_duplicate_names(tmp_path: Path) -> None:
    msg = error(tmp_path, '[[alerts.rules]]\nnotify = ["x"]\n')
    assert "[alerts] rules[0]: the rule has no name" in msg
    msg = error(
        tmp_path,
        RULE_BASE + 'notify = ["oncall"]\n[[alerts.rules]]\nname = "r1"\nnotify = ["oncall"]\n',
    )
    assert "[alerts] rules[1]: alert rule 'r1' is already defined as rules[0]" in msg


# --------------------------------------------------------------------------------------------
# Display, freezing, building
# --------------------------------------------------------------------------------------------


def test_config_as_dict_holds_no_interpolated_secret(tmp_path: Path) -> None:
    shutil.copy(CASES / "pyproject.toml", tmp_path / "pyproject.toml")
    secrets = {**SECRETS, "SMTP_PASSWORD": "smtp@pw:/%#secret"}
    cfg = load_config(tmp_path, env=secrets)
    dumped = json.dumps(config_as_dict(cfg))
    for value in secrets.values():
        assert value not in dumped
        assert quote(value, safe="") not in dumped
        assert value not in repr(cfg)
    data = json.loads(dumped)
    assert data["events"]["sinks"][1] == {
        "url": "https://logs.example.com/in",
        "options": {"headers": {"Authorization": "Bearer ${LOG_TOKEN}"}, "timeout": 5},
    }
    assert data["alerts"]["notifiers"]["oncall"]["url"].startswith(
        "smtp://alerts:${SMTP_PASSWORD}@"
    )
    assert data["alerts"]["rules"][0]["within"] == 60.0
    assert data["source"] == cfg.source
    # The secrets did reach what the sinks and notifiers are built from.
    assert secrets["LOG_TOKEN"] in cfg.events.sinks[1].options["headers"]["Authorization"]


def test_config_is_frozen(tmp_path: Path) -> None:
    shutil.copy(CASES / "pyproject.toml", tmp_path / "pyproject.toml")
    cfg = load_config(tmp_path, env=SECRETS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.service_name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.events.max_pending = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.events.sinks[0].url = "stdout:"  # type: ignore[misc]
    with pytest.raises(TypeError):
        cfg.events.sinks[1].options["timeout"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        cfg.events.sinks[1].options["headers"]["X"] = "y"
    assert isinstance(cfg.events.sinks, tuple)
    assert isinstance(cfg.alerts.rules, tuple)
    assert repr(cfg.events.sinks[1]) == "SinkConfig('https://logs.example.com/in')"
    assert SinkConfig("stdout:", {}, "stdout:").display_options == {}


def test_pipeline_options_and_alert_engine(tmp_path: Path) -> None:
    shutil.copy(CASES / "pyproject.toml", tmp_path / "pyproject.toml")
    cfg = load_config(tmp_path, env=SECRETS)
    opts = pipeline_options(cfg)
    assert opts.spool_dir == cfg.events.spool_dir
    assert (opts.spool_max_bytes, opts.segment_bytes, opts.fsync) == (256 << 20, 4194304, False)
    assert (opts.durability_lag, opts.max_pending, opts.backoff_max) == (0.1, 5000, 30.0)
    assert (opts.service, opts.redact_fields, opts.max_field_chars) == ("shop-api", ("ssn",), 4096)
    assert opts.max_event_bytes == 64 * 1024
    big = load_config(tmp_path, env={**SECRETS, "BULLETPROOF_EVENTS__MAX_EVENT_BYTES": "256KiB"})
    assert pipeline_options(big).max_event_bytes == 256 * 1024
    engine = build_alert_engine(cfg, None)
    assert isinstance(engine, AlertEngine)
    assert [r.name for r in engine.rules] == ["brute-force", "any-critical"]
    (tmp_path / "empty").mkdir()
    assert build_alert_engine(load_config(tmp_path / "empty", env={}), None) is None


def _read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def test_build_pipeline_delivers_to_the_configured_file(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[events]\nfsync = false\nsinks = ["file:out/events.jsonl"]\n')
    pipeline = build_pipeline(cfg)
    assert pipeline.alerts is None
    with pipeline:
        pipeline.emit(SecurityEvent(action="login_failed", category=Category.AUTH, id="ev-1"))
        assert pipeline.drain(timeout=10)
    [doc] = _read_events(tmp_path / "out" / "events.jsonl")
    assert doc["event"]["id"] == "ev-1"
    assert doc["event"]["action"] == "login_failed"
    assert doc["service"]["name"] == tmp_path.name


@pytest.mark.parametrize("http_server", [500], indirect=True)
def test_build_pipeline_wires_alerts_and_reports_their_failures(
    tmp_path: Path, http_server: _Recorder
) -> None:
    cfg = load(
        tmp_path,
        f"""
        [events]
        fsync = false
        sinks = ["file:events.jsonl"]
        [alerts.notifiers]
        hook = "webhook+http://127.0.0.1:{http_server.port}/hook"
        [[alerts.rules]]
        name = "every-login-failure"
        categories = ["auth"]
        notify = ["hook"]
        """,
    )
    pipeline = build_pipeline(cfg)
    assert isinstance(pipeline.alerts, AlertEngine)
    out = tmp_path / "events.jsonl"
    with pipeline:
        pipeline.emit(SecurityEvent(action="login_failed", category=Category.AUTH))
        with http_server.arrived:
            assert http_server.arrived.wait_for(lambda: http_server.requests, timeout=10)
        assert pipeline.drain(timeout=10)
        actions = [d["event"]["action"] for d in _read_events(out)]
    assert http_server.requests[0][0] == "/hook"
    # The engine's failure report came back through the same pipeline into the file.
    assert "login_failed" in actions
    assert "notification_failed" in actions


# --------------------------------------------------------------------------------------------
# Headers, routes and the app (issue 3)
# --------------------------------------------------------------------------------------------


def test_headers_section_builds_the_policy(tmp_path: Path) -> None:
    from bulletproof.config import build_header_policy

    write(
        tmp_path,
        "[tool.bulletproof]\napp = 'app:app'\n"
        "[tool.bulletproof.headers]\nx_frame_options = { action = 'deny' }\n"
        "[tool.bulletproof.routes]\npublic = ['/login']\n",
        "pyproject.toml",
    )
    cfg = load_config(tmp_path, env={})
    headers = dict(build_header_policy(cfg).headers)
    assert headers["X-Frame-Options"] == "DENY"
    assert cfg.app == "app:app"
    assert cfg.routes.public == ("/login",)
    shown = config_as_dict(cfg)
    assert shown["headers"] == {"x_frame_options": {"action": "deny"}}
    assert shown["routes"] == {"public": ["/login"]}


def test_no_headers_section_means_helmet_defaults(tmp_path: Path) -> None:
    from bulletproof.config import build_header_policy
    from bulletproof.headers import secure_headers

    cfg = load_config(tmp_path, env={})
    assert build_header_policy(cfg).headers == secure_headers().headers
    assert cfg.app is None


@pytest.mark.parametrize("value", ["'app:'", "'my app:x'", "3", "':app'"])
def test_bad_app_spec_names_the_key(tmp_path: Path, value: str) -> None:
    write(tmp_path, f"[tool.bulletproof]\napp = {value}\n", "pyproject.toml")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    assert "app" in str(info.value)


def test_bad_header_option_value_names_the_option(tmp_path: Path) -> None:
    write(
        tmp_path,
        "[tool.bulletproof.headers]\nstrict_transport_security = { max_age = -1 }\n",
        "pyproject.toml",
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path, env={})
    msg = str(info.value)
    assert "[tool.bulletproof] headers" in msg
    assert "max_age" in msg or "maxAge" in msg
