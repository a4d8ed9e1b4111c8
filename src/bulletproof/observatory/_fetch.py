"""Fetch a site the way the MDN HTTP Observatory does, for :func:`.grade_scan`.

Two redirect chains are followed, one from ``https://host/path`` and one from ``http://host/path``
(the scheme in the given URL only says which scheme an explicit port belongs to; the other scheme
uses its default port unless told otherwise). Each chain: ``GET``, at most 10 redirects (301, 302,
303, 307 and 308, always followed with ``GET``), every response recorded, cookies kept in a jar
and sent back, one deadline for the whole chain (``timeout`` seconds from its start for every
name lookup, connection, TLS handshake, request and response, headers and body, of every hop:
a server that answers a byte at a time cannot stretch it). TLS certificates are verified; on a
certificate error the chain is fetched again without verification, within the same deadline,
and marked unverified (the grade then says so). The
response the tests read is the HTTPS chain's when HTTPS was reachable, else the HTTP chain's.
Then a CORS preflight (``OPTIONS`` with the Observatory's ``Origin``) goes to the final URL.

Stdlib only (:mod:`http.client`). Every URL is checked before use: no whitespace or control
characters can reach a request line or header, response header values have CR, LF and NUL
replaced, bodies are capped.

Added in 0.1.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import quote, urljoin, urlsplit

from bulletproof._text import one_line
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError, FetchError
from bulletproof.observatory._cookies import CookieJar
from bulletproof.observatory._domains import PreloadList, PublicSuffixList
from bulletproof.observatory._models import OBSERVATORY_ORIGIN, FetchedResponse, Scan, Session

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_BODY_BYTES",
    "MAX_REDIRECTS",
    "Target",
    "decode_body",
    "fetch_chain",
    "parse_target",
    "scan_url",
]

MAX_REDIRECTS: Final = 10
"""Redirects followed per chain (so at most 11 responses). Added in 0.1."""

DEFAULT_TIMEOUT: Final = 9.0
"""Seconds for one fetch: connecting, TLS, sending, reading and every redirect, together.

Added in 0.1.
"""

MAX_BODY_BYTES: Final = 2 * 1024 * 1024
"""Response bodies are read up to this size. Added in 0.1."""

_ACCEPT: Final = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
_USER_AGENT: Final = "Mozilla/5.0 (compatible; bulletproof-headers-check/0.1; +Observatory)"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_HTTPS_PORT: Final = 443
_SAFE_PATH: Final = "/%:@!$&'()*+,;=~"
_SAFE_QUERY: Final = _SAFE_PATH + "?"
_HOST_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


class _ChainError(Exception):
    """One chain failed; the message is one line, safe to print."""


class _CertError(_ChainError):
    """A certificate did not verify: retry the chain without verification."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: lower-case ASCII host, the scheme it was given with (or read as, see
    :func:`parse_target`), explicit port or None, the percent-encoded path with query (at least
    ``/``), and whether the URL named its scheme.

    Added in 0.1.
    """

    host: str
    scheme: str
    port: int | None
    path: str
    scheme_given: bool = True

    def url(self, scheme: str, port: int | None = None) -> str:
        """The URL of this target over ``scheme`` (default port when ``port`` is None)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        netloc = host if port is None else f"{host}:{port}"
        return f"{scheme}://{netloc}{self.path}"


