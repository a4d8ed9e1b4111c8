"""``file:`` and ``stdout:`` sinks: JSON lines on disk (rotated, gzipped) or on standard output.

``file:///var/log/bulletproof/events.jsonl`` (absolute) or ``file:logs/events.jsonl`` (relative to
the config file's directory). Query parameters:

- ``max_bytes``: rotate when the file reaches this size (``100MiB`` by default; ``0`` = never);
- ``rotate``: also rotate on a time boundary: ``hourly``, ``daily`` (default ``never``);
- ``keep``: rotated files to keep (default 10; older ones are deleted);
- ``compress``: ``gzip`` (default) or ``none`` for rotated files;
- ``fsync``: ``true`` to fsync after each batch (default ``false``: the spool already holds the
  events until the write returns).

A rotated file is renamed ``events.jsonl.20261129T101500Z`` (``.gz`` once compressed). If another
process (or logrotate) moves the file away, the sink notices by inode and reopens the path.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> sink = create(SinkSpec.parse(f"file://{d}/events.jsonl"))
>>> sink.open(); sink.send([b'{"a":1}']); sink.close()
>>> (d / "events.jsonl").read_text()
'{"a":1}\\n'

Added in 0.1.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final
from urllib.parse import unquote

from bulletproof.clock import Clock, system_clock
from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.sinks.base import SinkSpec

__all__ = ["FileSink", "StdoutSink", "create", "parse_size"]

_SIZE: Final = re.compile(r"^\s*(\d+)\s*([kmgt]?i?b?)?\s*$", re.IGNORECASE)
_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "ki": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "mi": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "gi": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
    "ti": 1024**4,
}
_MAX_SIZE: Final = 1 << 50
"""The largest size :func:`parse_size` accepts: 1024TiB (1PiB)."""
_ROTATE: Final = {"never": 0, "hourly": 3600, "daily": 86400}
# NAME.20261129T101500Z[-N][.gz]: the stamp, then a counter when several rotations share a second.
_ROTATED: Final = re.compile(r"(.+)\.(\d{8}T\d{6}Z)(?:-(\d+))?(?:\.gz)?")
_FORMS: Final = " Accepted: file:///abs/path.jsonl, file:relative/path.jsonl, stdout:"


def parse_size(text: str | int, what: str) -> int:
    """``"100MiB"`` -> 104857600: a number of bytes from 0 to 1024TiB (1PiB, ``1 << 50``), or a
    string of digits with an optional unit (``k``/``kb``/``kib``, ``m``..., ``g``..., ``t``...).
    Raises ConfigError naming ``what``. Added in 0.1.
    """
    in_range = f"use a size from 0 to 1024TiB ({_MAX_SIZE} bytes)"
    if isinstance(text, int) and not isinstance(text, bool):
        shown = repr(text) if abs(text) < 10**30 else "(a number of more than 30 digits)"
        if text < 0:
            raise ConfigError(f"{what} = {shown}: a size cannot be negative; {in_range}")
        if text > _MAX_SIZE:
            raise ConfigError(f"{what} = {shown} is out of range: {in_range}")
        return text
    value = str(text)
    shown = repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    m = _SIZE.match(value)
    if not m or (m.group(2) or "").lower() not in _UNITS:
        raise ConfigError(
            f"{what} = {shown} is not a size: use a number of bytes or a value like "
            "'512KiB', '100MiB', '1GB'"
        )
    # Decide on the digit count first: int() of a long digit string costs more than linear
    # time (and refuses more than 4300 digits); 1024TiB has 16 digits.
    digits = m.group(1).lstrip("0") or "0"
    size = int(digits) * _UNITS[(m.group(2) or "").lower()] if len(digits) <= 17 else None
    if size is None or size > _MAX_SIZE:
        raise ConfigError(f"{what} = {shown} is out of range: {in_range}")
    return size


def _join_lines(lines: Sequence[bytes]) -> bytes:
    """The batch as newline-terminated lines, with raw CR and LF inside a line escaped."""
    data = b"\n".join(lines) + b"\n"
    # The common case, checked at C speed: no line holds a CR or LF of its own.
    if data.count(b"\n") == len(lines) and b"\r" not in data:
        return data
    return b"".join(line.replace(b"\n", b"\\n").replace(b"\r", b"\\r") + b"\n" for line in lines)


class FileSink:
    """Appends JSON lines to a file, with size and time rotation and gzip. Added in 0.1."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        max_bytes: int = 100 * 1024 * 1024,
        rotate_seconds: int = 0,
        keep: int = 10,
        compress: bool = True,
        fsync: bool = False,
        clock: Clock = system_clock,
    ) -> None:
        self.path = path
        self._name = name
        self.max_bytes = max_bytes
        self.rotate_seconds = rotate_seconds
        self.keep = keep
        self.compress = compress
        self.fsync = fsync
        self.clock = clock
        self._fd = -1
        self._size = 0
        self._period = 0
        self._torn = False

    @property
    def name(self) -> str:
        """The URL."""
        return self._name

    def _period_of(self, now: float) -> int:
        return int(now // self.rotate_seconds) if self.rotate_seconds else 0

    def _open_fd(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o640)
            except PermissionError:
                # Write-only is enough (the torn-line check is skipped).
                return os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
        except OSError as exc:
            raise SinkUnavailableError(
                f"file sink {self._name}: cannot open {str(self.path)!r}: {exc.strerror}; "
                "check the directory exists and is writable"
            ) from None

    def open(self) -> None:
        """Create the directory and open the file for appending."""
        self.close()
        fd = self._open_fd()
        try:
            st = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            raise SinkUnavailableError(
                f"file sink {self._name}: cannot stat {str(self.path)!r}: {exc.strerror}"
            ) from None
        self._fd = fd
        self._size = st.st_size
        # A write cut short (disk full, crash) leaves a torn last line: end it first, so the
        # next line is not glued to it.
        self._torn = st.st_size > 0 and self._last_byte() not in (b"\n", b"")
        self._period = self._period_of(st.st_mtime if st.st_size else self.clock.time())

    def _last_byte(self) -> bytes:
        try:
            return os.pread(self._fd, 1, self._size - 1)
        except OSError:
            return b""  # opened write-only: cannot check

    def _moved_away(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return st.st_ino != os.fstat(self._fd).st_ino

    def send(self, lines: Sequence[bytes]) -> None:
        """Append the batch (one ``write``), rotating first when due.

        A raw CR or LF inside a line (from a sink user that did not go through the pipeline)
        is written as ``\\r``/``\\n``: one item is always one line.
        """
        if not lines:
            return
        if self._fd < 0:
            self.open()
        data = _join_lines(lines)
        try:
            if self._moved_away():
                self.open()
            now = self.clock.time()
            if self._size and (
                (self.max_bytes and self._size + len(data) > self.max_bytes)
                or (self.rotate_seconds and self._period_of(now) != self._period)
            ):
                self._rotate(now)
            if self._torn:
                data = b"\n" + data
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view) :]
            finally:
                written = len(data) - len(view)
                self._size += written
                if written:
                    self._torn = view.nbytes > 0
            if self.fsync:
                os.fsync(self._fd)
        except OSError as exc:
            raise SinkError(
                f"file sink {self._name}: write to {str(self.path)!r} failed: {exc.strerror}"
            ) from None

    def _rotate(self, now: float) -> None:
        self.close()
        stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
        n = 0
        newest = self._newest_rotated()
        if newest is not None and newest[0] >= stamp:
            # Same second (or the wall clock stepped back): sort after the newest file.
            stamp, n = newest[0], newest[1] + 1

        def named(n: int) -> Path:
            return self.path.with_name(f"{self.path.name}.{stamp}" + (f"-{n}" if n else ""))

        target = named(n)
        while target.exists() or target.with_name(target.name + ".gz").exists():
            n += 1
            target = named(n)
        os.replace(self.path, target)
        self.open()
        self._period = self._period_of(now)
        if self.compress:
            gz = target.with_name(target.name + ".gz")
            tmp = target.with_name(target.name + ".gz.tmp")
            try:
                with open(target, "rb") as src, gzip.open(tmp, "wb", compresslevel=6) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, gz)
            except OSError:
                # Keep the uncompressed file (it is a complete rotated file) and go on.
                with contextlib.suppress(OSError):
                    tmp.unlink()
            else:
                target.unlink()
        self._prune()

    def _rotated(self) -> list[tuple[tuple[str, int], Path]]:
        found = []
        for p in self.path.parent.iterdir():
            m = _ROTATED.fullmatch(p.name)
            if m and m.group(1) == self.path.name:
                found.append(((m.group(2), int(m.group(3) or 0)), p))
        return sorted(found)

    def _newest_rotated(self) -> tuple[str, int] | None:
        rotated = self._rotated()
        return rotated[-1][0] if rotated else None

    def rotated_files(self) -> list[Path]:
        """Rotated files of this sink, oldest first."""
        return [p for _, p in self._rotated()]

    def _prune(self) -> None:
        old = self.rotated_files()
        for p in old[: max(len(old) - self.keep, 0)]:
            with contextlib.suppress(OSError):
                p.unlink()

    def unconfirmed(self) -> int:
        """0: a completed write is delivered."""
        return 0

    def close(self) -> None:
        """Close the file."""
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def probe(self) -> str:
        """Check the file can be opened for appending (creates its directory)."""
        os.close(self._open_fd())
        return f"{str(self.path)!r} is writable"


