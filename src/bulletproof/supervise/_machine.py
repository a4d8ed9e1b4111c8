"""The supervisor's decisions, with no I/O: what to do when an instance starts, exits, misses a
health check, grows, or when the operator sends a signal.

:class:`Machine` takes inputs (``spawned``, ``exited``, ``probed``, ``signal``, ``tick``...),
each with the monotonic ``now``, and returns the :data:`Action` objects the runner carries out:
start an instance, signal or kill its process group, probe it, sample its memory, emit an event,
finish. Time and randomness are injected, so restart, backoff, hang and give-up logic is tested
by feeding inputs, without sleeping.

>>> from bulletproof.clock import system_clock
>>> m = Machine(RunConfig(), program="app", clock=system_clock, rng=random.Random(1))
>>> [type(a).__name__ for a in m.start(0.0)]
['Spawn']
>>> [type(a).__name__ for a in m.spawned(1, 4242, 0.01)]
['Emit']
>>> acts = m.exited(4242, ExitStatus(code=1), 5.0)   # the first crash restarts at once
>>> [type(a).__name__ for a in acts]
['Emit', 'Emit', 'Spawn']

Added in 0.1.
"""

from __future__ import annotations

import enum
import random
import signal as _signal
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from bulletproof.clock import Clock
from bulletproof.events.model import Category, Outcome, SecurityEvent, Severity
from bulletproof.supervise._settings import RunConfig

__all__ = [
    "GAVE_UP",
    "Action",
    "Drain",
    "Emit",
    "ExitStatus",
    "Finish",
    "Kill",
    "Machine",
    "Probe",
    "Sample",
    "Signal",
    "Spawn",
]

GAVE_UP: Final = 3
"""The exit status of ``bulletproof run`` when it gave up (``max_restarts``). Added in 0.1."""

_JITTER: Final = 0.25
_STARTING_PROBE: Final = 0.2
_STOP_SIGNALS: Final = frozenset({_signal.SIGTERM, _signal.SIGINT, _signal.SIGQUIT})


@dataclass(frozen=True, slots=True)
class ExitStatus:
    """How a process ended: an exit ``code`` or the ``signal`` that killed it. Added in 0.1."""

    code: int | None = None
    signal: int | None = None

    @classmethod
    def from_wait(cls, status: int) -> ExitStatus:
        """From the status ``os.waitpid`` returns."""
        import os

        if os.WIFSIGNALED(status):
            return cls(signal=os.WTERMSIG(status))
        return cls(code=os.waitstatus_to_exitcode(status))

    def describe(self) -> str:
        """``"exit code 1"`` or ``"signal SIGKILL"``."""
        if self.signal is not None:
            try:
                name = _signal.Signals(self.signal).name
            except ValueError:
                name = str(self.signal)
            return f"signal {name}"
        return f"exit code {self.code}"

    def details(self) -> dict[str, Any]:
        """The event fields: ``exit_code`` or ``signal``."""
        if self.signal is not None:
            return {"signal": self.describe().removeprefix("signal ")}
        return {"exit_code": self.code}


# -- actions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spawn:
    """Start instance ``gen``; answer with :meth:`Machine.spawned` or ``spawn_failed``."""

    gen: int


@dataclass(frozen=True, slots=True)
class Signal:
    """Send ``sig`` to instance ``gen``: its whole process group (a stop), or its leader only
    (``group=False``: a signal the server handles itself, such as gunicorn's SIGHUP, which its
    workers must not get)."""

    gen: int
    sig: int
    group: bool = True


@dataclass(frozen=True, slots=True)
class Drain:
    """Tell instance ``gen`` to close keep-alive connections between requests (it is being
    replaced); it is sent SIGTERM after ``drain``."""

    gen: int


@dataclass(frozen=True, slots=True)
class Kill:
    """SIGKILL instance ``gen``'s process group and every descendant."""

    gen: int


