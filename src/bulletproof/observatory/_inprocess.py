"""Call an ASGI or WSGI app in-process, without a server, and grade what it answers.

:func:`call_app` sends one request straight through the ASGI 3 or WSGI (PEP 3333) protocol and
collects status, headers and body. :func:`scan_app` does what ``bulletproof headers check`` does
for a URL: ``GET`` the path (following up to 10 redirects that stay on the app's host), send the
Observatory's CORS preflight, and return a :class:`~bulletproof.observatory.Scan` to grade.

No web framework is imported: the app is driven through the protocols only. An ASGI app gets a
lifespan startup before the first request and a shutdown after the last (an app without lifespan
support is fine). Requests look like they came through a TLS-terminating proxy
(``scheme = "https"``), so what the app itself can show is graded; what only the deployment
decides is assumed, and said so in :data:`ASSUMPTIONS`.

>>> async def app(scope, receive, send):
...     await send({"type": "http.response.start", "status": 200,
...                 "headers": [(b"x-frame-options", b"DENY")]})
...     await send({"type": "http.response.body", "body": b"ok"})
>>> call_app(app).headers
(('x-frame-options', 'DENY'),)

Added in 0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import threading
import types
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

from bulletproof._text import one_line
from bulletproof.errors import AppError, ConfigError
from bulletproof.observatory._cookies import CookieJar
from bulletproof.observatory._domains import PreloadList, PublicSuffixList
from bulletproof.observatory._fetch import MAX_BODY_BYTES, MAX_REDIRECTS, decode_body, parse_target
from bulletproof.observatory._models import OBSERVATORY_ORIGIN, FetchedResponse, Scan, Session

__all__ = ["ASSUMPTIONS", "AppResponse", "InProcessClient", "call_app", "scan_app"]

ASSUMPTIONS: Final = (
    "served over https with a valid certificate (requests carry scheme https)",
    "plain http redirects to https on the same host (redirection test)",
    "the host is not on the HSTS preload list unless a preload list is given",
)
"""What an in-process grade cannot observe and takes for granted. Added in 0.1."""

_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class AppResponse:
    """Status, headers (wire order, values as text) and body (capped) of one in-process call.

    Added in 0.1.
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _clean(value: str) -> str:
    return value.replace("\r", " ").replace("\n", " ").replace("\0", " ")


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {one_line(str(exc), 300)}"


def _positional_count(app: object) -> int | None:
    try:
        signature = inspect.signature(app)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in signature.parameters.values() if p.kind in kinds)


def _is_asgi(app: object, label: str) -> bool:
    """True for an ASGI 3 app, False for a WSGI app; ConfigError when it is neither."""
    if isinstance(app, types.ModuleType):
        hint = (
            " (a Django settings module: point at the WSGI or ASGI application instead, "
            "e.g. 'mysite.wsgi:application')"
            if hasattr(app, "ROOT_URLCONF")
            else ""
        )
        raise ConfigError(
            f"{label}: module {app.__name__!r} is a module, not an ASGI or WSGI app{hint}."
        )
    if not callable(app):
        raise ConfigError(
            f"{label}: a {type(app).__name__!r} object is not callable: pass an ASGI app "
            "(async scope, receive, send) or a WSGI app (environ, start_response)."
        )
    dunder_call = next(
        (vars(k)["__call__"] for k in type(app).__mro__ if "__call__" in vars(k)), None
    )
    if any(inspect.iscoroutinefunction(f) for f in (app, dunder_call)):
        return True
    count = _positional_count(app)
    if count == 3:
        return True
    if count == 2:
        return False
    raise ConfigError(
        f"{label}: cannot tell whether it is an ASGI or a WSGI app: it takes neither "
        "3 (scope, receive, send) nor 2 (environ, start_response) positional arguments."
    )


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    scheme: str
    host: str
    path: str  # percent-encoded, with query
    headers: tuple[tuple[str, str], ...]

    @property
    def port(self) -> int:
        return 443 if self.scheme == "https" else 80


class _Body:
    """Collects body bytes up to a cap; the rest is counted and dropped."""

    def __init__(self, cap: int) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._cap = cap

    def add(self, chunk: bytes) -> None:
        room = self._cap - self._size
        if room > 0 and chunk:
            part = bytes(chunk[:room])
            self._parts.append(part)
            self._size += len(part)

    def value(self) -> bytes:
        return b"".join(self._parts)


# -- ASGI -----------------------------------------------------------------------------------------

Message: TypeAlias = MutableMapping[str, Any]
_Receive: TypeAlias = Callable[[], Awaitable[Message]]
_Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[MutableMapping[str, Any], _Receive, _Send], Awaitable[None]]


