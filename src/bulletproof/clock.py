"""The only module that reads time. Everything else gets a :class:`Clock`.

Added in 0.1.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "SystemClock", "system_clock"]


class Clock(Protocol):
    """Wall time for timestamps, monotonic time for intervals. Added in 0.1."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Sleep up to ``seconds``; return True early when ``wake`` is set."""
        ...


class SystemClock:
    """The real clock. Added in 0.1."""

    __slots__ = ()

    def time(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def monotonic(self) -> float:
        """Monotonic seconds."""
        return time.monotonic()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Sleep, or return True as soon as ``wake`` is set."""
        if wake is not None:
            return wake.wait(max(seconds, 0.0))
        time.sleep(max(seconds, 0.0))
        return False

    def __repr__(self) -> str:
        return "SystemClock()"


system_clock = SystemClock()
