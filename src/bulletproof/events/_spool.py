"""A disk-backed, bounded, at-least-once queue shared by every process of one service.

Layout of a spool directory::

    DIR/deliver.lock                      flock held by the one process that delivers for all
    DIR/slot-0/lock                       flock held by the process writing this slot
    DIR/slot-0/head                       the segment and sequence number of the last synced record
    DIR/slot-0/00000000000000000001.seg   records, appended by the slot's writer
    DIR/slot-0/cursor-<hash>.json         each consumer's committed position in this slot

**Writers.** Every process that emits events writes its own slot (:class:`Spool`): several
workers of one server, a forked child, two runs of ``send-test``. A slot's writer never touches
another slot, never deletes a file, and never reuses a segment number or a sequence number that
a record or cursor of the slot may still name.

**One deliverer.** The process holding ``deliver.lock`` (:class:`SpoolDirectory`, the *leader*)
reads every slot, live or orphaned, for each consumer (:class:`SpoolConsumer`), commits what each
sink confirmed in the slot's cursor file, deletes what every consumer has passed, and keeps the
directory within its byte bound. When the leader exits or dies the kernel releases the lock and
another process takes over, from the cursors on disk. So one sink is written by one process at a
time (a rotating file sink is safe), no slot is left undelivered, and an alert engine fed by the
leader counts the events of all processes.

**Records.** Each record is one line::

    CCCCCCCC SSSSSSSSSSSSSSSS {"@timestamp":...}\\n

``S`` is the record's sequence number in its slot (16 hex digits, one more for each record, kept
across processes that take the slot in turn) and ``C`` the CRC-32 of everything after it. A
record that fails its check (random bytes, a torn write) is skipped and never reaches a sink;
the sequence numbers of the next good record say exactly how many events were lost, and the
``head`` file does the same for records missing at the end of a slot whose writer is gone. Each
loss, with the segment and byte offset where it was found, is handed to the ``on_drop``
callback of the directory, so the pipeline reports it in an ``events_dropped`` event.

**Bounds.** When the directory holds more than ``max_bytes`` (or its filesystem runs out of
room), the leader deletes whole segments, oldest first, and counts for every consumer the
records it had not passed. A segment that a consumer has sent but not yet had confirmed is never
deleted under it, so a record is either delivered or counted as dropped, never both.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import weakref
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NamedTuple

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import SpoolError, SpoolFullError, SpoolWriteError

logger = logging.getLogger("bulletproof.events")

__all__ = [
    "OWN_ACTIONS",
    "Drop",
    "Mark",
    "Position",
    "ReadBatch",
    "Receipt",
    "Spool",
    "SpoolConsumer",
    "SpoolDirectory",
    "SpoolFullError",
    "SpoolWriteError",
    "frame_record",
    "parse_record",
]

_SEG_SUFFIX: Final = ".seg"
_MAX_SLOTS: Final = 256
_HEADER: Final = 26  # "CCCCCCCC SSSSSSSSSSSSSSSS "
_HEAD_WIDTH: Final = 64
_TAIL_SCAN: Final = 1 << 20
_SCAN_LIMIT: Final = 4 << 20
"""A run of bytes this long without a newline is no record: it is skipped as corrupt."""
_MAX_DROP_RANGES: Final = 256
_LIVENESS_TTL: Final = 1.0
# The two calls a full disk fails, named so tests can fail them on purpose.
_os_write = os.write
_os_ftruncate = os.ftruncate
_os_open = os.open  # and the reader's open, which too many open files fails
_SLOT_RESCAN: Final = 0.5
_SIZE_RESCAN: Final = 0.25


class Position(NamedTuple):
    """A place in one slot: the segment number and a byte offset in it. Added in 0.1."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class Drop:
    """Records a consumer will never deliver: sequence numbers ``first..last`` of a slot.

    ``reason`` is ``spool_full`` (deleted by the byte bound) or ``corrupt`` (failed their check
    or went missing from disk); ``where`` names the segment files and byte offsets concerned.

    Added in 0.1.
    """

    slot: int
    first: int
    last: int
    reason: str
    where: tuple[tuple[str, int, int], ...]
    reports: tuple[bytes, ...] = ()
    """Payloads of ``events_dropped`` records among the dropped ones (the byte bound deleted
    them before this consumer read them): their counts must still reach it."""
    own: int = 0
    """How many of the dropped records were bulletproof's own reports, not emitted events
    (known for the byte bound, which reads what it deletes; 0 for corruption: unknowable)."""

    @property
    def events(self) -> int:
        """Emitted events among the lost records: ``lost - own``."""
        return self.lost - self.own

    @property
    def lost(self) -> int:
        """How many records: ``last - first + 1`` (0 for a corrupt region that lost none)."""
        return max(self.last - self.first + 1, 0)