class _Lifespan:
    """Runs the ASGI lifespan protocol around the requests (skipped if the app has none)."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        self.state: dict[str, Any] = {}
        self.supported = False
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: str | None = None
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}
        scope["state"] = self.state

        async def send(message: Message) -> None:
            kind = message.get("type")
            if kind == "lifespan.startup.complete":
                self._started.set()
            elif kind == "lifespan.startup.failed":
                self._failure = one_line(str(message.get("message", "")), 300)
                self._started.set()
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self._stopped.set()

        # An app without lifespan support raises here; that only means: no lifespan.
        with contextlib.suppress(Exception):
            await self.app(scope, self._queue.get, send)

    async def startup(self) -> None:
        self._task = asyncio.ensure_future(self._run())
        await self._queue.put({"type": "lifespan.startup"})
        started = asyncio.ensure_future(self._started.wait())
        done, _ = await asyncio.wait(
            {started, self._task}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if started not in done:
            started.cancel()
            if self._task in done:
                return  # the app does not do lifespan
            raise AppError(f"the app's lifespan startup did not finish within {self.timeout:g} s")
        if self._failure is not None:
            raise AppError(f"the app's lifespan startup failed: {self._failure}")
        self.supported = True

    async def shutdown(self) -> None:
        if self._task is None or self._task.done():
            return
        await self._queue.put({"type": "lifespan.shutdown"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._task), self.timeout)
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


async def _asgi_request(
    app: ASGIApp, request: _Request, state: dict[str, Any] | None, seconds: float, cap: int
) -> AppResponse:
    raw_path, _, query = request.path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": unquote_to_bytes(raw_path).decode("utf-8", errors="replace"),
        "raw_path": raw_path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "root_path": "",
        "headers": [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in (("Host", request.host), *request.headers)
        ],
        "client": ("127.0.0.1", 50000),
        "server": (request.host, request.port),
    }
    if state is not None:
        scope["state"] = dict(state)
    status: int | None = None
    headers: list[tuple[str, str]] = []
    body = _Body(cap)
    complete = asyncio.Event()
    asked = False

    async def receive() -> Message:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await complete.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        kind = message.get("type")
        if kind == "http.response.start":
            if status is not None:
                raise RuntimeError("http.response.start sent twice")
            status = int(message["status"])
            for name, value in message.get("headers", []):
                headers.append(
                    (bytes(name).decode("latin-1"), _clean(bytes(value).decode("latin-1")))
                )
        elif kind == "http.response.body":
            if status is None:
                raise RuntimeError("http.response.body sent before http.response.start")
            body.add(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                complete.set()

    try:
        await asyncio.wait_for(app(scope, receive, send), seconds)
    except TimeoutError:
        if not complete.is_set():
            raise AppError(
                f"{request.method} {request.path}: the app did not finish its response within "
                f"{seconds:g} s"
            ) from None
    except Exception as exc:  # noqa: BLE001 - the app's own failure, reported
        if not complete.is_set():
            raise AppError(
                f"{request.method} {request.path}: the app raised {_describe(exc)}"
            ) from None
        # Starlette re-raises after it has sent its 500 page: the response stands.
    if status is None or not complete.is_set():
        raise AppError(
            f"{request.method} {request.path}: the app returned without a complete response"
        )
    return AppResponse(status, tuple(headers), body.value())


# -- WSGI -----------------------------------------------------------------------------------------


def _wsgi_request(app: Any, request: _Request, timeout: float, cap: int) -> AppResponse:
    raw_path, _, query = request.path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": request.host,
        "SERVER_PORT": str(request.port),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": request.host,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": request.scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in request.headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    outcome: dict[str, Any] = {}
    body = _Body(cap)

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and "status" in outcome and outcome.get("sent"):
            raise exc_info[1].with_traceback(exc_info[2])
        outcome["status"] = status
        outcome["headers"] = [(str(n), _clean(str(v))) for n, v in headers]
        return body.add

    def run() -> None:
        try:
            result = app(environ, start_response)
            try:
                for chunk in result:
                    outcome["sent"] = True
                    body.add(chunk)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
            outcome["done"] = True
        except BaseException as exc:  # noqa: BLE001 - reported to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="bulletproof-wsgi-call", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise AppError(
            f"{request.method} {request.path}: the app did not answer within {timeout:g} s"
        )
    if "error" in outcome:
        raise AppError(
            f"{request.method} {request.path}: the app raised {_describe(outcome['error'])}"
        )
    status_line = str(outcome.get("status", ""))
    code = status_line[:3]
    if not outcome.get("done") or not code.isdigit() or not code.isascii():
        raise AppError(
            f"{request.method} {request.path}: the app did not call start_response with a "
            f"status line (got {one_line(status_line, 300)!r})"
        )
    return AppResponse(int(code), tuple(outcome["headers"]), body.value())


# -- the client -----------------------------------------------------------------------------------


class InProcessClient:
    """Sends requests to one app in-process; use as a context manager (ASGI lifespan).

    Added in 0.1.
    """

    def __init__(
        self,
        app: object,
        *,
        timeout: float = 10.0,
        max_body: int = MAX_BODY_BYTES,
        label: str | None = None,
    ) -> None:
        """``label`` names the app in error messages (e.g. the ``module:app`` path)."""
        if not 0 < timeout <= 300:
            raise ConfigError(f"timeout {timeout!r} must be between 0 and 300 seconds, e.g. 10.")
        self._asgi = _is_asgi(app, f"app {label!r}" if label else f"app {type(app).__name__!r}")
        self._app: Any = app
        self._timeout = timeout
        self._max_body = max_body
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lifespan: _Lifespan | None = None

    def __enter__(self) -> InProcessClient:
        if self._asgi:
            self._loop = asyncio.new_event_loop()
            try:
                self._lifespan = self._loop.run_until_complete(self._start())
            except BaseException:
                self._close_loop()
                raise
        return self

    async def _start(self) -> _Lifespan:
        lifespan = _Lifespan(self._app, self._timeout)
        await lifespan.startup()
        return lifespan

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._lifespan is not None:
            self._loop.run_until_complete(self._lifespan.shutdown())
        self._close_loop()

    def _close_loop(self) -> None:
        if self._loop is not None:
            loop, self._loop = self._loop, None
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> AppResponse:
        """Send one request for ``url`` (its scheme, host and path) to the app."""
        target = parse_target(url)
        request = _Request(method, target.scheme, target.host, target.path, tuple(headers))
        if not self._asgi:
            return _wsgi_request(self._app, request, self._timeout, self._max_body)
        if self._loop is None:
            raise RuntimeError("InProcessClient: use it in a with block for ASGI apps")
        state = self._lifespan.state if self._lifespan and self._lifespan.supported else None
        return self._loop.run_until_complete(
            _asgi_request(self._app, request, state, self._timeout, self._max_body)
        )


def call_app(
    app: object,
    *,
    method: str = "GET",
    path: str = "/",
    headers: Iterable[tuple[str, str]] = (),
    host: str = "localhost",
    scheme: str = "https",
    timeout: float = 10.0,
) -> AppResponse:
    """Send one request to ``app`` (ASGI or WSGI) in-process and return its response.

    Raises ConfigError for bad input (not an app, a bad path or host) and :class:`AppError`
    when the app raises, hangs past ``timeout`` seconds or breaks the protocol.

    Added in 0.1.
    """
    with InProcessClient(app, timeout=timeout) as client:
        return client.request(method, f"{scheme}://{host}{path}", headers)


def _chain(
    client: InProcessClient,
    url: str,
    method: str,
    extra: Mapping[str, str],
    jar: CookieJar,
) -> list[FetchedResponse]:
    """Follow redirects that stay on the app's host, like the Observatory (at most 10)."""
    host = (urlsplit(url).hostname or "").lower()
    responses: list[FetchedResponse] = []
    redirects = 0
    while True:
        headers = dict(extra)
        cookie = jar.header_for(url)
        if cookie is not None:
            headers["Cookie"] = cookie
        answer = client.request(method, url, headers.items())
        fetched = FetchedResponse(
            url, answer.status, answer.headers, decode_body(answer.headers, answer.body)
        )
        responses.append(fetched)
        for name, value in answer.headers:
            if name.lower() == "set-cookie":
                jar.store(url, value)
        if answer.status not in _REDIRECTS or redirects >= MAX_REDIRECTS:
            break
        location = next((v for n, v in answer.headers if n.lower() == "location"), None)
        if location is None:
            break
        try:
            following = parse_target(urljoin(url, location.strip()))
        except ConfigError:
            break  # a redirect the app cannot serve itself: graded as the final response
        if following.host != host:
            break  # off the app's host: another server would answer
        url = following.url(following.scheme, following.port)
        redirects += 1
        if answer.status == 303 or method != "OPTIONS":
            method = "GET"
    return responses


