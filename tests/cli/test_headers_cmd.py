"""``bulletproof headers show`` and ``bulletproof headers check`` (URL and --app).

Runs the ``headers`` click group directly; real servers on 127.0.0.1 (see
``tests/observatory/test_fetch.py``), apps written to a temporary directory and imported by path.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import textwrap
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from tests.observatory.test_fetch import (
    HTML,
    SLOW_RESPONSE,
    DripServer,
    Seen,
    SiteServer,
    closed_port,
    page,
    redirect,
)

from bulletproof.cli._headers import headers
from bulletproof.headers import Preset, secure_headers
from bulletproof.observatory import TEST_NAMES


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str


def run(*args: str) -> Run:
    """Invoke ``headers ARGS``; fail on an uncaught exception or a traceback in the output."""
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:
        runner = CliRunner(mix_stderr=False)  # type: ignore[call-arg,unused-ignore]
    else:
        runner = CliRunner()
    result = runner.invoke(headers, list(args), prog_name="bulletproof headers")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"headers {args} raised {result.exception!r}") from result.exception
    for out in (result.stdout, result.stderr):
        assert "Traceback" not in out
    return Run(result.exit_code, result.stdout, result.stderr)


# -- show -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", [p.value for p in Preset])
def test_show_json_is_the_header_list(preset: str) -> None:
    got = run("show", "--preset", preset, "--format", "json")
    assert got.exit_code == 0, got.stderr
    expected = [[name, value] for name, value in secure_headers(preset=preset).headers]
    assert json.loads(got.stdout) == expected


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project directory as the current directory, no BULLETPROOF_* in the environment."""
    for key in [k for k in os.environ if k.startswith("BULLETPROOF_")]:
        monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_show_text_defaults_to_helmet(project: Path) -> None:
    got = run("show")
    assert got.exit_code == 0
    lines = got.stdout.splitlines()
    assert lines[0].startswith("Content-Security-Policy: default-src 'self';base-uri 'self';")
    assert "X-Frame-Options: SAMEORIGIN" in lines
    assert lines[-1] == "(removed from every response: x-powered-by)"


PROJECT = """\
[project]
name = "shop"
version = "0.0.1"

[tool.bulletproof.headers]
x_frame_options = { action = "deny" }
"""


def test_show_without_a_preset_is_the_projects_own_header_set(project: Path) -> None:
    (project / "pyproject.toml").write_text(PROJECT, encoding="utf-8")
    got = run("show")
    assert got.exit_code == 0, got.stderr
    assert "X-Frame-Options: DENY" in got.stdout.splitlines()
    assert "X-Frame-Options: SAMEORIGIN" not in got.stdout
    assert got.stderr.startswith("bulletproof: the project's header set, from its config (")
    assert "pyproject.toml [tool.bulletproof]" in got.stderr
    assert str(project.resolve()) in got.stderr
    own = secure_headers(x_frame_options={"action": "deny"})
    as_json = run("show", "--format", "json")
    assert json.loads(as_json.stdout) == [[name, value] for name, value in own.headers]
    # --preset still shows the preset, whatever the project configures, and says nothing more
    preset = run("show", "--preset", "helmet")
    assert preset.exit_code == 0
    assert "X-Frame-Options: SAMEORIGIN" in preset.stdout.splitlines()
    assert preset.stderr == ""


def test_show_without_a_config_says_so(project: Path) -> None:
    got = run("show")
    assert got.exit_code == 0
    assert "(defaults, in " in got.stderr
    assert [line.split(": ", 1) for line in got.stdout.splitlines()[:-1]] == [
        list(header) for header in secure_headers().headers
    ]


def test_show_with_an_invalid_config_exits_2(project: Path) -> None:
    (project / "pyproject.toml").write_text(PROJECT.replace('"deny"', '"nope"'), encoding="utf-8")
    got = run("show")
    assert got.exit_code == 2
    assert got.stderr.startswith("bulletproof: error: ")
    assert "x_frame_options" in got.stderr
    assert got.stdout == ""


def test_show_unknown_preset_is_a_usage_error() -> None:
    got = run("show", "--preset", "paranoid")
    assert got.exit_code == 2
    assert "'paranoid' is not one of" in got.stderr


# -- check URL ------------------------------------------------------------------------------------