def _check_host(host: str, label: str) -> str:
    """Lower-case ASCII form of ``host`` (IDNA for names), or ConfigError."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower() if host else ""
    except UnicodeError:
        ascii_host = ""
    if not ascii_host or any(c not in _HOST_CHARS for c in ascii_host) or ".." in ascii_host:
        raise ConfigError(
            f"{label}: {one_line(host, 300)!r} is not a valid host name; give a URL such as "
            "https://www.example.com/."
        )
    return ascii_host


def parse_target(url: str) -> Target:
    """Check a URL given by the user; ConfigError saying what is wrong otherwise.

    A URL without a scheme is taken as https (``example.com/path``), or as plain http when it
    names a port other than 443 (``localhost:8000`` is ``http://localhost:8000/``, as curl and
    browsers read it: a development server). Credentials in the URL are refused (never
    echoed), the fragment dropped, spaces and non-ASCII in the path percent-encoded.

    Added in 0.1.
    """
    if not url.strip():
        raise ConfigError("URL is empty; give one such as https://www.example.com/.")
    text = url.strip()
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in text):
        raise ConfigError(
            f"URL {one_line(text, 300)!r} contains whitespace or control characters; "
            "percent-encode them (%20 for a space)."
        )
    scheme_given = "://" in text
    if not scheme_given:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"URL {one_line(text, 300)!r} is not valid: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ConfigError(
            f"URL {one_line(text, 300)!r}: scheme {scheme!r} is not supported; use http:// or https://."
        )
    if not scheme_given and port is not None and port != _HTTPS_PORT:
        scheme = "http"
    if "@" in parts.netloc:
        raise ConfigError(
            "URL: credentials in the URL (user:password@) are not supported and were not "
            "sent; remove them."
        )
    host = _check_host(parts.hostname or "", f"URL {one_line(text, 300)!r}")
    if port == 0:
        raise ConfigError(f"URL {one_line(text, 300)!r}: port 0 is not valid; use 1-65535.")
    path = quote(parts.path or "/", safe=_SAFE_PATH)
    if not path.startswith("/"):
        path = "/" + path
    if parts.query:
        path += "?" + quote(parts.query, safe=_SAFE_QUERY)
    return Target(host, scheme, port, path, scheme_given)


def _resolve(current: str, location: str) -> str:
    """The next URL of a redirect, checked like a user-given URL."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
        raise _ChainError("redirect Location contains control characters")
    target = urljoin(current, location.strip())
    try:
        parts = urlsplit(target)
        port = parts.port
    except ValueError as exc:
        raise _ChainError(f"redirect to an invalid URL: {one_line(str(exc), 300)}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or "@" in parts.netloc:
        raise _ChainError(f"redirect to an unsupported URL {one_line(target, 300)!r}")
    try:
        host = _check_host(parts.hostname or "", "redirect")
    except ConfigError:
        raise _ChainError(f"redirect to an invalid host in {one_line(target, 300)!r}") from None
    path = quote(parts.path or "/", safe=_SAFE_PATH)
    if parts.query:
        path += "?" + quote(parts.query, safe=_SAFE_QUERY)
    return Target(host, scheme, port, path).url(scheme, port)


def decode_body(headers: Sequence[tuple[str, str]], data: bytes) -> str:
    """``data`` as text, in the charset of the first Content-Type (UTF-8 if none or unknown).

    Undecodable bytes become U+FFFD. Added in 0.1.
    """
    return data.decode(_charset(headers), errors="replace")


def _charset(headers: Sequence[tuple[str, str]]) -> str:
    for name, value in headers:
        if name.lower() == "content-type":
            for param in value.split(";")[1:]:
                key, _, val = param.partition("=")
                if key.strip().lower() == "charset":
                    candidate = val.strip().strip('"').lower()
                    try:
                        "".encode(candidate)
                    except LookupError:
                        return "utf-8"
                    return candidate
            break
    return "utf-8"


@dataclass(frozen=True, slots=True)
class _Limits:
    """One fetch's deadline (shared by every hop and the unverified retry) and body cap."""

    timeout: float  # as given, for messages
    deadline: float  # on the clock's monotonic scale
    clock: Clock
    max_body: int

    def left(self) -> float:
        """Seconds until the deadline; TimeoutError once it has passed."""
        left = self.deadline - self.clock.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left

    def timed_out(self, url: str) -> _ChainError:
        return _ChainError(
            f"{url}: timed out after {self.timeout:g} s: the fetch (connecting, TLS, sending, "
            "reading and every redirect, together) took longer than the deadline; give a "
            "longer timeout (--timeout) to wait more"
        )


class _DeadlineReader(io.RawIOBase):
    """Reads from a socket, the timeout of every recv set to the time left.

    A server that drips one byte at a time makes every recv succeed at once: the deadline is
    checked before each one, so a response that takes too long fails however it trickles in.
    """

    def __init__(self, owner: _DeadlineSocket) -> None:
        super().__init__()
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        sock = self._owner.sock
        sock.settimeout(self._owner.limits.left())
        return sock.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._owner.release()


class _DeadlineSocket:
    """What :mod:`http.client` uses of a socket (sendall, makefile, close), deadline-bound.

    Like a socket, it closes only once every file made from it is closed too: http.client
    closes the connection of a ``Connection: close`` response before reading its body.
    """

    __slots__ = ("_closed", "_files", "limits", "sock")

    def __init__(self, sock: socket.socket, limits: _Limits) -> None:
        self.sock = sock
        self.limits = limits
        self._files = 0
        self._closed = False

    def sendall(self, data: ReadableBuffer) -> None:
        view = memoryview(data).cast("B")
        while view:
            self.sock.settimeout(self.limits.left())
            view = view[self.sock.send(view) :]

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"makefile mode {mode!r}: only 'rb' is supported")
        self._files += 1
        return io.BufferedReader(_DeadlineReader(self))

    def release(self) -> None:
        self._files -= 1
        if self._closed and self._files <= 0:
            self.sock.close()

    def close(self) -> None:
        self._closed = True
        if self._files <= 0:
            self.sock.close()


