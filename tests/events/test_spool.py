"""The disk spool: records, commits, restarts, torn writes, corruption, slots, one deliverer,
the byte bound and failed writes."""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bulletproof.errors import SpoolError
from bulletproof.events import _spool as spool_module
from bulletproof.events._spool import (
    Drop,
    Position,
    Receipt,
    Spool,
    SpoolConsumer,
    SpoolDirectory,
    SpoolFullError,
    SpoolWriteError,
    frame_record,
    parse_record,
)
from bulletproof.testing import FakeClock

SEG = 4096


def lines_of(n: int, start: int = 0, width: int = 60) -> list[bytes]:
    return [f'{{"n":{i},"pad":"{"x" * width}"}}'.encode() for i in range(start, start + n)]


def read_all(reader: SpoolConsumer, max_lines: int = 1000, max_bytes: int = 1 << 20) -> list[bytes]:
    """Read (without committing) everything there is."""
    out: list[bytes] = []
    while batch := reader.read(max_lines, max_bytes).lines:
        out.extend(batch)
    return out


def drain(reader: SpoolConsumer) -> list[bytes]:
    """Read and commit everything."""
    out: list[bytes] = []
    while True:
        batch = reader.read()
        if not batch.lines:
            return out
        out.extend(batch.lines)
        reader.commit(batch.ends)


def segments(slot: Path) -> list[Path]:
    return sorted(slot.glob("*.seg"))


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*.seg"))


class Directory:
    """A spool directory in a test: this process's writer slot and the deliverer's view."""

    def __init__(self, root: Path, *, drops: list[tuple[str, Drop]] | None = None, **kw: Any):
        kw.setdefault("max_bytes", 64 * SEG)
        kw.setdefault("segment_bytes", SEG)
        kw.setdefault("fsync", False)
        self.spool = Spool(root, **kw)
        self.drops = drops if drops is not None else []
        self.dir = SpoolDirectory(
            root, local=self.spool, on_drop=lambda name, d: self.drops.append((name, d))
        )
        assert self.dir.lead()
        limit = kw["max_bytes"]
        self.spool.on_full = lambda: self.dir.make_room(limit)  # as the pipeline sets it

    def close(self) -> None:
        self.dir.release()
        self.spool.close()


@pytest.fixture
def d(tmp_path: Path) -> Iterator[Directory]:
    made = Directory(tmp_path / "spool")
    yield made
    made.close()


# -- records ---------------------------------------------------------------------------------


def test_records_round_trip_and_any_damage_fails_the_check() -> None:
    payload = b'{"event":{"id":"x"},"message":"hello"}'
    rec = frame_record(123456, payload)
    assert rec.endswith(b"\n")
    assert parse_record(rec[:-1]) == (123456, payload)
    rng = random.Random(7)  # noqa: S311 - test data
    for _ in range(2000):
        damaged = bytearray(rec[:-1])
        i = rng.randrange(len(damaged))
        damaged[i] = (damaged[i] + rng.randrange(1, 256)) % 256
        assert parse_record(bytes(damaged)) is None
    for junk in (b"", b"{}", b"x" * 26, rec[:25], rec[:-2]):
        assert parse_record(junk) is None


def test_receipt_counts_passed_and_dropped_records_of_a_range() -> None:
    r = Receipt(seq=19, dropped=((3, 5, "corrupt"), (15, 30, "spool_full")))
    assert r.passed(0, 10) == (10, {"corrupt": 3})
    assert r.passed(10, 40) == (10, {"spool_full": 5})
    assert r.passed(20, 25) == (0, {})
    assert Receipt(None).passed(0, 10) == (0, {})


# -- one writer, one consumer ------------------------------------------------------------------


def test_append_read_commit(d: Directory) -> None:
    reader = d.dir.consumer("file:///x")
    assert reader.read().lines == []
    d.spool.append([b"a", b"b", b"c"])
    batch = reader.read()
    assert batch.lines == [b"a", b"b", b"c"]
    assert [m.seq for m in batch.ends] == [0, 1, 2]
    assert reader.backlog() == 3
    reader.commit(batch.ends[:1])
    assert reader.backlog() == 2
    reader.commit(batch.ends)
    assert reader.backlog() == 0
    assert reader.read().lines == []
    assert reader.caught_up()
    assert d.spool.lines_written == 3
    assert reader.receipt(d.spool.slot) == Receipt(2, ())
    assert d.spool.receipt("file:///x") == Receipt(2, ())  # the cursor file says the same


