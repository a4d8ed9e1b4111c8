"""The supervisor's state machine, driven by inputs with injected time: no process, no sleep."""

from __future__ import annotations

import itertools
import random
import signal
from typing import Any

import pytest

from bulletproof.events.model import Category, Severity
from bulletproof.supervise import RunConfig
from bulletproof.supervise._machine import (
    GAVE_UP,
    Action,
    Drain,
    Emit,
    ExitStatus,
    Finish,
    Kill,
    Machine,
    Probe,
    Sample,
    Signal,
    Spawn,
)
from bulletproof.testing import FakeClock

CRASH = ExitStatus(code=1)


class Driver:
    """A machine plus the bookkeeping a runner does: pids for spawns, the events emitted."""

    def __init__(self, **options: Any) -> None:
        self.config = RunConfig(**options)
        self.clock = FakeClock()
        self.m = Machine(self.config, program="app", clock=self.clock, rng=random.Random(7))  # noqa: S311
        self.now = 0.0
        self.next_pid = 100
        self.pids: dict[int, int] = {}  # gen -> pid
        self.events: list[Any] = []
        self.actions: list[Action] = []
        self.finish: Finish | None = None
        self.spawn_ok = True

    def feed(self, actions: list[Action]) -> list[Action]:
        """Carry out spawns (as a runner would) and record everything."""
        out: list[Action] = []
        queue = list(actions)
        while queue:
            a = queue.pop(0)
            out.append(a)
            self.actions.append(a)
            if isinstance(a, Spawn):
                if self.spawn_ok:
                    self.next_pid += 1
                    self.pids[a.gen] = self.next_pid
                    queue.extend(self.m.spawned(a.gen, self.next_pid, self.now))
                else:
                    queue.extend(self.m.spawn_failed(a.gen, "'app' was not found", self.now))
            elif isinstance(a, Emit):
                self.events.append(a.event)
            elif isinstance(a, Finish):
                self.finish = a
        return out

    def outcome(self) -> Finish | None:
        return self.finish

    def start(self) -> list[Action]:
        return self.feed(self.m.start(self.now))

    def at(self, t: float) -> list[Action]:
        self.now = t
        return self.feed(self.m.tick(t))

    def run_until(self, t: float, step: float = 0.01) -> list[Action]:
        out: list[Action] = []
        while self.now < t:
            deadline = self.m.next_deadline()
            nxt = min(t, deadline if deadline is not None and deadline > self.now else t)
            nxt = max(nxt, self.now + step) if nxt <= self.now else nxt
            out.extend(self.at(nxt))
        return out

    def crash(self, gen: int | None = None, status: ExitStatus = CRASH) -> list[Action]:
        gen = self.current() if gen is None else gen
        return self.feed(self.m.exited(self.pids[gen], status, self.now))

    def current(self) -> int:
        gen = self.m.current_gen()
        assert gen is not None
        return gen

    def actions_named(self, name: str) -> list[str]:
        return [e.action for e in self.events if e.action == name]


