"""A disk-backed, bounded, at-least-once queue between the emitter and each sink.

Layout of a spool directory::

    DIR/slot-0/lock                       flock held by the process using this slot
    DIR/slot-0/00000000000000000001.seg   JSON lines, appended by the writer, read by consumers
    DIR/slot-0/cursor-<hash>.json         each consumer's committed position (segment, offset)

One process owns one slot; a second process on the same DIR takes the next free slot, so several
workers of one server can share a spool directory, and a restarted worker picks its slot (and what
was left in it) up again. Segments are deleted once every consumer has committed past them. When
the spool holds more than ``max_bytes``, the oldest segments are dropped and each consumer that had
not read them is told how many lines it lost (``on_drop``), so the pipeline can say so in an
``events_dropped`` event. On disk the spool never holds more than ``max_bytes`` plus the segment
being written (at most ``segment_bytes``, or one line when a single line is longer).

A process that dies in the middle of a write leaves a torn last line; the next process to take
the slot cuts it off (the complete lines before it are kept). A cursor file that cannot be read,
or that points past the data, makes its consumer start again from the oldest segment: duplicates,
never loss.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, NamedTuple

from bulletproof.errors import SpoolError

__all__ = ["Position", "ReadBatch", "Spool", "SpoolReader"]

_SEG_SUFFIX: Final = ".seg"
_MAX_SLOTS: Final = 256
_TAIL_BLOCK: Final = 1 << 16


class Position(NamedTuple):
    """A place in the spool: the segment number and a byte offset in it. Added in 0.1."""

    segment: int
    offset: int


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """Lines read for one consumer, and the position just after each. Added in 0.1."""

    lines: list[bytes]
    ends: list[Position]


def _seg_name(n: int) -> str:
    return f"{n:020d}{_SEG_SUFFIX}"


def _complete_length(path: Path, size: int) -> int:
    """The length of ``path`` up to and including its last newline (0 when it has none)."""
    with open(path, "rb") as f:
        end = size
        while end > 0:
            start = max(end - _TAIL_BLOCK, 0)
            f.seek(start)
            block = f.read(end - start)
            nl = block.rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            end = start
    return 0


class Spool:
    """The on-disk queue. One writer thread appends; each consumer has a :class:`SpoolReader`.

    Added in 0.1.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int = 256 * 1024 * 1024,
        segment_bytes: int = 8 * 1024 * 1024,
        fsync: bool = True,
        on_drop: Callable[[str, int], None] | None = None,
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
        self._on_drop = on_drop
        self._lock = threading.RLock()
        self.new_data = threading.Condition(self._lock)
        self._readers: dict[str, SpoolReader] = {}
        self._lock_fd = -1
        self._closed = False
        self._dirty = False
        self.lines_written = 0
        self.dir = self._acquire_slot()
        try:
            self._sizes: dict[int, int] = self._scan_segments()
            # Never reuse a segment number a cursor may still name (the directory may be empty
            # after every segment was delivered and deleted).
            self._current = max(max(self._sizes, default=0), self._max_cursor_segment()) + 1
            self._fd = self._open_segment(self._current)
        except BaseException:
            os.close(self._lock_fd)
            raise

    # -- slots -----------------------------------------------------------------------------
    def _acquire_slot(self) -> Path:
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
                fd = os.open(slot / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise SpoolError(
                    f"cannot use spool directory {str(slot)!r}: {exc.strerror}; "
                    "set events.spool_dir to a writable directory"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self._lock_fd = fd
            return slot
        raise SpoolError(f"all {_MAX_SLOTS} slots of spool {str(self.root)!r} are in use")

    def _scan_segments(self) -> dict[int, int]:
        """Sizes of the segments left in this slot, with any torn last line cut off."""
        sizes: dict[int, int] = {}
        for path in self.dir.glob(f"*{_SEG_SUFFIX}"):
            try:
                n = int(path.stem)
                size = path.stat().st_size
                if size:
                    complete = _complete_length(path, size)
                    if complete != size:
                        # The process that wrote it died mid-line: keep the complete lines.
                        os.truncate(path, complete)
                        size = complete
            except ValueError:
                continue
            except OSError as exc:
                raise SpoolError(
                    f"cannot read spool segment {str(path)!r}: {exc.strerror}; "
                    "check the permissions of events.spool_dir"
                ) from None
            sizes[n] = size
        return sizes

    def _max_cursor_segment(self) -> int:
        highest = 0
        for path in self.dir.glob("cursor-*.json"):
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                highest = max(highest, int(json.loads(path.read_text())["segment"]))
        return highest

    def _open_segment(self, n: int) -> int:
        path = self.dir / _seg_name(n)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        except OSError as exc:
            raise SpoolError(
                f"cannot create spool segment {str(path)!r}: {exc.strerror}; "
                "check the permissions and free space of events.spool_dir"
            ) from None
        if self.fsync:
            # Make the new file's name durable too (best effort: the data is fsynced anyway).
            with contextlib.suppress(OSError):
                dir_fd = os.open(self.dir, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        self._sizes.setdefault(n, 0)
        return fd

    # -- writer side -----------------------------------------------------------------------
    @property
    def current_segment(self) -> int:
        """The segment the writer appends to."""
        return self._current

    def append(self, lines: list[bytes]) -> None:
        """Append serialized events. Writer thread only.

        Empty lines are skipped and a newline inside a line is escaped, so one item stays one
        line. A segment is never filled past ``segment_bytes`` (unless one line alone is longer):
        a batch that does not fit continues in the next segment. Raises SpoolError when a write
        fails; the lines of that write are then not in the spool (those before it are).
        """
        with self._lock:
            if self._closed:
                raise SpoolError(f"spool {str(self.dir)!r} is closed")
            pending: list[bytes] = []
            pending_bytes = 0
            try:
                for raw in lines:
                    if not raw:
                        continue
                    line = raw.replace(b"\n", b"\\n") if b"\n" in raw else raw
                    n = len(line) + 1
                    used = self._sizes[self._current] + pending_bytes
                    if used and used + n > self.segment_bytes:
                        if pending:
                            self._write(pending)
                            pending, pending_bytes = [], 0
                        self._rotate()
                    pending.append(line)
                    pending_bytes += n
                if pending:
                    self._write(pending)
            finally:
                self.new_data.notify_all()

    def _write(self, lines: list[bytes]) -> None:
        """Write whole lines to the current segment, then apply the size limit. Lock held."""
        data = b"\n".join(lines) + b"\n"
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            if len(view) != len(data):
                # Part of the batch is on disk: cut it off so no torn line stays in the middle.
                try:
                    os.ftruncate(self._fd, self._sizes[self._current])
                except OSError:
                    # Keep the torn tail at the end of this segment (readers skip it there).
                    with contextlib.suppress(OSError):
                        self._sizes[self._current] = os.fstat(self._fd).st_size
                    self._rotate()
            raise SpoolError(
                f"cannot write to spool {str(self.dir)!r}: {exc.strerror}; "
                "check the free space of events.spool_dir"
            ) from None
        self._sizes[self._current] += len(data)
        self.lines_written += len(lines)
        self._dirty = True
        if self.total_bytes() > self.max_bytes:
            self._enforce_limit()

    def sync(self) -> None:
        """Make appended data durable (fsync) if the spool was built with ``fsync=True``."""
        with self._lock:
            if self._dirty and self.fsync and not self._closed:
                os.fsync(self._fd)
            self._dirty = False

    def _rotate(self) -> None:
        if self.fsync:
            with contextlib.suppress(OSError):
                os.fsync(self._fd)
        fd = self._open_segment(self._current + 1)
        os.close(self._fd)
        self._fd = fd
        self._current += 1
        self._dirty = False

    def total_bytes(self) -> int:
        """Bytes held on disk by all segments."""
        return sum(self._sizes.values())

    def _enforce_limit(self) -> None:
        # Drop whole segments, oldest first, never the one being written.
        while self.total_bytes() > self.max_bytes:
            oldest = min(self._sizes)
            if oldest >= self._current:
                return
            for reader in self._readers.values():
                lost = reader._drop_segment(oldest)
                if lost and self._on_drop is not None:
                    with contextlib.suppress(Exception):
                        self._on_drop(reader.name, lost)
            self._delete_segment(oldest)

    def _delete_segment(self, n: int) -> None:
        self._sizes.pop(n, None)
        with contextlib.suppress(FileNotFoundError):
            (self.dir / _seg_name(n)).unlink()

    def _collect(self) -> None:
        """Delete segments every consumer has committed past. Caller holds the lock."""
        if not self._readers:
            return
        low = min(r.committed.segment for r in self._readers.values())
        for n in sorted(self._sizes):
            if n >= low or n >= self._current:
                break
            self._delete_segment(n)

    def _normalize(self, pos: Position) -> Position:
        """Move a position at the end of a finished segment to the next segment. Lock held.

        So a consumer that has delivered everything has a committed position equal to
        :meth:`end`, also when what it delivered sat in older segments (after a restart).
        """
        while pos.segment < self._current:
            size = self._sizes.get(pos.segment)
            if size is not None and pos.offset < size:
                break
            nxt = self.next_segment(pos.segment)
            pos = Position(nxt if nxt is not None else self._current, 0)
        return pos

    # -- consumers -------------------------------------------------------------------------
    def reader(self, name: str) -> SpoolReader:
        """The reader for consumer ``name``, resuming from its saved cursor."""
        with self._lock:
            if name in self._readers:
                return self._readers[name]
            reader = SpoolReader(self, name)
            self._readers[name] = reader
            return reader

    def forget_other_consumers(self) -> list[str]:
        """Remove cursor files of consumers not opened in this process; return their names."""
        removed: list[str] = []
        with self._lock:
            known = {r.cursor_path.name for r in self._readers.values()}
            for path in sorted(self.dir.glob("cursor-*.json")):
                if path.name not in known:
                    try:
                        removed.append(str(json.loads(path.read_text()).get("name", path.name)))
                    except (OSError, ValueError, AttributeError):
                        removed.append(path.name)
                    path.unlink(missing_ok=True)
            self._collect()
        return removed

    def segment_path(self, n: int) -> Path:
        """Where segment ``n`` lives."""
        return self.dir / _seg_name(n)

    def segment_size(self, n: int) -> int | None:
        """Bytes in segment ``n`` so far, or None when it does not exist."""
        return self._sizes.get(n)

    def next_segment(self, n: int) -> int | None:
        """The first existing segment after ``n``."""
        later = [m for m in self._sizes if m > n]
        return min(later) if later else None

    def oldest_segment(self) -> int:
        """The oldest segment still on disk."""
        return min(self._sizes, default=self._current)

    def end(self) -> Position:
        """The position just after the last appended line."""
        with self._lock:
            return Position(self._current, self._sizes[self._current])

    def close(self) -> None:
        """Sync, save every cursor and release the slot."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self.fsync:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
            os.close(self._fd)
            for reader in self._readers.values():
                reader._save()
            if self._sizes.get(self._current) == 0:
                self._delete_segment(self._current)
            self.new_data.notify_all()
            os.close(self._lock_fd)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed


class SpoolReader:
    """One consumer's view of the spool: read ahead, commit what was delivered, rewind on failure.

    Added in 0.1.
    """

    def __init__(self, spool: Spool, name: str) -> None:
        self.spool = spool
        self.name = name
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        self.cursor_path = spool.dir / f"cursor-{digest}.json"
        self._save_lock = threading.Lock()
        start = Position(spool.oldest_segment(), 0)
        saved = self._load()
        if saved is not None and saved >= start and self._valid(saved):
            start = saved
        self.committed = spool._normalize(start)
        self.read_pos = self.committed
        self._saved = saved
        self.dropped = 0

    def _load(self) -> Position | None:
        try:
            data = json.loads(self.cursor_path.read_text())
            return Position(int(data["segment"]), int(data["offset"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            # A torn cursor file: start from the oldest segment (duplicates, never loss).
            return None

    def _valid(self, pos: Position) -> bool:
        """Whether a saved position is the start of a line of an existing segment (or past it)."""
        spool = self.spool
        if pos.offset < 0 or pos > Position(spool.current_segment, 0):
            return False
        size = spool.segment_size(pos.segment)
        if size is None or pos.offset == 0:
            # A deleted segment is stepped over; offset 0 is always a line start.
            return True
        if pos.offset > size:
            return False
        try:
            with open(spool.segment_path(pos.segment), "rb") as f:
                f.seek(pos.offset - 1)
                return f.read(1) == b"\n"
        except OSError:
            return False

    def _save(self) -> None:
        with self._save_lock:
            committed = self.committed
            if committed == self._saved:
                return
            tmp = self.cursor_path.with_suffix(".tmp")
            body = {"name": self.name, "segment": committed.segment, "offset": committed.offset}
            try:
                tmp.write_text(json.dumps(body))
                os.replace(tmp, self.cursor_path)
                self._saved = committed
            except OSError:
                # The next commit tries again; at worst the consumer sees duplicates after a
                # restart.
                return

    def read(self, max_lines: int = 1000, max_bytes: int = 1 << 20) -> ReadBatch:
        """Up to ``max_lines`` complete lines from the read position; empty when caught up.

        A single line longer than ``max_bytes`` is still returned (alone).
        """
        spool = self.spool
        with spool._lock:
            if self.read_pos <= self.committed:
                # Nothing in flight: step over finished segments at once, so that committed
                # reaches the end of the spool when everything was delivered.
                self._advance(spool._normalize(self.committed))
        while True:
            batch, again = self._read_once(max_lines, max_bytes)
            if not again:
                return batch

    def _read_once(self, max_lines: int, max_bytes: int) -> tuple[ReadBatch, bool]:
        lines: list[bytes] = []
        ends: list[Position] = []
        spool = self.spool
        with spool._lock:
            pos = max(self.read_pos, self.committed)
            size = spool.segment_size(pos.segment)
            if size is None:
                nxt = spool.next_segment(pos.segment)
                if nxt is None:
                    return ReadBatch(lines, ends), False
                pos = Position(nxt, 0)
                size = spool.segment_size(nxt) or 0
            final = pos.segment < spool.current_segment
            path = spool.segment_path(pos.segment)
        remaining = size - pos.offset
        if remaining <= 0:
            if final:
                with spool._lock:
                    nxt = spool.next_segment(pos.segment)
                if nxt is not None:
                    self.read_pos = Position(nxt, 0)
                    return ReadBatch(lines, ends), True
            self.read_pos = pos
            return ReadBatch(lines, ends), False
        budget = min(max_bytes, remaining)
        try:
            with open(path, "rb") as f:
                f.seek(pos.offset)
                chunk = f.read(budget)
                while b"\n" not in chunk and len(chunk) < remaining:
                    # One line longer than max_bytes: read on until its end.
                    more = f.read(min(max(len(chunk), 4096), remaining - len(chunk)))
                    if not more:
                        break
                    chunk += more
        except FileNotFoundError:
            # Dropped by the size limit meanwhile: continue after it.
            self.read_pos = Position(pos.segment + 1, 0)
            return ReadBatch(lines, ends), True
        offset = pos.offset
        start = 0
        while len(lines) < max_lines:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                break
            line = chunk[start:nl]
            offset += nl - start + 1
            start = nl + 1
            if line:
                lines.append(line)
                ends.append(Position(pos.segment, offset))
        if not lines and start == 0 and final and len(chunk) == remaining:
            # A torn last line in a finished segment (a failed write): skip it.
            self.read_pos = Position(pos.segment, size)
            return ReadBatch(lines, ends), True
        self.read_pos = Position(pos.segment, offset)
        return ReadBatch(lines, ends), False

    def _advance(self, position: Position) -> None:
        """Set the committed position (forward only) and delete what nobody needs. Lock held."""
        if position <= self.committed:
            return
        self.committed = position
        if self.read_pos < position:
            self.read_pos = position
        self.spool._collect()

    def commit(self, position: Position) -> None:
        """Everything before ``position`` was delivered."""
        with self.spool._lock:
            self._advance(self.spool._normalize(position))
        self._save()

    def rewind(self) -> None:
        """Read again from the last committed position (after a delivery failure)."""
        with self.spool._lock:
            self.read_pos = self.committed

    def backlog(self) -> int:
        """How many lines are not yet committed (counts by reading the spool)."""
        spool = self.spool
        with spool._lock:
            pos = self.committed
            segments = sorted(n for n in spool._sizes if n >= pos.segment)
            sizes = {n: spool._sizes[n] for n in segments}
        count = 0
        for n in segments:
            try:
                with open(spool.segment_path(n), "rb") as f:
                    start = pos.offset if n == pos.segment else 0
                    f.seek(start)
                    left = sizes[n] - start
                    while left > 0 and (block := f.read(min(1 << 20, left))):
                        count += block.count(b"\n")
                        left -= len(block)
            except FileNotFoundError:
                continue
        return count

    def _drop_segment(self, n: int) -> int:
        """Segment ``n`` is being deleted by the size limit. Caller holds the spool lock."""
        if self.committed.segment > n:
            return 0
        lost = 0
        try:
            with open(self.spool.segment_path(n), "rb") as f:
                if self.committed.segment == n:
                    f.seek(self.committed.offset)
                while block := f.read(1 << 20):
                    lost += block.count(b"\n")
        except FileNotFoundError:
            lost = 0
        nxt = self.spool.next_segment(n)
        self.committed = Position(nxt if nxt is not None else n + 1, 0)
        if self.read_pos < self.committed:
            self.read_pos = self.committed
        self.dropped += lost
        return lost
