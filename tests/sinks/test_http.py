"""The http(s):// batch sink and the shared client, against a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from tests.sinks.httpserver import RecordingHTTPServer, free_port

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.sinks import SinkSpec, _http, sink_from_url
from bulletproof.sinks._http_sink import HttpSink, create

LINES = [
    b'{"event":{"id":"1"},"message":"a"}',
    b'{"event":{"id":"2"},"message":"with ] and , inside"}',
    '{"event":{"id":"3"},"message":"caf\u00e9"}'.encode(),
]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def server() -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer() as srv:
        yield srv


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[RecordingHTTPServer]:
    with RecordingHTTPServer(tls=ca) as srv:
        yield srv


def _sink(url: str, **options: object) -> HttpSink:
    sink = sink_from_url(url, options=options)
    assert isinstance(sink, HttpSink)
    return sink


def test_batch_arrives_as_one_json_array_of_the_exact_lines(server: RecordingHTTPServer) -> None:
    sink = _sink(f"{server.url}/ingest")
    sink.open()
    sink.send(LINES)
    sink.close()
    (req,) = server.requests
    assert req.method == "POST"
    assert req.path == "/ingest"
    assert req.body == b"[" + b",".join(LINES) + b"]"
    assert [
        json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode() for d in req.json()
    ] == LINES
    assert req.headers["content-type"] == "application/json"
    assert req.headers["content-length"] == str(len(req.body))
    assert sink.unconfirmed() == 0


def test_empty_batch_sends_nothing(server: RecordingHTTPServer) -> None:
    _sink(f"{server.url}/ingest").send([])
    assert server.requests == []


def test_query_string_is_part_of_the_target_and_sent_as_is(server: RecordingHTTPServer) -> None:
    sink = _sink(f"{server.url}/bulk?pipeline=bp&timeout=5&a=%2B1")
    sink.send(LINES[:1])
    assert server.requests[0].path == "/bulk?pipeline=bp&timeout=5&a=%2B1"


def test_custom_headers_are_sent(server: RecordingHTTPServer) -> None:
    sink = _sink(
        f"{server.url}/in",
        headers={"Authorization": "Bearer s3cret", "X-Source": "web-1"},
        timeout=3,
    )
    sink.send(LINES)
    headers = server.requests[0].headers
    assert headers["authorization"] == "Bearer s3cret"
    assert headers["x-source"] == "web-1"


def test_userinfo_becomes_basic_auth_and_is_not_in_the_request_line(
    server: RecordingHTTPServer,
) -> None:
    port = server.port
    sink = _sink(f"http://elastic:pa%3Ass@127.0.0.1:{port}/_bulk")
    assert "pa%3Ass" not in sink.name
    sink.send(LINES)
    req = server.requests[0]
    assert req.path == "/_bulk"
    assert req.headers["authorization"] == "Basic " + base64.b64encode(b"elastic:pa:ss").decode()


@pytest.mark.parametrize("status", [500, 503, 429, 408])
def test_retryable_status_raises_sink_error(server: RecordingHTTPServer, status: int) -> None:
    server.reply(status, b"busy, come back later")
    sink = _sink(f"{server.url}/in")
    with pytest.raises(SinkError, match=rf"HTTP {status}.*busy") as info:
        sink.send(LINES)
    assert not isinstance(info.value, SinkUnavailableError)
    # the next try works: the sink is not stuck
    sink.send(LINES)
    assert len(server.requests) == 2


def test_client_error_names_status_and_first_200_chars_of_body(
    server: RecordingHTTPServer,
) -> None:
    body = b"mapping error\r\nInjected: yes " + b"x" * 500
    server.reply(400, body)
    sink = _sink(f"{server.url}/in")
    with pytest.raises(SinkError) as info:
        sink.send(LINES)
    message = str(info.value)
    assert "HTTP 400" in message
    assert "mapping error\\r\\nInjected: yes" in message  # CR/LF cannot split the message
    assert "\n" not in message
    assert "x" * 171 in message
    assert "x" * 172 not in message  # 200 characters of body, no more
    assert sink.name in message


def test_error_messages_never_contain_the_password(server: RecordingHTTPServer) -> None:
    server.reply(401, b"bad credentials for elastic:hunter2")
    sink = _sink(f"http://elastic:hunter2@127.0.0.1:{server.port}/in")
    with pytest.raises(SinkError) as info:
        sink.send(LINES)
    assert "hunter2" not in str(info.value)
    assert "HTTP 401" in str(info.value)


def test_connection_refused_raises_sink_unavailable() -> None:
    port = free_port()
    sink = _sink(f"http://127.0.0.1:{port}/in")
    with pytest.raises(SinkUnavailableError, match=rf"127\.0\.0\.1:{port} refused"):
        sink.send(LINES)
    with pytest.raises(SinkUnavailableError, match="refused"):
        sink.probe()


def test_read_timeout_is_a_sink_error_not_unavailable(server: RecordingHTTPServer) -> None:
    release = threading.Event()
    server.reply(200, hold=release)
    sink = _sink(f"{server.url}/in", timeout=0.2)
    with pytest.raises(SinkError, match=r"did not answer within 0\.2 s") as info:
        sink.send(LINES)
    release.set()
    assert not isinstance(info.value, SinkUnavailableError)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Evil": "a\r\nInjected: 1"},
        {"X-Evil": "a\nb"},
        {"X-Evil": "a\x00b"},
        {"Bad Name": "x"},
        {"X-Ok\r\nInjected": "x"},
        {"Content-Length": "1"},
        {"X-Number": 5},
    ],
)
def test_bad_header_is_a_config_error_at_construction(
    server: RecordingHTTPServer, headers: dict[str, object]
) -> None:
    with pytest.raises(ConfigError, match="header"):
        _sink(f"{server.url}/in", headers=headers)
    assert server.requests == []


def test_headers_option_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="'headers' must be a table"):
        _sink("http://127.0.0.1:9/in", headers=["Authorization: x"])


@pytest.mark.parametrize("timeout", [0, -1, "soon", True, float("nan")])
def test_bad_timeout_is_a_config_error(timeout: object) -> None:
    with pytest.raises(ConfigError, match="timeout"):
        _sink("http://127.0.0.1:9/in", timeout=timeout)


def test_credentials_in_url_and_authorization_header_conflict() -> None:
    with pytest.raises(ConfigError, match="either in the URL or as an Authorization header"):
        _sink("http://u:p@127.0.0.1:9/in", headers={"Authorization": "Bearer x"})


def test_https_with_private_ca(tls_server: RecordingHTTPServer, ca_file: Path) -> None:
    sink = _sink(f"{tls_server.url}/secure", ca=str(ca_file))
    sink.send(LINES)
    assert tls_server.requests[0].body == b"[" + b",".join(LINES) + b"]"
    assert "handshake ok, certificate verified" in sink.probe()


def test_https_ca_path_is_relative_to_base_dir(
    tls_server: RecordingHTTPServer, ca_file: Path
) -> None:
    sink = sink_from_url(
        f"{tls_server.url}/secure", options={"ca": ca_file.name}, base_dir=ca_file.parent
    )
    sink.send(LINES)
    assert len(tls_server.requests) == 1


def test_https_without_the_ca_is_unavailable_and_says_how_to_fix(
    tls_server: RecordingHTTPServer,
) -> None:
    sink = _sink(f"{tls_server.url}/secure")
    with pytest.raises(SinkUnavailableError, match=r"not trusted.*ca=PATH"):
        sink.send(LINES)
    with pytest.raises(SinkUnavailableError, match="not trusted"):
        sink.probe()
    assert tls_server.requests == []


def test_https_to_a_plain_http_port_fails_the_handshake(
    server: RecordingHTTPServer, ca_file: Path
) -> None:
    sink = _sink(f"https://127.0.0.1:{server.port}/in", ca=str(ca_file))
    with pytest.raises(SinkUnavailableError, match="TLS handshake"):
        sink.send(LINES)


def test_missing_ca_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        _sink("https://127.0.0.1:9/in", ca=str(tmp_path / "nope.pem"))


def test_ca_with_plain_http_is_a_config_error(ca_file: Path) -> None:
    with pytest.raises(ConfigError, match="https"):
        _sink("http://127.0.0.1:9/in", ca=str(ca_file))


def test_probe_connects_without_sending(server: RecordingHTTPServer) -> None:
    result = _sink(f"{server.url}/in").probe()
    assert result == f"TCP connection to 127.0.0.1:{server.port} accepted"
    assert server.requests == []


def test_unresolvable_host_is_unavailable() -> None:
    sink = _sink("http://no-such-host.invalid/in", timeout=2)
    with pytest.raises(SinkUnavailableError, match=r"cannot resolve host 'no-such-host\.invalid'"):
        sink.send(LINES)


def test_create_rejects_other_schemes() -> None:
    with pytest.raises(ConfigError, match="not an http"):
        create(SinkSpec.parse("ftp://example.com/x"))


def test_client_caps_response_body(server: RecordingHTTPServer) -> None:
    server.reply(200, b"y" * (_http.MAX_RESPONSE_BYTES + 1000), {"X-Answer": "42"})
    resp = _http.get(f"{server.url}/big", timeout=5)
    assert resp.status == 200
    assert len(resp.body) == _http.MAX_RESPONSE_BYTES
    assert resp.headers["x-answer"] == "42"
    assert server.requests[0].method == "GET"


def test_client_rejects_header_injection_at_send_time_too(server: RecordingHTTPServer) -> None:
    with pytest.raises(ConfigError, match="CR, LF or NUL"):
        _http.post(f"{server.url}/x", b"", {"X-A": "1\r\nX-B: 2"}, timeout=5)
    assert server.requests == []
