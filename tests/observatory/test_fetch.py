"""The Observatory-style fetcher against real HTTP and HTTPS servers on 127.0.0.1.

Also holds :class:`SiteServer` and :class:`DripServer`, which ``tests/cli/test_headers_cmd.py``
imports.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from bulletproof.errors import ConfigError, FetchError, UngradableError
from bulletproof.observatory import (
    OBSERVATORY_ORIGIN,
    grade_scan,
    parse_target,
    scan_url,
)
from bulletproof.observatory._fetch import fetch_chain
from bulletproof.testing import FakeClock

Answer = tuple[int, list[tuple[str, str]], bytes]
Route = Callable[["Seen"], Answer]


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it (header names lower-case, repeats kept)."""

    method: str
    path: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((v for n, v in self.headers if n == name), None)


HTML = ("Content-Type", "text/html; charset=utf-8")


def page(*headers: tuple[str, str], status: int = 200, body: bytes = b"<p>hi</p>") -> Route:
    return lambda _seen: (status, [HTML, *headers], body)


def redirect(location: str, status: int = 302, *extra: tuple[str, str]) -> Route:
    return lambda _seen: (status, [("Location", location), *extra], b"")


@dataclass
class SiteServer:
    """A real HTTP(S) server on 127.0.0.1 answering from a path -> route table.

    Unknown paths get 404. ``OPTIONS`` uses ``options`` (default: 204 without CORS headers).
    With ``tls`` (a trustme CA) it serves HTTPS for 127.0.0.1 and localhost.
    """

    routes: dict[str, Route] = field(default_factory=dict)
    tls: trustme.CA | None = None
    options: Route | None = None
    seen: list[Seen] = field(default_factory=list)
    on_request: Callable[[Seen], None] | None = None
    release: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        owner = self
        server_ctx: ssl.SSLContext | None = None
        if self.tls is not None:
            server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def _any(self) -> None:
                seen = Seen(
                    self.command, self.path, [(k.lower(), v) for k, v in self.headers.items()]
                )
                owner.seen.append(seen)
                if owner.on_request is not None:
                    owner.on_request(seen)
                route = owner.routes.get(self.path)
                if self.command == "OPTIONS":
                    route = owner.options or (lambda _s: (204, [], b""))
                if route is None:
                    status, headers, body = 404, [("Content-Type", "text/plain")], b"no"
                else:
                    status, headers, body = route(seen)
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_OPTIONS = do_HEAD = _any  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def finish_request(self, request: Any, client_address: Any) -> None:
                if server_ctx is None:
                    super().finish_request(request, client_address)
                    return
                try:
                    wrapped = server_ctx.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                try:
                    super().finish_request(wrapped, client_address)
                finally:
                    wrapped.close()

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        port: int = self._httpd.server_address[1]
        return port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> SiteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class DripServer:
    """A raw TCP server on 127.0.0.1 that answers slowly, for the deadline tests.

    Each connection: read the request, send ``upfront`` at once, then ``drip`` one byte every
    ``interval`` seconds, then close. With ``silent`` it reads the request and never answers.
    With ``upstream`` (a port on 127.0.0.1) it is a proxy instead: requests pass through, and
    what the upstream server sends (a TLS handshake included) is dripped, at most ``limit``
    bytes. Every connection ends when the server is closed.
    """

    def __init__(
        self,
        drip: bytes = b"",
        *,
        upfront: bytes = b"",
        interval: float = 0.2,
        silent: bool = False,
        upstream: int | None = None,
        limit: int = 40,
    ) -> None:
        self.drip, self.upfront, self.interval = drip, upfront, interval
        self.silent, self.upstream, self.limit = silent, upstream, limit
        self.connections = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.02)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DripServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                if self.upstream is not None:
                    self._proxy(conn, self.upstream)
                    return
                conn.recv(65536)
                if self.silent:
                    self._stop.wait(30)
                    return
                conn.sendall(self.upfront)
                self._send_slowly(conn, self.drip)
            except OSError:
                pass  # the client gave up: what the tests want

    def _send_slowly(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self._stop.wait(self.interval):
                return
            conn.sendall(data[i : i + 1])

    def _proxy(self, conn: socket.socket, upstream: int) -> None:
        with socket.create_connection(("127.0.0.1", upstream), timeout=5) as up:

            def forward() -> None:
                try:
                    while data := conn.recv(65536):
                        up.sendall(data)
                except OSError:
                    pass

            threading.Thread(target=forward, daemon=True).start()
            sent = 0
            while sent < self.limit and not self._stop.is_set():
                data = up.recv(65536)[: self.limit - sent]
                if not data:
                    return
                self._send_slowly(conn, data)
                sent += len(data)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# -- parse_target ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "scheme", "port", "path"),
    [
        ("https://Example.COM", "example.com", "https", None, "/"),
        ("example.com/a/b?x=1#frag", "example.com", "https", None, "/a/b?x=1"),
        ("http://127.0.0.1:8080/x", "127.0.0.1", "http", 8080, "/x"),
        ("http://[::1]:81/", "::1", "http", 81, "/"),
        ("https://bücher.example/ä", "xn--bcher-kva.example", "https", None, "/%C3%A4"),
        (
            "https://example.com/%0d%0aX-Evil:%201",
            "example.com",
            "https",
            None,
            "/%0d%0aX-Evil:%201",
        ),
    ],
)
def test_parse_target_accepts(
    url: str, host: str, scheme: str, port: int | None, path: str
) -> None:
    target = parse_target(url)
    assert (target.host, target.scheme, target.port, target.path) == (host, scheme, port, path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "URL is empty"),
        ("   ", "URL is empty"),
        ("ftp://example.com/", "scheme 'ftp' is not supported"),
        ("https://exa mple.com/", "whitespace or control characters"),
        ("https://example.com/\r\nX-Evil: 1", "whitespace or control characters"),
        ("https://example.com/\x00", "whitespace or control characters"),
        ("https://example.com:99999/", "is not valid"),
        ("https://example.com:0/", "port 0 is not valid"),
        ("https:///path", "is not a valid host name"),
        ("https://exa_mple..com/", "is not a valid host name"),
        ("https://ex<a>mple.com/", "is not a valid host name"),
        ("https://[::1/", "is not valid"),
    ],
)
def test_parse_target_rejects(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_target(url)
    assert "\n" not in str(info.value)
    assert "\r" not in str(info.value)


def test_credentials_are_refused_without_echo() -> None:
    with pytest.raises(ConfigError, match="credentials in the URL") as info:
        parse_target("https://admin:hunter2@example.com/")
    assert "hunter2" not in str(info.value)


# -- plain HTTP chains ----------------------------------------------------------------------------


def test_http_redirect_chain_is_recorded_and_graded() -> None:
    routes = {
        "/": redirect("/a", 302, ("Set-Cookie", "sessionid=1; Path=/")),
        "/a": redirect("http://127.0.0.1:{port}/b", 301),
        "/b": page(
            ("X-Frame-Options", "DENY"),
            ("X-Content-Type-Options", "nosniff"),
            ("X-Content-Type-Options", "nosniff"),
            ("Set-Cookie", "theme=dark"),
            ("Set-Cookie", "lang=en"),
        ),
    }
    with SiteServer(routes) as site:
        routes["/a"] = redirect(f"http://127.0.0.1:{site.port}/b", 301)
        scan = scan_url(site.url + "/", https_port=closed_port(), timeout=5)
    assert scan.https is None
    assert scan.http is not None
    base = site.url
    assert scan.http.route == ((f"{base}/", 302), (f"{base}/a", 301), (f"{base}/b", 200))
    final = scan.http.final
    assert [v for n, v in final.headers if n == "Set-Cookie"] == ["theme=dark", "lang=en"]
    assert [v for n, v in final.headers if n == "X-Content-Type-Options"] == ["nosniff"] * 2
    assert final.body == "<p>hi</p>"
    # the cookie from the first hop was sent back on the later ones
    gets = [s for s in site.seen if s.method == "GET"]
    assert [s.path for s in gets] == ["/", "/a", "/b"]
    assert gets[0].header("cookie") is None
    assert gets[2].header("cookie") == "sessionid=1"
    assert (gets[0].header("accept") or "").startswith("text/html")
    # the CORS preflight went to the final URL
    options = [s for s in site.seen if s.method == "OPTIONS"]
    assert [s.path for s in options] == ["/b"]
    assert options[0].header("origin") == OBSERVATORY_ORIGIN
    assert options[0].header("access-control-request-method") == "GET"
    assert scan.cors is not None
    assert scan.cors.status == 204

    graded = grade_scan(scan)
    assert graded.tests["redirection"].result == "redirection-not-to-https"
    assert graded.tests["strict-transport-security"].result == "hsts-not-implemented-no-https"
    assert graded.tests["x-content-type-options"].result == "x-content-type-options-header-invalid"
    assert graded.tests["cookies"].result == "cookies-session-without-secure-flag"


def test_at_most_ten_redirects_and_a_3xx_final_is_graded() -> None:
    routes: dict[str, Route] = {f"/r{i}": redirect(f"/r{i + 1}", 307) for i in range(20)}
    with SiteServer(routes) as site:
        scan = scan_url(site.url + "/r0", https_port=closed_port(), timeout=5)
    assert scan.http is not None
    assert [status for _, status in scan.http.route] == [307] * 11
    assert scan.http.final.url.endswith("/r10")
    assert [s.method for s in site.seen if s.path == "/r0"] == ["GET"]
    graded = grade_scan(scan)  # 100 - 25 (CSP) - 20 (redirection) - 20 (HSTS) - 5 - 20
    assert (graded.score, graded.grade) == (10, "F")


def test_redirect_without_location_is_final() -> None:
    with SiteServer({"/": lambda _s: (302, [HTML], b"")}) as site:
        scan = scan_url(site.url, https_port=closed_port(), timeout=5)
    assert scan.http is not None
    assert scan.http.route == ((site.url + "/", 302),)


@pytest.mark.parametrize(
    "location",
    ["ftp://127.0.0.1/file", "/a\x01b", "http://user:pw@127.0.0.1/", "http://exa mple.com/"],
)
def test_bad_redirect_targets_fail_the_chain(location: str) -> None:
    with (
        SiteServer({"/": redirect(location)}) as site,
        pytest.raises(FetchError, match=r"could not fetch 127\.0\.0\.1: ") as info,
    ):
        scan_url(site.url, https_port=closed_port(), timeout=5)
    assert "\x01" not in str(info.value)
    assert "pw@" not in str(info.value) or "unsupported URL" in str(info.value)


def test_redirect_location_is_percent_encoded_not_injected() -> None:
    routes = {"/": redirect("/next page?q=a b"), "/next%20page?q=a%20b": page()}
    with SiteServer(routes) as site:
        scan = scan_url(site.url, https_port=closed_port(), timeout=5)
    assert scan.http is not None
    assert scan.http.route[-1] == (site.url + "/next%20page?q=a%20b", 200)


def test_encoded_crlf_in_the_path_stays_encoded() -> None:
    with SiteServer({}) as site, pytest.raises(UngradableError, match="HTTP status 404"):
        grade_scan(scan_url(site.url + "/%0d%0aX-Evil:%201", https_port=closed_port()))
    assert site.seen[0].path == "/%0d%0aX-Evil:%201"
    assert all(name != "x-evil" for name, _ in site.seen[0].headers)


def test_options_keeps_its_method_across_redirects_but_not_after_303() -> None:
    with SiteServer({}) as site:
        hops = {"/o1": (307, "/o2"), "/o2": (303, "/o3")}

        def options(seen: Seen) -> Answer:
            if seen.path in hops:
                status, location = hops[seen.path]
                return status, [("Location", location)], b""
            return 200, [("Access-Control-Allow-Origin", "*")], b""

        site.options = options
        site.routes["/o3"] = lambda _s: (200, [("Access-Control-Allow-Origin", "*")], b"")
        session = fetch_chain(site.url + "/o1", method="OPTIONS", timeout=5)
    assert [(s.method, s.path) for s in site.seen] == [
        ("OPTIONS", "/o1"),
        ("OPTIONS", "/o2"),
        ("GET", "/o3"),
    ]
    assert session.final.status == 200


def test_body_is_capped_and_decoded_with_its_charset() -> None:
    body = "é".encode("latin-1") * 5000
    routes = {"/": lambda _s: (200, [("Content-Type", "text/html; charset=ISO-8859-1")], body)}
    with SiteServer(routes) as site:
        session = fetch_chain(site.url + "/", timeout=5, max_body=1000)
    assert session.final.body == "é" * 1000


def test_unknown_charset_falls_back_to_utf8() -> None:
    routes = {"/": lambda _s: (200, [("Content-Type", "text/html; charset=bogus")], b"\xc3\xa9")}
    with SiteServer(routes) as site:
        assert fetch_chain(site.url + "/", timeout=5).final.body == "é"


# -- errors: unreachable, timeouts, deadline ------------------------------------------------------


def test_unreachable_everywhere_is_a_fetch_error() -> None:
    port = closed_port()
    with pytest.raises(FetchError, match=r"could not fetch 127\.0\.0\.1: https://127\.0\.0\.1:"):
        scan_url(f"http://127.0.0.1:{port}/", https_port=closed_port(), timeout=2)
    assert FetchError("x").exit_code == 3


def test_unknown_host_is_a_fetch_error() -> None:
    with pytest.raises(FetchError, match=r"could not fetch nonexistent\.invalid"):
        scan_url("https://nonexistent.invalid/", timeout=2)


def test_a_server_that_never_answers_times_out() -> None:
    with SiteServer({}) as site:

        def hold(_seen: Seen) -> None:
            site.release.wait(5)

        site.on_request = hold
        with pytest.raises(FetchError, match=r"timed out after 0\.3 s"):
            scan_url(site.url, https_port=closed_port(), timeout=0.3)


def test_the_chain_deadline_uses_the_clock() -> None:
    clock = FakeClock()
    routes: dict[str, Route] = {f"/s{i}": redirect(f"/s{i + 1}") for i in range(5)}
    with SiteServer(routes) as site:
        site.on_request = lambda _seen: clock.advance(4)
        with pytest.raises(FetchError, match="took longer than the deadline"):
            fetch_chain(site.url + "/s0", timeout=9, clock=clock)
        # 4 s per hop against a 10 s deadline: the third hop never starts
        assert [s.path for s in site.seen] == ["/s0", "/s1", "/s2"]


# -- the timeout is one deadline for the whole fetch ---------------------------------------------

# A fetch must stop at its deadline, whatever the load of the machine. Every slow server
# below would keep a fetch with per-read timeouts going for 6 s or more (each read succeeds).
SLOW_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"  # 40 bytes: 8 s at 0.2 s/byte
SLOW_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 30\r\n\r\n"


def fails_within(timeout: float, call: Callable[[], object]) -> str:
    """Run ``call``: it must raise FetchError saying the ``timeout`` s deadline cut it short.

    No bound on the time it took (the machine is shared): every slow server here would answer
    in full well after the deadline, so a fetch that ignored it would not raise. The deadline's
    arithmetic is tested on a FakeClock (test_the_chain_deadline_uses_the_clock).
    """
    with pytest.raises(FetchError) as info:
        call()
    message = str(info.value)
    assert f"timed out after {timeout:g} s" in message
    assert "\n" not in message
    return message


def held(site: SiteServer, seconds: float) -> Callable[[Seen], None]:
    """An ``on_request`` hook: every request waits ``seconds`` before it is answered."""

    def hold(_seen: Seen) -> None:
        site.release.wait(seconds)

    return hold


@pytest.mark.parametrize(
    ("upfront", "drip"),
    [(b"", SLOW_RESPONSE), (SLOW_HEAD, b"<p>one byte every 0.2 s...</p>")],
    ids=["status-and-headers", "body"],
)
def test_a_drip_fed_response_stops_at_the_deadline(upfront: bytes, drip: bytes) -> None:
    with DripServer(drip, upfront=upfront) as slow:
        message = fails_within(1, lambda: fetch_chain(slow.url + "/", timeout=1))
    assert message.startswith(f"{slow.url}/: timed out after 1 s: ")
    assert "took longer than the deadline" in message
    assert "--timeout" in message


def test_redirects_to_a_slow_endpoint_share_the_deadline() -> None:
    with DripServer(SLOW_RESPONSE) as slow, SiteServer({}) as site:
        site.routes.update({f"/r{i}": redirect(f"/r{i + 1}") for i in range(3)})
        site.routes["/r3"] = redirect(slow.url + "/slow")
        site.on_request = held(site, 0.1)  # a slowish site, too
        message = fails_within(1, lambda: fetch_chain(site.url + "/r0", timeout=1))
    assert [s.path for s in site.seen] == ["/r0", "/r1", "/r2", "/r3"]
    assert message.startswith(f"{slow.url}/slow: timed out after 1 s")


def test_hops_each_within_the_timeout_add_up_to_the_deadline() -> None:
    # 0.3 s per hop, 1 s in all: the fourth hop is cut short, the fifth never starts.
    routes: dict[str, Route] = {f"/h{i}": redirect(f"/h{i + 1}", 307) for i in range(5)}
    routes["/h5"] = page()
    with SiteServer(routes) as site:
        site.on_request = held(site, 0.3)
        message = fails_within(1, lambda: fetch_chain(site.url + "/h0", timeout=1))
    assert [s.path for s in site.seen] == ["/h0", "/h1", "/h2", "/h3"]
    assert message.startswith(f"{site.url}/h3: timed out after 1 s")


def test_a_server_that_accepts_and_never_answers_stops_at_the_deadline() -> None:
    with DripServer(silent=True) as silent:
        fails_within(0.5, lambda: fetch_chain(silent.url + "/", timeout=0.5))
    assert silent.connections == 1


def test_a_drip_fed_tls_handshake_stops_at_the_deadline(ca: trustme.CA, ca_file: str) -> None:
    with SiteServer({"/": page()}, tls=ca) as site, DripServer(upstream=site.port) as proxy:
        url = f"https://127.0.0.1:{proxy.port}/"
        message = fails_within(1, lambda: fetch_chain(url, cafile=ca_file, timeout=1))
        assert site.seen == []  # the handshake never finished
    assert message.startswith(f"{url}: timed out after 1 s")


def test_scan_url_gives_each_fetch_the_deadline() -> None:
    with DripServer(SLOW_RESPONSE) as slow:
        url = slow.url + "/"
        message = fails_within(0.5, lambda: scan_url(url, https_port=closed_port(), timeout=0.5))
    assert message.startswith("could not fetch 127.0.0.1: https://127.0.0.1:")
    assert f"; {url}: timed out after 0.5 s" in message


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="timeout 0 must be between"):
        scan_url("https://example.com/", timeout=0)
    with pytest.raises(ConfigError, match="https_port 70000 is not a port"):
        scan_url("https://example.com/", https_port=70000)
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match="cannot load the CA bundle"):
        scan_url("https://example.com/", cafile=missing)


