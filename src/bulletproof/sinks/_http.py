"""A tiny HTTP client on :mod:`http.client`, shared by the HTTP sink and the notifiers.

One connection per request, no redirects, no retries (the pipeline and the alert engine retry),
response bodies capped at 64 KiB. Errors are mapped onto the library's tree: could not connect at
all (DNS, refused, TLS handshake, connect timeout) -> :class:`SinkUnavailableError`; anything after
the connection was made (read timeout, reset, malformed response) -> :class:`SinkError`. No message
ever contains the basic-auth secret.

Added in 0.1.
"""

from __future__ import annotations

import base64
import http.client
import re
import socket
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from bulletproof._text import one_line as _one_line
from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.sinks.base import SinkSpec, mask_url

__all__ = [
    "MAX_RESPONSE_BYTES",
    "Endpoint",
    "HttpResponse",
    "Target",
    "basic_auth",
    "check_headers",
    "connect_error",
    "connect_probe",
    "endpoint",
    "get",
    "one_line",
    "post",
    "scrub",
    "split_target",
    "userinfo",
]

MAX_RESPONSE_BYTES = 64 * 1024
"""Response bodies are cut at this size. Added in 0.1."""

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00\r\n]")
_HOST = re.compile(r"[A-Za-z0-9.\-_:%]+")
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
# Characters left alone when quoting a path or query: everything reserved plus "%", so a URL that
# is already percent-encoded goes out unchanged and only spaces and non-ASCII get encoded.
_SAFE_PATH = "/%:@!$&'()*+,;=~"
_SAFE_QUERY = _SAFE_PATH + "?"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """Status, body (at most 64 KiB) and headers (lower-case names) of one response.

    Added in 0.1.
    """

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    """Where requests go: the URL without userinfo or fragment, and the credentials from it.

    Added in 0.1.
    """

    url: str
    scheme: str
    host: str
    port: int
    auth: tuple[str, str] | None


def one_line(text: str, limit: int = 200) -> str:
    """The first ``limit`` characters of ``text``, on one line (:func:`bulletproof._text.one_line`:
    each unsafe character becomes a visible escape, so the result may be a little longer).

    >>> one_line("bad\\r\\nrequest")
    'bad\\\\r\\\\nrequest'

    Added in 0.1.
    """
    return _one_line(text[:limit])


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every non-empty secret in ``text`` with ``***``. Added in 0.1."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def userinfo(spec: SinkSpec) -> tuple[str | None, str | None]:
    """User name and password from the URL, percent-decoded. Added in 0.1."""
    user = unquote(spec.username) if spec.username is not None else None
    password = unquote(spec.password) if spec.password is not None else None
    return user, password


def check_headers(headers: object, label: str) -> dict[str, str]:
    """Validate extra request headers from config; ConfigError on anything unsafe.

    Names must be HTTP tokens, values strings without CR, LF or NUL (they could split the request
    and inject headers). ``Host``, ``Content-Length``, ``Transfer-Encoding`` and ``Connection``
    are set by the client and cannot be given.

    Added in 0.1.
    """
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ConfigError(
            f"{label}: option 'headers' must be a table of name = value strings, "
            f"got {type(headers).__name__}."
        )
    out: dict[str, str] = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ConfigError(
                f"{label}: header name {name!r} is not a valid HTTP header name "
                f"(letters, digits and !#$%&'*+-.^_`|~ only)."
            )
        if name.lower() in _RESERVED_HEADERS:
            raise ConfigError(
                f"{label}: header {name!r} is set by bulletproof itself; remove it from 'headers'."
            )
        if not isinstance(value, str):
            raise ConfigError(
                f"{label}: header {name!r} must have a string value, got {type(value).__name__}."
            )
        if _BAD_VALUE.search(value):
            raise ConfigError(
                f"{label}: header {name!r} has a CR, LF or NUL character in its value, which "
                f"could inject headers; remove it (check the environment variable it comes from)."
            )
        out[name] = value
    return out