def kinds(actions: list[Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_the_first_crash_restarts_at_once_then_backoff_doubles_to_the_ceiling() -> None:
    d = Driver(backoff_min=0.5, backoff_max=8.0, healthy_after=30.0)
    d.start()
    delays = []
    for _ in range(10):
        before = d.m.current_gen()
        d.crash()
        restarting = [e for e in d.events if e.action == "process_restarting"][-1]
        delays.append(restarting.details["delay"])
        # the wait is a deadline, not a sleep: nothing is spawned until it passes
        if restarting.details["delay"] > 0:
            assert d.m.current_gen() is None or d.m.current_gen() == before
            d.run_until(d.now + restarting.details["delay"] + 0.001)
        assert d.m.current_gen() is not None
        assert d.m.current_gen() != before
    assert delays[0] == 0.0
    nominal = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0, 8.0]
    for got, want in zip(delays[1:], nominal, strict=True):
        assert 0.75 * want <= got <= want, (got, want)  # up to 25% jitter, below the nominal
    assert len(set(delays[5:])) > 1  # jittered, not a fixed beat


def test_an_instance_up_for_healthy_after_resets_the_backoff() -> None:
    d = Driver(backoff_min=1.0, backoff_max=60.0, healthy_after=30.0)
    d.start()
    d.crash()  # 1st: at once
    d.crash()  # 2nd: ~1 s
    d.run_until(d.now + 1.01)
    d.run_until(d.now + 31.0)  # healthy for 31 s
    d.crash()
    restarting = [e for e in d.events if e.action == "process_restarting"][-1]
    assert restarting.details == {
        "program": "app",
        "delay": 0.0,
        "consecutive": 1,
        "cause": "crash",
    }


def test_max_restarts_within_gives_up_with_a_clear_status_and_a_critical_event() -> None:
    d = Driver(max_restarts=3, restarts_within=60.0, backoff_min=0.1, backoff_max=0.1)
    d.start()
    for _ in range(3):
        d.crash()
        d.run_until(d.now + 0.2)
    assert d.finish is None
    d.crash()
    finish = d.outcome()
    assert isinstance(finish, Finish)
    assert finish.code == GAVE_UP == 3
    assert "3 restarts within 60 s" in finish.message
    gave_up = d.events[-1]
    assert gave_up.action == "process_gave_up"
    assert gave_up.severity is Severity.CRITICAL
    assert gave_up.category is Category.PROCESS
    assert d.m.finished


def test_restarts_outside_the_window_do_not_count_toward_giving_up() -> None:
    d = Driver(max_restarts=2, restarts_within=10.0, backoff_min=0.1, backoff_max=0.1)
    d.start()
    for _ in range(6):
        d.crash()
        d.run_until(d.now + 6.0)  # two restarts never fall within 10 s of a third
    assert d.finish is None


def test_by_default_a_crash_loop_never_gives_up() -> None:
    d = Driver(backoff_min=0.01, backoff_max=0.05)
    d.start()
    for _ in range(500):
        d.crash()
        d.run_until(d.now + 0.06)
    assert d.finish is None
    assert len(d.actions_named("process_exited")) == 500


def test_a_command_that_cannot_start_finishes_with_2_and_is_not_retried() -> None:
    d = Driver()
    d.spawn_ok = False
    d.start()
    assert d.finish is not None
    assert d.finish.code == 2
    assert "not found" in d.finish.message
    assert d.m.next_deadline() is None
    assert kinds(d.actions).count("Spawn") == 1


def test_a_later_spawn_failure_is_a_crash_with_backoff() -> None:
    d = Driver(backoff_min=1.0)
    d.start()
    d.spawn_ok = False
    d.crash()  # restart at once: spawn fails -> another restart, with backoff
    assert d.finish is None
    assert d.actions_named("process_spawn_failed")
    assert d.m.next_deadline() is not None
    d.spawn_ok = True
    d.run_until(d.now + 1.01)
    assert d.m.current_gen() is not None


def test_health_misses_in_a_row_mean_hung_the_tree_is_killed_and_restarted_at_once() -> None:
    d = Driver(health_url="http://127.0.0.1:1/", health_interval=1.0, health_timeout=0.5)
    d.start()
    gen = d.current()
    probes = [(a.gen, a.targeted) for a in d.run_until(0.3) if isinstance(a, Probe)]
    assert probes == [(gen, False)]
    d.feed(d.m.probed(gen, True, "HTTP 200", d.now))
    misses = 0
    while misses < 3:
        acts = d.run_until(d.now + 1.0)
        for a in acts:
            if isinstance(a, Probe):
                misses += 1
                d.feed(d.m.probed(gen, False, "timed out", d.now))
    assert d.actions_named("process_hung")
    assert Kill(gen) in d.actions
    d.crash(gen, ExitStatus(signal=signal.SIGKILL))
    restarting = [e for e in d.events if e.action == "process_restarting"][-1]
    assert restarting.details["cause"] == "hang"
    assert restarting.details["delay"] == 0.0
    assert d.m.current_gen() not in (None, gen)


def test_misses_before_the_first_pass_do_not_count_until_start_timeout() -> None:
    d = Driver(health_url="http://127.0.0.1:1/", health_interval=1.0, start_timeout=5.0)
    d.start()
    gen = d.current()
    for _ in range(20):
        for a in d.run_until(d.now + 0.2):
            if isinstance(a, Probe):
                d.feed(d.m.probed(gen, False, "refused", d.now, up=False))
    assert not d.actions_named("process_hung")
    d.run_until(5.1)
    hung = d.events[-1]
    assert hung.action == "process_hung"
    assert "start_timeout" in hung.details["why"]


def test_a_server_that_took_the_connection_but_does_not_answer_misses_before_its_first_pass() -> (
    None
):
    d = Driver(health_url="http://127.0.0.1:1/", health_interval=1.0, health_failures=2)
    d.start()
    gen = d.current()
    for _ in range(3):
        for a in d.run_until(d.now + 1.0):
            if isinstance(a, Probe):
                d.feed(d.m.probed(gen, False, "busy: not accepting", d.now, up=True))
    assert d.actions_named("process_hung")


def test_probes_go_out_at_a_fixed_rate_however_long_each_took() -> None:
    d = Driver(health_url="http://127.0.0.1:1/", health_interval=1.0, health_timeout=0.5)
    d.start()
    gen = d.current()
    sent: list[float] = []
    while len(sent) < 5:
        for a in d.run_until(d.now + 0.05):
            if isinstance(a, Probe):
                sent.append(d.now)
                d.now += 0.4  # each probe takes 400 ms to fail
                d.feed(d.m.probed(gen, True, "HTTP 200", d.now))
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(sent)]
    assert all(abs(g - 1.0) <= 0.06 for g in gaps), gaps


