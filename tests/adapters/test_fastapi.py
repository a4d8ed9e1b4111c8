"""BulletproofMiddleware (through protect) around a real FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import jinja2
import pytest
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from tests.adapters.common import (
    NONCE_DIRECTIVES,
    TEMPLATE,
    TestClient,
    assert_configured,
    assert_helmet_defaults,
    csp_nonce,
    header,
    page_nonce,
    serve,
    wire_headers,
)

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.errors import ConfigError
from bulletproof.headers import secure_headers
from bulletproof.protect import protect

env = jinja2.Environment(loader=jinja2.DictLoader({"page": TEMPLATE}), autoescape=True)


def build() -> FastAPI:
    app = FastAPI()

    @app.get("/", response_class=PlainTextResponse)
    def hello() -> str:
        return "Hello world!"

    @app.get("/json")
    def data() -> dict[str, int]:
        return {"a": 1}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("the view failed")

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(status_code=418, detail="short and stout")

    @app.get("/redirect")
    def redirect() -> RedirectResponse:
        return RedirectResponse("/", status_code=307)

    @app.get("/stream")
    def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"one\n"
            yield b"two\n"

        return StreamingResponse(chunks(), media_type="text/plain")

    @app.get("/own")
    def own() -> PlainTextResponse:
        return PlainTextResponse(
            "mine", headers={"x-frame-options": "DENY", "Referrer-Policy": "same-origin"}
        )

    @app.get("/page", response_class=HTMLResponse)
    def page(request: Request) -> str:
        return env.get_template("page").render(nonce=request.state.csp_nonce)

    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    app = protect(build())
    assert isinstance(app, BulletproofMiddleware)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/json", 200),
        ("GET", "/missing", 404),
        ("GET", "/boom", 500),
        ("GET", "/teapot", 418),
        ("GET", "/redirect", 307),
        ("GET", "/stream", 200),
        ("HEAD", "/missing", 404),
        ("GET", "/docs", 200),
        ("GET", "/openapi.json", 200),
    ],
)
def test_helmet_defaults_on_every_kind_of_response(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code == status
    assert_helmet_defaults(response.headers.raw, exact_case=False)


def test_streaming_body_is_untouched(client: TestClient) -> None:
    assert client.get("/stream").text == "one\ntwo\n"


def test_the_route_wins(client: TestClient) -> None:
    raw = client.get("/own").headers.raw
    assert header(raw, "x-frame-options") == ["DENY"]
    assert header(raw, "referrer-policy") == ["same-origin"]
    assert header(raw, "x-content-type-options") == ["nosniff"]


def test_nonce_in_the_header_is_the_one_the_template_received() -> None:
    app = protect(build(), secure_headers(content_security_policy=NONCE_DIRECTIVES))
    with TestClient(app) as test_client:
        first = test_client.get("/page")
        second = test_client.get("/page")
    for response in (first, second):
        assert page_nonce(response.text) == csp_nonce(response.headers.raw)
    assert csp_nonce(first.headers.raw) != csp_nonce(second.headers.raw)


def test_a_template_asking_for_a_nonce_the_policy_lacks_is_told_the_fix() -> None:
    # before: AttributeError: 'State' object has no attribute 'csp_nonce'
    with (
        TestClient(protect(build(), secure_headers())) as test_client,
        pytest.raises(ConfigError, match=r"request\.state\.csp_nonce: .*Add \"\{nonce\}\""),
    ):
        test_client.get("/page")


@pytest.mark.usefixtures("project")
def test_protect_puts_the_project_config_on_the_wire() -> None:
    with serve(protect(build()), server_header=False) as port:
        for path, status in [("/json", 200), ("/teapot", 418), ("/docs", 200)]:
            got_status, raw = wire_headers(port, "GET", path)
            assert got_status == status
            assert_configured(raw)


@pytest.mark.usefixtures("project")
def test_add_middleware_reads_the_project_config() -> None:
    app = build()
    app.add_middleware(BulletproofMiddleware)
    with TestClient(app) as test_client:
        assert_configured(test_client.get("/json").headers.raw)
