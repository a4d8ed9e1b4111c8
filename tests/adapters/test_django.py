# ruff: noqa: TID253  (these tests import the web frameworks they exercise)
"""Django: the settings-driven middleware and protect() around the real WSGI and ASGI handlers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import django
import jinja2
import pytest
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.test import AsyncClient, Client, RequestFactory, override_settings
from django.urls import path
from tests.adapters.common import (
    CSP_REPORT_BODY,
    HELMET_DEFAULTS,
    NONCE_DIRECTIVES,
    ROUTE_OVERRIDE,
    ListEmitter,
    TestClient,
    assert_configured,
    assert_helmet_defaults,
    header,
    http_request,
    page_nonce,
    serve,
    serve_wsgi,
    wire_headers,
)
from tests.adapters.common import (
    csp_nonce as header_nonce,
)
from werkzeug.test import Client as WSGIClient

from bulletproof.adapters.asgi import BulletproofMiddleware as ASGIMiddleware
from bulletproof.adapters.django import BulletproofMiddleware, csp_nonce
from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
from bulletproof.errors import ConfigError
from bulletproof.events.pipeline import EventPipeline
from bulletproof.headers import secure_headers
from bulletproof.headers._report import CspReportEndpoint
from bulletproof.protect import protect

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bulletproof-tests",  # noqa: S106
        ALLOWED_HOSTS=["*"],
        INSTALLED_APPS=[],
        USE_TZ=True,
        ROOT_URLCONF=__name__,
    )
    django.setup()

JINJA_PAGE = '<html><body><script nonce="{{ csp_nonce }}">hello()</script></body></html>'
DTL_PAGE = '<html><body><script nonce="{{ csp_nonce }}">hello()</script></body></html>'
ATTR_PAGE = '<html><body><script nonce="{{ request.csp_nonce }}">hello()</script></body></html>'

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [],
        "APP_DIRS": False,
        "OPTIONS": {
            "loader": jinja2.DictLoader({"page.html": JINJA_PAGE, "attr.html": ATTR_PAGE}),
            "context_processors": ["bulletproof.adapters.django.csp_nonce"],
        },
    },
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "NAME": "django",
        "DIRS": [],
        "APP_DIRS": False,
        "OPTIONS": {
            "loaders": [("django.template.loaders.locmem.Loader", {"dtl.html": DTL_PAGE})],
            "context_processors": ["bulletproof.adapters.django.csp_nonce"],
        },
    },
]
MIDDLEWARE = ["bulletproof.adapters.django.BulletproofMiddleware"]


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("Hello world!")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


def go(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect("/")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"one\n", b"two\n"]), content_type="text/plain")


def astream(request: HttpRequest) -> StreamingHttpResponse:
    # under ASGI, Django wants an async iterator (a sync one makes it warn)
    async def chunks() -> AsyncIterator[bytes]:
        for chunk in (b"one\n", b"two\n"):
            yield chunk

    return StreamingHttpResponse(chunks(), content_type="text/plain")


def own(request: HttpRequest) -> HttpResponse:
    response = HttpResponse("mine")
    response["X-Frame-Options"] = "DENY"
    response["Content-Security-Policy"] = "default-src 'none'"
    response["X-Powered-By"] = "route"
    response["Server"] = "leaky/1.0"
    return response


def page(request: HttpRequest) -> HttpResponse:
    return render(request, "page.html", using="jinja2")


def dtl(request: HttpRequest) -> HttpResponse:
    return render(request, "dtl.html", using="django")


def attr(request: HttpRequest) -> HttpResponse:
    return render(request, "attr.html", using="jinja2")


shield_views: list[str] = []


def echo(request: HttpRequest) -> HttpResponse:
    """Counts and hashes the body it reads (streamed: no DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    import hashlib
    import json

    shield_views.append(request.path)
    size, digest = 0, hashlib.sha256()
    for chunk in iter(lambda: request.read(65536), b""):
        size += len(chunk)
        digest.update(chunk)
    return HttpResponse(json.dumps({"n": size, "sha": digest.hexdigest()}))


def missing(request: HttpRequest) -> HttpResponse:
    return HttpResponse("no such thing", status=404)


urlpatterns = [
    path("", hello),
    path("echo", echo),
    path("missing", missing),
    path("boom", boom),
    path("redirect", go),
    path("stream", stream),
    path("astream", astream),
    path("own", own),
    path("page", page),
    path("dtl", dtl),
    path("attr", attr),
]

CASES = [
    ("GET", "/", 200),
    ("GET", "/missing", 404),
    ("GET", "/boom", 500),
    ("GET", "/redirect", 302),
    ("GET", "/stream", 200),
    ("HEAD", "/", 200),
]
ASGI_CASES = [(m, "/astream" if p == "/stream" else p, s) for m, p, s in CASES]


@pytest.fixture
def django_settings() -> Iterator[None]:
    with override_settings(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        DEBUG=False,
        TEMPLATES=TEMPLATES,
        MIDDLEWARE=MIDDLEWARE,
    ):
        yield


def response_pairs(response: HttpResponseBase) -> list[tuple[str, str]]:
    return list(response.items())


# -- the settings-driven middleware -----------------------------------------------------------


@pytest.mark.parametrize(("method", "path_", "status"), CASES)
@pytest.mark.usefixtures("django_settings")
def test_middleware_wsgi_helmet_defaults(method: str, path_: str, status: int) -> None:
    client = WSGIClient(WSGIHandler())  # Django's real WSGI handler, headers as sent
    response = client.open(path_, method=method)
    assert response.status_code == status
    assert_helmet_defaults(response.headers.to_wsgi_list(), exact_case=True)


@pytest.mark.parametrize(("method", "path_", "status"), ASGI_CASES)
@pytest.mark.usefixtures("django_settings")
def test_middleware_asgi_helmet_defaults(method: str, path_: str, status: int) -> None:
    handler: Any = ASGIHandler()
    client = TestClient(handler, raise_server_exceptions=False)  # Django has no lifespan
    response = client.request(method, path_, follow_redirects=False)
    assert response.status_code == status
    # Django's ASGI handler keeps header names as the response spells them
    assert_helmet_defaults(response.headers.raw, exact_case=True)


@pytest.mark.usefixtures("django_settings")
def test_middleware_under_the_test_clients() -> None:
    response = Client(raise_request_exception=False).get("/boom")
    assert response.status_code == 500
    assert_helmet_defaults(response_pairs(response), exact_case=True)

    async def run() -> HttpResponseBase:
        return await AsyncClient(raise_request_exception=False).get("/astream")

    streamed = asyncio.run(run())
    assert_helmet_defaults(response_pairs(streamed), exact_case=True)


@pytest.mark.usefixtures("django_settings")
def test_middleware_route_wins_and_keeps_helmets_position() -> None:
    response = Client().get("/own")
    expected = [(n, v) for n, v in ROUTE_OVERRIDE if n != "X-Powered-By"]
    expected.insert(5, HELMET_DEFAULTS[5])  # the Express route deleted HSTS; ours did not
    got = response_pairs(response)
    assert got[: len(expected)] == expected
    assert header(got, "X-Powered-By") == []
    assert header(got, "Server") == []


@pytest.mark.parametrize("url", ["/page", "/dtl", "/attr"])
def test_middleware_nonce_reaches_templates(url: str) -> None:
    options = {"content_security_policy": NONCE_DIRECTIVES}
    with override_settings(
        ROOT_URLCONF=__name__,
        TEMPLATES=TEMPLATES,
        MIDDLEWARE=MIDDLEWARE,
        BULLETPROOF_HEADERS=options,
    ):
        handler = WSGIHandler()
        seen = set()
        for _ in range(3):
            response = WSGIClient(handler).get(url)
            nonce = header_nonce(response.headers.to_wsgi_list())
            assert page_nonce(response.get_data(as_text=True)) == nonce
            seen.add(nonce)
        assert len(seen) == 3

        async def run() -> list[Any]:
            client = AsyncClient()
            return [await client.get(url), await client.get(url)]

        for answer in asyncio.run(run()):
            assert page_nonce(answer.content.decode()) == header_nonce(response_pairs(answer))


def test_middleware_reads_settings_once_and_validates_them() -> None:
    with override_settings(BULLETPROOF_HEADERS={"x_frame_options": {"action": "deny"}}):
        middleware = BulletproofMiddleware(hello)
    assert ("X-Frame-Options", "DENY") in middleware.policy.headers
    with (
        override_settings(BULLETPROOF_HEADERS=["x_frame_options"]),
        pytest.raises(ConfigError, match="BULLETPROOF_HEADERS"),
    ):
        BulletproofMiddleware(hello)
    with (
        override_settings(BULLETPROOF_HEADERS={"x_frame_option": False}),
        pytest.raises(ConfigError, match="BULLETPROOF_HEADERS"),
    ):
        BulletproofMiddleware(hello)
    with (
        override_settings(BULLETPROOF_HEADERS={1: True}),
        pytest.raises(ConfigError, match="not a string"),
    ):
        BulletproofMiddleware(hello)
    with (
        override_settings(BULLETPROOF_EMITTER="no.such.module.pipeline"),
        pytest.raises(ConfigError, match="BULLETPROOF_EMITTER"),
    ):
        BulletproofMiddleware(hello)
    with (
        override_settings(BULLETPROOF_EMITTER=object()),
        pytest.raises(ConfigError, match="BULLETPROOF_EMITTER"),
    ):
        BulletproofMiddleware(hello)


EMITTER = ListEmitter()


def test_middleware_answers_csp_reports() -> None:
    EMITTER.events.clear()
    with override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=MIDDLEWARE,
        BULLETPROOF_HEADERS={"csp_report_path": "/csp-report"},
        BULLETPROOF_EMITTER=f"{__name__}.EMITTER",
    ):
        client = Client()
        ok = client.post("/csp-report", CSP_REPORT_BODY, content_type="application/csp-report")
        bad = client.post("/csp-report", b"{", content_type="application/csp-report")
        big = client.post(
            "/csp-report", b"x" * (64 * 1024 + 1), content_type="application/csp-report"
        )
        get = client.get("/csp-report")

        async def post_async() -> Any:
            return await AsyncClient().post(
                "/csp-report", CSP_REPORT_BODY, content_type="application/csp-report"
            )

        async_ok = asyncio.run(post_async())
    assert async_ok.status_code == 204
    assert ok.status_code == 204
    assert bad.status_code == 400
    assert big.status_code == 413
    assert get.status_code == 405
    assert get["Allow"] == "POST"
    for response in (ok, bad, big, get):
        assert header(response_pairs(response), "Content-Security-Policy")
        assert b"Traceback" not in response.content
    assert EMITTER.actions() == ["csp_violation", "csp_violation"]
    assert EMITTER.events[0].source_ip == "127.0.0.1"