def test_a_silent_heartbeat_means_hung() -> None:
    d = Driver(heartbeat="pipe", heartbeat_timeout=2.0, start_timeout=1.0)
    d.start()
    gen = d.current()
    for t in (1.0, 2.5, 4.0):
        d.run_until(t)
        d.m.heartbeat(gen, t)
    assert not d.actions_named("process_hung")
    d.run_until(6.1)
    assert d.actions_named("process_hung")
    assert Kill(gen) in d.actions


def test_memory_over_the_limit_restarts_gracefully_without_a_shared_socket() -> None:
    d = Driver(max_memory=100 * 2**20, memory_interval=1.0, stop_timeout=5.0)
    d.start()
    gen = d.current()
    assert Sample(gen) in d.run_until(1.0)
    d.feed(d.m.sampled(gen, 50 * 2**20, 3, d.now))
    assert not d.actions_named("process_memory_exceeded")
    d.run_until(2.0)
    acts = d.feed(d.m.sampled(gen, 150 * 2**20, 3, d.now))
    assert Signal(gen, signal.SIGTERM) in acts  # graceful: SIGTERM, not SIGKILL
    event = d.events[-1]
    assert event.action == "process_memory_exceeded"
    assert event.details["rss"] == 150 * 2**20
    assert event.details["limit"] == 100 * 2**20
    d.crash(gen, ExitStatus(code=0))
    assert d.actions_named("process_stopped")
    assert not d.actions_named("process_exited")  # a planned stop is not a crash
    assert d.m.current_gen() not in (None, gen)


def test_a_stop_that_outlasts_stop_timeout_is_killed() -> None:
    d = Driver(max_memory=2**20, memory_interval=1.0, stop_timeout=3.0)
    d.start()
    gen = d.current()
    d.run_until(1.0)
    d.feed(d.m.sampled(gen, 2 * 2**20, 1, d.now))
    assert Kill(gen) not in d.run_until(3.9)
    assert Kill(gen) in d.run_until(4.1)


def reload_driver(**options: Any) -> Driver:
    d = Driver(**{"bind": "127.0.0.1:0", "drain": 1.0, "stop_timeout": 5.0, **options})
    d.start()
    d.run_until(0.3)
    for a in d.actions:
        if isinstance(a, Probe):
            d.feed(d.m.probed(a.gen, True, "accepted", d.now))
    return d


def test_reload_starts_a_new_instance_and_stops_the_old_only_after_it_passed() -> None:
    d = reload_driver()
    old = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    assert kinds(acts)[0] == "Spawn"
    new = acts[0].gen  # type: ignore[union-attr]
    probes = [(a.gen, a.targeted) for a in d.run_until(d.now + 0.3) if isinstance(a, Probe)]
    assert probes == [(new, True)]  # the check must reach the new instance
    d.feed(d.m.probed(new, False, "accepted by another instance", d.now, up=False))
    assert not any(isinstance(a, Signal | Drain) for a in d.actions if getattr(a, "gen", 0) == old)
    for a in d.run_until(d.now + 0.3):
        if isinstance(a, Probe):
            acts = d.feed(d.m.probed(new, True, "accepted", d.now))
    assert Drain(old) in acts
    assert d.current() == new
    assert d.actions_named("process_reloaded")
    drained_at = d.now
    # drain first, SIGTERM after `drain`, SIGKILL after stop_timeout more
    assert Signal(old, signal.SIGTERM) not in d.run_until(drained_at + 0.9)
    assert Signal(old, signal.SIGTERM) in d.run_until(drained_at + 1.1)
    d.crash(old, ExitStatus(code=0))
    assert d.events[-1].action == "process_stopped"
    assert d.events[-1].details["reason"] == "replaced"
    assert Kill(old) not in d.run_until(drained_at + 7.0)


