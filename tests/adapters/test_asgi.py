"""BulletproofMiddleware at the ASGI level: what it passes through, edits and refuses."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from tests.adapters.common import HELMET_DEFAULTS, ListEmitter, assert_helmet_defaults, csp_nonce

from bulletproof.adapters import BulletproofMiddleware
from bulletproof.errors import ConfigError
from bulletproof.guard import _merge_headers
from bulletproof.headers import HeaderContext, secure_headers, x_frame_options
from bulletproof.testing import FakeClock

Message = MutableMapping[str, Any]


def http_scope(path: str = "/", **extra: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "client": ("192.0.2.7", 1234),
    }
    scope.update(extra)
    return scope


def run(app: Any, scope: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def responder(*headers: tuple[bytes, bytes], status: int = 200) -> Any:
    calls: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        calls.append(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    app.calls = calls  # type: ignore[attr-defined]
    return app


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_non_http_scopes_pass_through_untouched(kind: str) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    policy = secure_headers(content_security_policy={"directives": {"script-src": ["{nonce}"]}})
    app = BulletproofMiddleware(inner, policy)
    scope = {"type": kind, "path": "/ws"}
    before = dict(scope)

    async def receive() -> Message:
        return {}

    async def send(message: Any) -> None:
        return None

    asyncio.run(app(scope, receive, send))
    assert seen == [(scope, receive, send)]  # the very same objects
    assert scope == before  # nothing added (no nonce, no state)


def test_headers_are_added_first_and_the_message_is_not_mutated() -> None:
    original = ((b"content-type", b"text/plain"), (b"content-length", b"2"))
    app = BulletproofMiddleware(responder(*original))
    sent = run(app, http_scope())
    start = sent[0]
    assert_helmet_defaults(start["headers"], exact_case=False)
    assert start["headers"][len(HELMET_DEFAULTS) :] == list(original)
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}


def test_route_headers_win_case_insensitively_and_removals_apply() -> None:
    app = BulletproofMiddleware(
        responder(
            (b"X-Frame-Options", b"DENY"),
            (b"x-powered-by", b"php"),
            (b"SERVER", b"leaky"),
            (b"content-type", b"text/plain"),
        )
    )
    headers = run(app, http_scope())[0]["headers"]
    names = [name.lower() for name, _ in headers]
    assert names.count(b"x-frame-options") == 1
    assert (b"X-Frame-Options", b"DENY") in headers
    assert names.index(b"x-frame-options") == 9  # Helmet's position
    assert b"x-powered-by" not in names
    assert b"server" not in names


def test_nonce_goes_to_state_scope_and_header() -> None:
    inner = responder()
    policy = secure_headers(content_security_policy={"directives": {"script-src": ["{nonce}"]}})
    app = BulletproofMiddleware(inner, policy)
    state = {"from_lifespan": 1}
    sent = run(app, http_scope(state=state))
    (scope,) = inner.calls
    nonce = scope["bulletproof.csp_nonce"]
    assert scope["state"] is state  # the server's state dict is kept, not replaced
    assert state == {"from_lifespan": 1, "csp_nonce": nonce}
    assert csp_nonce(sent[0]["headers"]) == nonce
    assert len(nonce) == 24


def test_callable_directive_gets_the_scope() -> None:
    received: list[HeaderContext] = []

    def source(context: HeaderContext) -> str:
        received.append(context)
        return "https://cdn.example"

    policy = secure_headers(content_security_policy={"directives": {"img-src": [source]}})
    inner = responder()
    sent = run(BulletproofMiddleware(inner, policy), http_scope("/pic"))
    (context,) = received
    assert context.request is inner.calls[0]
    csp = dict(sent[0]["headers"])[b"content-security-policy"]
    assert b"img-src https://cdn.example" in csp


def test_render_failure_is_a_500_without_calling_the_app() -> None:
    emitter = ListEmitter()
    policy = secure_headers(
        content_security_policy={"directives": {"default-src": ["'self'", lambda ctx: "bad;value"]}}
    )
    inner = responder()
    app = BulletproofMiddleware(inner, policy, emitter=emitter, clock=FakeClock(42.0))
    sent = run(app, http_scope("/x", method="POST"))
    assert sent[0]["status"] == 500
    assert sent[1]["body"] == b"Internal Server Error"
    assert b"bad" not in b"".join(v for _, v in sent[0]["headers"])
    assert inner.calls == []
    (event,) = emitter.events
    assert event.action == "header_render_failed"
    assert (event.url_path, event.http_method, event.status_code) == ("/x", "POST", 500)
    assert event.timestamp == 42.0


def test_a_single_header_policy() -> None:
    sent = run(BulletproofMiddleware(responder(), x_frame_options(action="deny")), http_scope())
    assert sent[0]["headers"] == [(b"x-frame-options", b"DENY")]


def test_every_request_gets_its_own_nonce() -> None:
    policy = secure_headers(content_security_policy={"directives": {"script-src": ["{nonce}"]}})
    app = BulletproofMiddleware(responder(), policy)
    nonces = {csp_nonce(run(app, http_scope())[0]["headers"]) for _ in range(50)}
    assert len(nonces) == 50


def test_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="not a HeaderPolicy"):
        BulletproofMiddleware(responder(), {"x_frame_options": False})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not callable"):
        BulletproofMiddleware("app")  # type: ignore[arg-type]


def test_merge_headers_rules() -> None:
    policy = [("A-One", "1"), ("B-Two", "2")]
    names = frozenset({"a-one", "b-two"})
    drop = frozenset({"x-powered-by"})
    assert _merge_headers([("C", "c")], policy, names, drop) == [*policy, ("C", "c")]
    merged = _merge_headers(
        [("c", "c"), ("b-two", "mine"), ("B-TWO", "again"), ("X-Powered-By", "x")],
        policy,
        names,
        drop,
    )
    assert merged == [("A-One", "1"), ("b-two", "mine"), ("B-TWO", "again"), ("c", "c")]
    assert _merge_headers([], [], frozenset(), drop) == []


def test_headers_given_as_any_iterable() -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        own = ((b"x-frame-options", b"DENY"), (b"content-type", b"text/plain"))
        await send({"type": "http.response.start", "status": 200, "headers": iter(own)})

    headers = run(BulletproofMiddleware(inner), http_scope())[0]["headers"]
    assert (b"x-frame-options", b"DENY") in headers
    assert (b"content-type", b"text/plain") in headers


def report_middleware() -> tuple[BulletproofMiddleware, ListEmitter]:
    emitter = ListEmitter()
    policy = secure_headers(csp_report_path="/csp-report")
    return BulletproofMiddleware(responder(), policy, emitter=emitter), emitter


def test_report_with_a_bad_content_length_is_400() -> None:
    app, emitter = report_middleware()
    scope = http_scope("/csp-report", method="POST", headers=[(b"content-length", b"1e3")])
    assert run(app, scope)[0]["status"] == 400
    assert emitter.events == []


def test_report_client_gone_mid_body_gets_no_answer() -> None:
    app, emitter = report_middleware()
    messages: Iterator[Message] = iter(
        [{"type": "http.request", "body": b"{", "more_body": True}, {"type": "http.disconnect"}]
    )
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(http_scope("/csp-report", method="POST"), receive, send))
    assert sent == []
    assert emitter.events == []


def test_the_package_exports_lazily() -> None:
    import bulletproof.adapters as adapters

    assert "BulletproofWSGIMiddleware" in dir(adapters)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        adapters.nope  # noqa: B018
