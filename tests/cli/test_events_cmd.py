"""``bulletproof events send-test`` and ``bulletproof events tail``."""

from __future__ import annotations

import gzip
import json
import os
import queue
import signal
import subprocess
import threading
from pathlib import Path
from typing import IO

import pytest
from tests.cli.test_cli_main import (
    CONSOLE_SCRIPT,
    FILE_SINK_PROJECT,
    assert_no_traceback,
    clean_env,
    invoke,
    make_project,
)
from tests.sinks.httpserver import free_port

from bulletproof._delivery import MAX_LINE_CHARS, read_events
from bulletproof.events.model import Category, SecurityEvent, Severity, _format_timestamp
from bulletproof.sinks import _SINK_FORMS


@pytest.fixture
def project(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    clean_env(monkeypatch)
    directory = make_project(tmp_path / "app", FILE_SINK_PROJECT)
    monkeypatch.chdir(directory)
    return directory


def event_line(action: str, category: Category, **fields: object) -> str:
    event = SecurityEvent(action=action, category=category, timestamp=1_700_000_000.0, **fields)  # type: ignore[arg-type]
    return json.dumps(event.to_ecs(), separators=(",", ":"))


TS = _format_timestamp(1_700_000_000.0)
LINES = [
    event_line(
        "login_failed",
        Category.AUTH,
        severity=Severity.MEDIUM,
        source_ip="203.0.113.9",
        user_name="alice",
        message="failed login for 'alice'",
    ),
    event_line("sink_unavailable", Category.DELIVERY, severity=Severity.HIGH),
    event_line("login_failed", Category.AUTH, source_ip="198.51.100.7", url_path="/login"),
]


def write_events(path: Path, *, garbage_at: int | None = None) -> list[str]:
    lines = list(LINES)
    if garbage_at is not None:
        lines.insert(garbage_at - 1, "this is { not json")
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return lines


# -- send-test -----------------------------------------------------------------------------------


def test_send_test_to_a_file_delivers_every_event(project: Path) -> None:
    run = invoke(
        "events", "send-test", "--to", "file:out.jsonl", "--count", "100", "--format", "json"
    )
    assert run.exit_code == 0, run.text
    result = json.loads(run.stdout)
    assert result["emitted"] == 100
    assert result["delivered"] == 100
    assert isinstance(result["seconds"], float | int)
    assert result["seconds"] >= 0
    assert result["interrupted"] is False
    docs = [json.loads(line) for line in (project / "out.jsonl").read_text().splitlines()]
    tests = [d for d in docs if d["event"]["action"] == "test_event"]
    assert len(tests) == 100
    details = [d["bulletproof"]["details"] for d in tests]
    assert {d["run"] for d in details} == {result["run"]}
    assert sorted(d["seq"] for d in details) == list(range(100))
    assert {d["bulletproof"]["category"] for d in tests} == {"delivery"}
    # The default spool lives under the project's spool_dir, not in the current directory.
    assert (project / ".bulletproof" / "spool" / "send-test").is_dir()


def test_send_test_text_output(project: Path, tmp_path: Path) -> None:
    spool = tmp_path / "my-spool"
    run = invoke("events", "send-test", "--to", "file:out.jsonl", "--spool", str(spool))
    assert run.exit_code == 0, run.text
    assert run.stdout.startswith("emitted 1, delivered 1 to file:out.jsonl in ")
    assert spool.is_dir()
    assert len((project / "out.jsonl").read_text().splitlines()) == 1


def test_send_test_to_a_closed_port_exits_3(project: Path, tmp_path: Path) -> None:
    port = free_port()
    spool = tmp_path / "spool"
    run = invoke(
        "events",
        "send-test",
        "--to",
        f"logstash://127.0.0.1:{port}",
        "--count",
        "5",
        "--timeout",
        "0.5",
        "--spool",
        str(spool),
        "--format",
        "json",
    )
    assert run.exit_code == 3, run.text
    result = json.loads(run.stdout)
    assert result["emitted"] == 5
    assert result["delivered"] == 0
    assert result["sink"] == f"logstash://127.0.0.1:{port}"
    text = invoke(
        "events",
        "send-test",
        "--to",
        f"logstash://127.0.0.1:{port}",
        "--timeout",
        "0.2",
        "--spool",
        str(spool),
    )
    assert text.exit_code == 3
    assert "wait in the spool" in text.stderr
    assert "--spool" in text.stderr


def test_send_test_on_a_spool_that_cannot_be_written_ends_at_its_timeout_and_counts_all(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from bulletproof.events import _spool as spool_module

    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module, "_os_write", full)
    monkeypatch.setenv("BULLETPROOF_EVENTS__MAX_PENDING", "100")
    run = invoke(
        "events",
        "send-test",
        "--to",
        "file:out.jsonl",
        "--count",
        "1000",  # far more than the memory queue holds while the disk refuses everything
        "--timeout",
        "1",
        "--spool",
        str(tmp_path / "spool"),
        "--format",
        "json",
    )
    assert run.exit_code == 3, run.text
    result = json.loads(run.stdout)
    assert result["emitted"] == 1000
    assert result["delivered"] == 0
    assert sum(result["dropped"].values()) + result["pending"] == 1000
    assert set(result["dropped"]) <= {"spool_write_failed", "memory_queue_full"}
    assert result["seconds"] < 15  # the emit loop gave up waiting at the deadline


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/x", "unknown scheme 'ftp'"),
        ("logstash://127.0.0.1", "needs a host and a port"),
        ("events.jsonl", "unknown scheme"),
        ("logstsh://127.0.0.1:5000", "Did you mean 'logstash'?"),
    ],
)
def test_send_test_bad_url_exits_2(project: Path, url: str, problem: str) -> None:
    run = invoke("events", "send-test", "--to", url, "--format", "json")
    assert run.exit_code == 2, run.text
    assert run.stdout == ""
    assert run.stderr.startswith("bulletproof: error: ")
    assert repr(url) in run.stderr
    assert problem in run.stderr
    assert "Accepted forms" in run.stderr or "Accepted:" in run.stderr
    if "unknown scheme" in problem:
        assert _SINK_FORMS.strip() in run.stderr


