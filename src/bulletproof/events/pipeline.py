"""The event pipeline: ``emit()`` on the caller's thread, everything else off it.

::

    emit(event) ─► memory queue ─► writer thread: processors ─► JSON ─► spool (disk)
                                                                          │ one reader per consumer
                              ┌──────────────┬──────────────┬─────────────┴──┐
                           sink thread    sink thread    sink thread     alerts thread
                           (file)         (logstash)     (syslog)        (rules ─► notifiers)

``emit`` appends to a bounded deque and returns: it never raises into the caller and never waits on
a sink. The writer thread wakes at least every ``durability_lag / 2`` seconds, so an accepted event
is on disk (fsynced, by default) within ``durability_lag``. Each consumer reads the spool from its
own committed cursor, so a sink that is down, slow or restarting loses nothing: its events wait on
disk, and it resends whatever was not confirmed when it comes back (at-least-once; receivers drop
duplicates by ``event.id``).

>>> import tempfile
>>> from bulletproof.testing import CapturingSink
>>> from bulletproof.events.model import SecurityEvent, Category
>>> sink = CapturingSink()
>>> with EventPipeline([sink], options=PipelineOptions(spool_dir=tempfile.mkdtemp())) as pipe:
...     pipe.emit(SecurityEvent(action="login_failed", category=Category.AUTH))
...     pipe.drain(timeout=5)
True
>>> sink.events[0].action
'login_failed'

Added in 0.1.
"""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import SpoolError
from bulletproof.events.model import Category, SecurityEvent, Severity, format_timestamp
from bulletproof.events.processors import EventEncoder, Processor, default_processors
from bulletproof.events.spool import Position, Spool, SpoolReader

if TYPE_CHECKING:
    from bulletproof.events.alerts import AlertEngine
    from bulletproof.events.base import Sink

__all__ = ["EventPipeline", "PipelineOptions", "PipelineStats", "SinkStats"]

logger = logging.getLogger("bulletproof.events")


