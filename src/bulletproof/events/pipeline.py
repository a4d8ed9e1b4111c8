"""The event pipeline: ``emit()`` on the caller's thread, everything else off it.

::

    emit(event) ─► memory queue ─► writer thread: processors ─► JSON ─► this process's spool slot
                                                                          │
          one process per spool directory delivers for all (elected by a lock, with failover):
                              ┌──────────────┬──────────────┬─────────────┴──┐
                           sink thread    sink thread    sink thread     alerts thread
                           (file)         (logstash)     (syslog)        (rules ─► notifiers)

``emit`` appends to a bounded deque and returns: it never raises into the caller and never waits on
a sink. The writer thread wakes at least every ``durability_lag / 2`` seconds, so an accepted event
is on disk (fsynced, by default) within ``durability_lag``. Every process writes its own slot of
the spool directory; the one process holding the directory's delivery lock reads every slot and
runs one thread per sink, each from its own committed cursor, so a sink that is down, slow or
restarting loses nothing, a file sink is written by one process only, and the alert engine counts
the events of all processes. When that process ends, another takes over within half a second.

Every event is either delivered to each sink or counted as dropped, by reason, and each drop is
reported by an ``events_dropped`` event with the exact count: ``memory_queue_full`` (more than
``max_pending`` waited in memory), ``spool_write_failed`` and ``spool_full`` (they could not be
spooled), ``corrupt`` (spooled records that failed their checksum or went missing) and, per sink,
``spool_full`` (the spool's byte bound deleted them before that sink took them). An event longer
than ``max_event_bytes`` serialized is cut field by field, never dropped.

A pipeline started before ``fork`` (gunicorn ``--preload``, multiprocessing) works in the child
too: the child takes a slot of its own and restarts its threads; the parent keeps its own.

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
import errno
import itertools
import json
import logging
import math
import os
import random
import socket
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from bulletproof._settings import Rule, check_ranges
from bulletproof._text import one_line
from bulletproof.clock import Clock, system_clock
from bulletproof.errors import SpoolError
from bulletproof.events._settings import COMMON_RULES
from bulletproof.events._spool import (
    Drop,
    Mark,
    Receipt,
    Spool,
    SpoolConsumer,
    SpoolDirectory,
    SpoolFullError,
    SpoolWriteError,
)
from bulletproof.events.model import (
    ECS_VERSION,
    Category,
    SecurityEvent,
    Severity,
    _format_timestamp,
    new_event_id,
)
from bulletproof.events.processors import (
    EnrichProcessor,
    EventEncoder,
    Processor,
    RedactProcessor,
    SimpleEventEncoder,
    default_processors,
)

if TYPE_CHECKING:
    from bulletproof.events.alerts import AlertEngine
    from bulletproof.events.base import Sink

__all__ = ["EventPipeline", "PipelineOptions", "PipelineStats", "SinkReceipt", "SinkStats"]

_logger = logging.getLogger("bulletproof.events")

_EXIT_TIMEOUT: Final = 1.0
"""Seconds a running pipeline gets at interpreter exit to spool and deliver what it holds."""
_LEAD_RETRY: Final = 0.5
_ALERT_STATE: Final = "alerts.state"
"""The alert engine's state in the spool directory, kept by whichever process delivers."""
"""How often a process that does not deliver tries to take over (the failover delay)."""
_ROOM_EVERY: Final = 0.1
_IDLE_POLL: Final = 0.05
"""How often an idle delivery thread looks for records other processes wrote."""
_WHERE_MAX: Final = 10
_SEGMENTS_MAX: Final = 64  # damaged segment files named in one report
_OWN_MAX: Final = 10_000
_BATCH_EVENTS: Final = 5000

_pipelines: weakref.WeakSet[EventPipeline] = weakref.WeakSet()
"""Every pipeline not yet closed: what a forked child must re-create."""
_running: weakref.WeakSet[EventPipeline] = weakref.WeakSet()


@atexit.register
def _close_at_exit() -> None:
    # The writer and sink threads are daemons: without this, events still in memory when the
    # program ends would be lost. atexit runs while daemon threads still work.
    for pipe in list(_running):
        with contextlib.suppress(Exception):
            pipe.close(timeout=_EXIT_TIMEOUT)


def _after_fork_in_child() -> None:
    pipes = list(_pipelines)
    for pipe in pipes:
        with contextlib.suppress(Exception):
            pipe._after_fork()
    mp_util = sys.modules.get("multiprocessing.util")
    if pipes and mp_util is not None:
        # A multiprocessing child clears its finalizers, runs these callbacks, then ends with
        # os._exit (no atexit): the callback registers the close that atexit would have done.
        with contextlib.suppress(Exception):
            mp_util.register_after_fork(pipes[0], _close_in_mp_child)


os.register_at_fork(after_in_child=_after_fork_in_child)


def _close_in_mp_child(_: object) -> None:
    """In a multiprocessing child (which ends with ``os._exit``, skipping atexit): close the
    pipelines at its exit, as atexit would."""
    from multiprocessing import util

    util.Finalize(None, _close_at_exit, exitpriority=100)


def _positive(name: str) -> Rule:
    return (name, lambda o: getattr(o, name) > 0, lambda o: "use a positive number", ())


