"""Claim: ``bulletproof run`` has a crashed server serving again within 100 ms plus the server's
own start time (median over 20 crashes), within 1.3x of a bare shell restart loop; and a crash
loop costs the supervisor under 5% of one core.

Usage::

    uv run --group bench python bench/supervise.py [--crashes 20] [--gap 0.6]
                                                   [--cpu-seconds 60] [--supervisord PATH]

The server (``bench/_crash_server.py``) exits 1 after answering ``/crash``. For each tool, in
one run: a request to ``/crash`` makes the server crash; the time from its answer to the next
answered request to ``/`` (the client retrying every 0.5 ms) is one crash-to-serving latency.
The bench waits ``--gap`` seconds between crashes, so each crash follows a healthy spell
(``bulletproof run`` is given ``--healthy-after`` below the gap: an isolated crash restarts at
once, as with the others).
Baselines measured in the same run: the server's own start time (started directly, spawn to
first answer) and a bash ``while true`` loop. supervisord (``autorestart``, ``startsecs=0``) is
timed when installed (the ``bench`` dependency group has it).

The CPU part runs ``bulletproof run`` over a server that exits at once for ``--cpu-seconds``
(backoff up to 1 s) and reports the supervisor's own CPU time (its children excluded) as a share
of one core.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERVER = HERE / "_crash_server.py"
BIN = Path(sys.executable).parent
BULLETPROOF = BIN / "bulletproof"
PY = [sys.executable, "-I", "-S"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ask(port: int, timeout: float = 2.0, path: str = "/") -> bool:
    """One request; True when it was answered."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
            c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            return c.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _until_answered(port: int, deadline: float) -> float:
    """Retry every 0.5 ms until a request is answered; the time it was."""
    while True:
        if _ask(port, timeout=max(0.05, deadline - time.perf_counter())):
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise SystemExit(f"no answer on port {port} in time")
        time.sleep(0.0005)


def _crash_latencies(port: int, crashes: int, gap: float) -> list[float]:
    _until_answered(port, time.perf_counter() + 30)
    out = []
    for _ in range(crashes):
        time.sleep(gap)
        # the server is up: this request crashes it once answered
        if not _ask(port, path="/crash"):
            raise SystemExit("the server did not answer the crashing request")
        crashed = time.perf_counter()
        out.append(_until_answered(port, crashed + 30) - crashed)
    return out


@contextlib.contextmanager
def _running(command: list[str], **kwargs: object) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        **kwargs,  # type: ignore[call-overload]
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _start_time(runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        port = _free_port()
        start = time.perf_counter()
        with _running([*PY, str(SERVER), str(port)]):
            out.append(_until_answered(port, start + 30) - start)
    return out


def _shell_loop(crashes: int, gap: float) -> list[float]:
    port = _free_port()
    loop = f"while true; do {' '.join(PY)} {SERVER} {port}; done"
    with _running(["bash", "-c", loop]):
        return _crash_latencies(port, crashes, gap)


def _project(folder: Path) -> dict[str, str]:
    """A config in ``folder`` (events to a file there) and the environment that names it."""
    (folder / "bulletproof.toml").write_text(
        '[events]\nspool_dir = "spool"\nsinks = ["file:events.jsonl"]\n', encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
    env["BULLETPROOF_CONFIG"] = str(folder)
    return env


def _bulletproof(crashes: int, gap: float, bind: bool, folder: Path) -> list[float]:
    port = _free_port()
    args = ["--bind", f"127.0.0.1:{port}"] if bind else []
    env = _project(folder)
    command = [
        str(BULLETPROOF),
        "run",
        "--pid-file",
        str(folder / f"run-{bind}.pid"),
        "--healthy-after",
        f"{gap / 2:g}s",
        *args,
        "--",
        *PY,
        str(SERVER),
        str(port),
    ]
    with _running(command, env=env, cwd=folder):
        return _crash_latencies(port, crashes, gap)


def _supervisord(path: str, crashes: int, gap: float, folder: Path) -> list[float]:
    port = _free_port()
    conf = folder / "supervisord.conf"
    conf.write_text(
        f"""[supervisord]
nodaemon=true
logfile={folder}/supervisord.log
pidfile={folder}/supervisord.pid
[unix_http_server]
file={folder}/supervisor.sock
[program:crash]
command={" ".join(PY)} {SERVER} {port}
autorestart=true
startsecs=0
startretries=1000
""",
        encoding="utf-8",
    )
    with _running([path, "-c", str(conf)]):
        return _crash_latencies(port, crashes, gap)


def _cpu_share(seconds: float, folder: Path) -> tuple[float, int]:
    env = _project(folder)
    command = [
        str(BULLETPROOF),
        "run",
        "--pid-file",
        str(folder / "cpu.pid"),
        "--backoff-max",
        "1s",
        "--",
        *PY,
        "-c",
        "raise SystemExit(1)",
    ]
    import psutil

    with _running(command, env=env, cwd=folder) as proc:
        sup = psutil.Process(proc.pid)
        time.sleep(3.0)  # past the interpreter's start-up
        cpu0 = sum(sup.cpu_times()[:2])
        t0 = time.perf_counter()
        time.sleep(seconds)
        cpu = sum(sup.cpu_times()[:2]) - cpu0
        elapsed = time.perf_counter() - t0
    events = (folder / "events.jsonl").read_text(encoding="utf-8").count('"process_exited"')
    return cpu / elapsed, events


def _ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--crashes", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.6)
    parser.add_argument("--cpu-seconds", type=float, default=60.0)
    parser.add_argument(
        "--supervisord", default=shutil.which("supervisord") or str(BIN / "supervisord")
    )
    opts = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = _start_time(opts.crashes)
        shell = _shell_loop(opts.crashes, opts.gap)
        own = _bulletproof(opts.crashes, opts.gap, False, folder)
        bound = _bulletproof(opts.crashes, opts.gap, True, folder)
        sup: list[float] | None = None
        if Path(opts.supervisord).exists():
            sup = _supervisord(opts.supervisord, opts.crashes, opts.gap, folder)
        share, exits = _cpu_share(opts.cpu_seconds, folder) if opts.cpu_seconds else (0.0, 0)

    base = _ms(start)
    print(f"crash-to-serving, median of {opts.crashes} crashes ({opts.gap:g} s apart)")
    print(f"server start (direct)        {base:7.1f} ms  (the server's own start time)")
    print(f"bash while-true loop         {_ms(shell):7.1f} ms  baseline")
    for label, values in (("bulletproof run", own), ("bulletproof run --bind", bound)):
        over = _ms(values) - base
        ratio = _ms(values) / _ms(shell)
        verdict = "PASS" if over <= 100 and ratio <= 1.3 else "FAIL"
        print(
            f"{label:<28} {_ms(values):7.1f} ms  {over:+6.1f} ms over start, "
            f"{ratio:.2f}x the shell loop (target <= +100 ms, <= 1.3x): {verdict}"
        )
    if sup is not None:
        ratio = _ms(sup) / _ms(shell)
        print(f"supervisord                  {_ms(sup):7.1f} ms  {ratio:.2f}x the shell loop")
    else:
        print(f"supervisord: not installed ({opts.supervisord}); uv run --group bench installs it")
    if opts.cpu_seconds:
        verdict = "PASS" if share < 0.05 else "FAIL"
        print(
            f"crash loop for {opts.cpu_seconds:g} s ({exits} exits, backoff up to 1 s): the "
            f"supervisor used {share:.2%} of one core (target < 5%): {verdict}"
        )


if __name__ == "__main__":
    main()