def test_a_new_instance_that_dies_before_passing_leaves_the_old_serving() -> None:
    d = reload_driver()
    old = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    new = acts[0].gen  # type: ignore[union-attr]
    d.crash(new)
    assert d.events[-1].action == "process_reload_failed"
    assert d.current() == old
    assert not d.actions_named("process_restarting")


def test_a_new_instance_that_never_passes_is_killed_at_start_timeout() -> None:
    d = reload_driver(start_timeout=3.0)
    old = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    new = acts[0].gen  # type: ignore[union-attr]
    start = d.now
    for a in d.run_until(start + 3.1):
        if isinstance(a, Probe):
            d.feed(d.m.probed(new, False, "not accepted in time", d.now, up=False))
    assert Kill(new) in d.actions
    assert d.current() == old
    d.crash(new, ExitStatus(signal=signal.SIGKILL))
    assert d.current() == old
    assert not d.actions_named("process_restarting")


def test_the_old_instance_crashing_during_a_reload_hands_over_to_the_new() -> None:
    d = reload_driver()
    old = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    new = acts[0].gen  # type: ignore[union-attr]
    d.crash(old)
    assert d.current() == new
    assert kinds(d.actions).count("Spawn") == 2


def test_without_bind_sighup_is_passed_to_the_server() -> None:
    d = Driver()
    d.start()
    gen = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    # to the leader only: gunicorn's workers die of a SIGHUP
    assert Signal(gen, signal.SIGHUP, group=False) in acts
    assert "Spawn" not in kinds(acts)


def test_other_signals_are_forwarded() -> None:
    d = Driver()
    d.start()
    gen = d.current()
    for sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTTIN):
        assert d.feed(d.m.signal(sig, d.now)) == [Signal(gen, sig, group=False)]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_a_stop_signal_is_forwarded_then_the_group_killed_after_stop_timeout(sig: int) -> None:
    d = Driver(stop_timeout=4.0)
    d.start()
    gen = d.current()
    assert d.feed(d.m.signal(sig, 1.0)) == [Signal(gen, sig)]
    d.now = 1.0
    assert Kill(gen) not in d.run_until(4.9)
    assert Kill(gen) in d.run_until(5.1)
    d.crash(gen, ExitStatus(signal=signal.SIGKILL))
    assert d.finish == Finish(0)
    assert d.events[-1].details["killed"] is True


def test_a_second_stop_signal_kills_at_once_and_nothing_restarts() -> None:
    d = Driver(stop_timeout=30.0)
    d.start()
    gen = d.current()
    d.feed(d.m.signal(signal.SIGTERM, 0.0))
    assert d.feed(d.m.signal(signal.SIGINT, 0.1)) == [Kill(gen)]
    d.crash(gen, ExitStatus(signal=signal.SIGKILL))
    assert d.finish == Finish(0)
    assert kinds(d.actions).count("Spawn") == 1


def test_a_stop_during_backoff_finishes_without_starting_again() -> None:
    d = Driver(backoff_min=10.0)
    d.start()
    d.crash()
    d.crash()  # now waiting ~10 s
    d.feed(d.m.signal(signal.SIGTERM, d.now))
    assert d.finish == Finish(0)
    d.run_until(d.now + 20.0)
    assert kinds(d.actions).count("Spawn") == 2


def test_events_name_the_program_and_never_the_arguments() -> None:
    d = Driver()
    d.start()
    d.crash()
    for event in d.events:
        assert event.category is Category.PROCESS
        assert event.details["program"] == "app"
    exited = next(e for e in d.events if e.action == "process_exited")
    assert exited.details["exit_code"] == 1
    assert exited.severity is Severity.MEDIUM
    assert exited.timestamp == d.clock.time()


def test_exit_status_descriptions() -> None:
    assert ExitStatus(code=3).describe() == "exit code 3"
    assert ExitStatus(signal=signal.SIGKILL).describe() == "signal SIGKILL"
    assert ExitStatus(signal=200).describe() == "signal 200"
    assert ExitStatus(signal=signal.SIGSEGV).details() == {"signal": "SIGSEGV"}


def test_an_answer_to_a_probe_already_counted_as_missed_is_ignored() -> None:
    d = Driver(
        health_url="http://127.0.0.1:1/",
        health_interval=1.0,
        health_timeout=0.5,
        health_failures=2,
    )
    d.start()
    gen = d.current()
    d.run_until(0.3)
    d.feed(d.m.probed(gen, True, "HTTP 200", d.now))
    late = 0
    for a in d.run_until(d.now + 1.0):
        if isinstance(a, Probe):
            late = a.seq
    assert late
    d.run_until(d.now + 1.6)  # no answer: the deadline counts one miss
    d.feed(d.m.probed(gen, False, "timed out", d.now, seq=late))  # the same probe, late
    assert not d.actions_named("process_hung")