class Mark(NamedTuple):
    """Where one read record ends, for committing it once its sink confirmed it.

    ``loss`` is set on the first good record after lost ones: committing it commits the loss.

    Added in 0.1.
    """

    slot: int
    segment: int
    offset: int
    seq: int
    loss: Drop | None = None


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """Record payloads read for one consumer, and a :class:`Mark` for each. Added in 0.1."""

    lines: list[bytes]
    ends: list[Mark]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What one consumer has passed in one slot, as its cursor file says.

    ``seq``: the sequence number of the last record passed (delivered or dropped), None when the
    consumer has passed nothing yet; ``dropped``: the ranges ``(first, last, reason)`` it dropped.

    Added in 0.1.
    """

    seq: int | None
    dropped: tuple[tuple[int, int, str], ...] = ()

    def passed(self, first: int, end: int) -> tuple[int, dict[str, int]]:
        """Of the records ``first <= seq < end``: how many passed, and how many were dropped
        by reason (so delivered = passed - sum of drops)."""
        if self.seq is None or end <= first:
            return 0, {}
        top = min(self.seq, end - 1)
        passed = max(top - first + 1, 0)
        dropped: dict[str, int] = {}
        for a, b, reason in self.dropped:
            lo, hi = max(a, first), min(b, top)
            if hi >= lo:
                dropped[reason] = dropped.get(reason, 0) + hi - lo + 1
        return passed, dropped


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


def frame_record(seq: int, payload: bytes) -> bytes:
    """One spool record: checksum, sequence number, payload, newline.

    >>> parse_record(frame_record(7, b'{"a":1}')[:-1])
    (7, b'{"a":1}')

    Added in 0.1.
    """
    head = b"%016x " % seq
    return b"%08x " % zlib.crc32(payload, zlib.crc32(head)) + head + payload + b"\n"


def parse_record(line: bytes) -> tuple[int, bytes] | None:
    """``(seq, payload)`` of a record line (without its newline), or None if it fails its check.

    >>> parse_record(b"00000000 0000000000000007 {}") is None
    True

    Added in 0.1.
    """
    if len(line) < _HEADER or line[8] != 0x20 or line[25] != 0x20:
        return None
    try:
        crc = int(line[:8], 16)
        seq = int(line[9:25], 16)
    except ValueError:
        return None
    if zlib.crc32(line[9:]) != crc or seq < 0:
        return None
    return seq, line[_HEADER:]


def _seg_name(n: int) -> str:
    return f"{n:020d}{_SEG_SUFFIX}"


def _segments(slot_dir: Path) -> list[int]:
    """Segment numbers present in a slot, ascending."""
    found: list[int] = []
    try:
        names = os.listdir(slot_dir)
    except OSError:
        return found
    for name in names:
        if name.endswith(_SEG_SUFFIX) and len(name) == 20 + len(_SEG_SUFFIX):
            with contextlib.suppress(ValueError):
                found.append(int(name[:20]))
    found.sort()
    return found


def _slot_dirs(root: Path) -> dict[int, Path]:
    slots: dict[int, Path] = {}
    try:
        names = os.listdir(root)
    except OSError:
        return slots
    for name in names:
        if name.startswith("slot-"):
            with contextlib.suppress(ValueError):
                n = int(name[5:])
                if 0 <= n < _MAX_SLOTS:
                    slots[n] = root / name
    return slots


def _read_head(slot_dir: Path) -> tuple[int, int] | None:
    try:
        text = (slot_dir / "head").read_bytes()[:_HEAD_WIDTH].decode("ascii").split()
        return int(text[0]), int(text[1], 16)
    except (OSError, ValueError, IndexError, UnicodeDecodeError):
        return None


def _cursor_name(name: str) -> str:
    return f"cursor-{hashlib.sha256(name.encode()).hexdigest()[:16]}.json"


def _load_cursor(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _cursor_fields(data: Mapping[str, object] | None) -> tuple[Position, int | None, list[Drop]]:
    """Position, last passed seq and dropped ranges of a cursor file (defaults when torn)."""
    if data is None:
        return Position(-1, 0), None, []
    try:
        seg, off = data["segment"], data["offset"]
        if not isinstance(seg, int) or not isinstance(off, int) or seg < 0 or off < 0:
            raise TypeError
        pos = Position(seg, off)
    except (KeyError, TypeError):
        return Position(-1, 0), None, []
    seq = data.get("seq")
    last = seq if isinstance(seq, int) and seq >= 0 else None
    drops: list[Drop] = []
    raw = data.get("dropped")
    if isinstance(raw, list):
        drops.extend(
            Drop(-1, item[0], item[1], item[2], ())
            for item in raw
            if isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], int)
            and isinstance(item[1], int)
            and isinstance(item[2], str)
        )
    return pos, last, drops


_INDEX_KEEP: Final = 256
_INDEX_READ: Final = 64 * 1024


def _note_first_seq(slot_dir: Path, segment: int, seq: int) -> None:
    """Append ``segment first-seq`` to the slot's index (kept short), so that a consumer that
    starts in a segment without a cursor knows what seq its first record must have."""
    path = slot_dir / "index"
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, b"%d %x\n" % (segment, seq))
            big = os.fstat(fd).st_size > _INDEX_READ
        finally:
            os.close(fd)
        if big:  # rewrite with the newest entries only (writer side, rare)
            keep = sorted(_first_seqs(slot_dir).items())[-_INDEX_KEEP:]
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(b"".join(b"%d %x\n" % item for item in keep))
            os.replace(tmp, path)


def _first_seqs(slot_dir: Path) -> dict[int, int]:
    """Segment -> the seq of its first record, from the slot's index (what is readable)."""
    found: dict[int, int] = {}
    try:
        with open(slot_dir / "index", "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(size - _INDEX_READ, 0))
            data = f.read(_INDEX_READ)
    except OSError:
        return found
    for line in data.split(b"\n"):
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            with contextlib.suppress(ValueError):
                found[int(parts[0])] = int(parts[1], 16)
    return found


def _cursor_reported(data: Mapping[str, object] | None) -> int | None:
    """The seq through which a cursor's own drops were reported to its consumer."""
    value = data.get("reported") if data is not None else None
    return value if isinstance(value, int) and value >= 0 else None


def _last_seq_in(path: Path) -> int | None:
    """The highest sequence number of a good record near the end of a segment file."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            start = max(size - _TAIL_SCAN, 0)
            f.seek(start)
            data = f.read()
    except OSError:
        return None
    lines = data.split(b"\n")
    if start:
        lines = lines[1:]  # the first piece may start mid-record
    best: int | None = None
    for line in lines:
        rec = parse_record(line)
        if rec is not None and (best is None or rec[0] > best):
            best = rec[0]
    return best


OWN_ACTIONS: Final = frozenset(
    {
        "sink_unavailable",
        "sink_recovered",
        "spool_write_failed",
        "spool_recovered",
        "spool_corrupt",
        "events_dropped",
        "notification_failed",
        "notification_recovered",
        "notification_abandoned",
        "alert_engine_error",
    }
)
"""The actions of the reports bulletproof makes about its own delivery."""


def _is_own_report(payload: bytes) -> bool:
    """Whether a record is one of bulletproof's own delivery reports (not an emitted event)."""
    if b'"dataset":"bulletproof.delivery"' not in payload:
        return False  # every own report has it; most events do not: no parse
    try:
        action = json.loads(payload)["event"]["action"]
    except (ValueError, KeyError, TypeError):
        return False
    return action in OWN_ACTIONS


_fork_guard = threading.Lock()
"""Held from taking a flock to closing or keeping its fd, and by ``fork``: a child made in
between would inherit a descriptor nobody closes, and hold the lock as long as it lives (a dead
slot would look alive, or a released ``deliver.lock`` stay taken)."""
_holders: weakref.WeakSet[Spool | SpoolDirectory] = weakref.WeakSet()
"""Every writer and leading directory of this process: a forked child closes their locks'
descriptors at once, whoever made them (a pipeline, its start-up probe, a test), so that a
child never keeps a lock its parent lets go of."""


def _in_child_after_fork() -> None:
    _fork_guard.release()
    for holder in list(_holders):
        with contextlib.suppress(Exception):
            holder.abandon()
    _holders.clear()


os.register_at_fork(
    before=_fork_guard.acquire,
    after_in_parent=_fork_guard.release,
    after_in_child=_in_child_after_fork,
)


def _try_flock(path: Path) -> int | None:
    """An fd holding an exclusive flock on ``path``, or None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


# --------------------------------------------------------------------------------------------
# The writer: one slot per process
# --------------------------------------------------------------------------------------------


class Spool:
    """This process's slot of a spool directory: appends records, never deletes any.

    One writer thread calls :meth:`append` and :meth:`sync`. The segment file is created on the
    first append, so a process that never emits leaves only an empty slot. Added in 0.1.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        segment_bytes: int = 8 * 1024 * 1024,
        fsync: bool = True,
        clock: Clock = system_clock,
    ) -> None:
        if segment_bytes < 4096:
            raise SpoolError(f"spool segment size {segment_bytes} is too small: use >= 4096 bytes")
        if max_bytes < 2 * segment_bytes:
            raise SpoolError(
                f"spool max_bytes={max_bytes} must be at least twice the segment size "
                f"({segment_bytes}); raise events.spool_max_bytes"
            )
        self.root = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self._clock = clock
        self._lock = threading.RLock()
        self.listeners: list[threading.Event] = []
        """Events set after each append (delivery threads of this process wait on them)."""
        self._closed = False
        self._dirty = False
        self._torn = False
        self._fd = -1
        self._size = 0
        self._last_segment = 0
        self.lines_written = 0
        self._others = 0
        self._others_at = float("-inf")
        self.on_full: Callable[[], object] | None = None
        """Called (with the writer's lock held) when an append finds the directory over its
        bound, before refusing: the deliverer's chance to make room."""
        self._head_fd = -1
        with _fork_guard:
            self.slot, self.dir, self._lock_fd = self._take_slot()
            _holders.add(self)
        try:
            self._head_fd = os.open(self.dir / "head", os.O_RDWR | os.O_CREAT, 0o600)
            self._current, self.next_seq = self._recover()
        except OSError as exc:
            _holders.discard(self)
            if self._head_fd >= 0:
                os.close(self._head_fd)
            os.close(self._lock_fd)
            raise SpoolError(
                f"cannot use spool slot {str(self.dir)!r}: {exc.strerror}; "
                "check the permissions of events.spool_dir"
            ) from None
        self.first_seq = self.next_seq

    # -- the slot ------------------------------------------------------------------------
    def _take_slot(self) -> tuple[int, Path, int]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SpoolError(
                f"cannot create spool directory {str(self.root)!r}: {exc.strerror}; "
                "set events.spool_dir to a writable directory"
            ) from None
        for i in range(_MAX_SLOTS):
            slot = self.root / f"slot-{i}"
            try:
                slot.mkdir(exist_ok=True)
                fd = _try_flock(slot / "lock")
            except OSError as exc:
                raise SpoolError(
                    f"cannot use spool directory {str(slot)!r}: {exc.strerror}; "
                    "set events.spool_dir to a writable directory"
                ) from None
            if fd is not None:
                return i, slot, fd
        raise SpoolError(f"all {_MAX_SLOTS} slots of spool {str(self.root)!r} are in use")

    def _recover(self) -> tuple[int, int]:
        """The first segment number and sequence number this writer may use.

        Higher than any that a segment, the head file or a cursor of the slot names, so a
        consumer's saved position can never point into what this writer appends.
        """
        segments = _segments(self.dir)
        top_segment = segments[-1] if segments else 0
        top_seq = -1
        head = _read_head(self.dir)
        if head is not None:
            top_segment = max(top_segment, head[0])
            top_seq = max(top_seq, head[1])
        for path in self.dir.glob("cursor-*.json"):
            pos, seq, _ = _cursor_fields(_load_cursor(path))
            top_segment = max(top_segment, pos.segment)
            if seq is not None:
                top_seq = max(top_seq, seq)
        for n in reversed(segments[-3:]):
            last = _last_seq_in(self.dir / _seg_name(n))
            if last is not None:
                top_seq = max(top_seq, last)
                break
        self._last_segment = top_segment
        return top_segment + 1, top_seq + 1

    # -- writing -------------------------------------------------------------------------
    @property
    def current_segment(self) -> int:
        """The segment the writer appends to."""
        return self._current

    def segment_path(self, n: int) -> Path:
        """Where segment ``n`` of this slot lives."""
        return self.dir / _seg_name(n)

    def total_bytes(self) -> int:
        """Bytes held by the segments of every slot (other slots re-read at most 4 times a s)."""
        now = self._clock.monotonic()
        if now - self._others_at >= _SIZE_RESCAN:
            self._others_at = now
            total = 0
            for slot_dir in _slot_dirs(self.root).values():
                for n in _segments(slot_dir):
                    if slot_dir == self.dir and n == self._current:
                        continue
                    with contextlib.suppress(OSError):
                        total += os.stat(slot_dir / _seg_name(n)).st_size
            self._others = total
        return self._others + self._size

    def append(self, lines: Sequence[bytes]) -> None:
        """Append serialized events as records. Writer thread only.

        Empty lines are skipped (and not counted in ``written``: pass none) and a newline inside
        a line is escaped, so one item stays one record. A segment is never filled past
        ``segment_bytes`` (unless one record alone is longer).

        Raises :class:`SpoolWriteError` when a write fails: its ``written`` first items are on
        disk, whole, and none of the others is (a partial record is cut off, or left torn and
        skipped by readers), so retrying the rest never writes an event twice.
        Raises :class:`SpoolFullError` (nothing written) while the directory is over
        ``max_bytes`` by more than two segments: the deliverer has not made room yet.
        """
        with self._lock:
            if self._closed:
                raise SpoolError(f"spool {str(self.dir)!r} is closed")
            try:
                self._append_locked(lines)
            finally:
                for listener in self.listeners:
                    listener.set()

    def forget_sizes(self) -> None:
        """Re-read the other slots' sizes at the next :meth:`total_bytes` (after a deletion)."""
        self._others_at = float("-inf")

    def _check_room(self, done: int) -> None:
        """Before starting a segment: ask for room when over the bound, refuse if none came."""
        cap = self.max_bytes + 2 * self.segment_bytes
        if self.total_bytes() <= cap:
            return
        if self.on_full is not None:
            with contextlib.suppress(Exception):
                self.on_full()
            self.forget_sizes()
            if self.total_bytes() <= cap:
                return
        raise SpoolFullError(
            f"spool {str(self.root)!r} holds more than events.spool_max_bytes "
            f"({self.max_bytes} bytes) and its deliverer has not made room yet",
            written=done,
            errno_=None,
        )

    def _append_locked(self, lines: Sequence[bytes]) -> None:
        self._check_room(0)
        done = 0
        records: list[bytes] = []
        add = records.append
        crc32 = zlib.crc32
        used = self._size  # bytes in the current segment, counting the records not yet written
        limit = self.segment_bytes
        seq = self.next_seq
        for raw in lines:
            if not raw:
                continue
            line = raw.replace(b"\n", b"\\n") if b"\n" in raw else raw
            head = b"%016x " % seq  # the record, as frame_record() makes it (inlined: hot)
            rec = b"%08x " % crc32(line, crc32(head)) + head + line + b"\n"
            if used and used + len(rec) > limit:
                if records:
                    done += self._write(records, done)
                    records = []
                    add = records.append
                self._rotate()
                self._check_room(done)
                used = self._size
            add(rec)
            used += len(rec)
            seq += 1
        if records:
            self._write(records, done)

    def _write(self, records: list[bytes], done: int) -> int:
        """Write whole records to the current segment; return how many.

        On failure raise SpoolWriteError whose ``written`` is ``done`` plus the records of this
        call that are on disk whole (a torn one after them is cut off when it can be).
        """
        prefix = b"\n" if self._torn else b""
        data = prefix + b"".join(records)
        written = 0
        try:
            if self._fd < 0:
                self._open_current()
            view = memoryview(data)
            while view:
                n = _os_write(self._fd, view)
                written += n
                view = view[n:]
        except OSError as exc:
            whole = self._after_failed_write(written, len(prefix), records)
            self.next_seq += whole
            self.lines_written += whole
            if self._size:
                # Finish this segment, so the deliverer may delete it to make room.
                self._rotate()
            raise SpoolWriteError(
                f"cannot write to spool {str(self.dir)!r}: {exc.strerror or exc}; "
                "check the free space of events.spool_dir",
                written=done + whole,
                errno_=exc.errno,
            ) from None
        self._size += len(data)
        self._torn = False
        self._last_segment = self._current
        self.next_seq += len(records)
        self.lines_written += len(records)
        self._dirty = True
        return len(records)

    def _after_failed_write(self, written: int, prefix: int, records: list[bytes]) -> int:
        """Cut off the torn record of a partial write; return the whole records it left.

        The whole records stay: a reader may have read and delivered them already, so undoing
        them would send them twice (written again by the retry) and leave its cursor past the
        end of the segment.
        """
        if written <= 0:
            return 0
        boundary = prefix
        whole = 0
        for rec in records:
            if boundary + len(rec) > written:
                break
            boundary += len(rec)
            whole += 1
        try:
            _os_ftruncate(self._fd, self._size + boundary)
        except OSError:
            # The torn bytes stay: the next write's first byte, a newline, ends them, and
            # readers skip them (their seq is written again).
            self._size += written
            self._torn = written > boundary
        else:
            self._size += boundary
            self._torn = False
        if self._size:
            self._last_segment = self._current
            self._dirty = True
        return whole

    def _open_current(self) -> None:
        path = self.dir / _seg_name(self._current)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = os.fstat(self._fd).st_size
        if not self._size:
            _note_first_seq(self.dir, self._current, self.next_seq)
        if self.fsync:
            with contextlib.suppress(OSError):
                dir_fd = os.open(self.dir, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)

    def _rotate(self) -> None:
        if self._fd >= 0:
            if self.fsync:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
            self._write_head()
        if self._size:
            self._current += 1
            self._others += self._size  # a finished segment: counted until the next re-read
        self._size = 0
        self._torn = False
        self._dirty = False

    def _write_head(self) -> None:
        last = self.next_seq - 1
        if last < 0:
            return
        body = f"{self._last_segment} {last:x}\n".encode().ljust(_HEAD_WIDTH)
        with contextlib.suppress(OSError):
            os.pwrite(self._head_fd, body, 0)

    def sync(self) -> None:
        """Make appended records durable (fsync, when enabled) and record them in ``head``."""
        with self._lock:
            if not self._dirty or self._closed:
                return
            if self.fsync and self._fd >= 0:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
            self._write_head()
            self._dirty = False

    # -- receipts ------------------------------------------------------------------------
    def receipt(self, consumer: str) -> Receipt:
        """What ``consumer`` has passed in this slot, read from its cursor file."""
        _, seq, drops = _cursor_fields(_load_cursor(self.dir / _cursor_name(consumer)))
        return Receipt(seq, tuple((d.first, d.last, d.reason) for d in drops))

    # -- the end -------------------------------------------------------------------------
    def close(self) -> None:
        """Sync and release the slot."""
        with self._lock:
            if self._closed:
                return
            self.sync()
            with _fork_guard:  # a child forked meanwhile must not close reused fd numbers
                self._closed = True
                if self._fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(self._fd)
                self._write_head()
                with contextlib.suppress(OSError):
                    os.close(self._head_fd)
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)
                self._fd = self._head_fd = self._lock_fd = -1
                _holders.discard(self)
            for listener in self.listeners:
                listener.set()

    def abandon(self) -> None:
        """In a forked child: drop the parent's slot without touching its files or locks.

        Closing the inherited descriptors releases nothing (the parent still holds them).
        """
        if self._closed:
            return  # closed before the fork: its descriptor numbers may name other files now
        self._closed = True
        for fd in (self._fd, self._head_fd, self._lock_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fd = self._head_fd = self._lock_fd = -1

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed


# --------------------------------------------------------------------------------------------
# The deliverer: every slot, for each consumer
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _SlotState:
    """One consumer's place in one slot."""

    slot: int
    dir: Path
    cursor_path: Path
    committed: Position
    committed_seq: int | None
    read_pos: Position
    read_seq: int | None
    dropped: list[Drop]
    reported: int | None = None
    saved: tuple[Position, int | None, int, int | None] | None = None
    fd: int = -1
    fd_segment: int = -1
    where: list[tuple[str, int, int]] = field(default_factory=list)
    end_checked: tuple[int, int] | None = None

    def close_fd(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = -1
        self.fd_segment = -1


class SpoolDirectory:
    """The delivering process's view of a spool directory: all slots, every consumer.

    :meth:`lead` takes ``deliver.lock``; only the holder may read, commit and delete. ``on_drop``
    is called (with the directory's lock held: only count there) for each :class:`Drop` a
    consumer commits, with the consumer's name; ``on_unreported`` for each dropped range a
    cursor holds that was never reported to its consumer (a deliverer died first): owe it again,
    and call :meth:`SpoolConsumer.mark_reported` once the consumer confirmed the report.

    Added in 0.1.
    """

    def __init__(
        self,
        root: Path,
        *,
        local: Spool | None = None,
        on_drop: Callable[[str, Drop], None] | None = None,
        on_unreported: Callable[[str, Drop], None] | None = None,
        max_record_bytes: int = 64 * 1024,
        clock: Clock = system_clock,
    ) -> None:
        self.root = Path(root)
        self.local = local
        self._on_drop = on_drop
        self._on_unreported = on_unreported
        # A run of bytes this long without a newline can be no record (records are bounded by
        # the event bound): it is skipped as damage.
        self.scan_limit = max(_SCAN_LIMIT, 2 * max_record_bytes + 2 * _HEADER)
        self._clock = clock
        self._lock = threading.RLock()
        self._consumers: dict[str, SpoolConsumer] = {}
        self._lead_fd = -1
        self._slots: dict[int, Path] = {}
        self._slots_at = float("-inf")
        self._alive: dict[int, tuple[float, bool]] = {}  # slot -> (checked at, True)

    # -- leadership ----------------------------------------------------------------------
    def lead(self) -> bool:
        """Try to become the deliverer (non-blocking); True when this process is."""
        if self._lead_fd >= 0:
            return True
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with _fork_guard:
                fd = _try_flock(self.root / "deliver.lock")
                if fd is not None:
                    self._lead_fd = fd
                    _holders.add(self)
        except OSError:
            return False
        return fd is not None

    @property
    def leading(self) -> bool:
        """Whether this process holds ``deliver.lock``."""
        return self._lead_fd >= 0

    def release(self) -> None:
        """Save every cursor, close every file and give up ``deliver.lock``."""
        with self._lock:
            for consumer in self._consumers.values():
                for st in consumer._states.values():
                    consumer._save(st)
                    st.close_fd()
            with _fork_guard:
                if self._lead_fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(self._lead_fd)
                    self._lead_fd = -1
                _holders.discard(self)

    def abandon(self) -> None:
        """In a forked child: forget the parent's leadership and files without releasing them."""
        for consumer in self._consumers.values():
            for st in consumer._states.values():
                st.close_fd()
        if self._lead_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lead_fd)
            self._lead_fd = -1

    # -- slots ---------------------------------------------------------------------------
    def slots(self) -> dict[int, Path]:
        """The slot directories (re-listed at most twice a second)."""
        now = self._clock.monotonic()
        if now - self._slots_at >= _SLOT_RESCAN:
            self._slots = _slot_dirs(self.root)
            self._slots_at = now
        return self._slots

    def alive(self, slot: int, slot_dir: Path) -> bool:
        """Whether a process holds the slot's lock (its last segment may still grow)."""
        local = self.local
        if local is not None and not local.closed and local.slot == slot:
            return True
        now = self._clock.monotonic()
        cached = self._alive.get(slot)
        if cached is not None and now - cached[0] < _LIVENESS_TTL:
            return True  # only "alive" is remembered: a dead slot may be taken again any time
        try:
            with _fork_guard:
                fd = _try_flock(slot_dir / "lock")
                if fd is not None:
                    os.close(fd)  # closing releases the test lock at once
        except OSError:
            alive = True  # cannot tell: assume its writer may still append
        else:
            alive = fd is None
        if alive:
            self._alive[slot] = (now, True)
        else:
            self._alive.pop(slot, None)
        return alive

    # -- consumers -----------------------------------------------------------------------
    def consumer(self, name: str) -> SpoolConsumer:
        """The consumer ``name``, resuming in every slot from its saved cursor."""
        with self._lock:
            found = self._consumers.get(name)
            if found is None:
                found = self._consumers[name] = SpoolConsumer(self, name)
            return found

    def forget_other_consumers(self) -> list[str]:
        """Remove the cursor files of consumers this process does not deliver to."""
        removed: list[str] = []
        with self._lock:
            known = {_cursor_name(name) for name in self._consumers}
            for slot_dir in _slot_dirs(self.root).values():
                for path in sorted(slot_dir.glob("cursor-*.json")):
                    if path.name in known:
                        continue
                    data = _load_cursor(path)
                    label = data.get("name") if data else None
                    text = label if isinstance(label, str) else path.name
                    try:
                        path.unlink(missing_ok=True)
                    except OSError as exc:
                        logger.warning("bulletproof: cannot remove stale cursor %s: %s", path, exc)
                        continue
                    if text not in removed:
                        removed.append(text)
        return removed

    # -- deleting ------------------------------------------------------------------------
    def collect(self, slot: int | None = None) -> None:
        """Delete segments every consumer has passed (in one slot, or in all)."""
        with self._lock:
            if not self._consumers or not self.leading:
                return
            slots = self.slots()
            targets = [slot] if slot is not None else list(slots)
            for n in targets:
                slot_dir = slots.get(n)
                if slot_dir is None:
                    continue
                self._collect_slot(n, slot_dir)

    def _collect_slot(self, slot: int, slot_dir: Path) -> None:
        states = [c._state(slot, slot_dir) for c in self._consumers.values()]
        low = min(st.committed for st in states)
        segments = _segments(slot_dir)
        for seg in segments:
            if seg < low.segment:
                self._delete(slot_dir, seg, states)
        if segments and low.segment == segments[-1] and not self.alive(slot, slot_dir):
            # The last segment of a slot whose writer is gone: delete once everyone read it all.
            path = slot_dir / _seg_name(low.segment)
            try:
                size = os.stat(path).st_size
            except OSError:
                return
            if low.offset >= size:
                self._delete(slot_dir, low.segment, states)

    def _delete(self, slot_dir: Path, seg: int, states: Sequence[_SlotState]) -> None:
        for st in states:
            if st.fd_segment == seg:
                st.close_fd()
        try:
            (slot_dir / _seg_name(seg)).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # another owner, a read-only disk: leave it, say so, go on
            logger.warning("bulletproof: cannot delete spool segment %s: %s", slot_dir, exc)

    def make_room(self, max_bytes: int, *, min_free: int = 0) -> int:
        """Delete whole segments, oldest first, until the directory holds at most ``max_bytes``
        and its filesystem has at least ``min_free`` bytes free. Returns bytes deleted.

        Only each slot's lowest segment is a candidate (so no slot ever loses a segment before
        an older one of its own), the slots taking turns by the age of that segment; only
        finished segments go (one a writer still appends to stays), and never one that a
        consumer has sent part of and not had confirmed: that waits for the next call. Every
        record a consumer had not passed is committed as a ``spool_full`` :class:`Drop`.
        """
        freed = 0
        with self._lock:
            if not self._consumers or not self.leading:
                return 0
            plan: dict[int, tuple[Path, list[tuple[int, float, int]]]] = {}
            total = 0
            for slot, slot_dir in self.slots().items():
                files: list[tuple[int, float, int]] = []
                for seg in _segments(slot_dir):
                    try:
                        info = os.stat(slot_dir / _seg_name(seg))
                    except OSError:
                        continue
                    total += info.st_size
                    files.append((seg, info.st_mtime, info.st_size))
                if files and self.alive(slot, slot_dir):
                    files.pop()  # the segment its writer appends to
                if files:
                    plan[slot] = (slot_dir, files)
            need = total - max_bytes
            if min_free > 0:
                with contextlib.suppress(OSError):
                    vfs = os.statvfs(self.root)
                    need = max(need, min_free - vfs.f_bavail * vfs.f_frsize)
            while freed < need and plan:
                slot = min(plan, key=lambda n: plan[n][1][0][1])  # the oldest lowest segment
                slot_dir, files = plan[slot]
                seg, _mtime, size = files.pop(0)
                if not files:
                    del plan[slot]
                states = [c._state(slot, slot_dir) for c in self._consumers.values()]
                if any(st.read_pos > st.committed and st.committed.segment <= seg for st in states):
                    break  # in flight: keep oldest-first, try again on the next call
                self._drop_segment(slot, slot_dir, seg, states)
                freed += size
        return freed

    def _drop_segment(self, slot: int, slot_dir: Path, seg: int, states: list[_SlotState]) -> None:
        path = slot_dir / _seg_name(seg)
        records: list[tuple[int, int, bool]] = []  # (end offset, seq, one of our own reports)
        reports: list[tuple[int, bytes]] = []  # (end offset, payload) of events_dropped
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        start = 0
        while True:
            nl = data.find(b"\n", start)
            if nl < 0:
                break
            rec = parse_record(data[start:nl])
            if rec is not None:
                is_own = _is_own_report(rec[1])
                records.append((nl + 1, rec[0], is_own))
                if is_own and b'"events_dropped"' in rec[1]:
                    reports.append((nl + 1, rec[1]))
            start = nl + 1
        nxt = next((n for n in _segments(slot_dir) if n > seg), None)
        after = Position(nxt, 0) if nxt is not None else Position(seg + 1, 0)
        saved: list[tuple[SpoolConsumer, _SlotState]] = []
        for consumer, st in zip(self._consumers.values(), states, strict=True):
            if st.committed >= after:
                continue
            skip = st.committed.offset if st.committed.segment == seg else 0
            left = [s for end, s, _ in records if end > skip]
            own = sum(1 for end, _, mine in records if end > skip and mine)
            unread = tuple(payload for end, payload in reports if end > skip)
            if left:
                first = min(left)
                seen = st.committed_seq
                if seen is not None and seen + 1 < first:
                    first = seen + 1  # records missing between the commit point and ``left``
                drop = Drop(
                    slot, first, max(left), "spool_full", ((str(path), 0, len(data)),), unread, own
                )
                consumer._record_drop(st, drop)
                st.committed_seq = drop.last if seen is None else max(seen, drop.last)
            st.committed = after
            st.read_pos = after
            st.read_seq = st.committed_seq
            st.where.clear()
            saved.append((consumer, st))
        # Cursors first, then the segment: dying between the two leaves a consumer past a
        # segment still on disk (deleted later), never before a hole. A full disk may refuse
        # the cursors; then the segment goes anyway (the room is needed) and they are saved again.
        failed = [(c, st) for c, st in saved if not c._save(st)]
        self._delete(slot_dir, seg, states)
        for consumer, st in failed:
            consumer._save(st)


class SpoolConsumer:
    """One consumer (sink) reading every slot of a directory: read ahead, commit what was
    delivered, rewind on failure. Only the deliverer uses it. Added in 0.1.
    """

    def __init__(self, directory: SpoolDirectory, name: str) -> None:
        self.directory = directory
        self.name = name
        self._cursor = _cursor_name(name)
        self._states: dict[int, _SlotState] = {}
        self._turn = 0
        self.dropped = 0

    def _state(self, slot: int, slot_dir: Path) -> _SlotState:
        st = self._states.get(slot)
        if st is not None and st.dir == slot_dir:
            return st
        cursor = slot_dir / self._cursor
        data = _load_cursor(cursor)
        pos, seq, drops = _cursor_fields(data)
        segments = _segments(slot_dir)
        oldest = Position(segments[0], 0) if segments else Position(0, 0)
        if pos.segment < 0 or not self._valid(slot_dir, pos, segments):
            # No cursor, or a torn one: from the oldest segment (duplicates, never loss), whose
            # first record's seq the index knows, so damage right at its start is counted too.
            pos, seq = oldest, None
            first = _first_seqs(slot_dir).get(oldest.segment) if segments else None
            if first is not None:
                seq = first - 1  # -1 before a slot's very first record: "passed nothing"
        pos = max(pos, oldest) if pos.segment < oldest.segment else pos
        st = _SlotState(
            slot=slot,
            dir=slot_dir,
            cursor_path=cursor,
            committed=pos,
            committed_seq=seq,
            read_pos=pos,
            read_seq=seq,
            dropped=[Drop(slot, d.first, d.last, d.reason, ()) for d in drops],
            reported=_cursor_reported(data),
        )
        st.saved = (pos, seq, len(st.dropped), st.reported)
        self._states[slot] = st
        owe = self.directory._on_unreported
        if owe is not None:
            done = -1 if st.reported is None else st.reported
            for drop in st.dropped:
                if drop.last > done:
                    with contextlib.suppress(Exception):
                        owe(
                            self.name,
                            Drop(slot, max(drop.first, done + 1), drop.last, drop.reason, ()),
                        )
        return st

    @staticmethod
    def _valid(slot_dir: Path, pos: Position, segments: list[int]) -> bool:
        if pos.offset == 0 or pos.segment not in segments:
            return True  # offset 0 is a record start; a deleted segment is stepped over
        try:
            with open(slot_dir / _seg_name(pos.segment), "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if pos.offset > size:
                    return False
                f.seek(pos.offset - 1)
                return f.read(1) == b"\n"
        except OSError:
            return False

    # -- reading -------------------------------------------------------------------------
    def read(self, max_lines: int = 1000, max_bytes: int = 1 << 20) -> ReadBatch:
        """Up to ``max_lines`` records from one slot (the slots take turns); empty when caught
        up everywhere. A single record longer than ``max_bytes`` is still returned (alone)."""
        d = self.directory
        with d._lock:
            if not d.leading:
                return ReadBatch([], [])
            slots = d.slots()
            order = sorted(slots)
            if not order:
                return ReadBatch([], [])
            start = self._turn % len(order)
            for i in range(len(order)):
                slot = order[(start + i) % len(order)]
                st = self._state(slot, slots[slot])
                batch = self._read_slot(st, max_lines, max_bytes)
                if batch.lines:
                    self._turn = start + i + 1
                    return batch
            return ReadBatch([], [])

    def _open(self, st: _SlotState, seg: int) -> bool:
        """Open segment ``seg``: False when it does not exist; other errors (too many open
        files, I/O) raise, and the caller tries again later rather than step over it."""
        if st.fd_segment == seg and st.fd >= 0:
            return True
        st.close_fd()
        try:
            st.fd = _os_open(st.dir / _seg_name(seg), os.O_RDONLY)
        except FileNotFoundError:
            return False
        st.fd_segment = seg
        return True

    def _read_slot(self, st: _SlotState, max_lines: int, max_bytes: int) -> ReadBatch:
        lines: list[bytes] = []
        ends: list[Mark] = []
        for _ in range(10_000):  # segments stepped over in one call (bounded work)
            pos = st.read_pos
            try:
                opened = self._open(st, pos.segment)
            except OSError as exc:
                logger.warning("bulletproof: cannot open a spool segment in %s: %s", st.dir, exc)
                break
            if not opened:
                # Deleted (delivered, dropped, or by someone else: seq numbers will tell).
                nxt = self._next_segment(st, pos.segment)
                if nxt is None:
                    break
                st.read_pos = Position(nxt, 0)
                continue
            try:
                size = os.fstat(st.fd).st_size
            except OSError:
                st.close_fd()
                break
            if pos.offset >= size:
                nxt = self._next_segment(st, pos.segment)
                if nxt is None:
                    self._check_end(st, pos, size)
                    break
                if self._grew(st, size):
                    continue  # written to and finished since the size was taken: read the rest
                if pos.offset > size or size == 0:
                    # Cut short under us, or emptied: writers never leave an empty segment.
                    st.where.append((str(st.dir / _seg_name(pos.segment)), size, 0))
                st.read_pos = Position(nxt, 0)
                continue
            chunk = self._chunk(st, pos, size, max_bytes)
            if chunk is None:
                break
            last_nl = chunk.rfind(b"\n")
            if last_nl < 0:
                finished = self._next_segment(st, pos.segment) is not None or not (
                    self.directory.alive(st.slot, st.dir)
                )
                if finished and self._grew(st, size):
                    continue  # the write was finished since the chunk was read: read it again
                if finished or len(chunk) >= self.directory.scan_limit:
                    # A torn tail, or bytes that can be no record: skip them.
                    st.where.append((str(st.dir / _seg_name(pos.segment)), pos.offset, len(chunk)))
                    st.read_pos = Position(pos.segment, pos.offset + len(chunk))
                    continue
                break  # a record still being written
            self._parse(st, chunk, last_nl, pos, lines, ends, max_lines)
            if lines:
                break
        return ReadBatch(lines, ends)

    @staticmethod
    def _grew(st: _SlotState, seen: int) -> bool:
        """Whether the open segment is now longer than the ``seen`` bytes (its size before).

        A segment is finished once the next one exists (or its writer is gone), but what was
        read of it came before that was seen: the writer may have finished a record and moved
        on in between. Asked again after the fact, so that such a record is read, not taken for
        a torn tail or stepped over.
        """
        try:
            return os.fstat(st.fd).st_size > seen
        except OSError:
            return False

    def _chunk(self, st: _SlotState, pos: Position, size: int, max_bytes: int) -> bytes | None:
        """Bytes from ``pos``: up to ``max_bytes``, or on to the first newline (bounded)."""
        left = size - pos.offset
        try:
            chunk = os.pread(st.fd, min(max_bytes, left), pos.offset)
            while b"\n" not in chunk and len(chunk) < min(left, self.directory.scan_limit):
                want = min(max(len(chunk), 4096), left - len(chunk))
                more = os.pread(st.fd, want, pos.offset + len(chunk))
                if not more:
                    break
                chunk += more
        except OSError:
            st.close_fd()
            return None
        return chunk

    def _parse(
        self,
        st: _SlotState,
        chunk: bytes,
        last_nl: int,
        pos: Position,
        lines: list[bytes],
        ends: list[Mark],
        max_lines: int,
    ) -> None:
        """Take the good records of ``chunk`` (up to its last newline); note the bad bytes.

        The hot loop of delivery: the checks of :func:`parse_record`, inlined.
        """
        start = 0
        offset = pos.offset
        seg = pos.segment
        slot = st.slot
        bad_from = -1
        find = chunk.find
        view = memoryview(chunk)
        crc32 = zlib.crc32
        add_line, add_end = lines.append, ends.append
        room = max_lines - len(lines)
        while start <= last_nl and room > 0:
            nl = find(b"\n", start)
            seq = -1
            if nl - start >= _HEADER and chunk[start + 8] == 0x20 and chunk[start + 25] == 0x20:
                try:
                    if crc32(view[start + 9 : nl]) == int(chunk[start : start + 8], 16):
                        seq = int(chunk[start + 9 : start + 25], 16)
                except ValueError:
                    seq = -1
            if seq < 0:
                # An empty line only ends a torn record (the torn bytes are the region).
                if nl > start and bad_from < 0:
                    bad_from = start
            else:
                if bad_from >= 0:
                    st.where.append(
                        (str(st.dir / _seg_name(seg)), offset + bad_from, start - bad_from)
                    )
                    bad_from = -1
                read_seq = st.read_seq
                loss = (
                    self._loss(st, seq, seg, offset + start)
                    if st.where or read_seq is None or seq != read_seq + 1
                    else None
                )
                st.read_seq = seq
                add_line(chunk[start + _HEADER : nl])
                add_end(Mark(slot, seg, offset + nl + 1, seq, loss))
                room -= 1
            start = nl + 1
        if bad_from >= 0:
            st.where.append((str(st.dir / _seg_name(seg)), offset + bad_from, start - bad_from))
        st.read_pos = Position(seg, offset + start)

    def _loss(self, st: _SlotState, seq: int, seg: int, offset: int) -> Drop | None:
        """The loss the record ``seq`` reveals: the seq numbers skipped since the last one."""
        expected = None if st.read_seq is None else st.read_seq + 1
        where = tuple(st.where)
        st.where.clear()
        if expected is not None and seq > expected:
            if not where:
                where = ((str(st.dir / _seg_name(seg)), offset, 0),)
            return Drop(st.slot, expected, seq - 1, "corrupt", where)
        if where:
            return Drop(st.slot, 0, -1, "corrupt", where)
        return None

    def _next_segment(self, st: _SlotState, seg: int) -> int | None:
        return next((n for n in _segments(st.dir) if n > seg), None)

    def _check_end(self, st: _SlotState, pos: Position, size: int) -> None:
        """At the end of a slot whose writer is gone: count records its head names but the
        segments lack (a truncated or deleted tail). Only with nothing in flight."""
        if st.read_seq != st.committed_seq:
            return  # records in flight: checked once they are confirmed
        if st.read_pos > st.committed:
            # Only damaged bytes were stepped over since the last commit: nothing to wait for.
            st.committed = st.read_pos
            self._save(st)
        if st.end_checked == (pos.segment, size):
            return
        d = self.directory
        if d.alive(st.slot, st.dir) or self._grew(st, size):
            return  # still writing, or wrote more before it went: read that first
        head = _read_head(st.dir)
        if self._next_segment(st, pos.segment) is not None:
            # The writer moved on to a new segment (and may have died) since the reader found
            # none: the head may name records there. A segment is made before any head names
            # its records, so looking after reading the head cannot miss it.
            return
        st.end_checked = (pos.segment, size)
        where = tuple(st.where)
        st.where.clear()
        last = st.committed_seq
        if head is not None and last is not None and head[1] > last:
            drop = Drop(st.slot, last + 1, head[1], "corrupt", where)
        elif where:
            drop = Drop(st.slot, 0, -1, "corrupt", where)
        else:
            return
        self._record_drop(st, drop)
        if drop.lost:
            st.committed_seq = st.read_seq = drop.last
        self._save(st)

    # -- committing ----------------------------------------------------------------------
    def commit(self, marks: Sequence[Mark]) -> None:
        """Everything up to and including these marks was delivered (or is counted dropped).

        Per slot, its losses and its new position are recorded together; segments are deleted
        only once every slot is committed. Nothing happens once this process stopped delivering.
        """
        d = self.directory
        last: dict[int, Mark] = {}
        losses: dict[int, list[Mark]] = {}
        for mark in marks:  # the hot part: no lock, no objects but for losses
            last[mark.slot] = mark
            if mark.loss is not None:
                losses.setdefault(mark.slot, []).append(mark)
        with d._lock:
            if not d.leading:
                return  # another process delivers now: it resends from the saved cursors
            touched: list[int] = []
            for slot, mark in last.items():
                st = self._states.get(slot)
                if st is None:
                    continue
                position = Position(mark.segment, mark.offset)
                if position <= st.committed:
                    continue
                for lost in losses.get(slot, ()):
                    if lost.loss is not None and Position(lost.segment, lost.offset) > st.committed:
                        self._record_drop(st, lost.loss)
                st.committed = position
                st.committed_seq = mark.seq
                if st.read_pos < position:
                    st.read_pos = position
                    st.read_seq = mark.seq
                self._save(st)
                touched.append(slot)
            for slot in touched:
                d.collect(slot)

    def mark_reported(self, slot: int, seq: int) -> None:
        """This consumer confirmed the report of its drops in ``slot`` up to ``seq``."""
        d = self.directory
        with d._lock:
            st = self._states.get(slot)
            if st is None or not d.leading:
                return
            if st.reported is None or seq > st.reported:
                st.reported = seq
                self._save(st)

    def _record_drop(self, st: _SlotState, drop: Drop) -> None:
        if drop.lost:
            ranges = st.dropped
            if ranges and ranges[-1].reason == drop.reason and ranges[-1].last + 1 == drop.first:
                prev = ranges[-1]
                ranges[-1] = Drop(st.slot, prev.first, drop.last, drop.reason, ())
            else:
                ranges.append(Drop(st.slot, drop.first, drop.last, drop.reason, ()))
            del ranges[:-_MAX_DROP_RANGES]
            self.dropped += drop.lost
        callback = self.directory._on_drop
        if callback is not None:
            with contextlib.suppress(Exception):
                callback(self.name, drop)

    def rewind(self) -> None:
        """Read again from the last committed positions (after a delivery failure)."""
        with self.directory._lock:
            for st in self._states.values():
                st.read_pos = st.committed
                st.read_seq = st.committed_seq
                st.where.clear()

    def _save(self, st: _SlotState) -> bool:
        """Write the cursor file; False when it could not be written (the next save retries)."""
        if not self.directory.leading:
            return False
        key = (st.committed, st.committed_seq, len(st.dropped), st.reported)
        if key == st.saved:
            return True
        body = {
            "name": self.name,
            "segment": st.committed.segment,
            "offset": st.committed.offset,
            "seq": st.committed_seq,
            "dropped": [[r.first, r.last, r.reason] for r in st.dropped],
            "reported": st.reported,
        }
        text = json.dumps(body, separators=(",", ":")).encode()
        tmp = st.cursor_path.with_suffix(f".{os.getpid()}.tmp")
        try:
            tmp.write_bytes(text)
            os.replace(tmp, st.cursor_path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            # A full disk refuses a new file: rewrite the old one in place (no new block for a
            # file this small; padded with spaces, which JSON ignores). Else the next commit
            # tries again, and a restart may send duplicates.
            if not _rewrite_in_place(st.cursor_path, text):
                return False
        st.saved = key
        return True

    # -- figures -------------------------------------------------------------------------
    def receipt(self, slot: int) -> Receipt:
        """What this consumer has passed in ``slot`` (from memory)."""
        with self.directory._lock:
            st = self._states.get(slot)
            if st is None:
                return Receipt(None)
            return Receipt(st.committed_seq, tuple((d.first, d.last, d.reason) for d in st.dropped))

    def caught_up(self, *, live: bool = True) -> bool:
        """Whether every record of every slot was passed (committed).

        ``live=False`` leaves out slots that another live process writes: their writer is
        still there to see them delivered by whoever delivers next.
        """
        d = self.directory
        local = d.local
        with d._lock:
            for slot, slot_dir in d.slots().items():
                if not live and (local is None or slot != local.slot) and d.alive(slot, slot_dir):
                    continue
                st = self._state(slot, slot_dir)
                if st.read_pos > st.committed:
                    return False
                pos = st.committed
                for n in _segments(slot_dir):
                    if n >= pos.segment and self._size(slot_dir, n) > (
                        pos.offset if n == pos.segment else 0
                    ):
                        return False
            return True

    @staticmethod
    def _size(slot_dir: Path, seg: int) -> int:
        try:
            return os.stat(slot_dir / _seg_name(seg)).st_size
        except OSError:
            return 0

    def backlog(self) -> int:
        """Records not yet passed, in all slots (counts lines on disk; not for hot paths)."""
        d = self.directory
        with d._lock:
            plan = [
                (slot_dir, self._state(slot, slot_dir).committed)
                for slot, slot_dir in d.slots().items()
            ]
        count = 0
        for slot_dir, pos in plan:
            for n in _segments(slot_dir):
                if n < pos.segment:
                    continue
                count += _count_lines(
                    slot_dir / _seg_name(n), pos.offset if n == pos.segment else 0
                )
        return count


def _rewrite_in_place(path: Path, text: bytes) -> bool:
    """Overwrite a small existing file with ``text``, padding to its old size; no new file."""
    try:
        fd = os.open(path, os.O_WRONLY)
    except OSError:
        return False
    try:
        old = os.fstat(fd).st_size
        os.pwrite(fd, text.ljust(old), 0)
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _count_lines(path: Path, start: int) -> int:
    count = 0
    with contextlib.suppress(OSError), open(path, "rb") as f:
        f.seek(start)
        while block := f.read(1 << 20):
            count += block.count(b"\n")
    return count
