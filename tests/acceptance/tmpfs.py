"""Small real filesystems for the full-disk tests: a tmpfs mounted (as root) for one test.

CI runs as root, so a mount that is refused there fails the test (never a skip); elsewhere the
test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_filesystem(where: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``20m``, ``1m``) mounted on ``where`` for the block."""
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a {size} tmpfs on {where}: {done.stderr.strip() or done.returncode}"
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI runs as root and must be able to)", pytrace=False)
        pytest.skip(f"{why}; run as root (CI does)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(filesystem: Path) -> int:
    """Fill ``filesystem`` with one file until it is full; return the bytes written."""
    written = 0
    block = b"\0" * (1 << 16)
    with open(filesystem / "filler", "wb", buffering=0) as f:
        while True:
            try:
                n = f.write(block)
            except OSError:
                return written
            if not n:
                return written
            written += n
