"""The shield through the real frameworks, over real sockets: a SQL injection in a query
parameter, a form field, a JSON field and a cookie is caught by every adapter; in block mode
the handler never runs and the 403 names the event; a 20 MB streaming upload still reaches the
app whole; a 4xx the app answers is an invalid_request event."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
from fastapi import Request as FastAPIRequest  # FastAPI resolves the handler's annotations here
from tests.adapters.common import ListEmitter, http_request, serve, serve_wsgi

from bulletproof.detect import Inspector, Shield
from bulletproof.events.model import Category
from bulletproof.guard import Guard
from bulletproof.headers import secure_headers

handled: list[str] = []
INJECTION = "1' OR '1'='1"
Q = "1%27%20OR%20%271%27%3D%271"  # INJECTION, percent-encoded


def _guard(mode: str) -> tuple[Guard, ListEmitter]:
    emitter = ListEmitter()
    shield = Shield(Inspector(), mode=mode, emitter=emitter)
    return Guard(secure_headers(), emitter=emitter, shield=shield), emitter


# -- the apps: each records that its handler ran, and echoes the body it received -------------


def _digest(body: bytes) -> dict[str, object]:
    return {"n": len(body), "sha": hashlib.sha256(body).hexdigest()}


def starlette_app(guard: Guard) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from bulletproof.adapters.asgi import BulletproofMiddleware

    async def echo(request: Request) -> Response:
        handled.append("starlette")
        size, digest = 0, hashlib.sha256()
        async for chunk in request.stream():
            size += len(chunk)
            digest.update(chunk)
        return JSONResponse({"n": size, "sha": digest.hexdigest()})

    async def missing(request: Request) -> Response:
        return PlainTextResponse("no such thing", status_code=404)

    app = Starlette(
        routes=[Route("/echo", echo, methods=["GET", "POST", "PUT"]), Route("/missing", missing)]
    )
    return BulletproofMiddleware(app, guard=guard)


def fastapi_app(guard: Guard) -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, PlainTextResponse

    from bulletproof.protect import protect

    app = FastAPI()

    @app.api_route("/echo", methods=["GET", "POST", "PUT"])
    async def echo(request: FastAPIRequest) -> JSONResponse:
        handled.append("fastapi")
        size, digest = 0, hashlib.sha256()
        async for chunk in request.stream():
            size += len(chunk)
            digest.update(chunk)
        return JSONResponse({"n": size, "sha": digest.hexdigest()})

    @app.get("/missing")
    async def missing() -> PlainTextResponse:
        return PlainTextResponse("no such thing", status_code=404)

    return protect(app, guard=guard)


def flask_app(guard: Guard) -> Any:
    from flask import Flask, jsonify, request

    from bulletproof.protect import protect

    app = Flask("shielded")

    @app.route("/echo", methods=["GET", "POST", "PUT"])
    def echo() -> Any:
        handled.append("flask")
        size, digest = 0, hashlib.sha256()
        for chunk in iter(lambda: request.stream.read(65536), b""):
            size += len(chunk)
            digest.update(chunk)
        form = request.form.get("name") if request.mimetype.endswith("urlencoded") else None
        return jsonify({"n": size, "sha": digest.hexdigest(), "form": form})

    @app.route("/missing")
    def missing() -> Any:
        return "no such thing", 404

    return protect(app, guard=guard)


def wsgi_app(guard: Guard) -> Any:
    from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/missing":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no such thing"]
        handled.append("wsgi")
        stream = environ["wsgi.input"]
        remaining = int(environ.get("CONTENT_LENGTH") or 0)
        size, digest = 0, hashlib.sha256()
        while remaining:
            chunk = stream.read(min(65536, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            size += len(chunk)
            digest.update(chunk)
        body = json.dumps({"n": size, "sha": digest.hexdigest()}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]

    return BulletproofWSGIMiddleware(app, guard=guard)


ASGI = {"starlette": starlette_app, "fastapi": fastapi_app}
WSGI = {"flask": flask_app, "wsgi": wsgi_app}
ADAPTERS = sorted([*ASGI, *WSGI])


def _server(name: str, guard: Guard) -> AbstractContextManager[int]:
    if name in ASGI:
        return serve(ASGI[name](guard))
    return serve_wsgi(WSGI[name](guard))


# the four places a SQL injection rides in, as (method, path, body, headers, location)
PLACES: dict[str, tuple[str, str, bytes | None, dict[str, str], str]] = {
    "query": ("GET", f"/echo?q={Q}", None, {}, "query:q"),
    "form": (
        "POST",
        "/echo",
        f"name={Q}".encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
        "form:name",
    ),
    "json": (
        "PUT",
        "/echo",
        json.dumps({"user": {"name": INJECTION}}).encode(),
        {"Content-Type": "application/json"},
        "json:user.name",
    ),
    "cookie": ("GET", "/echo", None, {"Cookie": f"sid=abc; pref={Q}"}, "cookie:pref"),
}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_block_mode_refuses_the_injection_before_the_handler_runs(adapter: str, place: str) -> None:
    method, path, body, headers, location = PLACES[place]
    guard, emitter = _guard("block")
    handled.clear()
    with _server(adapter, guard) as port:
        status, text = http_request(port, method, path, body, headers)
    assert status == 403
    assert handled == []  # the handler never ran
    (event,) = emitter.events
    assert event.category is Category.MALICIOUS_TRAFFIC
    assert event.status_code == 403
    assert event.id in text.decode()  # the refusal names the event
    findings = event.details["findings"]
    assert ("sqli", location) in {(f["type"], f["location"]) for f in findings}


@pytest.mark.parametrize("place", sorted(PLACES))
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_monitor_mode_lets_it_through_and_reports_it(adapter: str, place: str) -> None:
    method, path, body, headers, location = PLACES[place]
    guard, emitter = _guard("monitor")
    handled.clear()
    with _server(adapter, guard) as port:
        status, text = http_request(port, method, path, body, headers)
    assert status == 200
    assert handled == [adapter]
    assert json.loads(text)["n"] == len(body or b"")  # the app got the body it was sent
    assert [e.action for e in emitter.events] == ["malicious_request"]
    assert location in {f["location"] for f in emitter.events[0].details["findings"]}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_normal_requests_pass_without_an_event(adapter: str) -> None:
    guard, emitter = _guard("block")
    handled.clear()
    with _server(adapter, guard) as port:
        assert http_request(port, "GET", "/echo?q=O%27Brien%20shoes")[0] == 200
        body = json.dumps({"review": "<p>Great <b>book</b></p>", "name": "O'Brien"}).encode()
        assert (
            http_request(port, "PUT", "/echo", body, {"Content-Type": "application/json"})[0] == 200
        )
    assert handled == [adapter, adapter]
    assert emitter.events == []


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_4xx_from_the_app_is_an_invalid_request_event(adapter: str) -> None:
    guard, emitter = _guard("monitor")
    with _server(adapter, guard) as port:
        assert http_request(port, "GET", "/missing")[0] == 404
    (event,) = emitter.events
    assert (event.category, event.action, event.status_code) == (
        Category.INVALID_REQUEST,
        "app_client_error",
        404,
    )


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_20mb_streaming_upload_reaches_the_app_whole(adapter: str) -> None:
    chunk = b"a line of plain text, nothing to see here\n" * 1560  # ~64 KiB
    count = (20 * 1024 * 1024) // len(chunk) + 1
    total = len(chunk) * count
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(chunk)

    def body() -> Iterator[bytes]:
        for _ in range(count):
            yield chunk

    guard, emitter = _guard("block")
    handled.clear()
    with _server(adapter, guard) as port:
        status, text = http_request(
            port,
            "POST",
            "/echo",
            body(),
            {"Content-Type": "text/plain", "Content-Length": str(total)},
        )
    assert status == 200
    assert json.loads(text)["n"] == total
    assert json.loads(text)["sha"] == digest.hexdigest()
    assert handled == [adapter]
    assert emitter.events == []


def test_the_inspected_start_of_a_large_body_can_still_block_it() -> None:
    attack = f"name={Q}&".encode() + b"x=" + b"a" * (2 * 1024 * 1024)
    for make in (starlette_app, wsgi_app):
        guard, emitter = _guard("block")
        handled.clear()
        server: Callable[[Any], AbstractContextManager[int]] = (
            serve if make is starlette_app else serve_wsgi
        )
        with server(make(guard)) as port:
            status, _ = http_request(
                port, "POST", "/echo", attack, {"Content-Type": "application/x-www-form-urlencoded"}
            )
        assert status == 403
        assert handled == []
        assert emitter.events[0].category is Category.MALICIOUS_TRAFFIC


def test_the_replayed_wsgi_input_gives_back_every_byte_in_every_reading_style() -> None:
    import io

    from bulletproof.adapters.wsgi import _ReplayInput

    body = b"first line\nsecond line\nthird line without end"

    def fresh(cut: int) -> _ReplayInput:
        stream = io.BytesIO(body)
        return _ReplayInput(stream.read(cut), stream)

    for cut in (0, 3, 11, 15, len(body)):
        assert fresh(cut).read() == body
        assert fresh(cut).read(None) == body
        chunks, stream = [], fresh(cut)
        while chunk := stream.read(4):
            chunks.append(chunk)
        assert b"".join(chunks) == body
        assert all(len(c) == 4 for c in chunks[:-1])  # no short reads before the end
        assert b"".join(fresh(cut).readlines()) == body
        assert b"".join(list(fresh(cut))) == body
        limited = fresh(cut)
        assert limited.readline(5) == body[:5]
        assert limited.read() == body[5:]
    closed = io.BytesIO(body)
    _ReplayInput(b"", closed).close()
    assert closed.closed
