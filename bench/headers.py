"""Security-header middleware cost, measured in one run against baselines from the same run.

    uv run python bench/headers.py [--requests 20000] [--rounds 3]

1. Server CPU per request for uvicorn + Starlette hello world, four variants served one after
   another (interleaved over rounds, median of rounds): bare; inline control (the endpoint sets
   Helmet's headers itself); bulletproof's BulletproofMiddleware; the `secure` package's
   SecureASGIMiddleware. CPU is the server process's user+system time (psutil) divided by the
   requests served, so the load generator's own cost does not count.
2. The middleware's own logic per request, in-process: a raw ASGI app called directly with and
   without the middleware (difference of the two loops).
Targets (issue 3): bulletproof <= 1.05x the inline control; logic alone <= 3 us; faster than secure.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from pathlib import Path
from typing import Any

import _load as load
import psutil

HERE = Path(__file__).resolve().parent
VARIANTS = ("bare", "inline", "bulletproof", "secure")
REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def _client(port: int, count: int) -> None:
    load.client(port, REQUEST, count)


def cpu_per_request(variant: str, requests: int, clients: int = 4) -> float:
    port = load.free_port()
    proc = load.serve("_headers_app:app", variant, port)
    try:
        _client(port, 200)  # warm up
        ps = psutil.Process(proc.pid)
        before = ps.cpu_times()
        ctx = multiprocessing.get_context("spawn")
        workers = [
            ctx.Process(target=_client, args=(port, requests // clients)) for _ in range(clients)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        after = ps.cpu_times()
        used = (after.user - before.user) + (after.system - before.system)
        return used / (requests // clients * clients) * 1e6
    finally:
        proc.terminate()
        proc.wait(10)


async def _raw_app(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"5")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def _loop(app: Any, n: int) -> float:
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [], "state": {}}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    start = time.perf_counter()
    for _ in range(n):
        await app(dict(scope), receive, send)
    return time.perf_counter() - start


def logic_per_request(n: int) -> tuple[float, float]:
    from secure import Secure
    from secure.middleware.asgi import SecureASGIMiddleware

    from bulletproof.adapters.asgi import BulletproofMiddleware
    from bulletproof.headers import secure_headers

    # the header policy alone, as issue 3 measured it (the shield is bench/shield.py's)
    ours = BulletproofMiddleware(_raw_app, policy=secure_headers(), remove_server=False)
    theirs = SecureASGIMiddleware(_raw_app, secure=Secure.with_default_headers())
    bare_t = min(asyncio.run(_loop(_raw_app, n)) for _ in range(3))
    ours_t = min(asyncio.run(_loop(ours, n)) for _ in range(3))
    theirs_t = min(asyncio.run(_loop(theirs, n)) for _ in range(3))
    return (ours_t - bare_t) / n * 1e6, (theirs_t - bare_t) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(args.rounds):
        for variant in VARIANTS:
            results[variant].append(cpu_per_request(variant, args.requests))
    med = {v: statistics.median(xs) for v, xs in results.items()}
    for v in VARIANTS:
        print(
            f"server CPU per request, {v:<11}: {med[v]:7.1f} us "
            f"(rounds: {', '.join(f'{x:.1f}' for x in results[v])})"
        )
    ratio = med["bulletproof"] / med["inline"]
    print(
        f"bulletproof / inline control: {ratio:.3f}x  target <= 1.05x: "
        f"{'PASS' if ratio <= 1.05 else 'FAIL'}"
    )
    faster = med["bulletproof"] < med["secure"]
    print(
        f"bulletproof / secure: {med['bulletproof'] / med['secure']:.3f}x  target < 1: "
        f"{'PASS' if faster else 'FAIL'}"
    )
    ours, theirs = logic_per_request(100_000)
    print(
        f"middleware logic alone, in-process: bulletproof {ours:.2f} us, secure {theirs:.2f} us "
        f"per request  target <= 3 us: {'PASS' if ours <= 3 else 'FAIL'}"
    )


if __name__ == "__main__":
    main()
