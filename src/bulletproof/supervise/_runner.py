"""``bulletproof run``'s I/O loop: carries out what :class:`~._machine.Machine` decides.

One thread waits on a selector for signals (through ``signal.set_wakeup_fd``), children's
exits, heartbeats, the server's output and probe results; a worker thread runs probes and
memory samples so that a slow one never holds the loop. The loop sleeps until the machine's
next deadline: a crash loop costs a spawn per restart and nothing in between.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import queue
import random
import selectors
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import BulletproofError, ConfigError
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity
from bulletproof.supervise._drain import ENV_DRAIN
from bulletproof.supervise._logs import RotatingLog
from bulletproof.supervise._machine import (
    Action,
    Drain,
    Emit,
    ExitStatus,
    Finish,
    Kill,
    Machine,
    Probe,
    Sample,
    Signal,
    Spawn,
)
from bulletproof.supervise._probe import ProbeTarget, probe
from bulletproof.supervise._process import (
    Guardian,
    SpawnError,
    adopted_children,
    become_subreaper,
    cloexec_inherited,
    high_fd,
    kill_tree,
    require_psutil,
    spawn,
    tree_memory,
    tree_pids,
)
from bulletproof.supervise._settings import RunConfig, parse_bind

__all__ = ["ENV_FD", "ENV_HEARTBEAT", "ENV_PID", "default_pid_file", "read_pid_file", "supervise"]

ENV_PID: Final = "BULLETPROOF_SUPERVISOR_PID"
"""Set in the server's environment: the supervisor's pid. Added in 0.1."""
ENV_FD: Final = "BULLETPROOF_SUPERVISOR_FD"
"""Set in the server's environment with ``bind``: the listening socket's fd (3). Added in 0.1."""
ENV_HEARTBEAT: Final = "BULLETPROOF_SUPERVISOR_HEARTBEAT"
"""Set with ``heartbeat``: ``fd:N`` (write a byte) or ``file:PATH`` (touch it). Added in 0.1."""

LISTEN_FD: Final = 3
_FORWARDED: Final = (
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGWINCH,
)
_HANDLED: Final = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, *_FORWARDED)
_READ: Final = 65536


def default_pid_file(root: Path) -> Path:
    """Where ``bulletproof run`` writes its pid when ``pid_file`` is not set: the runtime
    directory (``XDG_RUNTIME_DIR``, else the temp directory), one name per project root.

    Added in 0.1.
    """
    base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return base / f"bulletproof-run-{os.getuid()}-{digest}.pid"


def _ours(fd: int) -> bool:
    """Whether ``fd`` is a regular file this user owns: a pid file lives in a shared temp
    directory, where anyone may have put something under its name."""
    info = os.fstat(fd)
    return stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid()


def read_pid_file(path: Path) -> int:
    """The pid of the supervisor that holds ``path``; :class:`BulletproofError` when none
    runs there (no file, or a file no live supervisor holds). Added in 0.1."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise BulletproofError(
            f"no supervisor is running: {path} does not exist (start one with bulletproof run, "
            "or give its --pid-file)"
        ) from None
    except OSError as exc:
        raise BulletproofError(
            f"{path}: cannot read the pid file: {exc.strerror or exc} (a symlink is refused)"
        ) from None
    try:
        if not _ours(fd):
            raise BulletproofError(
                f"{path}: not a regular file of this user: not a pid file bulletproof run wrote"
            )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
            if text.isdigit() and int(text) > 1:
                return int(text)
            raise BulletproofError(f"{path}: the pid file holds {text[:20]!r}, not a pid") from None
        raise BulletproofError(f"no supervisor is running: {path} is left over from one that ended")
    finally:
        os.close(fd)