@dataclass(frozen=True, slots=True)
class Probe:
    """Check instance ``gen``'s health; ``targeted``: the check must reach that instance (a
    new one starting beside the old on a shared socket). Answer with :meth:`Machine.probed`,
    giving back ``seq``."""

    gen: int
    targeted: bool
    seq: int = 0


@dataclass(frozen=True, slots=True)
class Sample:
    """Measure instance ``gen``'s memory; answer with :meth:`Machine.sampled`."""

    gen: int


@dataclass(frozen=True, slots=True)
class Emit:
    """Send ``event`` to the event pipeline."""

    event: SecurityEvent


@dataclass(frozen=True, slots=True)
class Finish:
    """The supervisor is done: exit with ``code``; ``message`` for the operator, if any."""

    code: int
    message: str = ""


Action = Spawn | Signal | Drain | Kill | Probe | Sample | Emit | Finish


class _Phase(enum.Enum):
    SPAWNING = "spawning"
    STARTING = "starting"  # running, no check passed yet
    READY = "ready"
    STOPPING = "stopping"


@dataclass(slots=True)
class _Instance:
    gen: int
    reason: str  # why it was started: initial, crash, hang, memory, reload
    candidate: bool  # started beside the serving one (reload, memory with a shared socket)
    phase: _Phase = _Phase.SPAWNING
    pid: int | None = None
    started: float = 0.0
    passed: bool = False
    misses: int = 0
    next_probe: float | None = None
    probe_deadline: float | None = None
    probe_sent: float = 0.0
    probe_seq: int = 0  # the probe in flight; 0: none
    next_sample: float | None = None
    beat_deadline: float | None = None
    stop_reason: str = ""
    term_at: float | None = None  # draining: SIGTERM at this time
    kill_at: float | None = None
    killed: bool = False
    replacing: bool = False  # a candidate is starting to replace it


@dataclass(slots=True)
class _State:
    next_gen: int = 1
    current: _Instance | None = None
    candidate: _Instance | None = None
    stopping: list[_Instance] = field(default_factory=list)
    restart_at: float | None = None
    restart_reason: str = "crash"
    crashes: int = 0
    restarts: deque[float] = field(default_factory=deque)
    shutting_down: bool = False
    exit_code: int = 0
    exit_message: str = ""
    reload_pending: bool = False
    finished: bool = False
    ever_spawned: bool = False


