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
duplicates by ``event.id``). A pipeline still running when the interpreter exits is closed by an
``atexit`` hook (spooled, and delivered for up to a second), so an event emitted just before the
program ends is not lost.

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

import atexit
import collections
import contextlib
import json
import logging
import math
import socket
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import SpoolError
from bulletproof.events.model import (
    ECS_VERSION,
    Category,
    SecurityEvent,
    Severity,
    format_timestamp,
    new_event_id,
)
from bulletproof.events.processors import (
    EnrichProcessor,
    EventEncoder,
    Processor,
    RedactProcessor,
    SimpleEventEncoder,
    default_processors,
    neutralize_text,
)
from bulletproof.events.spool import Position, Spool, SpoolReader

if TYPE_CHECKING:
    from bulletproof.events.alerts import AlertEngine
    from bulletproof.events.base import Sink

__all__ = ["EventPipeline", "PipelineOptions", "PipelineStats", "SinkStats"]

logger = logging.getLogger("bulletproof.events")

_EXIT_TIMEOUT = 1.0
"""Seconds a running pipeline gets at interpreter exit to spool and deliver what it holds."""

_running: weakref.WeakSet[EventPipeline] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    # The writer and sink threads are daemons: without this, events still in memory when the
    # program ends would be lost. atexit runs while daemon threads still work.
    for pipe in list(_running):
        with contextlib.suppress(Exception):
            pipe.close(timeout=_EXIT_TIMEOUT)


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
            "durability_lag": (
                math.isfinite(self.durability_lag) and self.durability_lag > 0,
                "a positive number of seconds",
            ),
            "max_pending": (self.max_pending > 0, "a positive number"),
            "batch_lines": (self.batch_lines > 0, "a positive number"),
            "batch_bytes": (self.batch_bytes > 0, "a positive number"),
            "max_unconfirmed_lines": (self.max_unconfirmed_lines > 0, "a positive number"),
            "backoff_initial": (
                math.isfinite(self.backoff_initial) and self.backoff_initial > 0,
                "a positive number of seconds",
            ),
            "backoff_max": (
                math.isfinite(self.backoff_max) and self.backoff_max >= self.backoff_initial,
                "a number of seconds >= backoff_initial",
            ),
            "segment_bytes": (self.segment_bytes >= 4096, "at least 4096 bytes"),
            "spool_max_bytes": (
                self.spool_max_bytes >= 2 * self.segment_bytes,
                "at least twice segment_bytes",
            ),
            "max_field_chars": (self.max_field_chars >= 16, "at least 16"),
        }
        for name, (ok, want) in checks.items():
            if not ok:
                raise ConfigError(
                    f"pipeline option {name}={getattr(self, name)!r} is out of range: use {want}"
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
    """What the pipeline did since it started.

    ``accepted``: events the writer took (emitted ones and the pipeline's own reports);
    ``written``: lines appended to the spool; ``overflowed``: events dropped because more than
    ``max_pending`` waited in memory; ``processing_errors``: events a processor or the encoder
    failed on (each replaced by an ``event_unprocessable`` line).

    Added in 0.1.
    """

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
        # Count before committing: drain() returns as soon as the commit shows caught up.
        self.delivered += n
        self.reader.commit(last)

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
                # Report the recovery before committing, so drain() waits for the report too.
                self._recovered()
                self._confirm()
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
        consumers: list[Sink] = list(sinks)
        if alerts is not None:
            consumers.append(alerts)
        names = [s.name for s in consumers]
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
        # The common event skips the walks when the chain is the default one.
        self._simple: SimpleEventEncoder | None = None
        if processors is None:
            enrich, redact = self.processors
            if isinstance(enrich, EnrichProcessor) and isinstance(redact, RedactProcessor):
                self._simple = SimpleEventEncoder(enrich, redact, self._encoder)
        self._queue: collections.deque[SecurityEvent] = collections.deque()
        self._max_pending = opts.max_pending
        self._overflow_lock = threading.Lock()
        self._overflowed = 0
        self._reported_overflow = 0
        self._retry: list[bytes] = []
        self._spool_failing = False
        self._dropped_by_sink: dict[str, int] = {}
        self._unreported_drops: dict[str, int] = {}
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
        self._writer_done = False
        self.spool = Spool(
            Path(opts.spool_dir),
            max_bytes=opts.spool_max_bytes,
            segment_bytes=opts.segment_bytes,
            fsync=opts.fsync,
            on_drop=self._on_spool_drop,
        )
        try:
            self._workers = [_Worker(self, s, self.spool.reader(s.name)) for s in consumers]
            self.removed_consumers = self.spool.forget_other_consumers()
        except BaseException:
            self.spool.close()
            raise
        self._writer = threading.Thread(
            target=self._write_loop, name="bulletproof-writer", daemon=True
        )

    # -- the caller's side -----------------------------------------------------------------
    def emit(self, event: SecurityEvent) -> None:
        """Accept one event. Never raises, never blocks on I/O.

        When more than ``max_pending`` events wait for the writer, the oldest is dropped and
        counted; an ``events_dropped`` event reports it. After :meth:`close` events are ignored.
        """
        try:
            if self._writer_done:
                return
            queue = self._queue
            if len(queue) >= self._max_pending:
                with self._overflow_lock:
                    try:
                        queue.popleft()
                        self._overflowed += 1
                    except IndexError:
                        pass  # the writer took them all meanwhile: nothing to drop
            queue.append(event)
        except Exception:  # noqa: BLE001, S110 - emit must never raise into the caller
            pass

    def _emit_internal(self, event: SecurityEvent) -> None:
        self._queue.append(event)
        self._wake.set()

    def _on_spool_drop(self, consumer: str, lost: int) -> None:
        # Called by the spool (writer thread, spool lock held): only count. The writer reports
        # the sum once per round, so reports cannot fill the spool in place of events.
        self._dropped_by_sink[consumer] = self._dropped_by_sink.get(consumer, 0) + lost
        self._unreported_drops[consumer] = self._unreported_drops.get(consumer, 0) + lost

    def _drop_reports(self) -> list[SecurityEvent]:
        unreported, self._unreported_drops = self._unreported_drops, {}
        return [
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
            for consumer, lost in unreported.items()
        ]

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Start the writer and one delivery thread per sink. Returns self."""
        if self._started or self._closed:
            return self
        self._started = True
        _running.add(self)
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

    def _idle_writer(self) -> bool:
        return (not self._queue and not self._retry and not self._writer_busy) or (
            not self._writer.is_alive()
        )

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event accepted so far is in the spool on disk; False on timeout."""
        if not self._started:
            return not self._queue
        self._wake.set()
        with self._written:
            done = self._written.wait_for(self._idle_writer, max(timeout, 0.0))
        return done and not self._queue and not self._retry

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every event accepted so far reached every sink; False on timeout.

        Events the pipeline emits about itself meanwhile (``sink_recovered``) are waited for too.
        """
        # Waiting for other threads takes real time whatever clock the events are stamped with.
        deadline = system_clock.monotonic() + timeout
        if not self.flush(timeout):
            return False
        while True:
            # Writer idle first, then consumers: a worker queues its own reports (such as
            # sink_recovered) before it commits, so this order cannot miss one.
            with self._written:
                idle = not self._queue and not self._retry and not self._writer_busy
            if idle and all(w.caught_up for w in self._workers):
                return True
            if system_clock.monotonic() >= deadline:
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
        if not self._started:
            self.start()
        self._closed = True
        _running.discard(self)
        deadline = system_clock.monotonic() + timeout

        def left() -> float:
            return max(deadline - system_clock.monotonic(), 0.0)

        self.flush(left())
        self._stop_delivery.set()
        for worker in self._workers:
            worker.thread.join(left())
        caught_up = all(w.caught_up for w in self._workers)
        self._abort.set()
        with self.spool.new_data:
            self.spool.new_data.notify_all()
        for worker in self._workers:
            worker.thread.join(2.0)
        # The writer stops last, so what the workers reported while stopping is on disk too.
        self._stop_writer.set()
        self._wake.set()
        self._writer.join(max(left(), 0.5))
        self._writer_done = True
        self.spool.close()
        return caught_up and not self._queue

    # -- the writer thread -----------------------------------------------------------------
    def _serialize(self, event: SecurityEvent) -> bytes:
        try:
            if self._simple is not None:
                line = self._simple.encode(event)
                if line is not None:
                    return line
            doc: dict[str, Any] | None = event.to_ecs()
            for proc in self.processors:
                if doc is None:
                    break
                doc = proc(doc)
            if doc is None:
                return b""
            return self._encoder.encode(doc)
        except Exception as exc:  # noqa: BLE001 - a bad event must not stop the others
            self._processing_errors += 1
            try:
                event_id = neutralize_text(str(event.id))[:64]
            except Exception:  # noqa: BLE001 - not even an id: make one
                event_id = new_event_id()
            fallback = {
                "@timestamp": format_timestamp(self.clock.time()),
                "message": "bulletproof could not process this event",
                "event": {
                    "id": event_id,
                    "action": "event_unprocessable",
                    "kind": "event",
                    "category": ["configuration"],
                    "type": ["error"],
                    "outcome": "unknown",
                    "severity": Severity.MEDIUM.ecs,
                    "dataset": "bulletproof.delivery",
                },
                "ecs": {"version": ECS_VERSION},
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
                if self._spool_failing:
                    self._spool_failing = False
                    logger.warning("bulletproof spool %s is writable again", self.spool.dir)
            except Exception:  # the writer must survive anything
                if not self._spool_failing:
                    self._spool_failing = True
                    logger.exception(
                        "bulletproof spool write failed; events wait in memory and are retried"
                    )
            with self._written:
                self._writer_busy = False
                self._written.notify_all()
            if self._stop_writer.is_set() and (
                self.spool.closed or (not queue and not self._retry)
            ):
                break

    def _write_pending(self, queue: collections.deque[SecurityEvent]) -> None:
        period = self.options.durability_lag / 2
        clock = self.clock
        last_sync = clock.monotonic()
        wrote = False
        while queue or self._retry:
            lines, self._retry = self._retry, []
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
            self._append(lines)
            wrote = True
            if clock.monotonic() - last_sync >= period:
                # A steady stream must not keep what was written from reaching the disk.
                self.spool.sync()
                last_sync = clock.monotonic()
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
            self._accepted += 1
            self._append([self._serialize(report)])
            wrote = True
        # Writing the reports may drop more: those are reported in the next round.
        reports = self._drop_reports()
        if reports:
            self._accepted += len(reports)
            self._append([self._serialize(report) for report in reports])
            wrote = True
        if wrote:
            self.spool.sync()

    def _append(self, lines: list[bytes]) -> None:
        """Append to the spool; on failure keep the lines (up to ``max_pending``) for a retry."""
        try:
            self.spool.append(lines)
        except SpoolError:
            keep = lines[-self._max_pending :]
            with self._overflow_lock:
                self._overflowed += len(lines) - len(keep)
            self._retry = keep
            raise

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
