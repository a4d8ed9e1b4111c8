"""What keeping the alert state on disk costs the alert engine, measured in one run.

    uv run python bench/alerts.py [--events 200000]

Feeds the same ECS lines (failed logins from 5,000 addresses, a brute-force rule: 5 within a
minute, grouped by source.ip, 10-minute cooldown) to AlertEngine.send in batches of 2,000, as the
delivery pipeline does, three ways:
  1. in memory only (the engine before its state was kept on disk; the baseline);
  2. attached to a state file, without fsync (what a kill -9 leaves intact);
  3. attached to a state file with fsync (the pipeline's default, for power cuts).
Prints events/s for each and the ratio to the baseline. Target: the default (3) keeps at least
half the in-memory throughput, and stays far above what one process's workers emit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bulletproof.events.alerts import AlertEngine, AlertRule
from bulletproof.events.model import Category, SecurityEvent
from bulletproof.testing import CapturingNotifier


def lines(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        ev = SecurityEvent(
            action="login_failed",
            category=Category.AUTH,
            source_ip=f"10.{(i % 5000) // 256}.{i % 256}.1",
            user_name=f"user{i % 50}",
            timestamp=1_700_000_000.0 + i / 1000,
        )
        out.append(json.dumps(ev.to_ecs()).encode())
    return out


def run(batch: list[list[bytes]], state: Path | None, fsync: bool) -> float:
    rule = AlertRule(
        "brute-force",
        categories=frozenset({Category.AUTH}),
        threshold=5,
        within=60,
        group_by="source.ip",
        cooldown=600,
        notify=("mail",),
    )
    engine = AlertEngine([rule], {"mail": CapturingNotifier()})
    if state is not None:
        engine.attach(state, fsync=fsync)
    start = time.perf_counter()
    for chunk in batch:
        engine.send(chunk)
    took = time.perf_counter() - start
    engine.detach()
    return sum(len(c) for c in batch) / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    data = lines(args.events)
    batches = [data[i : i + 2000] for i in range(0, len(data), 2000)]
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for label, state, fsync in (
            ("in memory (baseline)", None, False),
            ("state file, no fsync", Path(tmp) / "a.state", False),
            ("state file, fsync (default)", Path(tmp) / "b.state", True),
        ):
            results[label] = max(run(batches, state, fsync) for _ in range(3))
    base = results["in memory (baseline)"]
    print(f"{args.events:,} events in batches of 2,000; best of 3 runs each")
    for label, rate in results.items():
        print(f"  {label:30} {rate:>10,.0f} events/s   {rate / base:.2f}x")
    verdict = "pass" if results["state file, fsync (default)"] >= 0.5 * base else "FAIL"
    print(f"target: the default keeps >= 0.5x of the in-memory rate: {verdict}")


if __name__ == "__main__":
    main()
