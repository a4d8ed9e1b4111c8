"""The alert engine's memory on disk: what one deliverer knew, for the next one to go on from.

Only the process that delivers for a spool directory runs the alert engine, and another takes
over when it exits or dies (see :mod:`bulletproof.events._spool`). Its cooldowns, the events it
held back for a digest, the counts towards a threshold and the notifications not yet sent would
die with it: the next deliverer would alert again at once, lose the digest, and drop an alert
whose notifier was down. So the engine writes them here, in the spool directory, before it
notifies anyone, and the next deliverer reads them back when it takes over.

The file is a journal of JSON records framed like spool records (checksum, sequence number,
payload, newline): appended once per batch of events with what changed, read in order (the last
record of a key wins), and rewritten whole, atomically (a temporary file, then ``rename``), when
it has grown well past what it describes. A record that fails its check (a torn write at a
crash, damage) is skipped and counted; the records after it still count.

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from bulletproof.events._spool import frame_record, parse_record

logger = logging.getLogger("bulletproof.events")

__all__ = ["AlertLog"]

_MIN_COMPACT: Final = 1 << 20
"""The journal is rewritten once it is past this size and twice its last rewrite."""
_os_write = os.write  # named so tests can fail it without failing every write of the process
_READ_LIMIT: Final = 256 << 20
"""A journal longer than this is not read (it can only be damage): the engine starts afresh."""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[_os_write(fd, view) :]


class AlertLog:
    """One journal file, written by the one delivering process. Added in 0.1."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync
        self._fd = -1
        self._seq = 0
        self._size = 0
        self._base = 0
        self.damaged = 0
        """Records skipped by the last :meth:`load` because they failed their check."""
        self.stale = False
        """A write failed since the last whole rewrite: the file is behind what the engine knows
        (and may end in a torn record); only a successful :meth:`rewrite` clears it."""

    def load(self) -> list[dict[str, Any]]:
        """Every good record, oldest first (none when there is no file yet)."""
        self.damaged = 0
        try:
            with open(self.path, "rb") as f:
                data = f.read(_READ_LIMIT + 1)
        except FileNotFoundError:
            return []
        except OSError as exc:
            logger.warning(
                "bulletproof: cannot read the alert state %s (%s); alerts start afresh",
                self.path,
                exc.strerror or exc,
            )
            return []
        if len(data) > _READ_LIMIT:
            logger.warning(
                "bulletproof: alert state %s is too large; alerts start afresh", self.path
            )
            return []
        out: list[dict[str, Any]] = []
        for line in data.split(b"\n"):
            if not line:
                continue
            parsed = parse_record(line)
            record: object = None
            if parsed is not None:
                self._seq = max(self._seq, parsed[0] + 1)
                with contextlib.suppress(ValueError):
                    record = json.loads(parsed[1])
            if isinstance(record, dict):
                out.append(record)
            else:
                self.damaged += 1
        if self.damaged:
            logger.warning(
                "bulletproof: %d damaged record(s) skipped in the alert state %s",
                self.damaged,
                self.path,
            )
        return out

    def _frame(self, records: Iterable[dict[str, Any]]) -> bytes:
        parts: list[bytes] = []
        for record in records:
            payload = json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode()
            parts.append(frame_record(self._seq, payload))
            self._seq += 1
        return b"".join(parts)

    def append(self, records: Sequence[dict[str, Any]], *, sync: bool = True) -> bool:
        """Add records at the end; False (logged once per failing stretch) when it failed.

        ``sync=False`` skips the fsync: for records whose loss at a power cut only means a
        notification made once more (a process killed leaves them in the page cache).
        """
        if not records:
            return True
        data = self._frame(records)
        if self.stale:
            data = b"\n" + data  # ends a record a failed write may have left torn
        try:
            if self._fd < 0:
                self._fd = os.open(
                    self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600
                )
                self._size = os.fstat(self._fd).st_size
                if self._size and not self._base:
                    self._base = self._size
            _write_all(self._fd, data)
            if self.fsync and sync:
                os.fsync(self._fd)
        except OSError as exc:
            self._failed(exc)
            return False
        self._size += len(data)
        return True

    def rewrite(self, records: Iterable[dict[str, Any]]) -> bool:
        """Replace the whole file with ``records``, atomically; False when it failed."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = self._frame(records)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                _write_all(fd, data)
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
            if self.fsync:
                dir_fd = os.open(self.path.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            self._failed(exc)
            return False
        self.close()  # the next append opens the new file
        self._size = self._base = len(data)
        self.stale = False
        return True

    @property
    def due(self) -> bool:
        """Whether the journal has grown enough to be rewritten."""
        return self._size > max(_MIN_COMPACT, 2 * self._base)

    def _failed(self, exc: OSError) -> None:
        if not self.stale:
            logger.warning(
                "bulletproof: cannot write the alert state %s (%s); a process taking over "
                "delivery may alert again or miss a digest until it can",
                self.path,
                exc.strerror or exc,
            )
        self.stale = True

    def close(self) -> None:
        """Close the file (what was appended is on disk, synced when ``fsync``)."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1
