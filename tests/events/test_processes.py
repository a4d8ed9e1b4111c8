"""Many processes, one spool: fork, multiprocessing, shared directories, failover after kill -9.

Each test runs real Python processes (``sys.executable``) on a real directory; the sink is a
file, so what arrived is read back and counted by event id.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from tests.sinks.httpserver import RecordingHTTPServer, Reply

from bulletproof.clock import system_clock

PRELUDE = """
import os, sys
from bulletproof.events.model import Category, SecurityEvent
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.sinks import sink_from_url

def make(spool, target, **kw):
    sink = sink_from_url("file://" + target + kw.pop("query", ""))
    opts = PipelineOptions(spool_dir=spool, durability_lag=0.02, fsync=False, **kw)
    return EventPipeline([sink], options=opts)

def ev(tag, i):
    return SecurityEvent(action="probe", category=Category.MALICIOUS_TRAFFIC,
                         id=f"{tag}-{i}", details={"tag": tag, "i": i})
"""


def run(code: str, *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


_spawned: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _reap() -> Any:
    """Kill what a test spawned and close its pipes, whatever happened."""
    yield
    while _spawned:
        proc = _spawned.pop()
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


def spawn(code: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _spawned.append(proc)
    return proc


def delivered(target: Path) -> list[dict[str, Any]]:
    """Every event in the file sink's files (rotated and gzipped ones too)."""
    import gzip

    docs: list[dict[str, Any]] = []
    for path in sorted(target.parent.glob(target.name + "*")):
        opener: Any = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            docs.extend(json.loads(line) for line in f if line.strip())
    return docs


def ids(docs: list[dict[str, Any]], action: str = "probe") -> Counter[str]:
    return Counter(d["event"]["id"] for d in docs if d["event"]["action"] == action)


@pytest.fixture
def paths(tmp_path: Path) -> tuple[str, Path]:
    return str(tmp_path / "spool"), tmp_path / "out" / "events.jsonl"


def test_a_pipeline_started_before_fork_works_in_parent_and_child(
    paths: tuple[str, Path],
) -> None:
    spool, target = paths
    done = run(
        f"""
        pipe = make({spool!r}, {str(target)!r}).start()
        pipe.emit(ev("parent", 0))
        pids = []
        for n in range(3):
            pid = os.fork()
            if pid == 0:
                for i in range(200):
                    pipe.emit(ev(f"child{{n}}", i))
                sys.exit(0)  # a normal exit: atexit spools and hands over what it holds
            pids.append(pid)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0, status
        pipe.emit(ev("parent", 1))
        assert pipe.close(timeout=10)
        print(pipe.spool.slot, pipe.delivering)
        """
    )
    assert done.stdout.split() == ["0", "True"]  # the parent kept its slot and delivered
    got = ids(delivered(target))
    expected = {f"child{n}-{i}" for n in range(3) for i in range(200)} | {"parent-0", "parent-1"}
    assert set(got) == expected
    assert set(got.values()) == {1}  # one deliverer: each event once


def test_a_pipeline_built_but_not_started_before_fork_takes_its_own_slot_in_the_child(
    paths: tuple[str, Path],
) -> None:
    spool, target = paths
    done = run(
        f"""
        pipe = make({spool!r}, {str(target)!r})  # built at import, started later per worker
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            pipe.start()
            for i in range(100):
                pipe.emit(ev("child", i))
            os.write(w, str(pipe.spool.slot).encode())
            sys.exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        child_slot = int(os.read(r, 16))
        pipe.start()
        pipe.emit(ev("parent", 0))
        assert pipe.close(timeout=10)
        print(pipe.spool.slot, child_slot)
        """
    )
    parent_slot, child_slot = done.stdout.split()
    assert parent_slot != child_slot  # never two writers on one slot
    got = ids(delivered(target))
    assert set(got) == {f"child-{i}" for i in range(100)} | {"parent-0"}


def test_a_multiprocessing_child_that_returns_loses_nothing(paths: tuple[str, Path]) -> None:
    spool, target = paths
    run(
        f"""
        import multiprocessing as mp
        pipe = make({spool!r}, {str(target)!r}).start()

        def work(n):
            for i in range(300):
                pipe.emit(ev(f"mp{{n}}", i))
            # returns: multiprocessing ends the child with os._exit, skipping atexit

        if __name__ == "__main__":
            ctx = mp.get_context("fork")
            procs = [ctx.Process(target=work, args=(n,)) for n in range(2)]
            for p in procs:
                p.start()
            for p in procs:
                p.join(30)
                assert p.exitcode == 0, p.exitcode
            assert pipe.close(timeout=10)
        """
    )
    got = ids(delivered(target))
    assert set(got) == {f"mp{n}-{i}" for n in range(2) for i in range(300)}
    assert set(got.values()) == {1}


