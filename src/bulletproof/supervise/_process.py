"""Processes: start an instance in its own process group, kill a whole tree, measure its memory,
and the guardian that kills every group when the supervisor itself is killed.

Instances are started with ``posix_spawn`` (safe beside the supervisor's threads, and it
reports a missing or non-executable command at once), stdin from ``/dev/null``, the listening
socket on fd 3 and every signal disposition reset. psutil is imported here only.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from bulletproof.errors import BulletproofError

if TYPE_CHECKING:
    import psutil

__all__ = [
    "HIGH_FD",
    "Guardian",
    "SpawnError",
    "adopted_children",
    "become_subreaper",
    "cloexec_inherited",
    "high_fd",
    "kill_tree",
    "require_psutil",
    "spawn",
    "tree_memory",
    "tree_pids",
]

HIGH_FD: Final = 64
"""The supervisor keeps the descriptors it hands to instances at or above this, out of the way
of the numbers they get in the instance (3, 4). Added in 0.1."""

_PR_SET_CHILD_SUBREAPER: Final = 36


class SpawnError(BulletproofError):
    """A command could not be started (not found, not executable). Added in 0.1."""


def require_psutil() -> None:
    """Raise a clear error when psutil, which ``bulletproof run`` needs, is missing."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        raise BulletproofError(
            "bulletproof run needs psutil (process trees and memory): install it with "
            "pip install 'bulletproof[run]'"
        ) from None


def high_fd(fd: int) -> int:
    """A close-on-exec copy of ``fd`` numbered at least :data:`HIGH_FD`; ``fd`` is closed."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, HIGH_FD)
    os.close(fd)
    return new


def _all_signals() -> tuple[int, ...]:
    return tuple(
        int(s) for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP)
    )


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    fds: Mapping[int, int],
    new_session: bool = False,
) -> int:
    """Start ``argv`` (looked up on PATH) in a new process group and return its pid.

    ``fds`` maps a number in the child to a descriptor here (``{3: listen_fd}``); stdin is
    ``/dev/null`` unless mapped, stdout and stderr are shared unless mapped. Every signal
    starts at its default disposition and none is blocked. Raises :class:`SpawnError`
    naming the command and what is wrong.
    """
    actions: list[tuple[int, ...] | tuple[int, int, str, int, int]] = []
    if 0 not in fds:
        actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
    for target, source in sorted(fds.items()):
        actions.append((os.POSIX_SPAWN_DUP2, source, target))
    try:
        if new_session:
            return os.posix_spawn(
                argv[0],
                list(argv),
                dict(env),
                file_actions=actions,
                setsid=True,
                setsigdef=_all_signals(),
                setsigmask=(),
            )
        return os.posix_spawnp(
            argv[0],
            list(argv),
            dict(env),
            file_actions=actions,
            setpgroup=0,
            setsigdef=_all_signals(),
            setsigmask=(),
        )
    except FileNotFoundError:
        raise SpawnError(
            f"{argv[0]!r} was not found: give a path or a command on PATH "
            f"(PATH={env.get('PATH', '')!r})"
        ) from None
    except PermissionError:
        raise SpawnError(
            f"{argv[0]!r} is not executable: check its permissions (chmod +x) or run it "
            "through its interpreter"
        ) from None
    except OSError as exc:
        raise SpawnError(f"{argv[0]!r} could not be started: {exc.strerror or exc}") from None


def become_subreaper() -> bool:
    """Make orphaned descendants this process's children (Linux), so none escapes."""
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        return bool(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _process(pid: int) -> psutil.Process | None:
    import psutil

    try:
        return psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def tree_pids(pid: int) -> list[int]:
    """``pid`` and every live descendant (empty when ``pid`` is gone)."""
    import psutil

    proc = _process(pid)
    if proc is None:
        return []
    try:
        kids = proc.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        kids = []
    return [pid, *(k.pid for k in kids)]


def tree_memory(pid: int) -> tuple[int, int]:
    """``(rss bytes, process count)`` summed over ``pid``'s tree."""
    import psutil

    proc = _process(pid)
    if proc is None:
        return 0, 0
    total = count = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        procs = [proc]
    for p in procs:
        try:
            total += p.memory_info().rss
            count += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return total, count


def adopted_children(known: set[int | None]) -> list[int]:
    """This process's children that are not in ``known``: what it adopted as the subreaper.

    Read from ``/proc/self/task/*/children`` (a few small files: cheap enough to run right
    after a restart), else from psutil's scan of every process.
    """
    try:
        tasks = os.listdir("/proc/self/task")
        pids: set[int] = set()
        for task in tasks:
            with (
                contextlib.suppress(FileNotFoundError),  # a thread that just ended
                open(f"/proc/self/task/{task}/children", encoding="ascii") as f,
            ):
                pids.update(int(word) for word in f.read().split())
    except OSError:
        pass
    else:
        return sorted(pid for pid in pids if pid not in known)
    proc = _process(os.getpid())
    if proc is None:  # pragma: no cover - this process exists
        return []
    import psutil

    try:
        return [c.pid for c in proc.children() if c.pid not in known]
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # pragma: no cover
        return []


def cloexec_inherited() -> None:
    """Mark every descriptor above 2 close-on-exec: what this process was started with (a
    parent's leak) must not reach the server it starts."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # pragma: no cover - not Linux
        return
    for name in names:
        fd = int(name)
        if fd > 2:
            with contextlib.suppress(OSError):
                os.set_inheritable(fd, False)


def kill_tree(pgid: int, pid: int | None = None) -> None:
    """SIGKILL process group ``pgid`` and, when the leader ``pid`` still runs, every descendant
    that left the group."""
    stray = tree_pids(pid) if pid is not None else []
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    for p in stray:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, signal.SIGKILL)


# The guardian runs as `python -I -S -c`: stdlib only, started in a new session so that a
# signal to the supervisor's group does not reach it. It reads "+pgid" and "-pgid" lines;
# at end of input (the supervisor's end of the pipe closed: it exited or was killed) it
# SIGKILLs every group still listed.
_GUARDIAN_CODE: Final = r"""
import os, signal
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1,
          signal.SIGUSR2, signal.SIGPIPE, signal.SIGTTIN, signal.SIGTTOU, signal.SIGTSTP):
    signal.signal(s, signal.SIG_IGN)