def scan_app(
    app: object,
    *,
    path: str = "/",
    host: str = "localhost",
    timeout: float = 10.0,
    preload: PreloadList | None = None,
    suffixes: PublicSuffixList | None = None,
    label: str | None = None,
) -> Scan:
    """Request ``path`` from ``app`` in-process as the Observatory would a site; return the Scan.

    The app is treated as served at ``https://host``; see :data:`ASSUMPTIONS` for what is taken
    for granted. ``label`` names the app in error messages. Raises ConfigError for bad input
    and :class:`AppError` when the app fails.

    Added in 0.1.
    """
    if not path.startswith("/"):
        raise ConfigError(
            f"path {one_line(path, 300)!r} must start with '/', e.g. '/' or '/login'."
        )
    target = parse_target(f"https://{host}{path}")
    start = target.url("https")
    jar = CookieJar(suffixes)
    with InProcessClient(app, timeout=timeout, label=label) as client:
        responses = _chain(client, start, "GET", {}, jar)
        preflight = {"Origin": OBSERVATORY_ORIGIN, "Access-Control-Request-Method": "GET"}
        try:
            cors: FetchedResponse | None = _chain(
                client, responses[-1].url, "OPTIONS", preflight, jar
            )[-1]
        except AppError:
            cors = None
    http_route = (
        FetchedResponse(target.url("http"), 301),
        FetchedResponse(start, responses[0].status),
    )
    return Scan(
        hostname=target.host,
        https=Session(tuple(responses), verified=True),
        http=Session(http_route, verified=True),
        cors=cors,
        preload=preload,
        suffixes=suffixes,
    )
