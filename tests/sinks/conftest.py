"""Real receivers on 127.0.0.1 for the stream and syslog sink tests.

``tcp_receiver`` / ``udp_receiver`` are factories of in-process servers on ephemeral ports (TCP
optionally with TLS); ``tls_ca`` is a trustme CA with a server certificate for 127.0.0.1;
``rsyslog_log`` makes sure a real rsyslogd listens on 127.0.0.1:5514 (see scripts/rsyslog.sh) and
gives the file it writes each message to.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from tests.sinks.rsyslog import ensure_rsyslog

_TICK = 0.02
_REPO = Path(__file__).resolve().parents[2]


class TcpReceiver:
    """A TCP (or TLS) server that stores what each connection sends, until told to stop."""

    def __init__(
        self,
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        read: bool = True,
        rcvbuf: int | None = None,
    ) -> None:
        self.tls = tls
        self.read = read
        self.connections: list[bytearray] = []
        self.errors: list[BaseException] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._rst = False
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf is not None:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(16)
        self._listener.settimeout(_TICK)
        self.port: int = self._listener.getsockname()[1]
        self._spawn(self._accept_loop)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._cond:  # a new connection shows in .connections only once its thread is listed
            thread.start()
            self._threads.append(thread)

    def _accept_loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                self._spawn(self._serve, conn)
        finally:
            self._listener.close()

    def _serve(self, conn: socket.socket) -> None:
        sock = conn
        buf = bytearray()
        try:
            if self.tls is not None:
                conn.settimeout(5)
                sock = self.tls.wrap_socket(conn, server_side=True)
            with self._cond:
                self.connections.append(buf)
                self._cond.notify_all()
            sock.settimeout(_TICK)
            while not (self._stop.is_set() or self._drop.is_set()):
                if not self.read:
                    self._stop.wait(_TICK)
                    continue
                try:
                    data = sock.recv(65536)
                except (TimeoutError, ssl.SSLWantReadError):
                    continue
                if not data:
                    break
                with self._cond:
                    buf.extend(data)
                    self._cond.notify_all()
        except OSError as exc:
            with self._cond:
                self.errors.append(exc)
                self._cond.notify_all()
        finally:
            if self._rst:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            conn.close()

    def _join(self, threads: list[threading.Thread]) -> None:
        for thread in threads:
            thread.join(5)
            assert not thread.is_alive(), "receiver thread did not stop"

    def drop_clients(self, *, rst: bool = False) -> None:
        """Close every accepted connection (FIN, or RST with ``rst``); keep listening."""
        self._rst = rst
        self._drop.set()
        with self._cond:
            serving = self._threads[1:]
            del self._threads[1:]
        self._join(serving)
        self._drop.clear()

    def stop(self) -> None:
        """Close the listening socket and every connection; returns once all are closed."""
        self._stop.set()
        self._join(self._threads[:1])
        with self._cond:
            serving = self._threads[1:]
        self._join(serving)

    @property
    def data(self) -> bytes:
        """Everything received, all connections in order."""
        with self._cond:
            return b"".join(self.connections)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Wait (real time, bounded) until ``predicate()`` holds."""
        with self._cond:
            return self._cond.wait_for(predicate, timeout)

    def wait_connections(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` connections were accepted (and TLS handshakes done)."""
        ok = self.wait_for(lambda: len(self.connections) >= count, timeout)
        assert ok, f"expected {count} connections, got {len(self.connections)}"

    def wait_bytes(self, count: int, timeout: float = 5.0) -> bytes:
        """Wait until at least ``count`` bytes arrived in total; return them all."""
        ok = self.wait_for(lambda: sum(len(c) for c in self.connections) >= count, timeout)
        assert ok, f"expected {count} bytes, got {len(self.data)}: {self.data[:200]!r}"
        return self.data


class UdpReceiver:
    """A UDP server that stores every datagram."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(_TICK)
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    data = self._sock.recv(70000)
                except TimeoutError:
                    continue
                with self._cond:
                    self.datagrams.append(data)
                    self._cond.notify_all()
        finally:
            self._sock.close()

    def wait_count(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """Wait until ``count`` datagrams arrived; return them."""
        with self._cond:
            ok = self._cond.wait_for(lambda: len(self.datagrams) >= count, timeout)
            assert ok, f"expected {count} datagrams, got {len(self.datagrams)}"
            return list(self.datagrams)

    def stop(self) -> None:
        """Stop the thread and close the socket."""
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def tcp_receiver() -> Iterator[Callable[..., TcpReceiver]]:
    """Factory: ``tcp_receiver(port=0, tls=None, read=True, rcvbuf=None)``; stopped at the end."""
    made: list[TcpReceiver] = []

    def make(
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        read: bool = True,
        rcvbuf: int | None = None,
    ) -> TcpReceiver:
        rx = TcpReceiver(port, tls=tls, read=read, rcvbuf=rcvbuf)
        made.append(rx)
        return rx

    yield make
    for rx in made:
        rx.stop()


@pytest.fixture
def udp_receiver() -> Iterator[Callable[[], UdpReceiver]]:
    """Factory of UDP receivers; all stopped at the end."""
    made: list[UdpReceiver] = []

    def make() -> UdpReceiver:
        rx = UdpReceiver()
        made.append(rx)
        return rx

    yield make
    for rx in made:
        rx.stop()


@dataclass(frozen=True)
class TlsSetup:
    """A CA (its PEM file) and a server context with a certificate for 127.0.0.1/localhost."""

    ca_file: Path
    server: ssl.SSLContext
    other_ca_file: Path


@pytest.fixture(scope="session")
def _trustme_cas() -> tuple[trustme.CA, trustme.CA]:
    return trustme.CA(), trustme.CA()


@pytest.fixture
def tls_ca(_trustme_cas: tuple[trustme.CA, trustme.CA], tmp_path: Path) -> TlsSetup:
    """TLS material: ``ca_file`` signs ``server``'s certificate; ``other_ca_file`` does not."""
    ca, other = _trustme_cas
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    ca_file = tmp_path / "ca.pem"
    other_file = tmp_path / "other-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    other.cert_pem.write_to_path(str(other_file))
    return TlsSetup(ca_file=ca_file, server=server, other_ca_file=other_file)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def closed_port() -> int:
    """A port with no listener, for connection-refused tests."""
    return free_port()


@pytest.fixture(scope="session")
def rsyslog_log() -> Path:
    """The file the test rsyslogd writes raw messages to; starts rsyslogd when needed.

    With ``CI`` set, a missing rsyslogd is a failure (CI must start it first); locally the fixture
    runs ``scripts/rsyslog.sh`` itself, once.
    """
    return ensure_rsyslog()
