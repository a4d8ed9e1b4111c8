"""Acceptance: ``bulletproof events send-test`` to a Logstash-like receiver that goes down.

The sender is the real console script in a subprocess; the receiver is a real TCP JSON-lines
server (``receivers.JsonLinesReceiver``) on 127.0.0.1 that is killed hard in the middle of the
stream, stays down 10 s and comes back on the same port.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from tests.acceptance.receivers import (
    Cli,
    cli_env,
    closed_port,
    json_lines_receiver,
    poll,
    report,
    run_cli,
)

from bulletproof.clock import system_clock

pytestmark = pytest.mark.slow

COUNT = 100_000
DOWNTIME = 10.0


def send_test(port: int, count: int, spool: Path, timeout: float) -> list[str]:
    return [
        "events",
        "send-test",
        "--to",
        f"logstash://127.0.0.1:{port}",
        "--count",
        str(count),
        "--spool",
        str(spool),
        "--timeout",
        str(timeout),
        "--format",
        "json",
    ]


def _config_dir(tmp_path: Path) -> Path:
    config = tmp_path / "config"  # no config file in it: defaults
    config.mkdir()
    return config


# How the receiver reads before it dies, and how it dies:
# * steady: reads as fast as it can; plain close (the kernel resets the connection because
#   data is still arriving);
# * backpressure: reads in bursts with pauses, as a Logstash does when its pipeline (filters,
#   Elasticsearch) pushes back; dies with SO_LINGER 0 (an immediate reset);
# * stall: reads as fast as it can, then stops reading for 3 s (its pipeline is blocked) while
#   the sender keeps writing into its kernel buffer, then dies with a plain close: everything its
#   kernel acknowledged but it never read is lost on its side and must be resent.
READERS: dict[str, dict[str, Any]] = {
    "steady": {"pause": 0.0, "burst": 1 << 20},
    "backpressure": {"pause": 0.05, "burst": 16 << 20, "rst": True},
    "stall": {"pause": 0.0, "burst": 1 << 20, "stall": 3.0},
}


@pytest.mark.timeout(150)
@pytest.mark.parametrize("reader", list(READERS))
def test_receiver_down_10s_in_the_middle_loses_nothing(tmp_path: Path, reader: str) -> None:
    """Acceptance line 1: "100,000 events sent with `bulletproof events send-test --to
    logstash://127.0.0.1:PORT --count 100000 --spool DIR` while the receiver is stopped for 10 s
    in the middle and restarted: all 100,000 event ids arrive (duplicates allowed, counted and
    reported)."
    """
    env = cli_env(_config_dir(tmp_path))
    spool = tmp_path / "spool"
    with (
        json_lines_receiver(kill_at=COUNT // 2, **READERS[reader]) as rx,
        Cli(*send_test(rx.port, COUNT, spool, 110), cwd=tmp_path, env=env) as sender,
    ):
        assert poll(lambda: rx.stopping or not sender.running, 60), rx.snapshot()
        assert rx.stopping, f"the sender exited before the receiver saw half: {rx.snapshot()}"
        rx.wait_dead()
        killed_at = system_clock.monotonic() - sender.started
        at_kill = rx.snapshot()
        seen = at_kill["lines"]
        assert 0.4 * COUNT <= seen <= 0.6 * COUNT, at_kill
        threading.Event().wait(DOWNTIME)  # the outage itself: the receiver stays down 10 s
        rx.start()  # same port
        result = sender.finish(130)
        run = result.json.get("run", "")
        # The sender counts an event as delivered once the receiver's kernel took it (or later);
        # give the receiver thread a moment to parse what is already in its socket buffer.
        poll(lambda: rx.store.distinct(run) >= COUNT, 10)
        after = rx.snapshot()
        store = rx.store
        seqs = store.seqs.get(run, set())
        missing = sorted(set(range(COUNT)) - seqs)
        duplicates = store.copies[run] - len(seqs)
    figures = (
        f"reader={reader}: killed at {killed_at:.1f}s after {seen} lines, sender exited after "
        f"{result.seconds:.1f}s (exit {result.code}); received {after['lines']} lines, "
        f"{len(seqs)} distinct of run {run}, {duplicates} duplicates, {len(missing)} missing "
        f"(first: {missing[:10]}), other events {after['other']}, "
        f"{after['connections']} connections, {after['discarded_bytes']} unread bytes discarded "
        "by the kill"
    )
    report(figures)
    assert result.code == 0, f"{figures}\nstdout: {result.stdout}\nstderr: {result.stderr[-3000:]}"
    out = result.json
    assert out["emitted"] == out["delivered"] == COUNT, f"{out} / {figures}"
    assert out["interrupted"] is False, out
    assert out["sink"] == f"logstash://127.0.0.1:{rx.port}"
    assert not missing, figures
    assert seqs == set(range(COUNT)), figures
    assert not store.mismatched, f"a resent event changed its id: {store.mismatched[:5]}"
    assert not store.bad, f"receiver got lines that are not JSON: {store.bad[:3]}"
    # The outage is reported in the stream itself, after the fact.
    assert after["other"].get("sink_unavailable", 0) >= 1, figures
    assert after["other"].get("sink_recovered", 0) >= 1, figures


@pytest.mark.timeout(60)
def test_closed_port_leaves_events_in_the_spool_for_the_next_run(tmp_path: Path) -> None:
    """CLI check: `bulletproof events send-test --to logstash://127.0.0.1:CLOSED_PORT --count 10
    --timeout 2 --format json` exits 3, prints delivered 0, and a second run with the receiver up
    delivers the 10 left in the spool plus 10 new.
    """
    env = cli_env(_config_dir(tmp_path))
    spool = tmp_path / "spool"
    port = closed_port()
    first = run_cli(*send_test(port, 10, spool, 2), cwd=tmp_path, env=env, timeout=30)
    assert first.code == 3, f"{first}"
    out1 = first.json
    assert out1["emitted"] == 10, out1
    assert out1["delivered"] == 0, out1
    assert out1["interrupted"] is False, out1
    assert len(first.stdout.splitlines()) == 1, first.stdout  # one JSON document, nothing else
    assert first.seconds < 15, f"--timeout 2 took {first.seconds:.1f}s"

    with json_lines_receiver(port=port) as rx:
        second = run_cli(*send_test(port, 10, spool, 20), cwd=tmp_path, env=env, timeout=40)
        out2 = second.json
        assert second.code == 0, f"{second}"
        assert out2["emitted"] == out2["delivered"] == 10, out2
        runs = {out1["run"]: 10, out2["run"]: 10}
        assert poll(lambda: all(rx.store.distinct(r) >= n for r, n in runs.items()), 5), (
            rx.snapshot()
        )
        store = rx.store
        assert {run: store.seqs.get(run) for run in runs} == {
            run: set(range(10)) for run in runs
        }, rx.snapshot()
        assert set(store.seqs) == set(runs), rx.snapshot()
        report(
            f"closed port: first run exit {first.code} in {first.seconds:.1f}s; second run "
            f"delivered {sum(store.copies.values())} test lines "
            f"({store.copies[out1['run']]} of run 1, {store.copies[out2['run']]} of run 2) "
            f"in {second.seconds:.1f}s; other events {dict(store.actions)}"
        )
        # The first run could not connect at all: its outage is reported to the same sink.
        assert store.actions.get("sink_unavailable", 0) >= 1, rx.snapshot()


@pytest.mark.timeout(60)
def test_hung_receiver_that_is_restarted_loses_nothing(tmp_path: Path) -> None:
    """Acceptance line 1: "... while the receiver is stopped for 10 s in the middle and
    restarted: all ... event ids arrive (duplicates allowed, counted and reported)."

    The receiver here stops the way a Logstash whose pipeline is blocked does: it keeps the
    connection open, its kernel acknowledges what arrives, but it reads nothing; then it is
    restarted. Nothing it never read may be counted as delivered: the events must still be in
    the spool, and a second send-test on the same spool must deliver them.
    """
    env = cli_env(_config_dir(tmp_path))
    spool = tmp_path / "spool"
    count = 100  # about 50 KB: fits in the receiver's kernel buffer
    with json_lines_receiver(pause=3600.0) as rx:  # accepts, never reads
        first = run_cli(*send_test(rx.port, count, spool, 5), cwd=tmp_path, env=env, timeout=30)
        out1 = first.json
        rx.kill()  # plain close: its kernel throws away the unread events
        hung = rx.snapshot()
        rx.pause = 0.0
        rx.start()
        second = run_cli(*send_test(rx.port, 1, spool, 20), cwd=tmp_path, env=env, timeout=40)
        out2 = second.json
        run1 = out1["run"]
        poll(lambda: rx.store.distinct(run1) >= count, 5)
        got = rx.store.seqs.get(run1, set())
        figures = (
            f"run 1 against the hung receiver: exit {first.code} after {first.seconds:.1f}s, "
            f"{out1}; the receiver read {hung['lines']} lines and {hung['discarded_bytes']} "
            f"bytes were unread when it died; run 2: exit {second.code}, {out2}; run 1 events "
            f"received in the end: {len(got)}/{count}"
        )
        report(figures)
        assert hung["lines"] == 0, figures
        assert got == set(range(count)), (
            f"events the receiver never read were counted as delivered and dropped from the "
            f"spool: {figures}"
        )
        assert first.code == 3, figures
        assert out1["delivered"] == 0, figures
        assert second.code == 0, figures
