"""logstash:// and logstash+tls:// against a real JSON-lines receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.events.base import Sink
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.sinks import sink_from_url
from bulletproof.sinks._logstash import LogstashSink, create, frame_line
from bulletproof.sinks.base import SinkSpec
from bulletproof.testing import FakeClock

Receivers = Callable[..., Any]  # the tcp_receiver / udp_receiver factories (conftest.py)


def _line(n: int, **extra: object) -> bytes:
    event = SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        severity=Severity.MEDIUM,
        user_name=f"user{n}",
        source_ip="203.0.113.9",
        timestamp=1_700_000_000.0 + n,
        id=f"e{n}",
        details=extra,
    )
    return json.dumps(event.to_ecs(), separators=(",", ":"), ensure_ascii=False).encode()


def _sink(url: str, clock: FakeClock | None = None) -> LogstashSink:
    return create(SinkSpec.parse(url), clock=clock or FakeClock())


def _docs(data: bytes) -> list[dict[str, object]]:
    assert data.endswith(b"\n")
    return [json.loads(part) for part in data.split(b"\n")[:-1]]


def test_batches_arrive_one_json_per_line(tcp_receiver: Receivers) -> None:
    rx = tcp_receiver()
    sink = _sink(f"logstash://127.0.0.1:{rx.port}")
    first = [_line(1), _line(2, note="héllo ☃"), _line(3)]
    second = [_line(4), _line(5)]
    sink.open()
    try:
        sink.send(first)
        sink.send([])
        sink.send(second)
        data = rx.wait_bytes(sum(len(li) + 1 for li in first + second))
    finally:
        sink.close()
    docs = _docs(data)
    assert docs == [json.loads(li) for li in first + second]
    assert [d["event"]["id"] for d in docs] == ["e1", "e2", "e3", "e4", "e5"]  # type: ignore[index]
    assert len(rx.connections) == 1


def test_raw_newlines_inside_a_line_cannot_split_it(tcp_receiver: Receivers) -> None:
    rx = tcp_receiver()
    sink = _sink(f"logstash://127.0.0.1:{rx.port}")
    # Not valid JSON as given (raw control characters inside a string), but must stay one line.
    evil = b'{"message":"a\nb\r\n{\\"injected\\":true}\x00c"}'
    sink.open()
    try:
        sink.send([evil, _line(1)])
        data = rx.wait_bytes(len(frame_line(evil)) + len(_line(1)) + 1)
    finally:
        sink.close()
    lines = data.split(b"\n")
    assert len(lines) == 3
    assert lines[2] == b""
    assert json.loads(lines[0]) == {"message": 'a\nb\r\n{"injected":true}\x00c'}
    assert json.loads(lines[1])["event"]["id"] == "e1"


def test_receiver_restart_send_raises_then_reconnect_works(tcp_receiver: Receivers) -> None:
    clock = FakeClock()
    rx = tcp_receiver()
    sink = _sink(f"logstash://127.0.0.1:{rx.port}", clock)
    sink.open()
    try:
        sink.send([_line(1)])
        rx.wait_bytes(len(_line(1)) + 1)
        assert sink.unconfirmed() == 1
        port = rx.port
        rx.stop()  # closes the listening socket and the client connection
        with pytest.raises(SinkError, match=f"127.0.0.1:{port} closed the connection"):
            sink.send([_line(2)])
        with pytest.raises(SinkError):
            sink.unconfirmed()
        sink.close()
        with pytest.raises(SinkUnavailableError, match=f"127.0.0.1:{port}"):
            sink.open()
        rx2 = tcp_receiver(port)
        sink.open()
        sink.send([_line(2), _line(3)])
        data = rx2.wait_bytes(len(_line(2)) + len(_line(3)) + 2)
        assert [d["event"]["id"] for d in _docs(data)] == ["e2", "e3"]  # type: ignore[index]
        assert b'"e2"' not in rx.data
        assert sink.unconfirmed() == 2
        clock.advance(1)
        assert sink.unconfirmed() == 0
    finally:
        sink.close()


def test_tls_with_ca_param(tcp_receiver: Receivers, tls_ca: Any) -> None:
    clock = FakeClock()
    rx = tcp_receiver(tls=tls_ca.server)
    sink = _sink(f"logstash+tls://localhost:{rx.port}?ca={tls_ca.ca_file}&timeout=5", clock)
    assert sink.probe() == f"TLS handshake with localhost:{rx.port} ok (certificate checked)"
    sink.open()
    try:
        sink.send([_line(1), _line(2)])
        data = rx.wait_bytes(len(_line(1)) + len(_line(2)) + 2)
        assert [d["event"]["id"] for d in _docs(data)] == ["e1", "e2"]  # type: ignore[index]
        assert sink.unconfirmed() == 2
        clock.advance(1)
        assert sink.unconfirmed() == 0
    finally:
        sink.close()


def test_tls_ca_path_relative_to_base_dir(tcp_receiver: Receivers, tls_ca: Any) -> None:
    rx = tcp_receiver(tls=tls_ca.server)
    spec = SinkSpec.parse(
        f"logstash+tls://127.0.0.1:{rx.port}?ca={tls_ca.ca_file.name}",
        base_dir=tls_ca.ca_file.parent,
    )
    assert create(spec).probe().startswith("TLS handshake with 127.0.0.1:")


def test_tls_with_wrong_ca_fails_clearly(tcp_receiver: Receivers, tls_ca: Any) -> None:
    rx = tcp_receiver(tls=tls_ca.server)
    sink = _sink(f"logstash+tls://127.0.0.1:{rx.port}?ca={tls_ca.other_ca_file}")
    with pytest.raises(SinkUnavailableError) as info:
        sink.open()
    message = str(info.value)
    assert f"127.0.0.1:{rx.port}" in message
    assert "certificate" in message
    assert "verify failed" in message or "unable to get local issuer" in message
    assert "?ca=" in message
    with pytest.raises(SinkUnavailableError, match="certificate"):
        sink.probe()


def test_tls_against_plain_tcp_port_fails(tcp_receiver: Receivers, tls_ca: Any) -> None:
    rx = tcp_receiver()
    sink = _sink(f"logstash+tls://127.0.0.1:{rx.port}?ca={tls_ca.ca_file}&timeout=0.2")
    with pytest.raises(SinkUnavailableError, match=r"TLS handshake with 127\.0\.0\.1"):
        sink.open()


def test_tls_verify_false_skips_the_check(tcp_receiver: Receivers, tls_ca: Any) -> None:
    rx = tcp_receiver(tls=tls_ca.server)
    sink = _sink(f"logstash+tls://127.0.0.1:{rx.port}?verify=false")
    assert "certificate NOT checked" in sink.probe()


def test_probe_plain_and_refused(tcp_receiver: Receivers, closed_port: int) -> None:
    rx = tcp_receiver()
    assert _sink(f"logstash://127.0.0.1:{rx.port}").probe() == (
        f"TCP connect to 127.0.0.1:{rx.port} ok"
    )
    with pytest.raises(SinkUnavailableError, match=f"127.0.0.1:{closed_port}.*refused"):
        _sink(f"logstash://127.0.0.1:{closed_port}").probe()


def test_send_before_open_raises() -> None:
    sink = _sink("logstash://127.0.0.1:9")
    with pytest.raises(SinkError, match="not connected"):
        sink.send([_line(1)])
    sink.close()


@pytest.mark.parametrize(
    ("url", "expect"),
    [
        ("logstash://", "needs a host and a port"),
        ("logstash://127.0.0.1", "needs a host and a port"),
        ("logstash://127.0.0.1:5000?tiemout=3", "Did you mean 'timeout'"),
        ("logstash://127.0.0.1:5000?timeout=soon", "timeout='soon'"),
        ("logstash://127.0.0.1:5000?timeout=0", "timeout='0'"),
        ("logstash://127.0.0.1:5000?replay_bytes=-1", "replay_bytes='-1'"),
        ("logstash://127.0.0.1:5000?ca=/etc/ssl/ca.pem", "only applies to logstash+tls"),
        ("logstash+tls://127.0.0.1:5000?ca=/nonexistent/ca.pem", "no such file"),
        ("logstash+tls://127.0.0.1:5000?verify=maybe", "must be true or false"),
        ("logstash://127.0.0.1:99999", "malformed"),
    ],
)
def test_bad_urls_are_config_errors_naming_the_url(url: str, expect: str) -> None:
    with pytest.raises(ConfigError) as info:
        sink_from_url(url)
    assert url in str(info.value)
    assert expect in str(info.value)


def test_ca_that_is_not_pem_is_a_config_error(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    url = f"logstash+tls://127.0.0.1:5000?ca={bogus}"
    with pytest.raises(ConfigError, match="could not be loaded as a PEM CA bundle") as info:
        sink_from_url(url)
    assert url in str(info.value)


def test_registry_builds_logstash_sinks() -> None:
    typed: Sink = create(SinkSpec.parse("logstash://logs.example.com:5000"))  # mypy: protocol
    assert typed.name == "logstash://logs.example.com:5000"
    sink = sink_from_url("logstash+tls://logs.example.com:5044")
    assert isinstance(sink, LogstashSink)
    assert sink.name == "logstash+tls://logs.example.com:5044"