_OPTION_RULES: Final[tuple[Rule, ...]] = (
    *COMMON_RULES,
    _positive("batch_lines"),
    _positive("batch_bytes"),
    _positive("max_unconfirmed_lines"),
    (
        "backoff_initial",
        lambda o: math.isfinite(o.backoff_initial) and o.backoff_initial > 0,
        lambda o: "use a positive number of seconds",
        (),
    ),
    (
        "backoff_max",
        lambda o: math.isfinite(o.backoff_max) and o.backoff_max >= o.backoff_initial,
        lambda o: "use a number of seconds >= backoff_initial",
        ("backoff_initial",),
    ),
)


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
    max_event_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        check_ranges(self, _OPTION_RULES)


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Delivery figures for one consumer while this process delivered. Added in 0.1.

    ``dropped``: records this consumer will never get (all reasons); ``dropped_by_reason``
    splits that count.
    """

    name: str
    delivered: int
    failures: int
    connected: bool
    down_since: float | None
    dropped: int
    dropped_by_reason: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """What the pipeline did since it started.

    ``accepted``: events the writer took (emitted ones and the pipeline's own reports);
    ``written``: records appended to the spool; ``overflowed``: events dropped because more than
    ``max_pending`` waited in memory (whatever the cause); ``processing_errors``: events a
    processor or the encoder failed on (each replaced by an ``event_unprocessable`` line);
    ``dropped``: events that never reached the spool, by reason; ``delivering``: whether this
    process delivers for the spool directory.

    Added in 0.1.
    """

    accepted: int
    written: int
    overflowed: int
    processing_errors: int
    sinks: tuple[SinkStats, ...]
    dropped: Mapping[str, int] = field(default_factory=dict)
    delivering: bool = False


@dataclass(frozen=True, slots=True)
class SinkReceipt:
    """What one sink confirmed of the events *this process* emitted (not its own reports).

    ``delivered`` the sink confirmed; ``dropped`` (by reason) will never reach it; ``pending``
    are spooled and not yet passed. ``delivered + sum(dropped) + pending`` is every event this
    process emitted.

    Added in 0.1.
    """

    name: str
    delivered: int
    dropped: Mapping[str, int]
    pending: int


@dataclass(slots=True)
class _Owed:
    """Drops one sink has still to be told about, for one (consumer, reason)."""

    lost: int = 0
    where: list[tuple[str, int, int]] = field(default_factory=list)
    regions: int = 0
    segments: dict[str, None] = field(default_factory=dict)
    """Every damaged segment file (up to ``_SEGMENTS_MAX``), in the order met: the region list
    is bounded and one badly damaged file can fill it."""
    own: int = 0
    covers: dict[int, int] = field(default_factory=dict)
    """For a sink's own drops: per slot, the highest dropped seq this report covers (marked
    reported in the cursor once the sink confirmed it, so a new deliverer does not owe it)."""

    def cover(self, slot: int, seq: int) -> None:
        if seq > self.covers.get(slot, -1):
            self.covers[slot] = seq

    def add(self, lost: int, where: Sequence[tuple[str, int, int]] = (), own: int = 0) -> None:
        self.lost += lost
        self.own += own
        self.regions += len(where)
        for segment, _, _ in where:
            if len(self.segments) < _SEGMENTS_MAX:
                self.segments.setdefault(segment)
        room = _WHERE_MAX - len(self.where)
        if room > 0:
            self.where.extend(where[:room])


def _overlap(a: int, b: int, lo: int, hi: int) -> int:
    """How many integers ``[a, b]`` and ``[lo, hi]`` share."""
    return max(min(b, hi) - max(a, lo) + 1, 0)


def _carry(owed: dict[tuple[str, str], _Owed], payload: bytes) -> None:
    """Owe again what a writer's ``events_dropped`` record (deleted unread) reported."""
    try:
        details = json.loads(payload)["bulletproof"]["details"]
        lost, reason = details["dropped"], details["reason"]
    except (ValueError, KeyError, TypeError):
        return
    if "sink" in details or type(lost) is not int or not isinstance(reason, str) or lost <= 0:
        return
    owed.setdefault(("", reason), _Owed()).add(lost)


