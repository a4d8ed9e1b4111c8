"""Acceptance: SIGTERM to ``bulletproof events send-test`` halfway, then a second run resumes.

The sender is the real console script; the receiver a real TCP JSON-lines server on 127.0.0.1
that reads slowly during the first run, so events are still undelivered when SIGTERM arrives.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from tests.acceptance.receivers import Cli, cli_env, json_lines_receiver, poll, report, run_cli

from bulletproof.clock import system_clock

pytestmark = pytest.mark.slow

COUNT = 100_000
EXIT_GRACE = 10.0  # send-test gives the pipeline 5 s to flush on exit; allow start-up and slack


def _args(port: int, spool: Path, timeout: float) -> list[str]:
    return [
        "events",
        "send-test",
        "--to",
        f"logstash://127.0.0.1:{port}",
        "--count",
        str(COUNT),
        "--spool",
        str(spool),
        "--timeout",
        str(timeout),
        "--format",
        "json",
    ]


def _spooled(spool: Path) -> float:
    """About how much of the COUNT test events the spool holds (1.0: emitting is over)."""
    segments = sorted(spool.glob("slot-*/*.seg"))
    if not segments:
        return 0.0
    with segments[0].open("rb") as f:
        first = f.readline()
    if not first.endswith(b"\n"):
        return 0.0
    total = 0
    for seg in segments:
        try:
            total += seg.stat().st_size
        except FileNotFoundError:
            continue
    # Later lines are longer than the first (more digits), so this reaches 1.0 only near the end.
    return total / (COUNT * len(first))


@pytest.mark.timeout(150)
@pytest.mark.parametrize("when", ["emitting", "draining"])
def test_sigterm_halfway_then_second_run_on_the_same_spool_loses_nothing(
    tmp_path: Path, when: str
) -> None:
    """Acceptance line 2: "The same with SIGTERM sent to the sender halfway (it flushes on
    exit) followed by a second run on the same spool: nothing lost."

    ``emitting``: SIGTERM while send-test is still emitting; ``draining``: SIGTERM once every
    event is in the spool and send-test only waits for delivery (the usual case halfway through
    the delivery of 100,000 events to a slow receiver).
    """
    config = tmp_path / "config"
    config.mkdir()
    env = cli_env(config)
    spool = tmp_path / "spool"
    # About 1.3 MB/s: far slower than the sender, so most events still wait at SIGTERM time.
    with json_lines_receiver(pause=0.05, burst=64 << 10) as rx:
        with Cli(*_args(rx.port, spool, 60), cwd=tmp_path, env=env) as sender:
            # "emitting": SIGTERM while send-test still emits; "draining": once every event is
            # in the spool and send-test only waits for delivery.
            # A quarter of the events is more than the slow receiver can take in the 5 s the
            # sender flushes for on exit, however slowly a loaded machine emits them.
            def ready() -> bool:
                return _spooled(spool) >= (0.25 if when == "emitting" else 1.0)

            seen_some = poll(lambda: (rx.store.lines >= 2000 and ready()) or not sender.running, 40)
            assert seen_some, f"receiver saw too little: {rx.snapshot()}"
            assert sender.running, f"sender exited before SIGTERM; receiver {rx.snapshot()}"
            at_signal = rx.snapshot()
            signalled = system_clock.monotonic()
            sender.proc.send_signal(signal.SIGTERM)
            first = sender.finish(60)
        started = sender.started
        exit_after = system_clock.monotonic() - signalled
        # The first receiver dies hard, throwing away what its kernel still held unread.
        rx.kill()
        read_by_first = rx.snapshot()
        out1 = first.json
        figures1 = (
            f"run 1 ({when}): SIGTERM at {signalled - started:.1f}s after "
            f"{at_signal['lines']} lines received; exited {exit_after:.1f}s later with code "
            f"{first.code}: {out1}; "
            f"receiver had read {read_by_first['lines']} lines, "
            f"{read_by_first['discarded_bytes']} bytes unread at its kill"
        )
        report(figures1)
        assert exit_after <= EXIT_GRACE, f"sender took {exit_after:.1f}s to exit: {figures1}"
        assert out1["interrupted"] is True, figures1
        k = out1["emitted"]
        assert 0 < k <= COUNT, figures1
        assert out1["delivered"] < k, f"the slow receiver cannot have taken everything: {figures1}"
        assert first.code == 3, f"{figures1}\nstderr: {first.stderr[-2000:]}"

        # The receiver comes back at full speed on the same port; run 2 on the same spool.
        rx.pause = 0.0
        rx.burst = 1 << 20
        rx.start()
        second = run_cli(*_args(rx.port, spool, 90), cwd=tmp_path, env=env, timeout=110)
        out2 = second.json
        run1, run2 = out1["run"], out2["run"]
        assert run1 != run2
        poll(lambda: rx.store.distinct(run1) >= k and rx.store.distinct(run2) >= COUNT, 10)
        store = rx.store
        missing1 = sorted(set(range(k)) - store.seqs.get(run1, set()))
        missing2 = sorted(set(range(COUNT)) - store.seqs.get(run2, set()))
        dupes = {run: store.copies[run] - len(store.seqs.get(run, ())) for run in (run1, run2)}
    figures2 = (
        f"run 2 ({when}): exit {second.code} after {second.seconds:.1f}s: {out2}; run 1: "
        f"{len(store.seqs.get(run1, ()))}/{k} distinct, {dupes[run1]} duplicates, "
        f"missing {len(missing1)} (first {missing1[:10]}); run 2: "
        f"{len(store.seqs.get(run2, ()))}/{COUNT} distinct, {dupes[run2]} duplicates, missing "
        f"{len(missing2)} (first {missing2[:10]}); other events {dict(store.actions)}"
    )
    report(figures2)
    assert second.code == 0, f"{figures2}\nstderr: {second.stderr[-2000:]}"
    assert out2["emitted"] == out2["delivered"] == COUNT, figures2
    assert out2["interrupted"] is False, figures2
    assert not missing1, figures2
    assert not missing2, figures2
    assert store.seqs[run1] == set(range(k)), figures2  # nothing beyond what run 1 emitted
    assert set(store.seqs) == {run1, run2}, figures2
    assert not store.mismatched, f"a resent event changed its id: {store.mismatched[:5]}"
    assert not store.bad, f"receiver got lines that are not JSON: {store.bad[:3]}"
