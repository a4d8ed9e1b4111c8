"""Real receivers and helpers for the end-to-end acceptance tests.

* :class:`JsonLinesReceiver`: a Logstash ``tcp`` input with the ``json_lines`` codec, in threads of
  the test process, on 127.0.0.1. It records every line's ``event.id`` and, for send-test events,
  ``bulletproof.details.run`` / ``seq``; it can read at full speed, slowly, or in bursts (as a
  Logstash whose pipeline pushes back does), be killed hard in the middle of a stream and be
  restarted on the same port, keeping what it recorded.
* :func:`start_smtp`: a real aiosmtpd server on 127.0.0.1 (port 0) that counts messages.
* :func:`ensure_rsyslog` (from ``tests/sinks/rsyslog.py``, shared with the ``rsyslog_log``
  fixture): the private rsyslogd on 127.0.0.1:5514 that ``scripts/rsyslog.sh`` starts.
* :class:`Cli`, :func:`run_cli`, :func:`cli_env`, :func:`poll`: run the ``bulletproof`` console
  script and wait for conditions with deadlines instead of sleeping.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from aiosmtpd.controller import Controller

from bulletproof.clock import system_clock

_TICK = 0.02
_REPO = Path(__file__).resolve().parents[2]
BULLETPROOF = Path(sys.executable).parent / "bulletproof"
"""The venv's console script (``python -m bulletproof.cli`` has no ``__main__``)."""


# --------------------------------------------------------------------------------------------
# Waiting and the CLI
# --------------------------------------------------------------------------------------------


def poll(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    """Check ``predicate`` every ``interval`` seconds (real time) until it holds or time is up."""
    deadline = system_clock.monotonic() + timeout
    waiter = threading.Event()
    while True:
        if predicate():
            return True
        if system_clock.monotonic() >= deadline:
            return predicate()
        waiter.wait(interval)


def report(text: str) -> None:
    """Show measured figures in ``pytest -s`` output."""
    sys.stdout.write(f"\n[acceptance] {text}\n")
    sys.stdout.flush()


def cli_env(config_dir: Path, **extra: str) -> dict[str, str]:
    """The environment for a CLI run: no inherited ``BULLETPROOF_*``; config from ``config_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
    env["BULLETPROOF_CONFIG"] = str(config_dir)
    env.update(extra)
    return env


@dataclass(frozen=True)
class CliResult:
    """How a CLI run ended: exit code, output, the JSON it printed, how long it took."""

    code: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def json(self) -> dict[str, Any]:
        """The last line of stdout as a JSON object (``--format json``)."""
        lines = self.stdout.strip().splitlines()
        assert lines, f"no output (exit {self.code}); stderr:\n{self.stderr}"
        doc = json.loads(lines[-1])
        assert isinstance(doc, dict), self.stdout
        return doc


class Cli:
    """``bulletproof ARGS`` running as a subprocess; its output goes to files, never a full pipe.

    Use as a context manager: a process still running at the end of the block is killed.
    """

    def __init__(self, *args: str, cwd: Path, env: Mapping[str, str]) -> None:
        self.started = system_clock.monotonic()
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in finish()/__exit__
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            [str(BULLETPROOF), *args], cwd=cwd, env=dict(env), stdout=self._out, stderr=self._err
        )

    @property
    def running(self) -> bool:
        """True until the process exited."""
        return self.proc.poll() is None

    def _read(self, f: IO[bytes]) -> str:
        f.seek(0)
        return f.read().decode("utf-8", "replace")

    def finish(self, timeout: float) -> CliResult:
        """Wait (bounded) for the exit; kill the process and fail the test if it does not."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(
                f"bulletproof did not exit within {timeout:g} s (killed); stdout:\n"
                f"{self._read(self._out)}\nstderr:\n{self._read(self._err)[-3000:]}",
                pytrace=False,
            )
        seconds = system_clock.monotonic() - self.started
        return CliResult(
            self.proc.returncode, self._read(self._out), self._read(self._err), seconds
        )

    def __enter__(self) -> Cli:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.running:
            self.proc.kill()
            self.proc.wait()
        self._out.close()
        self._err.close()


def run_cli(*args: str, cwd: Path, env: Mapping[str, str], timeout: float) -> CliResult:
    """Run ``bulletproof ARGS`` to the end (at most ``timeout`` seconds)."""
    with Cli(*args, cwd=cwd, env=env) as proc:
        return proc.finish(timeout)


# --------------------------------------------------------------------------------------------
# A Logstash json_lines stand-in
# --------------------------------------------------------------------------------------------


