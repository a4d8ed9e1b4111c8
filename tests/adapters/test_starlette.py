# ruff: noqa: TID253  (these tests import the web frameworks they exercise)
"""BulletproofMiddleware through a real Starlette app (TestClient, and uvicorn on a socket)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import (
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route, WebSocketRoute
from starlette.templating import Jinja2Templates
from starlette.websockets import WebSocket
from tests.adapters.common import (
    HELMET_DEFAULTS,
    NONCE_DIRECTIVES,
    ROUTE_OVERRIDE,
    TEMPLATE,
    TestClient,
    assert_configured,
    assert_helmet_defaults,
    csp_nonce,
    header,
    page_nonce,
    pairs,
    serve,
    wire_headers,
)

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.errors import ConfigError
from bulletproof.headers import secure_headers
from bulletproof.protect import protect

templates = Jinja2Templates(
    env=jinja2.Environment(loader=jinja2.DictLoader({"page": TEMPLATE}), autoescape=True)
)


async def hello(request: Request) -> Response:
    return PlainTextResponse("Hello world!")


async def boom(request: Request) -> Response:
    raise RuntimeError("the view failed")


async def redirect(request: Request) -> Response:
    return RedirectResponse("/", status_code=302)


async def stream(request: Request) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(3):
            yield f"chunk {i}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


async def own(request: Request) -> Response:
    response = PlainTextResponse("mine")
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["X-Powered-By"] = "route"
    response.headers["Server"] = "leaky/1.0"
    return response


async def page(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "page", {"nonce": request.state.csp_nonce, "lifespan": request.state.started}
    )


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json(
        {
            "nonce_in_scope": "bulletproof.csp_nonce" in websocket.scope,
            "state": sorted(websocket.scope.get("state", {})),
        }
    )
    await websocket.close()


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
    events.append("startup")
    yield {"started": True}
    events.append("shutdown")


events: list[str] = []

ROUTES = [
    Route("/", hello),
    Route("/boom", boom),
    Route("/redirect", redirect),
    Route("/stream", stream),
    Route("/own", own),
    Route("/page", page),
    WebSocketRoute("/ws", ws),
]


def make_app(policy: Any = None) -> BulletproofMiddleware:
    return BulletproofMiddleware(Starlette(routes=ROUTES, lifespan=lifespan), policy)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/missing", 404),
        ("GET", "/boom", 500),
        ("GET", "/redirect", 302),
        ("GET", "/stream", 200),
        ("HEAD", "/", 200),
        ("HEAD", "/stream", 200),
        ("POST", "/", 405),
    ],
)
def test_helmet_defaults_on_every_kind_of_response(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path, follow_redirects=False)
    assert response.status_code == status
    assert_helmet_defaults(response.headers.raw, exact_case=False)


def test_streaming_body_is_untouched(client: TestClient) -> None:
    response = client.get("/stream")
    assert response.text == "chunk 0\nchunk 1\nchunk 2\n"
    assert header(response.headers.raw, "content-type") == ["text/plain; charset=utf-8"]


def test_head_has_no_body(client: TestClient) -> None:
    response = client.head("/")
    assert response.content == b""
    assert header(response.headers.raw, "content-length") == ["12"]


def test_the_route_wins_and_keeps_helmets_position(client: TestClient) -> None:
    response = client.get("/own")
    got = [(name.lower(), value) for name, value in pairs(response.headers.raw)]
    expected = [
        (name.lower(), value)
        for name, value in ROUTE_OVERRIDE
        if name.lower() != "x-powered-by"  # bulletproof removes it even when a route sets it
    ]
    # Express lets a route delete Helmet's HSTS; here the route did not touch it.
    sts = ("strict-transport-security", "max-age=31536000; includeSubDomains")
    expected.insert(5, sts)
    assert got[: len(expected)] == expected
    assert header(response.headers.raw, "x-powered-by") == []
    assert header(response.headers.raw, "server") == []
    assert len(header(response.headers.raw, "content-security-policy")) == 1


def test_server_header_is_kept_when_asked() -> None:
    app = BulletproofMiddleware(Starlette(routes=ROUTES), remove_server=False)
    with TestClient(app) as test_client:
        response = test_client.get("/own")
    assert header(response.headers.raw, "server") == ["leaky/1.0"]
    assert header(response.headers.raw, "x-powered-by") == []


def test_websocket_and_lifespan_pass_through_untouched() -> None:
    events.clear()
    policy = secure_headers(content_security_policy=NONCE_DIRECTIVES)
    with TestClient(make_app(policy)) as test_client:
        assert events == ["startup"]
        with test_client.websocket_connect("/ws") as socket_:
            message = socket_.receive_json()
        # lifespan state reached the websocket; the middleware added nothing to its scope
        assert message == {"nonce_in_scope": False, "state": ["started"]}
    assert events == ["startup", "shutdown"]


def test_nonce_in_the_header_is_the_one_the_template_received() -> None:
    policy = secure_headers(content_security_policy=NONCE_DIRECTIVES)
    with TestClient(make_app(policy)) as test_client:
        seen = set()
        for _ in range(5):
            response = test_client.get("/page")
            assert response.status_code == 200
            nonce = csp_nonce(response.headers.raw)
            assert page_nonce(response.text) == nonce
            seen.add(nonce)
    assert len(seen) == 5  # two responses never share a nonce


def test_add_middleware_misses_500_pages_hence_wrap_the_outermost_app() -> None:
    # Starlette puts add_middleware() inside ServerErrorMiddleware: what the docs warn about
    inner = Starlette(routes=ROUTES)
    inner.add_middleware(BulletproofMiddleware)
    with TestClient(inner, raise_server_exceptions=False) as test_client:
        assert header(test_client.get("/").headers.raw, "x-frame-options") == ["SAMEORIGIN"]
        assert header(test_client.get("/boom").headers.raw, "x-frame-options") == []


def test_protect_wraps_a_starlette_app() -> None:
    app = protect(Starlette(routes=ROUTES))
    assert isinstance(app, BulletproofMiddleware)
    with TestClient(app) as test_client:
        assert_helmet_defaults(test_client.get("/").headers.raw, exact_case=False)


def test_a_template_asking_for_a_nonce_the_policy_lacks_is_told_the_fix() -> None:
    # Helmet's CSP has no {nonce}: request.state.csp_nonce was an AttributeError of State's
    with TestClient(make_app(secure_headers())) as test_client:
        assert_helmet_defaults(test_client.get("/").headers.raw, exact_case=False)
        with pytest.raises(ConfigError, match=r"request\.state\.csp_nonce: .* no '\{nonce\}'"):
            test_client.get("/page")
        with pytest.raises(ConfigError, match=r"script-src = \[\"'self'\", \"\{nonce\}\"\]"):
            test_client.get("/page")


# -- the project's config reaches the app ----------------------------------------------------


@pytest.mark.usefixtures("project")
def test_protect_puts_the_project_config_on_the_wire() -> None:
    # pyproject.toml [tool.bulletproof.headers]: before, protect() still sent SAMEORIGIN
    with serve(protect(Starlette(routes=ROUTES)), server_header=False) as port:
        for path, status in [("/", 200), ("/missing", 404), ("/boom", 500)]:
            got_status, raw = wire_headers(port, "GET", path)
            assert got_status == status
            assert_configured(raw)


@pytest.mark.usefixtures("project")
def test_the_starlette_middleware_option_reads_the_project_config() -> None:
    app = Starlette(routes=ROUTES, middleware=[Middleware(BulletproofMiddleware)])
    with TestClient(app) as test_client:
        assert_configured(test_client.get("/").headers.raw)


def test_bulletproof_config_points_at_the_config_from_anywhere(
    project: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    monkeypatch.setenv("BULLETPROOF_CONFIG", str(project / "pyproject.toml"))
    with TestClient(protect(Starlette(routes=ROUTES))) as test_client:
        assert_configured(test_client.get("/").headers.raw)


@pytest.mark.usefixtures("empty_project")
def test_without_a_config_the_defaults_are_helmets() -> None:
    with TestClient(protect(Starlette(routes=ROUTES))) as test_client:
        assert_helmet_defaults(test_client.get("/").headers.raw, exact_case=False)


# -- on the wire, through uvicorn ------------------------------------------------------------


def test_on_the_wire_through_uvicorn_without_server_header() -> None:
    with serve(make_app(), server_header=False) as port:
        for path, status in [("/", 200), ("/missing", 404), ("/boom", 500), ("/stream", 200)]:
            got_status, raw = wire_headers(port, "GET", path)
            assert got_status == status
            assert header(raw, "date")  # uvicorn writes it first, before the app's headers
            raw = [(name, value) for name, value in raw if name.lower() != "date"]
            assert_helmet_defaults(raw, exact_case=False)
            # uvicorn keeps the names the app sent: lower-case, values byte-identical
            assert [v for _, v in raw[: len(HELMET_DEFAULTS)]] == [v for _, v in HELMET_DEFAULTS]


def test_uvicorn_server_header_needs_the_server_option() -> None:
    with serve(make_app()) as port:
        _, raw = wire_headers(port, "GET", "/")
    # the middleware cannot remove what the server itself writes: hence --no-server-header
    assert header(raw, "server") == ["uvicorn"]


def test_event_loop_is_not_blocked_by_the_middleware() -> None:
    async def main() -> None:
        app = make_app()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            sent.append(dict(message))

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/",
            "raw_path": b"/",
            "query_string": b"",
            "root_path": "",
            "headers": [],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {"started": True},
        }
        await asyncio.gather(*(app(dict(scope), receive, send) for _ in range(20)))
        starts = [m for m in sent if m["type"] == "http.response.start"]
        assert len(starts) == 20
        for start in starts:
            assert_helmet_defaults(start["headers"], exact_case=False)

    asyncio.run(main())
