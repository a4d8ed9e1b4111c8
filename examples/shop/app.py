"""shop: a small Starlette app used as bulletproof's example project.

Run it with ``uv run uvicorn app:app --app-dir examples/shop --no-server-header``.

- ``bulletproof.protect`` puts Helmet's security headers on every response, errors and static files
  included, with the options of ``[tool.bulletproof.headers]`` in ``pyproject.toml`` (here a
  per-response CSP nonce for the page's inline script);
- a failed login emits a ``login_failed`` security event into the pipeline configured in
  ``pyproject.toml`` (a JSON-lines file by default);
- ``/account`` requires an authenticated session (Starlette's ``requires``).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    SimpleUser,
    requires,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

import bulletproof
from bulletproof.config import build_pipeline, load_config
from bulletproof.events import Category, Outcome, SecurityEvent, Severity

HERE = Path(__file__).resolve().parent
USERS = {"alice": "correct horse battery staple"}
config = load_config(HERE)  # this directory's pyproject.toml, wherever uvicorn runs from
pipeline = build_pipeline(config).start()
templates = Jinja2Templates(directory=HERE / "templates")


def check_password(user: str, password: str) -> bool:
    expected = USERS.get(user, "")
    return bool(expected) and hmac.compare_digest(password.encode(), expected.encode())


class BasicAuth(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser] | None:
        header = conn.headers.get("authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise AuthenticationError("malformed credentials") from exc
        if not check_password(user, password):
            return None
        return AuthCredentials(["authenticated"]), SimpleUser(user)


async def home(request: Request) -> Response:
    return templates.TemplateResponse(request, "home.html", {"nonce": request.state.csp_nonce})


async def login(request: Request) -> Response:
    form: Any = await request.form()
    user = str(form.get("username", ""))
    if check_password(user, str(form.get("password", ""))):
        return JSONResponse({"ok": True})
    pipeline.emit(
        SecurityEvent(
            action="login_failed",
            category=Category.AUTH,
            severity=Severity.MEDIUM,
            outcome=Outcome.FAILURE,
            message=f"failed login for {user!r}",
            source_ip=request.client.host if request.client else None,
            user_name=user,
            url_path=request.url.path,
            http_method=request.method,
            status_code=401,
        )
    )
    return JSONResponse({"ok": False}, status_code=401)


async def healthz(request: Request) -> Response:
    """What `bulletproof run --health-url` probes: answers as long as the event loop runs."""
    return PlainTextResponse("ok")


@requires("authenticated")
async def account(request: Request) -> Response:
    return JSONResponse({"user": request.user.display_name})


app = bulletproof.protect(
    Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["POST"]),
            Route("/account", account),
            Route("/healthz", healthz),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=BasicAuth())],
    ),
    config=config,
    emitter=pipeline,
)
