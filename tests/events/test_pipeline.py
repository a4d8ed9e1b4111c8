"""The delivery pipeline: emit never blocks or raises; the spool carries events through outages,
slow sinks and restarts; overflow and spool limits are reported with exact counts."""

from __future__ import annotations

import collections
import gc
import json
import math
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import psutil
import pytest

from bulletproof.errors import ConfigError
from bulletproof.events.alerts import AlertEngine, AlertRule
from bulletproof.events.model import Category, SecurityEvent
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.sinks import sink_from_url
from bulletproof.testing import CapturingNotifier, CapturingSink


def options(tmp_path: Path, **kw: Any) -> PipelineOptions:
    base: dict[str, Any] = {
        "spool_dir": tmp_path / "spool",
        "durability_lag": 0.02,
        "fsync": False,
        "backoff_initial": 0.005,
        "backoff_max": 0.02,
        "segment_bytes": 256 * 1024,
        "spool_max_bytes": 64 * 1024 * 1024,
        "hostname": "test-host",
    }
    base.update(kw)
    return PipelineOptions(**base)


def event(i: int = 0, **details: Any) -> SecurityEvent:
    return SecurityEvent(
        action="login_failed",
        category=Category.AUTH,
        source_ip="203.0.113.9",
        details={"i": i, **details},
    )


def ids(sink: CapturingSink) -> list[str]:
    return [doc["event"]["id"] for doc in sink.documents]


def actions(sink: CapturingSink) -> list[str]:
    return [doc["event"]["action"] for doc in sink.documents]


def until_progress(
    pipe: EventPipeline, predicate: Callable[[], bool], timeout: float = 5.0
) -> bool:
    """Wait (bounded) for ``predicate``, checked each time the pipeline wrote or delivered."""
    with pipe._progress:
        return pipe._progress.wait_for(predicate, timeout)


class BlockingSink(CapturingSink):
    """``send`` waits until ``gate`` is set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.gate = threading.Event()
        self.entered = threading.Event()

    def send(self, lines: Sequence[bytes]) -> None:
        self.entered.set()
        self.gate.wait(10)
        super().send(lines)


class HoldingSink(CapturingSink):
    """A stream-like sink: the newest ``hold`` lines are not confirmed yet."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.hold = 0

    def unconfirmed(self) -> int:
        return min(self.hold, len(self.lines))


def start(made: list[EventPipeline], *args: Any, **kwargs: Any) -> EventPipeline:
    pipe = EventPipeline(*args, **kwargs).start()
    made.append(pipe)
    return pipe


def test_events_reach_every_sink(tmp_path: Path, pipelines: list[EventPipeline]) -> None:
    a, b = CapturingSink("capture:a"), CapturingSink("capture:b")
    pipe = start(pipelines, [a, b], options=options(tmp_path))
    sent = [event(i) for i in range(50)]
    for ev in sent:
        pipe.emit(ev)
    assert pipe.drain(5)
    for sink in (a, b):
        assert ids(sink) == [ev.id for ev in sent]
        assert sink.documents[0]["host"] == {"hostname": "test-host"}
    assert pipe.backlog() == {"capture:a": 0, "capture:b": 0}
    assert pipe.close()


