"""The alert engine's state on disk: what a deliverer that exits, dies or forks hands on.

Two engines on one state file stand for two processes, the first one gone the moment the
second attaches (a kill -9 leaves the file as it was at its last write). The real processes
and the kill are in ``test_processes.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tests.events.test_alerts import event, line

from bulletproof.events import _alertlog
from bulletproof.events._alertlog import AlertLog
from bulletproof.events.alerts import Alert, AlertEngine, AlertRule
from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.testing import CapturingNotifier, FakeClock


def rule(**kw: Any) -> AlertRule:
    fields: dict[str, Any] = {
        "categories": frozenset({Category.AUTH}),
        "threshold": 3,
        "within": 60,
        "group_by": "source.ip",
        "cooldown": 300,
        "notify": ("email",),
    }
    fields.update(kw)
    return AlertRule("brute-force", **fields)


class Process:
    """One engine attached to the state file, as a delivering process has it."""

    def __init__(self, state: Path, clock: FakeClock, **kw: Any) -> None:
        self.email = CapturingNotifier("smtp://ops@mail.example.com:587")
        self.engine = AlertEngine(
            [kw.pop("rule", rule())], {"email": self.email}, clock=clock, **kw
        )
        self.engine.attach(state, fsync=False)

    def send(self, *events: SecurityEvent) -> None:
        self.engine.send([line(ev) for ev in events])

    @property
    def alerts(self) -> list[Alert]:
        return self.email.alerts


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "alerts.state"


def test_the_next_deliverer_keeps_the_cooldown_and_sends_one_digest_of_both(
    state: Path, clock: FakeClock
) -> None:
    first = Process(state, clock)
    first.send(*(event(clock) for _ in range(5)))  # an alert, then two held back
    assert [(a.digest, a.count) for a in first.alerts] == [(False, 3)]
    clock.advance(10)
    second = Process(state, clock)  # the first is gone (exited, or killed)
    second.send(*(event(clock) for _ in range(4)))
    assert second.alerts == []  # within the cooldown the first started
    clock.advance(300)
    second.engine.tick()
    ((digest,),) = [second.alerts]
    assert digest.digest
    assert digest.suppressed == 6  # the two the first held back, and the four since


def test_an_alert_whose_notification_was_not_made_is_made_by_the_next_deliverer(
    state: Path, clock: FakeClock
) -> None:
    first = Process(state, clock)

    def dies(alert: Alert) -> None:
        raise KeyboardInterrupt  # stands for the kill: nothing after this line runs

    first.email.notify = dies  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        first.send(*(event(clock) for _ in range(3)))
    second = Process(state, clock)
    second.engine.tick()  # at once: it was due when the first died
    assert [(a.rule, a.count) for a in second.alerts] == [("brute-force", 3)]
    third = Process(state, clock)  # it was made: nobody makes it again
    third.engine.tick()
    clock.advance(3600)
    third.engine.tick()
    assert third.alerts == []


def test_a_pending_retry_keeps_its_backoff_across_deliverers(state: Path, clock: FakeClock) -> None:
    first = Process(state, clock, retry_delays=(30,))
    first.email.fail = True
    first.send(*(event(clock) for _ in range(3)))
    second = Process(state, clock, retry_delays=(30,))
    second.engine.tick()
    assert second.alerts == []  # not before its retry is due
    clock.advance(31)
    second.engine.tick()
    assert len(second.alerts) == 1
    assert second.email.attempts == 1


def test_a_batch_given_again_after_a_crash_is_not_counted_twice(
    state: Path, clock: FakeClock
) -> None:
    batch = [event(clock), event(clock)]
    first = Process(state, clock)
    first.send(*batch)  # counted; the process dies before the spool commits the batch
    second = Process(state, clock)
    second.send(*batch)  # the spool gives the same batch to the next deliverer
    assert second.alerts == []
    second.send(event(clock))
    assert [a.count for a in second.alerts] == [3]


def test_a_cooldown_that_ended_while_nobody_delivered_sends_its_digest_at_once(
    state: Path, clock: FakeClock
) -> None:
    first = Process(state, clock)
    first.send(*(event(clock) for _ in range(4)))
    clock.advance(3600)  # nobody delivers for an hour
    second = Process(state, clock)
    second.engine.tick()
    clock.advance(0.01)
    second.engine.tick()
    assert [(a.digest, a.suppressed) for a in second.alerts] == [(True, 1)]


def test_a_rule_the_new_configuration_lacks_is_forgotten(state: Path, clock: FakeClock) -> None:
    first = Process(state, clock)
    first.email.fail = True
    first.send(*(event(clock) for _ in range(5)))
    other = rule()
    second = Process(
        state,
        clock,
        rule=AlertRule(
            "another",
            **{
                k: getattr(other, k)
                for k in ("categories", "threshold", "within", "group_by", "notify")
            },
        ),
    )
    second.engine.tick()
    clock.advance(3600)
    second.engine.tick()
    assert second.alerts == []
    second.send(*(event(clock) for _ in range(3)))
    assert [a.rule for a in second.alerts] == ["another"]


def test_what_is_kept_of_an_event_is_bounded(state: Path, clock: FakeClock) -> None:
    first = Process(state, clock, rule=rule(threshold=1))
    huge = "x" * 50_000
    first.send(event(clock))
    first.engine.observe(  # given directly, not decoded from a spooled line
        SecurityEvent(
            action="login_failed",
            category=Category.AUTH,
            severity=Severity.MEDIUM,
            source_ip="203.0.113.9",
            user_name=huge,
            url_path="/" + huge,
            user_agent=huge,
            message=huge,
            details={"blob": huge},
            timestamp=clock.time(),
        )
    )
    assert state.stat().st_size < 4096
    kept = first.engine._states[("brute-force", "203.0.113.9")].newest
    assert kept is not None
    assert kept.details == {}
    assert kept.user_agent is None
    assert max(len(kept.message), len(kept.url_path or ""), len(kept.user_name or "")) <= 256


def test_damaged_records_are_skipped_and_the_rest_kept(state: Path, clock: FakeClock) -> None:
    first = Process(state, clock, rule=rule(threshold=1))
    first.send(event(clock, ip="198.51.100.1"))  # alerted: a cooldown
    first.send(event(clock, ip="198.51.100.2"))
    data = state.read_bytes()
    cut = data.index(b"198.51.100.2")
    state.write_bytes(data[:cut] + b"#" + data[cut + 1 :] + b"torn half of a rec")
    second = Process(state, clock, rule=rule(threshold=1))
    second.send(event(clock, ip="198.51.100.1"), event(clock, ip="198.51.100.2"))
    # The first key's cooldown held; the damaged record's key started afresh (and alerted).
    assert [a.key for a in second.alerts] == ["198.51.100.2"]


def test_the_state_file_is_rewritten_when_it_grows_and_stays_readable(
    state: Path, clock: FakeClock
) -> None:
    first = Process(state, clock, rule=rule(threshold=1_000, within=3600, cooldown=0))
    for _ in range(2_999):
        first.send(event(clock))
    assert state.stat().st_size < 2 << 20
    second = Process(state, clock, rule=rule(threshold=1_000, within=3600, cooldown=0))
    second.send(event(clock))
    # Two alerts, and 999 counted towards the next: one more makes it at once.
    assert [a.count for a in first.alerts] == [1000, 1000]
    assert [a.count for a in second.alerts] == [1000]


def test_a_state_file_that_cannot_be_written_leaves_the_engine_working(
    state: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Process(state, clock)
    real_write = os.write

    def full(fd: int, data: Any) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_alertlog, "_os_write", full)
    first.send(*(event(clock) for _ in range(4)))
    assert len(first.alerts) == 1  # alerting goes on
    monkeypatch.setattr(_alertlog, "_os_write", real_write)
    first.send(event(clock))  # room again: the whole state is written
    second = Process(state, clock)
    second.send(event(clock))
    assert second.alerts == []  # the cooldown reached the disk once it could
    clock.advance(300)
    second.engine.tick()
    assert [a.suppressed for a in second.alerts] == [3]


def test_the_state_file_holds_records_a_reader_can_check(state: Path, clock: FakeClock) -> None:
    Process(state, clock).send(*(event(clock) for _ in range(3)))
    log = AlertLog(state)
    records = log.load()
    assert log.damaged == 0
    assert any(r["t"] == "k" for r in records)
    assert all(json.dumps(r) for r in records)


def test_an_unreadable_state_is_said_and_alerts_start_afresh(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    where = tmp_path / "alerts.state"
    where.mkdir()  # not a file: cannot be read
    log = AlertLog(where)
    with caplog.at_level("WARNING", logger="bulletproof"):
        assert log.load() == []
    assert "cannot read the alert state" in caplog.text
    assert str(where) in caplog.text


def test_a_state_that_cannot_be_rewritten_is_said_once_and_kept_as_it_was(
    state: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = Process(state, clock)
    first.send(*(event(clock) for _ in range(3)))
    before = state.read_bytes()

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    log = AlertLog(state, fsync=False)
    with caplog.at_level("WARNING", logger="bulletproof"):
        assert not log.rewrite([{"t": "s", "ids": ["a"]}])
        assert not log.rewrite([{"t": "s", "ids": ["a"]}])
    assert caplog.text.count("cannot write the alert state") == 1
    assert state.read_bytes() == before
    assert not (state.parent / "alerts.state.tmp").exists()


# -- what a review found: each replays one sequence --------------------------------------------


def test_an_alert_whose_batch_rewrote_the_state_is_still_made_after_a_crash(
    state: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_alertlog, "_MIN_COMPACT", 0)  # the file is rewritten as it grows
    first = Process(state, clock)
    first.send(event(clock, ip="192.0.2.1"))  # grows it: the next batch rewrites it

    def dies(alert: Alert) -> None:
        raise KeyboardInterrupt

    first.email.notify = dies  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        first.send(*(event(clock) for _ in range(3)))
    second = Process(state, clock)
    second.engine.tick()
    assert [a.count for a in second.alerts] == [3]


def test_a_batch_whose_write_failed_reaches_the_disk_with_the_next_one(
    state: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:

    first = Process(state, clock)
    real = os.write
    failures = [1]

    def once_full(fd: int, data: Any) -> int:
        if failures[0]:
            failures[0] -= 1
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(_alertlog, "_os_write", once_full)
    first.send(*(event(clock, ip="198.51.100.1") for _ in range(3)))  # its record fails
    assert len(first.alerts) == 1  # and the 'sent' record after it is not what makes it right
    clock.advance(5)
    first.send(event(clock, ip="198.51.100.2"))
    second = Process(state, clock)
    second.send(*(event(clock, ip="198.51.100.1") for _ in range(3)))
    assert second.alerts == []  # the first key's cooldown reached the disk


def test_a_state_that_cannot_be_rewritten_is_tried_again_only_now_and_then(
    state: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Process(state, clock)
    first.send(*(event(clock) for _ in range(3)))

    tries: list[int] = []

    def refuse(*args: Any) -> bool:
        tries.append(1)
        return False

    monkeypatch.setattr(first.engine._log, "rewrite", refuse)
    first.engine._log.stale = True  # type: ignore[union-attr]
    for _ in range(20):
        first.engine.tick()
    assert len(tries) == 1  # not on every tick of a full disk
    clock.advance(6)
    first.engine.tick()
    assert len(tries) == 2


def test_a_shorter_cooldown_in_the_new_configuration_is_what_holds(
    state: Path, clock: FakeClock
) -> None:
    first = Process(state, clock)
    first.send(*(event(clock) for _ in range(3)))
    second = Process(state, clock, rule=rule(cooldown=0))
    second.send(*(event(clock) for _ in range(12)))
    assert [a.count for a in second.alerts] == [3, 3, 3, 3]


def test_keys_come_back_least_recently_used_first(state: Path, clock: FakeClock) -> None:
    one = rule(threshold=1)
    first = Process(state, clock, rule=one, max_keys=2)
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.1"):
        first.send(event(clock, ip=ip))
    second = Process(state, clock, rule=one, max_keys=2)
    assert [k for _, k in second.engine._states] == ["10.0.0.2", "10.0.0.1"]
    second.send(event(clock, ip="10.0.0.3"))  # evicts the least recently used
    assert [k for _, k in second.engine._states] == ["10.0.0.1", "10.0.0.3"]


def test_a_batch_larger_than_the_default_window_is_still_not_counted_twice(
    state: Path, clock: FakeClock
) -> None:
    two = rule(threshold=2)
    batch = [event(clock, ip=f"10.{i // 256}.{i % 256}.1") for i in range(12_000)]
    first = AlertEngine([two], {"email": CapturingNotifier()}, clock=clock)
    first.attach(state, fsync=False, batch_lines=12_000)
    first.send([line(ev) for ev in batch])
    email = CapturingNotifier()
    second = AlertEngine([two], {"email": email}, clock=clock)
    second.attach(state, fsync=False, batch_lines=12_000)
    second.send([line(ev) for ev in batch])  # given again: none of them counts twice
    assert email.alerts == []
    second.send([line(event(clock, ip="10.0.0.1"))])
    assert [(a.key, a.count) for a in email.alerts] == [("10.0.0.1", 2)]


def test_notifications_over_the_bound_when_read_back_are_the_oldest_and_are_said(
    state: Path, clock: FakeClock
) -> None:
    from tests.events.test_alerts import ListEmitter

    one = rule(threshold=1)
    first = Process(state, clock, rule=one, retry_delays=(60,))
    first.email.fail = True
    for i in range(5):
        first.send(event(clock, ip=f"10.0.0.{i}"))
    said = ListEmitter()
    email = CapturingNotifier("smtp://ops@mail.example.com:587")
    second = AlertEngine([one], {"email": email}, clock=clock, emitter=said, max_pending_retries=3)
    second.attach(state, fsync=False)
    assert said.actions.count("notification_abandoned") == 2
    clock.advance(61)
    second.tick()
    assert sorted(a.key for a in email.alerts) == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert second._notes >= 5  # ids are not reused


def test_a_real_fork_leaves_the_child_none_of_an_attached_engines_state(
    state: Path, clock: FakeClock
) -> None:
    first = Process(state, clock)
    first.email.fail = True
    first.send(*(event(clock) for _ in range(5)))
    plain = AlertEngine([rule()], {"email": CapturingNotifier()}, clock=clock)
    plain.observe(event(clock))
    pid = os.fork()
    if pid == 0:  # no hand-made reset: only what os.fork runs
        code = 1
        try:
            stats = first.engine.stats()
            ok = (
                stats.pending_retries == 0
                and stats.matched == 0
                and not first.engine.attached
                and plain.stats().matched == 1  # not attached: keeps its own counts
            )
            code = 0 if ok else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert first.engine.attached  # the parent goes on
    assert first.engine.stats().pending_retries == 1


def test_what_max_alerts_held_back_and_spent_is_handed_on(state: Path, clock: FakeClock) -> None:
    capped = rule(threshold=1, max_alerts=3, max_alerts_within=600)
    first = Process(state, clock, rule=capped)
    for i in range(5):
        first.send(event(clock, ip=f"10.0.0.{i}"))
    assert len(first.alerts) == 3
    clock.advance(10)
    second = Process(state, clock, rule=capped)
    second.send(event(clock, ip="10.0.0.9"))  # the first spent the three of this window
    second.engine.tick()
    assert second.alerts == []
    clock.advance(600)
    second.engine.tick()
    ((summary,),) = [second.alerts]
    assert (summary.held, summary.keys) == (3, ("10.0.0.3", "10.0.0.4", "10.0.0.9"))
