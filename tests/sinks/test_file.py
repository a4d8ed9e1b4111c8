"""The file sink: appending, reopening after logrotate, size and time rotation, gzip, pruning,
URL validation, unwritable paths and line safety; and the stdout sink."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from bulletproof.errors import ConfigError, SinkError, SinkUnavailableError
from bulletproof.sinks import sink_from_url
from bulletproof.sinks._file import FileSink, StdoutSink, create, parse_size
from bulletproof.sinks.base import SinkSpec
from bulletproof.testing import FakeClock


def file_sink(url: str, clock: FakeClock | None = None, base_dir: Path | None = None) -> FileSink:
    sink = create(SinkSpec.parse(url, base_dir=base_dir), clock=clock or FakeClock())
    assert isinstance(sink, FileSink)
    return sink


def numbered(n: int, start: int = 0, pad: int = 40) -> list[bytes]:
    return [json.dumps({"n": i, "pad": "x" * pad}).encode() for i in range(start, start + n)]


def read_rotated(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()


def all_content(sink: FileSink) -> bytes:
    """Rotated files oldest first, then the live file."""
    parts = [read_rotated(p) for p in sink.rotated_files()]
    if sink.path.exists():
        parts.append(sink.path.read_bytes())
    return b"".join(parts)


def test_appends_and_creates_directories(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "events.jsonl"
    sink = file_sink(f"file://{target}")
    sink.open()
    sink.send([b'{"a":1}', b'{"a":2}'])
    sink.send([])
    sink.close()
    again = file_sink(f"file://{target}")
    again.send([b'{"a":3}'])  # opens on first use
    again.close()
    assert target.read_bytes() == b'{"a":1}\n{"a":2}\n{"a":3}\n'
    assert sink.unconfirmed() == 0
    assert sink.name == f"file://{target}"


def test_relative_path_is_relative_to_the_config_directory(tmp_path: Path) -> None:
    sink = sink_from_url("file:logs/events.jsonl", base_dir=tmp_path)
    sink.open()
    sink.send([b"{}"])
    sink.close()
    assert (tmp_path / "logs" / "events.jsonl").read_bytes() == b"{}\n"


def test_reopens_when_the_file_was_moved_away(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    sink = file_sink(f"file://{target}")
    sink.open()
    sink.send([b'{"n":1}'])
    target.rename(tmp_path / "events.jsonl.1")  # what logrotate does
    sink.send([b'{"n":2}'])
    (tmp_path / "events.jsonl").unlink()  # or the file is simply deleted
    sink.send([b'{"n":3}'])
    sink.close()
    assert (tmp_path / "events.jsonl.1").read_bytes() == b'{"n":1}\n'
    assert target.read_bytes() == b'{"n":3}\n'


def test_size_rotation_gzips_and_keeps_every_line_in_order(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    sink = file_sink(f"file://{target}?max_bytes=1KiB&keep=100")
    sink.open()
    lines = numbered(300)
    for i in range(0, len(lines), 7):
        sink.send(lines[i : i + 7])
    sink.close()
    rotated = sink.rotated_files()
    # The fake clock never moves: many rotations share one second and still sort right.
    assert len(rotated) > 12
    assert all(p.name.endswith(".gz") for p in rotated)
    assert not list(tmp_path.glob("*.tmp"))
    for p in rotated:
        assert 0 < len(read_rotated(p)) <= 1024
    assert all_content(sink) == b"".join(line + b"\n" for line in lines)


def test_size_rotation_without_compression(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    sink = file_sink(f"file://{target}?max_bytes=600&compress=none")
    lines = numbered(40)
    for line in lines:
        sink.send([line])
    sink.close()
    rotated = sink.rotated_files()
    assert rotated
    assert not any(p.name.endswith(".gz") for p in rotated)
    assert all_content(sink) == b"".join(line + b"\n" for line in lines)


def test_hourly_rotation_with_a_fake_clock(tmp_path: Path) -> None:
    clock = FakeClock(start=1_700_000_000.0)  # 2023-11-14T22:13:20Z
    target = tmp_path / "events.jsonl"
    sink = file_sink(f"file://{target}?rotate=hourly&max_bytes=0", clock=clock)
    sink.open()
    sink.send([b'{"h":22}'])
    clock.advance(60)
    sink.send([b'{"h":"22b"}'])
    assert sink.rotated_files() == []
    clock.advance(3600)
    sink.send([b'{"h":23}'])
    (first,) = sink.rotated_files()
    assert first.name == "events.jsonl.20231114T231420Z.gz"
    assert read_rotated(first) == b'{"h":22}\n{"h":"22b"}\n'
    assert target.read_bytes() == b'{"h":23}\n'
    clock.advance(30)
    sink.send([b'{"h":"23b"}'])
    assert len(sink.rotated_files()) == 1
    sink.close()


def test_daily_rotation_picks_up_an_old_file_at_open(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    target.write_bytes(b'{"old":1}\n')
    os.utime(target, (1_700_000_000.0, 1_700_000_000.0))
    clock = FakeClock(start=1_700_000_000.0 + 86_400)
    sink = file_sink(f"file://{target}?rotate=daily", clock=clock)
    sink.send([b'{"new":1}'])
    sink.close()
    (rotated,) = sink.rotated_files()
    assert read_rotated(rotated) == b'{"old":1}\n'
    assert target.read_bytes() == b'{"new":1}\n'


def test_keep_prunes_the_oldest_rotated_files(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    (tmp_path / "events.jsonl.bak").write_bytes(b"not ours")
    sink = file_sink(f"file://{target}?max_bytes=200&keep=2")
    lines = numbered(60, pad=10)
    for line in lines:
        sink.send([line])
    sink.close()
    rotated = sink.rotated_files()
    assert len(rotated) == 2
    kept = b"".join(read_rotated(p) for p in rotated) + target.read_bytes()
    expected = b"".join(line + b"\n" for line in lines)
    assert expected.endswith(kept)  # the newest lines survive, in order
    assert (tmp_path / "events.jsonl.bak").read_bytes() == b"not ours"


def test_keep_zero_keeps_no_rotated_file(tmp_path: Path) -> None:
    sink = file_sink(f"file://{tmp_path / 'e.jsonl'}?max_bytes=100&keep=0")
    for line in numbered(10, pad=30):
        sink.send([line])
    sink.close()
    assert sink.rotated_files() == []


@pytest.mark.parametrize(
    "url",
    [
        "file://host/x.jsonl",
        "file:",
        "file:///tmp/dir/",
        "file:///tmp/x.jsonl?rotate=weekly",
        "file:///tmp/x.jsonl?keep=-1",
        "file:///tmp/x.jsonl?keep=many",
        "file:///tmp/x.jsonl?max_bytes=lots",
        "file:///tmp/x.jsonl?max_bytes=5ib",
        "file:///tmp/x.jsonl?max_bytes=-5",
        "file:///tmp/x.jsonl?compress=zip",
        "file:///tmp/x.jsonl?fsync=maybe",
        "file:///tmp/x.jsonl?rotation=daily",
        "stdout:?x=1",
    ],
)
def test_bad_urls_are_config_errors_naming_the_url(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        sink_from_url(url)
    assert url in str(info.value)


def test_unwritable_directory_is_sink_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    url = f"file://{blocker}/sub/events.jsonl"
    sink = file_sink(url)
    with pytest.raises(SinkUnavailableError, match="not-a-dir") as info:
        sink.open()
    assert url in str(info.value)
    with pytest.raises(SinkUnavailableError):
        sink.probe()
    with pytest.raises(SinkError):
        sink.send([b"{}"])


def test_probe_does_not_disturb_an_open_sink(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    sink = file_sink(f"file://{target}")
    sink.open()
    # Count only descriptors on the sink's own file: other threads of the test process
    # (left by earlier tests) may open or close unrelated descriptors at any moment.
    before = _fds_on(target)
    assert len(before) == 1
    assert "writable" in sink.probe()
    assert _fds_on(target) == before  # no descriptor leaked or replaced
    sink.send([b'{"after":"probe"}'])
    sink.close()
    assert _fds_on(target) == set()
    assert target.read_bytes() == b'{"after":"probe"}\n'


def _fds_on(path: Path) -> set[str]:
    """This process's open descriptors on *path*."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == str(path):
                found.add(fd)
        except OSError:
            continue  # closed between the listing and the readlink
    return found