def test_processes_sharing_a_spool_deliver_everything_once_through_a_rotating_file(
    paths: tuple[str, Path],
) -> None:
    spool, target = paths
    code = f"""
        tag = sys.argv[1] if len(sys.argv) > 1 else os.environ["TAG"]
        pipe = make({spool!r}, {str(target)!r}, query="?max_bytes=64KiB&keep=1000").start()
        for i in range(5000):
            pipe.emit(ev(tag, i))
        assert pipe.close(timeout=30), pipe.receipts()
        r = pipe.receipts()[pipe._workers[0].sink.name]
        print(r.delivered, dict(r.dropped), r.pending)
        """
    senders = [
        subprocess.Popen(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**__import__("os").environ, "TAG": tag},
        )
        for tag in ("a", "b", "c")
    ]
    outs = [p.communicate(timeout=60) for p in senders]
    for p, (out, err) in zip(senders, outs, strict=True):
        assert p.returncode == 0, err
        assert out.split() == ["5000", "{}", "0"]  # what the sink confirmed: all of it
    docs = delivered(target)
    got = ids(docs)
    assert set(got) == {f"{t}-{i}" for t in "abc" for i in range(5000)}
    assert set(got.values()) == {1}
    assert len(list(target.parent.glob("events.jsonl.*"))) > 3  # it did rotate, many times


def test_kill_9_of_the_deliverer_fails_over_and_its_orphaned_slot_is_delivered(
    paths: tuple[str, Path], tmp_path: Path
) -> None:
    spool, target = paths
    # The first process delivers, to a sink that is down (a file under a missing directory it
    # cannot create: a regular file stands in the way), so its events wait in its slot.
    blocker = tmp_path / "blocked"
    blocker.write_text("not a directory")
    leader = spawn(
        f"""
        pipe = make({spool!r}, {str(blocker / "events.jsonl")!r}).start()
        for i in range(500):
            pipe.emit(ev("first", i))
        assert pipe.flush(10)
        print("ready", pipe.delivering, flush=True)
        sys.stdin.readline()  # blocks until the test kills this process
        """
    )
    assert leader.stdout is not None
    assert leader.stdout.readline().split() == ["ready", "True"]
    leader.send_signal(signal.SIGKILL)
    leader.wait(10)
    # The next process takes over (the lock died with the first), delivers its own events and
    # the orphaned slot's: the sink URL is the deliverer's own, here a working one.
    run(
        f"""
        pipe = make({spool!r}, {str(target)!r}).start()
        for i in range(100):
            pipe.emit(ev("second", i))
        assert pipe.delivering
        assert pipe.close(timeout=20)
        """
    )
    got = ids(delivered(target))
    assert set(got) == {f"first-{i}" for i in range(500)} | {f"second-{i}" for i in range(100)}


def test_a_waiting_process_takes_over_when_the_deliverer_is_killed(
    paths: tuple[str, Path],
) -> None:
    spool, target = paths
    deliverer = spawn(
        f"""
        pipe = make({spool!r}, {str(target)!r}).start()
        print("leading", pipe.delivering, flush=True)
        sys.stdin.readline()  # blocks until the test kills this process
        """
    )
    assert deliverer.stdout is not None
    assert deliverer.stdout.readline().split() == ["leading", "True"]
    follower = spawn(
        f"""
        pipe = make({spool!r}, {str(target)!r}).start()
        print("started", pipe.delivering, flush=True)
        sys.stdin.readline()  # the deliverer is killed meanwhile
        for i in range(200):
            pipe.emit(ev("follower", i))
        assert pipe.close(timeout=20)
        print("done", pipe.delivering, flush=True)
        """
    )
    assert follower.stdout is not None
    assert follower.stdout.readline().split() == ["started", "False"]
    deliverer.send_signal(signal.SIGKILL)
    deliverer.wait(10)
    out, err = follower.communicate(input="go\n", timeout=60)
    assert follower.returncode == 0, err
    assert out.split() == ["done", "True"]  # it took over, within its close timeout
    assert set(ids(delivered(target))) == {f"follower-{i}" for i in range(200)}


