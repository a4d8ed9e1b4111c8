"""Event pipeline claims, measured in one run against baselines measured in the same run.

    uv run python bench/events.py [--events 100000]

Prints:
  1. emit() p50/p99 on the caller's thread while the pipeline delivers to a file, against the
     stdlib's non-blocking logging path (logging.handlers.QueueHandler) on the same machine.
  2. events/s delivered to a file sink through the spool, against writing the same JSON lines to a
     file directly on the caller's thread (no spool, no processors, no thread hop).
  3. events/s delivered to a TCP (logstash://) sink through the spool, against sendall() of the
     same lines straight to the same receiver.
  4. resident memory while the only sink is down (N events emitted), against holding the same
     events in a Python list (what an in-memory queue would cost).
  5. durability lag: time from emit() until the event is in the spool on disk, against the
     configured bound (100 ms by default).
Targets (issue 2): emit p99 <= 20 us; >= 50,000/s to a file; >= 20,000/s to TCP; memory flat;
durability lag <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import logging
import logging.handlers
import multiprocessing
import queue
import shutil
import socket
import tempfile
import time
import tracemalloc
from pathlib import Path

import psutil

from bulletproof.events.model import Category, SecurityEvent, Severity
from bulletproof.events.pipeline import EventPipeline, PipelineOptions
from bulletproof.sinks import sink_from_url


def make_events(n: int) -> list[SecurityEvent]:
    return [
        SecurityEvent(
            action="login_failed",
            category=Category.AUTH,
            severity=Severity.MEDIUM,
            message="failed login",
            source_ip="203.0.113.9",
            user_name="alice",
            url_path="/login",
            http_method="POST",
            status_code=401,
            user_agent="Mozilla/5.0 (X11; Linux x86_64) bench",
            details={"seq": i},
        )
        for i in range(n)
    ]


def pct(samples: list[int], q: float) -> float:
    samples = sorted(samples)
    return samples[min(int(len(samples) * q), len(samples) - 1)] / 1000.0


def bench_emit(events: list[SecurityEvent], tmp: Path) -> tuple[float, float, float, float]:
    sink = sink_from_url(f"file://{tmp}/emit.jsonl")
    opts = PipelineOptions(spool_dir=tmp / "spool-emit", max_pending=len(events) + 10)
    samples: list[int] = []
    perf = time.perf_counter_ns
    with EventPipeline([sink], options=opts) as pipe:
        for ev in events:
            t0 = perf()
            pipe.emit(ev)
            samples.append(perf() - t0)
        pipe.drain(120)
    # Baseline: the stdlib's non-blocking logging path, with a listener draining on a thread.
    q: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    log = logging.getLogger("bench.queue")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(logging.handlers.QueueHandler(q))
    sink_handler = logging.FileHandler(tmp / "logging.log")
    listener = logging.handlers.QueueListener(q, sink_handler)
    listener.start()
    base: list[int] = []
    for ev in events:
        t0 = perf()
        log.info("event %s", ev.action, extra={"ev": ev})
        base.append(perf() - t0)
    listener.stop()
    sink_handler.close()
    return pct(samples, 0.5), pct(samples, 0.99), pct(base, 0.5), pct(base, 0.99)


def bench_file(events: list[SecurityEvent], tmp: Path) -> tuple[float, float]:
    sink = sink_from_url(f"file://{tmp}/file.jsonl?max_bytes=0")
    opts = PipelineOptions(spool_dir=tmp / "spool-file", max_pending=len(events) + 10)
    with EventPipeline([sink], options=opts) as pipe:
        t0 = time.perf_counter()
        for ev in events:
            pipe.emit(ev)
        ok = pipe.drain(300)
        elapsed = time.perf_counter() - t0
    if not ok:
        raise SystemExit("file sink did not catch up")
    rate = len(events) / elapsed
    # Baseline: serialize and write on the caller's thread.
    t0 = time.perf_counter()
    with open(tmp / "direct.jsonl", "w", encoding="utf-8") as f:
        for ev in events:
            f.write(json.dumps(ev.to_ecs(), separators=(",", ":")) + "\n")
    base = len(events) / (time.perf_counter() - t0)
    return rate, base


def _receiver(
    port_q: multiprocessing.Queue[int], total: int, done_q: multiprocessing.Queue[int]
) -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    port_q.put(srv.getsockname()[1])
    seen = 0
    while seen < total:
        conn, _ = srv.accept()
        with conn:
            while True:
                data = conn.recv(1 << 20)
                if not data:
                    break
                seen += data.count(b"\n")
                if seen >= total:
                    break
    done_q.put(seen)


def bench_tcp(events: list[SecurityEvent], tmp: Path) -> tuple[float, float]:
    ctx = multiprocessing.get_context("spawn")
    port_q: multiprocessing.Queue[int] = ctx.Queue()
    done_q: multiprocessing.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_receiver, args=(port_q, len(events), done_q), daemon=True)
    proc.start()
    port = port_q.get(timeout=30)
    sink = sink_from_url(f"logstash://127.0.0.1:{port}")
    opts = PipelineOptions(spool_dir=tmp / "spool-tcp", max_pending=len(events) + 10)
    pipe = EventPipeline([sink], options=opts).start()
    t0 = time.perf_counter()
    for ev in events:
        pipe.emit(ev)
    done_q.get(timeout=300)
    elapsed = time.perf_counter() - t0
    pipe.close(5)
    proc.join(5)
    rate = len(events) / elapsed
    # Baseline: the same lines sent straight to a receiver with sendall, no spool.
    lines = [json.dumps(ev.to_ecs(), separators=(",", ":")).encode() for ev in events]
    proc = ctx.Process(target=_receiver, args=(port_q, len(events), done_q), daemon=True)
    proc.start()
    port = port_q.get(timeout=30)
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as s:
        for i in range(0, len(lines), 2000):
            s.sendall(b"\n".join(lines[i : i + 2000]) + b"\n")
        done_q.get(timeout=300)
    base = len(events) / (time.perf_counter() - t0)
    proc.join(5)
    return rate, base


def bench_memory(events: list[SecurityEvent], tmp: Path) -> tuple[float, float, float, int]:
    """RSS growth over the second half of the events, with the only sink down.

    The first half warms the allocator up (batches, buffers); a queue held in memory keeps
    growing through the second half, a spool on disk does not.
    """
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()  # nothing listens there: the sink stays down
    sink = sink_from_url(f"logstash://127.0.0.1:{port}")
    opts = PipelineOptions(spool_dir=tmp / "spool-down", backoff_max=0.5)
    proc = psutil.Process()
    pipe = EventPipeline([sink], options=opts).start()
    half = len(events) // 2
    for i in range(0, half, 5000):
        for ev in events[i : i + 5000]:
            pipe.emit(ev)
        pipe.flush(30)
    before = proc.memory_info().rss
    peak = before
    for i in range(half, len(events), 5000):
        for ev in events[i : i + 5000]:
            pipe.emit(ev)
        pipe.flush(30)
        peak = max(peak, proc.memory_info().rss)
    spool_bytes = sum(p.stat().st_size for p in (tmp / "spool-down").rglob("*.seg"))
    pipe.close(0.5)
    # Baseline: what an in-memory queue of the second half's serialized events would hold.
    tracemalloc.start()
    held = [json.dumps(ev.to_ecs()).encode() for ev in events[half:]]
    base_growth, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del held
    return (peak - before) / 1e6, base_growth / 1e6, before / 1e6, spool_bytes


def bench_durability(tmp: Path, samples: int = 200) -> tuple[float, float, float]:
    """Time from emit() until the event's id is in a spool segment on disk (sink down).

    Baseline: the configured ``durability_lag`` (100 ms by default), the bound the claim states.
    """
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    port = dead.getsockname()[1]
    dead.close()
    opts = PipelineOptions(spool_dir=tmp / "spool-lag", backoff_max=0.5)
    pipe = EventPipeline([sink_from_url(f"logstash://127.0.0.1:{port}")], options=opts).start()
    lags: list[int] = []
    seg_dir = tmp / "spool-lag"
    for ev in make_events(samples):
        needle = ev.id.encode()
        t0 = time.perf_counter_ns()
        pipe.emit(ev)
        while not any(needle in p.read_bytes()[-4096:] for p in seg_dir.rglob("*.seg")):
            time.sleep(0.001)
        lags.append(time.perf_counter_ns() - t0)
        time.sleep(0.003)  # spread the samples over the writer's cycle
    pipe.close(0.5)
    return pct(lags, 0.5) / 1000, pct(lags, 0.99) / 1000, opts.durability_lag * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    n = args.events
    tmp = Path(tempfile.mkdtemp(prefix="bp-bench-"))
    try:
        events = make_events(n)
        p50, p99, b50, b99 = bench_emit(events, tmp)
        print(
            f"emit() on the caller's thread: p50 {p50:.2f} us, p99 {p99:.2f} us "
            f"(QueueHandler baseline p50 {b50:.2f} us, p99 {b99:.2f} us; "
            f"p99 ratio {p99 / b99:.2f}x)  target p99 <= 20 us: "
            f"{'PASS' if p99 <= 20 else 'FAIL'}"
        )
        rate, base = bench_file(make_events(n), tmp)
        print(
            f"file sink through the spool: {rate:,.0f} events/s "
            f"(direct write baseline {base:,.0f}/s; ratio {rate / base:.2f}x)  "
            f"target >= 50,000/s: {'PASS' if rate >= 50_000 else 'FAIL'}"
        )
        rate, base = bench_tcp(make_events(n), tmp)
        print(
            f"TCP (logstash) sink through the spool: {rate:,.0f} events/s "
            f"(direct sendall baseline {base:,.0f}/s; ratio {rate / base:.2f}x)  "
            f"target >= 20,000/s: {'PASS' if rate >= 20_000 else 'FAIL'}"
        )
        p50_lag, p99_lag, bound = bench_durability(tmp)
        print(
            f"durability lag (emit -> on disk, fsynced): p50 {p50_lag:.1f} ms, "
            f"p99 {p99_lag:.1f} ms "
            f"(configured bound {bound:.0f} ms; p99 ratio {p99_lag / bound:.2f}x)  "
            f"target p99 <= {bound:.0f} ms: {'PASS' if p99_lag <= bound else 'FAIL'}"
        )
        growth, base_growth, rss, spool = bench_memory(make_events(n), tmp)
        print(
            f"sink down, {n:,} events emitted: RSS grew {growth:.1f} MB over the second half "
            f"(from {rss:.0f} MB) "
            f"while the spool grew {spool / 1e6:.1f} MB on disk "
            f"(in-memory queue baseline {base_growth:.1f} MB; "
            f"ratio {growth / max(base_growth, 0.1):.2f}x)"
            f"  target flat: {'PASS' if growth < 0.1 * max(base_growth, 1) else 'FAIL'}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
