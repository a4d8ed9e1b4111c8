"""shop: a small Starlette app used as bulletproof's example project.

Run it with ``uv run uvicorn app:app --app-dir examples/shop``. Later bulletproof features (headers,
shield, routes) are demonstrated on it; for now it emits a security event for each failed login.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bulletproof.config import build_pipeline, load_config
from bulletproof.events import Category, Outcome, SecurityEvent, Severity

USERS = {"alice": "correct horse battery staple"}
pipeline = build_pipeline(load_config(__file__.rsplit("/", 1)[0])).start()


async def home(request: Request) -> Response:
    return PlainTextResponse("shop")


async def login(request: Request) -> Response:
    form: Any = await request.form()
    user = str(form.get("username", ""))
    password = str(form.get("password", ""))
    expected = USERS.get(user, "")
    if expected and hmac.compare_digest(password.encode(), expected.encode()):
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


app = Starlette(routes=[Route("/", home), Route("/login", login, methods=["POST"])])
