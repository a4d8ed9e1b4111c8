"""The server's output copied to a file, rotated by size and/or time, old files gzipped.

``server.log`` is rotated to ``server.log.1`` (then ``.1.gz`` once compressed, on a thread),
``.2.gz``... up to ``backups``. A failed write (a full disk) never stops the supervisor or the
pass-through: the bytes that could not be written are counted and reported, and writing
resumes when it can.

>>> import tempfile, pathlib
>>> from bulletproof.clock import system_clock
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> log = RotatingLog(d / "out.log", max_size=4096, rotate_every=None, backups=2,
...                   clock=system_clock, compress=False)
>>> log.write(b"x" * 4000); log.write(b"y" * 200); log.close()
>>> sorted(p.name for p in d.iterdir()), (d / "out.log").stat().st_size
(['out.log', 'out.log.1'], 200)

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import threading
from pathlib import Path

from bulletproof.clock import Clock

__all__ = ["RotatingLog"]


class RotatingLog:
    """An append-only file with rotation (see the module docstring). Added in 0.1."""

    def __init__(
        self,
        path: Path,
        *,
        max_size: int,
        rotate_every: float | None,
        backups: int,
        clock: Clock,
        compress: bool = True,
    ) -> None:
        self.path = path
        self._max = max_size
        self._every = rotate_every
        self._backups = backups
        self._clock = clock
        self._compress = compress
        self._fd: int | None = None
        self._size = 0
        self._period = self._period_of(clock.time())
        self.lost = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self._compressing: list[threading.Thread] = []
        path.parent.mkdir(parents=True, exist_ok=True)
        self._open()

    def _period_of(self, now: float) -> int | None:
        return int(now // self._every) if self._every else None

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> str | None:
        """Append ``data``; return an error message when this write failed and the last one
        did not (one report per failure episode), else None."""
        try:
            if self._fd is None:
                self._open()
            if self._due(len(data)):
                self._rotate()
            view = memoryview(data)
            while view:
                n = os.write(self._fd, view)  # type: ignore[arg-type]
                self._size += n
                view = view[n:]
        except OSError as exc:
            self.lost += len(data)
            first = self.error is None
            self.error = f"{self.path}: {exc.strerror or exc}"
            return self.error if first else None
        self.error = None
        return None

    def _due(self, incoming: int) -> bool:
        if self._max and self._size > 0 and self._size + incoming > self._max:
            return True
        period = self._period_of(self._clock.time())
        if period is not None and period != self._period:
            self._period = period
            return self._size > 0
        return False

    def _name(self, n: int, gz: bool) -> Path:
        return self.path.with_name(f"{self.path.name}.{n}{'.gz' if gz else ''}")

    def _rotate(self) -> None:
        with self._lock:
            for n in range(self._backups, 0, -1):
                for gz in (True, False):
                    src = self._name(n, gz)
                    if not src.exists():
                        continue
                    if n >= self._backups:
                        src.unlink()
                    else:
                        os.replace(src, self._name(n + 1, gz))
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._backups:
            os.replace(self.path, self._name(1, False))
            if self._compress:
                t = threading.Thread(target=self._gzip, args=(self._name(1, False),), daemon=True)
                self._compressing = [c for c in self._compressing if c.is_alive()] + [t]
                t.start()
        else:
            self.path.unlink()
        self._open()

    def _gzip(self, path: Path) -> None:
        with self._lock:
            target = path.with_name(path.name + ".gz")
            tmp = path.with_name(path.name + ".gz.tmp")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o640)
                with (
                    path.open("rb") as src,
                    open(fd, "wb") as raw,
                    gzip.GzipFile(fileobj=raw, mode="wb") as dst,
                ):
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, target)
                path.unlink()
            except OSError:
                # a full disk: the rotated file stays uncompressed
                with contextlib.suppress(OSError):
                    tmp.unlink()

    def close(self) -> None:
        """Close the file, after any compression under way."""
        for t in self._compressing:
            t.join(timeout=30)
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