@dataclass
class EventStore:
    """What a :class:`JsonLinesReceiver` recorded, across restarts.

    ``seqs[run]``: distinct ``seq`` values of send-test run ``run``; ``copies[run]``: lines of that
    run including duplicates; ``ids``: how often each ``event.id`` arrived; ``actions``: counts of
    the other events (``sink_unavailable``...). ``mismatched`` lists ``(run, seq)`` pairs that
    arrived with two different event ids (a resend must carry the same id).
    """

    seqs: dict[str, set[int]] = field(default_factory=dict)
    copies: Counter[str] = field(default_factory=Counter)
    ids: Counter[str] = field(default_factory=Counter)
    id_of: dict[tuple[str, int], str] = field(default_factory=dict)
    mismatched: list[tuple[str, int]] = field(default_factory=list)
    actions: Counter[str] = field(default_factory=Counter)
    lines: int = 0
    size: int = 0
    bad: list[bytes] = field(default_factory=list)
    torn_tails: int = 0
    reports: list[dict[str, Any]] = field(default_factory=list)
    """The pipeline's own reports of losses: ``events_dropped``, ``spool_corrupt``, ..."""

    def add(self, docs: list[dict[str, Any]], bad: list[bytes], size: int) -> None:
        """Record one received chunk (caller holds the receiver's lock)."""
        self.size += size
        self.bad.extend(bad)
        self.lines += len(docs) + len(bad)
        for doc in docs:
            event = doc.get("event") or {}
            event_id = str(event.get("id"))
            self.ids[event_id] += 1
            details = (doc.get("bulletproof") or {}).get("details") or {}
            run, seq = details.get("run"), details.get("seq")
            if event.get("action") == "test_event" and isinstance(run, str) and type(seq) is int:
                self.seqs.setdefault(run, set()).add(seq)
                self.copies[run] += 1
                known = self.id_of.setdefault((run, seq), event_id)
                if known != event_id:
                    self.mismatched.append((run, seq))
            else:
                self.actions[str(event.get("action"))] += 1
                if str(event.get("action")).startswith(("events_dropped", "spool_")):
                    self.reports.append(doc)

    def distinct(self, run: str | None = None) -> int:
        """Distinct seqs of ``run`` (of all runs when None)."""
        if run is not None:
            return len(self.seqs.get(run, ()))
        return sum(len(s) for s in self.seqs.values())


def _unread(sock: socket.socket) -> int:
    """Bytes the kernel holds for ``sock`` that the program has not read (FIONREAD)."""
    raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    value: int = struct.unpack("i", raw)[0]
    return value


def _parse_lines(lines: list[bytes]) -> tuple[list[dict[str, Any]], list[bytes]]:
    docs: list[dict[str, Any]] = []
    bad: list[bytes] = []
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            bad.append(line[:300])
            continue
        if isinstance(doc, dict):
            docs.append(doc)
        else:
            bad.append(line[:300])
    return docs, bad


