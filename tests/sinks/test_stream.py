"""StreamConnection against real TCP and TLS servers on 127.0.0.1."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Any

import pytest

from bulletproof.errors import SinkError, SinkUnavailableError
from bulletproof.sinks import _stream
from bulletproof.sinks._stream import StreamConnection, _outq
from bulletproof.testing import FakeClock

Receivers = Callable[..., Any]  # the tcp_receiver / udp_receiver factories (conftest.py)


def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``predicate`` (real time, bounded): the kernel's ACKs are not instant."""
    done = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return True
        done.wait(0.005)
    return predicate()


def _acked(conn: StreamConnection) -> Callable[[], bool]:
    sock = conn._sock
    assert sock is not None
    return lambda: _outq(sock) == 0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _connect(port: int, clock: FakeClock, **kwargs: object) -> StreamConnection:
    conn = StreamConnection("127.0.0.1", port, timeout=5, clock=clock, **kwargs)  # type: ignore[arg-type]
    conn.connect()
    return conn


def test_idle_rule_confirms_only_after_confirm_idle(
    tcp_receiver: Receivers, clock: FakeClock
) -> None:
    rx = tcp_receiver()
    conn = _connect(rx.port, clock)
    try:
        conn.send(b"a\nb\nc\n", 3)
        rx.wait_bytes(6)
        assert _until(_acked(conn))
        # Everything is ACKed, but the receiver could still lose it: not confirmed yet.
        assert conn.unconfirmed() == 3
        clock.advance(0.5)
        conn.send(b"d\n", 1)
        rx.wait_bytes(8)
        assert _until(_acked(conn))
        clock.advance(0.75)  # 1.25 s after the first send, 0.75 s after the last
        assert conn.unconfirmed() == 4
        clock.advance(0.125)
        assert conn.unconfirmed() == 4
        clock.advance(0.125)
        assert conn.unconfirmed() == 0
        assert conn.unconfirmed() == 0
    finally:
        conn.close()


