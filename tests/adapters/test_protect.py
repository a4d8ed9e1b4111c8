"""protect(): which wrapper each kind of app gets, and what it refuses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any

import pytest
from tests.adapters.common import CSP_REPORT_BODY, ListEmitter

from bulletproof.adapters.asgi import BulletproofMiddleware
from bulletproof.adapters.wsgi import BulletproofWSGIMiddleware
from bulletproof.config import load_config
from bulletproof.errors import ConfigError
from bulletproof.events.pipeline import EventPipeline
from bulletproof.guard import Guard
from bulletproof.headers import secure_headers, x_frame_options
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
    assert isinstance(wrapped, BulletproofMiddleware)
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
    assert isinstance(wrapped, BulletproofWSGIMiddleware)
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


REPORTING_PROJECT = """\
[tool.bulletproof.headers]
csp_report_path = "/csp-report"

[tool.bulletproof.events]
spool_dir = "spool"
sinks = ["file:events.jsonl"]
"""


def post_report(app: Any) -> int:
    sent: list[Any] = []
    messages = iter([{"type": "http.request", "body": CSP_REPORT_BODY, "more_body": False}])

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/csp-report",
        "headers": [(b"content-type", b"application/csp-report")],
        "client": ("192.0.2.8", 1),
    }
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


@pytest.mark.usefixtures("clean_env")
def test_protect_starts_the_configured_pipeline_when_the_config_makes_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(REPORTING_PROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    app = protect(asgi_function)
    pipeline = app.emitter
    assert isinstance(pipeline, EventPipeline)
    try:
        assert post_report(app) == 204
        assert pipeline.drain(10)
    finally:
        pipeline.close()
    (line,) = (tmp_path / "events.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(line)["event"]["action"] == "csp_violation"


@pytest.mark.usefixtures("clean_env")
def test_protect_uses_the_emitter_given_instead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(REPORTING_PROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    emitter = ListEmitter()
    app = protect(asgi_function, emitter=emitter)
    assert app.emitter is emitter
    assert post_report(app) == 204
    assert emitter.actions() == ["csp_violation"]
    assert not (tmp_path / "spool").exists()  # no pipeline was started


def _wsgi_get(app: Any, path: str, query: str = "") -> str:
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {"PATH_INFO": path, "QUERY_STRING": query}
    setup_testing_defaults(environ)
    statuses: list[str] = []
    b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0]


@pytest.mark.usefixtures("project")
def test_protect_starts_the_pipeline_only_when_the_first_event_comes(project: Path) -> None:
    app = protect(wsgi_function)
    assert ("X-Frame-Options", "DENY") in app.policy.headers
    assert _wsgi_get(app, "/", "q=shoes") == "200 OK"
    assert not (project / ".bulletproof").exists()  # nothing started for normal traffic
    assert _wsgi_get(app, "/", "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E") == "200 OK"  # monitor
    pipeline = app.emitter._pipeline
    assert isinstance(pipeline, EventPipeline)
    pipeline.close()
    events = (project / ".bulletproof" / "events.jsonl").read_text().splitlines()
    assert [json.loads(e)["event"]["action"] for e in events] == ["malicious_request"]


def test_a_loaded_config_or_a_guard_can_be_given(project: Path) -> None:
    config = load_config(project, env={})
    assert ("X-Frame-Options", "DENY") in protect(asgi_function, config=config).policy.headers
    guard = Guard(x_frame_options(action="sameorigin"))
    assert protect(wsgi_function, guard=guard).guard is guard


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"config": "load_config", "guard": Guard()}, "config= and guard= are given"),
        ({"guard": Guard(), "emitter": ListEmitter()}, "which the guard already holds"),
        ({"guard": secure_headers()}, "not a bulletproof.guard.Guard"),
    ],
)
def test_one_source_for_the_guard(project: Path, options: dict[str, Any], words: str) -> None:
    if options.get("config") == "load_config":
        options["config"] = load_config(project, env={})
    with pytest.raises(ConfigError, match=words):
        protect(asgi_function, **options)
    with pytest.raises(ConfigError, match="policy= and guard= are given"):
        protect(asgi_function, secure_headers(), guard=Guard())


@pytest.mark.usefixtures("clean_env")
def test_a_broken_project_config_is_a_config_error_at_protect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bulletproof.headers]\nx_frame_options = { action = "allow" }\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"pyproject\.toml.*x_frame_options"):
        protect(asgi_function)
