"""The hello-world apps bench/shield.py serves with uvicorn, one per variant (BENCH_VARIANT)."""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.detect import Inspector, Shield
from bulletproof.guard import Guard
from bulletproof.headers import secure_headers


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def build(variant: str) -> Any:
    app = Starlette(routes=[Route("/", hello), Route("/search", hello)])
    if variant == "headers":
        return BulletproofMiddleware(app, guard=Guard(secure_headers(), remove_server=False))
    if variant == "shield":
        shield = Shield(Inspector(), mode="block")
        guard = Guard(secure_headers(), shield=shield, remove_server=False)
        return BulletproofMiddleware(app, guard=guard)
    if variant == "plumbing":  # the shield's plumbing with inspection excluded everywhere
        from bulletproof.detect import Exclusion

        shield = Shield(Inspector(exclusions=[Exclusion("/*")]), mode="block")
        guard = Guard(secure_headers(), shield=shield, remove_server=False)
        return BulletproofMiddleware(app, guard=guard)
    raise SystemExit(f"unknown BENCH_VARIANT {variant!r}")


app = build(os.environ.get("BENCH_VARIANT", "headers"))