class JsonLinesReceiver:
    """A TCP JSON-lines server on 127.0.0.1 that records events; killable and restartable.

    Reading: ``pause`` seconds of not reading, then up to ``burst`` bytes as fast as possible,
    repeated (``pause=0``: always read; small ``burst`` with a pause: a slow receiver; large
    ``burst``: a receiver whose pipeline pushes back now and then, so its kernel buffer fills;
    a huge ``pause``: a hung receiver that accepts but never reads). Both can be changed while it
    runs.

    :meth:`kill` closes the listening socket and every connection at once, without reading what
    waits in the kernel (a plain ``close`` with unread data, which the kernel answers with a
    reset, or ``SO_LINGER 0`` with ``rst=True``); :attr:`discarded` adds up the bytes thrown away
    that way. ``kill_at=N`` makes the serving thread kill the receiver itself as soon as it has
    recorded ``N`` lines, in the middle of the stream, after first not reading for ``stall``
    seconds (a blocked pipeline) when ``stall`` is set. :meth:`start` listens again on the same
    port; :attr:`store` survives.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        pause: float = 0.0,
        burst: int = 1 << 20,
        kill_at: int | None = None,
        stall: float = 0.0,
        rst: bool = False,
    ) -> None:
        self.pause = pause
        self.stall = stall
        self.burst = burst
        self.kill_at = kill_at
        self.rst = rst
        self.store = EventStore()
        self.connections = 0
        self.open = 0  # connections not yet read to their end (or killed)
        self.discarded = 0
        self.errors: list[BaseException] = []
        self.kills = 0
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.port = port
        self.start()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on ``self.port`` (port 0 the first time picks one); start accepting."""
        if self._threads:
            raise RuntimeError("receiver is already running")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(_TICK)
        self.port = listener.getsockname()[1]
        self._stop.clear()
        self._spawn(self._accept_loop, listener)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        with self._cond:
            self._threads.append(thread)
        thread.start()

    def kill(self) -> None:
        """Close the listener and all connections now (unread data is discarded); wait for it."""
        self._trip()
        self.wait_dead()

    def _trip(self) -> None:
        with self._cond:
            if not self._stop.is_set():
                self.kills += 1
            self._stop.set()
            self._cond.notify_all()

    def wait_dead(self, timeout: float = 10.0) -> None:
        """Wait until every thread of the current run ended and every socket is closed."""
        with self._cond:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
            assert not thread.is_alive(), "receiver thread did not stop"
        with self._cond:
            self._threads.clear()

    def close(self) -> None:
        """Stop (for fixtures); harmless when already stopped."""
        self._trip()
        self.wait_dead()

    # -- threads -----------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError as exc:
                    self.errors.append(exc)
                    return
                with self._cond:
                    self.connections += 1
                    self.open += 1
                self._spawn(self._serve, conn)
        finally:
            listener.close()

    def _serve(self, conn: socket.socket) -> None:
        pending = b""
        conn.settimeout(_TICK)
        try:
            while not self._stop.is_set():
                if self.pause > 0 and self._stop.wait(self.pause):
                    break
                taken = 0
                while taken < self.burst and not self._stop.is_set():
                    try:
                        data = conn.recv(min(1 << 20, self.burst - taken))
                    except TimeoutError:
                        break
                    if not data:  # the sender closed the connection
                        if pending:
                            with self._cond:
                                self.store.torn_tails += 1
                        return
                    taken += len(data)
                    pending = self._consume(pending + data)
        except OSError as exc:
            with self._cond:
                self.errors.append(exc)
        finally:
            with contextlib.suppress(OSError), self._cond:
                self.discarded += _unread(conn) + len(pending)
            if self.rst and self._stop.is_set():  # killed (not at the sender's EOF): reset now
                with contextlib.suppress(OSError):
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # plain close: whatever the kernel still holds unread is thrown away
            with self._cond:
                self.open -= 1
                self._cond.notify_all()

    @property
    def stopping(self) -> bool:
        """True once :meth:`kill` was called or ``kill_at`` was reached."""
        return self._stop.is_set()

    def _consume(self, data: bytes) -> bytes:
        cut = data.rfind(b"\n")
        if cut < 0:
            return data
        lines = [line for line in data[:cut].split(b"\n") if line]
        docs, bad = _parse_lines(lines)
        with self._cond:
            self.store.add(docs, bad, cut + 1)
            tripped = self.kill_at is not None and self.store.lines >= self.kill_at
            if tripped:
                self.kill_at = None
            self._cond.notify_all()
        if tripped:
            if self.stall > 0:
                # Stop reading first (a blocked pipeline), then die with the buffer full.
                self._stop.wait(self.stall)
            self._trip()
        return data[cut + 1 :]

    # -- inspection --------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[EventStore], bool], timeout: float) -> bool:
        """Wait (real time, bounded) until ``predicate(store)`` holds."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.store), timeout)

    def wait_read_to_end(self, timeout: float = 30.0) -> bool:
        """Wait (bounded) until every connection accepted so far was read to the sender's
        close. A sender that exited has written everything it will: after this the store
        holds all of it. ("Delivered" to a TCP sink means handed to the kernel; the reading
        thread may still be behind on a loaded machine.)"""
        with self._cond:
            return self._cond.wait_for(lambda: self.open == 0, timeout)

    def snapshot(self) -> dict[str, Any]:
        """Figures for messages: lines, bytes, distinct seqs per run, other actions."""
        with self._cond:
            s = self.store
            return {
                "lines": s.lines,
                "bytes": s.size,
                "runs": {run: (len(seqs), s.copies[run]) for run, seqs in s.seqs.items()},
                "other": dict(s.actions),
                "bad": len(s.bad),
                "connections": self.connections,
                "kills": self.kills,
                "discarded_bytes": self.discarded,
            }


@contextlib.contextmanager
def json_lines_receiver(**kwargs: Any) -> Iterator[JsonLinesReceiver]:
    """A :class:`JsonLinesReceiver` closed at the end of the block."""
    rx = JsonLinesReceiver(**kwargs)
    try:
        yield rx
    finally:
        rx.close()


def closed_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------------------------
# SMTP
# --------------------------------------------------------------------------------------------


@dataclass
class SmtpInbox:
    """aiosmtpd handler: keeps every message (sender, recipients, raw bytes)."""

    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def count(self) -> int:
        """Messages received so far."""
        with self.lock:
            return len(self.messages)

    def raw(self) -> list[bytes]:
        """The raw messages received so far."""
        with self.lock:
            return [m[2] for m in self.messages]


class _Controller(Controller):
    """aiosmtpd's Controller on port 0: learn the real port before the start-up self-test."""

    def _trigger_server(self) -> None:
        sockets = getattr(self.server, "sockets", None)
        assert sockets, "aiosmtpd did not start listening"
        self.port = sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def start_smtp() -> Iterator[tuple[SmtpInbox, int]]:
    """A plain SMTP server (no TLS, no auth) on 127.0.0.1; yields ``(inbox, port)``."""
    inbox = SmtpInbox()
    controller = _Controller(inbox, hostname="127.0.0.1", port=0, server_hostname="mx.test")
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


# --------------------------------------------------------------------------------------------
# rsyslog
# --------------------------------------------------------------------------------------------