def test_middleware_report_flood_is_429() -> None:
    emitter = ListEmitter()
    middleware = BulletproofMiddleware(
        hello, policy=secure_headers(csp_report_path="/csp-report"), emitter=emitter
    )
    factory = RequestFactory()
    codes = []
    for _ in range(12):
        request = factory.post(
            "/csp-report", CSP_REPORT_BODY, content_type="application/csp-report"
        )
        response = middleware(request)
        assert isinstance(response, HttpResponseBase)
        codes.append(response.status_code)
    assert codes == [204] * 10 + [429] * 2
    assert emitter.actions() == ["csp_violation"] * 10 + ["csp_reports_dropped"]
    request = factory.post("/csp-report", b"x", content_type="application/csp-report")
    request.META["CONTENT_LENGTH"] = "ten"
    middleware.guard.csp_reports = CspReportEndpoint(emitter)
    response = middleware(request)
    assert isinstance(response, HttpResponseBase)
    assert response.status_code == 400


def test_middleware_render_failure_is_a_500_and_an_event() -> None:
    emitter = ListEmitter()

    def bad(context: Any) -> str:
        return "bad;value"

    policy = secure_headers(
        content_security_policy={"directives": {"default-src": ["'self'", bad]}}
    )
    called = []

    def view(request: HttpRequest) -> HttpResponse:
        called.append(request)
        return HttpResponse("never")

    middleware = BulletproofMiddleware(view, policy=policy, emitter=emitter)
    request = HttpRequest()
    request.method = "GET"
    request.path = "/x"
    response = middleware(request)
    assert isinstance(response, HttpResponseBase)
    assert response.status_code == 500
    assert called == []
    assert emitter.actions() == ["header_render_failed"]


