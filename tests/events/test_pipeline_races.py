"""The pipeline against the moments other threads and processes pick: a fork while it starts,
a drop report being made while drain() looks, a delivery thread that cannot start, a full disk
until exit, and the writer spooling while receipts() counts.

Each test makes the other party act at the critical moment (a hook), so the race happens every
run; each fails on the code before its fix.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.events.test_pipeline import event, options, start, until_progress

from bulletproof.clock import system_clock
from bulletproof.errors import SpoolWriteError
from bulletproof.events._spool import Spool, SpoolDirectory
from bulletproof.events.model import Category, SecurityEvent
from bulletproof.events.pipeline import EventPipeline
from bulletproof.testing import CapturingSink


@pytest.fixture
def children() -> Iterator[list[int]]:
    """Forked children of a test, killed and reaped at its end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def fork_a_sleeper(pids: list[int]) -> None:
    """Fork a child that lives on (until the test kills it) and touches nothing: a worker,
    as far as the locks it inherited are concerned."""
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    pids.append(pid)


def test_a_fork_while_the_pipeline_is_being_made_leaves_the_child_no_delivery_lock(
    tmp_path: Path,
    pipelines: list[EventPipeline],
    children: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The constructor holds deliver.lock for a moment (to forget consumers of an earlier
    # configuration); a fork then must not hand the child a copy that keeps it taken.
    real = SpoolDirectory.forget_other_consumers

    def fork_meanwhile(self: SpoolDirectory) -> list[str]:
        if not children and self.root == tmp_path / "spool":  # not another test's leftover
            fork_a_sleeper(children)
        return real(self)

    monkeypatch.setattr(SpoolDirectory, "forget_other_consumers", fork_meanwhile)
    sink = CapturingSink("capture:a")
    pipe = EventPipeline([sink], options=options(tmp_path))
    monkeypatch.setattr(SpoolDirectory, "forget_other_consumers", real)
    assert children
    pipelines.append(pipe.start())
    # The child lets go of its copies as it starts, which may be just after this start's try.
    deadline = system_clock.monotonic() + 3  # six tries to lead
    while not pipe.delivering and system_clock.monotonic() < deadline:
        assert pipe.wait_round(5)
    assert pipe.delivering  # while the child lives
    pipe.emit(event())
    assert pipe.drain(5)
    assert len(sink.lines) == 1


def test_a_closed_spool_abandoned_in_a_child_closes_none_of_the_reused_descriptors(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20, segment_bytes=1 << 16, fsync=False)
    spool.append([b'{"n":0}'])
    spool.close()
    reused = [os.open(os.devnull, os.O_RDONLY) for _ in range(3)]  # lowest numbers first
    try:
        spool.abandon()  # what a child forked later does with it
        for fd in reused:
            os.fstat(fd)  # still open
    finally:
        for fd in reused:
            os.close(fd)


def test_drain_waits_for_a_drop_report_being_made(
    tmp_path: Path, pipelines: list[EventPipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = CapturingSink("capture:a")
    pipe = start(pipelines, [sink], options=options(tmp_path))
    pipe.emit(event(0))
    assert pipe.drain(5)
    with open(pipe.spool.segment_path(pipe.spool.current_segment), "ab") as f:
        f.write(b"garbage\n")  # damage: the sink is owed a spool_corrupt report
    making, go = threading.Event(), threading.Event()
    real = pipe._drop_report

    def slowly(*args: Any) -> SecurityEvent:  # the sink's thread, making the report
        making.set()
        go.wait(10)
        return real(*args)

    monkeypatch.setattr(pipe, "_drop_report", slowly)
    pipe.emit(event(1))
    assert making.wait(5)
    try:
        assert not pipe.drain(0.3)  # the report is neither owed nor sent: not drained
    finally:
        go.set()
    assert pipe.drain(5)
    assert [doc["event"]["action"] for doc in sink.documents].count("spool_corrupt") == 1


def test_a_delivery_thread_that_could_not_start_is_started_later_and_the_others_go_on(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    a, b = CapturingSink("capture:a"), CapturingSink("capture:b")
    pipe = EventPipeline([a, b], options=options(tmp_path))
    thread = pipe._workers[1].thread
    real = thread.start
    failed: list[int] = []

    def once_out_of_threads() -> None:
        if not failed:
            failed.append(1)
            raise RuntimeError("can't start new thread")
        real()

    thread.start = once_out_of_threads  # type: ignore[method-assign]
    pipelines.append(pipe.start())
    assert failed
    pipe.emit(event())
    assert until_progress(pipe, lambda: len(a.lines) == 1 and len(b.lines) == 1)
    assert until_progress(pipe, lambda: pipe.delivering)  # set just after the last start
    assert pipe.drain(5)
    assert len(pipe.spool.listeners) == 2  # each sink's wake once, however many tries


def test_events_dropped_while_the_disk_stayed_full_until_exit_are_all_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = EventPipeline([CapturingSink("capture:a")], options=options(tmp_path, max_pending=10))

    def full(lines: Any) -> None:
        raise SpoolWriteError("No space left on device", written=0, errno_=errno.ENOSPC)

    monkeypatch.setattr(pipe.spool, "append", full)
    pipe.start()
    for i in range(100):
        pipe.emit(event(i))
    with caplog.at_level(logging.ERROR, logger="bulletproof"):
        assert not pipe.close(timeout=1)
    said = [r.getMessage() for r in caplog.records]
    earlier = next(m for m in said if "dropped earlier" in m)
    at_exit = next(m for m in said if "before exit" in m)
    n_earlier = int(earlier.split("bulletproof: ")[1].split(" ")[0])
    n_exit = int(at_exit.split("bulletproof: ")[1].split(" ")[0])
    assert n_earlier + n_exit == 100  # every event: none silently gone
    assert n_earlier >= 90
    assert sum(pipe.stats().dropped.values()) == 100


def test_receipts_count_from_one_snapshot_while_the_writer_spools(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    leader = SpoolDirectory(tmp_path / "spool")
    assert leader.lead()  # another process delivers (slowly): nothing is confirmed here
    try:
        pipe = start(pipelines, [CapturingSink("capture:a")], options=options(tmp_path))
        pipe.emit(event())
        assert pipe.flush(5)
        assert pipe.receipts()["capture:a"].pending == 1
        writer_went: list[threading.Thread] = []

        class WriterActsNow(list[tuple[int, int]]):
            def __iter__(self) -> Any:
                if not writer_went:  # the writer spools one of its own reports right now
                    report = SecurityEvent(action="sink_unavailable", category=Category.DELIVERY)
                    pipe._emit_internal(report)
                    went = threading.Thread(target=pipe.wait_round, args=(5.0,))
                    writer_went.append(went)
                    went.start()
                    went.join(0.3)
                return super().__iter__()

        pipe._own_seqs = WriterActsNow(pipe._own_seqs)
        assert pipe.receipts()["capture:a"].pending == 1
        writer_went[0].join(5)
        assert pipe.flush(5)
        assert pipe.receipts()["capture:a"].pending == 1  # the report is no event of the app
    finally:
        leader.release()