def test_drain_waits_for_a_report_queued_just_before_a_commit_it_saw(
    tmp_path: Path, pipelines: list[EventPipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A consumer queues its report (an alert's notification_failed) and then commits. drain()
    # may see the commit while the report sits in the queue: it must still wait for it.
    sink = CapturingSink()
    pipe = start(pipelines, [sink], options=options(tmp_path))
    pipe.emit(event(0))
    assert pipe.drain(5)
    original = pipe._own_passed
    reported: list[bool] = []

    def passed_then_report() -> bool:
        seen = original()
        if seen and not reported:
            reported.append(True)
            pipe.emit(SecurityEvent(action="late_report", category=Category.DELIVERY, id="late"))
        return seen

    monkeypatch.setattr(pipe, "_own_passed", passed_then_report)
    assert pipe.drain(5)
    assert reported
    assert ids(sink)[-1] == "late"


def test_event_emitted_right_before_the_program_exits_is_not_lost(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    script = f"""
from bulletproof.events.model import Category, SecurityEvent
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.sinks import sink_from_url

sink = sink_from_url({f"file://{target}"!r})
pipe = EventPipeline([sink], options=PipelineOptions(spool_dir={str(tmp_path / "spool")!r}))
pipe.start().emit(SecurityEvent(action="last_words", category=Category.PROCESS, id="bye"))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    (line,) = target.read_text().splitlines()
    assert json.loads(line)["event"]["id"] == "bye"


def test_events_from_many_threads_all_arrive(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    sink = CapturingSink()
    pipe = start(pipelines, [sink], options=options(tmp_path))
    sent: list[list[str]] = [[] for _ in range(4)]

    def worker(n: int) -> None:
        for i in range(500):
            ev = event(i)
            sent[n].append(ev.id)
            pipe.emit(ev)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert pipe.drain(5)
    got = ids(sink)
    assert sorted(got) == sorted(i for part in sent for i in part)
    for part in sent:  # each thread's events keep their order
        positions = [got.index(i) for i in part]
        assert positions == sorted(positions)


def test_emit_never_raises(tmp_path: Path, pipelines: list[EventPipeline]) -> None:
    def buggy(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["bulletproof"].get("details", {}).get("boom"):
            raise RuntimeError("processor bug")
        return doc

    sink = CapturingSink()
    pipe = start(pipelines, [sink], options=options(tmp_path), processors=[buggy])
    bad = event(1, boom=True)
    odd = event(
        2,
        obj=object(),
        numbers={1, 2},
        raw=b"\xff\xfe\n",
        tuple_keys={(1, 2): "v"},
        nan=math.nan,
        crlf="a\r\nb",
    )
    pipe.emit(event(0))
    pipe.emit(bad)
    pipe.emit(odd)
    pipe.emit(cast(Any, "not an event"))
    pipe.emit(cast(Any, None))
    pipe.emit(event(3))
    assert pipe.drain(5)
    docs = sink.documents
    assert [d["event"]["action"] for d in docs] == [
        "login_failed",
        "event_unprocessable",
        "login_failed",
        "event_unprocessable",
        "event_unprocessable",
        "login_failed",
    ]
    assert docs[1]["event"]["id"] == bad.id
    assert docs[1]["bulletproof"]["details"] == {"error": "RuntimeError"}
    assert docs[2]["event"]["id"] == odd.id
    odd_details = docs[2]["bulletproof"]["details"]
    assert odd_details["raw"] == "\\xff\\xfe\\n"
    assert odd_details["nan"] == "nan"
    assert odd_details["crlf"] == "a\\r\\nb"
    assert odd_details["tuple_keys"] == {"(1, 2)": "v"}
    assert pipe.stats().processing_errors == 3
    assert pipe.close()
    pipe.emit(event(4))  # after close: ignored, no exception
    assert len(sink.lines) == 6


def test_lines_are_single_redacted_and_neutralized_in_a_file(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    target = tmp_path / "out" / "events.jsonl"
    file_sink = sink_from_url(f"file://{target}")
    pipe = start(pipelines, [file_sink], options=options(tmp_path))
    nasty = [
        SecurityEvent(
            action="login_failed",
            category=Category.AUTH,
            user_name="bob\r\nFAKE 203.0.113.1 admin login ok",
            url_path="/login\x00",
            url_query="user=bob&password=hunter2",
            user_agent="ua\u2028next\x85",
            details={
                "headers": {"Authorization": "Bearer sekrit", "X-Note": "a\nb"},
                "bytes": b"\xc3\x28 invalid utf-8",
                "surrogate": "x\udcff",
            },
        )
        for _ in range(3)
    ]
    for ev in nasty:
        pipe.emit(ev)
    assert pipe.drain(5)
    raw = target.read_bytes()
    assert raw.count(b"\n") == 3
    assert b"hunter2" not in raw
    assert b"sekrit" not in raw
    text = raw.decode("utf-8")
    assert "\u2028" not in text
    assert "\r" not in text
    for line in text.splitlines():
        doc = json.loads(line)
        assert doc["user"]["name"] == "bob\\r\\nFAKE 203.0.113.1 admin login ok"
        assert doc["bulletproof"]["details"]["headers"]["Authorization"] == "[REDACTED]"


def test_outage_then_recovery_delivers_everything_and_reports_once_per_outage(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    down = CapturingSink("capture:down")
    down.fail = True
    up = CapturingSink("capture:up")
    pipe = start(pipelines, [down, up], options=options(tmp_path))

    for outage in (1, 2):
        down.fail = True
        before = down.failures
        sent = [event(i) for i in range(20)]
        for ev in sent:
            pipe.emit(ev)
        assert down.wait_for_failures(before + 3)
        stats = pipe.stats().sinks[0]
        assert not stats.connected
        assert stats.down_since is not None
        assert pipe.flush(5)
        # The other sink is not held up: it gets them all while this one is still down.
        wanted = {ev.id for ev in sent}

        def up_has_them(wanted: set[str] = wanted) -> bool:
            return set(ids(up)) >= wanted

        assert until_progress(pipe, up_has_them)
        assert not pipe.stats().sinks[0].connected
        down.fail = False
        assert pipe.drain(5)
        assert set(ids(down)) >= {ev.id for ev in sent}
        acts = actions(down)
        assert acts.count("sink_unavailable") == outage
        assert acts.count("sink_recovered") == outage
        assert acts.count("sink_unavailable") == actions(up).count("sink_unavailable")
    acts = actions(down)
    first_down = acts.index("sink_unavailable")
    assert first_down < acts.index("sink_recovered")
    report = down.documents[first_down]
    assert report["bulletproof"]["details"]["sink"] == "capture:down"
    assert report["bulletproof"]["category"] == "delivery"
    stats = pipe.stats().sinks[0]
    assert stats.connected
    assert stats.down_since is None


def test_sink_down_at_start_is_a_warning_and_the_process_keeps_running(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    down = CapturingSink("capture:down")
    down.fail = True
    witness = CapturingSink("capture:witness")
    pipe = start(pipelines, [down, witness], options=options(tmp_path))
    assert witness.wait_for(1)
    doc = witness.documents[0]
    assert doc["event"]["action"] == "sink_unavailable"
    assert doc["bulletproof"]["severity"] == "medium"
    assert "CapturingSink.fail" in doc["bulletproof"]["details"]["error"]
    pipe.emit(event())
    assert witness.wait_for(2)
    assert pipe.backlog()["capture:down"] == 2


def test_slow_sink_does_not_block_emit(tmp_path: Path, pipelines: list[EventPipeline]) -> None:
    slow = BlockingSink("capture:slow")
    fast = CapturingSink("capture:fast")
    pipe = start(pipelines, [slow, fast], options=options(tmp_path))
    pipe.emit(event(-1))
    assert slow.entered.wait(5)  # the slow sink's thread is now stuck in send()
    sent = [event(i) for i in range(10_000)]
    for ev in sent:
        pipe.emit(ev)
    # emit returned 10,000 times while the slow sink has taken nothing at all...
    assert len(slow.lines) == 0
    # ...and the other sink got everything meanwhile.
    assert fast.wait_for(10_001, timeout=20), (len(fast.lines), pipe.stats())
    assert len(slow.lines) == 0
    assert not pipe.drain(0)
    slow.gate.set()
    assert pipe.drain(20)
    assert ids(slow) == ids(fast)


def test_restart_delivers_what_a_down_sink_missed(tmp_path: Path) -> None:
    down = CapturingSink("capture:x")
    down.fail = True
    first = EventPipeline([down], options=options(tmp_path)).start()
    sent = [event(i) for i in range(100)]
    for ev in sent:
        first.emit(ev)
    assert first.flush(5)
    assert not first.close(timeout=0.1)
    assert down.lines == []

    up = CapturingSink("capture:x")
    second = EventPipeline([up], options=options(tmp_path)).start()
    try:
        assert second.drain(5)
        assert set(ids(up)) >= {ev.id for ev in sent}
        assert "sink_unavailable" in actions(up)
        assert second.removed_consumers == []
    finally:
        assert second.close()
    third = EventPipeline([CapturingSink("capture:x")], options=options(tmp_path)).start()
    try:
        assert third.drain(5)  # nothing left: caught up at once
        assert third.backlog() == {"capture:x": 0}
    finally:
        third.close()


def test_memory_queue_overflow_drops_oldest_and_reports_exact_count(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    entered, gate = threading.Event(), threading.Event()

    def blocker(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["bulletproof"]["details"].get("block"):
            entered.set()
            gate.wait(10)
        return doc

    sink = CapturingSink()
    pipe = start(pipelines, [sink], options=options(tmp_path, max_pending=10), processors=[blocker])
    first = event(0, block=True)
    pipe.emit(first)
    assert entered.wait(5)  # the writer is stuck in the processor
    later = [event(i) for i in range(1, 51)]
    for ev in later:
        pipe.emit(ev)
    assert not pipe.flush(0)
    gate.set()
    assert pipe.drain(5)
    docs = sink.documents
    originals = [d["event"]["id"] for d in docs if d["event"]["action"] == "login_failed"]
    assert originals == [first.id] + [ev.id for ev in later[-10:]]
    reports = [d for d in docs if d["event"]["action"] == "events_dropped"]
    assert len(reports) == 1
    assert reports[0]["bulletproof"]["details"] == {"dropped": 40, "reason": "memory_queue_full"}
    assert pipe.stats().overflowed == 40


def test_spool_full_while_a_sink_is_down_drops_oldest_with_a_report(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    down = CapturingSink("capture:down")
    down.fail = True
    pipe = start(
        pipelines,
        [down],
        options=options(tmp_path, segment_bytes=4096, spool_max_bytes=16384),
    )
    assert down.wait_for_failures(1)
    for i in range(200):
        pipe.emit(event(i, pad="p" * 400))
    assert pipe.flush(5)
    stats = pipe.stats()
    dropped = stats.sinks[0].dropped
    assert dropped > 0
    # Every line written is either still waiting or counted as dropped.
    assert pipe.backlog()["capture:down"] + dropped == stats.written
    assert sum(p.stat().st_size for p in (tmp_path / "spool").rglob("*.seg")) <= 16384 + 4096

    down.fail = False
    assert pipe.drain(5)
    docs = down.documents
    reports = [d for d in docs if d["event"]["action"] == "events_dropped"]
    assert reports
    for report in reports:
        details = report["bulletproof"]["details"]
        assert details["reason"] == "spool_full"
        assert details["sink"] == "capture:down"
        assert details["dropped"] > 0
    assert sum(r["bulletproof"]["details"]["dropped"] for r in reports) <= dropped
    survivors = [
        d["bulletproof"]["details"]["i"] for d in docs if d["event"]["action"] == "login_failed"
    ]
    assert survivors  # the newest events, in order, without a gap
    assert survivors == list(range(200 - len(survivors), 200))


def test_accepted_event_is_on_disk_within_the_durability_lag(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    down = CapturingSink("capture:down")
    down.fail = True  # nothing is delivered: the event can only be found on disk
    lag = 0.05
    pipe = start(pipelines, [down], options=options(tmp_path, durability_lag=lag, fsync=True))
    spool_dir = tmp_path / "spool"
    appended = threading.Event()
    pipe.spool.listeners.append(appended)
    for _ in range(3):
        ev = event()
        pipe.emit(ev)

        def on_disk(needle: bytes = ev.id.encode()) -> bool:
            return any(needle in p.read_bytes() for p in spool_dir.rglob("*.seg"))

        # Nothing flushes here: the writer reaches the disk on its own (each append sets
        # ``appended``; the pipeline's own reports are appended too). How fast is a
        # performance claim, measured by bench/events.py (durability lag p99).
        while not on_disk():
            assert appended.wait(5)
            appended.clear()


def test_flush_and_drain(tmp_path: Path, pipelines: list[EventPipeline]) -> None:
    sink = CapturingSink()
    sink.fail = True
    pipe = EventPipeline([sink], options=options(tmp_path))
    pipelines.append(pipe)
    pipe.emit(event())
    assert not pipe.flush(0)  # not started: nothing can be on disk
    pipe.start()
    assert sink.wait_for_failures(1)
    assert pipe.flush(5)  # on disk although the sink is down
    # The event and the sink_unavailable report (queued just after the refusal).
    assert until_progress(pipe, lambda: pipe.flush(0) and pipe.backlog() == {"capture:": 2})
    assert not pipe.drain(0)  # but not delivered
    sink.fail = False
    assert pipe.drain(5)
    assert pipe.backlog() == {"capture:": 0}
    assert "login_failed" in actions(sink)
    assert pipe.drain(0)  # nothing new: true at once


def test_stats(tmp_path: Path, pipelines: list[EventPipeline]) -> None:
    sink = CapturingSink()
    pipe = start(pipelines, [sink], options=options(tmp_path))
    for i in range(30):
        pipe.emit(event(i))
    assert pipe.drain(5)
    stats = pipe.stats()
    assert stats.accepted == 30
    assert stats.written == 30
    assert stats.overflowed == 0
    assert stats.processing_errors == 0
    (sink_stats,) = stats.sinks
    assert sink_stats.name == "capture:"
    assert sink_stats.delivered == 30
    assert sink_stats.failures == 0
    assert sink_stats.connected
    assert sink_stats.down_since is None
    assert sink_stats.dropped == 0


def test_unconfirmed_lines_stay_in_the_spool_and_are_resent(
    tmp_path: Path, pipelines: list[EventPipeline]
) -> None:
    sink = HoldingSink("capture:stream")
    sink.hold = 5
    pipe = start(pipelines, [sink], options=options(tmp_path))
    sent = [event(i) for i in range(20)]
    for ev in sent:
        pipe.emit(ev)
    assert sink.wait_for(20)
    assert until_progress(pipe, lambda: pipe.backlog()["capture:stream"] == 5)
    assert not pipe.drain(0)
    sink.fail = True  # the link breaks: the 5 unconfirmed lines must be sent again
    late = event(20)
    pipe.emit(late)
    assert sink.wait_for_failures(1)
    sink.hold = 0
    sink.fail = False
    assert pipe.drain(5)
    counts = collections.Counter(ids(sink))
    assert [counts[ev.id] for ev in sent] == [1] * 15 + [2] * 5
    assert counts[late.id] == 1


def test_alert_engine_is_fed_like_a_sink(tmp_path: Path, pipelines: list[EventPipeline]) -> None:
    mail = CapturingNotifier("mail")
    rule = AlertRule("auth", categories=frozenset({Category.AUTH}), notify=("mail",))
    engine = AlertEngine([rule], {"mail": mail})
    pipe = start(pipelines, [], options=options(tmp_path), alerts=engine)
    pipe.emit(event())
    assert pipe.drain(5)
    assert [a.rule for a in mail.alerts] == ["auth"]
    assert pipe.stats().sinks[0].name == "alerts"


def test_removed_consumer_is_reported(tmp_path: Path) -> None:
    first = EventPipeline(
        [CapturingSink("capture:a"), CapturingSink("capture:b")], options=options(tmp_path)
    ).start()
    first.emit(event())
    assert first.drain(5)
    first.close()
    second = EventPipeline([CapturingSink("capture:a")], options=options(tmp_path))
    try:
        assert second.removed_consumers == ["capture:b"]
    finally:
        second.close()
    third = EventPipeline([CapturingSink("capture:a")], options=options(tmp_path))
    try:
        assert third.removed_consumers == []
    finally:
        third.close()


def test_duplicate_sink_names_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="capture:a"):
        EventPipeline(
            [CapturingSink("capture:a"), CapturingSink("capture:a")], options=options(tmp_path)
        )
    assert not (tmp_path / "spool").exists()
    engine = AlertEngine([], {})
    with pytest.raises(ConfigError, match="alerts"):
        EventPipeline([CapturingSink("alerts")], options=options(tmp_path), alerts=engine)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("durability_lag", 0),
        ("durability_lag", math.inf),
        ("max_pending", 0),
        ("backoff_max", 0.001),
        ("segment_bytes", 100),
        ("spool_max_bytes", 1000),
        ("max_field_chars", 3),
    ],
)
def test_bad_options_are_config_errors(tmp_path: Path, field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=field):
        options(tmp_path, **{field: value})


@pytest.mark.parametrize(
    ("count", "pad"),
    [
        pytest.param(24_000, 2500, id="24k-fat"),
        pytest.param(200_000, 0, id="200k", marks=pytest.mark.slow),
    ],
)
def test_memory_stays_flat_while_the_only_sink_is_down(
    tmp_path: Path, pipelines: list[EventPipeline], count: int, pad: int
) -> None:
    down = CapturingSink("capture:down")
    down.fail = True
    pipe = start(pipelines, [down], options=options(tmp_path, spool_max_bytes=1 << 30))
    proc = psutil.Process()
    spool_dir = tmp_path / "spool"

    def emit_batch(start_at: int, n: int) -> None:
        for i in range(start_at, start_at + n):
            pipe.emit(event(i, pad="x" * pad))
        assert pipe.flush(30)

    emit_batch(0, 2000)  # warm up allocator and caches
    gc.collect()
    rss_before = proc.memory_info().rss
    disk_before = sum(p.stat().st_size for p in spool_dir.rglob("*.seg"))
    for start_at in range(2000, count, 2000):
        emit_batch(start_at, 2000)
    gc.collect()
    growth = proc.memory_info().rss - rss_before
    disk_growth = sum(p.stat().st_size for p in spool_dir.rglob("*.seg")) - disk_before
    assert pipe.stats().written >= count
    assert disk_growth > 50 * 1024 * 1024  # the backlog grew on disk...
    assert growth < 30 * 1024 * 1024, f"RSS grew by {growth / 1e6:.1f} MB"  # ...not in memory


def test_a_full_disk_is_said_once_retried_with_backoff_and_writes_nothing_twice(
    tmp_path: Path, pipelines: list[EventPipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import os

    from bulletproof.events import _spool as spool_module

    real_write = os.write
    full = threading.Event()
    attempts: list[int] = []
    tried = threading.Condition()

    def write(fd: int, data: Any) -> int:
        if full.is_set():
            with tried:
                attempts.append(len(data))
                tried.notify_all()
            if len(attempts) % 3 == 1 and len(data) > 10:  # sometimes part of it fits
                return real_write(fd, bytes(data)[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(spool_module, "_os_write", write)
    sink = CapturingSink()
    pipe = start(pipelines, [sink], options=options(tmp_path))
    sent = [event(i) for i in range(300)]
    for ev in sent[:100]:
        pipe.emit(ev)
    assert pipe.drain(5)
    full.set()
    for ev in sent[100:]:
        pipe.emit(ev)  # emit goes on: nothing waits for the disk
    with tried:
        assert tried.wait_for(lambda: len(attempts) >= 4, 5)  # retried, with backoff
    full.clear()
    assert pipe.drain(10)
    counts = collections.Counter(ids(sink))
    assert [counts[ev.id] for ev in sent] == [1] * 300  # each once: no line written twice
    acts = actions(sink)
    assert acts.count("spool_write_failed") == 1  # said once for the whole episode
    assert acts.count("spool_recovered") == 1
    failed = next(d for d in sink.documents if d["event"]["action"] == "spool_write_failed")
    assert failed["bulletproof"]["details"]["disk_full"] is True
    assert pipe.stats().dropped == {}


# -- what review found ---------------------------------------------------------------------------


def test_a_drop_report_not_yet_confirmed_when_the_deliverer_stopped_is_sent_by_the_next(
    tmp_path: Path,
) -> None:
    from bulletproof.events._spool import Spool

    root = tmp_path / "spool"
    gone = Spool(root, max_bytes=1 << 20, segment_bytes=1 << 16, fsync=False)
    gone.append([json.dumps({"event": {"action": "e", "id": str(i)}}).encode() for i in range(10)])
    seg = gone.segment_path(gone.current_segment)
    gone.close()
    records = seg.read_bytes().split(b"\n")
    for i in (3, 4):  # two records damaged on disk
        records[i] = b"X" + records[i][1:]
    seg.write_bytes(b"\n".join(records))

    class TakesOneBatch(CapturingSink):
        def send(self, lines: Sequence[bytes]) -> None:
            if self.lines:
                raise OSError("down")
            super().send(lines)

    first = TakesOneBatch("capture:")
    pipe = EventPipeline([first], options=options(root.parent, spool_dir=root))
    pipe.start()
    assert first.wait_for(8)
    assert not pipe.close(timeout=0.3)  # the report of the 2 lost is still owed
    second = CapturingSink("capture:")
    with EventPipeline([second], options=options(root.parent, spool_dir=root)) as again:
        assert again.drain(5)
    reports = [d for d in second.documents if d["event"]["action"] == "events_dropped"]
    assert [r["bulletproof"]["details"]["dropped"] for r in reports] == [2]
    third = CapturingSink("capture:")
    with EventPipeline([third], options=options(root.parent, spool_dir=root)) as later:
        assert later.drain(5)
    assert "events_dropped" not in actions(third)  # reported once, then marked so


def test_a_delivery_thread_left_in_send_after_close_commits_nothing(tmp_path: Path) -> None:
    stuck = BlockingSink("capture:")
    first = EventPipeline([stuck], options=options(tmp_path)).start()
    sent = [event(i) for i in range(50)]
    for ev in sent:
        first.emit(ev)
    assert stuck.entered.wait(5)
    first.close(timeout=0.2)  # gives up the lead while its thread is still inside send()
    after = CapturingSink("capture:")
    second = EventPipeline([after], options=options(tmp_path)).start()
    try:
        assert second.drain(5)
        stuck.gate.set()  # the old thread comes back and must not commit or delete anything
        first._workers[0].thread.join(5)
        third = event(99)
        second.emit(third)
        assert second.drain(5)
        assert set(ids(after)) >= {ev.id for ev in sent} | {third.id}
        assert second.stats().sinks[0].dropped == 0
        assert "events_dropped" not in actions(after)
    finally:
        second.close()


def test_close_counts_the_batch_a_stuck_writer_holds_and_never_writes_it_later(
    tmp_path: Path,
) -> None:
    """A writer that has not finished when close() gives up holds a batch taken off the queue:
    those events are counted as dropped with the rest (found on a loaded CI machine, where 853
    of 50,000 were in neither the spool nor the count), and the batch is not written after."""
    entered, gate = threading.Event(), threading.Event()

    def blocker(doc: dict[str, Any]) -> dict[str, Any]:
        if doc["bulletproof"]["details"].get("block"):
            entered.set()
            gate.wait(30)
        return doc

    sink = CapturingSink()
    pipe = EventPipeline([sink], options=options(tmp_path), processors=[blocker])
    sent = [event(i, block=(i == 3)) for i in range(20)]
    for ev in sent:
        pipe.emit(ev)  # before start: the writer takes them as one batch
    pipe.start()
    try:
        assert entered.wait(5)  # three lines in hand, stuck on the fourth, 16 in the queue
        assert not pipe.close(timeout=0.2)
        assert pipe.stats().dropped == {"spool_write_failed": 20}
    finally:
        gate.set()
    pipe._writer.join(10)
    assert not pipe._writer.is_alive()
    later = CapturingSink()
    with EventPipeline([later], options=options(tmp_path)) as second:
        assert second.drain(5)
    assert not {ev.id for ev in sent} & set(ids(sink) + ids(later))  # counted lost: not sent


def test_an_event_larger_than_the_old_scan_limit_arrives(tmp_path: Path) -> None:
    sink = CapturingSink()
    opts = options(
        tmp_path,
        max_event_bytes=16 << 20,
        max_field_chars=8 << 20,
        segment_bytes=32 << 20,
        spool_max_bytes=128 << 20,
    )
    with EventPipeline([sink], options=opts) as pipe:
        pipe.emit(SecurityEvent(action="big", category=Category.AUTH, message="m" * (5 << 20)))
        pipe.emit(SecurityEvent(action="small", category=Category.AUTH))
        assert pipe.drain(20)
    assert actions(sink) == ["big", "small"]


def test_a_long_spool_outage_keeps_reports_bounded_and_exact(
    tmp_path: Path, pipelines: list[EventPipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from bulletproof.events import _spool as spool_module

    real_write = spool_module._os_write
    full = threading.Event()

    def write(fd: int, data: Any) -> int:
        if full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(spool_module, "_os_write", write)
    sink = CapturingSink()
    pipe = start(
        pipelines,
        [sink],
        options=options(tmp_path, durability_lag=0.002, max_pending=10, backoff_max=0.005),
    )
    full.set()
    emitted = 0
    for _ in range(300):  # 300 writer rounds, all failing
        for _ in range(100):
            pipe.emit(event(emitted))
            emitted += 1
        assert pipe.wait_round()
    assert len(pipe._own) <= 2  # no report per round piling up while nothing can be written
    full.clear()
    assert pipe.drain(10)
    got = sum(1 for a in actions(sink) if a == "login_failed")
    dropped = sum(
        d["bulletproof"]["details"]["dropped"]
        for d in sink.documents
        if d["event"]["action"] == "events_dropped"
    )
    assert got + dropped == emitted


# -- time comes from the clock -------------------------------------------------------------------


class RecordingRandom:
    """Stands in for the pipeline's random source: the top of each range, and the ranges."""

    def __init__(self) -> None:
        self.ranges: list[tuple[float, float]] = []
        self._asked = threading.Condition()

    def uniform(self, low: float, high: float) -> float:
        with self._asked:
            self.ranges.append((low, high))
            self._asked.notify_all()
        return high * 0.999

    def wait_for(self, count: int) -> bool:
        with self._asked:
            return self._asked.wait_for(lambda: len(self.ranges) >= count, 5)


def test_reconnect_backoff_runs_on_the_clock_with_full_jitter(tmp_path: Path) -> None:
    from bulletproof.testing import FakeClock

    clock = FakeClock()
    down = CapturingSink("capture:down")
    down.fail = True
    # Backoffs of minutes: only the fake clock can end them within this test.
    opts = options(tmp_path, backoff_initial=100.0, backoff_max=800.0)
    pipe = EventPipeline([down], options=opts, clock=clock)
    rng = RecordingRandom()
    pipe._rng = rng  # type: ignore[assignment]
    pipe.start()
    try:
        for n in range(1, 6):
            assert down.wait_for_failures(n)
            assert rng.wait_for(n)
            clock.advance(rng.ranges[-1][1])  # the whole backoff passes, in fake time
        assert rng.ranges[:5] == [
            (0.0, 100.0),
            (0.0, 200.0),
            (0.0, 400.0),
            (0.0, 800.0),
            (0.0, 800.0),
        ]
        assert down.wait_for_failures(6)
    finally:
        pipe.close(timeout=0.2)


def test_backoff_delays_spread_over_the_whole_range(tmp_path: Path) -> None:
    pipe = EventPipeline([], options=options(tmp_path, backoff_initial=0.5, backoff_max=4.0))
    try:
        for attempt, cap in ((0, 0.5), (1, 1.0), (3, 4.0), (50, 4.0)):
            delays = [pipe._backoff(attempt) for _ in range(2000)]
            assert all(0.0 <= d <= cap for d in delays)
            assert min(delays) < 0.1 * cap  # full jitter: near zero happens ...
            assert max(delays) > 0.9 * cap  # ... and so does near the cap
    finally:
        pipe.close(timeout=0.2)


def test_a_loss_report_names_every_damaged_segment_beyond_the_region_bound() -> None:
    from bulletproof.events.pipeline import _WHERE_MAX, _Owed

    owed = _Owed()
    owed.add(25, [("slot-0/3.seg", offset, 10) for offset in range(0, 250, 10)])
    owed.add(7, [("slot-0/5.seg", 0, 700)])
    assert len(owed.where) == _WHERE_MAX
    assert owed.regions == 26
    assert list(owed.segments) == ["slot-0/3.seg", "slot-0/5.seg"]
