"""The server's side of a drain: while ``bulletproof run`` replaces an instance, the old one
answers with ``Connection: close`` so that keep-alive clients leave it between requests,
instead of having an idle connection cut under them at SIGTERM.

The supervisor gives each instance a one-byte file (``BULLETPROOF_SUPERVISOR_DRAIN``) and
writes ``1`` into it to drain that instance; ``protect(app)`` maps it and reads the byte per
response (a memory read, no system call).

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "drain")
>>> with open(path, "wb") as f:
...     _ = f.write(b"0")
>>> flag = DrainFlag(path)
>>> flag()
False
>>> with open(path, "r+b") as f:
...     _ = f.write(b"1")
>>> flag()
True

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from typing import Final

__all__ = ["ENV_DRAIN", "DrainFlag", "drain_flag"]

ENV_DRAIN: Final = "BULLETPROOF_SUPERVISOR_DRAIN"
"""Set in each instance's environment: the path of its drain flag. Added in 0.1."""


class DrainFlag:
    """Whether the supervisor is draining this instance (call it). Added in 0.1."""

    __slots__ = ("_map",)

    def __init__(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._map = mmap.mmap(fd, 1, mmap.MAP_SHARED, mmap.PROT_READ)
        finally:
            os.close(fd)

    def __call__(self) -> bool:
        return self._map[0] == 0x31


def drain_flag() -> DrainFlag | None:
    """The drain flag ``bulletproof run`` gave this process, or None (not under it)."""
    path = os.environ.get(ENV_DRAIN)
    if not path:
        return None
    with contextlib.suppress(OSError, ValueError):
        return DrainFlag(path)
    return None
