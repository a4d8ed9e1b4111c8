"""The disk spool: order, commits, restarts, torn writes, rotation, the byte bound and slots."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bulletproof.errors import SpoolError
from bulletproof.events.spool import Position, Spool, SpoolReader

SEG = 4096


def lines_of(n: int, start: int = 0, width: int = 60) -> list[bytes]:
    return [f'{{"n":{i},"pad":"{"x" * width}"}}'.encode() for i in range(start, start + n)]


def read_all(reader: SpoolReader, max_lines: int = 1000, max_bytes: int = 1 << 20) -> list[bytes]:
    out: list[bytes] = []
    while batch := reader.read(max_lines, max_bytes).lines:
        out.extend(batch)
    return out


def drain(reader: SpoolReader) -> list[bytes]:
    """Read and commit everything."""
    out: list[bytes] = []
    while True:
        batch = reader.read()
        if not batch.lines:
            return out
        out.extend(batch.lines)
        reader.commit(batch.ends[-1])


def disk_bytes(spool: Spool) -> int:
    return sum(p.stat().st_size for p in spool.dir.glob("*.seg"))


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    s = Spool(tmp_path / "spool", max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    yield s
    s.close()


def test_append_read_commit(spool: Spool) -> None:
    reader = spool.reader("file:///x")
    assert reader.read().lines == []
    spool.append([b"a", b"b", b"c"])
    batch = reader.read()
    assert batch.lines == [b"a", b"b", b"c"]
    assert batch.ends[-1] == spool.end()
    assert reader.backlog() == 3
    reader.commit(batch.ends[0])
    assert reader.backlog() == 2
    reader.commit(batch.ends[-1])
    assert reader.backlog() == 0
    assert reader.read().lines == []
    assert reader.committed == spool.end()
    assert spool.lines_written == 3


def test_read_respects_max_lines(spool: Spool) -> None:
    reader = spool.reader("r")
    spool.append(lines_of(10))
    assert len(reader.read(max_lines=4).lines) == 4
    assert len(reader.read(max_lines=4).lines) == 4
    assert len(reader.read(max_lines=4).lines) == 2


def test_rewind_rereads_uncommitted(spool: Spool) -> None:
    reader = spool.reader("r")
    spool.append([b"1", b"2", b"3"])
    batch = reader.read()
    reader.commit(batch.ends[0])
    assert reader.read().lines == []
    reader.rewind()
    assert reader.read().lines == [b"2", b"3"]


def test_empty_lines_skipped_and_newlines_inside_a_line_escaped(spool: Spool) -> None:
    reader = spool.reader("r")
    spool.append([b"", b'{"a":"x\ny"}', b""])
    assert reader.read().lines == [b'{"a":"x\\ny"}']
    assert spool.lines_written == 1


def test_restart_resumes_from_the_cursor(tmp_path: Path) -> None:
    d = tmp_path / "spool"
    first = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=True)
    reader = first.reader("file:///x")
    data = lines_of(300)
    first.append(data[:200])
    first.append(data[200:])
    delivered: list[bytes] = []
    while len(delivered) < 120:
        batch = reader.read(max_lines=min(40, 120 - len(delivered)))
        delivered.extend(batch.lines)
        reader.commit(batch.ends[-1])
    reader.read(max_lines=50)  # read ahead, never confirmed
    first.close()

    second = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=True)
    try:
        assert second.dir == first.dir
        again = second.reader("file:///x")
        assert read_all(again) == data[120:]
        assert again.backlog() == 180
        second.append([b"new"])
        assert read_all(again) == [b"new"]
    finally:
        second.close()


def test_restart_after_everything_was_delivered_is_caught_up(tmp_path: Path) -> None:
    d = tmp_path / "spool"
    for round_ in range(3):
        s = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
        reader = s.reader("r")
        # Nothing left over: the consumer is at the end at once.
        assert reader.committed == s.end()
        assert reader.read().lines == []
        s.append([f"round {round_}".encode()])
        assert drain(reader) == [f"round {round_}".encode()]
        assert reader.committed == s.end()
        s.close()
    # Delivered segments were deleted.
    assert len(list((d / "slot-0").glob("*.seg"))) <= 1


def test_torn_last_line_is_cut_and_complete_lines_kept(tmp_path: Path) -> None:
    d = tmp_path / "spool"
    first = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    reader = first.reader("r")
    first.append([b"one", b"two"])
    batch = reader.read()
    reader.commit(batch.ends[0])
    first.append([b"three"])
    last = first.segment_path(first.current_segment)
    first.close()
    with open(last, "ab") as f:  # a crash in the middle of a write
        f.write(b'{"torn":"hal')

    second = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    try:
        again = second.reader("r")
        assert read_all(again) == [b"two", b"three"]
        second.append([b"four"])
        assert read_all(again) == [b"four"]
        assert last.read_bytes().endswith(b"three\n")
    finally:
        second.close()


def test_segments_rotate_and_are_deleted_once_every_consumer_committed(spool: Spool) -> None:
    a = spool.reader("a")
    b = spool.reader("b")
    data = lines_of(200)  # about 80 bytes each: several 4 KiB segments
    spool.append(data[:100])
    spool.append(data[100:])
    segments = sorted(spool.dir.glob("*.seg"))
    assert len(segments) >= 4
    assert all(p.stat().st_size <= SEG for p in segments)
    assert drain(a) == data
    assert len(list(spool.dir.glob("*.seg"))) == len(segments)  # b still needs them
    assert drain(b) == data
    assert [p.name for p in spool.dir.glob("*.seg")] == [segments[-1].name]


def test_byte_bound_drops_oldest_and_reports_exact_count(tmp_path: Path) -> None:
    drops: list[tuple[str, int]] = []
    s = Spool(
        tmp_path / "spool",
        max_bytes=4 * SEG,
        segment_bytes=SEG,
        fsync=False,
        on_drop=lambda name, n: drops.append((name, n)),
    )
    try:
        never = s.reader("never-commits")
        total = 0
        for chunk in (1, 7, 40, 3, 120, 1, 60, 500, 2, 33):
            s.append(lines_of(chunk, start=total))
            total += chunk
            assert disk_bytes(s) <= s.max_bytes + s.segment_bytes
            assert s.total_bytes() == disk_bytes(s)
        lost = sum(n for _, n in drops)
        assert lost > 0
        assert {name for name, _ in drops} == {"never-commits"}
        assert never.dropped == lost
        survivors = read_all(never)
        assert len(survivors) == total - lost
        assert survivors == lines_of(total - lost, start=lost)
    finally:
        s.close()


def test_drop_counts_only_what_the_consumer_had_not_committed(tmp_path: Path) -> None:
    drops: list[int] = []
    s = Spool(
        tmp_path / "spool",
        max_bytes=2 * SEG,
        segment_bytes=SEG,
        fsync=False,
        on_drop=lambda name, n: drops.append(n),
    )
    try:
        r = s.reader("r")
        s.append(lines_of(40))  # fills the first segment (80 bytes a line, 51 fit)
        batch = r.read(max_lines=15)
        r.commit(batch.ends[-1])
        s.append(lines_of(200, start=40))
        survivors = read_all(r)
        assert sum(drops) + 15 + len(survivors) == 240
        assert survivors == lines_of(len(survivors), start=240 - len(survivors))
    finally:
        s.close()


def test_slots_are_exclusive_and_freed_slots_reused(tmp_path: Path) -> None:
    d = tmp_path / "shared"
    one = Spool(d, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    two = Spool(d, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    try:
        assert one.dir != two.dir
        assert {one.dir.name, two.dir.name} == {"slot-0", "slot-1"}
        one.append([b"from one"])
        one.close()
        three = Spool(d, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
        try:
            assert three.dir == one.dir
            assert read_all(three.reader("r")) == [b"from one"]
        finally:
            three.close()
    finally:
        two.close()


def test_a_line_longer_than_the_read_budget_is_still_read(spool: Spool) -> None:
    reader = spool.reader("r")
    long_line = b"L" * 20_000
    spool.append([long_line, b"short"])
    batch = reader.read(max_bytes=100)
    assert batch.lines == [long_line]
    assert reader.read(max_bytes=100).lines == [b"short"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"segment": "x", "offset": 0}',
        b'{"segment": 1}',
        b"[]",
        b'{"name": "r", "segment": 1, "offset": 5}',  # inside the first line
        b'{"name": "r", "segment": 1, "offset": 999999}',  # past the end
    ],
    ids=["torn", "bad-type", "missing", "list", "mid-line", "past-end"],
)
def test_bad_cursor_file_restarts_from_the_oldest_segment(tmp_path: Path, content: bytes) -> None:
    d = tmp_path / "spool"
    first = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    reader = first.reader("r")
    first.append([b"first-line", b"second-line", b"third-line"])
    batch = reader.read()
    reader.commit(batch.ends[1])
    cursor = reader.cursor_path
    first.close()
    assert cursor.exists()
    cursor.write_bytes(content)

    second = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    try:
        # Duplicates, never loss.
        assert read_all(second.reader("r")) == [b"first-line", b"second-line", b"third-line"]
    finally:
        second.close()


def test_backlog_counts_across_segments(spool: Spool) -> None:
    reader = spool.reader("r")
    spool.append(lines_of(150))
    assert reader.backlog() == 150
    batch = reader.read(max_lines=100)
    assert 0 < len(batch.lines) <= 100
    assert reader.backlog() == 150  # read is not commit
    reader.commit(batch.ends[-1])
    assert reader.backlog() == 150 - len(batch.lines)
    drain(reader)
    assert reader.backlog() == 0


def test_forget_other_consumers(tmp_path: Path) -> None:
    d = tmp_path / "spool"
    first = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    for name in ("keep", "gone"):
        r = first.reader(name)
        first.append([name.encode()])
        batch = r.read()
        r.commit(batch.ends[0])
    first.close()
    second = Spool(d, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    try:
        kept = second.reader("keep")
        assert second.forget_other_consumers() == ["gone"]
        assert second.forget_other_consumers() == []
        assert kept.cursor_path.exists()
    finally:
        second.close()


def test_commit_never_goes_back(spool: Spool) -> None:
    reader = spool.reader("r")
    spool.append([b"a", b"b"])
    batch = reader.read()
    reader.commit(batch.ends[1])
    reader.commit(batch.ends[0])
    assert reader.committed == batch.ends[1]
    assert reader.committed > Position(0, 0)


def test_closed_spool_refuses_appends(tmp_path: Path) -> None:
    s = Spool(tmp_path / "s", max_bytes=2 * SEG, segment_bytes=SEG, fsync=False)
    s.close()
    s.close()  # twice is fine
    assert s.closed
    with pytest.raises(SpoolError, match="closed"):
        s.append([b"x"])


def test_bad_sizes_and_unusable_directory(tmp_path: Path) -> None:
    with pytest.raises(SpoolError, match="too small"):
        Spool(tmp_path / "a", segment_bytes=100)
    with pytest.raises(SpoolError, match="twice the segment size"):
        Spool(tmp_path / "b", max_bytes=SEG, segment_bytes=SEG)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(SpoolError, match="spool_dir"):
        Spool(blocker / "spool", max_bytes=2 * SEG, segment_bytes=SEG)