def _addresses(host: str, port: int, limits: _Limits) -> list[tuple[Any, ...]]:
    """``getaddrinfo`` within the deadline (a name lookup is not bound by socket timeouts)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    found: list[tuple[Any, ...]] = []
    failed: list[Exception] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM))
        except (OSError, UnicodeError) as exc:
            failed.append(exc)
        finally:
            done.set()

    # A lookup still running at the deadline is left to finish on its own (daemon thread).
    threading.Thread(target=lookup, name="bulletproof-headers-dns", daemon=True).start()
    if not done.wait(limits.left()):
        raise TimeoutError("the name lookup did not finish before the deadline")
    if failed:
        raise failed[0]
    return found


def _open(host: str, port: int, context: ssl.SSLContext | None, limits: _Limits) -> socket.socket:
    """A connected socket (TLS done when ``context`` is given), every step within the deadline."""
    error: OSError = OSError(f"getaddrinfo for {host!r} returned no address")
    for family, kind, proto, _name, address in _addresses(host, port, limits):
        left = limits.left()
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(left)
            sock.connect(address)
        except TimeoutError:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            error = exc
            continue
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is None:
                return sock
            # CPython bounds the whole handshake (every record it reads) by the socket timeout.
            sock.settimeout(limits.left())
            return context.wrap_socket(sock, server_hostname=host)
        except BaseException:
            sock.close()
            raise
    raise error


class _Connection(http.client.HTTPConnection):
    """HTTP or HTTPS whose connect, TLS, send and every read share one deadline."""

    def __init__(
        self, host: str, port: int | None, context: ssl.SSLContext | None, limits: _Limits
    ) -> None:
        default = 80 if context is None else 443
        super().__init__(host, port if port is not None else default)
        self.default_port = default  # the Host header carries the port only when not default
        self._context = context
        self._limits = limits

    def connect(self) -> None:
        sock = _open(self.host, self.port, self._context, self._limits)
        # http.client calls only sendall, makefile and close on it
        self.sock = cast(socket.socket, _DeadlineSocket(sock, self._limits))


def _request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    context: ssl.SSLContext,
    limits: _Limits,
) -> FetchedResponse:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = _Connection(
        parts.hostname or "", parts.port, context if parts.scheme == "https" else None, limits
    )
    response: http.client.HTTPResponse | None = None
    try:
        limits.left()  # no hop starts after the deadline
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        raw = [
            (name, value.replace("\r", " ").replace("\n", " ").replace("\0", " "))
            for name, value in response.getheaders()
        ]
        chunks: list[bytes] = []
        size = 0
        while size < limits.max_body:
            chunk = response.read(min(65536, limits.max_body - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        body = decode_body(raw, b"".join(chunks))
        return FetchedResponse(url, response.status, tuple(raw), body)
    except ssl.SSLCertVerificationError as exc:
        raise _CertError(f"{url}: certificate did not verify: {exc.verify_message}") from None
    except TimeoutError:
        raise limits.timed_out(url) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        detail = one_line(str(exc), 300) or type(exc).__name__
        raise _ChainError(f"{url}: {detail}") from None
    finally:
        if response is not None:
            response.close()
        conn.close()


def _verified_context(cafile: str | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"--cafile {cafile!r}: cannot load the CA bundle ({one_line(str(exc), 300)}); give a "
            "PEM file of CA certificates."
        ) from None


def _unverified_context() -> ssl.SSLContext:
    # Used only after a verified attempt failed on the certificate; the result says so.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def fetch_chain(
    url: str,
    *,
    method: str = "GET",
    extra_headers: Mapping[str, str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cafile: str | None = None,
    jar: CookieJar | None = None,
    clock: Clock = system_clock,
    max_redirects: int = MAX_REDIRECTS,
    max_body: int = MAX_BODY_BYTES,
) -> Session:
    """Follow redirects from ``url`` and return every response as a :class:`Session`.

    ``GET`` for every hop; with ``method="OPTIONS"`` the method is kept except after a 303.
    ``url`` must already be checked (see :func:`parse_target`). ``timeout`` is one deadline in
    seconds for the whole chain: every hop, and the unverified retry after a certificate error,
    connecting, TLS, sending and reading included. Raises :class:`FetchError` with a one-line
    reason when the chain cannot be completed (``timed out after ... s`` once the deadline has
    passed; the fetch stops then, however slowly the server is still sending).

    Added in 0.1.
    """
    context = _verified_context(cafile)
    return _fetch(
        url,
        context,
        method,
        extra_headers or {},
        timeout,
        jar or CookieJar(),
        clock,
        max_redirects,
        max_body,
    )


def _fetch(
    url: str,
    context: ssl.SSLContext,
    method: str,
    extra: Mapping[str, str],
    timeout: float,
    jar: CookieJar,
    clock: Clock,
    max_redirects: int = MAX_REDIRECTS,
    max_body: int = MAX_BODY_BYTES,
) -> Session:
    # One deadline from the start, shared by every hop and by the unverified retry.
    limits = _Limits(timeout, clock.monotonic() + timeout, clock, max_body)
    options = (method, extra, jar, limits, max_redirects)
    try:
        try:
            return _chain(url, context, True, *options)
        except _CertError:
            return _chain(url, _unverified_context(), False, *options)
    except _ChainError as exc:
        raise FetchError(str(exc)) from None


def _chain(
    url: str,
    context: ssl.SSLContext,
    verified: bool,
    method: str,
    extra: Mapping[str, str],
    jar: CookieJar,
    limits: _Limits,
    max_redirects: int,
) -> Session:
    responses: list[FetchedResponse] = []
    redirects = 0
    while True:
        headers = {"Accept": _ACCEPT, "User-Agent": _USER_AGENT, **extra}
        cookie = jar.header_for(url)
        if cookie is not None:
            headers["Cookie"] = cookie
        response = _request(method, url, headers, context, limits)
        responses.append(response)
        for name, value in response.headers:
            if name.lower() == "set-cookie":
                jar.store(url, value)
        if response.status not in _REDIRECTS or redirects >= max_redirects:
            break
        location = next((v for n, v in response.headers if n.lower() == "location"), None)
        if location is None:
            break  # a redirect without Location is graded as the final response
        url = _resolve(url, location)
        redirects += 1
        if response.status == 303 or method != "OPTIONS":
            method = "GET"
    return Session(tuple(responses), verified)


def scan_url(
    url: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    cafile: str | None = None,
    http_port: int | None = None,
    https_port: int | None = None,
    preload: PreloadList | None = None,
    suffixes: PublicSuffixList | None = None,
    clock: Clock = system_clock,
) -> Scan:
    """Fetch ``url`` over HTTPS and plain HTTP plus the CORS preflight; return the :class:`Scan`.

    An explicit port in ``url`` belongs to the URL's scheme; ``http_port``/``https_port`` set
    the port for a scheme explicitly. ``timeout`` is the deadline of each of the three fetches
    (the HTTPS chain, the HTTP chain, the preflight), as in :func:`fetch_chain`; a chain that
    times out counts as unreachable, like one refused. Raises ConfigError for a bad URL or
    option and :class:`FetchError` (exit 3) when neither scheme could be reached.

    Added in 0.1.
    """
    target = parse_target(url)
    if not (0 < timeout <= 300):
        raise ConfigError(f"timeout {timeout!r} must be between 0 and 300 seconds, e.g. 10.")
    for label, value in (("http_port", http_port), ("https_port", https_port)):
        if value is not None and not 0 < value < 65536:
            raise ConfigError(f"{label} {value!r} is not a port; use 1-65535.")
    ports = {
        "https": https_port
        if https_port is not None
        else (target.port if target.scheme == "https" else None),
        "http": http_port
        if http_port is not None
        else (target.port if target.scheme == "http" else None),
    }
    context = _verified_context(cafile)  # a bad CA bundle is bad input: before any request
    sessions: dict[str, Session | None] = {}
    jars: dict[str, CookieJar] = {}
    errors: list[str] = []
    for scheme in ("https", "http"):
        jars[scheme] = CookieJar(suffixes)
        try:
            sessions[scheme] = _fetch(
                target.url(scheme, ports[scheme]), context, "GET", {}, timeout, jars[scheme], clock
            )
        except FetchError as exc:
            sessions[scheme] = None
            errors.append(str(exc))
    auto_scheme = "https" if sessions["https"] is not None else "http"
    auto = sessions[auto_scheme]
    if auto is None:
        raise FetchError(f"could not fetch {target.host}: " + "; ".join(errors))
    cors: FetchedResponse | None
    try:
        preflight = {"Origin": OBSERVATORY_ORIGIN, "Access-Control-Request-Method": "GET"}
        cors = _fetch(
            auto.final.url, context, "OPTIONS", preflight, timeout, jars[auto_scheme], clock
        ).final
    except FetchError:
        cors = None
    return Scan(
        hostname=target.host,
        https=sessions["https"],
        http=sessions["http"],
        cors=cors,
        preload=preload,
        suffixes=suffixes,
    )