def test_read_respects_max_lines(d: Directory) -> None:
    reader = d.dir.consumer("r")
    d.spool.append(lines_of(10))
    assert len(reader.read(max_lines=4).lines) == 4
    assert len(reader.read(max_lines=4).lines) == 4
    assert len(reader.read(max_lines=4).lines) == 2


def test_rewind_rereads_uncommitted(d: Directory) -> None:
    reader = d.dir.consumer("r")
    d.spool.append([b"1", b"2", b"3"])
    batch = reader.read()
    reader.commit(batch.ends[:1])
    assert reader.read().lines == []
    assert not reader.caught_up()
    reader.rewind()
    assert reader.read().lines == [b"2", b"3"]


def test_empty_lines_skipped_and_newlines_inside_a_line_escaped(d: Directory) -> None:
    reader = d.dir.consumer("r")
    d.spool.append([b"", b'{"a":"x\ny"}', b""])
    assert reader.read().lines == [b'{"a":"x\\ny"}']
    assert d.spool.lines_written == 1


def test_a_line_longer_than_the_read_budget_is_still_read(d: Directory) -> None:
    reader = d.dir.consumer("r")
    long_line = b"L" * 20_000
    d.spool.append([long_line, b"short"])
    assert reader.read(max_bytes=100).lines == [long_line]
    assert reader.read(max_bytes=100).lines == [b"short"]


def test_commit_never_goes_back(d: Directory) -> None:
    reader = d.dir.consumer("r")
    d.spool.append([b"a", b"b"])
    batch = reader.read()
    reader.commit(batch.ends)
    reader.commit(batch.ends[:1])
    assert reader.receipt(d.spool.slot).seq == 1
    assert reader.backlog() == 0


def test_segments_rotate_and_are_deleted_once_every_consumer_committed(d: Directory) -> None:
    a = d.dir.consumer("a")
    b = d.dir.consumer("b")
    data = lines_of(200)  # about 110 bytes a record: several 4 KiB segments
    d.spool.append(data[:100])
    d.spool.append(data[100:])
    segs = segments(d.spool.dir)
    assert len(segs) >= 4
    assert all(p.stat().st_size <= SEG for p in segs)
    assert drain(a) == data
    assert len(segments(d.spool.dir)) == len(segs)  # b still needs them
    assert drain(b) == data
    assert [p.name for p in segments(d.spool.dir)] == [segs[-1].name]


# -- restarts ----------------------------------------------------------------------------------


def test_restart_resumes_from_the_cursor(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Directory(root, fsync=True)
    reader = first.dir.consumer("file:///x")
    data = lines_of(300)
    first.spool.append(data[:200])
    first.spool.append(data[200:])
    delivered: list[bytes] = []
    while len(delivered) < 120:
        batch = reader.read(max_lines=min(40, 120 - len(delivered)))
        delivered.extend(batch.lines)
        reader.commit(batch.ends)
    reader.read(max_lines=50)  # read ahead, never confirmed
    first.close()

    second = Directory(root, fsync=True)
    try:
        assert second.spool.dir == first.spool.dir
        assert second.spool.first_seq == 300  # sequence numbers go on, never reused
        again = second.dir.consumer("file:///x")
        assert again.backlog() == 180
        assert read_all(again) == data[120:]
        second.spool.append([b"new"])
        assert read_all(again) == [b"new"]
        assert second.drops == []
    finally:
        second.close()


def test_restart_after_everything_was_delivered_is_caught_up(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    numbers = []
    for round_ in range(3):
        s = Directory(root)
        reader = s.dir.consumer("r")
        assert reader.caught_up()
        assert reader.read().lines == []
        s.spool.append([f"round {round_}".encode()])
        numbers.append(s.spool.current_segment)
        assert drain(reader) == [f"round {round_}".encode()]
        s.close()
    assert numbers == sorted(set(numbers))  # a segment number is never used twice
    s = Directory(root)
    try:
        assert s.dir.consumer("r").caught_up()
        s.dir.collect()
        assert len(segments(root / "slot-0")) <= 1  # delivered segments are deleted
    finally:
        s.close()


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"segment": "x", "offset": 0}',
        b'{"segment": 1}',
        b"[]",
        b'{"name": "r", "segment": 1, "offset": 5}',  # inside the first record
        b'{"name": "r", "segment": 1, "offset": 999999}',  # past the end
    ],
    ids=["torn", "bad-type", "missing", "list", "mid-line", "past-end"],
)
def test_bad_cursor_file_restarts_from_the_oldest_segment(tmp_path: Path, content: bytes) -> None:
    root = tmp_path / "spool"
    first = Directory(root)
    reader = first.dir.consumer("r")
    first.spool.append([b"first-line", b"second-line", b"third-line"])
    batch = reader.read()
    reader.commit(batch.ends[:2])
    cursor = first.spool.dir / spool_module._cursor_name("r")
    first.close()
    assert cursor.exists()
    cursor.write_bytes(content)

    second = Directory(root)
    try:
        # Duplicates, never loss.
        assert read_all(second.dir.consumer("r")) == [b"first-line", b"second-line", b"third-line"]
    finally:
        second.close()


