"""``bulletproof check``: the umbrella report, its exit codes and its JSON shape."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from tests.cli.test_cli_main import (
    FILE_SINK_PROJECT,
    REPO,
    clean_env,
    invoke,
    make_project,
    run_script,
)
from tests.sinks.httpserver import RecordingHTTPServer, free_port

from bulletproof.check import (
    SOURCES,
    CheckContext,
    CheckItem,
    CheckReport,
    CheckSection,
    Probe,
    Status,
    run_check,
)
from bulletproof.errors import ConfigError

REPORT_SCHEMA = {
    "type": "object",
    "required": ["target", "exit_code", "sections"],
    "additionalProperties": False,
    "properties": {
        "target": {"type": "string"},
        "exit_code": {"enum": [0, 1, 2, 3]},
        "sections": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "items"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string"},
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["name", "status", "detail"],
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "status": {"enum": [s.value for s in Status]},
                                "detail": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def listener() -> Iterator[int]:
    """A real TCP listener on 127.0.0.1 (connections wait in its backlog); yields its port."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        yield server.getsockname()[1]


def project_with_sinks(directory: Path, *sinks: str) -> Path:
    listed = ", ".join(json.dumps(s) for s in sinks)
    return make_project(
        directory,
        f'[tool.bulletproof]\nservice_name = "demo"\n\n[tool.bulletproof.events]\n'
        f'spool_dir = ".bulletproof/spool"\nsinks = [{listed}]\n',
    )


def item_lines(stdout: str, section: str) -> list[str]:
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith(section)]