class _PidFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # never through a symlink: the default lives in a shared temp directory
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise ConfigError(
                f"pid_file {path}: cannot open it: {exc.strerror or exc} (a symlink is refused); "
                "give another --pid-file"
            ) from None
        if not _ours(self._fd):
            os.close(self._fd)
            raise ConfigError(
                f"pid_file {path}: not a regular file of this user: remove it or give another "
                "--pid-file"
            )
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(self._fd, 64, 0).decode("ascii", "replace").strip()
            os.close(self._fd)
            raise ConfigError(
                f"pid_file {path}: another supervisor (pid {other or '?'}) is running with it; "
                "stop it, or give this one its own --pid-file"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            os.close(self._fd)


@dataclass(slots=True)
class _Proc:
    gen: int
    pid: int
    beat_fd: int | None = None


@dataclass(slots=True)
class _Job:
    kind: str  # "probe" | "sample"
    gen: int
    pid: int
    targeted: bool = False
    seq: int = 0


@dataclass(slots=True)
class _Streams:
    """The output pipes (when logging to files): read ends here, write ends given to each
    instance as its stdout and stderr."""

    reads: dict[int, tuple[int, list[RotatingLog]]] = field(default_factory=dict)
    child: dict[int, int] = field(default_factory=dict)  # child fd -> write end


class _PassThrough:
    """The server's output to the supervisor's own stdout or stderr, written by a thread of its
    own: a stalled reader (a full pipe, a paused terminal) must not stop the loop. Holds up to
    4 MiB; beyond that, output is dropped and counted (it is still in the log file)."""

    LIMIT: Final = 4 * 2**20

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.dropped = 0
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def put(self, data: bytes) -> None:
        with self._cond:
            if self._size + len(data) > self.LIMIT:
                self.dropped += len(data)
                return
            self._chunks.append(data)
            self._size += len(data)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"bulletproof-run-out{self.fd}", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._chunks and not self._closed:
                    self._cond.wait()
                if not self._chunks:
                    return
                data = self._chunks.popleft()
                self._size -= len(data)
            view = memoryview(data)
            while view:
                try:
                    view = view[os.write(self.fd, view) :]
                except InterruptedError:
                    continue
                except OSError:  # the reader is gone: what is left is dropped
                    self.dropped += len(view)
                    break

    def close(self, timeout: float) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)