# -- HTTPS: verified, unverified, http -> https ---------------------------------------------------

SECURE = (
    ("Strict-Transport-Security", "max-age=31536000"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
)


@pytest.fixture
def https_site(ca: trustme.CA) -> Iterator[SiteServer]:
    with SiteServer({"/": page(*SECURE)}, tls=ca) as site:
        yield site


def test_http_to_https_on_the_same_host(https_site: SiteServer, ca_file: str) -> None:
    routes = {"/": redirect(f"https://127.0.0.1:{https_site.port}/", 301)}
    with SiteServer(routes) as plain:
        scan = scan_url(plain.url + "/", https_port=https_site.port, cafile=ca_file, timeout=5)
    assert scan.https is not None
    assert scan.https.verified
    assert scan.https.route == ((https_site.url + "/", 200),)
    assert scan.http is not None
    assert scan.http.verified
    assert scan.http.route == ((plain.url + "/", 301), (https_site.url + "/", 200))
    graded = grade_scan(scan)
    assert graded.tests["redirection"].result == "redirection-to-https"
    assert graded.tests["strict-transport-security"].result == (
        "hsts-implemented-max-age-at-least-six-months"
    )
    assert graded.tests["content-security-policy"].result == (
        "csp-implemented-with-no-unsafe-default-src-none"
    )
    assert (graded.score, graded.grade) == (115, "A+")


def test_https_url_with_explicit_port_and_no_plain_http(
    https_site: SiteServer, ca_file: str
) -> None:
    scan = scan_url(https_site.url, http_port=closed_port(), cafile=ca_file, timeout=5)
    assert scan.http is None
    assert scan.https is not None
    assert scan.https.verified
    assert grade_scan(scan).tests["redirection"].result == "redirection-not-needed-no-http"
    assert [s.method for s in https_site.seen] == ["GET", "OPTIONS"]


def test_untrusted_certificate_is_fetched_again_unverified(https_site: SiteServer) -> None:
    routes = {"/": redirect(f"https://127.0.0.1:{https_site.port}/", 301)}
    with SiteServer(routes) as plain:
        scan = scan_url(plain.url, https_port=https_site.port, timeout=5)
    assert scan.https is not None
    assert not scan.https.verified
    assert scan.http is not None
    assert not scan.http.verified
    graded = grade_scan(scan)
    assert graded.tests["strict-transport-security"].result == "hsts-invalid-cert"
    assert graded.tests["redirection"].result == "redirection-invalid-cert"
    # the first TLS attempt failed in the handshake: only the retries reached the handler
    assert [s.method for s in https_site.seen] == ["GET", "GET", "OPTIONS"]


def test_only_the_given_ca_is_trusted(ca: trustme.CA, ca_file: str) -> None:
    with SiteServer({"/": page()}, tls=ca) as site:
        session = fetch_chain(site.url + "/", cafile=ca_file, timeout=5)
        assert session.verified
        other = trustme.CA()
        other_file = Path(ca_file).with_name("other.pem")
        other.cert_pem.write_to_path(str(other_file))
        session = fetch_chain(site.url + "/", cafile=str(other_file), timeout=5)
        assert not session.verified