def test_raw_newlines_are_escaped_never_split(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    sink = file_sink(f"file://{target}")
    sink.send([b'{"a":"x\ny"}', b'{"b":"\r\nFAKE: entry"}', b'{"c":3}'])
    sink.close()
    lines = target.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert len(lines) == 4
    assert json.loads(lines[0]) == {"a": "x\ny"}
    assert json.loads(lines[1]) == {"b": "\r\nFAKE: entry"}
    assert b"\r" not in target.read_bytes()


def test_a_torn_last_line_is_ended_before_new_lines(tmp_path: Path) -> None:
    target = tmp_path / "events.jsonl"
    target.write_bytes(b'{"ok":1}\n{"torn":')
    sink = file_sink(f"file://{target}")
    sink.send([b'{"ok":2}'])
    sink.send([b'{"ok":3}'])
    sink.close()
    assert target.read_bytes() == b'{"ok":1}\n{"torn":\n{"ok":2}\n{"ok":3}\n'


def test_stdout_sink(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    sink = sink_from_url("stdout:")
    assert isinstance(sink, StdoutSink)
    sink.open()
    sink.send([b'{"a":1}', b'{"b":"x\ny"}'])
    sink.close()
    assert capsysbinary.readouterr().out == b'{"a":1}\n{"b":"x\\ny"}\n'
    assert sink.probe() == "standard output"
    assert sink.unconfirmed() == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("512", 512),
        ("1KiB", 1024),
        ("1kb", 1000),
        (" 100 MiB ", 100 * 1024**2),
        ("2G", 2 * 1000**3),
        ("1TiB", 1024**4),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, expected: int) -> None:
    assert parse_size(text, "max_bytes") == expected


@pytest.mark.parametrize("text", ["", "lots", "1.5MB", "5ib", "5i", "-1", "1 KiBs", -1])
def test_parse_size_rejects(text: str | int) -> None:
    with pytest.raises(ConfigError, match="max_bytes"):
        parse_size(text, "max_bytes")