def test_send_test_password_in_url_is_masked(project: Path) -> None:
    run = invoke("events", "send-test", "--to", "ftp://bob:hunter2@example.com/x")
    assert run.exit_code == 2
    assert "hunter2" not in run.text
    assert "bob:***@" in run.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--count", "0"], "Invalid value for '--count'"),
        (["--count", "many"], "Invalid value for '--count'"),
        (["--timeout", "0"], "--timeout 0"),
    ],
)
def test_send_test_bad_numbers_exit_2(project: Path, args: list[str], message: str) -> None:
    run = invoke("events", "send-test", "--to", "file:out.jsonl", *args)
    assert run.exit_code == 2, run.text
    assert message in run.stderr
    assert not (project / "out.jsonl").exists()


# -- tail ----------------------------------------------------------------------------------------


def test_tail_prints_readable_lines_and_warns_about_garbage(project: Path) -> None:
    path = project / "events.jsonl"
    write_events(path, garbage_at=2)
    run = invoke("events", "tail", str(path))
    assert run.exit_code == 0, run.text
    out = run.stdout.splitlines()
    assert out == [
        f"{TS} MEDIUM auth login_failed ip=203.0.113.9 user=alice  failed login for 'alice'",
        f"{TS} HIGH delivery sink_unavailable",
        f"{TS} LOW auth login_failed ip=198.51.100.7 path=/login",
    ]
    warnings = run.stderr.splitlines()
    assert warnings[0].startswith(f"bulletproof: warning: {path}:2: not JSON")
    assert "1 line(s) were not bulletproof events" in warnings[-1]


def test_tail_warns_about_json_that_is_not_an_event(project: Path) -> None:
    path = project / "events.jsonl"
    path.write_text(LINES[0] + '\n{"hello": "world"}\n[1, 2]\n', encoding="utf-8")
    run = invoke("events", "tail", str(path))
    assert run.exit_code == 0
    assert len(run.stdout.splitlines()) == 1
    assert f"{path}:2: JSON, but not a bulletproof event" in run.stderr
    assert f"{path}:3: JSON, but not a bulletproof event" in run.stderr


def test_tail_neutralizes_control_characters(project: Path) -> None:
    path = project / "events.jsonl"
    hostile = event_line("login_failed", Category.AUTH, user_name="eve\nFAKE LINE\r")
    path.write_text(hostile + "\n", encoding="utf-8")
    run = invoke("events", "tail", str(path))
    assert run.stdout.count("\n") == 1
    assert "user=eve\\nFAKE LINE\\r" in run.stdout


