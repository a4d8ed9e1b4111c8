"""Health probes: an HTTP GET, or a bare TCP connection, optionally proven to have reached one
given instance.

While a new instance starts beside the old one on the supervisor's socket, a probe of the
shared address may be answered by either. A *targeted* probe connects, waits until some
process accepts the connection, looks up (psutil) which process holds the server end, and only
counts when that process belongs to the new instance's tree.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from bulletproof.clock import Clock
from bulletproof.supervise._process import tree_pids

__all__ = ["ProbeTarget", "probe"]

_POLL: Final = 0.005
_POLL_MAX: Final = 0.05
_USER_AGENT: Final = "bulletproof-run"


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """What a probe reaches: ``url`` (HTTP), else the TCP ``address``. Added in 0.1."""

    url: str | None
    address: tuple[str, int] | None
    timeout: float


def _address(target: ProbeTarget) -> tuple[str, int, str, bool]:
    """``(host, port, path, tls)``."""
    if target.url is None:
        if target.address is None:  # pragma: no cover - the runner always gives one
            raise ValueError("a probe needs a URL or an address")
        host, port = target.address
        return host, port, "/", False
    parts = urlsplit(target.url)
    tls = parts.scheme == "https"
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if tls else 80)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return host, port, path, tls


def _shown(path: str) -> str:
    """``path`` as events show it: without its query, which may hold a token."""
    return path.partition("?")[0]


_Conn = tuple[str, tuple[object, ...], tuple[object, ...]]


def _tcp(pids: list[int]) -> list[_Conn]:
    """``(status, local address, remote address)`` of every TCP socket ``pids`` hold."""
    import psutil

    out: list[_Conn] = []
    for pid in set(pids):
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        out.extend((c.status, tuple(c.laddr[:2]), tuple(c.raddr[:2])) for c in conns)
    return out


def _owner(conn: socket.socket, pids: list[int]) -> bool | None:
    """Whether the server end of ``conn`` is held by one of ``pids`` (None: not accepted by
    anyone yet, as far as can be seen)."""
    local = tuple(conn.getsockname()[:2])
    remote = tuple(conn.getpeername()[:2])
    if any(raddr == local and laddr == remote for _, laddr, raddr in _tcp(pids)):
        return True
    # Not in the tree: accepted elsewhere, or still in the backlog. The listening socket's
    # queue is not visible per connection, so the caller keeps polling until its deadline.
    return None


def _serving(conn: socket.socket, pids: list[int]) -> bool:
    """Whether ``pids`` hold an accepted connection on the address ``conn`` reached."""
    server = tuple(conn.getpeername()[:2])
    return any(status == "ESTABLISHED" and laddr == server for status, laddr, _ in _tcp(pids))


def probe(
    target: ProbeTarget,
    clock: Clock,
    *,
    leader: int | None = None,
    cancel: threading.Event | None = None,
    others: Callable[[], list[int]] | None = None,
) -> tuple[bool, str, bool]:
    """Probe ``target``: ``(healthy, what happened, up)``; ``up`` is False when no process
    (of ``leader``'s tree, with ``leader``) took the connection.

    With ``leader``, the connection must be accepted by that pid's process tree; when
    ``others`` (the pids of the other instances) holds it instead, the probe reports that and
    fails fast, so that the caller tries again.
    """
    host, port, path, tls = _address(target)
    deadline = clock.monotonic() + target.timeout
    try:
        sock = socket.create_connection((host, port), timeout=target.timeout)
    except OSError as exc:
        return False, f"cannot connect to {host}:{port}: {exc.strerror or exc}", False
    with contextlib.closing(sock):
        if leader is not None:
            found = _wait_owner(sock, leader, deadline, clock, cancel, others)
            if isinstance(found, str):
                return False, found, found.startswith("busy")
        if target.url is None:
            return True, "accepted", True
        remaining = max(0.01, deadline - clock.monotonic())
        ok, detail = _http(sock, host, port, path, tls, remaining)
        return ok, detail, True


def _wait_owner(
    sock: socket.socket,
    leader: int,
    deadline: float,
    clock: Clock,
    cancel: threading.Event | None,
    others: Callable[[], list[int]] | None,
) -> bool | str:
    pause = _POLL
    while True:
        pids = tree_pids(leader)
        if not pids:
            return "the instance is gone"
        if _owner(sock, pids):
            return True
        if others is not None:
            other = others()
            if other and _owner(sock, other):
                return "accepted by another instance"
        if clock.monotonic() >= deadline:
            if _serving(sock, pids):
                # it took other connections on this address, and not ours: it runs, stuck
                return "busy: not accepting, with connections open"
            return "not accepted in time by the instance"
        if clock.sleep(pause, cancel):
            return "cancelled"
        pause = min(_POLL_MAX, pause * 1.5)


def _http(
    sock: socket.socket, host: str, port: int, path: str, tls: bool, timeout: float
) -> tuple[bool, str]:
    sock.settimeout(timeout)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # a liveness check of one's own server
            conn.sock = ctx.wrap_socket(sock, server_hostname=host)
        else:
            conn.sock = sock
        conn.request("GET", path, headers={"User-Agent": _USER_AGENT, "Connection": "close"})
        resp = conn.getresponse()
        status = resp.status
        resp.read(65536)
    except (OSError, http.client.HTTPException) as exc:
        text = str(exc) or type(exc).__name__
        return False, f"GET {_shown(path)}: {text}"
    finally:
        conn.sock = None
    if 200 <= status < 400:
        return True, f"HTTP {status}"
    return False, f"GET {_shown(path)}: HTTP {status}"