def test_clean_project_exits_0_with_a_readable_report(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    run = invoke("check", str(project))
    assert run.exit_code == 0, run.text
    lines = run.stdout.splitlines()
    assert lines[0] == f"bulletproof check {project}"
    config_line = item_lines(run.stdout, "config")
    assert config_line
    assert config_line[0].split()[:2] == ["config", "ok"]
    sink_line = item_lines(run.stdout, "sinks")
    assert len(sink_line) == 1
    assert sink_line[0].split()[1] == "ok"
    assert "file:.bulletproof/events.jsonl" in sink_line[0]
    assert "is writable" in run.stdout
    assert "notifiers" in run.stdout
    assert "none configured" in run.stdout
    assert lines[-1] == "result: clean"
    assert run.stderr == ""
    # The probe opened the file sink's path (relative to the config file), nothing else.
    assert (project / ".bulletproof").is_dir()


def test_check_defaults_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_project(tmp_path / "app", FILE_SINK_PROJECT)
    monkeypatch.chdir(tmp_path / "app")
    run = invoke("check")
    assert run.exit_code == 0, run.text
    assert run.stdout.splitlines()[-1] == "result: clean"


def test_json_report_shape(tmp_path: Path, listener: int) -> None:
    closed = free_port()
    project = project_with_sinks(
        tmp_path / "app",
        "file:.bulletproof/events.jsonl",
        f"logstash://127.0.0.1:{listener}",
        f"logstash://127.0.0.1:{closed}",
    )
    run = invoke("check", str(project), "--format", "json")
    assert run.exit_code == 1, run.text
    report = json.loads(run.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["target"] == str(project)
    assert report["exit_code"] == 1
    sections = {s["name"]: s["items"] for s in report["sections"]}
    assert list(sections) == [
        "config",
        "sinks",
        "notifiers",
        "headers",
        "routes",
        "shield",
        "audit",
        "run",
    ]
    assert [i["status"] for i in sections["config"]] == ["ok"]
    # No app configured: the app sections say so instead of grading anything.
    assert [i["status"] for i in sections["headers"]] == ["skipped"]
    assert [i["status"] for i in sections["routes"]] == ["skipped"]
    statuses = {i["name"]: i["status"] for i in sections["sinks"]}
    assert statuses == {
        "file:.bulletproof/events.jsonl": "ok",
        f"logstash://127.0.0.1:{listener}": "ok",
        f"logstash://127.0.0.1:{closed}": "finding",
    }
    assert sections["notifiers"] == []


def test_unreachable_sink_is_a_finding_naming_the_sink(tmp_path: Path) -> None:
    port = free_port()
    project = project_with_sinks(tmp_path / "app", f"logstash://127.0.0.1:{port}")
    run = invoke("check", str(project), "--timeout", "5")
    assert run.exit_code == 1, run.text
    failing = [line for line in item_lines(run.stdout, "sinks") if "FAIL" in line]
    assert failing == [f"sinks      FAIL  logstash://127.0.0.1:{port}"]
    assert f"127.0.0.1:{port}" in run.stdout.split(failing[0], 1)[1]  # the detail says where
    assert run.stdout.splitlines()[-1] == "result: findings"


def test_reachable_tcp_listener_is_ok(tmp_path: Path, listener: int) -> None:
    project = project_with_sinks(tmp_path / "app", f"logstash://127.0.0.1:{listener}")
    run = invoke("check", str(project))
    assert run.exit_code == 0, run.text
    assert item_lines(run.stdout, "sinks") == [f"sinks      ok    logstash://127.0.0.1:{listener}"]
    assert f"TCP connect to 127.0.0.1:{listener} ok" in run.stdout


def test_invalid_config_exits_2_with_did_you_mean(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app",
        '[tool.bulletproof]\nservice_name = "demo"\n\n[tool.bulletproof.events]\nsinsk = []\n',
    )
    run = invoke("check", str(project))
    assert run.exit_code == 2, run.text
    assert "sinsk" in run.stdout
    assert "Did you mean 'sinks'?" in run.stdout
    assert run.stdout.splitlines()[-1] == "result: invalid configuration"
    as_json = json.loads(invoke("check", str(project), "--format", "json").stdout)
    jsonschema.validate(as_json, REPORT_SCHEMA)
    assert as_json["exit_code"] == 2
    assert [s["name"] for s in as_json["sections"]] == ["config"]
    assert as_json["sections"][0]["items"][0]["status"] == "finding"


def test_invalid_sink_url_is_reported_not_raised(tmp_path: Path) -> None:
    project = project_with_sinks(tmp_path / "app", "logstsh://127.0.0.1:5000")
    run = invoke("check", str(project))
    assert run.exit_code == 2, run.text
    assert "logstsh://127.0.0.1:5000" in run.text
    assert "Did you mean 'logstash'?" in run.text


def test_missing_project_directory_exits_2(tmp_path: Path) -> None:
    run = invoke("check", str(tmp_path / "nowhere"))
    assert run.exit_code == 2, run.text
    assert "nowhere" in run.text


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_config_file_that_is_not_a_regular_file_is_invalid_not_defaults(
    tmp_path: Path, kind: str
) -> None:
    project = tmp_path / "app"
    project.mkdir()
    config = project / "bulletproof.toml"
    if kind == "fifo":
        os.mkfifo(config)  # nobody writes to it: reading it would wait
    else:
        config.mkdir()
    for target in (project, config):  # found in the project, and given directly
        run = invoke("check", str(target))
        assert run.exit_code == 2, run.text
        assert "valid (defaults)" not in run.stdout
        assert f"'{config}' is a " in run.stdout
        assert "must be a regular file" in run.stdout
        assert run.stdout.splitlines()[-1] == "result: invalid configuration"


def test_example_shop_is_clean(tmp_path: Path) -> None:
    source = REPO / "examples" / "shop"
    had_state = (source / ".bulletproof").exists()
    shop = tmp_path / "shop"
    shutil.copytree(
        source, shop, ignore=shutil.ignore_patterns(".bulletproof", ".venv", "__pycache__")
    )
    run = invoke("check", str(shop))
    assert run.exit_code == 0, run.text
    assert "file:.bulletproof/events.jsonl" in run.stdout
    assert run.stdout.splitlines()[-1] == "result: clean"
    assert (shop / ".bulletproof").is_dir()
    assert (source / ".bulletproof").exists() == had_state
    # the shield section replays the shop's bundled traffic.jsonl
    assert "on, block: malicious requests are refused" in run.stdout
    assert "30 requests from traffic.jsonl: 16 malicious" in run.stdout
    assert "1 invalid, 13 normal" in run.stdout


def test_check_as_a_real_process(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    run = run_script("check", "--format", "json", cwd=project)
    assert run.exit_code == 0, run.text
    report = json.loads(run.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["exit_code"] == 0


def test_run_check_library_call(tmp_path: Path) -> None:
    port = free_port()
    project = project_with_sinks(tmp_path / "app", f"logstash://127.0.0.1:{port}")
    report = run_check(project, probe_timeout=5)
    assert report.exit_code == 1
    sinks = next(s for s in report.sections if s.name == "sinks")
    assert [(i.name, i.status) for i in sinks.items] == [
        (f"logstash://127.0.0.1:{port}", Status.FINDING)
    ]
    overridden = run_check(project, overrides={"events.sinks": []})
    assert overridden.exit_code == 0


def test_notifiers_are_probed_without_sending(tmp_path: Path) -> None:
    down = free_port()
    with RecordingHTTPServer() as server:
        up = server.port
        project = make_project(
            tmp_path / "app",
            FILE_SINK_PROJECT
            + "\n[tool.bulletproof.alerts.notifiers]\n"
            + f'up = "webhook+http://127.0.0.1:{up}/hook"\n'
            + f'down = "webhook+http://127.0.0.1:{down}/hook"\n',
        )
        run = invoke("check", str(project), "--format", "json")
        assert server.requests == []  # a probe connects; it posts nothing
    assert run.exit_code == 1, run.text
    report = json.loads(run.stdout)
    notifiers = next(s["items"] for s in report["sections"] if s["name"] == "notifiers")
    assert {i["name"]: i["status"] for i in notifiers} == {
        f"up (webhook+http://127.0.0.1:{up}/hook)": "ok",
        f"down (webhook+http://127.0.0.1:{down}/hook)": "finding",
    }
    text = invoke("check", str(project))
    assert f"notifiers  FAIL  down (webhook+http://127.0.0.1:{down}/hook)" in text.stdout


def test_probe_timeout_bounds_the_whole_check(tmp_path: Path, listener: int) -> None:
    """A receiver that accepts but never answers the TLS handshake: the sink's own timeout is
    10 s, but ``--timeout`` ends the check (and the process) well before that."""
    project = project_with_sinks(
        tmp_path / "app", f"logstash+tls://127.0.0.1:{listener}", "file:.bulletproof/e.jsonl"
    )
    run = run_script("check", str(project), "--timeout", "0.3", cwd=tmp_path, timeout=5)
    assert run.exit_code == 1, run.text
    assert f"sinks      FAIL  logstash+tls://127.0.0.1:{listener}" in run.stdout
    assert "no answer within 0.3s" in run.stdout
    assert "sinks      ok    file:.bulletproof/e.jsonl" in run.stdout


@pytest.mark.parametrize("value", ["0", "-1", "nan"])
def test_bad_probe_timeout_exits_2(tmp_path: Path, value: str) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    run = invoke("check", str(project), "--timeout", value)
    assert run.exit_code == 2, run.text
    assert "positive number of seconds" in run.stderr


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ({"config": [Status.OK], "sinks": [Status.OK, Status.SKIPPED]}, 0),
        ({"config": [Status.OK], "sinks": [Status.ERROR]}, 3),
        ({"config": [Status.OK], "sinks": [Status.ERROR, Status.FINDING]}, 1),
        ({"config": [Status.FINDING]}, 2),
    ],
)
def test_report_exit_codes(statuses: dict[str, list[Status]], code: int) -> None:
    report = CheckReport(
        "x",
        tuple(
            CheckSection(name, tuple(CheckItem(f"{name}{i}", s, "") for i, s in enumerate(items)))
            for name, items in statuses.items()
        ),
    )
    assert report.exit_code == code
    assert report.to_dict()["exit_code"] == code
    jsonschema.validate(report.to_dict(), REPORT_SCHEMA)


# -- sections that do not apply, or could not run -------------------------------------------------


@pytest.fixture
def unique() -> Iterator[str]:
    """A module name prefix no other test imports; its modules are forgotten afterwards."""
    prefix = f"bp_check_{uuid.uuid4().hex[:8]}"
    yield prefix
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


LOGIN_APP = """\
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from bulletproof.protect import protect

async def login(request):
    return HTMLResponse("<form method='post'></form>")

app = protect(Starlette(routes=[Route("/login", login)]))
"""


def app_project(directory: Path, module: str, source: str, extra: str = "") -> Path:
    """A project whose ``app`` is ``module:app``, written from ``source``."""
    project = make_project(
        directory, FILE_SINK_PROJECT.replace('"demo"\n', f'"demo"\napp = "{module}:app"\n') + extra
    )
    (project / f"{module}.py").write_text(source, encoding="utf-8")
    return project


def test_without_an_app_the_app_sections_say_they_do_not_apply(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    run = invoke("check", str(project))
    assert run.exit_code == 0, run.text
    assert item_lines(run.stdout, "headers") == ["headers    n/a   app"]
    assert item_lines(run.stdout, "routes") == ["routes     n/a   app"]
    assert run.stdout.count("does not apply: no app configured; set app = 'module:attr'") == 2
    report = run_check(project)
    skipped = [s.name for s in report.sections if any(i.status is Status.SKIPPED for i in s.items)]
    # shield: no sample traffic to replay; audit: the project names no dependency
    assert skipped == ["headers", "routes", "shield", "audit", "run"]
    assert report.incomplete == ()


def test_an_app_that_does_not_import_is_incomplete_not_a_finding(tmp_path: Path) -> None:
    project = make_project(
        tmp_path / "app", FILE_SINK_PROJECT.replace('"demo"\n', '"demo"\napp = "bp_nowhere:app"\n')
    )
    run = invoke("check", str(project))
    assert run.exit_code == 3, run.text
    assert item_lines(run.stdout, "headers") == ["headers    ERROR bp_nowhere:app"]
    assert item_lines(run.stdout, "routes") == ["routes     ERROR bp_nowhere:app"]
    assert "could not load the app: app path 'bp_nowhere:app': no module named" in run.stdout
    assert run.stdout.splitlines()[-1] == "result: incomplete: headers, routes could not be checked"
    doc = json.loads(invoke("check", str(project), "--format", "json").stdout)
    jsonschema.validate(doc, REPORT_SCHEMA)
    assert doc["exit_code"] == 3
    statuses = {s["name"]: [i["status"] for i in s["items"]] for s in doc["sections"]}
    assert statuses["headers"] == statuses["routes"] == ["error"]


def test_findings_win_but_the_result_still_says_what_was_not_checked(tmp_path: Path) -> None:
    port = free_port()
    project = make_project(
        tmp_path / "app",
        '[tool.bulletproof]\nservice_name = "demo"\napp = "bp_nowhere:app"\n\n'
        f'[tool.bulletproof.events]\nsinks = ["logstash://127.0.0.1:{port}"]\n',
    )
    run = invoke("check", str(project), "--timeout", "5")
    assert run.exit_code == 1, run.text
    assert run.stdout.splitlines()[-1] == (
        "result: findings; incomplete: headers, routes could not be checked"
    )


def test_the_app_is_graded_at_the_path_given(tmp_path: Path, unique: str) -> None:
    project = app_project(tmp_path / "app", f"{unique}_login", LOGIN_APP)
    at_root = invoke("check", str(project))  # "/" is a 404 here: it cannot be graded
    assert at_root.exit_code == 3, at_root.text
    assert item_lines(at_root.stdout, "headers") == [f"headers    ERROR {unique}_login:app"]
    assert "HTTP status 404" in at_root.stdout
    run = invoke("check", str(project), "--path", "/login")
    assert run.exit_code == 0, run.text
    assert item_lines(run.stdout, "headers") == [f"headers    ok    {unique}_login:app"]
    assert "grade A+ (score 130) for /login" in run.stdout
    assert run.stdout.splitlines()[-1] == "result: clean"
    assert run_check(project, check_path="/login").exit_code == 0


def test_the_path_to_grade_can_live_in_the_config(tmp_path: Path, unique: str) -> None:
    project = app_project(tmp_path / "app", f"{unique}_cfgpath", LOGIN_APP)
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    pyproject.write_text(
        text.replace(
            f'app = "{unique}_cfgpath:app"\n',
            f'app = "{unique}_cfgpath:app"\ncheck_path = "/login"\n',
        ),
        encoding="utf-8",
    )
    run = invoke("check", str(project))
    assert run.exit_code == 0, run.text
    assert "grade A+ (score 130) for /login" in run.stdout
    # --path wins over the config; the environment sets it too.
    assert run_check(project, check_path="/").exit_code == 3
    assert run_check(project, env={"BULLETPROOF_CHECK_PATH": "/"}).exit_code == 3


def test_a_configured_path_must_be_a_path(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    report = run_check(project, env={"BULLETPROOF_CHECK_PATH": "login"})
    assert report.exit_code == 2
    (item,) = report.sections[0].items
    assert "BULLETPROOF_CHECK_PATH = 'login': expected a URL path starting with '/'" in item.detail
    # Without an app, a configured path leaves the app sections not applying: still clean.
    assert run_check(project, env={"BULLETPROOF_CHECK_PATH": "/login"}).exit_code == 0


def test_a_path_without_an_app_or_not_a_path_is_bad_input(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    run = invoke("check", str(project), "--path", "/login")
    assert run.exit_code == 2, run.text
    assert "check path '/login': the config (" in run.stderr
    assert "names no app to grade: set app = 'module:attr' in [tool.bulletproof]" in run.stderr
    run = invoke("check", str(project), "--path", "login")
    assert run.exit_code == 2, run.text
    assert "check path 'login' must start with '/', e.g. '/' or '/login'" in run.stderr


# -- the interface each capability implements -----------------------------------------------------


class ExtraSource:
    """A capability's section: one decided item and one probe."""

    name = "extra"

    def __init__(self) -> None:
        self.seen: list[CheckContext] = []

    def collect(self, context: CheckContext) -> list[CheckItem | Probe]:
        self.seen.append(context)
        return [CheckItem("decided", Status.OK, "fine"), Probe("probed", lambda: "answered")]


class BrokenSource:
    name = "broken"

    def collect(self, context: CheckContext) -> list[CheckItem | Probe]:
        raise RuntimeError("a bug in this capability")


class InvalidSource:
    name = "invalid"

    def collect(self, context: CheckContext) -> list[CheckItem | Probe]:
        raise ConfigError("invalid.key: use a number")


def test_a_capability_adds_its_section_with_a_source(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    extra = ExtraSource()
    report = run_check(project, sources=(*SOURCES, extra), check_path=None)
    assert [s.name for s in report.sections] == [
        "config",
        "sinks",
        "notifiers",
        "headers",
        "routes",
        "shield",
        "audit",
        "run",
        "extra",
    ]
    assert report.sections[-1].items == (
        CheckItem("decided", Status.OK, "fine"),
        CheckItem("probed", Status.OK, "answered"),
    )
    (context,) = extra.seen
    assert context.config.root == project
    assert context.check_path == "/"
    assert report.exit_code == 0


def test_a_source_that_raises_is_an_error_of_its_own_section(tmp_path: Path) -> None:
    project = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    report = run_check(project, sources=(BrokenSource(), ExtraSource()))
    assert [s.name for s in report.sections] == ["config", "broken", "extra"]
    assert report.sections[1].items == (
        CheckItem("broken", Status.ERROR, "could not run: RuntimeError: a bug in this capability"),
    )
    assert report.exit_code == 3
    assert report.incomplete == ("broken",)
    invalid = run_check(project, sources=(ExtraSource(), InvalidSource()))
    assert invalid.exit_code == 2
    assert [s.name for s in invalid.sections] == ["config"]
    assert invalid.sections[0].items[0].detail == "invalid.key: use a number"


def test_the_app_is_imported_once_for_every_section(tmp_path: Path, unique: str) -> None:
    counted = LOGIN_APP + "\nimport builtins\nbuiltins.bp_check_imports += 1\n"
    project = app_project(tmp_path / "app", f"{unique}_once", counted)
    import builtins

    builtins.bp_check_imports = 0  # type: ignore[attr-defined]
    try:
        report = run_check(project, check_path="/login")
        assert builtins.bp_check_imports == 1  # type: ignore[attr-defined]
    finally:
        del builtins.bp_check_imports  # type: ignore[attr-defined]
    assert report.exit_code == 0, report.to_dict()


# -- Django: what its settings do to the headers ---------------------------------------------------

DJANGO_SETTINGS = """\
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bp_check_site.urls"
INSTALLED_APPS = []
DATABASES = {}
USE_TZ = True
MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
    "bulletproof.adapters.django.BulletproofMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
"""
DJANGO_URLS = """\
from django.http import HttpResponse
from django.urls import path

def home(request):
    return HttpResponse("<p>hello</p>", content_type="text/html; charset=utf-8")

urlpatterns = [path("", home)]
"""
DJANGO_WSGI = """\
import os
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bp_check_site.settings")
application = get_wsgi_application()
"""


def test_django_settings_that_change_the_headers_are_header_findings(tmp_path: Path) -> None:
    # In its own process: Django is configured once per process.
    project = make_project(
        tmp_path / "site",
        FILE_SINK_PROJECT.replace('"demo"\n', '"demo"\napp = "bp_check_site.wsgi:application"\n'),
    )
    package = project / "bp_check_site"
    package.mkdir()
    for name, source in [
        ("__init__", ""),
        ("settings", DJANGO_SETTINGS),
        ("urls", DJANGO_URLS),
        ("wsgi", DJANGO_WSGI),
    ]:
        (package / f"{name}.py").write_text(source, encoding="utf-8")
    run = run_script("check", "--format", "json", cwd=project)
    assert run.exit_code == 1, run.text
    doc = json.loads(run.stdout)
    jsonschema.validate(doc, REPORT_SCHEMA)
    sections = {s["name"]: s["items"] for s in doc["sections"]}
    headers = {i["name"]: (i["status"], i["detail"]) for i in sections["headers"]}
    assert headers["bp_check_site.wsgi:application"][0] == "ok"  # graded: A+ all the same
    assert list(headers)[1:] == [
        "settings.MIDDLEWARE",
        "settings.SECURE_REFERRER_POLICY",
        "settings.X_FRAME_OPTIONS",
    ]
    assert all(status == "finding" for status, _ in list(headers.values())[1:])
    ours = "'bulletproof.adapters.django.BulletproofMiddleware'"
    assert headers["settings.MIDDLEWARE"][1].startswith(
        f"{ours} is not first in settings.MIDDLEWARE: a response that a middleware above it "
        "('django.middleware.common.CommonMiddleware') returns itself"
    )
    assert headers["settings.SECURE_REFERRER_POLICY"][1].startswith(
        f"'django.middleware.security.SecurityMiddleware' runs inside {ours} and sets "
        "Referrer-Policy: same-origin"
    )
    assert "sets X-Frame-Options: DENY" in headers["settings.X_FRAME_OPTIONS"][1]
    # Said once: the routes section keeps its own findings only.
    routes = [i["detail"] for i in sections["routes"][1:]]
    assert routes
    assert not any("settings." in detail for detail in routes), routes


def _shield_project(directory: Path, shield: str, traffic: list[str] | None = None) -> Path:
    project = make_project(directory, f"[tool.bulletproof]\n\n[tool.bulletproof.shield]\n{shield}")
    if traffic is not None:
        (project / "traffic.jsonl").write_text("\n".join(traffic) + "\n", encoding="utf-8")
    return project


def _shield_items(report: CheckReport) -> list[tuple[str, str, str]]:
    section = next(s for s in report.sections if s.name == "shield")
    return [(i.name, i.status.value, i.detail) for i in section.items]


def test_the_shield_section_replays_the_sample_and_counts_what_it_caught(tmp_path: Path) -> None:
    traffic = [
        json.dumps({"path": "/", "query": "q=shoes"}),
        json.dumps({"path": "/", "query": "q=%3Cscript%3Ex%3C%2Fscript%3E"}),
        json.dumps({"path": "/.env"}),
    ]
    project = _shield_project(tmp_path / "p", 'sample_traffic = "traffic.jsonl"\n', traffic)
    report = run_check(project, env={})
    assert report.exit_code == 0
    items = _shield_items(report)
    assert items[0][:2] == ("shield", "ok")
    assert "monitor" in items[0][2]
    assert items[1] == (
        "sample traffic",
        "ok",
        "3 requests from traffic.jsonl: 2 malicious (scanner_probe 1, xss 1), 0 invalid, 1 normal",
    )


def test_the_shield_section_without_a_sample_is_skipped_and_off_is_a_finding(
    tmp_path: Path,
) -> None:
    report = run_check(_shield_project(tmp_path / "a", ""), env={})
    assert [i[:2] for i in _shield_items(report)] == [
        ("shield", "ok"),
        ("sample traffic", "skipped"),
    ]
    off = run_check(_shield_project(tmp_path / "b", "enabled = false\n"), env={})
    assert off.exit_code == 1
    assert _shield_items(off)[0][:2] == ("shield", "finding")


def test_bad_sample_lines_are_named_and_a_missing_sample_is_bad_input(tmp_path: Path) -> None:
    project = _shield_project(
        tmp_path / "p", 'sample_traffic = "traffic.jsonl"\n', [json.dumps({"path": "/"}), "{oops"]
    )
    report = run_check(project, env={})
    assert report.exit_code == 3
    assert ("sample traffic", "error") in [i[:2] for i in _shield_items(report)]
    assert any("traffic.jsonl:2: not a request record" in i[2] for i in _shield_items(report))
    missing = _shield_project(tmp_path / "q", 'sample_traffic = "nope.jsonl"\n')
    run = invoke("check", str(missing))
    assert run.exit_code == 2
    assert "shield.sample_traffic = " in run.stdout