GOOD = (
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def test_check_url_text_lists_every_test_then_score_and_grade() -> None:
    with SiteServer({"/": page(("X-Content-Type-Options", "nosniff"))}) as site:
        got = run("check", site.url + "/", "--https-port", str(closed_port()))
    assert got.exit_code == 0, got.stderr
    lines = got.stdout.splitlines()
    assert lines[0] == f"bulletproof headers check {site.url}/"
    assert lines[1] == "  https unreachable"
    assert lines[2] == f"  http  {site.url}/ 200"
    for name in TEST_NAMES:
        assert any(line.split()[:1] == [name] for line in lines), name
    assert "  x-content-type-options            0  pass  x-content-type-options-nosniff" in lines
    # 100 - 25 CSP - 20 redirection missing - 20 HSTS (no https) - 20 XFO
    assert lines[-1] == "score: 15  grade: F  (8 passed, 4 failed)"


def test_check_url_json() -> None:
    with SiteServer({"/": redirect("/home"), "/home": page(*GOOD)}) as site:
        got = run("check", site.url, "--https-port", str(closed_port()), "--format", "json")
    assert got.exit_code == 0, got.stderr
    doc = json.loads(got.stdout)
    assert set(doc) == {"score", "grade", "passed", "failed", "tests", "url"}
    assert list(doc["tests"]) == list(TEST_NAMES)
    assert doc["url"] == site.url + "/home"
    assert doc["tests"]["redirection"] == {
        "result": "redirection-not-to-https",
        "score_modifier": -20,
        "passed": False,
        "description": "Redirects from HTTP do not end on HTTPS.",
    }
    # CSP +10 and referrer +5 are dropped: penalties are 20 (redirection) + 20 (HSTS, no https)
    assert (doc["score"], doc["grade"], doc["passed"], doc["failed"]) == (60, "C+", 10, 2)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def https_site(ca: trustme.CA) -> Iterator[SiteServer]:
    with SiteServer({"/": page(*GOOD)}, tls=ca) as site:
        yield site


def test_check_https_with_a_private_ca(
    https_site: SiteServer, ca: trustme.CA, tmp_path: Path
) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    routes = {"/": redirect(f"https://127.0.0.1:{https_site.port}/", 301)}
    with SiteServer(routes) as plain:
        got = run(
            "check",
            plain.url,
            "--https-port",
            str(https_site.port),
            "--cafile",
            str(ca_file),
            "--format",
            "json",
            "--min-grade",
            "A+",
        )
    assert got.exit_code == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["tests"]["redirection"]["result"] == "redirection-to-https"
    assert doc["tests"]["strict-transport-security"]["passed"] is True
    # CSP +10, referrer +5, XFO via frame-ancestors +5
    assert (doc["score"], doc["grade"]) == (120, "A+")


def test_check_https_untrusted_certificate_is_reported(https_site: SiteServer) -> None:
    got = run("check", https_site.url, "--http-port", str(closed_port()))
    assert got.exit_code == 0, got.stderr
    assert f"  https {https_site.url}/ 200  (certificate did not verify)" in got.stdout
    assert "hsts-invalid-cert" in got.stdout


@pytest.mark.parametrize(("minimum", "code"), [("A+", 1), ("D", 1), ("D-", 1), ("F", 0)])
def test_min_grade(minimum: str, code: int) -> None:
    with SiteServer({"/": page(("X-Content-Type-Options", "nosniff"))}) as site:  # graded F
        got = run("check", site.url, "--https-port", str(closed_port()), "--min-grade", minimum)
    assert got.exit_code == code
    assert ("below --min-grade" in got.stderr) == bool(code)
    if code:
        assert f"bulletproof: grade F is below --min-grade {minimum}" in got.stderr
    assert got.stdout.splitlines()[-1].startswith("score: 15  grade: F")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("check",), "give either a URL or --app"),
        (("check", "https://example.com/", "--app", "x:app"), "give either a URL or --app"),
        (("check", "gopher://example.com/"), "scheme 'gopher' is not supported"),
        (("check", "https://exa mple.com/"), "whitespace or control characters"),
        (("check", "https://example.com/\r\nX-Evil: 1"), "whitespace or control characters"),
        (("check", "https://u:secret@example.com/"), "credentials in the URL"),
        (("check", "https://example.com/", "--path", "/x"), "--path and --host go with --app"),
        (("check", "--app", "x:app", "--https-port", "8443"), "go with a URL, not --app"),
    ],
)
def test_bad_input_exits_2(args: tuple[str, ...], message: str) -> None:
    got = run(*args)
    assert got.exit_code == 2
    assert message in got.stderr
    assert "secret" not in got.stderr
    assert got.stderr.count("\n") == 1  # one line, whatever the input