def test_a_child_forked_while_the_parent_closes_does_not_keep_the_locks(
    paths: tuple[str, Path],
) -> None:
    spool, _ = paths
    done = run(
        f"""
        import fcntl, signal, threading
        pipe = make({spool!r}, "/nonexistent-dir/blocked/" + "x.jsonl").start()  # a sink down
        pipe.emit(ev("e", 0))
        assert pipe.flush(5)
        draining = threading.Event()
        drain = pipe.drain

        def drain_and_say(timeout):
            draining.set()
            return drain(timeout)

        pipe.drain = drain_and_say
        closer = threading.Thread(target=pipe.close, kwargs={{"timeout": 1.0}})
        closer.start()
        assert draining.wait(10)  # close() is draining now (for 1 s: the sink is down)
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            # Code after fork() runs once the at-fork hooks have: until then the child holds
            # the copies it inherited, whatever the library does (a loaded machine may not
            # schedule the child before the parent has closed).
            os.write(ready_w, b"1")
            while True:
                signal.pause()  # alive, holding whatever it kept, until killed
        os.close(ready_w)
        assert os.read(ready_r, 1) == b"1"
        closer.join()

        def free(name):
            fd = os.open(os.path.join({spool!r}, name), os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError:
                return False
            finally:
                os.close(fd)

        print(free("deliver.lock"), free("slot-0/lock"))
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        """
    )
    assert done.stdout.split() == ["True", "True"]  # the child dropped its copies at once


ALERTS = """
from bulletproof.events.alerts import AlertEngine, AlertRule
from bulletproof.sinks import notifier_from_url

def alerting(spool, target, hook):
    rule = AlertRule("probes", categories=frozenset({Category.MALICIOUS_TRAFFIC}),
                     threshold=3, within=60, cooldown=300, notify=("hook",))
    engine = AlertEngine([rule], {"hook": notifier_from_url(hook)}, retry_delays=(0.5,))
    sink = sink_from_url("file://" + target)
    opts = PipelineOptions(spool_dir=spool, durability_lag=0.02, fsync=False)
    return EventPipeline([sink], options=opts, alerts=engine), engine
"""


def alerts_of(server: RecordingHTTPServer) -> list[tuple[bool, int]]:
    """(digest, suppressed) of each alert the webhook got."""
    return [
        (r.json()["bulletproof"]["digest"], r.json()["bulletproof"]["suppressed"])
        for r in server.requests
    ]


def test_kill_9_of_the_deliverer_after_an_alert_gives_no_second_alert_and_one_digest_of_all(
    paths: tuple[str, Path],
) -> None:
    spool, target = paths
    with RecordingHTTPServer() as server:
        hook = f"webhook+http://127.0.0.1:{server.port}/hook"
        first = spawn(
            ALERTS
            + textwrap.dedent(f"""
            pipe, engine = alerting({spool!r}, {str(target)!r}, {hook!r})
            pipe.start()
            for i in range(5):  # an alert at the third, two held back for the digest
                pipe.emit(ev("first", i))
            assert pipe.drain(10)
            print("ready", pipe.delivering, engine.stats().alerts_sent, flush=True)
            sys.stdin.readline()  # blocks until the test kills this process
            """)
        )
        assert first.stdout is not None
        assert first.stdout.readline().split() == ["ready", "True", "1"]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        run(
            ALERTS
            + textwrap.dedent(f"""
            pipe, engine = alerting({spool!r}, {str(target)!r}, {hook!r})
            pipe.start()
            for i in range(4):  # within the cooldown the first started
                pipe.emit(ev("second", i))
            assert pipe.delivering
            assert pipe.close(timeout=20)  # sends the digest of what was held back
            """)
        )
        assert alerts_of(server) == [(False, 0), (True, 6)]


def test_an_alert_the_deliverer_was_killed_while_sending_is_sent_by_the_next(
    paths: tuple[str, Path],
) -> None:
    spool, target = paths
    never = threading.Event()  # the first webhook takes the request and never answers
    with (
        RecordingHTTPServer(default=Reply(200, b"{}", hold=never)) as stuck,
        RecordingHTTPServer() as server,
    ):
        stuck_hook = f"webhook+{stuck.url}/hook"
        first = spawn(
            ALERTS
            + textwrap.dedent(f"""
            pipe, engine = alerting({spool!r}, {str(target)!r}, {stuck_hook!r})
            pipe.start()
            for i in range(3):
                pipe.emit(ev("first", i))
            sys.stdin.readline()
            """)
        )
        deadline = system_clock.monotonic() + 20
        while not stuck.requests and system_clock.monotonic() < deadline:
            system_clock.sleep(0.02)
        assert len(stuck.requests) == 1  # the alert is on its way...
        first.send_signal(signal.SIGKILL)  # ...when its process is killed
        first.wait(10)
        never.set()  # lets the stuck handler end
        hook = f"webhook+http://127.0.0.1:{server.port}/hook"
        run(
            ALERTS
            + textwrap.dedent(f"""
            pipe, engine = alerting({spool!r}, {str(target)!r}, {hook!r})
            pipe.start()
            assert pipe.close(timeout=20)
            """)
        )
        assert alerts_of(server) == [(False, 0)]  # made by the next deliverer, once