def test_a_new_instance_that_cannot_spawn_leaves_the_memory_limit_on() -> None:
    d = reload_driver(max_memory=100 * 2**20, memory_interval=1.0)
    old = d.current()
    d.spawn_ok = False
    d.feed(d.m.signal(signal.SIGHUP, d.now))
    d.spawn_ok = True
    assert d.actions_named("process_spawn_failed")
    d.run_until(d.now + 1.0)
    d.feed(d.m.sampled(old, 200 * 2**20, 1, d.now))
    assert d.actions_named("process_memory_exceeded")


def test_a_reload_asked_during_a_reload_follows_it() -> None:
    d = reload_driver()
    d.feed(d.m.signal(signal.SIGHUP, d.now))
    first = [a for a in d.actions if isinstance(a, Spawn)][-1].gen
    d.feed(d.m.signal(signal.SIGHUP, d.now))  # new code deployed meanwhile
    modes = [e.details.get("mode") for e in d.events if e.action == "process_reload"]
    assert modes == ["queued"]
    for a in d.run_until(d.now + 0.3):
        if isinstance(a, Probe) and a.gen == first:
            d.feed(d.m.probed(first, True, "accepted", d.now))
    spawns = [a.gen for a in d.actions if isinstance(a, Spawn)]
    assert spawns[-1] > first  # the second reload started once the first one passed


def test_memory_restarts_count_toward_giving_up() -> None:
    d = Driver(max_memory=2**20, memory_interval=0.5, max_restarts=2, restarts_within=60.0)
    d.start()
    for _ in range(3):
        gen = d.current()
        d.run_until(d.now + 0.5)
        d.feed(d.m.sampled(gen, 2 * 2**20, 1, d.now))
        d.crash(gen, ExitStatus(code=0))
        if d.outcome() is not None:
            break
    assert d.actions_named("process_gave_up")
    outcome = d.outcome()
    assert outcome is not None
    assert outcome.code == 3


def test_giving_up_stops_what_still_runs_gracefully_then_finishes_3() -> None:
    d = reload_driver(max_restarts=1, restarts_within=60.0, drain=5.0, backoff_min=0.1)
    old = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    new = acts[0].gen  # type: ignore[union-attr]
    for a in d.run_until(d.now + 0.3):
        if isinstance(a, Probe):
            d.feed(d.m.probed(new, True, "accepted", d.now))
    assert Drain(old) in d.actions  # the old one drains while the new one serves
    d.crash(new)  # the new one crashes: one restart allowed
    d.crash()  # and again at once: give up
    assert d.actions_named("process_gave_up")
    assert d.outcome() is None  # the old one is still stopping: not killed, not abandoned
    d.run_until(d.now + 5.1)
    assert Signal(old, signal.SIGTERM) in d.actions
    assert Kill(old) not in d.actions
    d.crash(old, ExitStatus(code=0))
    outcome = d.outcome()
    assert outcome is not None
    assert outcome.code == 3
    assert "max_restarts = 1" in outcome.message


def test_a_hang_soon_after_a_crash_backs_off() -> None:
    d = Driver(heartbeat="pipe", heartbeat_timeout=1.0, start_timeout=1.0, backoff_min=2.0)
    d.start()
    d.crash()  # first: at once
    d.run_until(d.now + 1.1)  # no heartbeat: hung
    gen = [a.gen for a in d.actions if isinstance(a, Kill)][-1]
    d.crash(gen, ExitStatus(signal=signal.SIGKILL))
    restarting = [e for e in d.events if e.action == "process_restarting"][-1]
    assert restarting.details["cause"] == "hang"
    assert restarting.details["delay"] >= 1.5


def test_a_busy_new_instance_is_not_a_failed_reload_until_start_timeout() -> None:
    d = reload_driver(start_timeout=10.0)
    old = d.current()
    acts = d.feed(d.m.signal(signal.SIGHUP, d.now))
    new = acts[0].gen  # type: ignore[union-attr]
    for _ in range(20):
        for a in d.run_until(d.now + 0.2):
            if isinstance(a, Probe):
                d.feed(d.m.probed(new, False, "busy: not accepting, with connections open", d.now))
    assert not d.actions_named("process_reload_failed")
    assert d.current() == old
