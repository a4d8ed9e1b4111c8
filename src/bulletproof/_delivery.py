"""Operations on the event pipeline that the CLI exposes: send test events, read event files,
test an alert rule.

Added in 0.1.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Final

from bulletproof.clock import Clock, system_clock
from bulletproof.config import Config, build_alert_engine, pipeline_options
from bulletproof.errors import ConfigError
from bulletproof.events.model import Category, SecurityEvent, Severity, new_event_id
from bulletproof.events.pipeline import EventPipeline
from bulletproof.sinks import sink_from_url

__all__ = [
    "MAX_LINE_CHARS",
    "EventLine",
    "SendTestResult",
    "read_events",
    "send_test_events",
    "test_alert_rule",
]


@dataclass(frozen=True, slots=True)
class SendTestResult:
    """What ``bulletproof events send-test`` did.

    ``delivered`` is what the sink confirmed (its cursor), ``dropped`` what will never reach it,
    by reason, and ``pending`` what waits in the spool for a later run: together, ``emitted``.

    Added in 0.1.
    """

    sink: str
    run: str
    emitted: int
    delivered: int
    seconds: float
    interrupted: bool
    dropped: Mapping[str, int] = field(default_factory=dict)
    pending: int = 0

    @property
    def complete(self) -> bool:
        """Whether the sink confirmed every emitted event."""
        return self.delivered >= self.emitted

    def to_dict(self) -> dict[str, Any]:
        """The JSON printed with ``--format json``."""
        return {
            "emitted": self.emitted,
            "delivered": self.delivered,
            "dropped": dict(self.dropped),
            "pending": self.pending,
            "seconds": round(self.seconds, 3),
            "sink": self.sink,
            "run": self.run,
            "interrupted": self.interrupted,
        }


def send_test_events(
    config: Config,
    to: str,
    *,
    count: int = 1,
    spool_dir: Path | None = None,
    timeout: float = 60.0,
    stop: threading.Event | None = None,
    clock: Clock = system_clock,
) -> SendTestResult:
    """Emit ``count`` test events to the sink at ``to`` through a spool; wait until delivered.

    Each event carries ``bulletproof.details.run`` (one id per call) and ``seq`` (0..count-1), so a
    receiver can check that every event arrived. The result counts what the sink confirmed,
    what was dropped (by reason) and what still waits, never a figure derived from the spool.
    Setting ``stop`` (from a signal handler) stops
    emitting; what was accepted is flushed to the spool and delivered within ``timeout`` or left
    in the spool for the next run on the same spool directory.

    Added in 0.1.
    """
    if count < 1:
        raise ConfigError(f"--count {count}: send at least one event")
    if timeout <= 0:
        raise ConfigError(f"--timeout {timeout}: use a positive number of seconds")
    sink = sink_from_url(to, base_dir=Path.cwd())
    opts = pipeline_options(config)
    if spool_dir is None:
        # One spool per sink: runs to the same sink share it (and resume each other's
        # leftovers); a run to another sink never delivers them elsewhere.
        digest = hashlib.sha256(sink.name.encode()).hexdigest()[:12]
        spool_dir = Path(opts.spool_dir) / "send-test" / digest
    opts = replace(opts, spool_dir=spool_dir)
    stop = stop or threading.Event()
    run = new_event_id()
    start = clock.monotonic()
    pipeline = EventPipeline([sink], options=opts, clock=clock).start()
    emitted = 0
    high_water = max(opts.max_pending // 2, 1)
    deadline = start + timeout
    try:
        while emitted < count and not stop.is_set():
            chunk = min(1000, count - emitted)
            for i in range(emitted, emitted + chunk):
                pipeline.emit(
                    SecurityEvent(
                        action="test_event",
                        category=Category.DELIVERY,
                        severity=Severity.LOW,
                        message=f"bulletproof test event {i + 1}/{count}",
                        details={"run": run, "seq": i},
                    )
                )
            emitted += chunk
            # Keep the memory queue below half its bound so no test event is dropped.
            # (Until the deadline: a spool that cannot be written makes the rest count as
            # dropped rather than wait forever.)
            while (
                emitted - pipeline.stats().accepted > high_water
                and not stop.is_set()
                and clock.monotonic() < deadline
            ):
                pipeline.flush(0.05)
        while not stop.is_set():  # drain in slices so SIGTERM is honoured here too
            left = deadline - clock.monotonic()
            if pipeline.drain(min(0.2, max(left, 0.0))) or left <= 0:
                break
    finally:
        grace = 5.0 if stop.is_set() else max(timeout - (clock.monotonic() - start), 0.1)
        pipeline.close(timeout=min(grace, 30.0))
    receipt = pipeline.receipts()[sink.name]
    return SendTestResult(
        sink=sink.name,
        run=run,
        emitted=emitted,
        delivered=receipt.delivered,
        seconds=clock.monotonic() - start,
        interrupted=stop.is_set(),
        dropped=dict(receipt.dropped),
        pending=receipt.pending,
    )


@dataclass(frozen=True, slots=True)
class EventLine:
    """One line of an event file: the parsed event, or why it could not be read. Added in 0.1."""

    source: str
    number: int
    raw: str
    doc: dict[str, Any] | None
    error: str | None


def _parse(source: str, number: int, raw: str) -> EventLine:
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        return EventLine(source, number, raw, None, f"not JSON ({exc.msg})")
    except (ValueError, RecursionError) as exc:  # nesting too deep, a number too long, ...
        return EventLine(source, number, raw, None, f"not usable JSON ({type(exc).__name__})")
    if not isinstance(doc, dict) or not isinstance(doc.get("event"), dict):
        return EventLine(source, number, raw, None, "JSON, but not a bulletproof event")
    return EventLine(source, number, raw, doc, None)


MAX_LINE_CHARS: Final = 1 << 20
"""Longer lines of an event file are reported as errors and skipped, not held in memory."""


def _open_events(path: Path) -> IO[str]:
    try:
        if path.suffix == ".gz":
            return gzip.open(path, "rt", encoding="utf-8", errors="backslashreplace")
        return open(path, encoding="utf-8", errors="backslashreplace")
    except OSError as exc:
        raise ConfigError(
            f"event file {str(path)!r} cannot be read ({exc.strerror or exc}): check that it "
            "exists and that you may read it"
        ) from None


def _complete(source: str, number: int, text: str, too_long: bool) -> EventLine | None:
    if too_long:
        return EventLine(
            source, number, "", None, f"line longer than {MAX_LINE_CHARS} characters, skipped"
        )
    line = text.rstrip("\r\n")
    if not line.strip():
        return None
    return _parse(source, number, line)


def read_events(
    path: Path,
    *,
    follow: bool = False,
    poll: float = 0.25,
    stop: threading.Event | None = None,
) -> Iterator[EventLine]:
    """Yield the lines of a JSON-lines event file (``.gz`` too); with ``follow``, keep reading new
    lines as they are appended, across rotation, until ``stop`` is set.

    A line that is not a bulletproof event is yielded with ``doc=None`` and the reason in
    ``error``; a line longer than :data:`MAX_LINE_CHARS` is skipped the same way. A file that
    cannot be read, or a damaged ``.gz``, raises ConfigError naming the file.

    Added in 0.1.
    """
    if not path.exists():
        raise ConfigError(f"event file {str(path)!r} does not exist: give the path of a sink file")
    if path.is_dir():
        raise ConfigError(f"{str(path)!r} is a directory: give the path of a .jsonl event file")
    stop = stop or threading.Event()
    follow = follow and path.suffix != ".gz"  # a rotated file no longer grows
    source = str(path)
    f = _open_events(path)
    inode = os.fstat(f.fileno()).st_ino if follow else 0
    number = 0
    parts: list[str] = []
    size = 0
    too_long = False
    rotated = False
    try:
        while True:
            try:
                chunk = f.readline(MAX_LINE_CHARS)
            except (OSError, EOFError, zlib.error) as exc:
                raise ConfigError(
                    f"event file {source!r} is damaged after line {number} ({exc}): the rest of "
                    "it cannot be read"
                ) from None
            if chunk:
                if not too_long:
                    size += len(chunk.rstrip("\r\n"))
                    if size > MAX_LINE_CHARS:
                        too_long, parts = True, []
                    else:
                        parts.append(chunk)
                if not chunk.endswith("\n"):
                    continue
                number += 1
                item = _complete(source, number, "".join(parts), too_long)
                parts, size, too_long = [], 0, False
                if item is not None:
                    yield item
                continue
            # No more data for now.
            if rotated or not follow or stop.is_set():
                if parts or too_long:
                    item = _complete(source, number + 1, "".join(parts), too_long)
                    parts, size, too_long = [], 0, False
                    if item is not None:
                        yield item
                if not rotated:
                    return
                f.close()
                f = _open_events(path)
                inode = os.fstat(f.fileno()).st_ino
                number = 0
                rotated = False
                continue
            try:
                rotated = os.stat(path).st_ino != inode
            except FileNotFoundError:
                rotated = False
            if rotated:
                continue  # read what was appended to the old file before it was moved
            if stop.wait(poll):
                return
    finally:
        f.close()


def test_alert_rule(config: Config, rule: str) -> list[tuple[str, str | None]]:
    """Send a test alert for ``rule`` to each of its notifiers now; (notifier, error or None).

    Added in 0.1.
    """
    engine = build_alert_engine(config, None)
    if engine is None:
        raise ConfigError(
            f"alert rule {rule!r}: no alert rules are configured; add "
            "[[tool.bulletproof.alerts.rules]] to the config"
        )
    return engine.send_test(rule)