def test_tail_category_filter(project: Path) -> None:
    path = project / "events.jsonl"
    write_events(path)
    auth = invoke("events", "tail", str(path), "--category", "auth")
    assert auth.exit_code == 0
    assert [line.split()[2] for line in auth.stdout.splitlines()] == ["auth", "auth"]
    both = invoke("events", "tail", str(path), "--category", "auth", "--category", "delivery")
    assert len(both.stdout.splitlines()) == 3
    none = invoke("events", "tail", str(path), "--category", "headers")
    assert none.exit_code == 0
    assert none.stdout == ""
    bad = invoke("events", "tail", str(path), "--category", "auht")
    assert bad.exit_code == 2
    assert "Invalid value for '--category'" in bad.stderr
    assert "'auht'" in bad.stderr


def test_tail_json_prints_the_raw_lines(project: Path) -> None:
    path = project / "events.jsonl"
    write_events(path, garbage_at=3)
    run = invoke("events", "tail", str(path), "--format", "json")
    assert run.exit_code == 0
    assert run.stdout.splitlines() == LINES
    assert f"{path}:3:" in run.stderr
    filtered = invoke("events", "tail", str(path), "--format", "json", "--category", "delivery")
    assert filtered.stdout.splitlines() == [LINES[1]]


def test_tail_reads_a_rotated_gzip_file(project: Path) -> None:
    path = project / "events.jsonl.20231114T221320Z.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("".join(f"{line}\n" for line in LINES))
    run = invoke("events", "tail", str(path), "--format", "json")
    assert run.exit_code == 0, run.text
    assert run.stdout.splitlines() == LINES
    readable = invoke("events", "tail", str(path), "--category", "delivery")
    assert readable.stdout.splitlines() == [f"{TS} HIGH delivery sink_unavailable"]


def test_tail_of_what_send_test_wrote(project: Path) -> None:
    assert invoke("events", "send-test", "--to", "file:out.jsonl", "--count", "3").exit_code == 0
    run = invoke("events", "tail", "out.jsonl", "--category", "delivery")
    assert run.exit_code == 0
    assert [line.split()[3] for line in run.stdout.splitlines()] == ["test_event"] * 3
    assert "bulletproof test event 3/3" in run.stdout


def test_tail_missing_file_exits_2(project: Path) -> None:
    run = invoke("events", "tail", "missing.jsonl")
    assert run.exit_code == 2
    assert run.stdout == ""
    assert "'missing.jsonl' does not exist" in run.stderr
    directory = invoke("events", "tail", str(project))
    assert directory.exit_code == 2
    assert "is a directory" in directory.stderr