class _Runner:
    def __init__(
        self,
        config: RunConfig,
        argv: Sequence[str],
        *,
        emit: Callable[[SecurityEvent], None],
        root: Path,
        clock: Clock,
        report: Callable[[str], None],
        rng: random.Random,
    ) -> None:
        self.config = config
        self.argv = list(argv)
        self.emit = emit
        self.root = root
        self.clock = clock
        self.report = report
        self.program = os.path.basename(argv[0])
        self.machine = Machine(config, program=self.program, clock=clock, rng=rng)
        self.procs: dict[int, _Proc] = {}  # gen -> proc
        self.by_pid: dict[int, _Proc] = {}
        self.sel = selectors.DefaultSelector()
        self.guardian = Guardian()
        self.listen: socket.socket | None = None
        self.listen_fd: int | None = None
        self.address: tuple[str, int] | None = None
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.results: deque[Callable[[float], list[Action]]] = deque()
        self.stop_worker = threading.Event()
        self.streams = _Streams()
        self.passthrough = {1: _PassThrough(1), 2: _PassThrough(2)}
        self.lost_at: dict[Path, int] = {}
        self.logs: list[RotatingLog] = []
        self.beat_file: Path | None = None
        self.beat_mtime: float | None = None
        self.exit_code = 0
        self.pid_file: _PidFile | None = None
        self.tmp: Path | None = None

    # -- set-up --------------------------------------------------------------------------------

    def _path(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.root / path

    def setup(self) -> None:
        c = self.config
        cloexec_inherited()  # what the supervisor was given stays out of the server
        self.pid_file = _PidFile(
            self._path(c.pid_file) if c.pid_file else default_pid_file(self.root)
        )
        if c.bind is not None:
            self._listen(c.bind)
        if c.heartbeat is not None and c.heartbeat != "pipe":
            self.beat_file = self._path(c.heartbeat)
            self.beat_mtime = self._mtime()
        self._open_logs()
        self.tmp = Path(tempfile.mkdtemp(prefix="bulletproof-run-"))
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.result_r, self.result_w = os.pipe()
        os.set_blocking(self.result_r, False)
        self.sel.register(self.result_r, selectors.EVENT_READ, "result")
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        for sig in (*_HANDLED, signal.SIGCHLD):
            signal.signal(sig, _noop)
        signal.siginterrupt(signal.SIGCHLD, False)
        become_subreaper()
        self.guardian.start()
        threading.Thread(target=self._worker, name="bulletproof-run-probe", daemon=True).start()

    def _listen(self, bind: str) -> None:
        host, port = parse_bind(bind)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"bind = {bind!r}: cannot listen there: {exc.strerror or exc}; free the port or "
                "choose another"
            ) from None
        sock.listen(socket.SOMAXCONN)
        self.listen = sock
        self.listen_fd = high_fd(os.dup(sock.fileno()))
        bound = sock.getsockname()
        wildcard = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - probe names, not a bind
        probe_host: str = wildcard.get(bound[0], bound[0])
        self.address = (probe_host, bound[1])
        self.report(f"listening on {bound[0]}:{bound[1]} (fd {LISTEN_FD} in the server)")

    def _open_logs(self) -> None:
        c = self.config
        by_path: dict[Path, RotatingLog] = {}
        for child_fd, text in ((1, c.stdout_log), (2, c.stderr_log)):
            if text is None:
                continue
            path = self._path(text).resolve()
            log = by_path.get(path)
            if log is None:
                try:
                    log = RotatingLog(
                        path,
                        max_size=c.log_max_size,
                        rotate_every=c.log_rotate,
                        backups=c.log_backups,
                        clock=self.clock,
                    )
                except OSError as exc:
                    key = "stdout_log" if child_fd == 1 else "stderr_log"
                    raise ConfigError(
                        f"{key} = {text!r}: cannot open {path}: {exc.strerror or exc}"
                    ) from None
                by_path[path] = log
                self.logs.append(log)
            r, w = os.pipe()
            r = high_fd(r)
            w = high_fd(w)
            os.set_blocking(r, False)
            self.streams.reads[r] = (child_fd, [log])
            self.streams.child[child_fd] = w
            self.sel.register(r, selectors.EVENT_READ, "output")

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> int:
        self._do(self.machine.start(self.clock.monotonic()))
        while not self.machine.finished:
            now = self.clock.monotonic()
            deadline = self.machine.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - now)
            if self.beat_file is not None:
                poll = max(0.05, self.config.heartbeat_timeout / 4)
                timeout = poll if timeout is None else min(timeout, poll)
            try:
                ready = self.sel.select(timeout)
            except InterruptedError:  # pragma: no cover - PEP 475 retries select
                ready = []
            for key, _ in ready:
                self._ready(key)
            now = self.clock.monotonic()
            self._reap(now)
            while self.results:
                self._do(self.results.popleft()(now))
            self._check_beat_file(now)
            self._do(self.machine.tick(now))
        return self.exit_code

    def _ready(self, key: selectors.SelectorKey) -> None:
        fd = int(key.fd)
        kind = key.data
        if kind == "wake":
            for sig in _drain(fd):
                if sig in _HANDLED:
                    self._do(self.machine.signal(sig, self.clock.monotonic()))
        elif kind == "result":
            _drain(fd)
        elif kind == "output":
            self._copy_output(fd)
        elif isinstance(kind, tuple) and kind[0] == "beat":
            data = _read_some(fd)
            if data:
                self._do(self.machine.heartbeat(kind[1], self.clock.monotonic()))
            elif data == b"":  # every writer closed: the instance is gone
                self.sel.unregister(fd)
                os.close(fd)
                proc = self.procs.get(kind[1])
                if proc is not None:
                    proc.beat_fd = None

    def _copy_output(self, fd: int) -> None:
        child_fd, logs = self.streams.reads[fd]
        data = _read_some(fd)
        if not data:
            return
        self.passthrough[child_fd].put(data)
        for log in logs:
            failing = log.error is not None
            error = log.write(data)
            if error is not None:
                self.lost_at[log.path] = log.lost - len(data)
                self._log_event(
                    "process_log_write_failed",
                    f"cannot write {self.program}'s output: {error}; it is still passed through",
                    error=error,
                )
            elif failing and log.error is None:
                lost = log.lost - self.lost_at.pop(log.path, 0)
                self._log_event(
                    "process_log_write_resumed",
                    f"{log.path}: writing again; {lost} bytes of {self.program}'s output "
                    "could not be written",
                    lost_bytes=lost,
                )

    def _log_event(self, action: str, message: str, **details: object) -> None:
        failed = action.endswith("failed")
        self.emit(
            SecurityEvent(
                action=action,
                category=Category.PROCESS,
                severity=Severity.MEDIUM if failed else Severity.LOW,
                outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
                message=message,
                details={"program": self.program, **details},
                timestamp=self.clock.time(),
            )
        )

    def _check_beat_file(self, now: float) -> None:
        if self.beat_file is None:
            return
        mtime = self._mtime()
        if mtime is not None and mtime != self.beat_mtime:
            self.beat_mtime = mtime
            for gen in list(self.procs):
                self._do(self.machine.heartbeat(gen, now))

    def _mtime(self) -> float | None:
        assert self.beat_file is not None  # noqa: S101 - only called in file mode
        try:
            return self.beat_file.stat().st_mtime
        except OSError:
            return None

    def _reap(self, now: float) -> None:
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid == 0:
                return
            pid = info.si_pid
            proc = self.by_pid.get(pid)
            if proc is not None:
                # the leader is a zombie, so its pid (the group id) cannot be reused yet:
                # kill what is left of its group before reaping it
                kill_tree(pid)
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:  # pragma: no cover - reaped elsewhere
                continue
            if pid == self.guardian.pid:
                if not self.machine.finished:
                    try:
                        self.guardian.start()
                    except SpawnError as exc:
                        self.report(f"the guardian could not be restarted: {exc}")
                continue
            if proc is None:
                continue  # an orphaned descendant handed to us as the subreaper
            self.guardian.discard(pid)
            del self.by_pid[pid]
            self.procs.pop(proc.gen, None)
            self._do(self.machine.exited(pid, ExitStatus.from_wait(status), now))
            # after the restart (it is the latency that counts): what the old one left
            self._kill_orphans()
            if self.tmp is not None:
                with contextlib.suppress(OSError):
                    (self.tmp / f"drain-{proc.gen}").unlink()

    def _kill_orphans(self) -> None:
        """Kill what the supervisor adopted (as the subreaper) that is no instance's leader nor
        the guardian: descendants of an instance whose leader is gone (a daemonized process,
        a worker that outlived its master)."""
        known = {*self.by_pid, self.guardian.pid}
        for pid in adopted_children(known):
            kill_tree(pid, pid)

    # -- actions -------------------------------------------------------------------------------

    def _do(self, actions: list[Action]) -> None:
        """Carry out ``actions`` and what they lead to; events go out last, in order, so that
        a restart does not wait for their output."""
        pending = deque(actions)
        events: list[SecurityEvent] = []
        closing: list[str] = []
        while pending:
            action = pending.popleft()
            now = self.clock.monotonic()
            if isinstance(action, Spawn):
                pending.extend(self._spawn(action.gen, now))
            elif isinstance(action, Signal):
                proc = self.procs.get(action.gen)
                if proc is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        if action.group:
                            os.killpg(proc.pid, action.sig)
                        else:
                            os.kill(proc.pid, action.sig)
            elif isinstance(action, Drain):
                if self.tmp is not None:
                    _set_flag(self.tmp / f"drain-{action.gen}")
            elif isinstance(action, Kill):
                proc = self.procs.get(action.gen)
                if proc is not None:
                    kill_tree(proc.pid, proc.pid)
            elif isinstance(action, Probe | Sample):
                proc = self.procs.get(action.gen)
                if proc is not None:
                    if isinstance(action, Probe):
                        job = _Job("probe", action.gen, proc.pid, action.targeted, action.seq)
                    else:
                        job = _Job("sample", action.gen, proc.pid)
                    self.jobs.put(job)
            elif isinstance(action, Emit):
                events.append(action.event)
            elif isinstance(action, Finish):
                self.exit_code = action.code
                if action.message:
                    closing.append(action.message)
        for event in events:
            self.emit(event)
        for line in closing:
            self.report(line)

    def _spawn(self, gen: int, now: float) -> list[Action]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_SUPERVISOR_")}
        env[ENV_PID] = str(os.getpid())
        if self.tmp is not None:
            flag = self.tmp / f"drain-{gen}"
            try:
                flag.write_bytes(b"0")  # before any instance maps it
            except OSError as exc:  # a full temp directory: no drain for this instance
                self.report(f"no drain flag for the new instance: {exc.strerror or exc}")
            else:
                env[ENV_DRAIN] = str(flag)
        fds = dict(self.streams.child)
        if self.listen_fd is not None:
            fds[LISTEN_FD] = self.listen_fd
            env[ENV_FD] = str(LISTEN_FD)
        beat_r: int | None = None
        beat_w: int | None = None
        if self.config.heartbeat == "pipe":
            beat_r, beat_w = os.pipe()
            beat_r, beat_w = high_fd(beat_r), high_fd(beat_w)
            number = LISTEN_FD + 1 if self.listen_fd is not None else LISTEN_FD
            fds[number] = beat_w
            env[ENV_HEARTBEAT] = f"fd:{number}"
        elif self.beat_file is not None:
            env[ENV_HEARTBEAT] = f"file:{self.beat_file}"
        try:
            pid = spawn(self.argv, env, fds=fds)
        except SpawnError as exc:
            for fd in (beat_r, beat_w):
                if fd is not None:
                    os.close(fd)
            return self.machine.spawn_failed(gen, str(exc), now)
        self.guardian.add(pid)
        proc = _Proc(gen, pid)
        if beat_r is not None and beat_w is not None:
            os.close(beat_w)
            os.set_blocking(beat_r, False)
            proc.beat_fd = beat_r
            self.sel.register(beat_r, selectors.EVENT_READ, ("beat", gen))
        self.procs[gen] = proc
        self.by_pid[pid] = proc
        return self.machine.spawned(gen, pid, now)

    # -- the worker ----------------------------------------------------------------------------

    def _worker(self) -> None:
        c = self.config
        target = ProbeTarget(c.health_url, self.address, c.probe_timeout)
        while True:
            job = self.jobs.get()
            if job is None or self.stop_worker.is_set():
                return
            try:
                if job.kind == "sample":
                    rss, count = tree_memory(job.pid)
                    self._post(_sampled(self.machine, job.gen, rss, count))
                    continue
                if target.url is None and target.address is None:
                    self._post(_probed(self.machine, job.gen, True, "running", True, job.seq))
                    continue
                leader = job.pid if job.targeted else None
                others = self._other_pids(job.gen) if job.targeted else None
                ok, detail, up = probe(
                    target, self.clock, leader=leader, cancel=self.stop_worker, others=others
                )
                self._post(_probed(self.machine, job.gen, ok, detail, up, job.seq))
            except Exception as exc:  # noqa: BLE001 - a probe must never kill the worker
                if job.kind == "sample":  # measured nothing: sample again later
                    self._post(_sampled(self.machine, job.gen, 0, 0))
                else:
                    detail = f"probe failed: {type(exc).__name__}"
                    self._post(_probed(self.machine, job.gen, False, detail, False, job.seq))

    def _other_pids(self, gen: int) -> Callable[[], list[int]]:
        def others() -> list[int]:
            out: list[int] = []
            for proc in list(self.procs.values()):
                if proc.gen != gen:
                    out.extend(tree_pids(proc.pid))
            return out

        return others

    def _post(self, result: Callable[[float], list[Action]]) -> None:
        self.results.append(result)
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.result_w, b"\0")

    # -- tear-down -----------------------------------------------------------------------------

    def close(self) -> None:
        self.stop_worker.set()
        self.jobs.put(None)
        for proc in list(self.procs.values()):
            kill_tree(proc.pid, proc.pid)
        for pid in adopted_children({self.guardian.pid}):
            kill_tree(pid, pid)
        deadline = self.clock.monotonic() + 5.0
        while self.by_pid and self.clock.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                self.clock.sleep(0.01)
                continue
            self.by_pid.pop(pid, None)
        self.guardian.close()
        if getattr(self, "wake_w", None) is not None:
            signal.set_wakeup_fd(-1)
        for sig in (*_HANDLED, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        for read_fd, _ in list(self.streams.reads.items()):
            self._copy_output(read_fd)
        for stream in self.passthrough.values():
            stream.close(timeout=5.0)
        for log in self.logs:
            log.close()
        if self.listen is not None:
            self.listen.close()
        fds = [self.listen_fd, *self.streams.reads, *self.streams.child.values()]
        fds += [p.beat_fd for p in self.procs.values()]
        for fd in fds:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.sel.close()
        for name in ("wake_r", "wake_w", "result_r", "result_w"):  # set up, if it got that far
            fd = getattr(self, name, None)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        if self.pid_file is not None:
            self.pid_file.close()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _sampled(machine: Machine, gen: int, rss: int, count: int) -> Callable[[float], list[Action]]:
    return lambda now: machine.sampled(gen, rss, count, now)


def _probed(
    machine: Machine, gen: int, ok: bool, detail: str, up: bool, seq: int
) -> Callable[[float], list[Action]]:
    return lambda now: machine.probed(gen, ok, detail, now, up=up, seq=seq)


def _set_flag(path: Path) -> None:
    """Write ``1`` into a drain flag in place: instances have it mapped, and a file truncated
    under a mapping kills its reader with SIGBUS."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
        return
    try:
        os.pwrite(fd, b"1", 0)
    except OSError:
        pass
    finally:
        os.close(fd)


def _noop(signum: int, frame: object) -> None:
    """Signals are read from the wakeup fd; the handler only keeps Python from acting."""


def _drain(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except (BlockingIOError, InterruptedError):
            return out
        if not chunk:
            return out
        out += chunk


def _read_some(fd: int) -> bytes | None:
    """What can be read now: ``b""`` at end of file, None when nothing is there yet."""
    try:
        return os.read(fd, _READ)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as exc:
        if exc.errno == errno.EIO:
            return b""
        raise


def supervise(
    config: RunConfig,
    argv: Sequence[str],
    *,
    emit: Callable[[SecurityEvent], None],
    root: Path,
    clock: Clock = system_clock,
    report: Callable[[str], None] | None = None,
    rng: random.Random | None = None,
) -> int:
    """Run ``argv`` under the supervisor until it is stopped or gives up; return the exit
    status: 0 stopped, 2 the command cannot start, 3 gave up (``max_restarts``).

    ``emit`` receives every event (category ``process``; its ``message`` is meant for the
    operator too); ``report`` the other lines for the operator (stderr by default). Relative
    paths in ``config`` resolve against ``root``. Must run on the main thread (it handles
    signals).

    Added in 0.1.
    """
    if not argv:
        raise ConfigError(
            "bulletproof run: no command: give one after -- (bulletproof run -- uvicorn app:app) "
            "or set command in [tool.bulletproof.run]"
        )
    require_psutil()
    runner = _Runner(
        config,
        argv,
        emit=emit,
        root=root,
        clock=clock,
        report=report or _stderr,
        rng=rng or random.Random(),  # noqa: S311 - backoff jitter, not a secret
    )
    try:
        runner.setup()
        return runner.run()
    finally:
        runner.close()


def _stderr(line: str) -> None:
    err: IO[str] = sys.stderr
    from bulletproof._text import one_line

    with contextlib.suppress(OSError, ValueError):
        err.write(f"bulletproof run: {one_line(line)}\n")
        err.flush()