def test_confirmation_by_acked_bytes_beyond_replay_bytes(
    tcp_receiver: Receivers, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With no window information (older kernels), replay_bytes alone sets the bound.
    monkeypatch.setattr(_stream, "_peer_window", lambda sock: 0)
    rx = tcp_receiver()
    conn = _connect(rx.port, clock, replay_bytes=100)
    try:
        conn.send(b"x" * 50, 1)  # ends at 50
        conn.send(b"y" * 200, 2)  # ends at 250
        rx.wait_bytes(250)
        assert _until(_acked(conn))
        # 250 acked >= 50 + 100 confirms the first send; the second needs 350.
        assert conn.unconfirmed() == 2
        conn.send(b"z" * 100, 4)  # ends at 350
        rx.wait_bytes(350)
        assert _until(_acked(conn))
        assert conn.unconfirmed() == 4
        assert clock.monotonic() == 0.0  # the idle rule played no part
    finally:
        conn.close()


def test_bound_grows_to_twice_the_peer_window(tcp_receiver: Receivers, clock: FakeClock) -> None:
    """A peer whose kernel can hold more than replay_bytes unread keeps lines unconfirmed."""
    rx = tcp_receiver()
    conn = _connect(rx.port, clock, replay_bytes=100)
    try:
        conn.send(b"x" * 50, 1)
        conn.send(b"y" * 200, 2)
        rx.wait_bytes(250)
        assert _until(_acked(conn))
        assert _stream._peer_window(conn._sock) > 250  # type: ignore[arg-type]
        # 250 acked is not beyond 50 + 2 x window: nothing is confirmed by bytes.
        assert conn.unconfirmed() == 3
    finally:
        conn.close()


def test_receiver_that_stopped_reading_stays_unconfirmed_after_idle(
    tcp_receiver: Receivers, clock: FakeClock
) -> None:
    rx = tcp_receiver(read=False, rcvbuf=4096)
    conn = _connect(rx.port, clock, replay_bytes=0)
    try:
        conn.send(b"x" * 65536, 7)
        clock.advance(60)
        # Its window is full: bytes wait for an ACK, so neither rule confirms anything.
        assert conn.unconfirmed() == 7
    finally:
        conn.close()


def test_send_timeout_raises_sink_error(tcp_receiver: Receivers, clock: FakeClock) -> None:
    rx = tcp_receiver(read=False, rcvbuf=4096)
    conn = StreamConnection("127.0.0.1", rx.port, timeout=0.2, clock=clock)
    conn.connect()
    try:
        with pytest.raises(SinkError, match=r"timed out after 0\.2 s"):
            conn.send(b"x" * (64 << 20), 1)
        with pytest.raises(SinkError, match="down"):
            conn.unconfirmed()
    finally:
        conn.close()


def test_peer_close_makes_next_send_raise(tcp_receiver: Receivers, clock: FakeClock) -> None:
    rx = tcp_receiver()
    conn = _connect(rx.port, clock)
    try:
        conn.send(b"one\n", 1)
        rx.wait_bytes(4)
        rx.drop_clients()
        with pytest.raises(SinkError, match=r"127\.0\.0\.1:\d+ closed the connection"):
            conn.send(b"two\n", 1)
        assert rx.data == b"one\n"
        # Stays down until connect() again; what was sent is unconfirmed, not silently dropped.
        with pytest.raises(SinkError, match="unconfirmed"):
            conn.unconfirmed()
        with pytest.raises(SinkError):
            conn.send(b"three\n", 1)
        conn.connect()
        conn.send(b"four\n", 1)
        rx.wait_bytes(9)
        assert rx.data == b"one\nfour\n"
    finally:
        conn.close()


def test_peer_close_makes_unconfirmed_raise(tcp_receiver: Receivers, clock: FakeClock) -> None:
    rx = tcp_receiver()
    conn = _connect(rx.port, clock)
    try:
        conn.send(b"one\n", 1)
        rx.wait_bytes(4)
        rx.drop_clients()
        with pytest.raises(SinkError, match="closed the connection"):
            conn.unconfirmed()
    finally:
        conn.close()


def test_peer_reset_with_unread_data_raises(tcp_receiver: Receivers, clock: FakeClock) -> None:
    rx = tcp_receiver(read=False)
    conn = _connect(rx.port, clock)
    try:
        conn.send(b"never read\n", 1)
        rx.wait_connections(1)
        assert _until(_acked(conn))
        rx.drop_clients(rst=True)
        with pytest.raises(SinkError, match="closed the connection"):
            conn.unconfirmed()
    finally:
        conn.close()


def test_connection_refused_is_unavailable(closed_port: int, clock: FakeClock) -> None:
    conn = StreamConnection("127.0.0.1", closed_port, timeout=2, clock=clock, label="test://x")
    with pytest.raises(SinkUnavailableError) as info:
        conn.connect()
    message = str(info.value)
    assert f"127.0.0.1:{closed_port}" in message
    assert "refused" in message.lower()
    assert message.startswith("test://x: ")
    with pytest.raises(SinkError, match="not connected"):
        conn.send(b"x\n", 1)


def test_tls_session_tickets_are_not_mistaken_for_a_close(
    tcp_receiver: Receivers, tls_ca: Any, clock: FakeClock
) -> None:
    rx = tcp_receiver(tls=tls_ca.server)
    ctx = ssl.create_default_context(cafile=str(tls_ca.ca_file))
    conn = _connect(rx.port, clock, tls=ctx, server_hostname="localhost")
    try:
        conn.send(b"secret\n", 1)
        rx.wait_bytes(7)
        assert _until(_acked(conn))
        assert conn.unconfirmed() == 1
        clock.advance(1)
        assert conn.unconfirmed() == 0
        conn.send(b"more\n", 1)
        assert rx.wait_bytes(12) == b"secret\nmore\n"
        rx.drop_clients()
        with pytest.raises(SinkError, match="closed the connection"):
            conn.unconfirmed()
    finally:
        conn.close()


def test_close_is_idempotent_and_forgets(tcp_receiver: Receivers, clock: FakeClock) -> None:
    rx = tcp_receiver()
    conn = _connect(rx.port, clock)
    conn.send(b"x\n", 1)
    conn.close()
    conn.close()
    assert not conn.connected
    with pytest.raises(SinkError, match="closed"):
        conn.unconfirmed()