class LineReader:
    """Reads a process's stdout on a thread, so the test can wait for lines with a timeout."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def take(self, count: int, timeout: float = 10.0) -> list[str]:
        """Up to ``count`` lines, waiting at most ``timeout`` seconds for each."""
        out: list[str] = []
        while len(out) < count:
            try:
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                break
            if line is None:
                break
            out.append(line)
        return out

    def join(self) -> None:
        """Wait until the stream ended (the process closed its stdout)."""
        self._thread.join(5)
        assert not self._thread.is_alive(), "stdout reader did not finish"

    def idle(self, seconds: float) -> bool:
        """True when no line arrives within ``seconds``."""
        try:
            line = self._lines.get(timeout=seconds)
        except queue.Empty:
            return True
        self._lines.put(line)  # order does not matter for the caller: it fails anyway
        return False


def test_tail_follow_picks_up_appended_lines(project: Path) -> None:
    path = project / "events.jsonl"
    path.write_text(LINES[0] + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULLETPROOF_")}
    proc = subprocess.Popen(
        [str(CONSOLE_SCRIPT), "events", "tail", str(path), "--follow", "--format", "json"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    assert proc.stdout is not None
    reader = LineReader(proc.stdout)
    try:
        assert reader.take(1) == [LINES[0]]
        with path.open("a", encoding="utf-8") as f:
            f.write(LINES[1] + "\n")
            f.flush()
            assert reader.take(1) == [LINES[1]]
            f.write(LINES[2][:20])  # half a line: printed only once the rest arrives
            f.flush()
            assert reader.idle(0.4), "a partial line was printed"
            f.write(LINES[2][20:] + "\n")
        assert reader.take(1) == [LINES[2]]
        assert proc.poll() is None, "tail --follow exited on its own"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    reader.join()
    stderr = proc.stderr.read() if proc.stderr else ""
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    assert_no_traceback(stderr)
    assert proc.returncode == 0, (proc.returncode, stderr)  # Ctrl-C ends a follow cleanly


def test_tail_survives_hostile_lines(project: Path) -> None:
    path = project / "events.jsonl"
    hostile = [
        "[" * 100_000,  # nesting deep enough to exhaust the parser's recursion
        "1" * 5000,  # an integer past Python's conversion limit
        '{"event": {"action": "' + "x" * (MAX_LINE_CHARS + 10) + '"}}',  # longer than the cap
        "\x00\x01 binary \xff",
    ]
    path.write_text("\n".join([LINES[0], *hostile, LINES[1]]) + "\n", encoding="utf-8")
    run = invoke("events", "tail", str(path), "--format", "json")
    assert run.exit_code == 0, run.text
    assert run.stdout.splitlines() == [LINES[0], LINES[1]]
    for number in (2, 3, 4, 5):
        assert f"{path}:{number}: " in run.stderr
    assert f"longer than {MAX_LINE_CHARS} characters" in run.stderr
    assert "4 line(s) were not bulletproof events" in run.stderr
    assert len(run.stderr) < 2000  # warnings do not echo the hostile lines


def test_tail_of_a_damaged_gzip_exits_2(project: Path) -> None:
    not_gzip = project / "events.jsonl.1.gz"
    not_gzip.write_text(LINES[0] + "\n")
    run = invoke("events", "tail", str(not_gzip))
    assert run.exit_code == 2, run.text
    assert f"event file {str(not_gzip)!r} is damaged" in run.stderr
    truncated = project / "events.jsonl.2.gz"
    packed = gzip.compress("".join(f"{line}\n" for line in LINES * 50).encode())
    truncated.write_bytes(packed[: len(packed) // 2])
    cut = invoke("events", "tail", str(truncated), "--format", "json")
    assert cut.exit_code == 2, cut.text
    assert f"event file {str(truncated)!r} is damaged" in cut.stderr
    assert all(line in LINES for line in cut.stdout.splitlines())  # what was readable is shown


def test_read_events_follows_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(LINES[0] + "\n", encoding="utf-8")
    stop = threading.Event()
    seen: queue.Queue[str] = queue.Queue()

    def consume() -> None:
        for line in read_events(path, follow=True, poll=0.01, stop=stop):
            seen.put(line.raw if line.doc is not None else f"error: {line.error}")

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    try:
        assert seen.get(timeout=5) == LINES[0]
        with path.open("a", encoding="utf-8") as f:
            f.write(LINES[1] + "\n")
        path.rename(tmp_path / "events.jsonl.1")  # rotate, as the file sink does
        path.write_text(LINES[2] + "\n", encoding="utf-8")
        assert [seen.get(timeout=5), seen.get(timeout=5)] == [LINES[1], LINES[2]]
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()
    assert seen.empty()


def test_tail_copes_with_odd_shaped_events(project: Path) -> None:
    path = project / "events.jsonl"
    odd = [
        {"event": {"action": "x"}, "source": "not-an-object", "bulletproof": 7, "user": [1]},
        {"event": {"action": ["list"]}, "url": {"path": None}, "message": {"a": 1}},
        {"event": {}, "@timestamp": None},
    ]
    path.write_text("".join(json.dumps(doc) + "\n" for doc in odd), encoding="utf-8")
    run = invoke("events", "tail", str(path))
    assert run.exit_code == 0, run.text
    assert run.stdout.splitlines() == [
        "- - - x",
        "- - - ['list']  {'a': 1}",
        "- - - -",
    ]
    filtered = invoke("events", "tail", str(path), "--category", "auth")
    assert filtered.exit_code == 0
    assert filtered.stdout == ""


def test_tail_escapes_terminal_control_sequences(project: Path) -> None:
    path = project / "events.jsonl"
    line = event_line("login_failed", Category.AUTH, user_name="\x1b[2J\x1b]0;owned\x07\u2028x")
    path.write_text(line + "\n", encoding="utf-8")
    run = invoke("events", "tail", str(path))
    assert run.exit_code == 0
    assert "\x1b" not in run.stdout
    assert "\x07" not in run.stdout
    assert "\u2028" not in run.stdout
    assert "user=\\x1b[2J\\x1b]0;owned\\x07\\u2028x" in run.stdout
