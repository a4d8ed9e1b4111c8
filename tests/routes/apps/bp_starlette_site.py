# ruff: noqa: TID253  (a test app imports the web framework it is written in)
"""Small real Starlette apps for the route inventory tests.

``app`` installs the header middleware app-wide and routes through every kind of route: function
and HTTPEndpoint routes, ``requires`` (sync, async, websocket), a mounted sub-app, a mounted
Router, StaticFiles, a Host and a raw ASGI app. ``partial`` covers only what it mounts inside the
middleware: ``/app`` (wrapped) and ``/v2`` (the Mount's own middleware), not ``/legacy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, BaseUser, requires
from starlette.endpoints import HTTPEndpoint
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse
from starlette.routing import (
    BaseRoute,
    Host,
    Match,
    Mount,
    NoMatchFound,
    Route,
    Router,
    WebSocketRoute,
)
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.protect import protect

STATIC = Path(__file__).with_name("static")


class NobodyLoggedIn(AuthenticationBackend):
    """Every request is anonymous: ``requires(...)`` answers 403."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        return None


async def home(request: Request) -> PlainTextResponse:
    return PlainTextResponse("home")


@requires("authenticated")
async def dashboard(request: Request) -> PlainTextResponse:
    return PlainTextResponse("dashboard")


@requires(["authenticated", "admin"])
def purge(request: Request) -> PlainTextResponse:
    return PlainTextResponse("purged")


async def feedback(request: Request) -> PlainTextResponse:
    return PlainTextResponse("thanks")


class Notes(HTTPEndpoint):
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("notes")

    @requires("authenticated")
    async def post(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("created")


@requires("authenticated")
async def live(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.close()


async def profile(request: Request) -> PlainTextResponse:
    return PlainTextResponse("profile")


async def raw_asgi(scope: Any, receive: Any, send: Any) -> None:
    await PlainTextResponse("raw")(scope, receive, send)


class Echo:
    """An ASGI app used directly as a route's endpoint: any method reaches it."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse(scope["method"])(scope, receive, send)


class ExactRoute(BaseRoute):
    """A project's own route class: matches one path, any method."""

    def __init__(self, path: str) -> None:
        self.path = path

    def matches(self, scope: Any) -> tuple[Match, dict[str, Any]]:
        if scope["type"] == "http" and scope["path"] == self.path:
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        # An unnamed route builds no URLs, as Starlette's own routes answer for unknown names.
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("exact")(scope, receive, send)


inner = Starlette(routes=[Route("/profile", profile, methods=["GET", "PUT"])])
reports = Router(routes=[Route("/daily", home, name="daily")])
tenant = Starlette(routes=[Route("/", home)])

app = Starlette(
    routes=[
        Route("/", home),
        Route("/dashboard", dashboard),
        Route("/purge", purge, methods=["DELETE"]),
        Route("/feedback", feedback, methods=["POST"]),
        Route("/notes", Notes),
        Route("/echo", Echo()),
        ExactRoute("/exact"),
        WebSocketRoute("/live", live),
        Mount("/inner", app=inner),
        Mount("/reports", app=reports),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Mount("/raw", app=raw_asgi),
        Host("tenant.example.com", app=tenant),
    ],
    middleware=[
        Middleware(BulletproofMiddleware),
        Middleware(AuthenticationMiddleware, backend=NobodyLoggedIn()),
    ],
)

legacy = Starlette(routes=[Route("/upload", feedback, methods=["POST"])])
partial = Starlette(
    routes=[
        Mount("/app", app=BulletproofMiddleware(inner)),
        Mount("/v2", routes=[Route("/", home)], middleware=[Middleware(BulletproofMiddleware)]),
        Mount("/legacy", app=legacy),
    ]
)
bare = Starlette(routes=[Route("/", home), Mount("/inner", app=inner)])
wrapped = protect(bare)
