"""A TCP or TLS connection that knows which of the lines it sent could still be lost.

Plain TCP cannot tell the sender that the receiving *program* read what its kernel acknowledged: a
receiver that exits with unread data in its receive buffer loses that data although our
``sendall`` succeeded long ago. :class:`StreamConnection` therefore keeps one small record per send
and reports, through :meth:`StreamConnection.unconfirmed`, how many of the most recent lines are
still at risk; the pipeline keeps those in its disk spool and resends them after a reconnect.

A send counts as confirmed when either

* the peer's kernel has acknowledged at least ``replay_bytes`` more bytes after it (its receive
  buffer cannot hold more than that unread, so the program must have read the send), or
* nothing is waiting for an acknowledgement (``SIOCOUTQ`` is 0) and ``confirm_idle`` seconds passed
  since the last send while the connection stayed healthy (a receiver that died would have reset
  the connection by then), which lets the tail of a burst be confirmed once traffic stops.

For TLS the byte counts mix plaintext (what we sent) and wire bytes (what waits for an ACK), so
the first rule is approximate, in the safe direction: TLS overhead only delays confirmation.
Where ``SIOCOUTQ`` is not available (not Linux), only the idle rule applies, on time alone.

The query parameters the stream sinks share (``timeout``, ``ca``, ``verify``) are read by
:class:`~bulletproof.sinks.base.SinkSpec`, as for every other sink.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
from collections import deque
from typing import Final

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import SinkError, SinkUnavailableError

__all__ = [
    "DEFAULT_REPLAY_BYTES",
    "StreamConnection",
]

DEFAULT_REPLAY_BYTES: Final = 8 * 1024 * 1024
"""Default bound of what a peer's kernel can hold unread (Linux ``tcp_rmem`` max is 6 MiB).

Added in 0.1.
"""

_MAX_RECORDS: Final = 65_536
"""More sends than this without confirmation: the two oldest records are merged (conservative)."""

_DRAIN: Final = 4096


def _outq(sock: socket.socket) -> int | None:
    """Bytes written to ``sock`` that the peer has not acknowledged yet, or None if unknown."""
    try:
        import fcntl
        import termios

        request = termios.TIOCOUTQ
        raw = fcntl.ioctl(sock.fileno(), request, b"\0\0\0\0")
    except (ImportError, AttributeError, OSError, ValueError):
        return None
    value: int = struct.unpack("i", raw)[0]
    return value


def _peer_window(sock: socket.socket) -> int:
    """The receive window the peer advertised last (``tcpi_snd_wnd``, Linux >= 5.4), or 0."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
    except (AttributeError, OSError):
        return 0
    if len(raw) < 232:
        return 0
    window: int = struct.unpack_from("I", raw, 228)[0]
    return window


