"""The hello-world apps bench/headers.py serves with uvicorn, one per variant (BENCH_VARIANT)."""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bulletproof.headers import secure_headers

HELMET = secure_headers().headers


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def hello_inline(request: Request) -> PlainTextResponse:
    # The inline control: the endpoint sets the same headers itself.
    return PlainTextResponse("hello", headers=dict(HELMET))


def build(variant: str) -> Any:
    if variant == "inline":
        return Starlette(routes=[Route("/", hello_inline)])
    app = Starlette(routes=[Route("/", hello)])
    if variant == "bare":
        return app
    if variant == "bulletproof":
        from bulletproof.adapters.asgi import BulletproofMiddleware

        # the header policy alone, as issue 3 measured it (bench/shield.py adds the shield)
        return BulletproofMiddleware(app, policy=secure_headers(), remove_server=False)
    if variant == "secure":
        from secure import Secure
        from secure.middleware.asgi import SecureASGIMiddleware

        return SecureASGIMiddleware(app, secure=Secure.with_default_headers())
    raise SystemExit(f"unknown BENCH_VARIANT {variant!r}")


app = build(os.environ.get("BENCH_VARIANT", "bare"))