class StdoutSink:
    """Writes JSON lines to standard output. Added in 0.1."""

    @property
    def name(self) -> str:
        """``stdout:``."""
        return "stdout:"

    def open(self) -> None:
        """Nothing to open."""

    def send(self, lines: Sequence[bytes]) -> None:
        """Write and flush the batch (a raw CR or LF inside a line is escaped)."""
        if not lines:
            return
        try:
            out = sys.stdout.buffer
            out.write(_join_lines(lines))
            out.flush()
        except (OSError, ValueError) as exc:
            raise SinkError(f"stdout: write failed: {exc}") from None

    def unconfirmed(self) -> int:
        """0."""
        return 0

    def close(self) -> None:
        """Nothing to close."""

    def probe(self) -> str:
        """Standard output is always there."""
        return "standard output"


def create(spec: SinkSpec, clock: Clock = system_clock) -> FileSink | StdoutSink:
    """Build a file or stdout sink from its URL. Added in 0.1."""
    if spec.scheme == "stdout":
        spec.check_query(set(), _FORMS)
        return StdoutSink()
    spec.check_query({"max_bytes", "rotate", "keep", "compress", "fsync"}, _FORMS)
    if spec.host not in ("", "localhost"):
        raise ConfigError(
            f"sink URL {spec.name!r}: file URLs name a local path; write file:///abs/path.jsonl "
            "(three slashes) or file:relative/path.jsonl"
        )
    raw_path = unquote(spec.path)
    if not raw_path or raw_path.endswith("/"):
        raise ConfigError(f"sink URL {spec.name!r} names no file.{_FORMS}")
    path = Path(raw_path)
    if not path.is_absolute():
        path = spec.base_dir / path
    rotate = spec.query.get("rotate", "never").lower()
    if rotate not in _ROTATE:
        raise ConfigError(
            f"sink URL {spec.name!r}: rotate={rotate!r}; use one of {', '.join(_ROTATE)}"
        )
    compress = spec.query.get("compress", "gzip").lower()
    if compress not in ("gzip", "none"):
        raise ConfigError(f"sink URL {spec.name!r}: compress={compress!r}; use gzip or none")
    try:
        keep = int(spec.query.get("keep", "10"))
    except ValueError:
        keep = -1
    if keep < 0:
        raise ConfigError(
            f"sink URL {spec.name!r}: keep={spec.query.get('keep')!r} must be a whole number >= 0"
        )
    return FileSink(
        path,
        name=spec.name,
        max_bytes=parse_size(
            spec.query.get("max_bytes", "100MiB"), f"sink URL {spec.name!r}: max_bytes"
        ),
        rotate_seconds=_ROTATE[rotate],
        keep=keep,
        compress=compress == "gzip",
        fsync=spec.flag("fsync", False, _FORMS),
        clock=clock,
    )