groups = set()
buf = b""
while True:
    try:
        chunk = os.read(0, 4096)
    except InterruptedError:
        continue
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if line[:1] == b"+" and line[1:].isdigit():
            groups.add(int(line[1:]))
        elif line[:1] == b"-" and line[1:].isdigit():
            groups.discard(int(line[1:]))
for g in groups:
    try:
        os.killpg(g, signal.SIGKILL)
    except OSError:
        pass
"""


class Guardian:
    """A small process that kills the instances' process groups if the supervisor dies.

    The supervisor holds the only write end of its input; the kernel closes it however the
    supervisor ends (SIGKILL included), and the guardian then kills every group it was told
    of and exits.

    Added in 0.1.
    """

    def __init__(self) -> None:
        self.pid: int | None = None
        self._w: int | None = None
        self._groups: set[int] = set()

    def start(self) -> None:
        """Start (or restart) the guardian, telling it of every known group."""
        self.close()
        r, w = os.pipe()
        r = high_fd(r)
        try:
            self.pid = spawn(
                [sys.executable, "-I", "-S", "-c", _GUARDIAN_CODE],
                {"PATH": os.environ.get("PATH", "")},
                fds={0: r},
                new_session=True,
            )
        finally:
            os.close(r)
        self._w = w
        for g in self._groups:
            self._send(f"+{g}\n")

    def add(self, pgid: int) -> None:
        """Watch ``pgid``."""
        self._groups.add(pgid)
        self._send(f"+{pgid}\n")

    def discard(self, pgid: int) -> None:
        """Stop watching ``pgid`` (it is gone)."""
        if pgid in self._groups:
            self._groups.discard(pgid)
            self._send(f"-{pgid}\n")

    def _send(self, line: str) -> None:
        if self._w is None:
            return
        with contextlib.suppress(OSError):
            os.write(self._w, line.encode())

    def close(self) -> None:
        """Close the pipe: the guardian kills what is still listed, then exits."""
        if self._w is not None:
            with contextlib.suppress(OSError):
                os.close(self._w)
            self._w = None