class _Worker:
    """Delivers one consumer's stream from every slot; runs on its own thread."""

    def __init__(self, pipeline: EventPipeline, sink: Sink) -> None:
        self.pipeline = pipeline
        self.sink = sink
        self.reader: SpoolConsumer | None = None
        # Marks of records sent and not yet confirmed; None stands for a report line.
        self.inflight: collections.deque[Mark | None] = collections.deque()
        # Drop reports owed to this sink (aggregated, guarded by the pipeline's _owed_lock),
        # and the report lines made from them, resent as they are until confirmed.
        self.owed: dict[tuple[str, str], _Owed] = {}
        self.reports: collections.deque[tuple[bytes, dict[int, int]]] = collections.deque()
        self.reports_sent = 0
        # Set by this process's writer (new records), by a drop report owed, and at stop.
        self.wake = threading.Event()
        self.making = False  # drop reports being made of what was owed (see _take_reports)
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
        return not self.inflight and (self.reader is None or self.reader.caught_up())

    def _confirm(self) -> None:
        reader = self.reader
        if reader is None:
            return
        pending = self.sink.unconfirmed()
        n = len(self.inflight) - pending
        if n <= 0:
            return
        marks: list[Mark] = []
        for _ in range(n):
            mark = self.inflight.popleft()
            if mark is None:
                _line, covers = self.reports.popleft()
                self.reports_sent -= 1
                for slot, seq in covers.items():
                    reader.mark_reported(slot, seq)
            else:
                marks.append(mark)
        # Count before committing: drain() returns as soon as the commit shows caught up.
        self.delivered += len(marks)
        if marks:
            reader.commit(marks)
        self.pipeline._progressed()

    def _take_reports(self) -> list[bytes]:
        """Report lines to send before the next batch: those not sent since the last failure,
        or new ones made from what is owed once every earlier one was confirmed."""
        p = self.pipeline
        if not self.reports:
            # ``making`` is set before the owed counts leave ``owed`` and cleared after their
            # reports are in ``reports``: ``reported`` reads them in the other order, so it
            # never sees a report in neither place.
            self.making = True
            with p._owed_lock:
                owed, self.owed = self.owed, {}
            try:
                for key, what in owed.items():
                    line = p._serialize(p._drop_report(self.sink.name, key, what))
                    self.reports.append((line, what.covers))
            finally:
                self.making = False
        lines = [line for line, _ in itertools.islice(self.reports, self.reports_sent, None)]
        self.reports_sent = len(self.reports)
        return lines

    @property
    def reported(self) -> bool:
        """Whether every drop report owed to this sink was confirmed."""
        return not self.owed and not self.making and not self.reports

    def _fail(self, exc: BaseException) -> None:
        self.failures += 1
        self.last_error = str(exc)[:500]
        with contextlib.suppress(Exception):
            self.sink.close()
        self.connected = False
        if self.reader is not None:
            self.reader.rewind()
        self.inflight.clear()
        self.reports_sent = 0  # resend every unconfirmed report line, unchanged
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
        attempt = 0
        stop = p._stop_delivery
        reader = self.reader
        if reader is None:  # pragma: no cover - started only once a reader is set
            return
        while True:
            if p._abort.is_set() or (
                stop.is_set() and p._own_passed() and p._orphans_passed() and self.reported
            ):
                break
            try:
                if not self.connected:
                    self.sink.open()
                    self.connected = True
                if len(self.inflight) >= opts.max_unconfirmed_lines:
                    self._confirm()
                    p.clock.sleep(opts.durability_lag, p._abort)
                    continue
                extra = self._take_reports()
                batch = reader.read(opts.batch_lines, opts.batch_bytes)
                if not batch.lines and not extra:
                    self._confirm()
                    if not self.inflight:
                        self._recovered()
                    self._idle()
                    continue
                self.sink.send(extra + batch.lines if extra else batch.lines)
                if extra:
                    self.inflight.extend(itertools.repeat(None, len(extra)))
                self.inflight.extend(batch.ends)
                # Report the recovery before committing, so drain() waits for the report too.
                self._recovered()
                self._confirm()
                attempt = 0
            except Exception as exc:  # noqa: BLE001 - any sink failure means: back off and resend
                self._fail(exc)
                if p.clock.sleep(p._backoff(attempt), p._abort):
                    break
                attempt += 1
        with contextlib.suppress(Exception):
            self.sink.close()

    def _idle(self) -> None:
        p = self.pipeline
        engine = p.alerts
        if engine is not None and self.sink is engine:
            engine.tick()
        # Woken by this process's writer; other processes' records are polled.
        p.clock.sleep(_IDLE_POLL, self.wake)
        self.wake.clear()


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
        self._consumers = consumers
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
        self._encoder = EventEncoder(opts.max_field_chars, max_event_bytes=opts.max_event_bytes)
        # The common event skips the walks when the chain is the default one.
        self._simple: SimpleEventEncoder | None = None
        if processors is None:
            enrich, redact = self.processors
            if isinstance(enrich, EnrichProcessor) and isinstance(redact, RedactProcessor):
                self._simple = SimpleEventEncoder(enrich, redact, self._encoder)
        self._max_pending = opts.max_pending
        self._rng = random.Random()  # noqa: S311 - jitter, not a secret
        self._reset_state()
        self._closed = False
        self._started = False
        self.spool, self.directory = self._open_spool()
        _pipelines.add(self)  # from here on, a fork rebuilds it in the child
        self.removed_consumers: list[str] = []
        try:
            # Consumers of earlier runs that this configuration lost are forgotten (and said
            # so) when no other process delivers; the delivery lock is taken again at start.
            probe = self._new_directory(self.spool)
            if probe.lead():
                try:
                    for sink in consumers:
                        probe.consumer(sink.name)
                    self.removed_consumers = probe.forget_other_consumers()
                finally:
                    probe.release()
        except BaseException:
            _pipelines.discard(self)
            self.spool.close()
            raise

    def _reset_state(self) -> None:
        """Everything that belongs to one process (built again in a forked child)."""
        self._queue: collections.deque[SecurityEvent] = collections.deque()
        self._own: collections.deque[SecurityEvent] = collections.deque(maxlen=_OWN_MAX)
        self._overflow_lock = threading.Lock()
        self._overflowed = 0
        self._reported_overflow = 0
        self._retry: list[bytes] = []
        self._retry_own = 0
        # Emitted events the writer took off the queue (less those a processor dropped), and
        # those now in the spool: the difference is in the writer's hands (a batch, or _retry).
        # One batch at a time holds _batch_lock, so close() can stop the writer between batches
        # and count.
        self._taken_events = 0
        self._spooled_events = 0
        self._batch_lock = threading.Lock()
        self._sealed = False
        self._failing: str | None = None
        self._fail_error = ""
        self._fail_count = 0
        self._retry_at = 0.0
        self._writer_drops: dict[str, int] = {}
        self._unreported: dict[str, int] = {}
        self._sink_drops: dict[str, dict[str, int]] = {}
        self._owed_lock = threading.Lock()
        self._own_seqs: list[tuple[int, int]] = []
        self._processing_errors = 0
        self._accepted = 0
        self._wake = threading.Event()
        self._written = threading.Condition()
        self._progress = threading.Condition()
        self._writer_busy = False
        self.rounds = 0
        """Rounds the writer thread finished (each: spool what waits, report, make room)."""
        self._stop_writer = threading.Event()
        self._stop_delivery = threading.Event()
        self._abort = threading.Event()
        self._writer_done = False
        self._delivering = False
        self._next_lead = 0.0
        self._next_room = 0.0
        self._workers = [_Worker(self, s) for s in self._consumers]
        self._writer = threading.Thread(
            target=self._write_loop, name="bulletproof-writer", daemon=True
        )

    def _open_spool(self) -> tuple[Spool, SpoolDirectory]:
        opts = self.options
        spool = Spool(
            Path(opts.spool_dir),
            max_bytes=opts.spool_max_bytes,
            segment_bytes=opts.segment_bytes,
            fsync=opts.fsync,
            clock=self.clock,
        )
        return spool, self._new_directory(spool)

    def _new_directory(self, spool: Spool) -> SpoolDirectory:
        return SpoolDirectory(
            spool.root,
            local=spool,
            on_drop=self._on_drop,
            on_unreported=self._on_unreported,
            max_record_bytes=self.options.max_event_bytes,
            clock=self.clock,
        )

    def _after_fork(self) -> None:
        """In a forked child: a slot, a queue and threads of its own; the parent keeps its."""
        self.spool.abandon()
        self.directory.abandon()
        was_running = self._started and not self._closed
        self._reset_state()
        if self._closed:
            return
        try:
            self.spool, self.directory = self._open_spool()
        except SpoolError:
            _logger.exception("bulletproof: no spool slot for this forked process; events dropped")
            self._writer_done = True
            return
        if was_running:
            self._writer.start()

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
        self._own.append(event)
        self._wake.set()

    def _on_drop(self, consumer: str, drop: Drop) -> None:
        """A consumer will never get some records (the spool directory's lock is held).

        Every sink is owed a report of it. The reports do not go through the spool, where the
        byte bound that dropped the records could drop the reports too: each delivery thread
        sends its sink what it is owed, aggregated, and resends the same lines until the sink
        confirmed them. Writer-side reports (``memory_queue_full``...) that the bound deleted
        before this consumer read them are owed to it again the same way.
        """
        with self._owed_lock:
            if drop.lost:
                by_reason = self._sink_drops.setdefault(consumer, {})
                by_reason[drop.reason] = by_reason.get(drop.reason, 0) + drop.lost
            key = (consumer, drop.reason if drop.lost else "none")
            for worker in self._workers:
                owed = worker.owed.setdefault(key, _Owed())
                owed.add(drop.events, drop.where, drop.own)
                if drop.lost and worker.sink.name == consumer:
                    owed.cover(drop.slot, drop.last)
                worker.wake.set()
            if drop.reports:
                mine = next((w for w in self._workers if w.sink.name == consumer), None)
                if mine is not None:
                    for payload in drop.reports:
                        _carry(mine.owed, payload)

    def _backoff(self, attempt: int) -> float:
        """Seconds to wait after ``attempt`` failures in a row: full jitter, a random share of
        ``backoff_initial * 2**attempt`` capped at ``backoff_max``, so that many instances do
        not all reconnect to a recovered receiver at the same moment."""
        opts = self.options
        cap = min(opts.backoff_max, opts.backoff_initial * 2 ** min(attempt, 60))
        return self._rng.uniform(0.0, cap)

    def _progressed(self) -> None:
        """Something was written or delivered: wake drain()."""
        with self._progress:
            self._progress.notify_all()

    def _on_unreported(self, consumer: str, drop: Drop) -> None:
        """A cursor holds drops its consumer was never told of (a deliverer died first)."""
        with self._owed_lock:
            mine = next((w for w in self._workers if w.sink.name == consumer), None)
            if mine is None or drop.lost <= 0:
                return
            owed = mine.owed.setdefault((consumer, drop.reason), _Owed())
            owed.add(drop.lost)
            owed.cover(drop.slot, drop.last)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Start the writer (which also takes over delivery when no other process delivers).

        Returns self.
        """
        if self._started or self._closed:
            return self
        self._started = True
        _running.add(self)
        self._try_lead()
        self._writer.start()
        return self

    def _try_lead(self) -> None:
        """Become the deliverer if no other process is: start a thread per sink."""
        now = self.clock.monotonic()
        if self._delivering or now < self._next_lead or self._stop_delivery.is_set():
            return
        self._next_lead = now + _LEAD_RETRY
        directory = self.directory
        if not directory.lead():
            return
        workers = self._workers
        try:
            for worker in workers:
                worker.reader = directory.consumer(worker.sink.name)
                if worker.wake not in self.spool.listeners:
                    self.spool.listeners.append(worker.wake)
            removed = directory.forget_other_consumers()
            if removed:
                self.removed_consumers = sorted(set(self.removed_consumers) | set(removed))
            engine = self.alerts
            if engine is not None and not engine.attached:
                # Go on from the cooldowns, digests and notifications the last deliverer left.
                engine.attach(
                    Path(self.options.spool_dir) / _ALERT_STATE,
                    fsync=self.options.fsync,
                    batch_lines=self.options.batch_lines,
                )
            for worker in workers:
                if worker.thread.ident is None:  # a retry starts only those that did not
                    worker.thread.start()
        except Exception:
            if any(w.thread.ident is not None for w in workers):
                # Some sinks are being delivered to, under the lock: keep it, and start the
                # others at the next try.
                _logger.exception("bulletproof: could not start delivering to every sink")
            else:  # never hold the lock without delivering
                _logger.exception("bulletproof: could not start delivering; another process may")
                if self.alerts is not None:
                    self.alerts.detach()
                directory.release()
            return
        self._delivering = True
        self.spool.on_full = self._make_room

    @property
    def delivering(self) -> bool:
        """Whether this process delivers for its spool directory."""
        return self._delivering

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
        return (
            not self._queue and not self._own and not self._retry and not self._writer_busy
        ) or (not self._writer.is_alive())

    def wait_round(self, timeout: float = 5.0) -> bool:
        """Wake the writer and wait (real time, bounded) until it finished one more round."""
        with self._written:
            # A round under way may have begun before this call: then wait for the next too.
            target = self.rounds + (2 if self._writer_busy else 1)
            self._wake.set()
            return self._written.wait_for(lambda: self.rounds >= target, timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every event accepted so far is in the spool on disk; False on timeout."""
        if not self._started:
            return not self._queue
        self._wake.set()
        with self._written:
            done = self._written.wait_for(self._idle_writer, max(timeout, 0.0))
        return done and not self._queue and not self._own and not self._retry

    def _own_passed(self) -> bool:
        """Whether every record this process spooled was passed by every consumer."""
        last = self.spool.next_seq - 1
        if last < self.spool.first_seq:
            return True
        for worker in self._workers:
            seq = self._receipt(worker.sink.name).seq
            if seq is None or seq < last:
                return False
        return True

    def _orphans_passed(self) -> bool:
        """When delivering: whether every sink passed what processes now gone left behind."""
        return not self._delivering or all(
            not w.inflight and (w.reader is None or w.reader.caught_up(live=False))
            for w in self._workers
        )

    def _receipt(self, name: str) -> Receipt:
        if self._delivering:
            return self.directory.consumer(name).receipt(self.spool.slot)
        return self.spool.receipt(name)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every event accepted so far reached every sink (or is counted as dropped);
        False on timeout.

        Events the pipeline emits about itself meanwhile (``sink_recovered``) are waited for too.
        When another process delivers for the spool directory, this waits for it.
        """
        # Waiting for other threads takes real time whatever clock the events are stamped with.
        deadline = system_clock.monotonic() + timeout
        if not self.flush(timeout):
            return False
        while True:
            # Consumers first, then the writer, then the spool again: a worker queues its own
            # reports (sink_recovered, an alert's notification_failed) before it commits. So a
            # report queued before a commit seen here is still queued or being written when the
            # writer is looked at, or already spooled, which moved next_seq.
            spooled = self.spool.next_seq
            passed = (
                self._own_passed()
                and self._orphans_passed()
                and (not self._delivering or all(w.reported for w in self._workers))
            )
            with self._written:
                idle = (
                    not self._queue and not self._own and not self._retry and not self._writer_busy
                )
                unchanged = self.spool.next_seq == spooled
            if passed and idle and unchanged:
                return True
            left = deadline - system_clock.monotonic()
            if left <= 0:
                return False
            self._wake.set()
            with self._progress:
                # Woken by this process's writer and delivery threads; what another process
                # delivers for this one is looked at now and then.
                self._progress.wait(min(left, _IDLE_POLL))

    def close(self, timeout: float = 5.0) -> bool:
        """Write everything to the spool, deliver what can be delivered within ``timeout``, stop.

        Whatever was not delivered stays in the spool: for the process that delivers next, or
        for the next start. Events that could not even be spooled by then (a full disk) are
        counted as dropped and logged. Returns True when every sink has passed every event of
        this process.
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

        self.drain(left())
        self._stop_delivery.set()
        for worker in self._workers:
            worker.wake.set()
        for worker in self._workers:
            if worker.thread.is_alive():
                worker.thread.join(left())
        caught_up = self._own_passed()
        self._abort.set()
        for worker in self._workers:
            worker.wake.set()
        for worker in self._workers:
            if worker.thread.is_alive():
                worker.thread.join(2.0)
        # The writer stops last, so what the workers reported while stopping is on disk too.
        self._stop_writer.set()
        self._wake.set()
        if self._writer.is_alive():
            self._writer.join(max(left(), 0.5))
        self._writer_done = True
        # A writer still busy finishes its batch first; the next one sees the seal and stops,
        # so what is counted lost below is never written afterwards.
        sealed = self._batch_lock.acquire(timeout=max(left(), 1.0))
        self._sealed = True
        lost = len(self._queue) + self._taken_events - self._spooled_events
        with self._overflow_lock:
            over = self._overflowed - self._reported_overflow
            self._reported_overflow = self._overflowed
        if over:
            self._count_writer_drop(self._failing or "memory_queue_full", over)
        unsaid = self._unsaid_drops()
        if sealed:
            self._batch_lock.release()
        else:
            _logger.error(
                "bulletproof: the event writer is stuck (in a processor or a spool write); "
                "the count of events lost at exit may be off by one batch"
            )
        if unsaid:
            _logger.error(
                "bulletproof: %d event(s) were dropped earlier and no report of it could be "
                "spooled (%s): %s",
                sum(unsaid.values()),
                self._fail_error or "the writer did not finish in time",
                ", ".join(f"{reason}: {n}" for reason, n in sorted(unsaid.items())),
            )
        if lost > 0:
            self._count_writer_drop(self._failing or "spool_write_failed", lost)
            _logger.error(
                "bulletproof: %d event(s) could not be spooled before exit (%s) and are lost",
                lost,
                self._fail_error or "the writer did not finish in time",
            )
        if self.alerts is not None:
            self.alerts.detach()
        self.directory.release()
        self.spool.close()
        _pipelines.discard(self)  # only now: a child forked while closing drops the locks too
        return caught_up and lost <= 0

    def _unsaid_drops(self) -> dict[str, int]:
        """At close: drops no spooled report tells of, by reason. Counted while the spool took
        no writes, or reported in ``events_dropped`` events still in memory."""
        unsaid = {k: v for k, v in self._unreported.items() if v > 0}
        owed: dict[tuple[str, str], _Owed] = {}
        for line in self._retry[: self._retry_own]:
            _carry(owed, line)
        for key, what in owed.items():
            unsaid[key[1]] = unsaid.get(key[1], 0) + what.lost
        for ev in self._own:
            details = ev.details
            n, reason = details.get("dropped"), details.get("reason")
            if ev.action == "events_dropped" and "sink" not in details and type(n) is int:
                unsaid[str(reason)] = unsaid.get(str(reason), 0) + n
        return unsaid

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
                event_id = one_line(str(event.id))[:64]
            except Exception:  # noqa: BLE001 - not even an id: make one
                event_id = new_event_id()
            fallback = {
                "@timestamp": _format_timestamp(self.clock.time()),
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
        while True:
            self.clock.sleep(period, self._wake)
            self._wake.clear()
            with self._written:
                self._writer_busy = True
            try:
                self._try_lead()
                self._write_pending()
                if self._delivering:
                    self._housekeeping()
            except Exception:  # the writer must survive anything
                _logger.exception("bulletproof event writer failed; retrying")
            with self._written:
                self._writer_busy = False
                self.rounds += 1
                self._written.notify_all()
            self._progressed()
            if self._stop_writer.is_set() and (
                self.spool.closed
                or (not self._queue and not self._own and not self._retry)
                or self._failing is not None
            ):
                break

    def _take(self) -> tuple[list[bytes], int]:
        """The next batch of lines: the pipeline's own reports first, then emitted events."""
        lines: list[bytes] = []
        size = 0
        own = self._own
        while own and len(lines) < _BATCH_EVENTS:
            line = self._serialize(own.popleft())
            if line:
                lines.append(line)
                size += len(line)
        n_own = len(lines)
        self._accepted += n_own
        queue = self._queue
        taken = 0
        limit = self.options.batch_bytes
        while queue and taken < _BATCH_EVENTS and size < limit:
            try:
                event = queue.popleft()
            except IndexError:
                break
            taken += 1
            self._taken_events += 1  # in hand from here: a writer stuck serializing holds it
            line = self._serialize(event)
            if line:
                lines.append(line)
                size += len(line)
            else:
                self._taken_events -= 1  # a processor dropped it on purpose
        self._accepted += taken
        return lines, n_own

    def _write_pending(self) -> None:
        period = self.options.durability_lag / 2
        clock = self.clock
        last_sync = clock.monotonic()
        wrote = False
        while True:
            with self._batch_lock:
                if self._sealed:
                    break  # close() counted what is left as lost: nothing more is written
                self._report()
                if self._failing is not None and clock.monotonic() < self._retry_at:
                    break  # backing off: emitted events wait (bounded) in memory
                if self._retry:
                    lines, n_own = self._retry, self._retry_own
                elif self._queue or self._own:
                    lines, n_own = self._take()
                else:
                    break
                if not self._append(lines, n_own):
                    break
            wrote = True
            if self._delivering and self.spool.total_bytes() > self.options.spool_max_bytes:
                self._make_room()
            if clock.monotonic() - last_sync >= period:
                # A steady stream must not keep what was written from reaching the disk.
                self.spool.sync()
                last_sync = clock.monotonic()
        if wrote:
            self.spool.sync()

    def _append(self, lines: list[bytes], n_own: int) -> bool:
        """Append one batch; on failure keep the unwritten rest for a retry with backoff."""
        if self._sealed:
            return False  # close() gave up waiting for this batch and counted it lost
        first = self.spool.next_seq
        try:
            self.spool.append(lines)
        except SpoolWriteError as exc:
            done = exc.written
            self._spooled_events += max(done - n_own, 0)
            self._note_own(first, min(done, n_own))
            self._retry = lines[done:]
            self._retry_own = max(n_own - done, 0)
            self._write_failed(exc)
            return False
        self._note_own(first, n_own)
        self._spooled_events += len(lines) - n_own
        self._retry, self._retry_own = [], 0
        if self._failing is not None:
            self._write_recovered()
        return True

    def _note_own(self, first: int, n: int) -> None:
        if n <= 0:
            return
        own = self._own_seqs
        if own and own[-1][0] + own[-1][1] == first:
            own[-1] = (own[-1][0], own[-1][1] + n)
        else:
            own.append((first, n))
            del own[:-_OWN_MAX]

    def _write_failed(self, exc: SpoolWriteError) -> None:
        now = self.clock.monotonic()
        reason = "spool_full" if isinstance(exc, SpoolFullError) else "spool_write_failed"
        self._retry_at = now + self._backoff(self._fail_count)
        self._fail_count += 1
        if self._failing is not None:
            return
        self._failing = reason
        self._fail_error = str(exc)
        disk_full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
        _logger.warning("bulletproof spool write failed (%s); retrying with backoff", exc)
        self._emit_internal(
            SecurityEvent(
                action="spool_write_failed",
                category=Category.DELIVERY,
                severity=Severity.HIGH,
                message=(
                    f"spool {self.spool.root} cannot take events ({exc}); they wait in memory "
                    f"(up to {self._max_pending}) and writing is retried with backoff"
                ),
                types=("error",),
                details={
                    "spool_dir": str(self.spool.root),
                    "reason": reason,
                    "error": one_line(str(exc))[:500],
                    "disk_full": disk_full,
                },
                timestamp=self.clock.time(),
            )
        )

    def _write_recovered(self) -> None:
        _logger.warning("bulletproof spool %s is writable again", self.spool.root)
        self._emit_internal(
            SecurityEvent(
                action="spool_recovered",
                category=Category.DELIVERY,
                message=f"spool {self.spool.root} takes events again",
                types=("change",),
                details={"spool_dir": str(self.spool.root), "failed_attempts": self._fail_count},
                timestamp=self.clock.time(),
            )
        )
        self._failing = None
        self._fail_count = 0

    def _count_writer_drop(self, reason: str, n: int) -> None:
        self._writer_drops[reason] = self._writer_drops.get(reason, 0) + n
        self._unreported[reason] = self._unreported.get(reason, 0) + n

    def _report(self) -> None:
        """Queue ``events_dropped`` (and ``spool_corrupt``) reports for the drops counted so far."""
        with self._overflow_lock:
            lost = self._overflowed - self._reported_overflow
            self._reported_overflow = self._overflowed
        if lost:
            self._count_writer_drop(self._failing or "memory_queue_full", lost)
        if self._failing is not None:
            # A report now could only wait in memory: keep the counts, one report per reason
            # once the spool takes writes again (so a long outage costs no memory here).
            return
        unreported, self._unreported = self._unreported, {}
        now = self.clock.time()
        for reason, n in unreported.items():
            if reason == "memory_queue_full":
                message = f"{n} event(s) dropped: more than {self._max_pending} waited in memory"
            else:
                message = (
                    f"{n} event(s) dropped: the spool could not take them ({reason}) while "
                    f"more than {self._max_pending} waited in memory"
                )
            self._emit_internal(
                SecurityEvent(
                    action="events_dropped",
                    category=Category.DELIVERY,
                    severity=Severity.HIGH,
                    message=message,
                    types=("error",),
                    details={"dropped": n, "reason": reason},
                    timestamp=now,
                )
            )

    def _drop_report(self, to: str, key: tuple[str, str], owed: _Owed) -> SecurityEvent:
        """The report sent to sink ``to`` of what ``key`` = (consumer, reason) lost."""
        consumer, reason = key
        now = self.clock.time()
        where = owed.where
        regions = [{"segment": p, "offset": o, "bytes": b} for p, o, b in where]
        lost = owed.lost
        if not consumer:  # a writer's report, deleted by the byte bound before ``to`` read it
            return SecurityEvent(
                action="events_dropped",
                category=Category.DELIVERY,
                severity=Severity.HIGH,
                message=f"{lost} event(s) dropped ({reason}); the original report of this was "
                "itself deleted from the full spool before this sink read it",
                types=("error",),
                details={"dropped": lost, "reason": reason, "resent": True},
                timestamp=now,
            )
        if reason == "none":
            return SecurityEvent(
                action="spool_corrupt",
                category=Category.DELIVERY,
                severity=Severity.HIGH,
                message=(
                    f"spool: {len(where)} damaged region(s) skipped for {consumer}; no complete "
                    f"event was lost (first at {where[0][0]} offset {where[0][1]})"
                    if where
                    else f"spool: damaged data skipped for {consumer}"
                ),
                types=("error",),
                details={
                    "sink": consumer,
                    "dropped": 0,
                    "regions": regions,
                    "count": owed.regions,
                    "segments": list(owed.segments),
                },
                timestamp=now,
            )
        details: dict[str, Any] = {"sink": consumer, "dropped": lost, "reason": reason}
        if owed.own:
            details["own_reports_dropped"] = owed.own  # bulletproof's own, not emitted events
        if reason == "spool_full":
            details["spool_max_bytes"] = self.options.spool_max_bytes
            message = f"spool full: {lost} event(s) for {consumer} were dropped, oldest first"
        else:
            details["regions"] = regions
            details["count"] = owed.regions
            details["segments"] = list(owed.segments)
            first = f" (first at {where[0][0]} offset {where[0][1]})" if where else ""
            message = f"spool damaged: {lost} event(s) for {consumer} were lost{first}"
        return SecurityEvent(
            action="events_dropped",
            category=Category.DELIVERY,
            severity=Severity.HIGH,
            message=message,
            types=("error",),
            details=details,
            timestamp=now,
        )

    def _housekeeping(self) -> None:
        now = self.clock.monotonic()
        if now >= self._next_room:
            self._next_room = now + _ROOM_EVERY
            self._make_room()
        self._report()

    def _make_room(self) -> None:
        """Keep the directory within its bound, and leave its filesystem room for a segment."""
        opts = self.options
        if self.directory.make_room(opts.spool_max_bytes, min_free=opts.segment_bytes):
            self.spool.forget_sizes()

    # -- figures ---------------------------------------------------------------------------
    def stats(self) -> PipelineStats:
        """Counters since start."""
        sinks = []
        for w in self._workers:
            by_reason = dict(self._sink_drops.get(w.sink.name, {}))
            sinks.append(
                SinkStats(
                    name=w.sink.name,
                    delivered=w.delivered,
                    failures=w.failures,
                    connected=w.connected,
                    down_since=w.down_since,
                    dropped=sum(by_reason.values()),
                    dropped_by_reason=MappingProxyType(by_reason),
                )
            )
        return PipelineStats(
            accepted=self._accepted,
            written=self.spool.lines_written,
            overflowed=self._overflowed,
            processing_errors=self._processing_errors,
            sinks=tuple(sinks),
            dropped=MappingProxyType(dict(self._writer_drops)),
            delivering=self._delivering,
        )

    def receipts(self) -> dict[str, SinkReceipt]:
        """Per sink: what it confirmed of the events this process emitted.

        Read from the consumers' cursors (in memory when this process delivers, else from the
        files the delivering process writes), so it counts what each sink confirmed, and the
        events dropped on the way, never a figure derived from what is left.
        """
        # One snapshot: the writer appends a batch and notes its own reports under this lock.
        locked = self._batch_lock.acquire(timeout=1.0)
        try:
            first, end = self.spool.first_seq, self.spool.next_seq
            own = [(a, min(a + n, end) - 1) for a, n in self._own_seqs if a < end]
        finally:
            if locked:
                self._batch_lock.release()
        events = (end - first) - sum(b - a + 1 for a, b in own)
        out: dict[str, SinkReceipt] = {}
        for w in self._workers:
            receipt = self._receipt(w.sink.name)
            passed, _ = receipt.passed(first, end)
            top = -1 if receipt.seq is None else min(receipt.seq, end - 1)
            passed -= sum(_overlap(a, b, first, top) for a, b in own)
            drops = dict(self._writer_drops)
            for x, y, reason in receipt.dropped:
                lo, hi = max(x, first), min(y, top)
                n = hi - lo + 1 - sum(_overlap(a, b, lo, hi) for a, b in own) if hi >= lo else 0
                if n > 0:
                    drops[reason] = drops.get(reason, 0) + n
            spooled_drops = sum(drops.values()) - sum(self._writer_drops.values())
            out[w.sink.name] = SinkReceipt(
                name=w.sink.name,
                delivered=passed - spooled_drops,
                dropped=MappingProxyType({k: v for k, v in drops.items() if v > 0}),
                pending=events - passed,
            )
        return out

    def backlog(self) -> dict[str, int]:
        """Records each consumer has not yet had confirmed: in every slot when this process
        delivers, else of this process (reads the spool; not for hot paths)."""
        if self._delivering:
            return {w.sink.name: w.reader.backlog() if w.reader else 0 for w in self._workers}
        end = self.spool.next_seq
        out: dict[str, int] = {}
        for w in self._workers:
            seq = self.spool.receipt(w.sink.name).seq
            done = -1 if seq is None else seq
            out[w.sink.name] = max(end - 1 - max(done, self.spool.first_seq - 1), 0)
        return out
