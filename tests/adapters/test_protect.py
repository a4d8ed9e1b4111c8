"""protect(): which wrapper each kind of app gets, and what it refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

import pytest
from tests.adapters.common import ListEmitter

from bulletproof.adapters.asgi import SecureHeadersMiddleware
from bulletproof.adapters.wsgi import SecureHeadersWSGIMiddleware
from bulletproof.errors import ConfigError
from bulletproof.headers import secure_headers
from bulletproof.protect import protect


async def asgi_function(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


class ASGIClass:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await asgi_function(scope, receive, send)


def asgi_returning_awaitable(scope: Any, receive: Any, send: Any) -> Awaitable[None]:
    return asgi_function(scope, receive, send)


def wsgi_function(environ: Any, start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [])
    return [b""]


class WSGIClass:
    def __call__(self, environ: Any, start_response: Any) -> Iterable[bytes]:
        return wsgi_function(environ, start_response)


@pytest.mark.parametrize(
    "app", [asgi_function, ASGIClass(), asgi_returning_awaitable], ids=["fn", "class", "sync"]
)
def test_asgi_apps_get_the_asgi_middleware(app: Any) -> None:
    emitter = ListEmitter()
    policy = secure_headers(preset="api")
    wrapped = protect(app, policy, emitter=emitter)
    assert isinstance(wrapped, SecureHeadersMiddleware)
    assert wrapped.app is app
    assert wrapped.policy is policy
    assert wrapped.emitter is emitter
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    asyncio.run(wrapped({"type": "http", "path": "/", "headers": []}, receive, send))
    assert sent[0]["headers"] == list(policy.asgi_static)


@pytest.mark.parametrize("app", [wsgi_function, WSGIClass()], ids=["fn", "class"])
def test_wsgi_apps_get_the_wsgi_middleware(app: Any) -> None:
    wrapped = protect(app)
    assert isinstance(wrapped, SecureHeadersWSGIMiddleware)
    assert wrapped.app is app
    assert wrapped.policy == secure_headers()


@pytest.mark.parametrize(
    ("app", "words"),
    [
        ("module:app", "not a web app"),
        (None, "not a web app"),
        (lambda: None, "cannot tell whether"),
        (lambda a, b, c, d: None, "cannot tell whether"),
        (print, "cannot tell whether"),
        (max, "cannot tell whether"),  # a builtin without a signature
    ],
)
def test_what_is_not_an_app_is_refused(app: Any, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        protect(app)


def test_protecting_twice_is_refused() -> None:
    wrapped = protect(asgi_function)
    with pytest.raises(ConfigError, match="already protected"):
        protect(wrapped)
    with pytest.raises(ConfigError, match="already protected"):
        protect(protect(wsgi_function))
