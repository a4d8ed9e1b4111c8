"""Acceptance: ``bulletproof run`` with real servers, real signals, real wrk load.

Each test starts the real CLI (``bulletproof run``) as a subprocess on loopback, with a file sink
for its events, and checks what an operator would: the server answers again after a crash or a
hang, nothing of the tree survives SIGKILL of the supervisor, reloads under load fail no request,
a leak is restarted gracefully with an event saying why, and a crash loop gives one alert, backs
off to the ceiling and costs the supervisor almost no CPU.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest
from tests.acceptance.receivers import Cli, cli_env, poll, report, run_cli
from tests.sinks.httpserver import RecordingHTTPServer, free_port

from bulletproof.clock import system_clock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

HERE = Path(__file__).resolve().parent
SERVER = HERE.parent / "supervise" / "server.py"
BIN = Path(sys.executable).parent


def write_config(folder: Path, extra: str = "") -> None:
    (folder / "bulletproof.toml").write_text(
        'service_name = "supervised"\n'
        "[events]\n"
        'spool_dir = "spool"\n'
        'durability_lag = "50ms"\n'
        'sinks = ["file:events.jsonl"]\n' + extra,
        encoding="utf-8",
    )


def events(folder: Path, action: str | None = None) -> list[dict[str, Any]]:
    path = folder / "events.jsonl"
    if not path.exists():
        return []
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        if action is None or doc["event"]["action"] == action:
            docs.append(doc)
    return docs


def details(doc: dict[str, Any]) -> dict[str, Any]:
    return dict(doc["bulletproof"].get("details", {}))


def get(port: int, path: str = "/", timeout: float = 1.0) -> str | None:
    """The body of GET path, or None when the server does not answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.read().decode() if resp.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def server_log(folder: Path) -> list[str]:
    path = folder / "server.log"
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


def env_for(folder: Path) -> dict[str, str]:
    env = cli_env(folder, SERVER_LOG=str(folder / "server.log"))
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def supervise(folder: Path, *args: str) -> Cli:
    return Cli("run", "--pid-file", str(folder / "run.pid"), *args, cwd=folder, env=env_for(folder))


def stop(cli: Cli, timeout: float = 15.0) -> int:
    cli.proc.send_signal(signal.SIGTERM)
    return cli.finish(timeout).code


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
        pids = set()
        for _ in range(3):
            assert poll(lambda: get(port, timeout=0.5) is not None or False, 10)
            body = get(port)  # answered, then the server exits 1
            if body:
                pids.add(body.split()[1])
        assert poll(lambda: len(events(project, "process_exited")) >= 2, 10)
        assert stop(cli) == 0
    assert len(pids) >= 2
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
            alive = [p for p in tree if psutil.pid_exists(p) and not _zombie(p)]
            return not alive and _port_free(port)

        assert poll(gone, 1.0, interval=0.01), [
            (p, psutil.Process(p).cmdline()) for p in tree if psutil.pid_exists(p)
        ]
        report(
            f"orphans ({'bind' if bind else 'own port'}): all gone in "
            f"{system_clock.monotonic() - killed_at:.3f} s"
        )


def _zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as a server would bind
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


WRK = shutil.which("wrk")


