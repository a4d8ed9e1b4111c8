"""Test doubles that ship with bulletproof: :class:`FakeClock`, :class:`CapturingSink`,
:class:`CapturingNotifier`.

>>> clock = FakeClock(start=1000.0)
>>> clock.advance(5)
>>> clock.time()
1005.0

Added in 0.1.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

from bulletproof.clock import system_clock as _system_clock
from bulletproof.errors import SinkError, SinkUnavailableError
from bulletproof.events.alerts import Alert
from bulletproof.events.model import SecurityEvent

__all__ = ["CapturingNotifier", "CapturingSink", "FakeClock"]


class FakeClock:
    """A clock that moves only when told to (:meth:`advance`).

    :meth:`sleep` waits until the fake time has moved ``seconds`` on (another thread calls
    :meth:`advance`), or ``wake`` is set; a sleep that no test moves the clock for still ends
    after as many seconds of real time, so code that only stamps events with this clock keeps
    running. Every requested sleep is recorded in :attr:`sleeps`, so a test can check backoff
    delays without waiting for them (:meth:`wait_for_sleep` blocks until one is requested).

    Added in 0.1.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._mono = 0.0
        self._lock = threading.Lock()
        self._moved = threading.Condition(self._lock)
        self.sleeps: list[float] = []
        """Every duration :meth:`sleep` was asked for, oldest first (the last 10,000)."""

    def time(self) -> float:
        """Fake wall time."""
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        """Fake monotonic time."""
        with self._lock:
            return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward; sleeps whose time has come end."""
        if seconds < 0:
            raise ValueError(f"FakeClock.advance({seconds!r}): time cannot go back")
        with self._moved:
            self._now += seconds
            self._mono += seconds
            self._moved.notify_all()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> bool:
        """Wait until the fake time moved ``seconds`` on, or ``wake`` is set (then True), or as
        many seconds of real time passed with nobody moving the clock."""
        seconds = max(seconds, 0.0)
        with self._moved:
            self.sleeps.append(seconds)
            del self.sleeps[:-10_000]
            self._moved.notify_all()
            deadline = self._mono + seconds
        real_end = _system_clock.monotonic() + seconds
        while True:
            if wake is not None and wake.is_set():
                return True
            with self._moved:
                if self._mono >= deadline:
                    return False
                left = real_end - _system_clock.monotonic()
                if left <= 0:
                    return False
                # Woken by advance(); an Event cannot wake us, so look at ``wake`` often.
                self._moved.wait(min(left, 0.005))

    def wait_for_sleep(self, count: int = 1, timeout: float = 5.0) -> bool:
        """Block (real time, bounded) until :meth:`sleep` was called ``count`` times in all."""
        with self._moved:
            return self._moved.wait_for(lambda: len(self.sleeps) >= count, timeout)

    def __repr__(self) -> str:
        return f"FakeClock(time={self._now!r}, monotonic={self._mono!r})"


class CapturingSink:
    """A sink that keeps what it receives in memory; it can be told to fail.

    ``fail`` set to True makes ``open`` and ``send`` raise, as a sink that is down.

    Added in 0.1.
    """

    def __init__(self, name: str = "capture:") -> None:
        self._name = name
        self.lines: list[bytes] = []
        self.fail = False
        self.opened = 0
        self.failures = 0
        """How many times ``open`` or ``send`` raised because ``fail`` was set."""
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)

    def _refuse(self, message: str, kind: type[SinkError]) -> SinkError:
        with self._arrived:
            self.failures += 1
            self._arrived.notify_all()
        return kind(message)

    @property
    def name(self) -> str:
        """The label given at construction."""
        return self._name

    def open(self) -> None:
        """Succeeds unless ``fail`` is set."""
        if self.fail:
            raise self._refuse(
                f"{self._name} is down (CapturingSink.fail is set)", SinkUnavailableError
            )
        self.opened += 1

    def send(self, lines: Sequence[bytes]) -> None:
        """Keep the lines, or raise when ``fail`` is set."""
        if self.fail:
            raise self._refuse(f"{self._name} is down (CapturingSink.fail is set)", SinkError)
        with self._arrived:
            self.lines.extend(lines)
            self._arrived.notify_all()

    def unconfirmed(self) -> int:
        """Always 0: what is kept is kept."""
        return 0

    def close(self) -> None:
        """Nothing to release."""

    def probe(self) -> str:
        """Reachable unless ``fail`` is set."""
        if self.fail:
            raise SinkUnavailableError(f"{self._name} is down")
        return "in memory"

    @property
    def documents(self) -> list[dict[str, Any]]:
        """The received events as JSON objects."""
        with self._lock:
            return [json.loads(line) for line in self.lines]

    @property
    def events(self) -> list[SecurityEvent]:
        """The received events rebuilt as SecurityEvent objects."""
        return [SecurityEvent.from_ecs(doc) for doc in self.documents]

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` lines arrived; False on timeout (real time)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.lines) >= count, timeout)

    def wait_for_failures(self, count: int, timeout: float = 5.0) -> bool:
        """Block until ``open``/``send`` refused at least ``count`` times in all (``fail``)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: self.failures >= count, timeout)


class CapturingNotifier:
    """A notifier that keeps the alerts it is given; set ``fail`` to make it raise.

    Added in 0.1.
    """

    def __init__(self, name: str = "capture-notifier:") -> None:
        self._name = name
        self.alerts: list[Alert] = []
        self.fail = False
        self.attempts = 0

    @property
    def name(self) -> str:
        """The label given at construction."""
        return self._name

    def notify(self, alert: Alert) -> None:
        """Keep the alert, or raise SinkError when ``fail`` is set."""
        self.attempts += 1
        if self.fail:
            raise SinkError(f"{self._name} is down (CapturingNotifier.fail is set)")
        self.alerts.append(alert)

    def probe(self) -> str:
        """Reachable unless ``fail`` is set."""
        if self.fail:
            raise SinkUnavailableError(f"{self._name} is down")
        return "in memory"
