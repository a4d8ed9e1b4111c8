"""The app's side of ``heartbeat``: one call that says "still alive" to ``bulletproof run``.

>>> import os
>>> os.environ.pop("BULLETPROOF_SUPERVISOR_HEARTBEAT", None) and None
>>> heartbeat()   # not under a supervisor with heartbeat: nothing to do
False

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import os
import stat
from typing import Final

__all__ = ["heartbeat"]

_ENV: Final = "BULLETPROOF_SUPERVISOR_HEARTBEAT"


def heartbeat() -> bool:
    """Tell the supervisor this server is alive: write a byte to the heartbeat pipe, or touch
    the heartbeat file, as ``bulletproof run`` set up (``BULLETPROOF_SUPERVISOR_HEARTBEAT``).
    Never blocks and never raises; returns whether a beat was given. Call it from the loop
    that does the work (a worker's main loop, a scheduler tick), not from a thread of its own:
    a beat must mean the work is moving.

    Added in 0.1.
    """
    where = os.environ.get(_ENV, "")
    kind, _, value = where.partition(":")
    if kind == "fd" and value.isdigit():
        with contextlib.suppress(OSError):
            fd = int(value)
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return False  # not the supervisor's pipe (a subprocess reused the number)
            os.set_blocking(fd, False)
            os.write(fd, b".")
            return True
        return False
    if kind == "file" and value:
        try:
            with open(value, "ab"):
                pass
            os.utime(value)
        except OSError:
            return False
        return True
    return False