@dataclass(frozen=True, slots=True)
class PipelineOptions:
    """How the pipeline spools and delivers. All sizes in bytes, all times in seconds.

    Added in 0.1.
    """

    spool_dir: Path | str = ".bulletproof/spool"
    spool_max_bytes: int = 256 * 1024 * 1024
    segment_bytes: int = 8 * 1024 * 1024
    durability_lag: float = 0.1
    fsync: bool = True
    max_pending: int = 100_000
    batch_lines: int = 2000
    batch_bytes: int = 1 << 20
    backoff_initial: float = 0.1
    backoff_max: float = 10.0
    max_unconfirmed_lines: int = 500_000
    service: str = ""
    hostname: str = field(default_factory=socket.gethostname)
    redact_fields: tuple[str, ...] = ()
    max_field_chars: int = 8192

    def __post_init__(self) -> None:
        from bulletproof.errors import ConfigError

        checks = {
            "durability_lag": self.durability_lag > 0,
            "max_pending": self.max_pending > 0,
            "batch_lines": self.batch_lines > 0,
            "batch_bytes": self.batch_bytes > 0,
            "backoff_initial": self.backoff_initial > 0,
            "backoff_max": self.backoff_max >= self.backoff_initial,
        }
        for name, ok in checks.items():
            if not ok:
                raise ConfigError(
                    f"pipeline option {name}={getattr(self, name)!r} is out of range: use a "
                    "positive value (backoff_max >= backoff_initial)"
                )


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Delivery figures for one consumer since the pipeline started. Added in 0.1."""

    name: str
    delivered: int
    failures: int
    connected: bool
    down_since: float | None
    dropped: int


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """What the pipeline did since it started. Added in 0.1."""

    accepted: int
    written: int
    overflowed: int
    processing_errors: int
    sinks: tuple[SinkStats, ...]


class _Worker:
    """Delivers one consumer's spool stream; runs on its own thread."""

    def __init__(self, pipeline: EventPipeline, sink: Sink, reader: SpoolReader) -> None:
        self.pipeline = pipeline
        self.sink = sink
        self.reader = reader
        self.inflight: collections.deque[Position] = collections.deque()
        self.connected = False
        self.delivered = 0
        self.failures = 0
        self.down_since: float | None = None
        self.last_error = ""
        self.thread = threading.Thread(
            target=self._run, name=f"bulletproof-sink {sink.name}", daemon=True
        )

    @property
    def caught_up(self) -> bool:
        spool = self.pipeline.spool
        return not self.inflight and self.reader.committed >= spool.end()

    def _confirm(self) -> None:
        pending = self.sink.unconfirmed()
        n = len(self.inflight) - pending
        if n <= 0:
            return
        last = self.inflight[0]
        for _ in range(n):
            last = self.inflight.popleft()
        self.reader.commit(last)
        self.delivered += n

    def _fail(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = str(exc)[:500]
        with contextlib.suppress(Exception):
            self.sink.close()
        self.connected = False
        self.reader.rewind()
        self.inflight.clear()
        if self.down_since is None:
            self.down_since = self.pipeline.clock.monotonic()
            self.pipeline._emit_internal(
                SecurityEvent(
                    action="sink_unavailable",
                    category=Category.DELIVERY,
                    severity=Severity.MEDIUM,
                    message=f"sink {self.sink.name} is unavailable; events wait in the spool",
                    types=("error",),
                    details={"sink": self.sink.name, "error": self.last_error},
                    timestamp=self.pipeline.clock.time(),
                )
            )

    def _recovered(self) -> None:
        if self.down_since is None:
            return
        downtime = self.pipeline.clock.monotonic() - self.down_since
        self.down_since = None
        self.pipeline._emit_internal(
            SecurityEvent(
                action="sink_recovered",
                category=Category.DELIVERY,
                message=f"sink {self.sink.name} is delivering again after {downtime:.1f}s",
                types=("change",),
                details={
                    "sink": self.sink.name,
                    "downtime_seconds": round(downtime, 3),
                    "failures": self.failures,
                },
                timestamp=self.pipeline.clock.time(),
            )
        )

    def _run(self) -> None:
        p = self.pipeline
        opts = p.options
        backoff = opts.backoff_initial
        stop = p._stop_delivery
        while True:
            if p._abort.is_set() or (stop.is_set() and self.caught_up):
                break
            try:
                if not self.connected:
                    self.sink.open()
                    self.connected = True
                if len(self.inflight) >= opts.max_unconfirmed_lines:
                    self._confirm()
                    p._abort.wait(opts.durability_lag)
                    continue
                batch = self.reader.read(opts.batch_lines, opts.batch_bytes)
                if not batch.lines:
                    self._confirm()
                    if not self.inflight:
                        self._recovered()
                    self._idle()
                    continue
                self.sink.send(batch.lines)
                self.inflight.extend(batch.ends)
                self._confirm()
                self._recovered()
                backoff = opts.backoff_initial
            except Exception as exc:  # noqa: BLE001 - any sink failure means: back off and resend
                self._fail(exc)
                if p._abort.wait(backoff):
                    break
                backoff = min(backoff * 2, opts.backoff_max)
        with contextlib.suppress(Exception):
            self.sink.close()

    def _idle(self) -> None:
        p = self.pipeline
        engine = p.alerts
        if engine is not None and self.sink is engine:
            engine.tick()
        with p.spool.new_data:
            if p.spool.end() <= self.reader.read_pos and not p._abort.is_set():
                p.spool.new_data.wait(0.05)


class EventPipeline:
    """Accepts events with :meth:`emit` and delivers them to every sink through the spool.

    Added in 0.1.
    """

    def __init__(
        self,
        sinks: Sequence[Sink],
        *,
        options: PipelineOptions | None = None,
        processors: Sequence[Processor] | None = None,
        alerts: AlertEngine | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.options = opts = options or PipelineOptions()
        self.clock = clock
        self.alerts = alerts
        names = [s.name for s in sinks]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            from bulletproof.errors import ConfigError

            raise ConfigError(f"sink {sorted(dupes)[0]!r} is configured twice: list it once")
        self.processors: list[Processor] = list(
            processors
            if processors is not None
            else default_processors(
                service=opts.service,
                hostname=opts.hostname,
                redact_fields=opts.redact_fields,
                max_field_chars=opts.max_field_chars,
            )
        )
        self._encoder = EventEncoder(opts.max_field_chars)
        self._queue: collections.deque[SecurityEvent] = collections.deque()
        self._max_pending = opts.max_pending
        self._overflow_lock = threading.Lock()
        self._overflowed = 0
        self._reported_overflow = 0
        self._dropped_by_sink: dict[str, int] = {}
        self._processing_errors = 0
        self._accepted = 0
        self._wake = threading.Event()
        self._written = threading.Condition()
        self._writer_busy = False
        self._stop_writer = threading.Event()
        self._stop_delivery = threading.Event()
        self._abort = threading.Event()
        self._started = False
        self._closed = False
        self.spool = Spool(
            Path(opts.spool_dir),
            max_bytes=opts.spool_max_bytes,
            segment_bytes=opts.segment_bytes,
            fsync=opts.fsync,
            on_drop=self._on_spool_drop,
        )
        consumers: list[Sink] = list(sinks)
        if alerts is not None:
            consumers.append(alerts)
        self._workers = [_Worker(self, s, self.spool.reader(s.name)) for s in consumers]
        self.removed_consumers = self.spool.forget_other_consumers()
        self._writer = threading.Thread(
            target=self._write_loop, name="bulletproof-writer", daemon=True
        )

    # -- the caller's side -----------------------------------------------------------------
    def emit(self, event: SecurityEvent) -> None:
        """Accept one event. Never raises, never blocks on I/O.

        When more than ``max_pending`` events wait for the writer, the oldest is dropped and
        counted; an ``events_dropped`` event reports it.
        """
        try:
            queue = self._queue
            if len(queue) >= self._max_pending:
                with self._overflow_lock:
                    queue.popleft()
                    self._overflowed += 1
            queue.append(event)
        except Exception:  # noqa: BLE001, S110 - emit must never raise into the caller
            pass

    def _emit_internal(self, event: SecurityEvent) -> None:
        self._queue.append(event)
        self._wake.set()

    def _on_spool_drop(self, consumer: str, lost: int) -> None:
        # Called by the spool (writer thread, spool lock held): only queue the report.
        self._dropped_by_sink[consumer] = self._dropped_by_sink.get(consumer, 0) + lost
        self._queue.append(
            SecurityEvent(
                action="events_dropped",
                category=Category.DELIVERY,
                severity=Severity.HIGH,
                message=f"spool full: {lost} event(s) for {consumer} were dropped, oldest first",
                types=("error",),
                details={
                    "sink": consumer,
                    "dropped": lost,
                    "reason": "spool_full",
                    "spool_max_bytes": self.options.spool_max_bytes,
                },
                timestamp=self.clock.time(),
            )
        )

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Start the writer and one delivery thread per sink. Returns self."""
        if self._started:
            return self
        self._started = True
        self._writer.start()
        for worker in self._workers:
            worker.thread.start()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event accepted so far is in the spool on disk; False on timeout."""
        if not self._started:
            return not self._queue
        self._wake.set()
        with self._written:
            return (
                self._written.wait_for(
                    lambda: (
                        (not self._queue and not self._writer_busy) or not self._writer.is_alive()
                    ),
                    timeout,
                )
                and not self._queue
            )

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every event accepted so far reached every sink; False on timeout."""
        deadline = self.clock.monotonic() + timeout
        if not self.flush(timeout):
            return False
        while True:
            if all(w.caught_up for w in self._workers) and not self._queue:
                return True
            if self.clock.monotonic() >= deadline:
                return False
            self._wake.set()
            self._abort.wait(0.01)

    def close(self, timeout: float = 5.0) -> bool:
        """Write everything to the spool, deliver what can be delivered within ``timeout``, stop.

        Whatever was not delivered stays in the spool for the next start. Returns True when
        every sink caught up.
        """
        if self._closed:
            return True
        self._closed = True
        if not self._started:
            self.start()
        deadline = self.clock.monotonic() + timeout
        self._stop_writer.set()
        self._wake.set()
        self._writer.join(max(timeout, 0.5))
        self._stop_delivery.set()
        for worker in self._workers:
            worker.thread.join(max(deadline - self.clock.monotonic(), 0.0))
        caught_up = all(w.caught_up for w in self._workers)
        self._abort.set()
        with self.spool.new_data:
            self.spool.new_data.notify_all()
        for worker in self._workers:
            worker.thread.join(2.0)
        self.spool.close()
        return caught_up

    # -- the writer thread -----------------------------------------------------------------
    def _serialize(self, event: SecurityEvent) -> bytes:
        try:
            doc: dict[str, Any] | None = event.to_ecs()
            for proc in self.processors:
                if doc is None:
                    break
                doc = proc(doc)
            if doc is None:
                return b""
            return json.dumps(
                doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str
            ).encode("utf-8")
        except Exception as exc:  # noqa: BLE001 - a bad event must not stop the others
            self._processing_errors += 1
            fallback = {
                "@timestamp": format_timestamp(self.clock.time()),
                "message": "bulletproof could not process this event",
                "event": {
                    "id": str(event.id)[:64],
                    "action": "event_unprocessable",
                    "kind": "event",
                    "category": ["configuration"],
                    "type": ["error"],
                    "outcome": "unknown",
                    "severity": Severity.MEDIUM.ecs,
                    "dataset": "bulletproof.delivery",
                },
                "ecs": {"version": "8.11.0"},
                "bulletproof": {
                    "category": "delivery",
                    "severity": "medium",
                    "details": {"error": type(exc).__name__},
                },
            }
            return json.dumps(fallback, separators=(",", ":")).encode("utf-8")

    def _write_loop(self) -> None:
        period = self.options.durability_lag / 2
        queue = self._queue
        while True:
            self._wake.wait(period)
            self._wake.clear()
            with self._written:
                self._writer_busy = True
            try:
                self._write_pending(queue)
            except SpoolError:
                logger.exception("bulletproof spool write failed; events stay in memory")
            except OSError:
                logger.exception("bulletproof spool write failed; events stay in memory")
            with self._written:
                self._writer_busy = False
                self._written.notify_all()
            if self._stop_writer.is_set() and not queue:
                break

    def _write_pending(self, queue: collections.deque[SecurityEvent]) -> None:
        wrote = False
        while queue:
            lines: list[bytes] = []
            taken = 0
            while queue and taken < 5000:
                try:
                    event = queue.popleft()
                except IndexError:
                    break
                taken += 1
                line = self._serialize(event)
                if line:
                    lines.append(line)
            self._accepted += taken
            self.spool.append(lines)
            wrote = True
        overflowed = self._overflowed
        if overflowed > self._reported_overflow:
            lost = overflowed - self._reported_overflow
            self._reported_overflow = overflowed
            report = SecurityEvent(
                action="events_dropped",
                category=Category.DELIVERY,
                severity=Severity.HIGH,
                message=f"{lost} event(s) dropped: more than {self._max_pending} waited in memory",
                types=("error",),
                details={"dropped": lost, "reason": "memory_queue_full"},
                timestamp=self.clock.time(),
            )
            self.spool.append([self._serialize(report)])
            wrote = True
        if wrote:
            self.spool.sync()

    # -- figures ---------------------------------------------------------------------------
    def stats(self) -> PipelineStats:
        """Counters since start."""
        return PipelineStats(
            accepted=self._accepted,
            written=self.spool.lines_written,
            overflowed=self._overflowed,
            processing_errors=self._processing_errors,
            sinks=tuple(
                SinkStats(
                    name=w.sink.name,
                    delivered=w.delivered,
                    failures=w.failures,
                    connected=w.connected,
                    down_since=w.down_since,
                    dropped=self._dropped_by_sink.get(w.sink.name, 0),
                )
                for w in self._workers
            ),
        )

    def backlog(self) -> dict[str, int]:
        """Lines each consumer has not yet had confirmed (reads the spool; not for hot paths)."""
        return {w.sink.name: w.reader.backlog() for w in self._workers}
