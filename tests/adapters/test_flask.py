# ruff: noqa: TID253  (these tests import the web frameworks they exercise)
"""BulletproofFlask through a real Flask app: test client, and Werkzeug's server on a socket."""

from __future__ import annotations

import http.client
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask, Response, abort, g, redirect, render_template_string, stream_with_context
from tests.adapters.common import (
    HELMET_DEFAULTS,
    NONCE_DIRECTIVES,
    ROUTE_OVERRIDE,
    assert_configured,
    assert_helmet_defaults,
    csp_nonce,
    header,
    page_nonce,
    serve_wsgi,
    wire_headers,
)
from werkzeug.serving import make_server
from werkzeug.test import Client
from werkzeug.wrappers import Response as WerkzeugResponse

from bulletproof.adapters.flask import BulletproofFlask
from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
from bulletproof.errors import ConfigError
from bulletproof.headers import secure_headers
from bulletproof.protect import protect

PAGE = '<html><body><script nonce="{{ csp_nonce() }}">hello()</script></body></html>'
G_PAGE = '<html><body><script nonce="{{ g.csp_nonce }}">hello()</script></body></html>'


def build(static: Path) -> Flask:
    app = Flask(__name__, static_folder=str(static), static_url_path="/static")

    @app.get("/")
    def hello() -> str:
        return "Hello world!"

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("the view failed")

    @app.get("/forbidden")
    def forbidden() -> str:
        abort(403)

    @app.get("/redirect")
    def go() -> WerkzeugResponse:
        return redirect("/")

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            yield "one\n"
            yield "two\n"

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/own")
    def own() -> Response:
        response = Response("mine")
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "default-src 'none'"
        response.headers["X-Powered-By"] = "route"
        return response

    @app.get("/page")
    def page() -> str:
        return render_template_string(PAGE)

    @app.get("/g")
    def g_page() -> str:
        assert g.csp_nonce
        return render_template_string(G_PAGE)

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template_string(PAGE), 404

    return app


@pytest.fixture(scope="module")
def static_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("static")
    (path / "app.js").write_text("console.log(1)\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def app(static_dir: Path) -> Flask:
    flask_app = build(static_dir)
    BulletproofFlask(flask_app)
    return flask_app


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/missing", 404),
        ("GET", "/boom", 500),
        ("GET", "/forbidden", 403),
        ("GET", "/redirect", 302),
        ("GET", "/stream", 200),
        ("GET", "/static/app.js", 200),
        ("HEAD", "/", 200),
        ("HEAD", "/static/app.js", 200),
        ("POST", "/", 405),
    ],
)
def test_helmet_defaults_on_every_kind_of_response(
    app: Flask, method: str, path: str, status: int
) -> None:
    response = app.test_client().open(path, method=method)
    response.close()  # a static file response holds the file open until closed
    assert response.status_code == status
    assert_helmet_defaults(response.headers.to_wsgi_list(), exact_case=True)