class Machine:
    """The supervisor's state machine (see the module docstring). Added in 0.1."""

    def __init__(
        self, config: RunConfig, *, program: str, clock: Clock, rng: random.Random
    ) -> None:
        self._c = config
        self._program = program
        self._clock = clock
        self._rng = rng
        self._s = _State()
        self._health = config.health_url is not None
        self._heartbeat = config.heartbeat is not None
        self._handover = config.bind is not None
        self._probes = 0

    # -- queries -----------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether a :class:`Finish` was returned."""
        return self._s.finished

    def current_gen(self) -> int | None:
        """The generation of the serving instance, if any."""
        cur = self._s.current
        return cur.gen if cur is not None else None

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`tick` has something to do, or None."""
        times: list[float] = []
        if self._s.restart_at is not None:
            times.append(self._s.restart_at)
        for inst in self._all():
            timers = (inst.next_probe, inst.probe_deadline, inst.next_sample, inst.kill_at)
            times.extend(t for t in (*timers, inst.term_at) if t is not None)
            if inst.beat_deadline is not None and inst.phase is not _Phase.STOPPING:
                times.append(inst.beat_deadline)
            if inst.phase is _Phase.STARTING:
                times.append(inst.started + self._c.start_timeout)
        return min(times) if times else None

    # -- inputs ------------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """Start the first instance."""
        return [self._spawn("initial", candidate=False)]

    def spawned(self, gen: int, pid: int, now: float) -> list[Action]:
        """Instance ``gen`` runs as ``pid``."""
        inst = self._find_gen(gen)
        if inst is None:  # pragma: no cover - the runner only answers Spawn actions
            return []
        self._s.ever_spawned = True
        inst.pid = pid
        inst.started = now
        inst.phase = _Phase.STARTING
        out: list[Action] = [
            self._event(
                "process_started",
                f"started {self._program} (pid {pid}, {inst.reason})",
                Severity.LOW,
                Outcome.SUCCESS,
                pid=pid,
                instance=gen,
                reason=inst.reason,
            )
        ]
        if inst.candidate or self._health:
            inst.next_probe = now + min(self._c.health_interval, _STARTING_PROBE)
        else:
            inst.phase = _Phase.READY
        if self._heartbeat:
            inst.beat_deadline = now + max(self._c.start_timeout, self._c.heartbeat_timeout)
        if self._c.max_memory is not None:
            inst.next_sample = now + self._c.memory_interval
        if self._s.shutting_down:  # a stop came while it was being started
            out.extend(self._stop(inst, "stop", _signal.SIGTERM, now))
        return out

    def spawn_failed(self, gen: int, message: str, now: float) -> list[Action]:
        """Instance ``gen`` could not be started (``message`` says why)."""
        inst = self._find_gen(gen)
        if inst is None:  # pragma: no cover
            return []
        self._forget(inst)
        event = self._event(
            "process_spawn_failed",
            f"could not start {self._program}: {message}",
            Severity.HIGH,
            Outcome.FAILURE,
            instance=gen,
            error=message,
        )
        if not self._s.ever_spawned:
            return [event, self._finish(2, f"cannot start the command: {message}")]
        if inst.candidate:
            return [event, *self._unmark_replacing(), *self._pending_reload(now)]
        return [event, *self._after_unplanned(now, "crash", uptime=0.0)]

    def exited(self, pid: int, status: ExitStatus, now: float) -> list[Action]:
        """Process ``pid`` (an instance's leader) ended with ``status``."""
        inst = self._find_pid(pid)
        if inst is None:
            return []
        self._forget(inst)
        uptime = max(0.0, now - inst.started)
        details: dict[str, Any] = {
            "pid": pid,
            "instance": inst.gen,
            "uptime": round(uptime, 3),
            **status.details(),
        }
        if inst.phase is _Phase.STOPPING and inst.stop_reason != "hang":
            out: list[Action] = [
                self._event(
                    "process_stopped",
                    f"{self._program} (pid {pid}) stopped ({inst.stop_reason}): "
                    f"{status.describe()}",
                    Severity.LOW,
                    Outcome.SUCCESS,
                    reason=inst.stop_reason,
                    killed=inst.killed,
                    **details,
                )
            ]
            if self._s.shutting_down:
                return out + self._maybe_finish()
            if inst.stop_reason == "memory" and self._s.current is None:
                out.append(self._spawn("memory", candidate=False))
            return out
        if inst.candidate:
            return [
                self._event(
                    "process_reload_failed",
                    f"the new instance of {self._program} (pid {pid}) ended before it passed "
                    f"its check ({status.describe()}); the old one keeps serving",
                    Severity.HIGH,
                    Outcome.FAILURE,
                    reason=inst.reason,
                    **details,
                ),
                *self._unmark_replacing(),
                *self._pending_reload(now),
            ]
        reason = inst.stop_reason or "crash"
        out = [
            self._event(
                "process_exited",
                f"{self._program} (pid {pid}) ended: {status.describe()} after {uptime:.1f} s",
                Severity.MEDIUM,
                Outcome.FAILURE,
                cause=reason,
                **details,
            )
        ]
        s = self._s
        if s.shutting_down:
            return out + self._maybe_finish()
        if s.candidate is not None:  # the new instance takes over at once
            s.current, s.candidate = s.candidate, None
            s.current.candidate = False
            return out
        if s.current is None and s.restart_at is None:
            out.extend(self._after_unplanned(now, reason, uptime))
        return out

    def probed(
        self, gen: int, ok: bool, detail: str, now: float, *, up: bool = True, seq: int = 0
    ) -> list[Action]:
        """The answer to a :class:`Probe` of instance ``gen``. ``up``: the instance took the
        connection (it runs, whatever it answered); a failed probe it did not take (refused,
        still in the backlog) is no miss before the instance first passed. An answer to a probe
        already given up on (``seq`` not the one in flight) is ignored."""
        inst = self._find_gen(gen)
        if inst is None or inst.phase is _Phase.STOPPING:
            return []
        if seq and seq != inst.probe_seq:
            return []
        inst.probe_seq = 0
        inst.probe_deadline = None
        interval = self._c.health_interval
        if ok:
            inst.misses = 0
            inst.passed = True
            if inst.phase is _Phase.STARTING:
                inst.phase = _Phase.READY
                if inst.candidate:
                    return self._promote(inst, now)
            inst.next_probe = self._after_interval(inst, now) if self._health else None
            return []
        if not inst.passed and (not up or (inst.candidate and detail.startswith("busy"))):
            # Not a miss: still starting. A new instance beside a loaded old one may be busy
            # with the backlog's earlier connections; start_timeout bounds the wait.
            inst.next_probe = now + min(interval, _STARTING_PROBE)
            return []
        inst.misses += 1
        inst.next_probe = self._after_interval(inst, now)
        if inst.misses < self._c.health_failures:
            return []
        return self._hung(inst, f"{inst.misses} health checks missed in a row ({detail})", now)

    def _after_interval(self, inst: _Instance, now: float) -> float:
        # probes go out at a fixed rate, however long the last one took
        return max(now, inst.probe_sent + self._c.health_interval)

    def heartbeat(self, gen: int, now: float) -> list[Action]:
        """Instance ``gen`` gave a sign of life."""
        inst = self._find_gen(gen)
        if inst is not None and inst.beat_deadline is not None:
            inst.beat_deadline = now + self._c.heartbeat_timeout
        return []

    def sampled(self, gen: int, rss: int, pids: int, now: float) -> list[Action]:
        """Instance ``gen``'s process tree (``pids`` processes) uses ``rss`` bytes."""
        inst = self._find_gen(gen)
        limit = self._c.max_memory
        if inst is None or limit is None or inst.phase is _Phase.STOPPING:
            return []
        inst.next_sample = now + self._c.memory_interval
        if rss <= limit or inst.replacing or inst.candidate or self._s.shutting_down:
            return []
        out: list[Action] = [
            self._event(
                "process_memory_exceeded",
                f"{self._program} (pid {inst.pid}) uses {rss / 2**20:.0f} MiB in {pids} "
                f"process(es), over the {limit / 2**20:.0f} MiB limit: restarting it gracefully",
                Severity.MEDIUM,
                Outcome.FAILURE,
                pid=inst.pid,
                instance=gen,
                rss=rss,
                limit=limit,
                processes=pids,
            )
        ]
        gave_up = self._give_up_if_due(now)
        if gave_up:
            return out + gave_up
        self._note_restart(now)
        if self._handover:
            inst.replacing = True
            out.append(self._spawn("memory", candidate=True))
        else:
            out.extend(self._stop(inst, "memory", _signal.SIGTERM, now))
        return out

    def signal(self, sig: int, now: float) -> list[Action]:
        """The supervisor received ``sig``."""
        if sig in _STOP_SIGNALS:
            return self._shutdown(sig, now)
        if sig == _signal.SIGHUP:
            return self._reload(now)
        cur = self._s.current
        if cur is not None and cur.pid is not None:
            return [Signal(cur.gen, sig, group=False)]
        return []

    def tick(self, now: float) -> list[Action]:
        """Do what is due at ``now``."""
        out: list[Action] = []
        s = self._s
        if s.restart_at is not None and now >= s.restart_at and not s.shutting_down:
            s.restart_at = None
            out.append(self._spawn(s.restart_reason, candidate=False))
        for inst in self._all():
            if inst.term_at is not None and now >= inst.term_at:
                inst.term_at = None
                inst.kill_at = now + self._c.stop_timeout
                out.append(Signal(inst.gen, _signal.SIGTERM))
            if inst.kill_at is not None and now >= inst.kill_at:
                inst.kill_at = None
                inst.killed = True
                out.append(Kill(inst.gen))
            if inst.phase is _Phase.STOPPING or inst.pid is None:
                continue
            if inst.probe_deadline is not None and now >= inst.probe_deadline:
                # the runner never answered: count it as a miss
                late = inst.probe_seq
                out.extend(self.probed(inst.gen, False, "no answer", now, up=False, seq=late))
                if _stopping(inst):
                    continue
            if inst.phase is _Phase.STARTING and now >= inst.started + self._c.start_timeout:
                out.extend(self._start_timed_out(inst, now))
                continue
            if inst.next_probe is not None and now >= inst.next_probe:
                inst.next_probe = None
                inst.probe_sent = now
                inst.probe_deadline = now + self._c.probe_timeout + 1.0
                self._probes += 1
                inst.probe_seq = self._probes
                # before its first pass, a probe must reach this instance to count
                targeted = inst.candidate or (self._handover and not inst.passed)
                out.append(Probe(inst.gen, targeted=targeted, seq=inst.probe_seq))
            if inst.next_sample is not None and now >= inst.next_sample:
                inst.next_sample = None
                out.append(Sample(inst.gen))
            if inst.beat_deadline is not None and now >= inst.beat_deadline:
                inst.beat_deadline = None
                out.extend(
                    self._hung(inst, f"no heartbeat for {self._c.heartbeat_timeout:g} s", now)
                )
        return out

    # -- decisions ---------------------------------------------------------------------------

    def backoff(self, crashes: int) -> float:
        """The wait before restarting after ``crashes`` crashes in a row: none for the first,
        then ``backoff_min`` doubling up to ``backoff_max``, less up to 25% jitter."""
        if crashes <= 1:
            return 0.0
        base = min(self._c.backoff_max, self._c.backoff_min * 2.0 ** min(crashes - 2, 60))
        return base * (1.0 - _JITTER * self._rng.random())

    def _after_unplanned(self, now: float, reason: str, uptime: float) -> list[Action]:
        s = self._s
        if uptime >= self._c.healthy_after:
            s.crashes = 0
        s.crashes += 1
        gave_up = self._give_up_if_due(now)
        if gave_up:
            return gave_up
        self._note_restart(now)
        delay = self.backoff(s.crashes)
        event = self._event(
            "process_restarting",
            f"restarting {self._program} in {delay:.2f} s ({reason}, {s.crashes} in a row)",
            Severity.LOW,
            Outcome.UNKNOWN,
            delay=round(delay, 3),
            consecutive=s.crashes,
            cause=reason,
        )
        if delay <= 0:
            return [event, self._spawn(reason, candidate=False)]
        s.restart_at = now + delay
        s.restart_reason = reason
        return [event]

    def _give_up_if_due(self, now: float) -> list[Action]:
        """With ``max_restarts``: when one more restart would pass it, stop everything that
        still runs (gracefully) and finish with :data:`GAVE_UP`."""
        limit = self._c.max_restarts
        recent = self._recent_restarts(now)
        if limit is None or recent < limit:
            return []
        s = self._s
        message = (
            f"gave up on {self._program}: {recent} restarts within "
            f"{self._c.restarts_within:g} s (max_restarts = {limit})"
        )
        out: list[Action] = [
            self._event(
                "process_gave_up",
                message,
                Severity.CRITICAL,
                Outcome.FAILURE,
                restarts=recent,
                within=self._c.restarts_within,
            )
        ]
        s.exit_code, s.exit_message = GAVE_UP, message
        s.shutting_down = True
        s.restart_at = None
        for inst in list(self._all()):
            if inst.pid is not None and inst.phase is not _Phase.STOPPING:
                out.extend(self._stop(inst, "gave up", _signal.SIGTERM, now))
        return out + self._maybe_finish()

    def _recent_restarts(self, now: float) -> int:
        window = self._s.restarts
        while window and window[0] <= now - self._c.restarts_within:
            window.popleft()
        return len(window)

    def _note_restart(self, now: float) -> None:
        self._recent_restarts(now)
        self._s.restarts.append(now)

    def _hung(self, inst: _Instance, why: str, now: float) -> list[Action]:
        event = self._event(
            "process_hung",
            f"{self._program} (pid {inst.pid}) is hung: {why}; killing it",
            Severity.HIGH,
            Outcome.FAILURE,
            pid=inst.pid,
            instance=inst.gen,
            why=why,
        )
        if inst.candidate:
            return [event, *self._abandon_candidate(inst, now)]
        # A hung server does not finish its requests: it is killed at once.
        inst.phase = _Phase.STOPPING
        inst.stop_reason = "hang"
        inst.killed = True
        self._clear_timers(inst)
        self._s.current = None
        self._s.stopping.append(inst)
        return [event, Kill(inst.gen)]

    def _start_timed_out(self, inst: _Instance, now: float) -> list[Action]:
        why = f"no check passed within start_timeout ({self._c.start_timeout:g} s)"
        if inst.candidate:
            event = self._event(
                "process_reload_failed",
                f"the new instance of {self._program} (pid {inst.pid}): {why}; the old one "
                "keeps serving",
                Severity.HIGH,
                Outcome.FAILURE,
                pid=inst.pid,
                instance=inst.gen,
                reason=inst.reason,
            )
            return [event, *self._abandon_candidate(inst, now)]
        return self._hung(inst, why, now)

    def _abandon_candidate(self, inst: _Instance, now: float) -> list[Action]:
        inst.phase = _Phase.STOPPING
        inst.stop_reason = "abandoned"
        inst.killed = True
        self._clear_timers(inst)
        self._s.candidate = None
        self._s.stopping.append(inst)
        inst.candidate = False  # its exit is now a planned one
        return [Kill(inst.gen), *self._unmark_replacing(), *self._pending_reload(now)]

    def _unmark_replacing(self) -> list[Action]:
        cur = self._s.current
        if cur is not None:
            cur.replacing = False
        return []

    def _promote(self, inst: _Instance, now: float) -> list[Action]:
        s = self._s
        old = s.current
        s.candidate = None
        inst.candidate = False
        s.current = inst
        inst.next_probe = now + self._c.health_interval if self._health else None
        out: list[Action] = [
            self._event(
                "process_reloaded",
                f"the new instance of {self._program} (pid {inst.pid}) passed its check; "
                f"stopping the old one ({inst.reason})",
                Severity.LOW,
                Outcome.SUCCESS,
                pid=inst.pid,
                instance=inst.gen,
                reason=inst.reason,
                old_pid=old.pid if old is not None else None,
            )
        ]
        if old is not None:
            s.current = old  # _stop detaches it from `current`
            out.extend(self._stop(old, "replaced", _signal.SIGTERM, now, drain=True))
            s.current = inst
        return out + self._pending_reload(now)

    def _pending_reload(self, now: float) -> list[Action]:
        s = self._s
        if not s.reload_pending or s.candidate is not None:
            return []
        s.reload_pending = False
        return self._reload(now)

    def _reload(self, now: float) -> list[Action]:
        s = self._s
        cur = s.current
        if s.shutting_down:
            return []
        if not self._handover:
            if cur is not None and cur.pid is not None:
                return [
                    self._event(
                        "process_reload",
                        f"SIGHUP passed to {self._program} (pid {cur.pid}): without bind the "
                        "server reloads itself",
                        Severity.LOW,
                        Outcome.UNKNOWN,
                        pid=cur.pid,
                        mode="forwarded",
                    ),
                    Signal(cur.gen, _signal.SIGHUP, group=False),
                ]
            return []
        if s.candidate is not None:
            # the instance starting may run older code: start another once it is settled
            s.reload_pending = True
            return [
                self._event(
                    "process_reload",
                    f"a reload of {self._program} is under way: another follows it",
                    Severity.LOW,
                    Outcome.UNKNOWN,
                    mode="queued",
                )
            ]
        if cur is None:
            if s.restart_at is not None:  # waiting out a backoff: start now
                s.restart_at = None
                return [self._spawn("reload", candidate=False)]
            return []
        cur.replacing = True
        return [self._spawn("reload", candidate=True)]

    def _shutdown(self, sig: int, now: float) -> list[Action]:
        s = self._s
        out: list[Action] = []
        if s.shutting_down:  # asked twice: no more waiting
            for inst in self._all():
                if inst.pid is not None and not inst.killed:
                    inst.killed = True
                    inst.kill_at = None
                    out.append(Kill(inst.gen))
            return out
        s.shutting_down = True
        s.restart_at = None
        for inst in list(self._all()):
            if inst.pid is None:
                continue  # still spawning: stopped once spawned
            if inst.phase is _Phase.STOPPING:
                continue
            out.extend(self._stop(inst, "stop", sig, now))
        return out + self._maybe_finish()

    def _stop(
        self, inst: _Instance, reason: str, sig: int, now: float, *, drain: bool = False
    ) -> list[Action]:
        s = self._s
        if s.current is inst:
            s.current = None
        if s.candidate is inst:
            s.candidate = None
        inst.phase = _Phase.STOPPING
        inst.stop_reason = reason
        inst.candidate = False
        self._clear_timers(inst)
        s.stopping.append(inst)
        if drain and self._c.drain > 0:
            inst.term_at = now + self._c.drain
            return [Drain(inst.gen)]
        inst.kill_at = now + self._c.stop_timeout
        return [Signal(inst.gen, sig)]

    def _maybe_finish(self) -> list[Action]:
        if any(True for _ in self._all()):
            return []
        return [self._finish(self._s.exit_code, self._s.exit_message)]

    def _finish(self, code: int, message: str = "") -> Finish:
        self._s.finished = True
        return Finish(code, message)

    # -- bookkeeping ---------------------------------------------------------------------------

    def _spawn(self, reason: str, *, candidate: bool) -> Spawn:
        s = self._s
        inst = _Instance(gen=s.next_gen, reason=reason, candidate=candidate)
        s.next_gen += 1
        if candidate:
            s.candidate = inst
        else:
            s.current = inst
        return Spawn(inst.gen)

    @staticmethod
    def _clear_timers(inst: _Instance) -> None:
        inst.next_probe = inst.probe_deadline = inst.next_sample = inst.beat_deadline = None

    def _all(self) -> list[_Instance]:
        s = self._s
        out = [i for i in (s.current, s.candidate) if i is not None]
        return out + s.stopping

    def _find_gen(self, gen: int) -> _Instance | None:
        for inst in self._all():
            if inst.gen == gen:
                return inst
        return None

    def _find_pid(self, pid: int) -> _Instance | None:
        for inst in self._all():
            if inst.pid == pid:
                return inst
        return None

    def _forget(self, inst: _Instance) -> None:
        s = self._s
        if s.current is inst:
            s.current = None
        if s.candidate is inst:
            s.candidate = None
        if inst in s.stopping:
            s.stopping.remove(inst)

    def _event(
        self, action: str, message: str, severity: Severity, outcome: Outcome, **details: Any
    ) -> Emit:
        return Emit(
            SecurityEvent(
                action=action,
                category=Category.PROCESS,
                severity=severity,
                message=message,
                outcome=outcome,
                types=_TYPES.get(action, ("info",)),
                details={"program": self._program, **details},
                timestamp=self._clock.time(),
            )
        )


def _stopping(inst: _Instance) -> bool:
    return inst.phase is _Phase.STOPPING


_TYPES: Final = {
    "process_started": ("start",),
    "process_exited": ("end",),
    "process_stopped": ("end",),
    "process_gave_up": ("end",),
    "process_restarting": ("change",),
    "process_reloaded": ("change",),
    "process_reload": ("change",),
}