def test_forget_other_consumers(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Directory(root)
    for name in ("keep", "gone"):
        r = first.dir.consumer(name)
        first.spool.append([name.encode()])
        r.commit(r.read().ends)
    first.close()
    second = Directory(root)
    try:
        second.dir.consumer("keep")
        assert second.dir.forget_other_consumers() == ["gone"]
        assert second.dir.forget_other_consumers() == []
        assert (second.spool.dir / spool_module._cursor_name("keep")).exists()
    finally:
        second.close()


# -- damage ------------------------------------------------------------------------------------


def test_torn_last_record_is_skipped_and_reported_without_a_loss(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Directory(root)
    reader = first.dir.consumer("r")
    first.spool.append([b"one", b"two"])
    reader.commit(reader.read().ends[:1])
    first.spool.append([b"three"])
    last = first.spool.segment_path(first.spool.current_segment)
    first.close()
    with open(last, "ab") as f:  # a crash in the middle of a write
        f.write(frame_record(3, b'{"torn":"half"}')[:20])
    torn_at = last.stat().st_size - 20

    second = Directory(root)
    try:
        again = second.dir.consumer("r")
        assert read_all(again) == [b"two", b"three"]
        second.spool.append([b"four"])
        batch = again.read()
        assert batch.lines == [b"four"]
        assert batch.ends[0].seq == 3  # the torn record's number was never complete: reused
        again.commit(batch.ends)
        ((name, drop),) = second.drops
        assert (name, drop.reason, drop.lost) == ("r", "corrupt", 0)
        assert drop.where == ((str(last), torn_at, 20),)
    finally:
        second.close()


def test_corrupt_bytes_inside_a_segment_are_skipped_and_counted_exactly(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Directory(root, max_bytes=256 * SEG, segment_bytes=64 * SEG)
    data = lines_of(500)
    first.spool.append(data)
    seg = first.spool.segment_path(first.spool.current_segment)
    first.close()
    raw = bytearray(seg.read_bytes())
    rng = random.Random(3)  # noqa: S311 - test data
    hits = sorted(rng.sample(range(len(raw)), 40))
    for i in hits:  # random bytes, newlines among them, in 40 places
        raw[i] = rng.choice([0x0A, 0x00, 0x22, 0x7B, rng.randrange(256)])
    seg.write_bytes(bytes(raw))

    second = Directory(root, max_bytes=256 * SEG, segment_bytes=64 * SEG)
    try:
        reader = second.dir.consumer("r")
        got = drain(reader)
        for line in got:
            json.loads(line)  # nothing but whole, checked records reaches a consumer
        lost = sum(drop.lost for _, drop in second.drops)
        assert lost > 0
        assert len(got) + lost == 500
        assert set(got) <= set(data)
        where = [w for _, drop in second.drops for w in drop.where]
        assert where
        assert all(path == str(seg) for path, _, _ in where)
        assert all(0 <= offset < len(raw) for _, offset, _ in where)
    finally:
        second.close()


def test_a_segment_truncated_to_zero_or_deleted_is_counted(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    first = Directory(root)
    data = lines_of(300)
    first.spool.append(data)
    segs = segments(first.spool.dir)
    assert len(segs) >= 5
    first.close()
    emptied, removed = segs[1], segs[3]
    in_emptied = emptied.read_bytes().count(b"\n")
    in_removed = removed.read_bytes().count(b"\n")
    emptied.write_bytes(b"")
    removed.unlink()

    second = Directory(root)
    try:
        got = drain(second.dir.consumer("r"))
        lost = [drop for _, drop in second.drops]
        assert sum(drop.lost for drop in lost) == in_emptied + in_removed
        assert len(got) + in_emptied + in_removed == 300
        assert any(path == str(emptied) for drop in lost for path, _, _ in drop.where)
    finally:
        second.close()


def test_records_missing_at_the_end_of_a_dead_slot_are_counted_from_its_head(
    tmp_path: Path,
) -> None:
    root = tmp_path / "spool"
    writer = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    writer.append(lines_of(100))
    writer.sync()
    last = writer.segment_path(writer.current_segment)
    writer.close()  # the writer is gone; its last segment loses its tail
    in_last = last.read_bytes().count(b"\n")
    last.write_bytes(b"")

    deliverer = SpoolDirectory(root)
    drops: list[Drop] = []
    deliverer._on_drop = lambda name, drop: drops.append(drop)
    assert deliverer.lead()
    try:
        got = drain(deliverer.consumer("r"))
        assert len(got) + sum(x.lost for x in drops) == 100
        assert sum(x.lost for x in drops) == in_last
    finally:
        deliverer.release()


# -- slots and the one deliverer -----------------------------------------------------------------


def test_slots_are_exclusive_and_freed_slots_reused(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    one = Spool(root, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    two = Spool(root, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    try:
        assert {one.dir.name, two.dir.name} == {"slot-0", "slot-1"}
        one.append([b"from one"])
        one.close()
        three = Spool(root, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
        try:
            assert three.dir == one.dir
            assert three.first_seq == 1
            assert three.current_segment > one.current_segment
        finally:
            three.close()
    finally:
        two.close()


def test_one_deliverer_reads_every_slot_live_or_orphaned(tmp_path: Path) -> None:
    root = tmp_path / "shared"
    live = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    gone = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    gone.append(lines_of(50, start=1000))
    gone_dir = gone.dir
    gone.close()  # an orphaned slot: its process exited before delivery
    live.append(lines_of(30))
    deliverer = SpoolDirectory(root, local=live)
    rival = SpoolDirectory(root)
    try:
        assert deliverer.lead()
        assert not rival.lead()  # one deliverer per directory
        reader = deliverer.consumer("r")
        got = drain(reader)
        assert sorted(got) == sorted(lines_of(30) + lines_of(50, start=1000))
        assert reader.caught_up()
        deliverer.collect()
        assert segments(gone_dir) == []  # delivered, and its writer is gone: deleted
        live.append([b"later"])
        assert drain(reader) == [b"later"]
        deliverer.release()
        assert rival.lead()  # the next process takes over, from the cursors
        assert rival.consumer("r").read().lines == []
    finally:
        rival.release()
        deliverer.release()
        live.close()


# -- the byte bound ------------------------------------------------------------------------------


def test_make_room_drops_oldest_and_counts_exactly(tmp_path: Path) -> None:
    s = Directory(tmp_path / "spool", max_bytes=4 * SEG)
    try:
        never = s.dir.consumer("never-commits")
        total = 0
        for chunk in (1, 7, 40, 3, 120, 1, 60, 500, 2, 33):
            s.spool.append(lines_of(chunk, start=total))
            total += chunk
            s.dir.make_room(4 * SEG)
            assert disk_bytes(s.spool.root) <= 4 * SEG + SEG
        lost = sum(drop.lost for _, drop in s.drops)
        assert lost > 0
        assert {name for name, _ in s.drops} == {"never-commits"}
        assert {drop.reason for _, drop in s.drops} == {"spool_full"}
        assert never.dropped == lost
        survivors = read_all(never)
        assert survivors == lines_of(total - lost, start=lost)  # the newest, without a gap
    finally:
        s.close()


def test_make_room_counts_only_what_the_consumer_had_not_passed(tmp_path: Path) -> None:
    s = Directory(tmp_path / "spool", max_bytes=2 * SEG)
    try:
        r = s.dir.consumer("r")
        s.spool.append(lines_of(30))
        r.commit(r.read(max_lines=15).ends)
        s.spool.append(lines_of(200, start=30))
        s.dir.make_room(2 * SEG)
        survivors = read_all(r)
        lost = sum(drop.lost for _, drop in s.drops)
        assert lost + 15 + len(survivors) == 230
        assert survivors == lines_of(len(survivors), start=230 - len(survivors))
        _, dropped = s.spool.receipt("r").passed(0, 230)
        assert dropped == {"spool_full": lost}
    finally:
        s.close()


def test_make_room_never_deletes_what_a_consumer_has_in_flight(tmp_path: Path) -> None:
    s = Directory(tmp_path / "spool", max_bytes=2 * SEG)
    try:
        r = s.dir.consumer("r")
        s.spool.append(lines_of(200))
        batch = r.read(max_lines=5)  # sent, not yet confirmed
        assert s.dir.make_room(2 * SEG) == 0  # the oldest segment waits for the confirmation
        r.commit(batch.ends)
        assert s.dir.make_room(2 * SEG) > 0
        got = read_all(r)
        lost = sum(drop.lost for _, drop in s.drops)
        assert 5 + lost + len(got) == 200
    finally:
        s.close()


def test_append_over_the_bound_asks_for_room_then_refuses(tmp_path: Path) -> None:
    s = Directory(tmp_path / "spool", max_bytes=2 * SEG)
    try:
        s.dir.consumer("r")
        calls: list[int] = []
        s.spool.on_full = lambda: calls.append(1)  # a deliverer that makes no room
        for i in range(100):
            if s.spool.total_bytes() > 4 * SEG:
                break
            s.spool.append(lines_of(10, start=10 * i))
        with pytest.raises(SpoolFullError) as info:
            s.spool.append(lines_of(10))
        assert info.value.written == 0
        assert calls
        s.spool.on_full = lambda: s.dir.make_room(2 * SEG)
        s.spool.append(lines_of(10))  # room made: accepted
    finally:
        s.close()


# -- failed writes ---------------------------------------------------------------------------


@pytest.mark.parametrize("truncate_fails", [False, True], ids=["cut-off", "left-torn"])
def test_a_failed_write_keeps_whole_records_only_and_a_retry_writes_nothing_twice(
    d: Directory, monkeypatch: pytest.MonkeyPatch, truncate_fails: bool
) -> None:
    real_write = os.write
    budget = [len(frame_record(0, lines_of(1)[0])) * 3 + 17]  # 3 records and a bit, then ENOSPC

    def full_disk(fd: int, data: Any) -> int:
        if budget[0] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        n = real_write(fd, bytes(data)[: budget[0]])
        budget[0] -= n
        return n

    def no_truncate(fd: int, size: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(spool_module, "_os_write", full_disk)
    if truncate_fails:
        monkeypatch.setattr(spool_module, "_os_ftruncate", no_truncate)
    data = lines_of(10)
    with pytest.raises(SpoolWriteError) as info:
        d.spool.append(data)
    assert info.value.errno == errno.ENOSPC
    written = info.value.written
    assert written == 3  # the whole records stay: a reader may have delivered them already
    monkeypatch.setattr(spool_module, "_os_write", real_write)
    d.spool.append(data[written:])
    got = drain(d.dir.consumer("r"))
    assert got == data  # each once, in order
    assert d.spool.lines_written == 10
    if truncate_fails:
        ((_, drop),) = d.drops  # the torn bytes, skipped and said, and nothing lost
        assert drop.lost == 0
        assert drop.reason == "corrupt"
    else:
        assert d.drops == []


# -- misuse ------------------------------------------------------------------------------------


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


def test_position_orders_by_segment_then_offset() -> None:
    assert Position(1, 900) < Position(2, 0)


# -- what review found: each of these lost or double-counted records before ------------------


def test_a_torn_tail_of_a_dead_slot_neither_blocks_room_nor_delivery(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    mine = Spool(root, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    other = Spool(root, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    other.append(lines_of(5))
    last = other.segment_path(other.current_segment)
    other.close()
    with open(last, "ab") as f:  # its process was killed in the middle of a write
        f.write(frame_record(5, b'{"torn":"half"}')[:20])
    d = SpoolDirectory(root, local=mine)
    assert d.lead()
    try:
        reader = d.consumer("up")
        assert drain(reader) == lines_of(5)
        assert reader.caught_up(live=False)  # the skipped bytes are committed past
        d.consumer("down")  # a second sink that reads nothing
        mine.on_full = lambda: d.make_room(8 * SEG)
        for i in range(300):  # the bound keeps working: nothing refused
            mine.append(lines_of(1, start=i, width=200))
            reader.commit(reader.read().ends)
    finally:
        d.release()
        mine.close()


def test_an_undeletable_segment_neither_fails_the_commit_nor_counts_a_loss_twice(
    d: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = Spool(d.spool.root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    other.append(lines_of(10))
    seg = other.segment_path(other.current_segment)
    other.close()
    records = seg.read_bytes().split(b"\n")
    records[4] = b"X" + records[4][1:]
    seg.write_bytes(b"\n".join(records))
    d.spool.append(lines_of(60, width=100))
    real_unlink = Path.unlink

    def refuse(self: Path, missing_ok: bool = False) -> None:
        if self.suffix == ".seg":
            raise PermissionError(13, "Permission denied", str(self))
        real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", refuse)
    reader = d.dir.consumer("r")
    got = drain(reader)  # commits every batch; deleting fails, and is only said
    assert len(got) == 69
    assert [(x.first, x.last) for _, x in d.drops] == [(4, 4)]


def test_a_segment_that_cannot_be_opened_now_is_read_later_not_skipped(
    d: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d.spool.append(lines_of(100, width=100))
    reader = d.dir.consumer("r")
    first = reader.read()
    reader.commit(first.ends)
    real_open = os.open
    failed: list[str] = []

    def too_many(path: Any, flags: int, *args: Any) -> int:
        if str(path).endswith(".seg") and not failed:
            failed.append(str(path))
            raise OSError(errno.EMFILE, "Too many open files")
        return real_open(path, flags, *args)

    monkeypatch.setattr(spool_module, "_os_open", too_many)
    assert reader.read().lines == []  # could not open: tried again later
    monkeypatch.setattr(spool_module, "_os_open", real_open)
    assert first.lines + drain(reader) == lines_of(100, width=100)
    assert failed
    assert d.drops == []


def test_make_room_goes_by_each_slots_order_not_by_file_times(tmp_path: Path) -> None:
    s = Directory(tmp_path / "spool", max_bytes=8 * SEG)
    try:
        s.spool.append(lines_of(100, width=100))
        s.spool.close()  # a dead slot: all its segments are finished
        segs = segments(s.spool.dir)
        older = segs[1].stat()
        os.utime(segs[2], (older.st_atime - 3600, older.st_mtime - 3600))  # clock stepped back
        reader = s.dir.consumer("r")
        got = drain_n(reader, 1)
        s.dir.make_room(disk_bytes(s.spool.root) - 1)
        assert not segs[0].exists()  # the slot's lowest went, not the one that looked older
        assert segs[2].exists()
        got += drain(reader)
        lost = sum(x.lost for _, x in s.drops)
        data = lines_of(100, width=100)
        assert len(got) + lost == 100  # every record delivered or counted, none skipped
        assert got == sorted(got, key=data.index)
    finally:
        s.dir.release()


def drain_n(reader: SpoolConsumer, batches: int) -> list[bytes]:
    out: list[bytes] = []
    for _ in range(batches):
        batch = reader.read(max_lines=30)
        out.extend(batch.lines)
        reader.commit(batch.ends)
    return out


def test_a_trim_whose_cursor_cannot_be_saved_is_not_counted_again_after_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "spool"
    writer = Spool(root, max_bytes=8 * SEG, segment_bytes=SEG, fsync=False)
    writer.append(lines_of(100, width=100))
    writer.close()
    drops: list[tuple[str, Drop]] = []
    first = SpoolDirectory(root, on_drop=lambda name, x: drops.append(("first", x)))
    assert first.lead()
    reader = first.consumer("s")
    reader.commit(reader.read(max_lines=10).ends)  # a cursor exists

    def full(self: Path, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    first.make_room(SEG)  # the disk is full: the oldest goes, the cursor is rewritten in place
    monkeypatch.undo()
    first.abandon()  # the deliverer dies without releasing anything
    second = SpoolDirectory(root, on_drop=lambda name, x: drops.append(("second", x)))
    assert second.lead()
    try:
        got = drain(second.consumer("s"))
        trimmed = sum(x.lost for who, x in drops if who == "first")
        assert trimmed > 0
        assert [who for who, x in drops if x.lost] == ["first"] * len(drops)
        assert 10 + trimmed + len(got) == 100
    finally:
        second.release()


def test_damage_before_the_first_record_a_new_consumer_reads_is_counted(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    writer = Spool(root, max_bytes=1 << 20, segment_bytes=1 << 16, fsync=False)
    writer.append(lines_of(5))
    seg = writer.segment_path(writer.current_segment)
    writer.close()
    records = seg.read_bytes().split(b"\n")
    records[0] = b"X" + records[0][1:]
    records[1] = b"X" + records[1][1:]
    seg.write_bytes(b"\n".join(records))
    drops: list[Drop] = []
    d = SpoolDirectory(root, on_drop=lambda name, x: drops.append(x))
    assert d.lead()
    try:
        got = drain(d.consumer("s"))
        assert got == lines_of(5)[2:]
        assert [(x.first, x.last, x.lost) for x in drops] == [(0, 1, 2)]  # the index knew seq 0
    finally:
        d.release()


def test_a_slot_taken_again_is_not_mistaken_for_dead(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    mine = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    gone = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    gone.append([b'{"n":0}'])
    gone.close()
    drops: list[Drop] = []
    d = SpoolDirectory(root, local=mine, on_drop=lambda name, x: drops.append(x))
    assert d.lead()
    try:
        reader = d.consumer("s")
        assert drain(reader) == [b'{"n":0}']  # the slot is dead now, and was seen so
        again = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
        assert again.slot == gone.slot  # a respawned worker takes it within the second
        record = frame_record(again.next_seq, b'{"n":1,"big":"' + b"y" * 3000 + b'"}')
        path = again.segment_path(again.current_segment)
        with open(path, "ab") as f:
            f.write(record[:2000])  # what a reader sees of a write in progress
        assert reader.read().lines == []  # waited for, not skipped as a torn tail
        with open(path, "ab") as f:
            f.write(record[2000:])
        assert len(drain(reader)) == 1
        assert drops == []
        again.close()
    finally:
        d.release()
        mine.close()


# -- a writer that moves on while the reader looks -------------------------------------------


def _between_look_and_decision(
    monkeypatch: pytest.MonkeyPatch, reader: SpoolConsumer, name: str, act: Any
) -> list[int]:
    """Run ``act`` once, the first time ``reader`` calls ``name``: after it took the segment's
    size or read its bytes, before it decides what they mean (the writer's turn).

    Hooked on this one reader only: threads another test left running use their own.
    """
    calls: list[int] = []
    original = getattr(reader, name)

    def hooked(*args: Any) -> Any:
        if not calls:
            calls.append(1)
            act()
        return original(*args)

    monkeypatch.setattr(reader, name, hooked)
    return calls


def test_a_record_finished_as_the_writer_moves_to_the_next_segment_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader reads a record the writer is half way through; the writer then finishes it
    # and starts the next segment before the reader asks whether there is one.
    d = Directory(tmp_path / "spool")
    try:
        reader = d.dir.consumer("r")
        d.spool.append([b'{"n":0}'])
        assert drain(reader) == [b'{"n":0}']
        seg = d.spool.current_segment
        path = d.spool.segment_path(seg)
        record = frame_record(1, b'{"n":1,"pad":"' + b"x" * 2000 + b'"}')
        with open(path, "ab") as f:
            f.write(record[:1000])

        def writer_moves_on() -> None:
            with open(path, "ab") as f:
                f.write(record[1000:])
            d.spool.segment_path(seg + 1).write_bytes(frame_record(2, b'{"n":2}'))

        hooked = _between_look_and_decision(monkeypatch, reader, "_next_segment", writer_moves_on)
        got = drain(reader)
        assert hooked
        assert [json.loads(x)["n"] for x in got] == [1, 2]
        assert d.drops == []
    finally:
        d.close()


def test_records_appended_just_before_the_next_segment_are_not_stepped_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader has read all of a segment and took its size; the writer appends one more
    # record to it and moves on to the next segment before the reader looks for one.
    d = Directory(tmp_path / "spool")
    try:
        reader = d.dir.consumer("r")
        d.spool.append([b'{"n":0}'])
        assert drain(reader) == [b'{"n":0}']
        seg = d.spool.current_segment
        path = d.spool.segment_path(seg)

        def writer_moves_on() -> None:
            with open(path, "ab") as f:
                f.write(frame_record(1, b'{"n":1}'))
            d.spool.segment_path(seg + 1).write_bytes(frame_record(2, b'{"n":2}'))

        hooked = _between_look_and_decision(monkeypatch, reader, "_next_segment", writer_moves_on)
        got = drain(reader)
        assert hooked
        assert [json.loads(x)["n"] for x in got] == [1, 2]
        assert d.drops == []
    finally:
        d.close()


def test_a_writer_that_writes_its_last_records_and_exits_is_not_counted_as_losing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader is at the end of a live slot; its writer appends, updates its head and exits
    # before the reader sees that it is gone and compares the head with what it read.
    root = tmp_path / "spool"
    writer = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    writer.append([b'{"n":0}'])
    writer.sync()
    drops: list[Drop] = []
    clock = FakeClock()
    deliverer = SpoolDirectory(root, on_drop=lambda name, x: drops.append(x), clock=clock)
    assert deliverer.lead()
    try:
        reader = deliverer.consumer("r")
        assert drain(reader) == [b'{"n":0}']

        def last_words() -> None:
            writer.append([b'{"n":1}'])
            writer.close()
            clock.advance(5)  # past the time the reader trusts that it saw the writer alive

        hooked = _between_look_and_decision(monkeypatch, reader, "_check_end", last_words)
        assert drain(reader) == []  # the reader had taken the size before the write
        assert hooked
        assert drain(reader) == [b'{"n":1}']
        assert drops == []
        assert reader.receipt(writer.slot) == Receipt(1)
    finally:
        deliverer.release()


def test_a_writer_that_moves_to_a_new_segment_and_exits_is_not_counted_as_losing_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reader found no segment after the one it read to the end; the writer then starts a
    # new one (its record did not fit), writes its head and exits: the head names a record the
    # reader has not seen, in a segment it has not looked for yet.
    root = tmp_path / "spool"
    writer = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    writer.append([b'"' + b"x" * (SEG - 40) + b'"'])  # the first segment is full
    writer.sync()
    drops: list[Drop] = []
    clock = FakeClock()
    deliverer = SpoolDirectory(root, on_drop=lambda name, x: drops.append(x), clock=clock)
    assert deliverer.lead()
    try:
        reader = deliverer.consumer("r")
        assert len(drain(reader)) == 1

        first = writer.current_segment

        def last_words() -> None:
            writer.append([b'{"n":1}'])
            assert writer.current_segment == first + 1
            writer.close()
            clock.advance(5)

        hooked = _between_look_and_decision(monkeypatch, reader, "_check_end", last_words)
        got = drain(reader) + drain(reader)
        assert hooked
        assert got == [b'{"n":1}']
        assert drops == []
    finally:
        deliverer.release()


def test_records_a_reader_took_from_a_write_that_then_failed_are_neither_cut_off_nor_resent(
    d: Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A full disk cuts a write short after two whole records; the deliverer reads and commits
    # them before the writer's next try fails and it cleans up.
    reader = d.dir.consumer("r")
    d.spool.append(lines_of(3))
    assert drain(reader) == lines_of(3)
    real_write = os.write
    one = len(frame_record(3, lines_of(1, 3)[0]))
    calls: list[int] = []
    taken: list[bytes] = []

    def full_disk(fd: int, data: Any) -> int:
        if fd != d.spool._fd:
            return real_write(fd, data)  # another spool's (a thread another test left running)
        calls.append(1)
        if len(calls) == 1:
            n = real_write(fd, bytes(data)[: 2 * one + 10])
            taken.extend(drain(reader))  # the deliverer's turn
            return n
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module, "_os_write", full_disk)
    data = lines_of(3, 3)
    with pytest.raises(SpoolWriteError) as info:
        d.spool.append(data)
    assert taken == data[:2]
    assert info.value.written == 2
    monkeypatch.setattr(spool_module, "_os_write", real_write)
    d.spool.append(data[2:])  # the pipeline's retry
    assert drain(reader) == data[2:]
    assert d.drops == []
    d.dir.release()
    again = SpoolDirectory(d.spool.root)  # a deliverer that takes over resumes where it was
    assert again.lead()
    try:
        assert drain(again.consumer("r")) == []
    finally:
        again.release()
    assert d.dir.lead()


def test_a_fork_while_the_deliverer_probes_a_dead_slot_does_not_keep_it_alive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another thread forks a worker while the deliverer holds its test lock on a dead slot: the
    # child must not inherit it, or the slot looks alive (never finished, never taken again)
    # for as long as the child lives.
    root = tmp_path / "spool"
    gone = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
    gone.append([b'{"n":0}'])
    gone.close()
    clock = FakeClock()
    deliverer = SpoolDirectory(root, clock=clock)
    real = spool_module._try_flock
    forking = threading.Event()
    child: list[int] = []
    threads: list[threading.Thread] = []

    def fork_a_worker() -> None:
        forking.set()
        pid = os.fork()
        if pid == 0:  # the worker: lives on for a while, touches nothing
            time.sleep(3)
            os._exit(0)
        child.append(pid)

    def slow_probe(path: Path) -> int | None:
        fd = real(path)
        if path != gone.dir / "lock":
            return fd  # another directory's probe (a thread another test left running)
        thread = threading.Thread(target=fork_a_worker)
        threads.append(thread)
        thread.start()
        assert forking.wait(5)
        thread.join(0.2)  # the fork's moment, unless it waits for the probe to end
        return fd

    monkeypatch.setattr(spool_module, "_try_flock", slow_probe)
    try:
        assert not deliverer.alive(gone.slot, gone.dir)
        monkeypatch.setattr(spool_module, "_try_flock", real)
        threads[0].join(5)
        assert child
        clock.advance(5)
        assert not deliverer.alive(gone.slot, gone.dir)  # while the worker lives
        again = Spool(root, max_bytes=64 * SEG, segment_bytes=SEG, fsync=False)
        assert again.slot == gone.slot
        again.close()
    finally:
        for pid in child:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
