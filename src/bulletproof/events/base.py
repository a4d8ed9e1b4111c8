"""The extension points of event delivery: :class:`Sink`, :class:`Notifier`, :class:`Emitter`.

Implementations live in :mod:`bulletproof.sinks`, one module each, chosen by URL scheme.

Added in 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from bulletproof.events.alerts import Alert
    from bulletproof.events.model import SecurityEvent

__all__ = ["Emitter", "Notifier", "Sink"]


@runtime_checkable
class Emitter(Protocol):
    """Anything events can be handed to. ``emit`` never raises and never blocks on I/O.

    Added in 0.1.
    """

    def emit(self, event: SecurityEvent) -> None:
        """Accept one event for delivery."""
        ...


class Sink(Protocol):
    """Where spooled events go. Called from one delivery thread only, never on a request's path.

    A sink receives serialized events: each item of ``lines`` is one JSON object in UTF-8, without
    a trailing newline. ``send`` returns once the sink has taken the batch, or raises
    :class:`~bulletproof.errors.SinkError`; the pipeline then calls ``close``, waits with backoff,
    calls ``open`` again and resends everything not yet confirmed.



    Stream sinks (TCP) cannot know that the peer program read what its kernel acknowledged;
    they report the newest lines still at risk through ``unconfirmed``, and the pipeline keeps
    those in the spool until they are confirmed. Other sinks return 0.

    Added in 0.1.
    """

    @property
    def name(self) -> str:
        """A stable label for this sink (its URL with any password masked)."""
        ...

    def open(self) -> None:
        """Connect (or open files). Raises SinkUnavailableError when it cannot."""
        ...

    def send(self, lines: Sequence[bytes]) -> None:
        """Deliver a batch. Raises SinkError on failure."""
        ...

    def unconfirmed(self) -> int:
        """How many of the most recently sent lines could still be lost if the link broke now."""
        ...

    def close(self) -> None:
        """Release the connection or files. Never raises."""
        ...

    def probe(self) -> str:
        """Check that the sink is reachable without sending an event; return what was checked.

        Raises SinkError (with a message saying what failed) when it is not.
        """
        ...


class Notifier(Protocol):
    """Sends an alert to people: email, SMS, chat webhook. Added in 0.1."""

    @property
    def name(self) -> str:
        """A stable label (the URL with secrets masked)."""
        ...

    def notify(self, alert: Alert) -> None:
        """Send one alert. Raises SinkError on failure; the alert engine retries with backoff."""
        ...

    def probe(self) -> str:
        """Check reachability (and credentials where possible) without sending anything."""
        ...