def _readable(sock: socket.socket) -> bool:
    """True when ``sock`` has something to read (for a log receiver: EOF, a reset, or junk)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        return bool(poller.poll(0))
    ready, _, _ = select.select([sock], [], [], 0)
    return bool(ready)


class StreamConnection:
    """One TCP (optionally TLS) connection to a log receiver, with delivery accounting.

    ``send(data, lines)`` writes ``data`` (which holds ``lines`` log lines) with one ``sendall``;
    ``unconfirmed()`` says how many lines of the most recent sends could still be lost. Both first
    check whether the peer closed or reset the connection (a receiver never sends us anything, so
    a readable socket means EOF, a reset or a wrong protocol) and raise
    :class:`~bulletproof.errors.SinkError` if so. After any error the connection is closed and
    ``send``/``unconfirmed`` keep raising until :meth:`connect` succeeds again: every line sent on
    the broken connection must then be treated as unconfirmed.

    Memory stays bounded: one ``(end offset, lines)`` record per unconfirmed send, at most
    65,536 of them (older ones are merged, which only delays their confirmation).

    Called from one thread only (the pipeline's delivery thread); not thread-safe.

    Added in 0.1.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
        timeout: float = 10.0,
        replay_bytes: int = DEFAULT_REPLAY_BYTES,
        confirm_idle: float = 1.0,
        clock: Clock = system_clock,
        label: str = "",
    ) -> None:
        self._host = host
        self._port = port
        self._tls = tls
        self._server_hostname = server_hostname or host
        self._timeout = timeout
        self._replay_bytes = replay_bytes
        self._confirm_idle = confirm_idle
        self._clock = clock
        self._label = f"{label}: " if label else ""
        self._sock: socket.socket | None = None
        self._down_reason = "not connected (call open() first)"
        self._total = 0
        self._records: deque[tuple[int, int]] = deque()
        self._pending = 0
        self._last_send = 0.0
        self._max_window = 0
        self._handed_back = False

    @property
    def address(self) -> str:
        """``host:port`` as given (IPv6 hosts in brackets)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{host}:{self._port}"

    @property
    def connected(self) -> bool:
        """True between a successful :meth:`connect` and the next error or :meth:`close`."""
        return self._sock is not None

    def connect(self) -> None:
        """Open the connection (and the TLS handshake); raise SinkUnavailableError if it fails."""
        self.close()
        where = self.address
        try:
            raw = socket.create_connection((self._host, self._port), timeout=self._timeout)
        except OSError as exc:
            raise SinkUnavailableError(
                f"{self._label}cannot connect to {where}: {exc}. Check that the receiver is "
                "running and listening there, and that no firewall blocks the port."
            ) from None
        sock: socket.socket = raw
        try:
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(raw, server_hostname=self._server_hostname)
        except ssl.SSLCertVerificationError as exc:
            raw.close()
            raise SinkUnavailableError(
                f"{self._label}TLS certificate of {where} was rejected: "
                f"{exc.verify_message or exc.reason or exc}. Pass the CA that signed the "
                "receiver's certificate with ?ca=/path/to/ca.pem, or fix the host name in the URL "
                "to match the certificate."
            ) from None
        except (OSError, ValueError) as exc:
            raw.close()
            raise SinkUnavailableError(
                f"{self._label}TLS handshake with {where} failed: {exc}. Check that the port "
                "speaks TLS and that the scheme in the URL matches."
            ) from None
        self._sock = sock
        self._down_reason = ""
        self._total = 0
        self._records.clear()
        self._pending = 0
        self._last_send = self._clock.monotonic()
        self._max_window = 0
        self._handed_back = False

    def send(self, data: bytes, lines: int) -> None:
        """Write ``data`` (holding ``lines`` lines) with one sendall; raise SinkError on failure."""
        if self._sock is None and self._handed_back:
            self.connect()  # closed by the confirming handshake: not an outage
        sock = self._require()
        self._check_peer(sock)
        if not data:
            return
        try:
            sock.sendall(data)
        except TimeoutError:
            self._fail(f"timed out after {self._timeout:g} s while sending")
            raise SinkError(
                f"{self._label}sending to {self.address} timed out after {self._timeout:g} s: the "
                "receiver is not reading. Raise ?timeout= if it is just slow."
            ) from None
        except (OSError, ValueError) as exc:
            self._fail(f"send failed: {exc}")
            raise SinkError(f"{self._label}sending to {self.address} failed: {exc}") from None
        self._total += len(data)
        self._records.append((self._total, lines))
        self._pending += lines
        self._last_send = self._clock.monotonic()
        self._max_window = max(self._max_window, _peer_window(sock))
        if len(self._records) > _MAX_RECORDS:
            _end, first = self._records.popleft()
            end, second = self._records.popleft()
            self._records.appendleft((end, first + second))

    def unconfirmed(self) -> int:
        """Lines in recent sends that could still be lost; raise SinkError if the link is down."""
        if self._sock is None and self._handed_back:
            return 0  # everything was confirmed by the closing handshake
        sock = self._require()
        self._check_peer(sock)
        if not self._records:
            return 0
        outq = _outq(sock)
        if outq is not None:
            # The peer's kernel can hold about its receive buffer unread; its advertised window
            # is at most half of that buffer on Linux, hence twice the largest window seen.
            self._max_window = max(self._max_window, _peer_window(sock))
            bound = max(self._replay_bytes, 2 * self._max_window)
            acked = self._total - outq
            while self._records and acked >= self._records[0][0] + bound:
                _end, lines = self._records.popleft()
                self._pending -= lines
        idle = self._clock.monotonic() - self._last_send >= self._confirm_idle
        if self._records and idle and not outq:
            self._confirm_by_closing(sock)
        return self._pending

    def _confirm_by_closing(self, sock: socket.socket) -> None:
        """Traffic stopped: prove the receiving program read everything, then hand the link back.

        A half-close (TLS: close_notify) reaches the receiver after all data sent before it; a
        receiver answers it by closing once its program has read up to there. A reset, data, or
        no answer within the timeout means the program did not read it all: the lines are
        resent. The next ``send`` reconnects without reporting an outage.
        """
        wait = min(self._timeout, 5.0)
        try:
            if isinstance(sock, ssl.SSLSocket):
                sock.settimeout(wait)
                # SSLEOFError: closed without close_notify, after reading up to ours.
                with contextlib.suppress(ssl.SSLEOFError, ssl.SSLZeroReturnError):
                    sock.unwrap()
            else:
                sock.shutdown(socket.SHUT_WR)
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                if not poller.poll(int(wait * 1000)):
                    raise TimeoutError
                sock.setblocking(False)
                if sock.recv(_DRAIN):
                    self._fail("the receiver sent data")
                    raise SinkError(
                        f"{self._label}{self.address} sent data back, which a log receiver never "
                        "does; check that the URL points at the right port and protocol."
                    )
        except TimeoutError:
            self._fail("the receiver did not read what it was sent")
            raise SinkError(
                f"{self._label}{self.address} did not read the last lines within {wait:g} s; "
                "they will be resent after reconnecting."
            ) from None
        except (OSError, ValueError) as exc:
            self._fail(f"reset by the receiver: {exc}")
            raise SinkError(
                f"{self._label}{self.address} reset the connection ({exc}); the unconfirmed "
                "lines will be resent after reconnecting."
            ) from None
        self._records.clear()
        self._pending = 0
        self.close()
        self._handed_back = True

    def close(self) -> None:
        """Close the connection and forget what was sent on it. Never raises."""
        sock, self._sock = self._sock, None
        if not self._down_reason:
            self._down_reason = "closed (call open() again)"
        self._records.clear()
        self._pending = 0
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _require(self) -> socket.socket:
        if self._sock is None:
            raise SinkError(
                f"{self._label}connection to {self.address} is {self._down_reason}; "
                "everything sent on it is unconfirmed."
            )
        return self._sock

    def _fail(self, reason: str) -> None:
        self._down_reason = f"down ({reason})"
        self.close()

    def _check_peer(self, sock: socket.socket) -> None:
        """Raise SinkError when the peer closed or reset the connection (or sent anything)."""
        try:
            if not _readable(sock):
                return
            sock.setblocking(False)  # never wait here, even on a false "readable"
            try:
                data = sock.recv(_DRAIN)
            finally:
                sock.settimeout(self._timeout)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
            return  # only TLS housekeeping (session tickets) was waiting
        except (OSError, ValueError) as exc:
            self._fail(f"reset by the receiver: {exc}")
            raise SinkError(
                f"{self._label}{self.address} closed the connection ({exc}); "
                "the unconfirmed lines will be resent after reconnecting."
            ) from None
        if not data:
            self._fail("the receiver closed it")
            raise SinkError(
                f"{self._label}{self.address} closed the connection; "
                "the unconfirmed lines will be resent after reconnecting."
            )
        self._fail("the receiver sent data")
        raise SinkError(
            f"{self._label}{self.address} sent data back ({len(data)} bytes), which a log "
            "receiver never does; check that the URL points at the right port and protocol. "
            "Closed the connection."
        )
