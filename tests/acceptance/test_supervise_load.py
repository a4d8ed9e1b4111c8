"""Acceptance: ``bulletproof run`` under load: five reloads under wrk fail no request (uvicorn and
gunicorn, on the supervisor's socket), and a crash loop gives one alert, backs off to the
ceiling and costs the supervisor little CPU. Apart from the other supervisor tests so that the
two long runs go to different test workers."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from tests.acceptance.receivers import Cli, poll, report, run_cli
from tests.sinks.httpserver import RecordingHTTPServer, free_port
from tests.supervise.helpers import (
    BIN,
    HERE,
    SERVER,
    details,
    env_for,
    events,
    get,
    stop,
    supervise,
    write_config,
)

from bulletproof.clock import system_clock

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_config(tmp_path)
    return tmp_path


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


def actions(folder: Path) -> list[str]:
    """The actions of the events so far, for a failure's message."""
    return [doc["event"]["action"] for doc in events(folder)]


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
    env["PYTHONPATH"] = str(HERE)  # asgi_app.py, wsgi_app.py
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
        with _wrk(port, 14) as load:  # on a failure too, its pipe is closed and it is reaped
            waiter = system_clock
            waiter.sleep(1.0)
            for i in range(5):
                result = run_cli(
                    "reload",
                    "--pid-file",
                    str(project / "run.pid"),
                    cwd=project,
                    env=env,
                    timeout=10,
                )
                assert result.code == 0, result.stderr
                reloaded = poll(lambda: len(events(project, "process_reloaded")) > i, 20)  # noqa: B023
                assert reloaded, actions(project)
                stopped = poll(lambda: len(events(project, "process_stopped")) > i, 20)  # noqa: B023
                assert stopped, actions(project)
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
    reasons = [details(d)["reason"] for d in events(project, "process_stopped")]
    assert reasons[:5] == ["replaced"] * 5


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