# -- protect() around Django's own handlers ---------------------------------------------------


@pytest.mark.parametrize(("method", "path_", "status"), CASES)
def test_protect_wsgi_handler(method: str, path_: str, status: int) -> None:
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], TEMPLATES=TEMPLATES):
        app = protect(WSGIHandler())
        assert isinstance(app, BulletproofWSGIMiddleware)
        response = WSGIClient(app).open(path_, method=method)
    assert response.status_code == status
    assert_helmet_defaults(response.headers.to_wsgi_list(), exact_case=True)


@pytest.mark.parametrize(("method", "path_", "status"), ASGI_CASES)
def test_protect_asgi_handler(method: str, path_: str, status: int) -> None:
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], TEMPLATES=TEMPLATES):
        app = protect(ASGIHandler())
        assert isinstance(app, ASGIMiddleware)
        client = TestClient(app, raise_server_exceptions=False)
        response = client.request(method, path_, follow_redirects=False)
    assert response.status_code == status
    assert_helmet_defaults(response.headers.raw, exact_case=False)


def test_protect_nonce_reaches_the_context_processor() -> None:
    policy = secure_headers(content_security_policy=NONCE_DIRECTIVES)
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], TEMPLATES=TEMPLATES):
        wsgi = WSGIClient(protect(WSGIHandler(), policy)).get("/page")
        assert page_nonce(wsgi.get_data(as_text=True)) == header_nonce(wsgi.headers.to_wsgi_list())
        asgi = TestClient(protect(ASGIHandler(), policy)).get("/dtl")
        assert page_nonce(asgi.text) == header_nonce(asgi.headers.raw)