def test_streaming_and_head(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/stream").get_data(as_text=True) == "one\ntwo\n"
    head = client.head("/")
    assert head.get_data() == b""
    assert head.headers["Content-Length"] == "12"


def test_the_route_wins_and_keeps_helmets_position(app: Flask) -> None:
    raw = app.test_client().get("/own").headers.to_wsgi_list()
    expected = [(n, v) for n, v in ROUTE_OVERRIDE if n != "X-Powered-By"]
    expected.insert(5, HELMET_DEFAULTS[5])  # the Express route deleted HSTS; ours did not
    assert raw[: len(expected)] == expected
    assert header(raw, "X-Powered-By") == []


def test_nonce_in_the_header_is_the_one_the_template_received(static_dir: Path) -> None:
    flask_app = build(static_dir)
    BulletproofFlask(flask_app, secure_headers(content_security_policy=NONCE_DIRECTIVES))
    client = flask_app.test_client()
    seen = set()
    for path in ("/page", "/page", "/g", "/missing"):  # the 404 handler renders a template too
        response = client.get(path)
        raw = response.headers.to_wsgi_list()
        nonce = csp_nonce(raw)
        assert page_nonce(response.get_data(as_text=True)) == nonce
        seen.add(nonce)
    assert len(seen) == 4


def test_init_app_later_and_only_once(static_dir: Path) -> None:
    flask_app = build(static_dir)
    assert BulletproofFlask().middleware is None
    extension = BulletproofFlask()
    extension.init_app(flask_app)
    assert isinstance(flask_app.wsgi_app, BulletproofWSGIMiddleware)
    assert extension.middleware is flask_app.wsgi_app
    assert flask_app.extensions["bulletproof"] is extension
    with pytest.raises(ConfigError, match="already has bulletproof installed"):
        BulletproofFlask(flask_app)
    with pytest.raises(ConfigError, match="not a Flask app"):
        extension.init_app(object())


def test_protect_installs_on_the_flask_app_and_returns_it(static_dir: Path) -> None:
    flask_app = build(static_dir)
    assert protect(flask_app) is flask_app
    assert isinstance(flask_app.wsgi_app, BulletproofWSGIMiddleware)
    client = Client(flask_app)
    response = client.get("/static/app.js")
    response.close()
    assert_helmet_defaults(response.headers.to_wsgi_list(), exact_case=True)


def test_on_the_wire_through_werkzeug(app: Flask) -> None:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        for path in ("/", "/missing", "/static/app.js"):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            conn.close()
            raw = response.getheaders()
            security = [
                (n, v) for n, v in raw if n.lower() in {h.lower() for h, _ in HELMET_DEFAULTS}
            ]
            assert security == HELMET_DEFAULTS
            # Werkzeug's server writes its own Server line; the app's headers carry none
            assert header(raw, "X-Powered-By") == []
    finally:
        server.shutdown()
        thread.join(5)


def test_a_template_asking_for_a_nonce_the_policy_lacks_logs_the_fix_once(
    static_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    flask_app = build(static_dir)
    flask_app.add_url_rule("/g-page", "g_page_any", lambda: render_template_string(G_PAGE))
    BulletproofFlask(flask_app, secure_headers())  # Helmet's CSP: no {nonce}
    client = flask_app.test_client()
    caplog.set_level(logging.ERROR, logger="bulletproof.headers")
    for path in ("/page", "/g-page", "/page"):
        response = client.get(path)
        # the page still renders as before (a <script src> with nonce="" loads under 'self')
        assert response.status_code == 200
        assert page_nonce(response.get_data(as_text=True)) == ""
    (record,) = [r for r in caplog.records if "{nonce}" in r.getMessage()]
    assert record.levelno == logging.ERROR
    message = record.getMessage()
    assert "csp_nonce() / g.csp_nonce" in message
    assert "script-src" in message
    assert 'Add "{nonce}"' in message


# -- the project's config reaches the app ----------------------------------------------------


@pytest.mark.usefixtures("project")
def test_protect_puts_the_project_config_on_the_wire(static_dir: Path) -> None:
    flask_app = protect(build(static_dir))
    with serve_wsgi(flask_app) as port:
        for path, status in [("/", 200), ("/missing", 404), ("/static/app.js", 200)]:
            got_status, raw = wire_headers(port, "GET", path)
            assert got_status == status
            assert_configured(raw)


@pytest.mark.usefixtures("empty_project")
def test_app_config_headers_reach_the_wire(static_dir: Path) -> None:
    flask_app = build(static_dir)
    flask_app.config["BULLETPROOF_HEADERS"] = {
        "x_frame_options": {"action": "deny"},
        "referrer_policy": {"policy": "same-origin"},
    }
    BulletproofFlask(flask_app)
    with serve_wsgi(flask_app) as port:
        _, raw = wire_headers(port, "GET", "/")
    assert_configured(raw)


@pytest.mark.usefixtures("project")
def test_app_config_headers_replace_the_project_table(static_dir: Path) -> None:
    flask_app = build(static_dir)
    flask_app.config["BULLETPROOF_HEADERS"] = {"referrer_policy": {"policy": "same-origin"}}
    BulletproofFlask(flask_app)
    raw = flask_app.test_client().get("/").headers.to_wsgi_list()
    assert header(raw, "Referrer-Policy") == ["same-origin"]
    assert header(raw, "X-Frame-Options") == ["SAMEORIGIN"]  # the file's table was replaced


@pytest.mark.usefixtures("empty_project")
@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"BULLETPROOF_HEADERS": {"x_frame_option": False}}, "Did you mean 'x_frame_options'"),
        (
            {"BULLETPROOF_HEADERS": ["deny"]},
            "app.config.BULLETPROOF_HEADERS=\\['deny'\\] is a list",
        ),
        ({"BULLETPROOF_HEADERZ": {}}, "Did you mean 'headers'.*app.config.BULLETPROOF_HEADERZ"),
        ({"BULLETPROOF_EMITTER": "no.such.pipeline"}, "BULLETPROOF_EMITTER.*cannot be imported"),
    ],
)
def test_app_config_errors_name_the_key_and_the_fix(
    static_dir: Path, config: dict[str, object], words: str
) -> None:
    flask_app = build(static_dir)
    flask_app.config.update(config)
    with pytest.raises(ConfigError, match=words):
        BulletproofFlask(flask_app)