def basic_auth(auth: tuple[str, str]) -> str:
    """The ``Authorization`` value for HTTP basic auth. Added in 0.1."""
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
    return f"Basic {token}"


def split_target(spec: SinkSpec, scheme: str, accepted: str = "") -> Target:
    """The request URL for ``spec`` under ``scheme`` (``http``/``https``), credentials apart.

    The query string belongs to the target and is kept as written; the fragment is dropped;
    spaces and non-ASCII in the path and query are percent-encoded.

    Added in 0.1.
    """
    if scheme not in ("http", "https"):
        raise ConfigError(f"{spec.name}: scheme must be http or https, not {scheme!r}.{accepted}")
    host = spec.host
    if not host or not _HOST.fullmatch(host):
        raise ConfigError(f"{spec.name}: the URL needs a valid host name.{accepted}")
    port = spec.port if spec.port is not None else (443 if scheme == "https" else 80)
    netloc = f"[{host}]" if ":" in host else host
    if spec.port is not None:
        netloc = f"{netloc}:{spec.port}"
    path = quote(spec.path or "/", safe=_SAFE_PATH)
    query = urlsplit(spec.url).query
    url = f"{scheme}://{netloc}{path}" + (f"?{quote(query, safe=_SAFE_QUERY)}" if query else "")
    user, password = userinfo(spec)
    auth: tuple[str, str] | None = None
    if user is not None or password is not None:
        if ":" in (user or ""):
            raise ConfigError(f"{spec.name}: a basic-auth user name cannot contain ':'.")
        auth = (user or "", password or "")
        for part in auth:
            if _BAD_VALUE.search(part):
                raise ConfigError(
                    f"{spec.name}: the user name or password has a CR, LF or NUL character."
                )
    return Target(url=url, scheme=scheme, host=host, port=port, auth=auth)


def connect_error(
    exc: BaseException, label: str, host: str, port: int, timeout: float
) -> SinkUnavailableError:
    """The SinkUnavailableError for a failed connect or TLS handshake. Added in 0.1."""
    where = f"{host}:{port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SinkUnavailableError(
            f"{label}: the TLS certificate of {where} is not trusted ({exc.verify_message}). "
            f"If it is signed by a private CA, give that CA's PEM bundle with ca=PATH."
        )
    if isinstance(exc, ssl.SSLError):
        return SinkUnavailableError(
            f"{label}: the TLS handshake with {where} failed ({exc.reason or exc}). Check that "
            f"the port speaks TLS."
        )
    if isinstance(exc, socket.gaierror):
        return SinkUnavailableError(
            f"{label}: cannot resolve host {host!r} ({exc.strerror}). Check the host name."
        )
    if isinstance(exc, TimeoutError):
        return SinkUnavailableError(
            f"{label}: no connection to {where} within {timeout:g} s. Check the host, the port "
            f"and any firewall, or raise the timeout."
        )
    if isinstance(exc, ConnectionRefusedError):
        return SinkUnavailableError(
            f"{label}: connection to {where} refused. Is the server running and listening on "
            f"that port?"
        )
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return SinkUnavailableError(f"{label}: cannot connect to {where} ({reason}).")