def _wrk(port: int, seconds: int) -> subprocess.Popen[str]:
    assert WRK, "wrk is not installed: scripts/test installs it (apt-get install wrk)"
    return subprocess.Popen(
        [WRK, "-t1", "-c8", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _failures(output: str) -> tuple[int, int, int]:
    """(requests, socket errors, non-2xx) from wrk's report."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        errors = sum(int(g) for g in m.groups())
    n = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return requests, errors, int(n.group(1)) if n else 0


@pytest.mark.parametrize("server", ["uvicorn", "gunicorn"])
def test_five_reloads_under_wrk_load_fail_no_request(project: Path, server: str) -> None:
    port = free_port()
    if server == "uvicorn":
        cmd = [str(BIN / "uvicorn"), "asgi_app:app", "--fd", "3", "--log-level", "warning"]
    else:
        cmd = [
            str(BIN / "gunicorn"),
            "-w",
            "2",
            "--bind",
            "fd://3",
            "--log-level",
            "warning",
            "wsgi_app:app",
        ]
    env = env_for(project)
    env["PYTHONPATH"] = str(HERE.parent / "supervise")
    with Cli(
        "run",
        "--pid-file",
        str(project / "run.pid"),
        "--bind",
        f"127.0.0.1:{port}",
        "--health-url",
        f"http://127.0.0.1:{port}/",
        "--",
        *cmd,
        cwd=project,
        env=env,
    ) as cli:
        assert poll(lambda: get(port) is not None, 20)
        load = _wrk(port, 14)
        waiter = system_clock
        waiter.sleep(1.0)
        for i in range(5):
            result = run_cli(
                "reload", "--pid-file", str(project / "run.pid"), cwd=project, env=env, timeout=10
            )
            assert result.code == 0, result.stderr
            assert poll(lambda: len(events(project, "process_reloaded")) > i, 10)  # noqa: B023
            assert poll(lambda: len(events(project, "process_stopped")) > i, 10)  # noqa: B023
        out, _ = load.communicate(timeout=30)
        assert stop(cli) == 0
    requests, errors, bad = _failures(out)
    report(
        f"reload ({server}): {requests} requests under wrk, 5 reloads, {errors} socket "
        f"errors, {bad} non-2xx"
    )
    assert requests > 500, out
    assert errors == 0, out
    assert bad == 0, out
    stopped = events(project, "process_stopped")
    assert [details(d)["reason"] for d in stopped[:5]] == ["replaced"] * 5


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


def test_a_crash_loop_is_alerted_once_backs_off_to_the_ceiling_and_costs_little_cpu(
    tmp_path: Path,
) -> None:
    with RecordingHTTPServer() as hook:
        write_config(
            tmp_path,
            "[alerts.notifiers]\n"
            f'ops = "webhook+http://127.0.0.1:{hook.port}/hook"\n'
            "[[alerts.rules]]\n"
            'name = "crash-loop"\n'
            'categories = ["process"]\n'
            'actions = ["process_exited"]\n'
            "threshold = 3\n"
            'within = "1m"\n'
            'cooldown = "1h"\n'
            'notify = ["ops"]\n',
        )
        with supervise(
            tmp_path,
            "--backoff-min",
            "50ms",
            "--backoff-max",
            "1s",
            "--",
            sys.executable,
            str(SERVER),
            "exit",
        ) as cli:
            sup = psutil.Process(cli.proc.pid)
            assert poll(lambda: len(events(tmp_path, "process_exited")) >= 1, 20)
            cpu0 = sum(sup.cpu_times()[:2])
            t0 = system_clock.monotonic()
            assert poll(lambda: len(events(tmp_path, "process_exited")) >= 51, 120, 0.2)
            cpu = sum(sup.cpu_times()[:2]) - cpu0
            elapsed = system_clock.monotonic() - t0
            assert poll(lambda: len(hook.requests) >= 1, 10)
            alerts_before_stop = len(hook.requests)
            assert stop(cli) == 0
        share = cpu / elapsed
        report(
            f"crash loop: 50 crashes over {elapsed:.1f} s, supervisor CPU {cpu:.2f} s "
            f"({share:.1%} of one core), {len(hook.requests)} alert(s)"
        )
        assert alerts_before_stop == 1, [r.json() for r in hook.requests]
        # at the stop, the rule may send one digest of what its cooldown held back
        assert len(hook.requests) <= 2, [r.json() for r in hook.requests]
        assert all(r.json()["bulletproof"]["digest"] for r in hook.requests[1:])
        assert share < 0.05
    delays = [details(d)["delay"] for d in events(tmp_path, "process_restarting")]
    assert delays[0] == 0.0
    assert 0.75 <= max(delays) <= 1.0
    assert sum(d >= 0.75 for d in delays) >= 40


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
    assert _port_free(port)


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
