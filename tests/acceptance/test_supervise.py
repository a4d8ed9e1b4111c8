"""Acceptance: ``bulletproof run`` with real servers, real signals, real wrk load.

Each test starts the real CLI (``bulletproof run``) as a subprocess on loopback, with a file sink
for its events, and checks what an operator would: the server answers again after a crash or a
hang, nothing of the tree survives SIGKILL of the supervisor, reloads under load fail no request,
a leak is restarted gracefully with an event saying why, and a crash loop gives one alert, backs
off to the ceiling and costs the supervisor almost no CPU.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

import psutil
import pytest
from tests.acceptance.receivers import Cli, poll, report, run_cli
from tests.sinks.httpserver import free_port
from tests.supervise.helpers import (
    BIN,
    HERE,
    SERVER,
    details,
    env_for,
    events,
    get,
    port_free,
    server_log,
    stop,
    supervise,
    write_config,
    zombie,
)

from bulletproof.clock import system_clock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


def test_a_crashed_server_is_restarted_and_each_start_and_exit_is_an_event(
    project: Path,
) -> None:
    port = free_port()
    with supervise(
        project,
        "--bind",
        f"127.0.0.1:{port}",
        "--",
        sys.executable,
        str(SERVER),
        "crash-after-first",
    ) as cli:
        pids: set[str] = set()

        def answered_by_three() -> bool:
            body = get(port, timeout=0.5)  # each answer crashes the server (exit 1)
            if body:
                pids.add(body.split()[1])
            return len(pids) >= 3

        assert poll(answered_by_three, 20, interval=0.05)
        assert poll(lambda: len(events(project, "process_exited")) >= 2, 10)
        assert stop(cli) == 0
    assert len(pids) >= 3
    exited = events(project, "process_exited")
    assert details(exited[0])["exit_code"] == 1
    assert exited[0]["bulletproof"]["category"] == "process"
    assert len(events(project, "process_started")) >= 2
    assert events(project, "process_restarting")
    # the events name the program, never its arguments
    assert "crash-after-first" not in (project / "events.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("command", "why"),
    [("no-such-command-bp", "was not found"), ("{plain}", "is not executable")],
)
def test_a_command_that_cannot_start_exits_2_at_once(project: Path, command: str, why: str) -> None:
    plain = project / "plain.sh"
    plain.write_text("#!/bin/sh\necho hi\n", encoding="utf-8")
    plain.chmod(0o644)
    argv = [str(plain) if command == "{plain}" else command]
    result = run_cli(
        "run",
        "--pid-file",
        str(project / "run.pid"),
        "--",
        *argv,
        cwd=project,
        env=env_for(project),
        timeout=30,
    )
    assert result.code == 2, result.stderr
    assert why in result.stderr
    assert "Traceback" not in result.stderr
    assert len(events(project, "process_spawn_failed")) == 1  # reported, not retried


def test_a_hung_server_is_serving_again_within_interval_times_failures_plus_1s(
    project: Path,
) -> None:
    port = free_port()
    interval, failures = 0.5, 3
    with supervise(
        project,
        "--bind",
        f"127.0.0.1:{port}",
        "--health-url",
        f"http://127.0.0.1:{port}/",
        "--health-interval",
        f"{interval}s",
        "--health-failures",
        str(failures),
        "--",
        sys.executable,
        str(SERVER),
        "hang",
    ) as cli:
        assert poll(lambda: get(port) is not None, 10)
        first = get(port)
        assert first is not None
        poll(lambda: bool(events(project, "process_started")), 5)
        hung_at = system_clock.monotonic()
        hang = socket.create_connection(("127.0.0.1", port))
        hang.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
        assert poll(lambda: (b := get(port, timeout=0.2)) is not None and b != first, 15)
        took = system_clock.monotonic() - hung_at
        hang.close()
        report(
            f"hang: serving again {took:.2f} s after the hang (budget {interval * failures + 1} s)"
        )
        assert took <= interval * failures + 1.0
        assert stop(cli) == 0
    hung = events(project, "process_hung")
    assert hung
    assert "health checks missed" in details(hung[0])["why"]


@pytest.mark.parametrize("bind", [True, False], ids=["bind", "own-port"])
def test_after_sigkill_of_the_supervisor_no_process_remains_and_the_port_is_free(
    project: Path, bind: bool
) -> None:
    port = free_port()
    args = ["--bind", f"127.0.0.1:{port}"] if bind else []
    with supervise(project, *args, "--", sys.executable, str(SERVER), "tree", str(port)) as cli:
        assert poll(lambda: get(port) is not None, 10)
        sup = psutil.Process(cli.proc.pid)
        tree = [p.pid for p in sup.children(recursive=True)]
        assert len(tree) >= 3  # the guardian, the server, its worker
        killed_at = system_clock.monotonic()
        cli.proc.kill()
        cli.proc.wait()

        def gone() -> bool:
            alive = [p for p in tree if psutil.pid_exists(p) and not zombie(p)]
            return not alive and port_free(port)

        assert poll(gone, 1.0, interval=0.01), [
            (p, psutil.Process(p).cmdline()) for p in tree if psutil.pid_exists(p)
        ]
        report(
            f"orphans ({'bind' if bind else 'own port'}): all gone in "
            f"{system_clock.monotonic() - killed_at:.3f} s"
        )


def test_a_leaking_server_is_restarted_gracefully_and_an_event_says_why(project: Path) -> None:
    port = free_port()
    with supervise(
        project,
        "--max-memory",
        "120",
        "--memory-interval",
        "200ms",
        "--",
        sys.executable,
        str(SERVER),
        "leak",
        str(port),
    ) as cli:
        assert poll(lambda: len(events(project, "process_started")) >= 2, 30)
        assert stop(cli) == 0
    exceeded = events(project, "process_memory_exceeded")
    assert exceeded, (project / "events.jsonl").read_text()
    info = details(exceeded[0])
    assert info["rss"] > info["limit"] == 120 * 2**20
    assert "over the 120 MiB limit" in exceeded[0]["message"]
    stopped = [details(d) for d in events(project, "process_stopped")]
    assert stopped[0]["reason"] == "memory"
    assert stopped[0]["killed"] is False
    assert any(line.startswith("term ") for line in server_log(project))  # SIGTERM, not a kill


def test_sigterm_is_passed_on_and_a_server_that_ignores_it_is_killed(project: Path) -> None:
    port = free_port()
    with supervise(
        project,
        "--stop-timeout",
        "1s",
        "--",
        sys.executable,
        str(SERVER),
        "ignore-term",
        str(port),
    ) as cli:
        assert poll(lambda: get(port) is not None, 10)
        assert stop(cli) == 0
    assert any(line.startswith("term ") for line in server_log(project))
    stopped = details(events(project, "process_stopped")[0])
    assert stopped["killed"] is True
    assert stopped["signal"] == "SIGKILL"
    assert port_free(port)


def test_a_silent_heartbeat_restarts_the_server(project: Path) -> None:
    port = free_port()
    with supervise(
        project,
        "--heartbeat",
        "pipe",
        "--heartbeat-timeout",
        "500ms",
        "--start-timeout",
        "1s",
        "--",
        sys.executable,
        str(SERVER),
        "beat",
        str(port),
    ) as cli:
        assert poll(lambda: len(events(project, "process_hung")) >= 1, 15)
        assert poll(lambda: sum(line.startswith("start ") for line in server_log(project)) >= 2, 10)
        assert stop(cli) == 0
    hung = details(events(project, "process_hung")[0])
    assert "no heartbeat" in hung["why"]
    starts = [line for line in server_log(project) if line.startswith("start ")]
    assert len(starts) >= 2


def test_the_servers_output_is_passed_through_and_written_to_a_log(project: Path) -> None:
    port = free_port()
    with supervise(
        project,
        "--stdout-log",
        "logs/out.log",
        "--",
        sys.executable,
        str(SERVER),
        "ok",
        str(port),
    ) as cli:
        assert poll(lambda: get(port) is not None, 10)
        assert poll(lambda: (project / "logs" / "out.log").exists(), 5)
        assert poll(lambda: "serving" in (project / "logs" / "out.log").read_text(), 5)
        cli.proc.send_signal(signal.SIGTERM)
        result = cli.finish(15)
    assert result.code == 0
    assert "serving" in result.stdout


def test_a_second_supervisor_on_the_same_pid_file_is_refused(project: Path) -> None:
    port = free_port()
    with supervise(project, "--", sys.executable, str(SERVER), "ok", str(port)) as cli:
        assert poll(lambda: get(port) is not None, 10)
        second = run_cli(
            "run",
            "--pid-file",
            str(project / "run.pid"),
            "--",
            sys.executable,
            str(SERVER),
            "ok",
            str(free_port()),
            cwd=project,
            env=env_for(project),
            timeout=20,
        )
        assert second.code == 2
        assert "another supervisor" in second.stderr
        assert stop(cli) == 0
    missing = run_cli(
        "reload",
        "--pid-file",
        str(project / "run.pid"),
        cwd=project,
        env=env_for(project),
        timeout=20,
    )
    assert missing.code == 3
    assert "no supervisor is running" in missing.stderr


def test_a_process_that_left_the_group_does_not_survive_a_stop(project: Path) -> None:
    port = free_port()
    with supervise(project, "--", sys.executable, str(SERVER), "escape", str(port)) as cli:
        assert poll(lambda: get(port) is not None, 10)
        assert poll(lambda: any(x.startswith("child-") for x in server_log(project)), 5)
        assert stop(cli) == 0
    child = int(next(x for x in server_log(project) if x.startswith("child-")).split()[0][6:])
    assert poll(lambda: not psutil.pid_exists(child) or zombie(child), 2.0)


def test_sighup_without_bind_reaches_gunicorns_master_only(project: Path) -> None:
    port = free_port()
    env = env_for(project)
    env["PYTHONPATH"] = str(HERE)
    cmd = [str(BIN / "gunicorn"), "-w", "2", "--bind", f"127.0.0.1:{port}", "wsgi_app:app"]
    with Cli(
        "run", "--pid-file", str(project / "run.pid"), "--", *cmd, cwd=project, env=env
    ) as cli:
        assert poll(lambda: get(port) is not None, 20)
        master = psutil.Process(cli.proc.pid).children()
        leader = next(p for p in master if "gunicorn" in " ".join(p.cmdline()))
        result = run_cli(
            "reload", "--pid-file", str(project / "run.pid"), cwd=project, env=env, timeout=10
        )
        assert result.code == 0
        # gunicorn replaces its workers itself; the master goes on, nothing is restarted
        assert poll(lambda: get(port) is not None, 10)
        assert leader.is_running()
        assert stop(cli) == 0
    assert not events(project, "process_exited")
    assert [details(d)["mode"] for d in events(project, "process_reload")] == ["forwarded"]


def test_format_json_prints_each_event_as_ecs_json(project: Path) -> None:
    result = run_cli(
        "run",
        "--format",
        "json",
        "--pid-file",
        str(project / "run.pid"),
        "--",
        "no-such-command-bp",
        cwd=project,
        env=env_for(project),
        timeout=30,
    )
    assert result.code == 2
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    actions = [doc["event"]["action"] for doc in lines if "event" in doc]
    assert actions == ["process_spawn_failed"]
    assert lines[0]["bulletproof"]["category"] == "process"  # the event, then the last word
    assert "cannot start the command" in lines[-1]["message"]