def _request(
    method: str,
    url: str,
    body: bytes | None,
    headers: Mapping[str, str],
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None,
    auth: tuple[str, str] | None,
    label: str | None,
) -> HttpResponse:
    label = label or mask_url(url)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise ConfigError(f"{label}: {mask_url(url)!r} is not an http(s)://host/... URL.")
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    send_headers = check_headers(headers, label)
    if auth is not None:
        send_headers["Authorization"] = basic_auth(auth)
    secrets = (auth[1], send_headers["Authorization"]) if auth else ()

    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl_context or ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except OSError as exc:
            raise connect_error(exc, label, host, port, timeout) from None
        try:
            conn.request(method, target, body=body, headers=send_headers)
            resp = conn.getresponse()
            try:
                data = resp.read(MAX_RESPONSE_BYTES)
                resp_headers: dict[str, str] = {}
                for name, value in resp.getheaders():
                    key = name.lower()
                    resp_headers[key] = (
                        f"{resp_headers[key]}, {value}" if key in resp_headers else value
                    )
                return HttpResponse(status=resp.status, body=data, headers=resp_headers)
            finally:
                resp.close()
        except TimeoutError:
            raise SinkError(
                f"{label}: {host}:{port} accepted the connection but did not answer within "
                f"{timeout:g} s."
            ) from None
        except (http.client.HTTPException, OSError, ValueError) as exc:
            detail = scrub(one_line(str(exc) or type(exc).__name__), secrets)
            raise SinkError(
                f"{label}: the {method} request to {host}:{port} failed "
                f"({type(exc).__name__}: {detail})."
            ) from None
    finally:
        conn.close()


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
    label: str | None = None,
) -> HttpResponse:
    """POST ``body`` to ``url`` (no userinfo in it); errors name ``label`` (default: the URL).

    Raises SinkUnavailableError when no connection could be made, SinkError for everything after.

    Added in 0.1.
    """
    return _request(
        "POST",
        url,
        body,
        headers,
        timeout=timeout,
        ssl_context=ssl_context,
        auth=auth,
        label=label,
    )


def get(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    auth: tuple[str, str] | None = None,
    label: str | None = None,
) -> HttpResponse:
    """GET ``url``; same errors as :func:`post`. Added in 0.1."""
    return _request(
        "GET",
        url,
        None,
        headers or {},
        timeout=timeout,
        ssl_context=ssl_context,
        auth=auth,
        label=label,
    )


def connect_probe(
    host: str,
    port: int,
    *,
    timeout: float,
    ssl_context: ssl.SSLContext | None = None,
    label: str,
) -> str:
    """Open a TCP connection (and do the TLS handshake when given a context), then close it.

    Returns what was checked; raises SinkUnavailableError saying what failed.

    Added in 0.1.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if ssl_context is None:
                return f"TCP connection to {host}:{port} accepted"
            with ssl_context.wrap_socket(raw, server_hostname=host) as tls:
                version = tls.version() or "TLS"
            return (
                f"TCP connection to {host}:{port} accepted, {version} handshake ok, "
                f"certificate verified"
            )
    except OSError as exc:
        raise connect_error(exc, label, host, port, timeout) from None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """What a JSON-posting sink or notifier needs: target URL, headers, timeout, TLS context.

    Added in 0.1.
    """

    target: Target
    headers: dict[str, str]
    timeout: float
    ssl_context: ssl.SSLContext | None


def endpoint(spec: SinkSpec, scheme: str, accepted: str = "") -> Endpoint:
    """Validate the URL and the ``headers``/``timeout``/``ca`` options of an HTTP(S) target.

    ``scheme`` is the plain ``http``/``https`` the spec's scheme stands for (``webhook+https``
    stands for ``https``). Raises ConfigError naming the URL.

    Added in 0.1.
    """
    target = split_target(spec, scheme, accepted)
    headers = check_headers(spec.options.get("headers"), spec.name)
    if target.auth is not None and any(k.lower() == "authorization" for k in headers):
        raise ConfigError(
            f"{spec.name}: give credentials either in the URL or as an Authorization header, "
            f"not both."
        )
    timeout = spec.timeout(from_options=True)
    if scheme == "https":
        context: ssl.SSLContext | None = spec.tls_context(from_options=True)
    else:
        if spec.options.get("ca"):
            prefix = spec.scheme.removesuffix("http")
            raise ConfigError(f"{spec.name}: option 'ca' applies to {prefix}https:// URLs only.")
        context = None
    return Endpoint(target, headers, timeout, context)