def test_bad_files_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "preload.json"
    bad.write_text("{}")
    got = run("check", "https://example.com/", "--hsts-preload-list", str(bad))
    assert got.exit_code == 2
    assert "HSTS preload list: not Chromium's" in got.stderr
    got = run("check", "https://example.com/", "--hsts-preload-list", str(tmp_path / "none"))
    assert got.exit_code == 2
    assert "cannot read it" in got.stderr
    got = run("check", "https://example.com/", "--cafile", str(tmp_path / "none.pem"))
    assert got.exit_code == 2
    assert "cannot load the CA bundle" in got.stderr


def test_unreachable_exits_3() -> None:
    port = closed_port()
    got = run("check", f"http://127.0.0.1:{port}/", "--https-port", str(closed_port()))
    assert got.exit_code == 3
    assert got.stderr.startswith("bulletproof: error: could not fetch 127.0.0.1: ")
    assert "Connection refused" in got.stderr


def test_timeout_exits_3() -> None:
    with SiteServer({}) as site:

        def hold(_seen: Seen) -> None:
            site.release.wait(5)

        site.on_request = hold
        got = run("check", site.url, "--https-port", str(closed_port()), "--timeout", "0.3")
    assert got.exit_code == 3
    assert "timed out after 0.3 s" in got.stderr


@pytest.mark.parametrize("drip_fed", ["direct", "after redirects"])
def test_timeout_is_a_deadline_for_the_whole_fetch(drip_fed: str) -> None:
    # Every read succeeds (a byte every 0.2 s for 8 s): only a deadline on the fetch stops it.
    with DripServer(SLOW_RESPONSE) as slow, SiteServer({}) as site:
        site.routes.update({"/": redirect("/next"), "/next": redirect(slow.url + "/slow")})
        url = slow.url + "/slow" if drip_fed == "direct" else site.url + "/"
        # No bound on the time taken (a shared machine): without the deadline the drip would
        # finish after 8 s and be graded, so the exit code and message prove the deadline cut it.
        got = run("check", url, "--https-port", str(closed_port()), "--timeout", "0.5")
    assert got.exit_code == 3
    assert got.stdout == ""
    assert got.stderr.count("\n") == 1  # one line
    assert got.stderr.startswith("bulletproof: error: could not fetch 127.0.0.1: https://")
    assert f"; {slow.url}/slow: timed out after 0.5 s: " in got.stderr
    assert "give a longer timeout (--timeout)" in got.stderr


def test_check_without_a_scheme_reads_a_port_as_plain_http() -> None:
    # `headers check localhost:8101` for a development server: the port is plain HTTP's.
    with SiteServer({"/": page(("X-Content-Type-Options", "nosniff"))}) as site:
        bare = f"localhost:{site.port}"
        got = run("check", bare, "--https-port", str(closed_port()))
        as_json = run("check", bare, "--https-port", str(closed_port()), "--format", "json")
    assert got.exit_code == 0, got.stderr
    lines = got.stdout.splitlines()
    assert lines[0] == f"bulletproof headers check {bare}"
    assert lines[1] == "  https unreachable"
    assert lines[2] == f"  http  http://localhost:{site.port}/ 200"
    assert lines[3].startswith(
        f"  assumed: no scheme given: {bare} is read as http://localhost:{site.port}/ "
    )
    assert lines[-1] == "score: 15  grade: F  (8 passed, 4 failed)"
    doc = json.loads(as_json.stdout)
    assert doc["url"] == f"http://localhost:{site.port}/"
    assert doc["assumed"][0].startswith("no scheme given: ")


def test_ungradable_status_exits_3() -> None:
    with SiteServer({}) as site:
        got = run("check", site.url + "/missing", "--https-port", str(closed_port()))
    assert got.exit_code == 3
    assert "HTTP status 404" in got.stderr