def test_context_processor_without_a_nonce() -> None:
    request = HttpRequest()
    assert csp_nonce(request) == {"csp_nonce": ""}
    request.META["bulletproof.csp_nonce"] = "abc"
    assert csp_nonce(request) == {"csp_nonce": "abc"}


@pytest.mark.usefixtures("empty_project")
def test_a_template_asking_for_a_nonce_the_policy_lacks_logs_the_fix_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="bulletproof.headers")
    with override_settings(ROOT_URLCONF=__name__, TEMPLATES=TEMPLATES, MIDDLEWARE=MIDDLEWARE):
        handler = WSGIHandler()
        for url in ("/page", "/dtl", "/attr"):  # {{ csp_nonce }} twice, {{ request.csp_nonce }}
            response = WSGIClient(handler).get(url)
            assert response.status_code == 200  # Django renders what is missing as ""
            assert page_nonce(response.get_data(as_text=True)) == ""
    (record,) = [r for r in caplog.records if "{nonce}" in r.getMessage()]
    assert record.levelno == logging.ERROR
    assert "request.csp_nonce / {{ csp_nonce }}" in record.getMessage()
    assert "script-src" in record.getMessage()


# -- the project's config reaches the app ----------------------------------------------------


@pytest.mark.usefixtures("project")
def test_protect_wsgi_handler_puts_the_project_config_on_the_wire() -> None:
    with (
        override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], TEMPLATES=TEMPLATES),
        serve_wsgi(protect(WSGIHandler())) as port,
    ):
        results = [wire_headers(port, "GET", path) for path in ("/", "/missing", "/redirect")]
    assert [status for status, _ in results] == [200, 404, 302]
    for _, raw in results:
        assert_configured(raw)


@pytest.mark.usefixtures("project")
def test_protect_asgi_handler_puts_the_project_config_on_the_wire() -> None:
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=[], TEMPLATES=TEMPLATES):
        app = protect(ASGIHandler())
        with serve(app, lifespan="off", server_header=False) as port:  # Django has no lifespan
            results = [wire_headers(port, "GET", path) for path in ("/", "/missing", "/astream")]
    assert [status for status, _ in results] == [200, 404, 200]
    for _, raw in results:
        assert_configured(raw)


@pytest.mark.usefixtures("project")
def test_middleware_puts_the_project_config_on_the_wire_under_wsgi_and_asgi() -> None:
    with override_settings(ROOT_URLCONF=__name__, MIDDLEWARE=MIDDLEWARE, TEMPLATES=TEMPLATES):
        with serve_wsgi(WSGIHandler()) as port:
            _, wsgi = wire_headers(port, "GET", "/")
        asgi_handler: Any = ASGIHandler()
        with serve(asgi_handler, lifespan="off", server_header=False) as port:
            _, asgi = wire_headers(port, "GET", "/")
    assert_configured(wsgi)
    assert_configured(asgi)


@pytest.mark.usefixtures("empty_project")
def test_settings_reach_the_wire_under_wsgi_and_asgi() -> None:
    options = {"x_frame_options": {"action": "deny"}, "referrer_policy": {"policy": "same-origin"}}
    with override_settings(
        ROOT_URLCONF=__name__,
        MIDDLEWARE=MIDDLEWARE,
        TEMPLATES=TEMPLATES,
        BULLETPROOF_HEADERS=options,
    ):
        wsgi = WSGIClient(WSGIHandler()).get("/")
        asgi_handler: Any = ASGIHandler()
        asgi = TestClient(asgi_handler).get("/")
    assert_configured(wsgi.headers.to_wsgi_list())
    assert_configured(asgi.headers.raw)


@pytest.mark.usefixtures("project")
def test_settings_replace_the_project_headers_table() -> None:
    with override_settings(BULLETPROOF_HEADERS={"referrer_policy": {"policy": "same-origin"}}):
        middleware = BulletproofMiddleware(hello)
    headers = dict(middleware.policy.headers)
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"  # the file's table was replaced


