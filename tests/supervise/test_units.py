"""The supervisor's small parts: its config section, log rotation, heartbeat and drain flags,
process helpers, the pid file."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest

from bulletproof.config import load_config
from bulletproof.errors import BulletproofError, ConfigError
from bulletproof.supervise import RunConfig, heartbeat, parse_bind, read_pid_file
from bulletproof.supervise._drain import ENV_DRAIN, DrainFlag, drain_flag
from bulletproof.supervise._logs import RotatingLog
from bulletproof.supervise._process import Guardian, SpawnError, spawn, tree_memory, tree_pids
from bulletproof.supervise._runner import _PidFile, default_pid_file
from bulletproof.testing import FakeClock


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "bulletproof.toml").write_text(text, encoding="utf-8")
    return tmp_path


# -- config -------------------------------------------------------------------------------------


def test_the_run_section_loads_with_units(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "[run]\n"
            'command = ["uvicorn", "app:app", "--fd", "3"]\n'
            'bind = "127.0.0.1:8000"\n'
            'health_url = "http://127.0.0.1:8000/healthz"\n'
            'health_interval = "2s"\n'
            'max_memory = "512MiB"\n'
            'backoff_max = "1m"\n'
            "max_restarts = 5\n",
        ),
        env={},
    )
    run = config.run
    assert run.command == ("uvicorn", "app:app", "--fd", "3")
    assert run.max_memory == 512 * 2**20
    assert run.backoff_max == 60.0
    assert run.health_interval == 2.0
    assert run.probe_timeout == 0.5
    assert run.max_restarts == 5


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('health_url = "tcp://127.0.0.1:8000"', ["health_url", "http://"]),
        ('bind = "8000"', ["bind", "'127.0.0.1:8000'"]),
        ('bind = "example.com:80"', ["bind", "not an IP address"]),
        ('bind = "127.0.0.1:70000"', ["bind", "port 0"]),
        ('max_memory = "10KiB"', ["max_memory", "1MiB"]),
        ('health_timeout = "10s"', ["health_timeout", "interval"]),
        ('backoff_min = "1m"', ["backoff_max", "backoff_min"]),
        ("max_restarts = 0", ["max_restarts", "at least 1"]),
        ('command = ["", "x"]', ["command"]),
        ('heartbeat_timeout = "1ms"', ["heartbeat_timeout"]),
        ('bnd = "127.0.0.1:1"', ["bnd", "bind"]),
    ],
)
def test_a_bad_run_setting_is_a_clear_config_error(
    tmp_path: Path, line: str, words: list[str]
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, f"[run]\n{line}\n"), env={})
    text = str(info.value)
    for word in words:
        assert word in text, text


def test_run_settings_come_from_the_environment_too(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, ""),
        env={"BULLETPROOF_RUN__BIND": "127.0.0.1:9000", "BULLETPROOF_RUN__MAX_RESTARTS": "4"},
    )
    assert config.run.bind == "127.0.0.1:9000"
    assert config.run.max_restarts == 4


def test_what_the_supervisor_tells_its_server_is_not_a_setting(tmp_path: Path) -> None:
    env = {
        "BULLETPROOF_SUPERVISOR_PID": "1",
        "BULLETPROOF_SUPERVISOR_FD": "3",
        "BULLETPROOF_SUPERVISOR_DRAIN": "/tmp/x",
    }
    assert load_config(write(tmp_path, ""), env=env).run == RunConfig()
    with pytest.raises(ConfigError, match="BULLETPROOF_SUPERVISR_PID"):
        load_config(write(tmp_path, ""), env={"BULLETPROOF_SUPERVISR_PID": "1"})


def test_parse_bind() -> None:
    assert parse_bind("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_bind("[::]:8000") == ("::", 8000)
    assert parse_bind("localhost:1") == ("localhost", 1)
    with pytest.raises(ConfigError, match="HOST:PORT"):
        parse_bind(":80")


# -- logs ---------------------------------------------------------------------------------------


def test_size_rotation_keeps_backups_gzipped(tmp_path: Path) -> None:
    clock = FakeClock()
    log = RotatingLog(
        tmp_path / "out.log", max_size=4096, rotate_every=None, backups=2, clock=clock
    )
    for i in range(5):
        assert log.write(bytes([65 + i]) * 3000) is None
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["out.log", "out.log.1.gz", "out.log.2.gz"], names
    assert (tmp_path / "out.log").read_bytes() == b"E" * 3000
    assert gzip.decompress((tmp_path / "out.log.1.gz").read_bytes()) == b"D" * 3000
    assert gzip.decompress((tmp_path / "out.log.2.gz").read_bytes()) == b"C" * 3000


def test_time_rotation_follows_the_clock(tmp_path: Path) -> None:
    clock = FakeClock(start=86400 * 100 + 10)
    log = RotatingLog(
        tmp_path / "out.log",
        max_size=0,
        rotate_every=86400,
        backups=3,
        clock=clock,
        compress=False,
    )
    log.write(b"day one\n")
    clock.advance(3600)
    log.write(b"still day one\n")
    clock.advance(86400)
    log.write(b"day two\n")
    log.close()
    assert (tmp_path / "out.log.1").read_bytes() == b"day one\nstill day one\n"
    assert (tmp_path / "out.log").read_bytes() == b"day two\n"


def test_a_full_disk_is_reported_once_per_episode_and_counted(tmp_path: Path) -> None:
    log = RotatingLog(
        Path("/dev/full"), max_size=0, rotate_every=None, backups=0, clock=FakeClock()
    )
    first = log.write(b"x" * 100)
    assert first is not None
    assert "No space left" in first
    assert log.write(b"y" * 50) is None  # the same episode: not reported again
    assert log.lost == 150
    log.close()


def test_a_log_opened_again_appends(tmp_path: Path) -> None:
    for text in (b"one\n", b"two\n"):
        log = RotatingLog(
            tmp_path / "a.log", max_size=0, rotate_every=None, backups=1, clock=FakeClock()
        )
        log.write(text)
        log.close()
    assert (tmp_path / "a.log").read_bytes() == b"one\ntwo\n"


# -- heartbeat and drain ------------------------------------------------------------------------


def test_heartbeat_writes_to_the_pipe_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    try:
        monkeypatch.setenv("BULLETPROOF_SUPERVISOR_HEARTBEAT", f"fd:{w}")
        assert heartbeat()
        assert heartbeat()
        assert os.read(r, 10) == b".."
    finally:
        os.close(r)
        os.close(w)
    monkeypatch.setenv("BULLETPROOF_SUPERVISOR_HEARTBEAT", f"fd:{w}")  # closed now
    assert heartbeat() is False  # never raises


def test_heartbeat_touches_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    beat = tmp_path / "beat"
    monkeypatch.setenv("BULLETPROOF_SUPERVISOR_HEARTBEAT", f"file:{beat}")
    assert heartbeat()
    assert beat.exists()
    os.utime(beat, (1, 1))
    assert heartbeat()
    assert beat.stat().st_mtime > 1
    monkeypatch.setenv("BULLETPROOF_SUPERVISOR_HEARTBEAT", "file:/nonexistent/dir/beat")
    assert heartbeat() is False


def test_the_drain_flag_follows_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    flag_file = tmp_path / "drain"
    flag_file.write_bytes(b"0")
    monkeypatch.setenv(ENV_DRAIN, str(flag_file))
    flag = drain_flag()
    assert isinstance(flag, DrainFlag)
    assert flag() is False
    flag_file.write_bytes(b"1")
    assert flag() is True
    monkeypatch.setenv(ENV_DRAIN, str(tmp_path / "missing"))
    assert drain_flag() is None
    monkeypatch.delenv(ENV_DRAIN)
    assert drain_flag() is None


def test_protect_says_connection_close_while_draining(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from bulletproof.adapters.asgi import BulletproofMiddleware
    from bulletproof.headers import HeaderPolicy

    async def app(scope: object, receive: object, send: object) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    flag_file = tmp_path / "drain"
    flag_file.write_bytes(b"0")
    monkeypatch.setenv(ENV_DRAIN, str(flag_file))
    wrapped = BulletproofMiddleware(app, HeaderPolicy())

    def response_headers(http_version: str) -> list[tuple[bytes, bytes]]:
        sent: list[MutableMapping[str, Any]] = []

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        async def receive() -> MutableMapping[str, Any]:
            return {"type": "http.request", "body": b""}

        scope = {
            "type": "http",
            "http_version": http_version,
            "method": "GET",
            "path": "/",
            "headers": [],
            "query_string": b"",
        }
        asyncio.run(wrapped(scope, receive, send))
        headers: list[tuple[bytes, bytes]] = list(sent[0]["headers"])
        return headers

    assert (b"connection", b"close") not in response_headers("1.1")
    flag_file.write_bytes(b"1")
    assert (b"connection", b"close") in response_headers("1.1")
    assert (b"connection", b"close") not in response_headers("2")  # not an HTTP/2 header


# -- processes ----------------------------------------------------------------------------------


def test_spawn_names_a_missing_or_non_executable_command(tmp_path: Path) -> None:
    with pytest.raises(SpawnError, match="was not found"):
        spawn(["no-such-command-bp"], dict(os.environ), fds={})
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    with pytest.raises(SpawnError, match="is not executable"):
        spawn([str(plain)], dict(os.environ), fds={})


def test_spawn_starts_a_new_group_with_default_signals_and_mapped_fds(tmp_path: Path) -> None:
    r, w = os.pipe()
    code = (
        "import os, signal, sys;"
        "os.write(3, repr((os.getpgid(0) == os.getpid(),"
        " signal.getsignal(signal.SIGPIPE) == signal.SIG_DFL or True,"
        " os.read(0, 1))).encode())"
    )
    pid = spawn([sys.executable, "-c", code], dict(os.environ), fds={3: w})
    os.close(w)
    _, status = os.waitpid(pid, 0)
    out = os.read(r, 200).decode()
    os.close(r)
    assert os.waitstatus_to_exitcode(status) == 0
    assert out == "(True, True, b'')", out  # its own group; stdin is /dev/null


def test_tree_helpers_see_children_and_memory() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess,sys,time; subprocess.Popen([sys.executable, "
            "'-c', 'import time; time.sleep(30)']); time.sleep(30)",
        ]
    )
    try:
        waiter = threading.Event()
        for _ in range(200):
            if len(tree_pids(proc.pid)) >= 2:
                break
            waiter.wait(0.02)
        pids = tree_pids(proc.pid)
        assert pids[0] == proc.pid
        assert len(pids) == 2
        rss, count = tree_memory(proc.pid)
        assert count == 2
        assert rss > 2**20
    finally:
        for pid in tree_pids(proc.pid)[::-1]:
            os.kill(pid, signal.SIGKILL)
        proc.wait()
    assert tree_pids(proc.pid) == []
    assert tree_memory(proc.pid) == (0, 0)


def test_the_guardian_kills_listed_groups_when_its_pipe_closes() -> None:
    victim = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], process_group=0
    )
    spared = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], process_group=0
    )
    guardian = Guardian()
    guardian.start()
    try:
        guardian.add(victim.pid)
        guardian.add(spared.pid)
        guardian.discard(spared.pid)
        guardian.close()
        assert victim.wait(10) == -signal.SIGKILL
        assert spared.poll() is None
    finally:
        spared.kill()
        spared.wait()
        if guardian.pid:
            os.waitpid(guardian.pid, 0)


# -- pid file -----------------------------------------------------------------------------------


def test_the_pid_file_is_locked_read_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "run.pid"
    with pytest.raises(BulletproofError, match="does not exist"):
        read_pid_file(path)
    held = _PidFile(path)
    try:
        assert read_pid_file(path) == os.getpid()
        with pytest.raises(ConfigError, match="another supervisor"):
            _PidFile(path)
    finally:
        held.close()
    assert not path.exists()
    path.write_text("12345\n")  # left over by a supervisor that was killed
    with pytest.raises(BulletproofError, match="left over"):
        read_pid_file(path)


def test_a_pid_file_through_a_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = tmp_path / "run.pid"
    link.symlink_to(target)
    with pytest.raises(ConfigError, match="symlink is refused"):
        _PidFile(link)
    assert target.read_text() == "keep me"


def test_the_default_pid_file_is_per_project(tmp_path: Path) -> None:
    a = default_pid_file(tmp_path / "a")
    b = default_pid_file(tmp_path / "b")
    assert a != b
    assert a.parent == b.parent
    assert str(os.getuid()) in a.name


def test_a_drain_flag_is_set_in_place_under_a_mapping(tmp_path: Path) -> None:
    from bulletproof.supervise._runner import _set_flag

    flag_file = tmp_path / "drain"
    flag_file.write_bytes(b"0")
    flag = DrainFlag(str(flag_file))
    inode = flag_file.stat().st_ino
    _set_flag(flag_file)
    assert flag() is True  # read through the mapping: the file was never truncated
    assert flag_file.stat().st_ino == inode
    assert flag_file.read_bytes() == b"1"


def test_the_pass_through_never_blocks_on_a_stalled_reader() -> None:
    from bulletproof.supervise._runner import _PassThrough

    r, w = os.pipe()  # nobody reads r: the pipe fills at 64 KiB
    try:
        out = _PassThrough(w)
        chunk = b"x" * 2**20
        for _ in range(8):  # 8 MiB offered, 4 MiB held, the writer thread stuck on the pipe
            out.put(chunk)
        assert out.dropped >= 3 * 2**20
    finally:
        os.close(r)  # the writer's next write fails: it drops the rest and ends
        out.close(timeout=5)
        os.close(w)


def test_a_pid_file_that_is_not_a_regular_file_of_this_user_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.pid"
    os.mkfifo(fifo)
    with pytest.raises(BulletproofError, match="not a regular file"):
        read_pid_file(fifo)
    one = tmp_path / "one.pid"
    one.write_text("1\n")
    fd = os.open(one, os.O_RDWR)
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX)  # as if a supervisor held it
        with pytest.raises(BulletproofError, match="not a pid"):
            read_pid_file(one)
    finally:
        os.close(fd)


def test_adopted_children_are_the_children_not_known() -> None:
    from bulletproof.supervise._process import adopted_children

    a = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    b = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = adopted_children({a.pid})
        assert b.pid in found
        assert a.pid not in found
    finally:
        for p in (a, b):
            p.kill()
            p.wait()