# -- check --app ----------------------------------------------------------------------------------

ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["greeting"] = "hello from lifespan"
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert scope["type"] == "http" and scope["scheme"] == "https"
    await receive()
    if scope["method"] == "OPTIONS":
        await send({"type": "http.response.start", "status": 204,
                    "headers": [(b"access-control-allow-origin", b"*")]})
        await send({"type": "http.response.body", "body": b""})
        return
    if scope["path"] == "/":
        cookie = (b"set-cookie", b"sessionid=1; Path=/; HttpOnly")
        await send({"type": "http.response.start", "status": 302,
                    "headers": [(b"location", b"/home"), cookie]})
        await send({"type": "http.response.body", "body": b""})
        return
    body = ("<p>" + scope["state"]["greeting"] + "</p>").encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
        (b"strict-transport-security", b"max-age=63072000"),
        (b"x-content-type-options", b"nosniff"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body[:4], "more_body": True})
    await send({"type": "http.response.body", "body": body[4:]})
"""

WSGI_APP = """
def application(environ, start_response):
    assert environ["wsgi.url_scheme"] == "https" and environ["HTTP_HOST"] == "shop.example.org"
    if environ["REQUEST_METHOD"] == "OPTIONS":
        origin = environ.get("HTTP_ORIGIN", "")
        start_response("200 OK", [("Access-Control-Allow-Origin", origin),
                                  ("Access-Control-Allow-Credentials", "true")])
        return [b""]
    if environ["PATH_INFO"] == "/account":
        start_response("200 OK", [
            ("Content-Type", "text/html"),
            ("X-Frame-Options", "DENY"),
            ("Set-Cookie", "sessionid=abc; Secure; HttpOnly; SameSite=Lax"),
        ])
        return [b"<script src='https://cdn.example.net/x.js'></script>"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no"]
"""

BROKEN_APPS = {
    "raises": """
def app(environ, start_response):
    raise RuntimeError("database is down")
""",
    "hangs": """
import asyncio
async def app(scope, receive, send):
    if scope["type"] == "http":
        await asyncio.Event().wait()  # never set: the grader must give up on its own
""",
    "silent": """
async def app(scope, receive, send):
    return None
""",
    "wsgi_hangs": """
import threading
release = threading.Event()  # set by the test once the check has given up on the app
def app(environ, start_response):
    release.wait()
    start_response("200 OK", [])
    return [b""]
""",
    "lifespan_fails": """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database\\nat all"})
""",
    "lifespan_hangs": """
import asyncio
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await asyncio.Event().wait()  # never set: startup never completes
""",
    "body_first": """
async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.body", "body": b"oops"})
""",
    "wsgi_no_status": """
def app(environ, start_response):
    return [b"forgot start_response"]
""",
}

PROTECTED_APPS = {
    "starlette": """
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route
from bulletproof.protect import protect

async def home(request):
    return HTMLResponse("Hello world!")

app = protect(Starlette(routes=[Route("/", home)]))
""",
    "flask": """
from flask import Flask
from bulletproof.protect import protect

app = Flask(__name__)

@app.get("/")
def home():
    return "Hello world!"

protect(app)
""",
}


@pytest.mark.parametrize("framework", sorted(PROTECTED_APPS))
def test_protected_framework_app_grades_like_helmet(
    app_dir: tuple[Path, str], framework: str
) -> None:
    # The same grade the Observatory gave Helmet's defaults (observatory-grades.json): 130, A+.
    module = write_app(app_dir, framework, PROTECTED_APPS[framework])
    got = run("check", "--app", f"{module}:app", "--format", "json")
    assert got.exit_code == 0, got.stderr
    doc = json.loads(got.stdout)
    assert (doc["score"], doc["grade"], doc["passed"]) == (130, "A+", 12)
    assert doc["tests"]["x-frame-options"]["result"] == "x-frame-options-implemented-via-csp"


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A directory on sys.path for app modules, and a unique module name prefix."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    prefix = f"bp_app_{uuid.uuid4().hex[:8]}"
    yield tmp_path, prefix
    for name in [m for m in sys.modules if m.startswith(prefix)]:
        del sys.modules[name]


def write_app(app_dir: tuple[Path, str], name: str, source: str) -> str:
    folder, prefix = app_dir
    module = f"{prefix}_{name}"
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    return module


def test_check_app_asgi(app_dir: tuple[Path, str]) -> None:
    module = write_app(app_dir, "asgi", ASGI_APP)
    got = run("check", "--app", f"{module}:app", "--format", "json")
    assert got.exit_code == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["url"] == "https://localhost/home"
    tests = {name: t["result"] for name, t in doc["tests"].items()}
    assert tests["content-security-policy"] == "csp-implemented-with-no-unsafe"
    assert tests["x-frame-options"] == "x-frame-options-implemented-via-csp"
    assert tests["cookies"] == "cookies-session-without-secure-flag-but-protected-by-hsts"
    assert tests["cross-origin-resource-sharing"] == (
        "cross-origin-resource-sharing-implemented-with-public-access"
    )
    assert tests["redirection"] == "redirection-to-https"
    assert doc["assumed"][0].startswith("served over https")
    # penalties 10 (session cookie without Secure, softened by HSTS): bonuses count:
    # 100 - 10 + 5 (CSP) + 10 (COOP) + 5 (XFO) = 110
    assert (doc["score"], doc["grade"]) == (110, "A+")


def test_check_app_asgi_text_shows_assumptions_and_route(app_dir: tuple[Path, str]) -> None:
    module = write_app(app_dir, "asgi_text", ASGI_APP)
    got = run("check", "--app", module)  # no attribute: 'app' is the default
    assert got.exit_code == 0, got.stderr
    lines = got.stdout.splitlines()
    assert lines[0] == f"bulletproof headers check --app {module}"
    assert lines[1] == "  https https://localhost/ 302 -> https://localhost/home 200"
    assert lines[2] == "  http  http://localhost/ 301 -> https://localhost/ 302"
    assert any(line.startswith("  assumed: plain http redirects to https") for line in lines)
    assert lines[-1] == "score: 110  grade: A+  (11 passed, 1 failed)"


def test_check_app_wsgi(app_dir: tuple[Path, str]) -> None:
    module = write_app(app_dir, "wsgi", WSGI_APP)
    got = run(
        "check",
        "--app",
        f"{module}:application",
        "--path",
        "/account",
        "--host",
        "shop.example.org",
        "--format",
        "json",
    )
    assert got.exit_code == 0, got.stderr
    doc = json.loads(got.stdout)
    assert doc["url"] == "https://shop.example.org/account"
    tests = {name: t["result"] for name, t in doc["tests"].items()}
    assert tests["cookies"] == "cookies-secure-with-httponly-sessions-and-samesite"
    assert tests["subresource-integrity"] == (
        "sri-not-implemented-but-external-scripts-loaded-securely"
    )
    assert tests["cross-origin-resource-sharing"] == (
        "cross-origin-resource-sharing-implemented-with-universal-access"
    )
    assert tests["x-frame-options"] == "x-frame-options-sameorigin-or-deny"
    # 100 - 25 CSP - 50 CORS - 20 HSTS - 5 SRI - 5 XCTO = -5 -> 0
    assert (doc["score"], doc["grade"]) == (0, "F")


def test_check_app_with_a_preload_list(app_dir: tuple[Path, str], tmp_path: Path) -> None:
    module = write_app(app_dir, "wsgi_preload", WSGI_APP)
    preload = tmp_path / "preload.json"
    preload.write_text(
        '{\n  // Chromium style comment\n  "entries": [{"name": "example.org", '
        '"mode": "force-https", "include_subdomains": true}]\n}'
    )
    args = ["check", "--app", f"{module}:application", "--path", "/account"]
    args += ["--host", "shop.example.org", "--format", "json"]
    got = run(*args, "--hsts-preload-list", str(preload))
    assert got.exit_code == 0, got.stderr
    tests = json.loads(got.stdout)["tests"]
    assert tests["strict-transport-security"]["result"] == "hsts-preloaded"
    assert tests["redirection"]["result"] == "redirection-all-redirects-preloaded"
    without = json.loads(run(*args).stdout)["tests"]
    assert without["strict-transport-security"]["result"] == "hsts-not-implemented"


def test_check_app_not_found_path_exits_3(app_dir: tuple[Path, str]) -> None:
    module = write_app(app_dir, "wsgi404", WSGI_APP)
    got = run("check", "--app", f"{module}:application", "--host", "shop.example.org")
    assert got.exit_code == 3
    assert "HTTP status 404" in got.stderr


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bp_nowhere_{prefix}:app", "no module named 'bp_nowhere_{prefix}'"),
        ("{module}:ap", "has no attribute 'ap'. Did you mean 'app'?"),
        ("{module}:VALUE", "app '{module}:VALUE': a 'int' object is not callable"),
        ("{module}:helper", "app '{module}:helper': cannot tell whether it is an ASGI or a WSGI"),
        ("{module}:types", "app '{module}:types': module 'types' is a module, not an ASGI"),
        ("not a path", "is not valid"),
    ],
)
def test_check_app_bad_app_exits_2(app_dir: tuple[Path, str], spec: str, message: str) -> None:
    source = ASGI_APP + "\nimport types\nVALUE = 3\ndef helper(a, b, c, d):\n    return None\n"
    module = write_app(app_dir, "bad", source)
    prefix = app_dir[1]
    got = run("check", "--app", spec.format(module=module, prefix=prefix))
    assert got.exit_code == 2
    assert message.format(prefix=prefix, module=module) in got.stderr


def test_check_app_import_error_names_the_module(app_dir: tuple[Path, str]) -> None:
    module = write_app(app_dir, "imports", "import bp_missing_dependency_xyz\napp = None\n")
    got = run("check", "--app", f"{module}:app")
    assert got.exit_code == 2
    assert f"importing module {module!r} failed" in got.stderr
    assert "bp_missing_dependency_xyz" in got.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("raises", "the app raised RuntimeError: database is down"),
        ("hangs", "did not finish its response within 0.2 s"),
        ("silent", "the app returned without a complete response"),
        ("wsgi_hangs", "the app did not answer within 0.2 s"),
        ("lifespan_fails", "the app's lifespan startup failed: no database\\nat all\n"),
        ("lifespan_hangs", "lifespan startup did not finish within 0.2 s"),
        ("body_first", "RuntimeError: http.response.body sent before http.response.start"),
        ("wsgi_no_status", "did not call start_response with a status line"),
    ],
)
def test_check_app_that_fails_exits_3(app_dir: tuple[Path, str], name: str, message: str) -> None:
    module = write_app(app_dir, name, BROKEN_APPS[name])
    try:
        got = run("check", "--app", f"{module}:app", "--timeout", "0.2")
    finally:
        release = getattr(sys.modules.get(module), "release", None)
        if release is not None:
            release.set()  # the app that hangs until told: its abandoned call returns now
    assert got.exit_code == 3
    assert message in got.stderr


def test_an_app_that_raises_after_its_response_is_still_graded(
    app_dir: tuple[Path, str],
) -> None:
    source = """
    async def app(scope, receive, send):
        if scope["type"] != "http":
            raise RuntimeError("no lifespan here")
        await send({"type": "http.response.start", "status": 500 if scope["path"] == "/x" else 200,
                    "headers": [(b"x-content-type-options", b"nosniff")]})
        await send({"type": "http.response.body", "body": b"sent"})
        raise ValueError("like Starlette's ServerErrorMiddleware, after the 500 page")
    """
    module = write_app(app_dir, "reraise", source)
    got = run("check", "--app", f"{module}:app", "--format", "json")
    assert got.exit_code == 0, got.stderr
    assert json.loads(got.stdout)["tests"]["x-content-type-options"]["passed"] is True


def test_check_app_bad_path_exits_2(app_dir: tuple[Path, str]) -> None:
    module = write_app(app_dir, "asgi_path", ASGI_APP)
    got = run("check", "--app", f"{module}:app", "--path", "home")
    assert got.exit_code == 2
    assert "must start with '/'" in got.stderr


def test_redirect_loop_in_app_stops_after_ten(app_dir: tuple[Path, str]) -> None:
    source = """
    def app(environ, start_response):
        n = int(environ["PATH_INFO"].strip("/") or 0)
        start_response("302 Found", [("Location", f"/{n + 1}")])
        return [b""]
    """
    module = write_app(app_dir, "loop", source)
    got = run("check", "--app", f"{module}:app", "--format", "json")
    assert got.exit_code == 0, got.stderr
    assert json.loads(got.stdout)["url"] == "https://localhost/10"


def test_html_response_still_uses_server_headers_verbatim() -> None:
    # Duplicate and folded headers come through the fetcher joined the way Node joins them.
    routes = {
        "/": lambda _s: (
            200,
            [HTML, ("X-Frame-Options", "DENY"), ("X-Frame-Options", "DENY")],
            b"<p>x</p>",
        )
    }
    with SiteServer(routes) as site:
        got = run("check", site.url, "--https-port", str(closed_port()), "--format", "json")
    assert json.loads(got.stdout)["tests"]["x-frame-options"]["result"] == (
        "x-frame-options-header-invalid"
    )