@pytest.mark.usefixtures("empty_project")
def test_other_settings_are_config_keys_too(tmp_path: Path) -> None:
    """BULLETPROOF_<SECTION>__<KEY> is <section>.<key>, as the environment variable would be."""
    sink = tmp_path / "reports.jsonl"
    with override_settings(
        BULLETPROOF_HEADERS={"csp_report_path": "/csp-report"},
        BULLETPROOF_EVENTS__SINKS=[f"file:{sink}"],
        BULLETPROOF_EVENTS__SPOOL_DIR=str(tmp_path / "spool"),
    ):
        middleware = BulletproofMiddleware(hello)
    pipeline = middleware.emitter
    assert isinstance(pipeline, EventPipeline)  # started: the config's headers make events
    try:
        request = RequestFactory().post(
            "/csp-report", CSP_REPORT_BODY, content_type="application/csp-report"
        )
        response = middleware(request)
        assert isinstance(response, HttpResponseBase)
        assert response.status_code == 204
        assert pipeline.drain(10)
    finally:
        pipeline.close()
    assert '"csp_violation"' in sink.read_text(encoding="utf-8")
    with (
        override_settings(BULLETPROOF_HEADERZ={}),
        pytest.raises(ConfigError, match=r"Did you mean 'headers'.*settings\.BULLETPROOF_HEADERZ"),
    ):
        BulletproofMiddleware(hello)


# -- the shield ----------------------------------------------------------------------------------


@contextlib.contextmanager
def _django_server(kind: str, mode: str, emitter: Any) -> Iterator[int]:
    from tests.adapters.common import serve, serve_wsgi

    with override_settings(
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["*"],
        DEBUG=False,
        TEMPLATES=TEMPLATES,
        MIDDLEWARE=MIDDLEWARE,
        BULLETPROOF_SHIELD__MODE=mode,
        BULLETPROOF_EMITTER=emitter,
    ):
        if kind == "wsgi":
            with serve_wsgi(WSGIHandler()) as port:
                yield port
        else:
            with serve(ASGIHandler(), lifespan="off") as port:
                yield port


_Q = "1%27%20OR%20%271%27%3D%271"
SHIELD_PLACES = {
    "query": ("GET", f"/echo?q={_Q}", None, {}, "query:q"),
    "form": (
        "POST",
        "/echo",
        f"name={_Q}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
        "form:name",
    ),
    "json": (
        "PUT",
        "/echo",
        b'{"user": {"name": "1\' OR \'1\'=\'1"}}',
        {"Content-Type": "application/json"},
        "json:user.name",
    ),
    "cookie": ("GET", "/echo", None, {"Cookie": f"sid=abc; pref={_Q}"}, "cookie:pref"),
}


@pytest.mark.parametrize("place", sorted(SHIELD_PLACES))
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_shield_blocks_an_injection_before_the_view(kind: str, place: str) -> None:
    from tests.adapters.common import ListEmitter

    method, path_, body, headers, location = SHIELD_PLACES[place]
    emitter = ListEmitter()
    shield_views.clear()
    with _django_server(kind, "block", emitter) as port:
        status, text = http_request(port, method, path_, body, headers)
    assert status == 403
    assert shield_views == []
    (event,) = emitter.events
    assert event.id in text.decode()
    assert ("sqli", location) in {(f["type"], f["location"]) for f in event.details["findings"]}


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_shield_monitors_and_reports_the_views_4xx(kind: str) -> None:
    from tests.adapters.common import ListEmitter

    emitter = ListEmitter()
    shield_views.clear()
    with _django_server(kind, "monitor", emitter) as port:
        assert http_request(port, "GET", f"/echo?q={_Q}")[0] == 200
        assert http_request(port, "GET", "/echo?q=shoes")[0] == 200
        assert http_request(port, "GET", "/missing")[0] == 404
    assert shield_views == ["/echo", "/echo"]
    assert [e.action for e in emitter.events] == ["malicious_request", "app_client_error"]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_a_20mb_upload_reaches_the_django_view_whole(kind: str) -> None:
    import hashlib
    import json

    from tests.adapters.common import ListEmitter

    chunk = b"a line of plain text, nothing to see here\n" * 1560
    count = (20 * 1024 * 1024) // len(chunk) + 1
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(chunk)
    emitter = ListEmitter()
    shield_views.clear()
    with _django_server(kind, "block", emitter) as port:
        status, text = http_request(
            port,
            "POST",
            "/echo",
            (chunk for _ in range(count)),
            {"Content-Type": "text/plain", "Content-Length": str(len(chunk) * count)},
        )
    assert status == 200
    assert json.loads(text) == {"n": len(chunk) * count, "sha": digest.hexdigest()}
    assert emitter.events == []
